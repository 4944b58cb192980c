"""The reporting appendix at the end of a test's HTML report (Kirkland et al. 2023; Chiang et al. 2023)."""

from datetime import timedelta

from django.test import TestCase
from django.urls import reverse

from annotations import services
from annotations.models import Evaluator, Rating
from annotations.results import appendix
from tests.factories import build_test, make_admin


class AcrAppendixTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = build_test(
            "acr-appendix", instructions="Listen with headphones.", completion_code="ABC123"
        )
        evaluators = services.invite_evaluators(test=cls.test, count=2)
        clips = list(cls.test.test_samples.filter(kind="test"))
        ratings = [
            Rating(evaluator=e, sample_id=c.sample_id, test_sample=c, dimension="overall", score=4)
            for e in evaluators
            for c in clips[: 3 if e == evaluators[0] else 2]
        ]
        Rating.objects.bulk_create(ratings)
        for minutes, evaluator in zip((10, 20), evaluators, strict=True):
            start = evaluator.created_at
            Evaluator.objects.filter(pk=evaluator.pk).update(
                consented_at=start, finished_at=start + timedelta(minutes=minutes)
            )
        cls.admin = make_admin()

    def setUp(self):
        self.client.force_login(self.admin)

    def report(self) -> str:
        return self.client.get(reverse("results:test_report", args=[self.test.pk])).content.decode()

    def test_the_report_ends_with_the_appendix_citing_the_reviews(self):
        html = self.report()
        self.assertGreater(html.index("Reporting appendix"), html.index("Raters and screening"))
        self.assertIn("Kirkland et al. 2023", html)
        self.assertIn("Chiang et al. 2023", html)

    def test_it_reports_the_question_labels_instructions_raters_and_judgements_per_clip(self):
        html = self.report()
        self.assertIn(self.test.scale.title, html)
        self.assertIn("1 Bad", html)
        self.assertIn("Listen with headphones.", html)
        # Both raters scored 4 everywhere without playing to the end: screening removes both.
        self.assertIn("2 who answered, 0 kept after screening", html)
        self.assertIn(
            "did not play every clip to the end: 2; gave (nearly) the same score to every clip: 2", html
        )
        # 6 clips: 2, 2, 1 and three 0 answers.
        self.assertIn("min 0, median 0.5, max 2 over 6 test clips", html)

    def test_it_reports_recruitment_session_length_payment_and_version(self):
        html = self.report()
        self.assertIn("completion code", html)
        self.assertIn("median 15.0 min", html)
        self.assertIn("not recorded", html)
        self.assertIn(f"sarai-eval {appendix.software_version()}", html)

    def test_the_recruitment_and_payment_entered_with_the_test_are_reported(self):
        self.test.recruitment = "Prolific, UK residents, native speakers of English"
        self.test.payment = "GBP 2.50 for about 15 minutes"
        self.test.save()
        html = self.report()
        self.assertIn("Prolific, UK residents, native speakers of English", html)
        self.assertIn("GBP 2.50 for about 15 minutes", html)

    def test_the_design_lists_every_point_of_a_category_scale_with_its_label(self):
        html = self.report()
        self.assertIn(
            "<dt>Scale</dt><dd>Overall quality of the speech: 1 = Bad, 2 = Poor, 3 = Fair, "
            "4 = Good, 5 = Excellent</dd>",
            html,
        )

    def test_scale_labels_are_shown_as_bands_of_one_label(self):
        self.assertEqual(
            appendix.scale_bands(self.test), ["1 Bad", "2 Poor", "3 Fair", "4 Good", "5 Excellent"]
        )
