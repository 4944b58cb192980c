"""Percentile summaries and leading-silence measurement of the latency run."""

import numpy as np
from django.test import SimpleTestCase

from synthesis.engines import iterations
from synthesis.results import latency


class PercentileTests(SimpleTestCase):
    def test_the_summary_matches_numpy_linear_percentiles_on_known_numbers(self):
        values = [100.0, 120.0, 130.0, 150.0, 400.0, 110.0, 90.0]
        s = latency.percentile_summary(values)
        for key, q in (("p50", 50), ("p90", 90), ("p99", 99)):
            self.assertAlmostEqual(s[key], float(np.percentile(values, q, method="linear")))
        self.assertEqual((s["n"], s["max"]), (7, 400.0))
        self.assertAlmostEqual(s["mean"], sum(values) / 7)
        self.assertAlmostEqual(latency.percentile_summary([1, 2, 3, 4])["p90"], 3.7)

    def test_no_values_give_no_figures(self):
        self.assertIsNone(latency.percentile_summary([])["p50"])


class LeadingSilenceTests(SimpleTestCase):
    def test_silence_then_a_tone_measures_the_silence(self):
        rate = 16000
        silence = np.full(int(0.25 * rate), 10 ** (-50 / 20), dtype=np.float32)  # -50 dBFS hiss
        tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)
        signal = np.concatenate([silence, tone.astype(np.float32)])
        self.assertAlmostEqual(iterations.leading_silence_s(signal, rate, -40.0), 0.25, places=3)
        self.assertEqual(iterations.leading_silence_s(signal, rate, -60.0), 0.0)

    def test_a_prompt_is_cut_or_padded_to_two_seconds(self):
        self.assertEqual(len(iterations.fit_to_length(np.ones(10), 16000, 2.0)), 32000)
        self.assertEqual(len(iterations.fit_to_length(np.ones(40000), 16000, 2.0)), 32000)
