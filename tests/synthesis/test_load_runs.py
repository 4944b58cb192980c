"""The load run: its plan, one serial message, failed items naming the file, its page, the real thing."""

import io

import pytest
from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse

from synthesis import run_modes, services
from synthesis.engines import loadprobe, pipeline
from synthesis.models import RunItem, Status, SynthesisRun
from synthesis.results import load
from tests.factories import finished_load_run, make_admin, make_config


class LoadPlanTests(TestCase):
    def test_each_component_is_measured_alone_cold_then_warm_then_all_of_them_in_one_process(self):
        plan = run_modes.load.load_plan(repeat=2)
        first = [(e["components"], e["cache"]) for e in plan[:10]]
        self.assertEqual(
            first[:4], [(["tts"], "cold"), (["tts"], "warm"), (["stt"], "cold"), (["stt"], "warm")]
        )
        self.assertEqual(
            first[-2:], [(list(pipeline.COMPONENTS), "cold"), (list(pipeline.COMPONENTS), "warm")]
        )
        self.assertEqual(plan[10:], plan[:10])
        self.assertFalse(any(e["warmup"] for e in plan))  # every process starts cold: no warm-up to drop

    def test_a_plan_without_a_repeat_is_refused(self):
        with self.assertRaisesMessage(ValueError, "at least one repeat"):
            run_modes.load.load_plan(repeat=0)


class LoadRunTests(TestCase):
    def test_a_load_run_has_one_item_per_plan_entry_and_is_sent_as_one_serial_message(self):
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            run = services.start_run(name="load", config=make_config(), mode="load")
        self.assertEqual(run.total_count, 30)  # the default plan: 3 repeats of 10 processes
        self.assertEqual(list(run.items.values_list("iteration", flat=True)), list(range(30)))
        self.assertEqual(len(callbacks), 1)

    def test_a_missing_gguf_fails_the_items_with_an_error_naming_the_file(self):
        missing = "/nowhere/LFM2-1.2B-Q4_K_M.gguf"
        config = make_config("lfm2-missing", llm_model=missing)
        with self.captureOnCommitCallbacks(execute=False):
            run = services.start_run(
                name="load", config=config, mode="load", plan=run_modes.load.load_plan(repeat=1)
            )
        services.run_serial(run_id=run.pk, worker="here:1", sleep=lambda s: None)
        run.refresh_from_db()
        self.assertEqual((run.status, run.failed_count), (Status.FAILED, 10))
        error = RunItem.objects.filter(run=run).values_list("error", flat=True).first()
        self.assertIn(f"Model file problem: LLM model {missing} not found", error)

    def test_the_run_page_shows_the_load_table_with_its_total_and_method(self):
        run = finished_load_run(make_config("piper-joe"))
        self.client.force_login(make_admin())
        page = self.client.get(reverse("synthesis:run_detail", args=[run.pk]))
        self.assertContains(page, reverse("results:iteration_run_table", args=[run.pk]))
        table = self.client.get(reverse("results:iteration_run_table", args=[run.pk]))
        self.assertContains(table, "TTS piper en_US-joe-medium")
        self.assertContains(table, "LLM smollm2-135m (n_ctx 1024)")
        self.assertContains(table, "<strong>810.0</strong>")  # the sum of the cold loads
        self.assertContains(table, "<strong>500.0</strong>")  # every model in one process, in MB
        self.assertContains(table, "posix_fadvise(POSIX_FADV_DONTNEED)")
        self.assertContains(table, "llama-cpp-python 0.3.36")


@pytest.mark.models
@pytest.mark.serial  # times cold loads and measures memory: alone
class RealLoadRunTests(TestCase):
    """The default models on this machine, each in a fresh child process, as `--in-process` runs them."""

    def setUp(self):
        call_command("load_demo", stdout=io.StringIO())

    def test_a_load_run_times_every_components_load_and_the_memory_it_adds(self):
        out = io.StringIO()
        call_command("benchmark_load", repeat=1, in_process=True, stdout=out)
        run = SynthesisRun.objects.get(mode="load")
        self.assertEqual((run.status, run.done_count), (Status.DONE, 10))
        self.assertTrue(run.cpu_description and run.library_versions)
        s = load.load_summary(run)
        self.assertEqual([r["component"] for r in s["rows"]], list(pipeline.COMPONENTS))
        for row in s["rows"]:
            for cache in loadprobe.PAGE_CACHE_STATES:
                self.assertGreater(row[cache]["load_ms"], 0, (row["component"], cache))
                self.assertGreater(row[cache]["first_inference_ms"], 0, (row["component"], cache))
            self.assertGreater(row["rss_added_mb"], 1, row["component"])
        tts = s["rows"][0]
        if tts["left_in_cache_mb"] is not None:  # fincore installed: the Piper voice was dropped
            self.assertLess(tts["left_in_cache_mb"], 0.05 * tts["file_mb"])
        self.assertGreater(s["ram_total_mb"], s["together"]["rss_imported_mb"])
        self.assertIn("Total (sum of the rows)", out.getvalue())
        self.assertIn("design 813 ms", out.getvalue())
