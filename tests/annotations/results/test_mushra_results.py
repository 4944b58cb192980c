"""annotations.results.mushra_results: BS.1534-3 post-screening, means with t intervals, Wilcoxon + Holm."""

import numpy as np
from django.test import SimpleTestCase, TestCase
from django.urls import reverse
from scipy import stats as scipy_stats

from annotations import services
from annotations.models import Rating
from annotations.results import mushra_results as results
from tests.factories import make_admin, mushra_test

A, B = ("sys-a", "neutral"), ("sys-b", "neutral")
REF, ANCHOR = ("human", ""), ("anchor-lp3.5k", "")


def page(rater: int, trial: int, reference: int, anchor: int, a: int, b: int) -> list[dict]:
    def one(condition, role, score):
        return {"evaluator_id": rater, "rater": f"R{rater}", "trial": trial, "condition": condition,
                "role": role, "score": score}  # fmt: skip

    return [one(REF, "reference", reference), one(ANCHOR, "anchor", anchor), one(A, "condition", a),
            one(B, "condition", b)]  # fmt: skip


def rater(number: int, pages: int = 20, *, low_reference: int = 0, high_anchor: int = 0, shift: int = 0):
    rows = []
    for trial in range(pages):
        reference = 70 if trial < low_reference else 100
        anchor = 95 if trial < high_anchor else 20
        rows += page(number, trial, reference, anchor, 50 + shift + trial % 3, 60 + shift + trial % 5)
    return rows


class PostScreeningTests(SimpleTestCase):
    def test_a_rater_scoring_the_hidden_reference_below_90_on_more_than_15_percent_is_excluded(self):
        screening = results.post_screening(rater(1, low_reference=4))  # 4 of 20 = 20 %
        self.assertTrue(screening[1]["excluded"])
        self.assertEqual(screening[1]["reasons"], ["hidden reference below 90 in 4 of 20 pages"])

    def test_a_rater_scoring_the_anchor_above_90_on_more_than_15_percent_is_excluded(self):
        screening = results.post_screening(rater(1, high_anchor=4))
        self.assertTrue(screening[1]["excluded"])
        self.assertEqual(screening[1]["reasons"], ["anchor above 90 in 4 of 20 pages"])

    def test_exactly_15_percent_keeps_the_rater_on_both_rules(self):
        screening = results.post_screening(rater(1, low_reference=3, high_anchor=3))  # 3 of 20 = 15 %
        self.assertFalse(screening[1]["excluded"])
        self.assertEqual(screening[1]["reasons"], [])

    def test_an_excluded_raters_scores_leave_the_means(self):
        rows = rater(1) + rater(2) + rater(3, low_reference=10, shift=30)
        data = results.summarise(rows)
        self.assertEqual(data["raters_excluded"], 1)
        a = next(c for c in data["conditions"] if c["system"] == "sys-a")
        before = next(c for c in data["before"] if c["system"] == "sys-a")
        self.assertEqual(a["raters"], 2)
        self.assertEqual(before["raters"], 3)


class MeansAndTestsTests(SimpleTestCase):
    def test_each_condition_has_its_mean_and_t_interval_with_reference_and_anchor_labelled_first(self):
        rows = rater(1) + rater(2, shift=5)
        data = results.summarise(rows)
        self.assertEqual(
            [c["role"] for c in data["conditions"]], ["reference", "anchor", "condition", "condition"]
        )
        self.assertTrue(data["conditions"][0]["label"].startswith("hidden reference"))
        scores = [r["score"] for r in rows if r["condition"] == A]
        a = data["conditions"][2]
        half = scipy_stats.t.ppf(0.975, len(scores) - 1) * np.std(scores, ddof=1) / np.sqrt(len(scores))
        self.assertAlmostEqual(a["mean"], np.mean(scores))
        self.assertAlmostEqual(a["high"] - a["mean"], half)

    def test_conditions_are_compared_on_per_rater_means_with_holm(self):
        rows = []
        rng = np.random.default_rng(3)
        for number in range(8):
            rows += rater(number, pages=5, shift=int(rng.integers(-10, 10)))
        test = results.summarise(rows)["tests"][0]
        means = {}
        for r in rows:
            means.setdefault((r["evaluator_id"], r["condition"]), []).append(r["score"])
        x = [np.mean(means[(n, B)]) for n in range(8)]
        y = [np.mean(means[(n, A)]) for n in range(8)]
        self.assertEqual((test["a"], test["b"]), ("sys-a · neutral", "sys-b · neutral"))
        self.assertAlmostEqual(test["p"], scipy_stats.wilcoxon(x, y).pvalue)
        self.assertAlmostEqual(test["p_holm"], test["p"])  # one pair: Holm changes nothing
        self.assertEqual(test["n"], 8)


class MushraDashboardTests(TestCase):
    """A stored MUSHRA test read back through the dashboard, the report and the ratings export."""

    @classmethod
    def setUpTestData(cls):
        cls.test = mushra_test("mushra-results")
        evaluators = services.invite_evaluators(test=cls.test, count=2)
        trials = cls.test.trials.filter(kind="test").prefetch_related("trial_clips__test_sample")
        ratings = []
        for number, evaluator in enumerate(evaluators):
            for trial in trials:
                for clip in trial.trial_clips.all():
                    score = {"reference": 100 if number == 0 else 60, "anchor": 10}.get(clip.role, 50)
                    ratings.append(
                        Rating(
                            evaluator=evaluator,
                            sample_id=clip.test_sample.sample_id,
                            test_sample=clip.test_sample,
                            trial=trial,
                            dimension="mushra",
                            score=score,
                        )  # fmt: skip
                    )
        Rating.objects.bulk_create(ratings)
        cls.admin = make_admin()

    def setUp(self):
        self.client.force_login(self.admin)

    def test_the_dashboard_shows_the_means_and_the_excluded_rater_with_the_reason(self):
        response = self.client.get(reverse("results:test", args=[self.test.pk]))
        self.assertContains(response, "MUSHRA scores per condition")
        self.assertContains(response, "hidden reference below 90 in 3 of 3 pages")
        self.assertContains(response, "BS.1534-3")

    def test_the_ratings_export_has_one_row_per_score_with_role_and_exclusion(self):
        response = self.client.get(reverse("results:test_ratings_csv", args=[self.test.pk]))
        lines = b"".join(response.streaming_content).decode().splitlines()
        header = lines[0].split(",")
        self.assertIn("role", header)
        self.assertIn("excluded", header)
        self.assertEqual(len(lines) - 1, Rating.objects.filter(evaluator__test=self.test).count())

    def test_the_report_ends_with_the_reporting_appendix(self):
        response = self.client.get(reverse("results:test_report", args=[self.test.pk]))
        self.assertContains(response, "Reporting appendix")

    def test_the_report_describes_the_slider_as_a_continuous_scale_instead_of_listing_101_labels(self):
        response = self.client.get(reverse("results:test_report", args=[self.test.pk]))
        self.assertContains(
            response,
            "<dt>Scale</dt><dd>Rate the quality of each sample: 0–100, continuous; labelled 0 Bad … "
            "100 Excellent</dd>",
            html=True,
        )
        self.assertNotContains(response, "1 = Bad")
        self.assertContains(response, "0–19 Bad; 20–39 Poor; 40–59 Fair; 60–79 Good; 80–100 Excellent")
