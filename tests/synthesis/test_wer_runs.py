"""STT WER runs: a speech dataset through one STT configuration, its pages and its command."""

import io
import re
from dataclasses import replace

import jiwer
import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse

from synthesis import modes, run_modes, services
from synthesis.engines import audio, pipeline, stt, textnorm
from synthesis.engines.settings import PipelineSettings
from synthesis.models import PipelineConfig, Status, SynthesisRun, Transcript
from synthesis.tasks import process_item
from tests.factories import make_admin, make_config, make_dataset, make_sentence_set

# What the toy STT "hears" for each reference: one insertion (well), one substitution
# (cat -> bat) and one deletion (sat) in the first, nothing wrong in the second.
HEARD = {"The cat sat down.": "well the bat down", "Hello world.": "hello world"}


def toy_hearing(item, *, on_stage) -> pipeline.TranscriptResult:
    """A stand-in STT with no model: it 'hears' HEARD[reference] in 0.25 s."""
    on_stage("stt")
    utterance = item.utterance
    errors = textnorm.utterance_errors(
        utterance.transcript, HEARD[utterance.transcript], method="english", language="en"
    )
    return pipeline.TranscriptResult(
        hypothesis=HEARD[utterance.transcript], reference=utterance.transcript, language="en",
        duration_s=1.0, stt_seconds=0.25, errors=errors,
    )  # fmt: skip


class ToyWerRunTests(TestCase):
    def setUp(self):
        self.addCleanup(modes.RUN_MODES.pop, "toy-wer", None)
        modes.register(
            modes.RunMode(
                key="toy-wer",
                label="Toy WER",
                run=toy_hearing,
                loads=(),
                records=(),
                items_from=modes.UTTERANCES,
                stores=modes.TRANSCRIPT,
            )  # fmt: skip
        )
        self.dataset = make_dataset()
        self.config = make_config()
        self.client.force_login(make_admin())

    def start(self, name: str = "toy run", config=None) -> SynthesisRun:
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            run = services.start_run(
                name=name, mode="toy-wer", config=config or self.config, dataset=self.dataset
            )
        self.assertEqual(len(callbacks), 2)
        for item_id in run.items.values_list("id", flat=True):
            process_item(item_id)
        return run

    def test_each_utterance_becomes_an_item_whose_transcript_stores_the_error_counts(self):
        run = self.start()
        run.refresh_from_db()
        self.assertEqual(
            (run.status, run.total_count, run.done_count, run.dataset), (Status.DONE, 2, 2, self.dataset)
        )
        first = Transcript.objects.get(run=run, utterance__position=2)
        counts = (first.hits, first.substitutions, first.deletions, first.insertions)
        self.assertEqual(counts, (2, 1, 1, 1))
        self.assertEqual((first.normalisation, first.reference_normalised), ("english", "the cat sat down"))
        self.assertAlmostEqual(first.wer, 3 / 4)  # (S+D+I)/(H+S+D)
        self.assertEqual((first.stt_ms, first.stt_rtf), (250.0, 0.25))
        self.assertEqual(run.samples.count(), 0)

    def test_a_wer_run_takes_a_dataset_and_no_sentence_sets(self):
        with self.assertRaisesMessage(ValueError, "takes a speech dataset"):
            services.start_run(
                name="x", mode="toy-wer", config=self.config, sentence_sets=[make_sentence_set()]
            )
        with self.assertRaisesMessage(ValueError, "takes no speech dataset"):
            services.start_run(
                name="x", config=self.config, sentence_sets=[make_sentence_set("s2")], dataset=self.dataset
            )
        self.assertFalse(SynthesisRun.objects.exists())

    def test_the_run_page_shows_corpus_wer_with_its_bootstrap_ci_and_the_normalisation(self):
        run = self.start()
        page = self.client.get(reverse("results:wer_run_table", args=[run.pk]))
        # 3 errors over 6 reference words (4 + 2), as jiwer computes it on the normalised texts.
        expected = jiwer.wer(["the cat sat down", "hello world"], ["well the bat down", "hello world"])
        self.assertAlmostEqual(expected, 3 / 6)
        self.assertContains(page, f"{expected:.4f}")
        self.assertContains(page, "percentile bootstrap over utterances (95%, 1000 resamples, seed 0)")
        self.assertContains(page, "EnglishTextNormalizer")
        detail = self.client.get(reverse("synthesis:run_detail", args=[run.pk]))
        self.assertContains(detail, reverse("results:wer_run_table", args=[run.pk]))

    def test_choosing_no_normalisation_recomputes_the_errors_from_the_raw_texts(self):
        run = self.start()
        page = self.client.get(reverse("results:wer_run_table", args=[run.pk]), {"norm": "none"})
        raw = jiwer.wer(list(HEARD), list(HEARD.values()))
        self.assertContains(page, f"{raw:.4f}")
        self.assertContains(page, "None (text as written)")

    def test_the_utterance_table_sorts_the_worst_first(self):
        run = self.start()
        page = self.client.get(
            reverse("results:wer_run_table", args=[run.pk]), {"sort": "wer"}
        ).content.decode()
        self.assertLess(page.index("clip2.wav"), page.index("clip3.wav"))
        page = self.client.get(
            reverse("results:wer_run_table", args=[run.pk]), {"sort": "position"}
        ).content.decode()
        self.assertLess(page.index("clip2.wav"), page.index("clip3.wav"))
        Transcript.objects.filter(run=run, utterance__position=3).update(hypothesis="goodbye")
        page = self.client.get(
            reverse("results:wer_run_table", args=[run.pk]), {"sort": "wer"}
        ).content.decode()
        self.assertLess(page.index("clip3.wav"), page.index("clip2.wav"))

    def test_the_alignment_view_marks_a_substitution_a_deletion_and_an_insertion(self):
        run = self.start()
        transcript = Transcript.objects.get(run=run, utterance__position=2)
        page = self.client.get(reverse("results:wer_alignment", args=[run.pk, transcript.pk]))
        html = re.sub(r"\s+", " ", page.content.decode())
        self.assertIn(
            '<span class="tag">S:</span><del title="reference">cat</del>→'
            '<mark title="heard instead">bat</mark>',
            html,
        )
        self.assertIn(
            '<span class="tag">D:</span><del title="deleted: in the reference, not heard">sat</del>', html
        )
        self.assertIn(
            '<span class="tag">I:</span><ins title="inserted: heard, not in the reference">well</ins>', html
        )
        self.assertIn("Hits 2, substitutions 1, deletions 1, insertions 1", html)

    def test_the_comparison_page_puts_two_runs_side_by_side_with_the_paired_difference(self):
        first = self.start("baseline")
        second = self.start("other", config=make_config("cfg-b"))
        Transcript.objects.filter(run=second, utterance__position=2).update(hypothesis="the cat sat down")
        page = self.client.get(reverse("results:wer_compare"), {"run": [first.pk, second.pk]})
        self.assertContains(page, "Paired difference against baseline")
        self.assertContains(page, "-0.5000")  # 0/6 - 3/6
        self.assertContains(page, "same utterance indices for both runs")

    def test_runs_on_different_datasets_are_not_compared(self):
        first = self.start("a")
        self.dataset = make_dataset("other-set")
        second = self.start("b")
        page = self.client.get(reverse("results:wer_compare"), {"run": [first.pk, second.pk]})
        self.assertContains(page, "same speech dataset can be compared")

    def test_a_wer_run_started_before_runs_transcribed_as_the_turns_do_is_labelled_as_it_ran(self):
        dataset = make_dataset("tones")
        config = make_config(
            "fast", stt_model="whisper-base", stt_model_english="whisper-tiny.en", stt_window_s=10
        )
        with self.captureOnCommitCallbacks(execute=False):
            run = services.start_run(
                name="wer", mode=run_modes.stt_wer.STT_WER.key, config=config, dataset=dataset
            )
        self.assertEqual(run.stt_choice, "whisper-tiny.en, 10 s window")
        run.benchmark = {}  # as stored by the earlier version, which used stt_model and a 30 s window
        self.assertEqual(run.stt_choice, "whisper-base, 30 s window")


def piper_wav(text: str) -> bytes:
    """Speech with a known transcript, from the bundled Piper voice (an unsaved default configuration)."""
    config = PipelineSettings.from_snapshot(PipelineConfig(name="voice", system_label="voice").snapshot())
    spoken = pipeline.speak(text, language="en", style=pipeline.NEUTRAL_PROMPT_STYLE, config=config)
    return audio.wav_bytes(spoken.audio, spoken.sample_rate)


def nearest(text: str, heard: dict) -> tuple:
    """The key of the transcript in heard with the lowest character error rate against text."""
    return min(heard, key=lambda key: jiwer.cer(heard[key], text))


@pytest.mark.models
class WhisperWerRunTests(TestCase):
    TEXTS = ("The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background.")

    def test_a_wer_run_transcribes_speech_synthesised_by_piper_with_the_real_whisper_model(self):
        dataset = make_dataset("piper-en", self.TEXTS, wavs=[piper_wav(t) for t in self.TEXTS])
        config = make_config("whisper-tiny", stt_model="whisper-tiny.en")
        with self.captureOnCommitCallbacks(execute=False):
            run = services.start_run(
                name="wer", mode=run_modes.stt_wer.STT_WER.key, config=config, dataset=dataset
            )
        for item_id in run.items.values_list("id", flat=True):
            process_item(item_id)
        run.refresh_from_db()
        self.assertEqual(
            (run.status, run.done_count), (Status.DONE, 2), run.items.values_list("error", flat=True)
        )
        self.assertTrue(all("model.bin" in f["path"] or "/" in f["path"] for f in run.model_files))
        for transcript in run.transcripts.all():
            self.assertLess(transcript.wer, 0.5, transcript.hypothesis)
            self.assertGreater(transcript.stt_rtf, 0)

    def test_the_command_stores_one_run_per_configuration_and_prints_the_paired_difference(self):
        make_dataset("piper-en", self.TEXTS[:1], wavs=[piper_wav(self.TEXTS[0])])
        make_config("tiny", stt_model="whisper-tiny.en")
        make_config("base", stt_model="whisper-base")
        out = io.StringIO()
        call_command(
            "benchmark_stt_wer", dataset="piper-en", configs=["tiny", "base"], in_process=True, stdout=out
        )
        text = out.getvalue()
        self.assertEqual(SynthesisRun.objects.filter(mode="stt-wer", status=Status.DONE).count(), 2)
        self.assertIn("WER [95% CI]", text)
        self.assertIn("Paired ΔWER (base − tiny) on 1 utterances", text)
        self.assertIn("1/1", text)  # the progress bar reached the end
        # Each run's per-utterance cost against faster-whisper called directly on the same clip.
        self.assertEqual(text.count("Ratio to the direct call: median"), 2)
        self.assertEqual(text.count("(in-process run: like for like)"), 2)
        self.assertIn("on 1 process: speed-up", text)

    def test_a_wer_run_transcribes_as_the_configurations_turns_do_english_model_and_window(self):
        # espeak-ng speaks the same samples every time, and on this clip each Whisper choice hears
        # something else, so the stored text shows which one ran.
        text = "Rice is often served in round bowls."
        voice = PipelineSettings.from_snapshot(
            PipelineConfig(name="v", system_label="v", tts_backend="espeak-ng", tts_voice="en").snapshot()
        )
        spoken = pipeline.speak(text, language="en", style=pipeline.NEUTRAL_PROMPT_STYLE, config=voice)
        make_dataset("espeak-en", (text,), wavs=[audio.wav_bytes(spoken.audio, spoken.sample_rate)])
        make_config("fast", stt_model="whisper-base", stt_model_english="whisper-tiny.en", stt_window_s=10)
        out = io.StringIO()
        call_command("benchmark_stt_wer", dataset="espeak-en", configs=["fast"], in_process=True, stdout=out)
        run = SynthesisRun.objects.get(mode="stt-wer", status=Status.DONE)
        self.assertIn("whisper-tiny.en, 10 s window", out.getvalue())
        clip = run.items.get().utterance.audio_16k()
        cache = settings.SARAI_MODEL_CACHE
        heard = {}
        for name in ("whisper-tiny.en", "whisper-base"):
            for window in (10, None):
                whisper = pipeline.load_stt(replace(run.pipeline_settings, stt_model=name), cache)
                heard[(name, window)] = stt.transcribe(whisper, clip, language="en", chunk_length=window).text
        self.assertEqual(len(set(heard.values())), 4, heard)  # the clip tells the four choices apart
        # Each transcript is matched to the choice whose transcript it is nearest: should a pass fail
        # faster-whisper's log-probability check, it is sampled, and a word may change between passes.
        self.assertEqual(nearest(run.transcripts.get().hypothesis, heard), ("whisper-tiny.en", 10), heard)
        # An item of a run started before (no STT_AS_TURNS record) is heard as that run heard the rest.
        run.benchmark = {}
        item = run.items.select_related("run", "utterance").get()
        item.run = run
        older = run_modes.stt_wer.run_stt_wer_item(item, on_stage=lambda stage: None)
        self.assertEqual(nearest(older.hypothesis, heard), ("whisper-base", None), (older.hypothesis, heard))
        page = self.client_for_admin().get(reverse("synthesis:run_detail", args=[run.pk]))
        self.assertContains(page, "STT whisper-tiny.en, 10 s window")

    def client_for_admin(self):
        self.client.force_login(make_admin())
        return self.client
