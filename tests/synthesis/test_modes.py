"""The run-mode registry and the measurement list: a new mode is one register() call."""

import csv
import io

import numpy as np
import pytest
from django.test import TestCase
from django.urls import reverse

from synthesis import modes, run_modes, services
from synthesis.engines import pipeline
from synthesis.engines.settings import PipelineSettings
from synthesis.models import Sample, Status, StylePreset, SynthesisRun
from synthesis.tasks import process_item
from tests.factories import make_admin, make_config, make_sentence_set, register_run_mode

# items enqueued on the broker and claimed by conditional UPDATE: repeated on PostgreSQL + Redis
pytestmark = pytest.mark.backends


def echo_item(item, *, on_stage) -> pipeline.ItemResult:
    """A toy item: a tone as long as the sentence has characters (50 ms each), no models loaded."""
    on_stage("tts")
    rate = 16000
    seconds = len(item.sentence.text) * 0.05
    tone = 0.1 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * rate)) / rate)
    return pipeline.ItemResult(
        audio=tone.astype(np.float32),
        sample_rate=rate,
        text=item.sentence.text.upper(),
        measurements={"duration_s": seconds, "total_ms": 12.5},
    )


def register_toy(test: TestCase, **fields) -> modes.RunMode:
    """The echo mode, or fields in its place, registered for the length of the test."""
    fields = {
        "key": "echo",
        "label": "Echo (toy)",
        "run": echo_item,
        "loads": (),
        "records": ("total_ms",),
    } | fields
    return register_run_mode(test, modes.RunMode(**fields))


class ToyModeTests(TestCase):
    def setUp(self):
        self.sentence_set = make_sentence_set(texts=("Hello there.",))
        self.config = make_config()
        self.client.force_login(make_admin())

    def start(self, mode: str) -> SynthesisRun:
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            run = services.start_run(
                name="toy",
                mode=mode,
                config=self.config,
                sentence_sets=[self.sentence_set],
                styles=list(StylePreset.objects.filter(name="neutral")),
            )
        self.assertEqual(len(callbacks), run.total_count)
        return run

    def test_a_mode_registered_in_a_test_runs_an_item_end_to_end_and_shows_its_measurement(self):
        register_toy(self)
        run = self.start("echo")
        process_item(run.items.get().pk)
        run.refresh_from_db()
        self.assertEqual((run.status, run.done_count), (Status.DONE, 1))
        sample = Sample.objects.get(run=run)
        self.assertEqual((sample.text, sample.total_ms), ("HELLO THERE.", 12.5))
        self.assertAlmostEqual(sample.duration_s, 0.6)
        self.assertIsNone(sample.wer)
        self.assertEqual(run.model_files, [])  # it loads no model, so needs no engine self-test either
        page = self.client.get(reverse("synthesis:run_samples", args=[run.pk]))
        self.assertContains(page, '<th class="num" title="End-to-end time for the item.">Total ms</th>')
        self.assertContains(page, "12")
        self.assertNotContains(page, "WER")
        self.assertContains(self.client.get(reverse("synthesis:run_detail", args=[run.pk])), "Echo (toy)")
        export = self.client.get(reverse("results:run_measurements_csv", args=[run.pk]))
        row = next(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
        self.assertEqual((row["total_ms"], row["wer"]), ("12.5", ""))

    def test_an_item_reporting_a_measurement_its_mode_does_not_declare_fails_with_its_name(self):
        register_toy(self, records=())
        run = self.start("echo")
        process_item(run.items.get().pk)
        item = run.items.get()
        self.assertEqual(item.status, Status.FAILED)
        self.assertIn("run mode 'echo' does not declare total_ms", item.error)
        self.assertFalse(Sample.objects.exists())

    def test_a_mode_taking_items_from_an_unknown_source_is_refused_when_registered(self):
        with self.assertRaisesMessage(ValueError, "run mode 'echo' takes items from unknown 'rows'"):
            register_toy(self, items_from="rows")
        self.assertNotIn("echo", modes.RUN_MODES)

    def test_a_mode_over_utterances_refuses_sentence_sets_before_anything_is_saved(self):
        register_toy(self, items_from=modes.UTTERANCES)
        with self.assertRaisesMessage(ValueError, "takes a speech dataset, not sentence sets"):
            self.start("echo")
        self.assertFalse(SynthesisRun.objects.exists())

    def test_an_unknown_mode_is_refused_with_the_known_ones(self):
        with self.assertRaisesMessage(ValueError, "Unknown run mode 'nope'; known: synthesis, conversation"):
            self.start("nope")


class RegistryTests(TestCase):
    def test_every_measurement_is_a_sample_field_and_names_the_modes_that_record_it(self):
        for measurement in modes.MEASUREMENTS:
            Sample._meta.get_field(measurement.name)
        by_name = modes.MEASUREMENTS_BY_NAME
        self.assertEqual(by_name["wer"].modes, ("synthesis", "conversation"))
        self.assertEqual(by_name["llm_ms"].modes, ("conversation",))
        self.assertEqual(by_name["duration_s"].modes, ("synthesis", "conversation"))
        self.assertEqual((by_name["tts_rtf"].heading, by_name["tts_ms"].heading), ("TTS RTF", "TTS ms"))

    def test_only_the_conversation_mode_needs_the_llm_self_test(self):
        config = PipelineSettings.from_snapshot(make_config().snapshot())
        self.assertEqual(
            pipeline.engines_for(config, run_modes.sentences.SYNTHESIS.loads), ["tts-piper", "stt", "dnsmos"]
        )
        self.assertEqual(
            pipeline.engines_for(config, run_modes.sentences.CONVERSATION.loads),
            ["tts-piper", "stt", "dnsmos", "llm"],
        )

    def test_a_mode_naming_an_unknown_measurement_or_component_is_not_registered(self):
        with self.assertRaisesMessage(ValueError, "records unknown measurements: latency_ms"):
            register_toy(self, records=("latency_ms",))
        with self.assertRaisesMessage(ValueError, "loads unknown components"):
            register_toy(self, loads=("gpu",))
        self.assertNotIn("echo", modes.RUN_MODES)

    def test_the_run_form_offers_the_registered_modes(self):
        register_toy(self)
        from synthesis.forms import RunForm

        self.assertEqual([key for key, _ in RunForm().fields["mode"].choices][-1], "echo")
