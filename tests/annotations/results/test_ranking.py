"""annotations.results.ranking: Davidson's Bradley-Terry model with ties against published fits and choix,
the bootstrap over raters and the ranking by lower bound (no database)."""

import json
from unittest import TestCase

import choix
import numpy as np

from annotations.results import ranking
from annotations.results.comparisons import CmosVote, Preference

# Stigler (1994) citations among four statistics journals, as in Agresti (2002, p. 448) and the R package
# BradleyTerry2's `citations` data: (cited, citing) -> count; the cited journal is the winner.
CITATIONS = {
    ("Comm Statist", "Biometrika"): 33,
    ("JASA", "Biometrika"): 320,
    ("JRSS-B", "Biometrika"): 284,
    ("Biometrika", "Comm Statist"): 730,
    ("JASA", "Comm Statist"): 813,
    ("JRSS-B", "Comm Statist"): 276,
    ("Biometrika", "JASA"): 498,
    ("Comm Statist", "JASA"): 68,
    ("JRSS-B", "JASA"): 325,
    ("Biometrika", "JRSS-B"): 221,
    ("Comm Statist", "JRSS-B"): 17,
    ("JASA", "JRSS-B"): 142,
}


def _row(winner, loser, rater="r1", sentence=None) -> Preference:
    x, y = sorted((winner, loser))
    return Preference(rater, sentence, x, y, x, winner)


def _choix_rows(data) -> list[Preference]:
    return [_row(winner, loser, rater=f"r{n}") for n, (winner, loser) in enumerate(data)]


def _centred(strengths) -> np.ndarray:
    values = np.array(list(strengths.values()) if isinstance(strengths, dict) else strengths, dtype=float)
    return values - values.mean()


def _simulated(theta, nu, *, raters, per_pair, seed) -> list[Preference]:
    """Every rater judges every pair of systems per_pair times, outcomes drawn from Davidson's model."""
    rng, rows = np.random.default_rng(seed), []
    for i in range(len(theta)):
        for j in range(i + 1, len(theta)):
            p = ranking.davidson_probabilities(theta[i], theta[j], nu)
            for r in range(raters):
                for outcome in rng.choice(3, p=p, size=per_pair):
                    rows.append(
                        Preference(
                            f"r{r}", None, f"s{i}", f"s{j}", f"s{i}", (f"s{i}", None, f"s{j}")[outcome]
                        )
                    )
    return rows


class PublishedFitTests(TestCase):
    def test_it_reproduces_the_bradleyterry2_journal_citation_fit(self):
        # BradleyTerry2 vignette (Turner & Firth, "Bradley-Terry Models in R"), section 2.1 "Example:
        # Analysis of journal citations": BTm(cbind(win1, win2), journal1, journal2, data = citations.sf)
        # gives, against Biometrika, Comm Statist -2.9491, JASA -0.4796, JRSS-B 0.2690 (plain maximum
        # likelihood, no ties).
        rows = [
            _row(cited, citing, rater=citing) for (cited, citing), n in CITATIONS.items() for _ in range(n)
        ]
        fit = ranking.fit_davidson(rows, alpha=0)
        relative = {
            journal: value - fit["strengths"]["Biometrika"] for journal, value in fit["strengths"].items()
        }
        self.assertAlmostEqual(relative["Comm Statist"], -2.9491, places=4)
        self.assertAlmostEqual(relative["JASA"], -0.4796, places=4)
        self.assertAlmostEqual(relative["JRSS-B"], 0.2690, places=4)
        self.assertEqual(fit["tie_parameter"], 0.0)
        self.assertTrue(fit["converged"])

    def test_it_reproduces_the_choix_introduction_example(self):
        # choix, notebooks/intro-pairwise.ipynb: ilsr_pairwise(5, data) prints
        # [ 0.583  0.194 -0.    -0.194 -0.583].
        data = [(1, 0), (0, 4), (3, 1), (0, 2), (2, 4), (4, 3)]
        fit = ranking.fit_davidson(_choix_rows(data), alpha=0)
        strengths = [fit["strengths"][item] for item in range(5)]
        for value, published in zip(strengths, [0.583, 0.194, 0.0, -0.194, -0.583], strict=True):
            self.assertAlmostEqual(value, published, places=3)


class AgreementWithChoixTests(TestCase):
    def setUp(self):
        np.random.seed(12)  # choix draws from numpy's global generator
        self.data = choix.generate_pairwise(choix.generate_params(6, 1.0), 400)
        self.rows = _choix_rows(self.data)

    def test_without_ties_it_is_choixs_penalised_bradley_terry_estimate(self):
        fit = ranking.fit_davidson(self.rows, alpha=0.01)
        expected = choix.opt_pairwise(6, self.data, alpha=0.01)
        ours = [fit["strengths"][item] for item in range(6)]
        np.testing.assert_allclose(_centred(ours), _centred(expected), atol=1e-5)
        self.assertEqual(fit["tie_parameter"], 0.0)

    def test_without_ties_or_penalty_it_is_choixs_maximum_likelihood_estimate(self):
        fit = ranking.fit_davidson(self.rows, alpha=0)
        expected = choix.ilsr_pairwise(6, self.data, alpha=0, tol=1e-10)
        ours = [fit["strengths"][item] for item in range(6)]
        np.testing.assert_allclose(_centred(ours), _centred(expected), atol=1e-5)
        self.assertAlmostEqual(
            fit["log_likelihood"], choix.log_likelihood_pairwise(self.data, np.array(ours)), places=6
        )


class DavidsonTests(TestCase):
    def test_the_probabilities_follow_davidsons_formula(self):
        win, tie, loss = ranking.davidson_probabilities(np.log(4), 0.0, 1.0)
        # pi = 4 and 1, sqrt(4 * 1) = 2: D = 4 + 1 + 1 * 2 = 7.
        self.assertAlmostEqual(win, 4 / 7)
        self.assertAlmostEqual(tie, 2 / 7)
        self.assertAlmostEqual(loss, 1 / 7)
        self.assertAlmostEqual(ranking.davidson_probabilities(0.3, 0.3, 0.5)[1], 0.5 / 2.5)

    def test_it_recovers_the_strengths_and_tie_parameter_of_simulated_judgements(self):
        theta, nu = np.array([-0.6, -0.1, 0.2, 0.5]), 0.8
        fit = ranking.fit_davidson(_simulated(theta, nu, raters=50, per_pair=40, seed=5))
        np.testing.assert_allclose([fit["strengths"][f"s{i}"] for i in range(4)], theta, atol=0.06)
        self.assertAlmostEqual(fit["tie_parameter"], nu, delta=0.06)

    def test_cmos_votes_enter_by_their_sign(self):
        votes = [CmosVote("r1", "s1", "a", "b", "a", value) for value in (2.0, -1.0, 0.0)]
        self.assertEqual([row.winner for row in ranking.outcomes_from_cmos(votes)], ["b", "a", None])

    def test_comparisons_that_do_not_connect_the_systems_are_refused_naming_the_groups(self):
        rows = [_row("a", "b"), _row("b", "a"), _row("c", "d"), _row("d", "c")]
        with self.assertRaises(ranking.DisconnectedComparisons) as caught:
            ranking.rank_systems(rows)
        self.assertEqual(caught.exception.components, [["a", "b"], ["c", "d"]])
        self.assertIn("a, b | c, d", str(caught.exception))


class RankSystemsTests(TestCase):
    def test_intervals_hold_the_estimates_and_the_ranking_follows_the_simulated_order(self):
        theta = np.array([-0.6, -0.2, 0.2, 0.6])
        result = ranking.rank_systems(
            _simulated(theta, 0.5, raters=20, per_pair=20, seed=2), n_boot=300, seed=4
        )
        self.assertEqual([row["system"] for row in result["systems"]], ["s3", "s2", "s1", "s0"])
        self.assertEqual([row["rank"] for row in result["systems"]], [1, 2, 3, 4])
        for row in result["systems"]:
            self.assertLess(row["low"], row["strength"])
            self.assertGreater(row["high"], row["strength"])
            self.assertLess(row["low"], theta[int(row["system"][1:])])
            self.assertGreater(row["high"], theta[int(row["system"][1:])])
        self.assertLess(result["tie_parameter_low"], result["tie_parameter"])
        self.assertEqual((result["n_boot"], result["n_valid"]), (300, 300))
        self.assertEqual(result["method"], "percentile bootstrap over raters (95%, 300 resamples, seed 4)")
        json.dumps(result)

    def test_a_barely_compared_system_ranks_below_a_well_measured_one_with_a_lower_estimate(self):
        rng = np.random.default_rng(7)
        rows = []
        for winner_share, pair in ((0.6, ("b", "c")), (0.6, ("b", "d")), (0.5, ("c", "d"))):
            for r in range(40):
                wins = rng.random(10) < winner_share
                rows += [_row(*(pair if won else pair[::-1]), rater=f"{pair}{r}") for won in wins]
        rows += [_row("a", "c", rater=f"ac{r}") for r in range(4)] + [_row("c", "a", rater="ac4")]
        rows += [_row("a", "d", rater=f"ad{r}") for r in range(4)] + [_row("d", "a", rater="ad4")]
        result = ranking.rank_systems(rows, n_boot=500, seed=0)
        by_system = {row["system"]: row for row in result["systems"]}
        self.assertGreater(by_system["a"]["strength"], by_system["b"]["strength"])
        self.assertEqual((by_system["b"]["rank"], by_system["a"]["rank"]), (1, 2))

    def test_raters_not_single_judgements_are_resampled(self):
        # One rater: every resample holds the same judgements, so each interval is the estimate itself.
        rows = [
            _row("a", "b"),
            _row("a", "b"),
            _row("b", "a"),
            _row("a", "c"),
            _row("c", "b"),
            _row("b", "c"),
        ]
        result = ranking.rank_systems(rows, n_boot=50)
        for row in result["systems"]:
            self.assertAlmostEqual(row["low"], row["strength"], places=6)
            self.assertAlmostEqual(row["high"], row["strength"], places=6)

    def test_a_system_that_never_wins_gets_a_finite_strength_a_note_and_the_last_rank(self):
        rows = [
            _row(winner, loser, rater=f"r{n}")
            for n, (winner, loser) in enumerate([("a", "b"), ("b", "a"), ("a", "b")] * 4)
        ]
        rows += [_row(w, "c", rater=f"q{n}") for n, w in enumerate(["a", "b"] * 4)]
        result = ranking.rank_systems(rows, n_boot=200)
        last = result["systems"][-1]
        self.assertEqual((last["system"], last["wins"], last["rank"]), ("c", 0, 3))
        self.assertTrue(np.isfinite(last["strength"]) and last["strength"] < -2)
        self.assertIn("never won", last["note"])
        self.assertEqual(result["systems"][0]["note"], "")

    def test_the_same_seed_gives_the_same_intervals(self):
        rows = _simulated(np.array([-0.3, 0.0, 0.3]), 0.6, raters=10, per_pair=5, seed=1)
        self.assertEqual(
            ranking.rank_systems(rows, n_boot=100, seed=3), ranking.rank_systems(rows, n_boot=100, seed=3)
        )


class BootstrapFitTests(TestCase):
    """The bootstrap fits its resamples together (ranking._fit_batch); each must be the fit the
    optimiser (L-BFGS-B, ranking._fit_counts) gives that resample on its own."""

    def resamples(self, seed: int, k: int, tie_share: float) -> tuple[ranking._Counts, np.ndarray]:
        rng = np.random.default_rng(seed)
        rows = []
        for rater in range(6):
            for _ in range(8):
                a, b = (f"s{n}" for n in sorted(rng.choice(k, 2, replace=False)))
                winner = None if rng.random() < tie_share else (a if rng.random() < 0.6 else b)
                rows.append(Preference(f"r{rater}", None, a, b, a, winner))
        counts = ranking._Counts(rows)
        draws = rng.multinomial(counts.raters, np.full(counts.raters, 1 / counts.raters), size=40)
        return counts, np.einsum("br,rpc->bpc", draws.astype(float), counts.per_rater)

    def test_each_batched_fit_is_the_optimisers_fit_of_that_resample(self):
        for seed, k, tie_share in [(0, 3, 0.3), (1, 4, 0.0), (2, 5, 0.5), (3, 3, 1.0), (4, 2, 0.1)]:
            counts, tables = self.resamples(seed, k, tie_share)
            for with_ties in (True, False):
                chosen = tables[(tables[:, :, 2].sum(axis=1) > 0) == with_ties]
                if not len(chosen):
                    continue
                start = np.zeros(k + 1)
                thetas, nus = ranking._fit_batch(chosen, counts, ranking.ALPHA, start, with_ties=with_ties)
                for table, theta, nu in zip(chosen, thetas, nus, strict=True):
                    expected, expected_nu, _, _ = ranking._fit_counts(
                        table, counts.i, counts.j, k, ranking.ALPHA, start
                    )
                    np.testing.assert_allclose(theta, expected, atol=1e-5, err_msg=f"seed {seed}")
                    np.testing.assert_allclose(nu, expected_nu, rtol=1e-4, atol=1e-6, err_msg=f"seed {seed}")
