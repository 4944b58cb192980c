"""annotations.results.comparisons (CMOS, A/B preference, consistency) and the Wilson interval and binomial
test in annotations.results.stats, against published examples (no database)."""

import json
from unittest import TestCase

import numpy as np
from scipy import stats as scipy_stats

from annotations.results import comparisons, stats
from annotations.results.comparisons import CmosVote, Preference, cmos_vote, preference


def _simulated_cmos(*, raters, sentences, shift, rater_sd, sentence_sd, noise_sd, seed):
    """Every rater judges every sentence once, x first on half of them; no rounding, so the truth is shift."""
    rng = np.random.default_rng(seed)
    rater_effect = rng.normal(0, rater_sd, raters)
    sentence_effect = rng.normal(0, sentence_sd, sentences)
    votes = []
    for r in range(raters):
        x_first = set(rng.permutation(sentences)[: sentences // 2])
        for s in range(sentences):
            value = shift + rater_effect[r] + sentence_effect[s] + rng.normal(0, noise_sd)
            votes.append(CmosVote(f"rater{r}", f"s{s}", "x", "y", "x" if s in x_first else "y", value))
    return votes


class WilsonIntervalTests(TestCase):
    def test_it_reproduces_newcombes_wilson_intervals(self):
        # Newcombe (1998), "Two-sided confidence intervals for the single proportion: comparison of
        # seven methods", Stat Med 17:857-872, Table I, method 3 (score method without continuity correction).
        published = {(81, 263): (0.2553, 0.3662), (15, 148): (0.0624, 0.1605), (0, 20): (0.0, 0.1611)}
        published[(1, 29)] = (0.0061, 0.1718)
        for (k, n), (low, high) in published.items():
            result = stats.wilson_interval(k, n)
            self.assertAlmostEqual(result["low"], low, places=4, msg=f"{k}/{n}")
            self.assertAlmostEqual(result["high"], high, places=4, msg=f"{k}/{n}")
            self.assertEqual(result["share"], k / n)

    def test_a_share_of_nothing_has_no_interval(self):
        result = stats.wilson_interval(0, 0)
        self.assertEqual((result["share"], result["low"], result["high"]), (None, None, None))


class BinomialTestTests(TestCase):
    def test_it_reproduces_the_scipy_binomtest_example(self):
        # scipy.stats.binomtest docstring: 3 unsafe cars of 15, claim "no more than 10%", alternative greater.
        result = stats.binomial_test(3, 15, p=0.1, alternative="greater")
        self.assertAlmostEqual(result["p"], 0.18406106910639114, places=10)

    def test_it_reproduces_rs_binom_test_example(self):
        # R ?binom.test: Mendel's peas, binom.test(c(682, 243), p = 3/4) -> p-value = 0.3825.
        self.assertAlmostEqual(stats.binomial_test(682, 925, p=0.75)["p"], 0.3825, places=4)

    def test_the_sign_test_of_nine_wins_in_ten_is_twice_eleven_in_1024(self):
        # P(X <= 1) + P(X >= 9) for X ~ Binomial(10, 1/2) = 2 * (1 + 10) / 2**10.
        self.assertAlmostEqual(stats.binomial_test(9, 10)["p"], 22 / 1024, places=12)

    def test_no_trials_give_no_p_value(self):
        self.assertIsNone(stats.binomial_test(0, 0)["p"])


class CmosVoteTests(TestCase):
    def test_a_vote_keeps_its_score_when_the_later_sorting_condition_was_played_second(self):
        vote = cmos_vote(rater="r1", sentence="s1", first="base", second="new", score=2)
        self.assertEqual(
            (vote.x, vote.y, vote.first, vote.corrected, vote.raw), ("base", "new", "base", 2.0, 2)
        )

    def test_a_vote_flips_its_sign_when_the_later_sorting_condition_was_played_first(self):
        # "new" played first and judged 2 better by the second clip "base": new is 2 worse than base.
        vote = cmos_vote(rater="r1", sentence="s1", first="new", second="base", score=2)
        self.assertEqual(
            (vote.x, vote.y, vote.first, vote.corrected, vote.raw), ("base", "new", "new", -2.0, 2)
        )

    def test_a_vote_refuses_a_score_off_the_comparison_scale(self):
        for score in (4, -4, 1.5):
            with self.assertRaises(ValueError):
                cmos_vote(rater="r1", sentence="s1", first="a", second="b", score=score)

    def test_a_vote_refuses_a_condition_compared_with_itself(self):
        with self.assertRaises(ValueError):
            cmos_vote(rater="r1", sentence="s1", first="a", second="a", score=1)


class CmosSummaryTests(TestCase):
    def test_the_mean_is_the_mean_corrected_score_and_the_raw_mean_the_bias_to_the_second_clip(self):
        # Both raters hear y one point better and add one point for whichever clip came second.
        votes = [
            cmos_vote(rater="r1", sentence="s1", first="x", second="y", score=2),
            cmos_vote(rater="r1", sentence="s2", first="y", second="x", score=0),
            cmos_vote(rater="r2", sentence="s1", first="y", second="x", score=0),
            cmos_vote(rater="r2", sentence="s2", first="x", second="y", score=2),
        ]
        result = comparisons.cmos_summary(votes, n_boot=200)
        self.assertEqual(
            (result["x"], result["y"], result["n"], result["raters"], result["sentences"]),
            ("x", "y", 4, 2, 2),
        )
        self.assertEqual(result["mean"], 1.0)
        self.assertEqual(result["mean_raw"], 1.0)
        order = result["order_effect"]
        self.assertEqual((order["mean_x_first"], order["mean_y_first"], order["difference"]), (2.0, 0.0, 2.0))

    def test_the_order_effect_is_welchs_t_test_of_x_first_against_y_first(self):
        votes = [CmosVote(f"r{i}", f"s{i}", "x", "y", "x", v) for i, v in enumerate([2, 1, 2, 3, 1])]
        votes += [CmosVote(f"q{i}", f"s{i}", "x", "y", "y", v) for i, v in enumerate([0, 1, -1, 0])]
        order = comparisons.order_effect(votes)
        expected = scipy_stats.ttest_ind([2, 1, 2, 3, 1], [0, 1, -1, 0], equal_var=False)
        self.assertAlmostEqual(order["p"], expected.pvalue, places=12)
        self.assertAlmostEqual(order["difference"], 1.8 - 0.0, places=12)
        self.assertLess(order["low"], order["difference"])
        self.assertGreater(order["high"], order["difference"])
        self.assertIn("Welch", order["test"])

    def test_the_t_interval_matches_the_v3_vector(self):
        # REFERENCE_VECTORS.md V3 shifted to the comparison scale (votes - 3): the half-width stays 0.71137.
        scores = [v - 3 for v in [5, 4, 4, 3, 5, 4, 2, 4, 5, 3]]
        votes = [CmosVote(f"r{i}", f"s{i}", "x", "y", "x", s) for i, s in enumerate(scores)]
        interval = comparisons.cmos_summary(votes, n_boot=200)["t_interval"]
        self.assertAlmostEqual(interval["high"] - 0.9, 0.71137, places=4)
        self.assertAlmostEqual(0.9 - interval["low"], 0.71137, places=4)
        self.assertIn("assumes independent votes", interval["method"])

    def test_the_wilcoxon_of_per_rater_means_reproduces_the_scipy_example(self):
        # scipy.stats.wilcoxon docs: d = [6, 8, 14, ...] -> W = 24, exact two-sided p = 0.041259765625.
        # One vote per rater, scaled into -3..+3 (the test only sees ranks and signs).
        d = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75]
        votes = [CmosVote(f"r{i}", f"s{i}", "x", "y", "x", value / 25) for i, value in enumerate(d)]
        test = comparisons.cmos_summary(votes, n_boot=200)["wilcoxon"]
        self.assertEqual(test["statistic"], 24)
        self.assertAlmostEqual(test["p"], 0.041259765625, places=12)
        self.assertEqual(test["n"], 15)

    def test_the_two_way_bootstrap_covers_the_truth_and_is_wider_than_the_t_interval(self):
        votes = _simulated_cmos(
            raters=15, sentences=12, shift=0.6, rater_sd=0.5, sentence_sd=0.4, noise_sd=0.8, seed=3
        )
        result = comparisons.cmos_summary(votes, n_boot=1000, seed=1)
        self.assertLess(result["ci_low"], 0.6)
        self.assertGreater(result["ci_high"], 0.6)
        t = result["t_interval"]
        # Votes of one rater or one sentence share its effect, which the t interval ignores.
        self.assertGreater(result["ci_high"] - result["ci_low"], 1.5 * (t["high"] - t["low"]))
        self.assertEqual(
            result["ci_method"],
            "two-way percentile bootstrap over raters and sentences (95%, 1000 resamples, seed 1)",
        )
        self.assertEqual(comparisons.cmos_summary(votes, n_boot=1000, seed=1), result)

    def test_no_votes_give_no_statistics_and_say_why(self):
        result = comparisons.cmos_summary([])
        self.assertEqual((result["n"], result["mean"], result["ci_low"]), (0, None, None))
        self.assertEqual(result["wilcoxon"]["reason"], "fewer than 2 raters")
        self.assertIsNotNone(result["order_effect"]["reason"])
        json.dumps(result)

    def test_one_rater_gives_a_mean_but_no_bootstrap_interval_or_wilcoxon(self):
        votes = [CmosVote("r1", f"s{i}", "x", "y", "x" if i % 2 else "y", i % 3) for i in range(6)]
        result = comparisons.cmos_summary(votes)
        self.assertEqual(result["mean"], 1.0)
        self.assertIsNone(result["ci_low"])
        self.assertIn("at least 2 raters and 2 sentences", result["ci_reason"])
        self.assertIsNone(result["wilcoxon"]["p"])

    def test_raters_who_hear_no_difference_give_no_wilcoxon_and_no_order_test(self):
        votes = [
            CmosVote(f"r{r}", f"s{s}", "x", "y", "x" if s % 2 else "y", 0.0)
            for r in range(3)
            for s in range(4)
        ]
        result = comparisons.cmos_summary(votes, n_boot=200)
        self.assertEqual(result["wilcoxon"]["reason"], "every rater's mean is 0: nothing to test")
        self.assertIsNone(result["order_effect"]["p"])
        self.assertIn("no variance", result["order_effect"]["reason"])
        self.assertEqual((result["ci_low"], result["ci_high"]), (0.0, 0.0))

    def test_a_summary_refuses_votes_of_two_pairs_and_by_pair_splits_them(self):
        votes = [
            cmos_vote(rater="r1", sentence="s1", first="a", second="b", score=1),
            cmos_vote(rater="r1", sentence="s1", first="c", second="a", score=-1),
        ]
        with self.assertRaises(ValueError):
            comparisons.cmos_summary(votes)
        groups = comparisons.by_pair(votes)
        self.assertEqual(sorted(groups), [("a", "b"), ("a", "c")])
        self.assertEqual(comparisons.cmos_summary(groups[("a", "c")])["mean"], 1.0)


class PreferenceTests(TestCase):
    def test_answers_become_winners_of_the_canonical_pair(self):
        a = preference(rater="r1", sentence="s1", first="new", second="base", answer="A")
        b = preference(rater="r1", sentence="s1", first="new", second="base", answer="B")
        none = preference(rater="r1", sentence="s1", first="new", second="base", answer="none")
        self.assertEqual((a.x, a.y, a.first), ("base", "new", "new"))
        self.assertEqual((a.winner, b.winner, none.winner), ("new", "base", None))
        with self.assertRaises(ValueError):
            preference(rater="r1", sentence="s1", first="new", second="base", answer="C")

    def test_the_sign_test_leaves_ties_out_and_reports_them_apart(self):
        rows = [Preference(f"r{i}", "s", "x", "y", "x", "y") for i in range(9)]
        rows += [Preference("r9", "s", "x", "y", "y", "x")]
        rows += [Preference(f"t{i}", "s", "x", "y", "x", None) for i in range(5)]
        result = comparisons.preference_summary(rows)
        self.assertEqual((result["n"], result["wins_x"], result["wins_y"], result["ties"]), (15, 1, 9, 5))
        self.assertAlmostEqual(result["sign_test"]["p"], 22 / 1024, places=12)
        self.assertEqual(result["sign_test"]["n"], 10)
        self.assertEqual(result["shares"]["y"], stats.wilson_interval(9, 15))
        self.assertEqual(result["shares"]["tie"], stats.wilson_interval(5, 15))
        self.assertEqual(result["decisive_shares"]["y"], stats.wilson_interval(9, 10))
        self.assertIn("Wilson", result["interval_method"])
        json.dumps(result)

    def test_only_ties_give_no_sign_test_and_no_decisive_shares(self):
        result = comparisons.preference_summary([Preference("r1", "s1", "x", "y", "x", None)] * 3)
        self.assertIsNone(result["sign_test"]["p"])
        self.assertIsNone(result["decisive_shares"]["x"]["share"])
        self.assertEqual(result["shares"]["tie"]["share"], 1.0)

    def test_a_winner_outside_the_pair_is_refused(self):
        with self.assertRaises(ValueError):
            comparisons.preference_summary([Preference("r1", "s1", "x", "y", "x", "z")])


class ConsistencyTests(TestCase):
    ROWS = [
        # r1: first answers, then both pairs again in swapped order: once the same, once not.
        Preference("r1", "s1", "x", "y", "x", "y"),
        Preference("r1", "s2", "x", "y", "x", "x"),
        Preference("r1", "s1", "x", "y", "y", "y"),
        Preference("r1", "s2", "x", "y", "y", "y"),
        # r2: a tie repeated as a tie agrees; r3 has no repeat.
        Preference("r2", "s1", "x", "y", "x", None),
        Preference("r2", "s1", "x", "y", "y", None),
        Preference("r3", "s1", "x", "y", "x", "x"),
    ]

    def test_a_repeat_is_consistent_when_it_picks_the_same_condition_after_the_swap(self):
        result = comparisons.repeat_consistency(self.ROWS)
        self.assertEqual(result["r1"], {"repeats": 2, "consistent": 1, "share": 0.5})
        self.assertEqual(result["r2"], {"repeats": 1, "consistent": 1, "share": 1.0})
        self.assertNotIn("r3", result)

    def test_raters_below_the_threshold_with_enough_repeats_are_flagged(self):
        consistency = {
            "flaky": {"repeats": 4, "consistent": 1, "share": 0.25},
            "half": {"repeats": 4, "consistent": 2, "share": 0.5},
            "once": {"repeats": 1, "consistent": 0, "share": 0.0},
        }
        self.assertEqual(comparisons.inconsistent_raters(consistency), ["flaky"])
        self.assertEqual(comparisons.inconsistent_raters(consistency, threshold=0.75), ["flaky", "half"])
        self.assertEqual(comparisons.inconsistent_raters(consistency, min_repeats=1), ["flaky", "once"])
