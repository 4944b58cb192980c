"""The load run's summary: medians per component and page-cache state, totals, the claims it feeds."""

from django.test import SimpleTestCase, TestCase
from django.utils import timezone

from annotations.results import claims, load
from synthesis import modes, services
from synthesis.engines import loadprobe
from synthesis.models import Status, SynthesisRun, TimedIteration
from tests.factories import make_config

# What one component costs in the fake child processes below: load ms (cold), MB its load adds.
COST = {"tts": (300.0, 90.0), "stt": (400.0, 120.0), "llm": (100.0, 130.0), "dnsmos": (10.0, 10.0)}


def fake_process(components: list[str], cache: str, *, slower: float = 1.0, left_mb=0.0) -> dict:
    """The figures a load probe child would print; warm loads take half the cold time."""
    factor = slower * (1.0 if cache == loadprobe.COLD else 0.5)
    loads = {
        c: {
            "load_ms": COST[c][0] * factor,
            "first_inference_ms": 50.0 * factor,
            "rss_load_mb": COST[c][1],
            "rss_inference_mb": 5.0,
            "file_mb": 60.0,
        }
        for c in components
    }
    added = sum(entry["rss_load_mb"] + entry["rss_inference_mb"] for entry in loads.values())
    return {
        "components": components,
        "cache": cache,
        "import_ms": 40.0,
        "load_ms": sum(entry["load_ms"] for entry in loads.values()),
        "rss_start_mb": 100.0,
        "rss_imported_mb": 130.0,
        "rss_end_mb": 130.0 + added,
        "peak_rss_mb": 150.0 + added,
        "file_mb": 60.0 * len(components),
        "resident_mb": left_mb if cache == loadprobe.COLD else 60.0 * len(components),
        "loads": loads,
    }


def fake_plan_figures(plan: list[dict]) -> list[dict]:
    """One fake process per plan entry; the second repeat is twice as slow (medians fall between)."""
    per_repeat = len(modes.load_plan(repeat=1))
    return [
        fake_process(entry["components"], entry["cache"], slower=1.0 + index // per_repeat)
        for index, entry in enumerate(plan)
    ]


class SummaryMathsTests(SimpleTestCase):
    def test_each_cell_is_the_median_over_repeats_and_the_total_is_the_sum_of_the_cold_rows(self):
        plan = modes.load_plan(repeat=2)
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


def finished_load_run(config, *, repeat: int = 1, cpu: str = "test CPU, 2 cores") -> SynthesisRun:
    """A done load run whose items stored the fake processes (no child processes, no models)."""
    plan = modes.load_plan(repeat=repeat)
    with TestCase.captureOnCommitCallbacks(execute=False):
        run = services.start_run(name="load", config=config, mode="load", plan=plan)
    for item, figures in zip(run.items.order_by("iteration"), fake_plan_figures(plan), strict=True):
        TimedIteration.objects.create(
            run=run, run_item=item, position=item.iteration, kind=loadprobe.KIND, label="x", figures=figures
        )
    run.items.update(status=Status.DONE)
    SynthesisRun.objects.filter(pk=run.pk).update(
        status=Status.DONE,
        finished_at=timezone.now(),
        cpu_description=cpu,
        library_versions={"llama-cpp-python": "0.3.36"},
    )
    return SynthesisRun.objects.get(pk=run.pk)


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
