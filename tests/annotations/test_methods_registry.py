"""A method registered here, with only its template, gets trials, a page, validation, an analysis and
a results dashboard that shows it."""

import csv
import dataclasses
import io
import random
import re

from django.test import TestCase
from django.urls import reverse

from annotations import methods, models, services
from annotations.results import runs
from annotations.results import services as results_services
from synthesis.models import Sample
from tests.annotations.helpers import listen, pass_screen, session_url
from tests.factories import (
    build_test,
    evaluator_at_rating,
    make_researcher,
    make_run_with_samples,
    make_samples,
)


def _pairs(clips: list[models.TestSample]) -> list[methods.TrialShape]:
    return [[(a, "A"), (b, "B")] for a, b in zip(clips[::2], clips[1::2], strict=False)]


def _validate(test, clips, scores) -> list[methods.Answer]:
    wanted = {"same": scores.get("same")}
    methods.check_on_scale(test, wanted)
    return [methods.Answer(clips[0].test_sample, "same", wanted["same"])]


def _shuffled(trials: list[models.Trial], rng: random.Random) -> dict[int, list[int]]:
    """Each evaluator hears each pair in an order of its own."""
    orders = {}
    for trial in trials:
        order = [clip.pk for clip in trial.trial_clips.all()]
        rng.shuffle(order)
        orders[trial.pk] = order
    return orders


def _share_same(test) -> dict:
    scores = list(
        models.Rating.objects.filter(evaluator__test=test, dimension="same").values_list("score", flat=True)
    )
    return {"answers": len(scores), "share_same": sum(scores) / len(scores) if scores else None}


SAME_DIFFERENT = methods.Method(
    name="same_different",
    title="Same or different (two clips per page)",
    build_trials=_pairs,
    template="annotations/methods/same_different.html",
    questions=lambda test: ["same"],
    validate=_validate,
    analyse=_share_same,
    order_clips=_shuffled,
)


def _same_on_both(test, clips, scores) -> list[methods.Answer]:
    """The answer stored on both clips of the pair, so that each clip has a score of its own."""
    wanted = {"same": scores.get("same")}
    methods.check_on_scale(test, wanted)
    return [methods.Answer(clip.test_sample, "same", wanted["same"]) for clip in clips]


def _share_table(data: dict) -> tuple[tuple[str, ...], list[list]]:
    analysis = data["analysis"]
    return ("test", "answers", "share_same"), [
        [data["test"].name, analysis["answers"], analysis["share_same"]]
    ]


# The toy again, with what the results side needs of a method whose numbers are its own: a fixed
# question, its progress unit, its summary table and a per-clip score that is not a MOS.
SCORED_SAME_DIFFERENT = dataclasses.replace(
    SAME_DIFFERENT,
    name="same_different_scored",
    title="Same or different, scored per clip",
    validate=_same_on_both,
    dimensions=("same",),
    progress_unit="pairs of clips",
    progress_note="Counted per pair of clips judged (one answer by one rater each).",
    clip_score=methods.ClipScore(name="share judged same", mos=False, dimension=lambda test: "same"),
    summary_table=_share_table,
)


class MethodRegistryTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        methods.register(SAME_DIFFERENT)  # while the fixtures are built; setUp registers it per test
        try:
            scale = models.Scale.objects.create(
                name="same-different",
                title="Do the two clips sound the same?",
                min_value=0,
                max_value=1,
                labels=["Different", "Same"],
            )
            cls.test = build_test(
                "pairs",
                samples=make_samples(),
                scale=scale.name,
                method="same_different",
                samples_per_session=3,
            )
            cls.evaluator = services.invite_evaluators(test=cls.test, count=1)[0]
            services.give_consent(evaluator=cls.evaluator)
            pass_screen(cls.evaluator)
            services.skip_training_if_none(evaluator=cls.evaluator)
        finally:
            methods.METHODS.pop("same_different")

    def setUp(self):
        methods.register(SAME_DIFFERENT)
        self.addCleanup(methods.METHODS.pop, "same_different")

    def test_a_registered_method_builds_two_clip_trials_with_roles(self):
        trial = self.test.trials.first()
        self.assertEqual([c.role for c in trial.trial_clips.all()], ["A", "B"])
        self.assertEqual(self.test.trials.count(), 3)  # six clips, paired

    def test_its_page_is_the_methods_template_with_both_clips(self):
        response = self.client.get(session_url(self.evaluator, "rate"))
        self.assertTemplateUsed(response, "annotations/methods/same_different.html")
        self.assertEqual(len(response.context["clips"]), 2)
        self.assertEqual(response.content.decode().count("<audio"), 2)

    def test_it_stores_an_answer_on_its_scale_and_refuses_one_off_it(self):
        url = session_url(self.evaluator, "rate")
        page = self.client.get(url)
        listen(self.client, self.evaluator, page)
        clip = page.context["clip_token"]
        bad = self.client.post(url, {"clip": clip, "played_to_end": "true", "score-same": 3}, follow=True)
        self.assertEqual(models.Rating.objects.count(), 0)
        self.assertEqual(bad.redirect_chain[0][1], 302)
        self.assertContains(
            bad, '<li class="error">Please choose one answer for every question.</li>', html=True
        )
        self.assertTemplateUsed(bad, "annotations/methods/same_different.html")
        self.client.post(url, {"clip": clip, "played_to_end": "true", "score-same": 1})
        self.assertEqual(list(models.Rating.objects.values_list("dimension", "score")), [("same", 1)])

    def answer(self, *scores: int) -> None:
        url = session_url(self.evaluator, "rate")
        for score in scores:
            page = self.client.get(url)
            listen(self.client, self.evaluator, page)
            clip = page.context["clip_token"]
            self.client.post(url, {"clip": clip, "played_to_end": "true", "score-same": score})

    def test_its_analysis_is_reached_through_the_registry(self):
        self.answer(1, 1)
        result = methods.get_method(self.test.method).analyse(self.test)
        self.assertEqual(result, {"answers": 2, "share_same": 1.0})

    def test_the_results_dashboard_shows_its_analysis(self):
        self.answer(1, 0)
        self.client.force_login(make_researcher())
        page = self.client.get(reverse("results:test", args=[self.test.pk]))
        self.assertEqual(page.context["sections"], ("progress", "analysis", "method_raters"))
        self.assertContains(page, "Same or different (two clips per page): analysis")
        self.assertContains(page, "<dt>share_same</dt><dd>0.5</dd>", html=True)
        self.assertContains(page, "<dt>answers</dt><dd>2</dd>", html=True)
        self.assertNotContains(page, "MOS per condition")

    def test_its_report_and_exports_carry_its_answers_and_analysis(self):
        self.answer(1, 0)
        self.client.force_login(make_researcher())
        report = self.client.get(reverse("results:test_report", args=[self.test.pk]))
        self.assertContains(report, "<dt>share_same</dt><dd>0.5</dd>", html=True)
        ratings = self.client.get(reverse("results:test_ratings_csv", args=[self.test.pk]))
        rows = list(csv.DictReader(io.StringIO(b"".join(ratings.streaming_content).decode())))
        self.assertEqual(
            sorted((row["dimension"], row["score"]) for row in rows), [("same", "0"), ("same", "1")]
        )
        summary = self.client.get(reverse("results:test_summary_json", args=[self.test.pk])).json()
        self.assertEqual(
            (summary["method"], summary["analysis"]), ("same_different", {"answers": 2, "share_same": 0.5})
        )

    def test_the_dashboard_leaves_every_screening_setting_off_for_a_method_that_names_none(self):
        self.client.force_login(make_researcher())
        page = self.client.get(reverse("results:test", args=[self.test.pk]))
        self.assertEqual(list(page.context["form"].fields), [])
        for label in ("Straight-lining: minimum variance", "Gold clips: largest accepted difference"):
            self.assertNotContains(page, label)
        self.assertNotContains(page, 'name="min_variance"')
        self.assertNotContains(page, 'name="min_correlation"')


def judge_every_pair(client, evaluator, answer) -> None:
    """Answer each pair of the evaluator's session over HTTP, as the page's script posts it; answer(ids)
    gives 1 (same) or 0 (different) from the sample ids of the pair."""
    url = session_url(evaluator, "rate")
    evaluator.refresh_from_db()
    while evaluator.step == "rate":
        page = client.get(url)
        listen(client, evaluator, page)
        tokens = [clip["token"] for clip in page.context["clips"]]
        ids = set(Sample.objects.filter(test_samples__token__in=tokens).values_list("id", flat=True))
        data = {"clip": page.context["clip_token"], "clips": tokens, "played_to_end": "true"}
        answered = services.current_clip(evaluator=evaluator)[1]
        client.post(url, {**data, "score-same": answer(ids)})
        if services.current_clip(evaluator=evaluator)[1] == answered:
            raise AssertionError(f"the answer to {tokens} was refused")
        evaluator.refresh_from_db()


def page_text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.content.decode()).split())


class ScoredMethodRegistryTests(TestCase):
    """The results side of a method, proven through the registry alone: progress, summary CSV and a
    per-clip score exported with its name and never read as a MOS."""

    @classmethod
    def setUpTestData(cls):
        methods.register(SCORED_SAME_DIFFERENT)  # while the fixtures are built; setUp registers it per test
        try:
            models.Scale.objects.create(
                name="same-different",
                title="Do the two clips sound the same?",
                min_value=0,
                max_value=1,
                labels=["Different", "Same"],
            )
            cls.synthesis_run, cls.samples = make_run_with_samples()
            Sample.objects.filter(pk__in=[s.pk for s in cls.samples]).update(dnsmos_p808=3.0)
            cls.test = build_test(
                "pairs-scored",
                samples=cls.samples,
                scale="same-different",
                method="same_different_scored",
                samples_per_session=3,
            )
            cls.researcher = make_researcher()
        finally:
            methods.METHODS.pop("same_different_scored")

    def setUp(self):
        methods.register(SCORED_SAME_DIFFERENT)
        self.addCleanup(methods.METHODS.pop, "same_different_scored")
        self.run = self.synthesis_run  # not a class attribute: it would hide TestCase.run
        self.client.force_login(self.researcher)
        # The first rater hears every pair as the same; the second only the pair holding the first sample.
        self.always_same = lambda ids: 1
        self.first_pair_same = lambda ids: int(self.samples[0].pk in ids)

    def rate(self, *answers) -> None:
        for answer in answers:
            judge_every_pair(self.client_class(), evaluator_at_rating(self.test), answer)

    def progress_on_every_page(self) -> tuple[str, str]:
        dashboard = page_text(self.client.get(reverse("results:test", args=[self.test.pk])))
        listed = self.client.get(reverse("annotations:test_list")).context["rows"]
        [row] = [row["test"] for row in listed if row["test"].pk == self.test.pk]
        return dashboard, f"{row.n_collected} / {row.n_target}"

    def test_its_progress_is_counted_per_pair_in_its_own_unit_on_the_dashboard_and_the_test_list(self):
        self.rate(self.always_same)
        dashboard, listed = self.progress_on_every_page()
        self.assertIn(
            "3 of 6 ratings collected (50.0%) · 0 of 3 pairs of clips have their 2 ratings", dashboard
        )
        self.assertIn("Counted per pair of clips judged (one answer by one rater each).", dashboard)
        self.assertEqual(listed, "3 / 6")  # one answer per page, though each stored two ratings
        self.rate(self.first_pair_same)
        dashboard, listed = self.progress_on_every_page()
        self.assertIn(
            "6 of 6 ratings collected (100.0%) · 3 of 3 pairs of clips have their 2 ratings", dashboard
        )
        self.assertEqual(listed, "6 / 6")

    def test_its_summary_csv_is_its_own_table(self):
        self.rate(self.always_same, self.first_pair_same)
        response = self.client.get(reverse("results:test_summary_csv", args=[self.test.pk]))
        rows = list(csv.reader(io.StringIO(response.content.decode())))
        # 12 ratings (two per answer): the first rater's six and two of the second's say "same".
        self.assertEqual(rows[0], ["test", "answers", "share_same"])
        self.assertEqual(rows[1][:2], ["pairs-scored", "12"])
        self.assertAlmostEqual(float(rows[1][2]), 8 / 12)
        self.assertEqual(len(rows), 2)

    def expected_scores(self) -> dict[int, float]:
        """Each sample's mean: 1.0 on the pair holding the first sample (both raters said same), else 0.5."""
        scores = {}
        for trial in self.test.trials.prefetch_related("trial_clips__test_sample"):
            ids = {clip.test_sample.sample_id for clip in trial.trial_clips.all()}
            scores.update(dict.fromkeys(ids, 1.0 if self.samples[0].pk in ids else 0.5))
        return scores

    def test_its_measurements_csv_carries_each_clips_mean_under_the_scores_name(self):
        self.rate(self.always_same, self.first_pair_same)
        response = self.client.get(reverse("results:test_measurements_csv", args=[self.test.pk]))
        rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
        expected = self.expected_scores()
        self.assertEqual(sorted(int(row["sample_id"]) for row in rows), sorted(expected))
        for row in rows:
            self.assertEqual(
                (row["human_test"], row["human_method"], row["human_score_name"], row["human_scale"]),
                ("pairs-scored", "same_different_scored", "share judged same", "same-different"),
            )
            self.assertEqual(
                (row["human_scale_min"], row["human_scale_max"], row["human_dimension"], row["human_votes"]),
                ("0", "1", "same", "2"),
            )
            self.assertAlmostEqual(float(row["human_score"]), expected[int(row["sample_id"])])

    def test_a_score_that_is_not_a_mos_is_never_read_as_one(self):
        self.rate(self.always_same, self.first_pair_same)
        ids = [sample.pk for sample in self.samples]
        self.assertEqual(len(results_services.human_scores(ids)), len(ids))
        self.assertEqual(results_services.human_scores(ids, mos=True), {})
        self.assertEqual(runs.run_results(self.run)["dnsmos"]["tests"], [])
        page = self.client.get(reverse("results:run", args=[self.run.pk])).content.decode()
        [section] = re.findall(r'data-live-section="dnsmos".*?</section>', page, re.S)
        self.assertIn("DNSMOS vs human MOS", section)
        self.assertNotIn("<h3>", section)  # no test's block
        self.assertNotIn("pairs-scored", page)
