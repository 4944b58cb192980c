"""PipelineSettings (engines/settings.py): a run's configuration snapshot read as typed settings.

A run keeps the snapshot it was started with. Each generation of that snapshot (the PipelineConfig
fields after each migration that added some) is read with today's defaults for the keys it lacks,
and a run stored with it is still run by a worker and shown on its page.
"""

import json
import socket

import numpy as np
from django.test import SimpleTestCase, TestCase
from django.urls import reverse

from synthesis import modes, services
from synthesis.engines import pipeline, streaming
from synthesis.engines.settings import PipelineSettings
from synthesis.models import PipelineConfig, RunItem, Status, StylePreset, SynthesisRun
from synthesis.tasks import process_item
from tests.factories import make_admin, make_config, make_sentence_set, register_run_mode

# PipelineConfig.snapshot() as each migration left it: every field but id, created_at and description.
# 0001_initial (to 0009): no streaming settings, no English model, no encoder window.
FROM_0001 = {
    "name": "piper-joe",
    "system_label": "Piper joe-medium",
    "stt_backend": "faster-whisper",
    "stt_model": "whisper-base",
    "stt_compute_type": "int8",
    "stt_threads": 2,
    "stt_beam_size": 1,
    "llm_backend": "llama-cpp",
    "llm_model": "smollm2-135m",
    "llm_system_prompt": "You are a friendly voice assistant. Answer in one or two short sentences.",
    "llm_max_tokens": 48,
    "llm_temperature": 0.0,
    "llm_threads": 2,
    "llm_context_size": 1024,
    "llm_seed": 1234,
    "tts_backend": "piper",
    "tts_voice": "en_US-joe-medium",
    "tts_threads": 1,
}
# 0010_streaming_config: the streaming settings, the English Whisper model and the encoder window.
FROM_0010 = FROM_0001 | {
    "llm_prefix_cache": False,
    "stream_chunk_ms": 100,
    "stream_partial_interval_ms": 400,
    "stream_speculate": False,
    "stt_model_english": "whisper-tiny.en",
    "stt_window_s": 10,
    "tts_clause_min_words": 4,
    "vad_hangover_ms": 300,
    "vad_threshold": 0.6,
}
# 0011_llm_batch_threads: threads for the LLM's prompt evaluation.
FROM_0011 = FROM_0010 | {"llm_batch_threads": 4}
# 0012_first_clause_max_words: the first clause's word limit.
FROM_0012 = FROM_0011 | {"tts_first_clause_max_words": 8}
# 0013_streaming_floor and 0014_speculate_after: today's snapshot.
FROM_0014 = FROM_0012 | {
    "stt_window_fit": True,
    "llm_partial_prefill": True,
    "tts_first_words": 2,
    "tts_trim_silence": True,
    "stream_speculate_after_ms": 64,
}


def quiet_item(item, *, on_stage) -> pipeline.ItemResult:
    """A toy item: half a second of a tone, no models loaded."""
    on_stage("tts")
    rate = 16000
    tone = 0.1 * np.sin(2 * np.pi * 440 * np.arange(rate // 2) / rate)
    return pipeline.ItemResult(
        audio=tone.astype(np.float32),
        sample_rate=rate,
        text=item.sentence.text,
        measurements={"duration_s": 0.5, "total_ms": 5.0},
    )


class StoredSnapshotTests(TestCase):
    def setUp(self):
        register_run_mode(
            self,
            modes.RunMode(key="toy-settings", label="Toy", run=quiet_item, loads=(), records=("total_ms",)),
        )
        self.client.force_login(make_admin())

    def run_stored_with(self, snapshot: dict) -> SynthesisRun:
        """A one-item run stored with `snapshot`, as an older version froze it, then run by a worker."""
        with self.captureOnCommitCallbacks(execute=False):
            run = services.start_run(
                name="old",
                mode="toy-settings",
                config=make_config(),
                sentence_sets=[make_sentence_set(texts=("Hello there.",))],
                styles=list(StylePreset.objects.filter(name="neutral")),
            )
        SynthesisRun.objects.filter(pk=run.pk).update(config_snapshot=snapshot)
        process_item(run.items.get().pk)
        run.refresh_from_db()
        self.assertEqual((run.status, run.done_count), (Status.DONE, 1), run.items.values_list("error"))
        return run

    def assertPageShowsThreads(self, run: SynthesisRun, threads: str) -> None:
        page = self.client.get(reverse("synthesis:run_detail", args=[run.pk]))
        self.assertContains(page, f"<dt>Threads</dt><dd>{threads}</dd>", html=True)

    def test_todays_snapshot_holds_every_field_of_the_configuration(self):
        self.assertEqual(set(FROM_0014), set(PipelineConfig(name="x", system_label="x").snapshot()))

    def test_a_snapshot_from_before_streaming_loads_with_todays_streaming_defaults(self):
        run = self.run_stored_with(FROM_0001)
        config = run.pipeline_settings
        self.assertEqual(streaming.StreamingOptions.from_config(config), streaming.StreamingOptions())
        self.assertEqual(
            (config.stream_chunk_ms, config.vad_hangover_ms, config.vad_threshold, config.stream_speculate),
            (160, 240, 0.5, True),
        )
        self.assertEqual(
            (config.stream_partial_interval_ms, config.tts_clause_min_words, config.llm_prefix_cache),
            (0, 3, True),
        )
        # No English model and Whisper's own window: an English turn hears with stt_model as it did.
        self.assertEqual((config.stt_model_english, config.stt_window_s), ("", None))
        self.assertEqual(pipeline.stt_choice(config, "en"), "whisper-base, 30 s window")
        self.assertEqual((config.llm_batch_threads, config.tts_first_clause_max_words), (0, 0))
        self.assertEqual((config.stt_threads, config.llm_threads), (2, 2))
        self.assertPageShowsThreads(run, "stt 2, llm 2, tts 1, dnsmos 1")

    def test_a_snapshot_from_before_batch_threads_evaluates_prompts_on_the_llm_threads(self):
        run = self.run_stored_with(FROM_0010)
        config = run.pipeline_settings
        self.assertEqual((config.llm_batch_threads, config.tts_first_clause_max_words), (0, 0))
        options = streaming.StreamingOptions.from_config(config)
        self.assertEqual(
            (options.chunk_ms, options.hangover_ms, options.vad_threshold, options.speculate),
            (100, 300, 0.6, False),
        )
        self.assertEqual(
            (options.partial_interval_ms, options.clause_min_words, options.llm_prefix_cache),
            (400, 4, False),
        )
        self.assertEqual(pipeline.stt_choice(config, "en"), "whisper-tiny.en, 10 s window")
        self.assertPageShowsThreads(run, "stt 2, llm 2, tts 1, dnsmos 1")

    def test_a_snapshot_from_before_the_first_clause_limit_cuts_first_clauses_only_at_a_boundary(self):
        run = self.run_stored_with(FROM_0011)
        config = run.pipeline_settings
        self.assertEqual(config.tts_first_clause_max_words, 0)
        self.assertEqual(streaming.StreamingOptions.from_config(config).first_clause_max_words, 0)
        self.assertEqual(config.llm_batch_threads, 4)
        self.assertPageShowsThreads(run, "stt 2, llm 2 (prompt 4), tts 1, dnsmos 1")

    def test_todays_snapshot_loads_every_value_it_stores(self):
        run = self.run_stored_with(FROM_0014)
        # The worker added its "threads" summary to the stored snapshot; the settings leave it out.
        self.assertEqual(run.config_snapshot["threads"], "stt 2, llm 2 (prompt 4), tts 1, dnsmos 1")
        self.assertEqual(run.pipeline_settings.snapshot(), FROM_0014)
        self.assertEqual(
            streaming.StreamingOptions.from_config(run.pipeline_settings).first_clause_max_words, 8
        )
        self.assertPageShowsThreads(run, "stt 2, llm 2 (prompt 4), tts 1, dnsmos 1")

    def test_a_worker_crash_on_an_item_of_a_run_from_before_streaming_names_the_engine_of_its_stage(self):
        run = self.run_stored_with(FROM_0001 | {"tts_backend": "espeak-ng", "tts_voice": "en"})
        item = run.items.get()
        RunItem.objects.filter(pk=item.pk).update(
            status=Status.RUNNING, stage="tts", claimed_by=f"{socket.gethostname()}:1"
        )
        services.record_worker_crash(item_id=item.pk, exit_description="signal 4 (SIGILL)")
        item.refresh_from_db()
        self.assertEqual(item.status, Status.FAILED)
        self.assertIn("during the TTS stage (espeak-ng)", item.error)


class FromSnapshotTests(SimpleTestCase):
    def test_its_defaults_are_the_configuration_models_own(self):
        model = PipelineConfig(name="cfg", system_label="system")
        self.assertEqual(
            PipelineSettings.from_snapshot(model.snapshot()),
            PipelineSettings(name="cfg", system_label="system"),
        )

    def test_keys_it_does_not_know_are_left_out(self):
        config = PipelineSettings.from_snapshot(FROM_0014 | {"threads": "stt 1", "gpu_layers": 12})
        self.assertEqual(config.snapshot(), FROM_0014)

    def test_a_value_of_the_wrong_type_is_refused_naming_its_key(self):
        with self.assertRaisesMessage(ValueError, "pipeline setting stt_threads must be an integer, not '2'"):
            PipelineSettings.from_snapshot(FROM_0014 | {"stt_threads": "2"})
        with self.assertRaisesMessage(ValueError, "pipeline setting stream_speculate must be true or false"):
            PipelineSettings.from_snapshot(FROM_0014 | {"stream_speculate": 1})

    def test_a_value_out_of_the_configurations_range_is_refused_naming_its_key(self):
        with self.assertRaisesMessage(ValueError, "pipeline setting vad_hangover_ms must be at least 200"):
            PipelineSettings.from_snapshot({"vad_hangover_ms": 150})
        with self.assertRaisesMessage(ValueError, "pipeline setting stt_window_s must be at most 30"):
            PipelineSettings.from_snapshot({"stt_window_s": 45})
        with self.assertRaisesMessage(ValueError, "tts_first_clause_max_words must be 0 or at least"):
            PipelineSettings.from_snapshot({"tts_clause_min_words": 3, "tts_first_clause_max_words": 2})

    def test_a_whole_number_temperature_is_read_as_a_number(self):
        self.assertEqual(PipelineSettings.from_snapshot({"llm_temperature": 1}).llm_temperature, 1.0)
        self.assertIsInstance(PipelineSettings.from_snapshot({"llm_temperature": 1}).llm_temperature, float)

    def test_settings_sent_to_a_child_process_as_json_come_back_the_same(self):
        config = PipelineSettings.from_snapshot(FROM_0014)
        self.assertEqual(PipelineSettings.from_snapshot(json.loads(json.dumps(config.snapshot()))), config)
