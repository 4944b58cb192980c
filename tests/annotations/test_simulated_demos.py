"""simulate_ratings' simulated demos (CMOS, A/B, MUSHRA and intelligibility): made from the ACR demo's
clips, kept by --if-missing, stored as the app stores answers, and shown on their dashboards with the
planted effects recovered. One class, so the demos are built once for all of these tests."""

import io

from django.core.management import call_command
from django.test import TestCase, override_settings
from django.urls import reverse

from annotations import intelligibility
from annotations.demo import AB_NAME, CMOS_NAME, INTELLIGIBILITY_NAME, MUSHRA_NAME, NAME, NAMES
from annotations.management.commands._method_demos import (
    INTELLIGIBILITY_WER,
    MUSHRA_MEANS,
    MUSHRA_REFERENCE,
)
from annotations.models import ClipFetch, ListeningTest, Rating
from annotations.results.claims import not_real_reason
from tests.factories import VAR_DIR, fake_acr_demo, make_researcher


@override_settings(VAR_DIR=VAR_DIR)
class SimulatedDemoTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        fake_acr_demo()
        call_command("simulate_ratings", if_missing=True, no_analysis=True, stdout=io.StringIO())

    def setUp(self):
        self.client.force_login(make_researcher())

    def page(self, name: str):
        page = self.client.get(reverse("results:test", args=[ListeningTest.objects.get(name=name).pk]))
        self.assertEqual(page.status_code, 200)
        return page

    def same_system_pairs(self, page) -> list[dict]:
        return [
            pair for pair in page.context["r"]["pairs"]["pairs"] if pair["x"]["system"] == pair["y"]["system"]
        ]

    def test_both_demos_are_made_and_their_raters_count_as_simulated(self):
        mushra = ListeningTest.objects.get(name=MUSHRA_NAME)
        self.assertEqual(mushra.method, "mushra")
        self.assertEqual(mushra.reference_system, MUSHRA_REFERENCE[0])
        self.assertTrue(mushra.with_anchor)
        self.assertIn("stands in as the reference", mushra.description)
        self.assertEqual(ListeningTest.objects.get(name=INTELLIGIBILITY_NAME).method, "intelligibility")
        for name in (MUSHRA_NAME, INTELLIGIBILITY_NAME):
            self.assertIn(name, NAMES)
            self.assertIn("simulated raters", not_real_reason(ListeningTest.objects.get(name=name)))

    def test_every_answer_was_heard_whole_before_it_was_given(self):
        for name in (MUSHRA_NAME, INTELLIGIBILITY_NAME):
            ratings = Rating.objects.filter(evaluator__test__name=name)
            self.assertGreater(ratings.count(), 0)
            for rating in ratings[:200]:
                fetches = ClipFetch.objects.filter(
                    evaluator=rating.evaluator_id,
                    test_sample=rating.test_sample_id,
                    started_at__lte=rating.received_at,
                )
                self.assertEqual(fetches.plays(), (rating.play_count, True), name)
                self.assertGreaterEqual(rating.received_at, rating.first_fetch_at)

    def test_transcripts_are_stored_as_typed_text_with_no_score_within_the_play_limit(self):
        test = ListeningTest.objects.get(name=INTELLIGIBILITY_NAME)
        ratings = Rating.objects.filter(evaluator__test=test)
        self.assertFalse(ratings.exclude(dimension=intelligibility.DIMENSION).exists())
        self.assertFalse(ratings.filter(score__isnull=False).exists())
        self.assertFalse(ratings.filter(transcript="").exists())
        rows = intelligibility.transcriptions(test)
        self.assertLessEqual(max(row["plays"] for row in rows), test.max_plays)

    def test_the_mushra_dashboard_recovers_the_planted_means_and_excludes_the_careless_raters(self):
        page = self.page(MUSHRA_NAME)
        r = page.context["r"]
        self.assertContains(page, "hidden reference: piper-joe-medium · neutral")
        means = {(row["role"], row["system"], row["style"]): row for row in r["analysis"]["conditions"]}
        reference = means[("reference", *MUSHRA_REFERENCE)]
        self.assertLess(abs(reference["mean"] - MUSHRA_MEANS["reference"]), 1.5)
        anchor = next(row for (role, *_), row in means.items() if role == "anchor")
        self.assertLess(anchor["low"], MUSHRA_MEANS["anchor"])
        self.assertGreater(anchor["high"], MUSHRA_MEANS["anchor"])
        for style in ("neutral", "warm"):
            row = means[("condition", "espeak-ng-formant", style)]
            planted = MUSHRA_MEANS[("espeak-ng-formant", style)]
            self.assertLess(row["low"], planted, style)
            self.assertGreater(row["high"], planted, style)
        excluded = {row["pseudonym"] for row in r["excluded"]}
        self.assertEqual(excluded, {"R025", "R026"})  # the random rater and the one at the top

    def test_the_intelligibility_dashboard_recovers_the_planted_word_error_rates(self):
        page = self.page(INTELLIGIBILITY_NAME)
        r = page.context["r"]
        self.assertContains(page, "espeak-ng-formant · warm")
        rates = {(row["system"], row["style"]): row["wer"] for row in r["analysis"]["conditions"]}
        self.assertEqual(set(rates), set(INTELLIGIBILITY_WER))
        for condition, planted in INTELLIGIBILITY_WER.items():
            self.assertLess(rates[condition]["low"], planted, condition)
            self.assertGreater(rates[condition]["high"], planted, condition)
        best, worst = rates[("piper-joe-medium", "neutral")], rates[("espeak-ng-formant", "warm")]
        self.assertLess(best["high"], worst["low"])  # and tells the conditions apart

    def test_running_it_again_with_if_missing_leaves_both_demos_as_they_are(self):
        before = {test.name: test.pk for test in ListeningTest.objects.all()}
        answers = Rating.objects.count()
        out = io.StringIO()
        call_command("simulate_ratings", if_missing=True, no_analysis=True, stdout=out)
        for name in (MUSHRA_NAME, INTELLIGIBILITY_NAME):
            self.assertIn(f"Test {name} exists already.", out.getvalue())
        self.assertEqual({test.name: test.pk for test in ListeningTest.objects.all()}, before)
        self.assertEqual(Rating.objects.count(), answers)
        mushra = ListeningTest.objects.get(name=MUSHRA_NAME)
        self.assertEqual(mushra.test_samples.filter(role="anchor").count(), mushra.trials.count())

    def test_both_demos_are_made_from_the_acr_demos_clips_and_say_their_raters_are_simulated(self):
        acr = ListeningTest.objects.get(name=NAME)
        for name, method in ((CMOS_NAME, "cmos"), (AB_NAME, "ab")):
            test = ListeningTest.objects.get(name=name)
            self.assertEqual(test.method, method)
            self.assertEqual(
                set(test.test_samples.values_list("sample_id", flat=True)),
                set(acr.test_samples.values_list("sample_id", flat=True)),
            )
            self.assertIn("Simulated raters", test.description)
            self.assertEqual(test.trials.filter(repeat_of=None).count(), 20 * 6)

    def test_the_cmos_dashboard_recovers_the_planted_half_point_of_warm_over_neutral(self):
        page = self.page(CMOS_NAME)
        pairs = self.same_system_pairs(page)
        self.assertEqual(len(pairs), 2)
        for pair in pairs:
            self.assertEqual((pair["x"]["style"], pair["y"]["style"]), ("neutral", "warm"))
            s = pair["after"]
            self.assertLess(s["ci_low"], 0.5, pair["x_label"])
            self.assertGreater(s["ci_high"], 0.5, pair["x_label"])
            self.assertGreater(s["ci_low"], 0.0)  # and tells warm apart from neutral
        excluded = {row["pseudonym"] for row in page.context["r"]["excluded"]}
        self.assertEqual(excluded, {"R025", "R026"})  # the straight-liner and the script
        ranked = [row["label"] for row in page.context["r"]["pairs"]["ranking"]["systems"]]
        self.assertEqual(ranked[0], "piper-joe-medium · warm")
        self.assertEqual(ranked[-1], "espeak-ng-formant · neutral")

    def test_the_preference_dashboard_recovers_the_planted_seventy_percent_for_warm(self):
        page = self.page(AB_NAME)
        for pair in self.same_system_pairs(page):
            share = pair["after"]["decisive_shares"]["y"]
            self.assertLess(share["low"], 0.7, pair["x_label"])
            self.assertGreater(share["high"], 0.7, pair["x_label"])
            self.assertLess(pair["after"]["sign_test"]["p"], 0.05)
        excluded = {row["pseudonym"]: row for row in page.context["r"]["excluded"]}
        self.assertIn("inconsistent_repeats", excluded["R025"]["flags"])  # always A
        self.assertIn("answers_at_minimum", excluded["R026"]["flags"])  # the script
        consistency = page.context["r"]["pairs"]["rater_consistency"]
        self.assertGreater(consistency["share"], 0.8)

    def test_running_it_again_with_if_missing_leaves_every_demo_as_it_is(self):
        before = {test.name: test.pk for test in ListeningTest.objects.all()}
        out = io.StringIO()
        call_command("simulate_ratings", if_missing=True, no_analysis=True, stdout=out)
        self.assertEqual(out.getvalue().count("exists already"), 5)
        self.assertEqual({test.name: test.pk for test in ListeningTest.objects.all()}, before)
