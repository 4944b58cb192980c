"""The load run's summary: medians per component and page-cache state, totals, the claims it feeds."""

from django.test import SimpleTestCase, TestCase

from annotations.results import claims
from synthesis import run_modes
from synthesis.engines import loadprobe
from synthesis.results import load
from tests.factories import fake_plan_figures, fake_process, finished_load_run, make_config


class SummaryMathsTests(SimpleTestCase):
    def test_each_cell_is_the_median_over_repeats_and_the_total_is_the_sum_of_the_cold_rows(self):
        plan = run_modes.load.load_plan(repeat=2)
        s = load.summarise(fake_plan_figures(plan))
        tts = s["rows"][0]
        self.assertEqual((tts["label"], tts["cold"]["n"], tts["warm"]["n"]), ("TTS", 2, 2))
        self.assertEqual(tts["cold"]["load_ms"], 450.0)  # median of 300 and 600
        self.assertEqual(tts["warm"]["load_ms"], 225.0)
        self.assertEqual((tts["import_mb"], tts["rss_load_mb"], tts["rss_added_mb"]), (30.0, 90.0, 95.0))
        self.assertEqual(s["total_cold_load_ms"], 1.5 * 810)
        self.assertEqual(s["total_warm_load_ms"], 0.75 * 810)
        self.assertEqual(s["sum_rss_added_mb"], 95 + 125 + 135 + 15)
        self.assertEqual(s["ram_total_mb"], 130 + 370)  # the process holding all four, not the sum
        self.assertEqual(s["together"]["cold"]["load_ms"], 1.5 * 810)
        self.assertEqual(s["not_cold"], [])

    def test_a_cold_row_whose_files_stayed_in_the_page_cache_is_flagged(self):
        processes = [
            fake_process(["llm"], loadprobe.COLD, left_mb=58.0),
            fake_process(["llm"], loadprobe.WARM),
        ]
        s = load.summarise(processes)
        self.assertEqual(s["not_cold"], ["LLM"])
        self.assertEqual(s["rows"][0]["left_in_cache_mb"], 58.0)
        self.assertTrue(s["cache_checked"])

    def test_without_every_component_there_is_no_total_and_no_claim_figure(self):
        s = load.summarise([fake_process(["tts"], loadprobe.COLD), fake_process(["tts"], loadprobe.WARM)])
        self.assertIsNone(s["total_cold_load_ms"])
        self.assertIsNone(s["ram_total_mb"])

    def test_residency_that_could_not_be_checked_is_said_so(self):
        process = fake_process(["tts"], loadprobe.COLD) | {"resident_mb": None}
        s = load.summarise([process])
        self.assertIsNone(s["rows"][0]["left_in_cache_mb"])
        self.assertFalse(s["cache_checked"])


class LoadClaimTests(TestCase):
    def row(self, key: str) -> dict:
        return next(r for r in claims.claim_rows() if r["claim"].key == key)

    def test_the_claims_page_reads_the_load_run_and_calls_other_models_not_comparable(self):
        run = finished_load_run(make_config("piper-joe"), cpu="11th Gen Intel(R) Core(TM) i7-1165G7")
        self.assertEqual(load.load_claim_figures(run), {"total_ms": 810.0, "ram_total_gb": 500 / 1024})
        total = self.row("load-total")
        self.assertEqual(total["measured"].value, 810.0)
        self.assertIn(f"load run {run.pk}", total["measured"].source)
        self.assertEqual(total["verdict"], claims.NOT_COMPARABLE)
        self.assertIn("LLM model differs: smollm2-135m", total["reasons"])
        ram = self.row("ram-total")
        self.assertAlmostEqual(ram["measured"].value, 500 / 1024)
        self.assertEqual(ram["verdict"], claims.NOT_COMPARABLE)
