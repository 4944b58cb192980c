"""The demos' simulated sessions read like people's: every rater takes the headphone screen, and consent,
the screen, the answers and the end come in that order, after the test was created."""

import io

from django.core.management import call_command
from django.db.models import Max, Min
from django.test import TestCase, override_settings
from django.urls import reverse

from annotations.demo import AB_NAME, CMOS_NAME, INTELLIGIBILITY_NAME, MUSHRA_NAME, NAME
from annotations.headphone_screen import screen_results
from annotations.models import ClipFetch, ListeningTest, Rating, ScreenTrial
from annotations.results import appendix
from tests.factories import VAR_DIR, make_researcher, simulated_acr_demo

DEMOS = (NAME, CMOS_NAME, AB_NAME, MUSHRA_NAME, INTELLIGIBILITY_NAME)


@override_settings(VAR_DIR=VAR_DIR)
class DemoSessionTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        simulated_acr_demo(sentences=2, good=4)
        call_command("simulate_ratings", if_missing=True, no_analysis=True, raters=4, stdout=io.StringIO())

    def setUp(self):
        self.client.force_login(make_researcher())

    def test_every_rater_of_every_demo_passed_the_headphone_screen(self):
        for name in DEMOS:
            test = ListeningTest.objects.get(name=name)
            results = screen_results(test=test)
            self.assertEqual(len(results), test.evaluators.count(), name)
            self.assertEqual({result.result for result in results.values()}, {"passed"}, name)
            page = self.client.get(reverse("results:test", args=[test.pk]))
            self.assertNotContains(page, "rated without taking the headphone screen", msg_prefix=name)
            screen = page.context["r"]["headphone_screen"]
            self.assertEqual((screen["took"], screen["passed"]), (len(results), len(results)), name)

    def test_every_session_runs_from_consent_through_the_screen_to_its_last_answer_after_the_test_opened(
        self,
    ):
        for name in DEMOS:
            test = ListeningTest.objects.get(name=name)
            for evaluator in test.evaluators.all():
                who = f"{name} {evaluator.pseudonym}"
                answers = Rating.objects.filter(evaluator=evaluator).aggregate(
                    first=Min("first_fetch_at"), last=Max("received_at")
                )
                screen = ScreenTrial.objects.filter(evaluator=evaluator).aggregate(
                    first=Min("answered_at"), last=Max("answered_at")
                )
                fetched = ClipFetch.objects.filter(evaluator=evaluator).aggregate(first=Min("started_at"))
                first_heard = min(filter(None, (answers["first"], fetched["first"])))
                self.assertLessEqual(test.created_at, evaluator.created_at, who)
                self.assertLessEqual(evaluator.created_at, evaluator.consented_at, who)
                self.assertLess(evaluator.consented_at, screen["first"], who)
                self.assertLessEqual(screen["last"], evaluator.checked_at, who)
                self.assertLessEqual(evaluator.checked_at, evaluator.trained_at, who)
                self.assertLess(evaluator.trained_at, first_heard, who)
                self.assertEqual(evaluator.finished_at, answers["last"], who)
                self.assertEqual(evaluator.last_seen_at, answers["last"], who)

    def test_the_reports_session_length_spans_each_session_from_consent_to_its_last_answer(self):
        for name in DEMOS:
            test = ListeningTest.objects.get(name=name)
            session = appendix.session_minutes(test)
            self.assertEqual(session["n"], test.evaluators.count(), name)
            answering = [
                (row["last"] - row["first"]).total_seconds() / 60
                for row in Rating.objects.filter(evaluator__test=test)
                .values("evaluator_id")
                .annotate(first=Min("first_fetch_at"), last=Max("received_at"))
            ]
            self.assertGreater(session["min"], min(answering), name)
            self.assertGreater(session["max"], max(answering), name)
