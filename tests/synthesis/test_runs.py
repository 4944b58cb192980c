"""Runs through the real default models: claims, idempotency, failures, cancel and retry."""

import shutil
import tempfile
from pathlib import Path

import pytest
import soundfile as sf
from django.core.files.base import ContentFile
from django.test import TestCase, override_settings

from synthesis import services
from synthesis.engines.models import resolve_piper_voice
from synthesis.models import RunItem, Sample, Status, StylePreset, SynthesisRun
from synthesis.tasks import process_item
from tests.factories import make_config, make_sentence_set

# Real models (left out by make test-fast); runs, retries, cancels and stale items differ by backend.
pytestmark = [pytest.mark.models, pytest.mark.backends]


def styles(*names: str) -> list[StylePreset]:
    return list(StylePreset.objects.filter(name__in=names).order_by("name"))


class RunTestCase(TestCase):
    def start(self, config, sentence_sets, style_names=("neutral", "warm"), **kwargs) -> SynthesisRun:
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            run = services.start_run(
                name="t", config=config, sentence_sets=sentence_sets, styles=styles(*style_names), **kwargs
            )
        self.enqueued = len(callbacks)
        return run

    def process_all(self, run: SynthesisRun) -> None:
        for item_id in run.items.values_list("id", flat=True):
            process_item(item_id)
        run.refresh_from_db()


class SynthesisRunTests(RunTestCase):
    def test_a_run_makes_one_measured_sample_per_sentence_and_style(self):
        sentence_set = make_sentence_set(texts=("The cat sat on the mat.", "It is raining today."))
        run = self.start(make_config(), [sentence_set])
        self.assertEqual((run.total_count, self.enqueued), (4, 4))
        self.process_all(run)
        self.assertEqual((run.status, run.done_count, run.failed_count), (Status.DONE, 4, 0))
        samples = list(run.samples.order_by("sentence__position", "style_label"))
        self.assertEqual(len(samples), 4)
        for sample in samples:
            self.assertGreater(sample.duration_s, 0.5)
            self.assertEqual(sample.sample_rate, 22050)
            # The RTF recorded is the TTS time over this very audio's duration.
            self.assertAlmostEqual(sample.tts_rtf, sample.tts_ms / 1000 / sample.duration_s, places=6)
            self.assertGreater(sample.tts_rtf, 0)
            self.assertAlmostEqual(sf.info(sample.audio.path).duration, sample.duration_s, places=3)
            self.assertLessEqual(sample.wer, 0.34, sample.recognized_text)
            self.assertTrue(1.0 <= sample.dnsmos_ovrl <= 5.0)
            self.assertTrue(-40 < sample.loudness_lufs < 0)
            self.assertEqual(sf.info(sample.audio.path).samplerate, 22050)
        self.assertEqual({s.style_label for s in samples}, {"neutral", "warm"})
        self.assertTrue(run.model_files and run.library_versions["onnxruntime"] and run.cpu_description)

    def test_an_item_run_twice_yields_one_sample(self):
        run = self.start(make_config(), [make_sentence_set(texts=("Good morning.",))], ("neutral",))
        item = run.items.get()
        process_item(item.pk)
        first = Sample.objects.get()
        process_item(item.pk)  # a duplicate delivery: the item is DONE, nothing happens
        RunItem.objects.filter(pk=item.pk).update(status=Status.QUEUED)
        SynthesisRun.objects.filter(pk=run.pk).update(status=Status.RUNNING)
        process_item(item.pk)  # re-running the item replaces its sample instead of adding one
        self.assertEqual(Sample.objects.count(), 1)
        self.assertEqual(Sample.objects.get().pk, first.pk)
        self.assertEqual(RunItem.objects.get().attempts, 2)

    def test_a_claimed_item_is_not_taken_by_a_second_worker(self):
        run = self.start(make_config(), [make_sentence_set(texts=("Hello.",))], ("neutral",))
        item = run.items.get()
        self.assertIsNotNone(services.claim_item(item_id=item.pk, worker="host-a:1"))
        self.assertIsNone(services.claim_item(item_id=item.pk, worker="host-b:2"))


class FailingItemTests(RunTestCase):
    def test_an_item_the_model_cannot_handle_fails_and_the_run_goes_on(self):
        english = make_sentence_set("en", texts=("Thank you very much.",))
        spanish = make_sentence_set("es", texts=("Muchas gracias.",), language="es")
        run = self.start(make_config(stt_model="whisper-tiny.en"), [english, spanish], ("neutral",))
        self.process_all(run)
        self.assertEqual((run.status, run.done_count, run.failed_count), (Status.DONE, 1, 1))
        failed = run.items.get(status=Status.FAILED)
        self.assertIn("English-only", failed.error)
        self.assertEqual(failed.sentence.language, "es")

    def test_a_missing_model_file_fails_every_item_with_its_path_and_retry_recovers(self):
        folder = Path(tempfile.mkdtemp())
        self.addCleanup(shutil.rmtree, folder)
        voice = folder / "my-voice.onnx"
        run = self.start(
            make_config(tts_voice=str(voice)), [make_sentence_set(texts=("One.", "Two."))], ("neutral",)
        )
        self.process_all(run)
        self.assertEqual((run.status, run.failed_count), (Status.FAILED, 2))
        self.assertIn(str(voice), run.items.first().error)
        # The admin copies the voice into place and retries the failed items.
        model, config = resolve_piper_voice("en_US-joe-medium")
        shutil.copy(model, voice)
        shutil.copy(config, f"{voice}.json")
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            self.assertEqual(services.retry_failed(run=run), 2)
        self.assertEqual(len(callbacks), 2)
        self.process_all(run)
        self.assertEqual((run.status, run.done_count, run.failed_count), (Status.DONE, 2, 0))


class CancelTests(RunTestCase):
    def test_cancelling_stops_queued_items_and_keeps_finished_ones(self):
        run = self.start(make_config(), [make_sentence_set(texts=("One.", "Two.", "Three."))], ("neutral",))
        first, *rest = run.items.order_by("id")
        process_item(first.pk)
        self.assertEqual(services.cancel_run(run=run), (2, 0))  # (queued items cancelled, still running)
        for item in rest:
            process_item(item.pk)  # messages still in the queue find the item cancelled
        run.refresh_from_db()
        self.assertEqual((run.status, run.done_count), (Status.CANCELLED, 1))
        self.assertEqual(Sample.objects.count(), 1)
        self.assertEqual(run.items.filter(status=Status.CANCELLED).count(), 2)


@override_settings(SARAI_ITEM_LEASE_SECONDS=0)
class StaleItemTests(RunTestCase):
    def test_an_item_whose_lease_ran_out_is_queued_again(self):
        run = self.start(make_config(), [make_sentence_set(texts=("Hi.",))], ("neutral",))
        item = run.items.get()
        services.claim_item(item_id=item.pk, worker="elsewhere:1")
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            self.assertEqual(services.requeue_stale_items(), 1)
        self.assertEqual(len(callbacks), 1)
        self.assertEqual(RunItem.objects.get().status, Status.QUEUED)

    def test_a_queued_item_whose_message_was_lost_is_sent_again(self):
        run = self.start(make_config(), [make_sentence_set(texts=("Hi.",))], ("neutral",))
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            self.assertEqual(services.requeue_stale_items(), 1)
        self.assertEqual(len(callbacks), 1)
        self.assertEqual(run.items.get().status, Status.QUEUED)

    def test_an_item_whose_worker_keeps_dying_is_failed_after_the_last_attempt(self):
        run = self.start(make_config(), [make_sentence_set(texts=("Hi.",))], ("neutral",))
        item = run.items.get()
        for attempt in range(services.MAX_ATTEMPTS):
            self.assertIsNotNone(services.claim_item(item_id=item.pk, worker=f"crashed:{attempt}"))
        self.assertIsNone(services.claim_item(item_id=item.pk, worker="next:1"))
        item.refresh_from_db()
        run.refresh_from_db()
        self.assertEqual(item.status, Status.FAILED)
        self.assertIn(f"Gave up after {services.MAX_ATTEMPTS} attempts", item.error)
        self.assertEqual((run.status, run.failed_count), (Status.FAILED, 1))

    def test_a_worker_whose_item_was_taken_over_does_not_overwrite_the_new_result(self):
        run = self.start(make_config(), [make_sentence_set(texts=("Hello there.",))], ("neutral",))
        slow = services.claim_item(item_id=run.items.get().pk, worker="slow:1")
        fast = services.claim_item(item_id=slow.pk, worker="fast:2")  # the slow lease (0 s) ran out
        services.execute_item(item=fast)
        services.fail_item(item=slow, error="late failure")
        services.execute_item(item=slow)
        item = run.items.get()
        self.assertEqual((item.status, item.error, item.claimed_by), (Status.DONE, "", "fast:2"))
        self.assertEqual(Sample.objects.count(), 1)


class ConversationRunTests(RunTestCase):
    def test_a_conversation_item_times_every_stage_and_a_corrupt_prompt_fails_alone(self):
        sentence_set = make_sentence_set(texts=("What is the capital of France?", "Name a red fruit."))
        broken = sentence_set.sentences.get(position=2)
        broken.reference_audio.save("prompt.wav", ContentFile(b"RIFF....WAVEnot really audio"), save=True)
        run = self.start(make_config(), [sentence_set], ("neutral",), mode="conversation")
        self.process_all(run)
        self.assertEqual((run.status, run.done_count, run.failed_count), (Status.DONE, 1, 1))
        self.assertIn("AudioDecodeError", run.items.get(status=Status.FAILED).error)
        sample = run.samples.get()
        self.assertLessEqual(sample.prompt_wer, 0.5, sample.prompt_text)  # STT heard the spoken prompt
        self.assertTrue(sample.text)  # the LLM's reply, spoken
        for field in ("stt_ms", "llm_ms", "llm_first_token_ms", "tts_ms", "first_audio_ms", "total_ms"):
            self.assertGreater(getattr(sample, field), 0, field)
        self.assertLessEqual(sample.first_audio_ms, sample.total_ms)
        self.assertGreater(sample.llm_tokens, 0)
        self.assertIsNotNone(sample.dnsmos_ovrl)
