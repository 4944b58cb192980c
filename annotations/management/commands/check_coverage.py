"""Simulate rater panels with known effects and print how often each interval covers the truth.

CMOS: every rater judges every sentence once, in an order balanced per rater (half the sentences with
x first). The perceived difference of y over x is effect + rater effect + sentence effect + noise
(all normal); the answer, the second clip relative to the first, is that difference signed by the
order plus a bias towards the second clip, rounded and clipped to -3..+3. Rounding and clipping move
the mean away from `effect`, so the true CMOS and order effect are computed exactly from the normal
model with its rounding and clipping (sums of normal probabilities), not taken from the inputs.

A/B: every rater judges every sentence once, order balanced per rater; an answer is "no preference"
with probability --tie-rate, otherwise y with probability --preference (on the logit scale shifted by
a rater effect when --rater-sd > 0; the true share then averages over raters by Gauss-Hermite
quadrature). BT: every rater judges every pair of --systems systems on each sentence, outcomes drawn
from Davidson's model with strengths evenly spaced from -effect to +effect and the tie parameter
whose even-pair tie rate is --tie-rate.
"""

import math

import numpy as np
from django.core.management.base import BaseCommand
from scipy import special
from scipy import stats as scipy_stats
from tqdm import tqdm

from annotations.results import comparisons, ranking
from annotations.results.comparisons import CmosVote, Preference
from synthesis.management.following import Unterminated

TARGET = (0.93, 0.97)
# Each simulated analysis's defaults (options left unset take them).
DEFAULTS = {
    "cmos": {"effect": 0.5, "n_boot": 2000, "rater_sd": 0.3},
    "ab": {"effect": 0.6, "rater_sd": 0.0},
    "bt": {"effect": 0.6, "n_boot": 500, "rater_sd": 0.0},
}


class Command(BaseCommand):
    help = (
        "Simulate --replicates rater panels with known effects (fixed seed) and print the coverage of each "
        "95% interval with its Monte Carlo standard error; the headline intervals (CMOS two-way bootstrap, "
        "Wilson share, Bradley-Terry strengths) should land in 0.93-0.97."
    )

    def add_arguments(self, parser):
        parser.add_argument("--method", choices=("cmos", "ab", "bt"), required=True)
        parser.add_argument("--replicates", type=int, default=200)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--raters", type=int, default=20)
        parser.add_argument("--sentences", type=int, default=20, help="Sentences per rater (bt: per pair).")
        parser.add_argument(
            "--effect",
            type=float,
            help="cmos: true shift of y over x before rounding (default 0.5); ab: P(y preferred | not a tie) "
            "(default 0.6); bt: strengths run from -effect to +effect (default 0.6).",
        )
        parser.add_argument("--rater-sd", type=float, help="cmos: 0.3; ab: on the logit scale, 0.")
        parser.add_argument("--sentence-sd", type=float, default=0.3, help="cmos only.")
        parser.add_argument("--noise-sd", type=float, default=1.0, help="cmos only.")
        parser.add_argument(
            "--order-bias", type=float, default=0.2, help="cmos: bias towards the second clip."
        )
        parser.add_argument(
            "--tie-rate", type=float, default=0.2, help="ab: share of 'no preference'; bt: of ties."
        )
        parser.add_argument("--systems", type=int, default=4, help="bt only.")
        parser.add_argument(
            "--n-boot", type=int, help="Bootstrap resamples per interval (cmos 2000 as the pages; bt 500)."
        )

    def handle(self, *args, **opts):
        method = opts["method"]
        for key, value in DEFAULTS[method].items():
            opts[key] = value if opts[key] is None else opts[key]
        simulations = {"cmos": CmosSimulation, "ab": PreferenceSimulation, "bt": RankingSimulation}
        simulation = simulations[method](opts)
        rng = np.random.default_rng(opts["seed"])
        tally = Tally()
        bar = tqdm(range(opts["replicates"]), unit="panel", file=Unterminated(self.stderr), smoothing=0)
        for replicate in bar:
            simulation.replicate(rng, opts["seed"] + replicate, tally)
        bar.close()
        for line in simulation.describe():
            self.stdout.write(line)
        self.stdout.write(tally.table(opts["replicates"]))


class Tally:
    """Hits per interval and rejections per test, in the order first seen."""

    def __init__(self):
        self.intervals: dict[str, dict] = {}
        self.tests: dict[str, list[bool]] = {}

    def interval(self, name: str, low, high, truth: float, *, headline: bool = False) -> None:
        row = self.intervals.setdefault(name, {"hits": [], "widths": [], "headline": headline})
        if low is None or high is None:
            row["hits"].append(False)
            return
        row["hits"].append(low <= truth <= high)
        row["widths"].append(high - low)

    def share(self, name: str, share: dict, truth: float, *, headline: bool = False) -> None:
        self.interval(name, share["low"], share["high"], truth, headline=headline)

    def test(self, name: str, p) -> None:
        self.tests.setdefault(name, []).append(p is not None and p < 0.05)

    def table(self, replicates: int) -> str:
        lines = ["", f"{'95% interval':<52}{'coverage':>9}{'MC s.e.':>9}{'mean width':>12}  target"]
        for name, row in self.intervals.items():
            coverage = float(np.mean(row["hits"]))
            target = ""
            if row["headline"]:
                verdict = "in band" if TARGET[0] <= coverage <= TARGET[1] else "OUTSIDE"
                target = f"{TARGET[0]:.2f}-{TARGET[1]:.2f} {verdict}"
            width = f"{np.mean(row['widths']):.3f}" if row["widths"] else "-"
            lines.append(f"{name:<52}{coverage:>9.3f}{_se(coverage, replicates):>9.3f}{width:>12}  {target}")
        if self.tests:
            # With a simulated effect the rejection rate is the power; with none, the type I error.
            lines += ["", f"{'Test at alpha 0.05':<52}{'rejects':>9}{'MC s.e.':>9}"]
            for name, rejections in self.tests.items():
                rate = float(np.mean(rejections))
                lines.append(f"{name:<52}{rate:>9.3f}{_se(rate, replicates):>9.3f}")
        return "\n".join(lines)


def _se(share: float, replicates: int) -> float:
    return math.sqrt(share * (1 - share) / replicates)


def _balanced_orders(rng: np.random.Generator, raters: int, sentences: int) -> np.ndarray:
    """True where x is played first: half of each rater's sentences (the odd one out at random)."""
    x_first = np.zeros((raters, sentences), dtype=bool)
    for r in range(raters):
        count = sentences // 2 + (rng.random() < 0.5 if sentences % 2 else 0)
        x_first[r, rng.permutation(sentences)[:count]] = True
    return x_first


# --- CMOS -------------------------------------------------------------------------------------


def rounded_mean(mean: float, sd: float) -> float:
    """E[clip(round(Z), -3, 3)] for Z ~ N(mean, sd^2), exactly."""
    points = np.arange(-3, 4)
    upper = scipy_stats.norm.cdf((points + 0.5 - mean) / sd)
    upper[-1] = 1.0
    lower = np.concatenate([[0.0], upper[:-1]])
    return float(np.sum(points * (upper - lower)))


class CmosSimulation:
    def __init__(self, opts: dict):
        self.opts = opts
        o = opts
        sd = math.sqrt(o["rater_sd"] ** 2 + o["sentence_sd"] ** 2 + o["noise_sd"] ** 2)
        # The answer when x is first is round(d + b); when y is first it is round(-d + b), sign flipped.
        x_first = rounded_mean(o["effect"] + o["order_bias"], sd)
        y_first = -rounded_mean(-o["effect"] + o["order_bias"], sd)
        self.true_cmos = (x_first + y_first) / 2
        self.true_order = x_first - y_first

    def panel(self, rng: np.random.Generator) -> list[CmosVote]:
        o = self.opts
        raters, sentences = o["raters"], o["sentences"]
        difference = (
            o["effect"]
            + rng.normal(0, o["rater_sd"], (raters, 1))
            + rng.normal(0, o["sentence_sd"], (1, sentences))
            + rng.normal(0, o["noise_sd"], (raters, sentences))
        )
        x_first = _balanced_orders(rng, raters, sentences)
        raw = np.clip(np.round(np.where(x_first, difference, -difference) + o["order_bias"]), -3, 3)
        corrected = np.where(x_first, raw, -raw)
        return [
            CmosVote(r, s, "x", "y", "x" if x_first[r, s] else "y", float(corrected[r, s]))
            for r in range(raters)
            for s in range(sentences)
        ]

    def replicate(self, rng: np.random.Generator, seed: int, tally: Tally) -> None:
        summary = comparisons.cmos_summary(self.panel(rng), n_boot=self.opts["n_boot"], seed=seed)
        tally.interval(
            "CMOS, two-way bootstrap (raters x sentences)",
            summary["ci_low"],
            summary["ci_high"],
            self.true_cmos,
            headline=True,
        )
        t = summary["t_interval"]
        tally.interval("CMOS, t interval (assumes independent votes)", t["low"], t["high"], self.true_cmos)
        order = summary["order_effect"]
        tally.interval(
            "Order effect, Welch t (votes independent)", order["low"], order["high"], self.true_order
        )
        tally.test("Wilcoxon of per-rater means against 0", summary["wilcoxon"]["p"])
        tally.test("Welch t of the order effect", order["p"])

    def describe(self) -> list[str]:
        o = self.opts
        return [
            f"CMOS coverage: {o['replicates']} panels of {o['raters']} raters x {o['sentences']} sentences, "
            f"seed {o['seed']}",
            f"Simulated: shift {o['effect']}, rater sd {o['rater_sd']}, sentence sd {o['sentence_sd']}, "
            f"noise sd {o['noise_sd']}, bias towards the second clip {o['order_bias']}; rounded and clipped "
            "to -3..+3",
            "True values (exact under the model, rounding and clipping included): "
            f"CMOS {self.true_cmos:.4f}, order effect (x first - y first) {self.true_order:.4f}",
            f"Bootstrap: {o['n_boot']} resamples per interval",
        ]


# --- A/B preference ---------------------------------------------------------------------------


class PreferenceSimulation:
    def __init__(self, opts: dict):
        self.opts = opts
        nodes, weights = np.polynomial.hermite_e.hermegauss(80)
        shifted = special.logit(opts["effect"]) + opts["rater_sd"] * nodes
        self.true_decisive_y = float(np.sum(weights * special.expit(shifted)) / np.sum(weights))
        self.true_y = (1 - opts["tie_rate"]) * self.true_decisive_y
        self.true_x = (1 - opts["tie_rate"]) * (1 - self.true_decisive_y)

    def panel(self, rng: np.random.Generator) -> list[Preference]:
        o = self.opts
        raters, sentences = o["raters"], o["sentences"]
        p_y = special.expit(special.logit(o["effect"]) + rng.normal(0, o["rater_sd"], (raters, 1)))
        tie = rng.random((raters, sentences)) < o["tie_rate"]
        y_wins = rng.random((raters, sentences)) < p_y
        first = np.where(_balanced_orders(rng, raters, sentences), "x", "y")
        winner = np.where(tie, None, np.where(y_wins, "y", "x"))
        return [
            Preference(r, s, "x", "y", str(first[r, s]), winner[r, s])
            for r in range(raters)
            for s in range(sentences)
        ]

    def replicate(self, rng: np.random.Generator, seed: int, tally: Tally) -> None:
        summary = comparisons.preference_summary(self.panel(rng))
        shares, decisive = summary["shares"], summary["decisive_shares"]
        tally.share("Share of y among all answers, Wilson", shares["y"], self.true_y, headline=True)
        tally.share(
            "Share of y among decisive answers, Wilson", decisive["y"], self.true_decisive_y, headline=True
        )
        tally.share("Share of x among all answers, Wilson", shares["x"], self.true_x)
        tally.share("Share of 'no preference', Wilson", shares["tie"], self.opts["tie_rate"])
        tally.test("Sign test of x vs y wins (ties excluded)", summary["sign_test"]["p"])

    def describe(self) -> list[str]:
        o = self.opts
        return [
            f"A/B coverage: {o['replicates']} panels of {o['raters']} raters x {o['sentences']} sentences, "
            f"seed {o['seed']}",
            f"Simulated: P(y preferred | decisive) {o['effect']}, rater sd (logit) {o['rater_sd']}, "
            f"'no preference' rate {o['tie_rate']}",
            f"True values: share of y {self.true_y:.4f}, of x {self.true_x:.4f}, of y among decisive "
            f"{self.true_decisive_y:.4f}",
        ]


# --- Bradley-Terry ----------------------------------------------------------------------------


class RankingSimulation:
    def __init__(self, opts: dict):
        self.opts = opts
        self.theta = np.linspace(-opts["effect"], opts["effect"], opts["systems"])
        self.nu = 2 * opts["tie_rate"] / (1 - opts["tie_rate"])  # an even pair ties with nu / (2 + nu)

    def panel(self, rng: np.random.Generator) -> list[Preference]:
        o, rows = self.opts, []
        k = o["systems"]
        for i in range(k):
            for j in range(i + 1, k):
                outcomes = rng.choice(
                    3,
                    p=ranking.davidson_probabilities(self.theta[i], self.theta[j], self.nu),
                    size=(o["raters"], o["sentences"]),
                )
                winners = (f"s{i}", None, f"s{j}")
                rows += [
                    Preference(r, s, f"s{i}", f"s{j}", f"s{i}", winners[outcomes[r, s]])
                    for r in range(o["raters"])
                    for s in range(o["sentences"])
                ]
        return rows

    def replicate(self, rng: np.random.Generator, seed: int, tally: Tally) -> None:
        result = ranking.rank_systems(self.panel(rng), n_boot=self.opts["n_boot"], seed=seed)
        for row in sorted(result["systems"], key=lambda row: row["system"]):
            truth = self.theta[int(row["system"][1:])]
            tally.interval(
                f"Strength of {row['system']} (true {truth:+.2f}), bootstrap",
                row["low"],
                row["high"],
                truth,
                headline=True,
            )
        tally.interval(
            "Tie parameter nu, bootstrap", result["tie_parameter_low"], result["tie_parameter_high"], self.nu
        )

    def describe(self) -> list[str]:
        o = self.opts
        return [
            f"Bradley-Terry coverage: {o['replicates']} panels of {o['raters']} raters x {o['sentences']} "
            f"sentences x {o['systems'] * (o['systems'] - 1) // 2} pairs, seed {o['seed']}",
            f"Simulated: log-strengths {np.round(self.theta, 3).tolist()} (mean 0, the reported scale), "
            f"nu {self.nu:.4f} (even pairs tie at rate {o['tie_rate']})",
            f"Bootstrap: {o['n_boot']} resamples over raters per replicate (the pages use 1000)",
        ]
