"""Iteration runs (latency, llm-speed): plan items, serial scheduling, stored iterations, summaries."""

import io
from datetime import timedelta
from unittest import mock

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from django.test import TestCase, override_settings
from django.urls import reverse
from django.utils import timezone

from sarai_eval.celery import app
from synthesis import modes, run_modes, services
from synthesis.engines import iterations, stt
from synthesis.engines.audio import wav_bytes
from synthesis.engines.settings import PipelineSettings
from synthesis.models import PipelineConfig, RunItem, SentenceSet, Status, SynthesisRun, TimedIteration
from synthesis.results import latency
from synthesis.services import queue
from synthesis.tasks import process_serial_run
from tests.factories import (
    make_admin,
    make_config,
    make_sentence_set,
    register_run_mode,
    store_by_hand,
    style,
)
from tests.factories.samples import make_dataset


def timed_item(item, *, on_stage) -> iterations.IterationResult:
    """A toy iteration: stage times derived from the item's position, no models loaded."""
    on_stage("llm")
    n = item.iteration
    figures = {"stt_ms": 10.0 + n, "llm_ms": 20.0 + n, "tts_ms": 5.0, "first_audio_ms": 30.0 + n}
    figures |= {"perceived_first_audio_ms": 40.0 + n, "total_ms": 50.0 + n, "direct_stt_ms": 10.0}
    return iterations.IterationResult(kind=iterations.LATENCY, label="toy", figures=figures)


@pytest.mark.backends  # a serial run claimed by conditional UPDATE
class SerialRunTests(TestCase):
    def setUp(self):
        self.config = make_config()
        self.mode = register_run_mode(
            self,
            modes.RunMode(
                key="toy-serial",
                label="Timed iterations (toy)",
                run=timed_item,
                loads=(),
                records=(),
                items_from=modes.ITERATIONS,
                serial=True,
                stores=modes.ITERATION,
            ),
        )

    def start(self, **plan) -> SynthesisRun:
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            run = services.start_run(
                name="toy", config=self.config, mode="toy-serial", plan=run_modes.latency.latency_plan(**plan)
            )
        # One message for the whole run, not one per item.
        self.assertEqual(len(callbacks), 1)
        return run

    def test_a_serial_run_stores_warmups_flagged_and_summarises_only_the_counted_iterations(self):
        run = self.start(count=4, warmup=2)
        self.assertTrue(services.run_serial(run_id=run.pk, worker="here:1", sleep=lambda s: None))
        run.refresh_from_db()
        self.assertEqual((run.status, run.done_count, run.in_process_by), (Status.DONE, 6, ""))
        rows = TimedIteration.objects.filter(run=run).order_by("position")
        self.assertEqual([r.warmup for r in rows], [True, True, False, False, False, False])
        summary = latency.latency_summary(run)
        stt = next(s for s in summary["stages"] if s["name"] == "stt_ms")
        self.assertEqual(stt["n"], 4)
        self.assertAlmostEqual(stt["p50"], float(np.percentile([12, 13, 14, 15], 50)))
        self.assertAlmostEqual(stt["ratio"], 13.5 / 10.0)
        self.assertIsNone(run_modes.latency.latest_summary())  # a toy mode is not the latency mode

    def test_the_serial_runner_waits_while_another_run_has_an_item_running_and_proceeds_when_idle(self):
        other = services.start_run(
            name="busy",
            config=self.config,
            sentence_sets=[make_sentence_set(texts=("Hi.",))],
            styles=[style()],
        )
        busy = RunItem.objects.filter(run=other)
        busy.update(
            status=Status.RUNNING,
            claimed_by="elsewhere:9",
            lease_expires_at=timezone.now() + timedelta(hours=1),
        )
        run = self.start(count=1, warmup=0)
        polls = []

        def sleep(seconds):
            polls.append(seconds)
            self.assertFalse(run.iterations.exists())  # nothing measured while the other item runs
            if len(polls) == 3:
                busy.update(status=Status.DONE)

        services.run_serial(run_id=run.pk, worker="here:1", sleep=sleep)
        self.assertEqual(len(polls), 3)
        self.assertEqual(run.iterations.count(), 1)

    @override_settings(SARAI_SERIAL_IDLE_TIMEOUT=0)
    def test_a_serial_run_on_a_machine_that_stays_busy_fails_unmeasured_with_the_reason(self):
        other = services.start_run(
            name="busy",
            config=self.config,
            sentence_sets=[make_sentence_set(texts=("Hi.",))],
            styles=[style()],
        )
        RunItem.objects.filter(run=other).update(
            status=Status.RUNNING,
            claimed_by="elsewhere:9",
            lease_expires_at=timezone.now() + timedelta(hours=1),
        )
        run = self.start(count=2, warmup=0)
        services.run_serial(run_id=run.pk, worker="here:1", sleep=lambda s: None)
        run.refresh_from_db()
        self.assertEqual(run.status, Status.FAILED)
        self.assertIn("idle machine", run.error)
        self.assertFalse(run.iterations.exists())

    def test_a_serial_run_whose_message_was_lost_is_sent_again_as_one_run_and_then_completes(self):
        run = self.start(count=2, warmup=1)
        RunItem.objects.filter(run=run).update(queued_at=timezone.now() - timedelta(days=1))
        with (
            mock.patch.object(app, "send_task") as sent,
            self.captureOnCommitCallbacks(execute=True) as callbacks,
        ):
            services.requeue_stale_items()
        self.assertEqual(len(callbacks), 1)  # one message for the run, never one per item
        sent.assert_called_once_with(queue.PROCESS_SERIAL_RUN, args=[run.pk])
        process_serial_run(run.pk)  # what the worker receiving it does
        run.refresh_from_db()
        self.assertEqual((run.status, run.done_count), (Status.DONE, 3))

    def test_retrying_a_serial_run_sends_it_again_as_one_run(self):
        run = self.start(count=2, warmup=0)
        RunItem.objects.filter(run=run).update(status=Status.FAILED, error="boom")
        SynthesisRun.objects.filter(pk=run.pk).update(status=Status.FAILED)
        with (
            mock.patch.object(app, "send_task") as sent,
            self.captureOnCommitCallbacks(execute=True),
        ):
            self.assertEqual(services.retry_failed(run=run), 2)
        sent.assert_called_once_with(queue.PROCESS_SERIAL_RUN, args=[run.pk])
        process_serial_run(run.pk)
        run.refresh_from_db()
        self.assertEqual((run.status, run.done_count), (Status.DONE, 2))

    def test_an_item_of_a_dead_worker_whose_lease_ran_out_does_not_hold_a_serial_run_back(self):
        other = services.start_run(
            name="orphan",
            config=self.config,
            sentence_sets=[make_sentence_set(texts=("Hi.",))],
            styles=[style()],
        )
        RunItem.objects.filter(run=other).update(
            status=Status.RUNNING, claimed_by="gone:9", lease_expires_at=timezone.now() - timedelta(seconds=1)
        )
        run = self.start(count=1, warmup=0)
        services.run_serial(run_id=run.pk, worker="here:1", sleep=self.fail)
        self.assertEqual(run.iterations.count(), 1)

    def test_a_second_runner_does_not_take_a_serial_run_already_claimed(self):
        run = self.start(count=1, warmup=0)
        SynthesisRun.objects.filter(pk=run.pk).update(in_process_by="other:2")
        self.assertFalse(services.run_serial(run_id=run.pk, worker="here:1", sleep=lambda s: None))
        self.assertFalse(run.iterations.exists())


class LatencyCommandTests(TestCase):
    def test_a_latency_run_over_an_unknown_sentence_set_is_refused_with_its_name(self):
        make_config("piper-joe")
        with self.assertRaisesMessage(CommandError, "No sentence set or speech dataset named 'nope'"):
            call_command("benchmark_latency", prompts="nope", in_process=True, stdout=io.StringIO())
        self.assertFalse(SynthesisRun.objects.exists())


class PlanTests(TestCase):
    def test_the_llm_plan_is_the_designs_warmup_then_five_prompts_then_context_lengths(self):
        plan = run_modes.llm_speed.llm_plan()
        self.assertEqual(plan[0], {"kind": "llm-prompt", "warmup": True, "prompt": "Hola, ¿cómo estás?"})
        self.assertEqual([e["prompt"] for e in plan[1:6]], list(iterations.LLM_PROMPTS))
        self.assertEqual([e["length"] for e in plan[6:]], [32, 64, 128, 256, 448])

    def test_a_latency_plan_over_prompts_cycles_over_them(self):
        plan = run_modes.latency.latency_plan(count=3, warmup=1, prompts=[("a", "en"), ("b", "es")])
        self.assertEqual([e["prompt"] for e in plan], ["a", "b", "a", "b"])
        self.assertEqual(plan[0]["warmup"], True)


class IterationPageTests(TestCase):
    def setUp(self):
        self.config = make_config()
        self.client.force_login(make_admin())

    def start(self, mode: str, plan: list[dict]) -> SynthesisRun:
        with self.captureOnCommitCallbacks(execute=False):
            return services.start_run(name="bench", config=self.config, mode=mode, plan=plan)

    def test_a_latency_run_page_shows_the_percentile_table_with_its_method_and_the_raw_call_ratio(self):
        run = self.start("latency", run_modes.latency.latency_plan(count=3, warmup=1))

        def figures(n, entry):
            stages = ("stt_ms", "llm_ms", "llm_first_token_ms", "tts_ms", "first_audio_ms")
            values = {name: 100.0 * (n + 1) for name in (*stages, "perceived_first_audio_ms", "total_ms")}
            return iterations.LATENCY, values | {"direct_stt_ms": 100.0, "stt_rtf": 0.5, "tts_rtf": 0.1}

        store_by_hand(run, figures)
        summary = run_modes.latency.latest_summary()
        self.assertEqual((summary["run_id"], summary["iterations"], summary["warmups"]), (run.pk, 3, 1))
        stt = summary["stages"][0]
        self.assertEqual((stt["p50"], stt["max"], stt["ratio"]), (300.0, 400.0, 3.0))
        page = self.client.get(reverse("synthesis:run_detail", args=[run.pk]))
        self.assertContains(page, reverse("results:iteration_run_table", args=[run.pk]))
        table = self.client.get(reverse("results:iteration_run_table", args=[run.pk]))
        self.assertContains(table, "method &quot;linear&quot;")
        self.assertContains(table, "Perceived time to first audio")
        self.assertContains(table, "3.000")  # STT against its raw library call

    def test_an_llm_run_page_shows_each_prompt_and_the_context_scaling_table(self):
        run = self.start("llm-speed", run_modes.llm_speed.llm_plan())

        def figures(n, entry):
            if entry["kind"] == iterations.LLM_CONTEXT:
                values = {"prompt_tokens": entry["length"], "llm_ms": 2.0 * entry["length"]}
                return entry["kind"], values | {"llm_first_token_ms": entry["length"], "llm_tokens": 20}
            return entry["kind"], {"llm_ms": 500.0, "llm_tokens": 20, "llm_tokens_per_s": 40.0}

        store_by_hand(run, figures)
        summary = run_modes.llm_speed.latest_summary()
        self.assertEqual(len(summary["prompts"]), 5)  # the warm-up is left out
        self.assertEqual(summary["tokens_per_s"], 40.0)
        self.assertEqual([c["prompt_tokens"] for c in summary["contexts"]], [32, 64, 128, 256, 448])
        table = self.client.get(reverse("results:iteration_run_table", args=[run.pk]))
        self.assertContains(table, "¿Qué es un transformer?")
        self.assertContains(table, "<svg")
        self.assertContains(table, "896.0")  # 448 tokens


@pytest.mark.models
@pytest.mark.serial  # times stages against the raw library calls: alone
class RealModelIterationTests(TestCase):
    """The default models on this machine, run in this process as the commands' --in-process does."""

    def setUp(self):
        call_command("load_demo", stdout=io.StringIO())

    def test_a_tiny_latency_run_times_every_stage_and_its_raw_library_calls(self):
        out = io.StringIO()
        call_command("benchmark_latency", iterations=2, warmup=1, in_process=True, stdout=out)
        run = SynthesisRun.objects.get(mode="latency")
        # Streaming "all" by default: each of the 3 inputs plain, live without streaming, and streamed.
        self.assertEqual((run.status, run.done_count), (Status.DONE, 9))
        self.assertTrue(run.cpu_description and run.library_versions)
        streamed = latency.streaming_summary(run)
        self.assertEqual((streamed["iterations"], streamed["unstreamed_iterations"]), (2, 2))
        self.assertGreater(streamed["stages"][0]["floor_p50"], 0)
        self.assertGreater(streamed["ratio_to_unstreamed"], 0)
        for stage in streamed["unstreamed_stages"]:
            self.assertGreater(stage["p50"], 0, stage["name"])
        for line in ("Speculations:", "Without streaming: 2 counted", "× P50 without streaming"):
            self.assertIn(line, out.getvalue())
        summary = latency.latency_summary(run)
        for stage in summary["stages"]:
            self.assertEqual(stage["n"], 2, stage["name"])
            self.assertGreater(stage["p50"], 0, stage["name"])
        for name in ("stt_ms", "llm_ms", "tts_ms"):
            self.assertGreater(next(s for s in summary["stages"] if s["name"] == name)["ratio"], 0)
        first, perceived = summary["stages"][4], summary["stages"][5]
        self.assertGreaterEqual(perceived["p50"], first["p50"])
        self.assertIn('method "linear"', out.getvalue())

    def test_a_latency_run_over_a_sentence_set_speaks_each_of_its_sentences_as_the_prompt(self):
        out = io.StringIO()
        call_command(
            "benchmark_latency",
            prompts="demo-en",
            iterations=2,
            warmup=0,
            streaming="plain",
            in_process=True,
            stdout=out,
        )
        run = SynthesisRun.objects.get(mode="latency")
        self.assertEqual((run.status, run.done_count), (Status.DONE, 2))
        planned = [entry["prompt"] for entry in run.benchmark["plan"]]
        first_two = SentenceSet.objects.get(name="demo-en").sentences.order_by("position")[:2]
        self.assertEqual(planned, [sentence.text for sentence in first_two])
        self.assertTrue(all(entry["seconds"] is None for entry in run.benchmark["plan"]))
        # What STT heard is stored as each iteration's label: the set's sentence, not the 2-second input.
        heard = list(run.iterations.order_by("position").values_list("label", flat=True))
        self.assertIn("library", heard[0].lower())

    def test_the_fastest_configuration_streams_recorded_prompts_and_compares_with_a_baseline_run(self):
        spoken = make_dataset(
            name="spoken",
            texts=("The birch canoe slid on the smooth planks.",),
            wavs=[
                wav_bytes(
                    iterations.spoken_prompt(
                        "The birch canoe slid on the smooth planks.",
                        language="en",
                        config=PipelineSettings.from_snapshot(
                            PipelineConfig.objects.get(name="piper-joe").snapshot()
                        ),
                        seconds=None,
                    ),
                    16000,
                )
            ],
        )
        runs = {}
        for config in ("piper-joe-fast", "piper-joe-fastest"):
            out = io.StringIO()
            options = {"baseline_run": runs["piper-joe-fast"].pk} if runs else {}
            call_command(
                "benchmark_latency",
                config=config,
                prompts=f"dataset:{spoken.name}",
                iterations=1,
                warmup=1,
                streaming="on",
                in_process=True,
                stdout=out,
                **options,
            )
            runs[config] = SynthesisRun.objects.filter(mode="latency").latest("pk")
            self.assertEqual(runs[config].status, Status.DONE)
        [turn] = runs["piper-joe-fastest"].iterations.filter(warmup=False).values_list("figures", flat=True)
        self.assertEqual(turn["stt_window_s"], min(int(np.ceil(turn["stt_audio_s"])) + stt.FIT_MARGIN_S, 10))
        self.assertIn("1 prompts heard by both", out.getvalue())
        self.assertIn("difference ", out.getvalue())

    def test_the_llm_run_times_the_designs_prompts_and_each_context_length(self):
        out = io.StringIO()
        call_command("benchmark_llm", in_process=True, stdout=out)
        run = SynthesisRun.objects.get(mode="llm-speed")
        self.assertEqual((run.status, run.done_count), (Status.DONE, 11))
        summary = latency.llm_summary(run)
        self.assertEqual([p["prompt"] for p in summary["prompts"]], list(iterations.LLM_PROMPTS))
        self.assertTrue(all(0 < p["llm_tokens"] <= 20 for p in summary["prompts"]))
        self.assertEqual(len(summary["contexts"]), 5)
        self.assertIn("¿Qué es Python?", out.getvalue())


class IterationRunFormTests(TestCase):
    def setUp(self):
        self.client.force_login(make_admin())
        self.config = make_config("piper-joe")

    def test_a_latency_run_started_from_the_form_takes_the_designs_plan_as_one_serial_message(self):
        data = {"name": "", "mode": "latency", "config": self.config.pk}
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            response = self.client.post(reverse("synthesis:run_new"), data)
        run = SynthesisRun.objects.get()
        self.assertRedirects(response, reverse("synthesis:run_detail", args=[run.pk]))
        self.assertEqual(run.total_count, 105)  # 5 warm-ups + 100 iterations
        self.assertEqual(sum(e["warmup"] for e in run.benchmark["plan"]), 5)
        self.assertEqual(len(callbacks), 1)
