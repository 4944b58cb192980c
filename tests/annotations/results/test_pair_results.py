"""annotations.results.pair_results: the CMOS and A/B analysis of stored pair judgements, its screening
and the ranking, checked against numbers computed here from scipy and statsmodels."""

import random

import numpy as np
from django.test import TestCase
from scipy import stats as scipy_stats
from statsmodels.stats.proportion import proportion_confint

from annotations import pairs
from annotations.models import ListeningTest
from annotations.results import pair_results
from annotations.results import services as results_services
from tests.factories import (
    THREE,
    TWELVE,
    build_test,
    corrected_by_warmth,
    evaluator_at_rating,
    judge,
    make_samples,
    prefer_warm_except,
    spread_in_time,
    warm_vs_neutral,
)


class CmosResultsTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = warm_vs_neutral("cmos-small", "cmos")
        cls.votes = {"R001": [2, 1, 0], "R002": [1, 1, 2], "R003": [0, -1, 1]}
        for pseudonym, values in cls.votes.items():
            evaluator = evaluator_at_rating(cls.test, rng=random.Random(len(pseudonym) + values[0]))
            judge(evaluator, corrected_by_warmth(dict(zip(THREE, values, strict=True))))
        spread_in_time(cls.test)

    def test_the_cmos_is_the_mean_order_corrected_vote_with_its_t_interval_and_wilcoxon(self):
        result = pair_results.cmos_results(self.test)
        [pair] = result["pairs"]
        votes = np.array([v for values in self.votes.values() for v in values], dtype=float)
        low, high = scipy_stats.t.interval(
            0.95, votes.size - 1, loc=votes.mean(), scale=scipy_stats.sem(votes)
        )
        self.assertEqual(
            (pair["x"], pair["y"]),
            ({"system": "sys-a", "style": "neutral"}, {"system": "sys-a", "style": "warm"}),
        )
        self.assertEqual((pair["n"], pair["after"]["raters"], pair["after"]["sentences"]), (9, 3, 3))
        self.assertAlmostEqual(pair["cmos"], votes.mean())
        self.assertAlmostEqual(pair["after"]["t_interval"]["low"], low)
        self.assertAlmostEqual(pair["after"]["t_interval"]["high"], high)
        means = [np.mean(values) for values in self.votes.values()]
        self.assertAlmostEqual(pair["after"]["wilcoxon"]["p"], scipy_stats.wilcoxon(means).pvalue)
        self.assertLess(pair["after"]["ci_low"], pair["cmos"])
        self.assertGreater(pair["after"]["ci_high"], pair["cmos"])

    def test_the_order_effect_compares_the_votes_heard_x_first_with_those_heard_y_first(self):
        rows = pairs.pair_judgements(self.test)
        x_first = [row["corrected"] for row in rows if row["first"] == "X"]
        y_first = [row["corrected"] for row in rows if row["first"] == "Y"]
        order = pair_results.cmos_results(self.test)["pairs"][0]["after"]["order_effect"]
        self.assertEqual((order["n_x_first"], order["n_y_first"]), (len(x_first), len(y_first)))
        self.assertAlmostEqual(order["difference"], np.mean(x_first) - np.mean(y_first))
        self.assertAlmostEqual(order["p"], scipy_stats.ttest_ind(x_first, y_first, equal_var=False).pvalue)

    def test_an_excluded_rater_leaves_the_after_figures_and_stays_in_the_before_ones(self):
        excluded = {self.test.evaluators.get(pseudonym="R003").pk}
        [pair] = pair_results.cmos_results(self.test, excluded=excluded)["pairs"]
        self.assertEqual((pair["after"]["n"], pair["before"]["n"]), (6, 9))
        self.assertAlmostEqual(pair["cmos"], np.mean(self.votes["R001"] + self.votes["R002"]))

    def test_two_conditions_are_ranked_with_the_better_one_first(self):
        ranking = pair_results.cmos_results(self.test)["ranking"]
        self.assertTrue(ranking["available"])
        self.assertEqual([row["label"] for row in ranking["systems"]], ["sys-a · warm", "sys-a · neutral"])
        self.assertEqual(ranking["systems"][0]["wins"], 6)  # the positive votes; two 0s are ties

    def test_the_registry_reads_the_same_figures_without_screening(self):
        summary = pair_results.cmos_results(self.test)
        self.assertEqual(summary["consistency"], {"repeats": 0, "same_answer": 0})
        self.assertEqual(summary["n_judgements"], 9)


class PreferenceResultsTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = warm_vs_neutral("ab-small", "ab", sentences=TWELVE, samples_per_session=10)

    def test_shares_have_wilson_intervals_and_the_sign_test_leaves_no_preference_out(self):
        evaluator = evaluator_at_rating(self.test, rng=random.Random(4))
        judge(evaluator, prefer_warm_except(ties=TWELVE[:2], against=TWELVE[2:4]))
        result = pair_results.ab_results(self.test)
        [pair] = result["pairs"]
        s = pair["after"]
        self.assertEqual(s["n"] - s["ties"], s["decisive"])
        low, high = proportion_confint(s["wins_y"], s["decisive"], method="wilson")
        self.assertAlmostEqual(s["decisive_shares"]["y"]["low"], low)
        self.assertAlmostEqual(s["decisive_shares"]["y"]["high"], high)
        self.assertAlmostEqual(s["sign_test"]["p"], scipy_stats.binomtest(s["wins_y"], s["decisive"]).pvalue)
        self.assertEqual((pair["n"], pair["x_preferred"] + pair["y_preferred"] + pair["ties"]), (10, 10))
        self.assertEqual(result["n_repeats"], 1)

    def test_a_rater_who_always_answers_a_is_flagged_on_the_repeats_and_screened_out(self):
        steady = evaluator_at_rating(self.test, rng=random.Random(1))
        judge(steady, prefer_warm_except())
        ListeningTest.objects.filter(pk=self.test.pk).update(repeat_share=0.3)
        careless = evaluator_at_rating(self.test, rng=random.Random(2))
        judge(careless, lambda first, second: -1)
        spread_in_time(self.test)
        data = results_services.test_results(self.test)
        flagged = {row["rater"]: row for row in data["pairs"]["rater_consistency"]["raters"]}
        self.assertTrue(flagged["R002"]["flagged"])
        self.assertEqual((flagged["R002"]["repeats"], flagged["R002"]["consistent"]), (3, 0))
        self.assertFalse(flagged["R001"]["flagged"])
        [excluded] = data["excluded"]
        self.assertEqual(excluded["pseudonym"], "R002")
        self.assertIn("inconsistent_repeats", excluded["flags"])
        self.assertIn("chose as the first time on 0 of 3 repeated pairs", " ".join(excluded["reasons"]))
        [pair] = data["pairs"]["pairs"]
        self.assertEqual((pair["after"]["n"], pair["before"]["n"]), (10, 20))
        self.assertEqual(pair["y_preferred"], 10)


class RankingTests(TestCase):
    def test_conditions_never_compared_with_each_other_are_not_ranked_and_the_page_says_why(self):
        # Two systems in two styles, but each pair of a sentence within one system only: the pairs
        # are built from the clips, so a test whose sentences each hold one system's clips.
        first = make_samples(sentences=THREE[:2], systems=("sys-a",), set_name="set-a")
        second = make_samples(sentences=THREE[2:], systems=("sys-b",), set_name="set-b")
        test = build_test("split", samples=first + second, scale=None, method="ab", samples_per_session=3)
        evaluator = evaluator_at_rating(test, rng=random.Random(0))
        judge(evaluator, prefer_warm_except())
        ranking = pair_results.ab_results(test)["ranking"]
        self.assertFalse(ranking["available"])
        self.assertIn("do not connect every condition", ranking["reason"])
        self.assertEqual(
            sorted(ranking["components"]),
            [["sys-a · neutral", "sys-a · warm"], ["sys-b · neutral", "sys-b · warm"]],
        )
