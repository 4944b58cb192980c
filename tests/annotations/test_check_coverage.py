"""manage.py check_coverage: a small seeded run prints each interval's coverage (no database)."""

import io
import re

import numpy as np
from django.core.management import call_command
from django.test import SimpleTestCase

from annotations.management.commands.check_coverage import rounded_mean

ROW = re.compile(r"^(?P<name>.+?)\s+(?P<coverage>[01]\.\d{3})\s+(?P<se>0\.\d{3})\s+(?P<width>[\d.]+)", re.M)


def run(*args) -> str:
    out = io.StringIO()
    call_command("check_coverage", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def coverages(output: str) -> dict[str, float]:
    return {match["name"].strip(): float(match["coverage"]) for match in ROW.finditer(output)}


class CheckCoverageTests(SimpleTestCase):
    def test_a_small_cmos_run_prints_the_coverage_of_each_interval(self):
        output = run(
            "--method", "cmos", "--replicates", "20", "--seed", "1", "--raters", "16", "--sentences", "10"
        )
        table = coverages(output)
        self.assertEqual(
            list(table),
            [
                "CMOS, two-way bootstrap (raters x sentences)",
                "CMOS, t interval (assumes independent votes)",
                "Order effect, Welch t (votes independent)",
            ],
        )
        # 20 replicates only show the bootstrap is in the right region, not that it is in 0.93-0.97.
        # (At 13 raters or fewer, scipy's Wilcoxon with tied rater means runs all 2**n sign flips: slow.)
        self.assertGreaterEqual(table["CMOS, two-way bootstrap (raters x sentences)"], 0.75)
        self.assertIn("True values (exact under the model, rounding and clipping included): CMOS", output)
        self.assertIn("Wilcoxon of per-rater means against 0", output)
        self.assertEqual(
            output,
            run(
                "--method", "cmos", "--replicates", "20", "--seed", "1", "--raters", "16", "--sentences", "10"
            ),
        )

    def test_a_small_ab_run_prints_the_wilson_coverage_and_the_target_band(self):
        output = run("--method", "ab", "--replicates", "20", "--seed", "2")
        table = coverages(output)
        self.assertGreaterEqual(table["Share of y among all answers, Wilson"], 0.75)
        self.assertGreaterEqual(table["Share of y among decisive answers, Wilson"], 0.75)
        self.assertIn("0.93-0.97", output)
        self.assertIn("Sign test of x vs y wins (ties excluded)", output)

    def test_a_small_bradley_terry_run_covers_every_system(self):
        output = run(
            "--method", "bt", "--replicates", "10", "--raters", "10", "--sentences", "5", "--n-boot", "100"
        )
        table = coverages(output)
        strengths = [name for name in table if name.startswith("Strength of")]
        self.assertEqual(len(strengths), 4)
        self.assertTrue(all(table[name] >= 0.6 for name in strengths))

    def test_the_true_cmos_counts_rounding_and_clipping(self):
        rng = np.random.default_rng(0)
        draws = np.clip(np.round(rng.normal(2.4, 1.1, 400_000)), -3, 3)
        self.assertAlmostEqual(rounded_mean(2.4, 1.1), draws.mean(), delta=0.005)
        # Clipping at +3 pulls the mean of scores near the top of the scale below the latent mean.
        self.assertLess(rounded_mean(2.4, 1.1), 2.3)
