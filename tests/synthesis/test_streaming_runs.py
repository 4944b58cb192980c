"""Latency runs: plain, unstreamed and streamed turns alternate; the summary and the page report them."""

import io

from django.db import IntegrityError, transaction
from django.test import SimpleTestCase, TestCase
from django.urls import reverse

from synthesis import run_modes, services
from synthesis.engines import iterations, pipeline, streaming
from synthesis.engines.settings import PipelineSettings
from synthesis.management.commands.benchmark_latency import Command
from synthesis.models import Status, SynthesisRun
from synthesis.results import latency
from tests.factories import make_admin, make_config, store_by_hand


class StreamingPlanTests(SimpleTestCase):
    def test_both_alternates_an_unstreamed_and_a_streamed_turn_on_the_same_input(self):
        plan = run_modes.latency.latency_plan(
            count=2, warmup=1, prompts=[("a", "en"), ("b", "en")], streaming="both"
        )
        self.assertEqual(
            [(e["kind"], e["prompt"], e["warmup"]) for e in plan],
            [
                ("unstreamed", "a", True),
                ("streaming", "a", True),
                ("unstreamed", "b", False),
                ("streaming", "b", False),
                ("unstreamed", "a", False),
                ("streaming", "a", False),
            ],
        )

    def test_all_runs_each_input_plain_then_unstreamed_then_streamed(self):
        plan = run_modes.latency.latency_plan(count=1, warmup=0, prompts=[("a", "en")], streaming="all")
        self.assertEqual([e["kind"] for e in plan], ["latency", "unstreamed", "streaming"])
        self.assertEqual([e["kind"] for e in run_modes.latency.latency_plan(count=1, warmup=0)], ["latency"])

    def test_an_unknown_streaming_choice_is_refused(self):
        with self.assertRaisesMessage(ValueError, "streaming must be one of plain, off, on, both, all"):
            run_modes.latency.latency_plan(count=1, warmup=0, streaming="sometimes")


class StreamingSettingsTests(TestCase):
    def test_the_configuration_sets_the_streaming_options_and_they_are_in_its_snapshot(self):
        config = make_config("fast")
        config.vad_hangover_ms, config.stt_window_s, config.stream_chunk_ms = 300, 10, 100
        config.llm_prefix_cache = False
        config.save()
        options = streaming.StreamingOptions.from_config(PipelineSettings.from_snapshot(config.snapshot()))
        self.assertEqual(
            (options.hangover_ms, options.stt_chunk_length_s, options.chunk_ms, options.llm_prefix_cache),
            (300, 10, 100, False),
        )

    def test_a_run_frozen_before_the_streaming_fields_gets_the_defaults(self):
        self.assertEqual(
            streaming.StreamingOptions.from_config(PipelineSettings.from_snapshot({})),
            streaming.StreamingOptions(),
        )

    def test_a_first_clause_limit_below_the_clause_minimum_is_refused(self):
        config = make_config("cut")
        config.tts_first_clause_max_words = 8
        config.save()
        self.assertEqual(
            streaming.StreamingOptions.from_config(
                PipelineSettings.from_snapshot(config.snapshot())
            ).first_clause_max_words,
            8,
        )
        with self.assertRaisesMessage(
            ValueError, "first_clause_max_words must be 0 or at least clause_min_words"
        ):
            streaming.StreamingOptions(first_clause_max_words=2, clause_min_words=3)
        config.tts_first_clause_max_words = 2
        with self.assertRaises(IntegrityError), transaction.atomic():
            config.save()

    def test_a_hangover_shorter_than_200_ms_is_refused(self):
        with self.assertRaisesMessage(ValueError, "hangover_ms must be at least 200"):
            streaming.StreamingOptions.from_config(PipelineSettings.from_snapshot({"vad_hangover_ms": 150}))

    def test_the_english_whisper_model_is_used_for_english_prompts_only(self):
        config = PipelineSettings.from_snapshot(
            {"stt_model": "whisper-base", "stt_model_english": "whisper-tiny.en"}
        )
        self.assertEqual(pipeline.conversation_settings(config, "en-US").stt_model, "whisper-tiny.en")
        self.assertEqual(pipeline.conversation_settings(config, "es").stt_model, "whisper-base")
        plain = PipelineSettings.from_snapshot({"stt_model": "whisper-base"})
        self.assertEqual(pipeline.conversation_settings(plain, "en").stt_model, "whisper-base")


def unstreamed_figures(n: int) -> dict:
    """A live turn without streaming, as unstreamed_iteration records it."""
    first = 1000.0 + 10 * n
    return {
        "first_audio_ms": first,
        "perceived_first_audio_ms": first + 30,
        "first_audio_from_decision_ms": first - 350,
        "perceived_first_audio_from_decision_ms": first - 320,
        "end_detection_ms": 350.0,
        "stt_start_after_end_ms": 350.0,
        "stt_ms": 500.0,
        "llm_ms": 300.0,
        "llm_first_token_ms": 90.0,
        "tts_ms": 200.0,
        "total_ms": 2500.0,
        "prompt_words": 5,
        "prompt_word_errors": 2,
    }


def streamed_figures(n: int) -> dict:
    """A streamed turn's figures as streaming_iteration records them."""
    first = 400.0 + 10 * n
    return {
        "first_audio_ms": first,
        "perceived_first_audio_ms": first + 30,
        "first_audio_from_decision_ms": first - 300,
        "perceived_first_audio_from_decision_ms": first - 270,
        "end_detection_ms": 300.0,
        "stt_start_after_end_ms": 60.0,
        "stt_tail_ms": 200.0,
        "llm_to_first_clause_ms": 120.0,
        "tts_first_chunk_ms": 60.0,
        "waiting_for_decision_ms": 0.0,
        "total_ms": 2000.0,
        "floor_first_audio_ms": 400.0,
        "direct_stt_ms": 180.0,
        "direct_llm_first_clause_ms": 110.0,
        "direct_tts_first_clause_ms": 55.0,
        "speculations": 2 if n == 0 else 1,
        "wrong_speculations": 1 if n == 0 else 0,
        "prompt_words": 5,
        "prompt_word_errors": 0,
    }


class StreamingSummaryTests(TestCase):
    def setUp(self):
        self.config = make_config()
        self.client.force_login(make_admin())

    def test_the_summary_sets_streamed_turns_against_the_unstreamed_ones_and_the_floor(self):
        plan = run_modes.latency.latency_plan(count=3, warmup=1, streaming="all")
        with self.captureOnCommitCallbacks(execute=False):
            run = services.start_run(name="bench", config=self.config, mode="latency", plan=plan)

        def figures(n, entry):
            turn = n // 3
            if entry["kind"] == iterations.STREAMING:
                return iterations.STREAMING, streamed_figures(turn)
            if entry["kind"] == iterations.UNSTREAMED:
                return iterations.UNSTREAMED, unstreamed_figures(turn)
            plain = {name: 1000.0 for name in ("stt_ms", "llm_ms", "tts_ms", "first_audio_ms", "total_ms")}
            return iterations.LATENCY, plain | {"prompt_words": 5, "prompt_word_errors": 1}

        store_by_hand(run, figures)
        s = latency.streaming_summary(run)
        first = s["stages"][0]
        # Counted turns 1, 2 and 3 (turn 0 is the warm-up): 410, 420, 430 ms.
        self.assertEqual((s["iterations"], first["p50"], first["floor_p50"]), (3, 420.0, 400.0))
        # Unstreamed: 1010, 1020, 1030 ms.
        self.assertEqual((s["unstreamed_iterations"], s["unstreamed_first_audio_p50"]), (3, 1020.0))
        self.assertAlmostEqual(s["ratio_to_unstreamed"], 420 / 1020)
        self.assertAlmostEqual(s["ratio_to_plain"], 0.42)
        self.assertAlmostEqual(s["ratio_to_floor"], 1.05)
        self.assertEqual((s["speculations"], s["wrong_speculations"], s["hit_rate"]), (3, 0, 1.0))
        self.assertEqual((s["wer_plain"], s["wer_unstreamed"], s["wer_streamed"]), (0.2, 0.4, 0.0))
        self.assertTrue(all(s["meets"].values()))
        detection = next(st for st in s["unstreamed_stages"] if st["name"] == "end_detection_ms")
        self.assertEqual(detection["p50"], 350.0)
        # The plain turns' table counts only plain turns.
        self.assertEqual(latency.latency_summary(run)["iterations"], 3)
        table = self.client.get(reverse("results:iteration_run_table", args=[run.pk]))
        self.assertContains(table, "Without streaming")
        self.assertContains(table, "Streamed P50 / P50 without streaming: 0.412 (target ≤ 0.5: met)")
        self.assertContains(table, "End-of-speech detection")
        self.assertContains(table, "hit rate 1.000")

    def test_a_streamed_turn_slower_than_half_the_unstreamed_one_misses_the_target(self):
        plan = run_modes.latency.latency_plan(count=1, warmup=0, streaming="both")
        with self.captureOnCommitCallbacks(execute=False):
            run = services.start_run(name="bench", config=self.config, mode="latency", plan=plan)

        def figures(n, entry):
            if entry["kind"] == iterations.STREAMING:
                return iterations.STREAMING, streamed_figures(0) | {"first_audio_ms": 600.0}
            return iterations.UNSTREAMED, unstreamed_figures(0)

        store_by_hand(run, figures)
        s = latency.streaming_summary(run)
        self.assertAlmostEqual(s["ratio_to_unstreamed"], 0.6)
        self.assertFalse(s["meets"]["ratio_to_unstreamed"])
        self.assertIsNone(s["ratio_to_plain"])
        table = self.client.get(reverse("results:iteration_run_table", args=[run.pk]))
        self.assertContains(table, "(target ≤ 0.5: missed)")

    def test_a_run_of_unstreamed_turns_only_shows_them_without_a_target(self):
        plan = run_modes.latency.latency_plan(count=2, warmup=0, streaming="off")
        with self.captureOnCommitCallbacks(execute=False):
            run = services.start_run(name="off", config=self.config, mode="latency", plan=plan)
        store_by_hand(run, lambda n, entry: (iterations.UNSTREAMED, unstreamed_figures(n)))
        s = latency.streaming_summary(run)
        self.assertEqual((s["iterations"], s["unstreamed_iterations"]), (0, 2))
        self.assertEqual(s["unstreamed_first_audio_p50"], 1005.0)
        self.assertIsNone(s["ratio_to_unstreamed"])
        self.assertFalse(any(s["meets"].values()))
        table = self.client.get(reverse("results:iteration_run_table", args=[run.pk]))
        self.assertContains(table, "Without streaming")
        self.assertNotContains(table, "<h4>Streamed</h4>")
        out = io.StringIO()
        Command(stdout=out).report(run)
        self.assertIn("Without streaming: 2 counted", out.getvalue())
        self.assertNotIn("Target", out.getvalue())

    def test_the_claims_read_the_newest_run_with_plain_turns_not_a_newer_run_of_live_turns(self):
        plain_plan = run_modes.latency.latency_plan(count=1, warmup=0, streaming="plain")
        live_plan = run_modes.latency.latency_plan(count=1, warmup=0, streaming="both")
        with self.captureOnCommitCallbacks(execute=False):
            plain = services.start_run(name="plain", config=self.config, mode="latency", plan=plain_plan)
            live = services.start_run(name="live", config=self.config, mode="latency", plan=live_plan)
        values = {name: 100.0 for name in ("stt_ms", "llm_ms", "tts_ms", "first_audio_ms", "total_ms")}
        store_by_hand(plain, lambda n, entry: (iterations.LATENCY, values))

        def live_figures(n, entry):
            if entry["kind"] == iterations.STREAMING:
                return iterations.STREAMING, streamed_figures(n)
            return iterations.UNSTREAMED, unstreamed_figures(n)

        store_by_hand(live, live_figures)
        self.assertEqual(SynthesisRun.objects.filter(status=Status.DONE).count(), 2)
        self.assertEqual(run_modes.latency.latest_summary()["run_id"], plain.pk)
        run, figures = run_modes.latency.claim_figures()
        self.assertEqual((run.pk, figures["stt_tts_p50_ms"]), (plain.pk, 200.0))

    def test_a_run_without_streamed_turns_has_no_streaming_summary(self):
        plan = run_modes.latency.latency_plan(count=1, warmup=0)
        with self.captureOnCommitCallbacks(execute=False):
            run = services.start_run(name="plain", config=self.config, mode="latency", plan=plan)
        self.assertIsNone(latency.streaming_summary(run))
