"""annotations.results.stats against the values in /work/shared/REFERENCE_VECTORS.md (no database)."""

import json
import math
from unittest import TestCase

import jiwer
import numpy as np
from scipy import stats as scipy_stats

from annotations.results import stats
from synthesis.engines import textnorm
from synthesis.results import stats as run_stats
from tests.factories import crowdmos_ci_long

ACR = [1, 2, 3, 4, 5]

_ = math.nan


def _simulated_ratings(*, raters, sentences, rater_sd, sentence_sd, noise_sd, effect, seed):
    """Every rater rates every sentence in conditions A and B; B is `effect` better."""
    rng = np.random.default_rng(seed)
    rater_bias = rng.normal(0, rater_sd, raters)
    sentence_bias = rng.normal(0, sentence_sd, sentences)
    rows = []
    for r in range(raters):
        for s in range(sentences):
            for condition, shift in (("A", 0.0), ("B", effect)):
                score = 3 + rater_bias[r] + sentence_bias[s] + shift + rng.normal(0, noise_sd)
                rows.append((f"rater{r}", f"sentence{s}", condition, score))
    return rows


class MosSummaryTests(TestCase):
    def test_mos_summary_matches_the_v3_vector(self):
        result = stats.mos_summary([5, 4, 4, 3, 5, 4, 2, 4, 5, 3])
        self.assertEqual(result["n"], 10)
        self.assertAlmostEqual(result["mean"], 3.9, places=4)
        self.assertAlmostEqual(result["sd"], 0.99443, places=4)
        self.assertAlmostEqual(result["ci95_normal"], 0.61635, places=4)
        self.assertAlmostEqual(result["ci95_t"], 0.71137, places=4)

    def test_mos_summary_of_a_single_vote_has_a_mean_but_no_interval(self):
        self.assertEqual(
            stats.mos_summary([4]), {"n": 1, "mean": 4.0, "sd": None, "ci95_normal": None, "ci95_t": None}
        )

    def test_mos_summary_of_no_votes_is_empty(self):
        self.assertIsNone(stats.mos_summary([])["mean"])


class CrowdMosTests(TestCase):
    V1 = [[4, 5, _, 4, _, 3], [4, 4, 4, 5, _, 4], [_, 3, 5, 4, _, 1], [_, _, _, _, _, _]]

    def test_crowdmos_ci_matches_the_published_example(self):
        result = stats.crowdmos_ci(self.V1)
        self.assertEqual(f"{result['mos']:.2f}", "3.85")
        self.assertAlmostEqual(result["ci95"], 1.3316, places=4)
        self.assertAlmostEqual(result["ci95_default"], 0.5579, places=4)

    def test_crowdmos_ci_counts_the_all_missing_rater_in_the_degrees_of_freedom(self):
        result = stats.crowdmos_ci(self.V1)
        self.assertEqual((result["raters"], result["items"], result["df"], result["n"]), (4, 6, 3, 13))

    def test_crowdmos_ci_long_pivots_one_row_per_rating_into_the_matrix(self):
        rows = [
            (r, i, s) for r, line in enumerate(self.V1[:3]) for i, s in enumerate(line) if not math.isnan(s)
        ]
        result = crowdmos_ci_long(*zip(*rows, strict=True))
        # Without the empty row and column the shape is 3 x 5, so df = 2 and the CI is wider.
        self.assertAlmostEqual(result["mos"], stats.crowdmos_ci(self.V1)["mos"], places=10)
        self.assertEqual(result["df"], 2)
        t_ratio = scipy_stats.t.ppf(0.975, 2) / scipy_stats.t.ppf(0.975, 3)
        self.assertAlmostEqual(result["ci95"], stats.crowdmos_ci(self.V1)["ci95"] * t_ratio, places=10)

    def test_the_degrees_of_freedom_are_undefined_without_two_raters_and_two_items(self):
        self.assertIsNone(stats.crowdmos_from_sums(np.zeros((0, 3)), np.zeros((0, 3)))["df"])
        one_rater = stats.crowdmos_ci([[4, 5, 3]])
        self.assertEqual((one_rater["df"], one_rater["ci95"]), (None, None))

    def test_crowdmos_ci_long_refuses_two_ratings_of_one_item_by_one_rater(self):
        with self.assertRaises(ValueError):
            crowdmos_ci_long(["r1", "r1"], ["s1", "s1"], [3, 4])

    def test_crowdmos_ci_keeps_item_variation_when_every_rater_rated_once(self):
        # Six raters, two items, one rating each: rater and residual variance are inseparable.
        matrix = np.full((6, 2), np.nan)
        matrix[[0, 1, 2], 0] = [1, 2, 1]
        matrix[[3, 4, 5], 1] = [5, 4, 5]
        result = stats.crowdmos_ci(matrix)
        self.assertGreater(result["v_s"], 0)
        self.assertGreater(result["ci95"], 0)

    def test_crowdmos_ci_of_an_empty_matrix_has_no_mos(self):
        self.assertIsNone(stats.crowdmos_ci([[_, _], [_, _]])["mos"])

    def test_crowdmos_results_serialise_to_json(self):
        json.dumps(stats.crowdmos_ci(self.V1))


class BootstrapTests(TestCase):
    def setUp(self):
        rows = _simulated_ratings(
            raters=30, sentences=40, rater_sd=1.0, sentence_sd=0.2, noise_sd=0.5, effect=0.0, seed=7
        )
        self.raters, self.items, _conditions, self.scores = zip(*rows, strict=True)

    def test_bootstrap_ci_is_deterministic_for_a_seed(self):
        first = stats.bootstrap_ci(self.raters, self.items, self.scores, n_boot=200, seed=3)
        again = stats.bootstrap_ci(self.raters, self.items, self.scores, n_boot=200, seed=3)
        other = stats.bootstrap_ci(self.raters, self.items, self.scores, n_boot=200, seed=4)
        self.assertEqual(first, again)
        self.assertNotEqual(first["low"], other["low"])

    def test_bootstrap_ci_contains_the_mean(self):
        result = stats.bootstrap_ci(self.raters, self.items, self.scores)
        self.assertLess(result["low"], result["mean"])
        self.assertGreater(result["high"], result["mean"])
        self.assertAlmostEqual(result["mean"], float(np.mean(self.scores)))
        self.assertEqual(result["n_valid"], 1000)

    def test_bootstrap_ci_is_wider_than_the_naive_t_interval_when_raters_differ(self):
        result = stats.bootstrap_ci(self.raters, self.items, self.scores)
        naive = stats.mos_summary(self.scores)["ci95_t"]
        self.assertGreater((result["high"] - result["low"]) / 2, 3 * naive)

    def test_bootstrap_weights_each_rating_by_how_often_its_rater_and_item_were_drawn(self):
        raters, items, scores = ["a", "a", "b", "c"], ["x", "y", "x", "y"], [1.0, 2.0, 4.0, 5.0]
        result = stats.bootstrap_ci(raters, items, scores, n_boot=50, seed=11, level=0.5)
        # The same draws, done one rating at a time.
        rng = np.random.default_rng(11)
        w_r = rng.multinomial(3, [1 / 3] * 3, size=50)
        w_i = rng.multinomial(2, [1 / 2] * 2, size=50)
        r_idx, i_idx = [0, 0, 1, 2], [0, 1, 0, 1]
        means = []
        for b in range(50):
            weights = [w_r[b, r] * w_i[b, i] for r, i in zip(r_idx, i_idx, strict=True)]
            if sum(weights):
                means.append(np.dot(weights, scores) / sum(weights))
        self.assertEqual(result["n_valid"], len(means))
        self.assertAlmostEqual(result["low"], float(np.quantile(means, 0.25)))
        self.assertAlmostEqual(result["high"], float(np.quantile(means, 0.75)))


class PairedTestTests(TestCase):
    D = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75]
    X = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30]
    Y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29]

    def test_wilcoxon_matches_the_scipy_docs_example(self):
        result = stats.wilcoxon_paired(self.D, [0] * len(self.D))
        self.assertEqual(result["statistic"], 24)
        self.assertAlmostEqual(result["p"], 0.041259765625, places=10)
        self.assertEqual(result["n"], 15)

    def test_wilcoxon_greater_matches_the_scipy_docs_example(self):
        result = stats.wilcoxon_paired(self.D, [0] * len(self.D), alternative="greater")
        self.assertEqual(result["statistic"], 96)
        self.assertAlmostEqual(result["p"], 0.0206298828125, places=10)

    def test_wilcoxon_matches_hollander_and_wolfe(self):
        greater = stats.wilcoxon_paired(self.X, self.Y, alternative="greater")
        self.assertEqual(greater["statistic"], 40)
        self.assertAlmostEqual(greater["p"], 0.01953, places=4)
        self.assertAlmostEqual(stats.wilcoxon_paired(self.X, self.Y)["p"], 0.0391, places=4)

    def test_wilcoxon_of_identical_conditions_reports_no_test(self):
        self.assertIsNone(stats.wilcoxon_paired([3, 4, 5], [3, 4, 5])["p"])

    def test_holm_rejects_the_first_and_fourth_hypotheses(self):
        result = stats.holm([0.01, 0.04, 0.03, 0.005], alpha=0.05)
        self.assertEqual(result["reject"], [True, False, False, True])
        for adjusted, expected in zip(result["p_adjusted"], [0.03, 0.06, 0.06, 0.02], strict=True):
            self.assertAlmostEqual(adjusted, expected, places=10)

    def test_holm_agrees_with_statsmodels_on_random_and_tied_p_values(self):
        from statsmodels.stats.multitest import multipletests

        rng = np.random.default_rng(7)
        cases = [rng.uniform(0, 0.2, size) for size in (1, 2, 5, 17)] + [[0.01, 0.01, 0.02, 0.5, 0.01]]
        for pvalues in cases:
            reject, adjusted, _, _ = multipletests(pvalues, alpha=0.05, method="holm")
            result = stats.holm(pvalues)
            self.assertEqual(result["reject"], reject.tolist())
            np.testing.assert_allclose(result["p_adjusted"], adjusted, rtol=1e-12)


class CompareConditionsTests(TestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        rows = _simulated_ratings(
            raters=20, sentences=30, rater_sd=0.5, sentence_sd=0.3, noise_sd=0.7, effect=0.4, seed=2024
        )
        cls.result = stats.compare_conditions(rows, "A", "B")

    def test_the_mixed_model_recovers_a_true_difference_of_0_4(self):
        model = self.result["mixed_model"]
        self.assertIsNone(model["error"])
        self.assertTrue(model["converged"])
        self.assertAlmostEqual(model["difference"], 0.4, delta=0.15)
        self.assertLess(model["ci_low"], 0.4)
        self.assertGreater(model["ci_high"], 0.4)
        self.assertLess(model["p"], 0.05)

    def test_per_rater_and_per_sentence_wilcoxon_find_the_difference(self):
        self.assertEqual(self.result["by_rater"]["n"], 20)
        self.assertEqual(self.result["by_sentence"]["n"], 30)
        self.assertLess(self.result["by_rater"]["p"], 0.05)
        self.assertLess(self.result["by_sentence"]["p"], 0.05)
        self.assertGreater(self.result["by_rater"]["mean_difference"], 0)

    def test_only_raters_who_rated_both_conditions_are_paired(self):
        rows = [("r1", "s1", "A", 3), ("r1", "s1", "B", 4), ("r2", "s1", "A", 2), ("r3", "s2", "C", 5)]
        result = stats.compare_conditions(rows, "A", "B")
        self.assertEqual(result["by_rater"]["n"], 1)
        self.assertEqual((result["n_a"], result["n_b"]), (2, 1))

    def test_a_model_that_cannot_be_fitted_reports_the_error_instead_of_crashing(self):
        result = stats.compare_conditions([("r1", "s1", "A", 3), ("r1", "s1", "B", 4)], "A", "B")
        self.assertIsNone(result["mixed_model"]["difference"])
        self.assertIn("Singular", result["mixed_model"]["error"])

    def test_a_condition_without_ratings_is_reported_not_fitted(self):
        result = stats.compare_conditions([("r1", "s1", "A", 3), ("r2", "s1", "A", 4)], "A", "B")
        self.assertEqual(result["mixed_model"]["error"], "both conditions need ratings")
        self.assertIsNone(result["mean_b"])
        json.dumps(result)


class AgreementTests(TestCase):
    K4 = [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
        [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
    ]
    K3 = [
        [_, _, _, _, _, 3, 4, 1, 2, 1, 1, 3, 3, _, 3],
        [1, _, 2, 1, 3, 3, 4, 3, _, _, _, _, _, _, _],
        [_, _, 2, 1, 3, 4, 4, _, 2, 1, 1, 3, 3, _, 4],
    ]

    def test_krippendorff_alpha_matches_krippendorff_2011_at_each_level(self):
        self.assertAlmostEqual(stats.krippendorff_alpha(self.K4, "nominal"), 0.743, delta=1e-3)
        self.assertAlmostEqual(stats.krippendorff_alpha(self.K4, "ordinal"), 0.815, delta=1e-3)
        self.assertAlmostEqual(stats.krippendorff_alpha(self.K4, "ratio"), 0.797, delta=1e-3)
        self.assertAlmostEqual(stats.krippendorff_alpha(self.K4, "interval"), 0.8491, places=4)

    def test_krippendorff_alpha_matches_the_three_rater_example(self):
        self.assertAlmostEqual(stats.krippendorff_alpha(self.K3, "nominal"), 0.691358, places=6)
        self.assertAlmostEqual(stats.krippendorff_alpha(self.K3, "interval"), 0.810845, places=6)

    def test_krippendorff_alpha_is_undefined_when_everyone_gives_one_score(self):
        self.assertIsNone(stats.krippendorff_alpha([[3, 3], [3, 3]], "interval"))

    def test_krippendorff_alpha_refuses_an_unknown_level(self):
        with self.assertRaises(ValueError):
            stats.krippendorff_alpha(self.K3, "cardinal")

    def test_correlation_drops_pairs_with_a_missing_value(self):
        result = run_stats.correlation([1, 2, 3, 4, _], [2, 4, 5, 9, 1])
        self.assertEqual(result["n"], 4)
        self.assertAlmostEqual(result["spearman_rho"], 1.0)
        self.assertAlmostEqual(
            result["pearson_r"], scipy_stats.pearsonr([1, 2, 3, 4], [2, 4, 5, 9]).statistic
        )

    def test_correlation_of_fewer_than_three_pairs_is_undefined(self):
        result = run_stats.correlation([1, 2], [2, 1])
        self.assertEqual(result["n"], 2)
        self.assertIsNone(result["pearson_r"])
        self.assertIsNone(result["spearman_p"])


class WerTests(TestCase):
    def test_corpus_wer_matches_this_is_a_test(self):
        result = run_stats.corpus_wer(["This is a test"], ["This test"], method="none")
        self.assertAlmostEqual(result["wer"], 0.5)
        self.assertAlmostEqual(result["cer"], 5 / 14)

    def test_corpus_wer_can_exceed_one_with_insertions(self):
        self.assertAlmostEqual(run_stats.corpus_wer(["X"], ["X X Y Y"], method="none")["wer"], 3.0)

    def test_corpus_wer_and_wil_of_x_y_x(self):
        result = run_stats.corpus_wer(["X Y X"], ["X Z"], method="none")
        self.assertAlmostEqual(result["wer"], 2 / 3)
        self.assertAlmostEqual(result["wil"], 5 / 6)

    def test_corpus_wer_counts_edits_over_two_sentences(self):
        result = run_stats.corpus_wer(
            ["short one here", "quite a bit of longer sentence"],
            ["shoe order one", "quite bit of an even longest sentence here"],
            method="none",
        )
        counts = [result[k] for k in ("substitutions", "deletions", "insertions", "hits")]
        self.assertEqual(counts, [2, 2, 4, 5])
        self.assertAlmostEqual(result["wer"], 0.8889, places=4)
        self.assertAlmostEqual(result["mer"], 0.6154, places=4)
        self.assertAlmostEqual(result["wil"], 0.7475, places=4)

    def test_corpus_wer_accepts_an_empty_reference(self):
        result = run_stats.corpus_wer(["hello world", ""], ["hello world", "done"], method="none")
        self.assertAlmostEqual(result["wer"], 0.5)
        self.assertEqual(result["per_utterance_wer"], [0.0, 1.0])

    def test_micro_and_macro_wer_differ_when_utterance_lengths_differ(self):
        refs, hyps = ["i", "am i good"], ["i am", "i good"]
        self.assertAlmostEqual(run_stats.corpus_wer(refs, hyps, method="none")["wer"], 0.5)
        self.assertAlmostEqual(run_stats.macro_wer(refs, hyps, method="none"), 0.6667, places=4)

    def test_corpus_wer_names_its_normalisation_and_applies_it(self):
        refs = ["Mr. Park visited Assoc. Prof. Kim Jr."]
        hyps = ["mister park visited associate professor kim junior"]
        expected = {"none": 6 / 7, "basic": 4 / 7, "english": 0.0}
        for method, wer in expected.items():
            result = run_stats.corpus_wer(refs, hyps, method=method)
            self.assertAlmostEqual(result["wer"], wer, places=4)
            self.assertEqual(result["method"], method)
            self.assertTrue(result["method_description"])

    def test_corpus_wer_refuses_lists_of_different_lengths(self):
        with self.assertRaises(ValueError):
            run_stats.corpus_wer(["a"], ["a", "b"], method="none")


class LatencyTests(TestCase):
    def test_latency_percentiles_use_linear_interpolation(self):
        result = run_stats.latency_summary(list(range(1, 11)))
        self.assertEqual(result["n"], 10)
        self.assertAlmostEqual(result["p50"], 5.5)
        self.assertAlmostEqual(result["p90"], 9.1)
        self.assertAlmostEqual(result["p95"], 9.55)
        self.assertAlmostEqual(result["p99"], 9.91)
        self.assertEqual(result["max"], 10)
        self.assertEqual(
            result["percentile_method"], "linear interpolation (numpy default, Hyndman & Fan type 7)"
        )

    def test_nearest_rank_percentiles_differ_from_the_default(self):
        self.assertEqual(
            run_stats.percentiles(range(1, 11), [50, 90, 95, 99], method="nearest_rank"), [5, 9, 10, 10]
        )

    def test_latency_summary_drops_warmup_calls(self):
        result = run_stats.latency_summary([5000, 4000, 100, 200, 300], warmup=2)
        self.assertEqual((result["n"], result["warmup_dropped"], result["max"]), (3, 2, 300))
        self.assertAlmostEqual(result["mean"], 200)

    def test_latency_summary_of_nothing_has_no_percentiles(self):
        self.assertIsNone(run_stats.latency_summary([10], warmup=1)["p50"])

    def test_rtf_below_one_is_faster_than_real_time(self):
        self.assertAlmostEqual(run_stats.rtf(0.5, 2.0), 0.25)
        self.assertIsNone(run_stats.rtf(0.5, 0.0))


class DistributionTests(TestCase):
    def test_distribution_counts_each_point_of_the_scale(self):
        self.assertEqual(stats.distribution([5, 4, 4, 3, 5, 4, 2, 4, 5, 3], ACR), [0, 1, 2, 4, 3])

    def test_distribution_counts_a_comparison_scale_from_minus_three(self):
        self.assertEqual(stats.distribution([-3, 0, 0, 3, 1], range(-3, 4)), [1, 0, 0, 2, 1, 0, 1])

    def test_condition_summary_reads_the_points_of_the_scale(self):
        counts = [np.array([1, 0, 0, 2, 1, 0, 1]), np.array([0, 0, 1, 1, 0, 0, 0])]
        raters = [(4, -2.0, 18.0), (3, 1.0, 11.0)]
        summary = stats.condition_summary(counts, raters, list(range(-3, 4)))
        self.assertAlmostEqual(summary["mean"], (-3 + 0 + 0 + 3 + 1 - 1 + 0) / 7)
        self.assertEqual(summary["distribution"], [1, 0, 1, 3, 1, 0, 1])

    def test_distribution_of_no_scores_is_all_zeros(self):
        self.assertEqual(stats.distribution([], ACR), [0, 0, 0, 0, 0])

    def test_distribution_refuses_scores_off_the_scale(self):
        with self.assertRaises(ValueError):
            stats.distribution([0, 3], ACR)
        with self.assertRaises(ValueError):
            stats.distribution([3.5], ACR)


class CorpusErrorRateTests(TestCase):
    """Corpus WER/CER from per-utterance counts, with bootstrap CIs over utterances."""

    REFS = ["Mr. Park visited Assoc. Prof. Kim Jr.", "short one here", "quite a bit of longer sentence"]
    HYPS = [
        "mister park visited associate professor kim",
        "shoe order one",
        "quite bit of an even longest sentence",
    ]

    def counts(self, method: str) -> tuple[list[int], list[int], list[int], list[int], list[str], list[str]]:
        rows = [
            textnorm.utterance_errors(r, h, method=method, language="en")
            for r, h in zip(self.REFS, self.HYPS, strict=True)
        ]
        word_errors = [r["substitutions"] + r["deletions"] + r["insertions"] for r in rows]
        char_errors = [r["char_substitutions"] + r["char_deletions"] + r["char_insertions"] for r in rows]
        refs = [r["reference_normalised"] for r in rows]
        hyps = [r["hypothesis_normalised"] for r in rows]
        return (
            word_errors,
            [r["ref_words"] for r in rows],
            char_errors,
            [r["ref_chars"] for r in rows],
            refs,
            hyps,
        )

    def test_corpus_wer_and_cer_equal_jiwer_called_directly_on_the_same_normalised_text(self):
        for method in textnorm.METHODS:
            with self.subTest(method=method):
                word_errors, words, char_errors, chars, refs, hyps = self.counts(method)
                wer = run_stats.error_rate_ci(word_errors, words)["rate"]
                cer = run_stats.error_rate_ci(char_errors, chars)["rate"]
                self.assertAlmostEqual(wer, jiwer.wer(refs, hyps), places=10)
                self.assertAlmostEqual(cer, jiwer.cer(refs, hyps), places=10)

    def test_the_reference_vector_of_two_sentences_gives_wer_0_8889(self):
        refs = ["short one here", "quite a bit of longer sentence"]
        hyps = ["shoe order one", "quite bit of an even longest sentence here"]
        outputs = [jiwer.process_words(r, h) for r, h in zip(refs, hyps, strict=True)]
        errors = [o.substitutions + o.deletions + o.insertions for o in outputs]
        words = [o.hits + o.substitutions + o.deletions for o in outputs]
        self.assertAlmostEqual(run_stats.error_rate_ci(errors, words)["rate"], 0.8889, places=4)

    def test_the_bootstrap_ci_is_reproducible_with_a_seed_and_contains_the_estimate(self):
        rng = np.random.default_rng(7)
        words = rng.integers(3, 20, size=200)
        errors = rng.binomial(words, 0.1)
        first = run_stats.error_rate_ci(errors, words, seed=3)
        self.assertEqual(first, run_stats.error_rate_ci(errors, words, seed=3))
        self.assertNotEqual(first["low"], run_stats.error_rate_ci(errors, words, seed=4)["low"])
        self.assertLess(first["low"], first["rate"])
        self.assertLess(first["rate"], first["high"])
        self.assertEqual((first["n_boot"], first["seed"]), (1000, 3))
        self.assertIn("percentile bootstrap over utterances (95%, 1000 resamples, seed 3)", first["method"])

    def test_the_bootstrap_ci_covers_the_true_rate_about_95_times_in_100(self):
        rng = np.random.default_rng(11)
        covered = 0
        for trial in range(200):
            words = rng.integers(4, 16, size=80)
            errors = rng.binomial(words, 0.12)
            ci = run_stats.error_rate_ci(errors, words, n_boot=400, seed=trial)
            covered += ci["low"] <= 0.12 <= ci["high"]
        self.assertGreaterEqual(covered / 200, 0.90)
        self.assertLessEqual(covered / 200, 0.99)

    def test_no_reference_words_gives_no_rate(self):
        self.assertEqual(run_stats.error_rate_ci([], [])["rate"], None)
        self.assertEqual(run_stats.error_rate_ci([2], [0])["rate"], None)

    def test_the_paired_difference_resamples_the_same_utterances_for_both(self):
        rng = np.random.default_rng(5)
        words = rng.integers(5, 15, size=150)
        a = rng.binomial(words, 0.20)
        b = rng.binomial(words, 0.10)
        diff = run_stats.paired_error_rate_difference(a, b, words, seed=1)
        self.assertAlmostEqual(diff["difference"], b.sum() / words.sum() - a.sum() / words.sum())
        self.assertLess(diff["high"], 0)  # B clearly better: the CI excludes 0
        self.assertLess(diff["low"], diff["difference"])
        self.assertEqual(diff, run_stats.paired_error_rate_difference(a, b, words, seed=1))
        same = run_stats.paired_error_rate_difference(a, a, words)
        self.assertEqual((same["difference"], same["low"], same["high"]), (0.0, 0.0, 0.0))

    def test_pairing_narrows_the_ci_when_both_configurations_fail_on_the_same_utterances(self):
        rng = np.random.default_rng(9)
        words = rng.integers(5, 15, size=100)
        hard = rng.random(100) < 0.3
        a = np.where(hard, words // 2, 0)
        b = a + rng.integers(0, 2, size=100)
        paired = run_stats.paired_error_rate_difference(a, b, words, seed=2)
        separate = [run_stats.error_rate_ci(x, words, seed=s) for x, s in ((a, 2), (b, 3))]
        unpaired_width = sum(ci["high"] - ci["low"] for ci in separate)
        self.assertLess(paired["high"] - paired["low"], unpaired_width / 2)

    def test_different_lengths_are_refused(self):
        with self.assertRaises(ValueError):
            run_stats.paired_error_rate_difference([1, 2], [1], [3, 4])
