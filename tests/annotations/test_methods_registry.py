"""A method registered here, with only its template, gets trials, a page, validation, an analysis and
a results dashboard that shows it."""

import csv
import io
import random

from django.test import TestCase
from django.urls import reverse

from annotations import methods, models, services
from tests.annotations.helpers import listen, pass_screen, session_url
from tests.factories import build_test, make_researcher, make_samples


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


class MethodRegistryTests(TestCase):
    def setUp(self):
        methods.register(SAME_DIFFERENT)
        self.addCleanup(methods.METHODS.pop, "same_different")
        scale = models.Scale.objects.create(
            name="same-different",
            title="Do the two clips sound the same?",
            min_value=0,
            max_value=1,
            labels=["Different", "Same"],
        )
        self.test = build_test(
            "pairs", samples=make_samples(), scale=scale.name, method="same_different", samples_per_session=3
        )
        self.evaluator = services.invite_evaluators(test=self.test, count=1)[0]
        services.give_consent(evaluator=self.evaluator)
        pass_screen(self.evaluator)
        services.skip_training_if_none(evaluator=self.evaluator)

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
