"""A streamed conversation turn (engines/streaming.py) with the real default models.

No asserts on speed: the ordering and bookkeeping of the turn's clock, speculation, transcripts.
"""

import tempfile
import threading
from dataclasses import replace
from pathlib import Path
from unittest import TestCase

import jiwer
import numpy as np
import pytest

from synthesis.engines import iterations, llm, pipeline, streaming, stt, vad
from synthesis.engines.settings import PipelineSettings

# Real models, fed in real time: the clocks a turn keeps are measured alone, never beside other tests.
pytestmark = [pytest.mark.models, pytest.mark.serial]

CONFIG = PipelineSettings.from_snapshot(
    {
        "stt_backend": "faster-whisper",
        "stt_model": "whisper-base",
        "stt_compute_type": "int8",
        "stt_threads": 1,
        "stt_beam_size": 1,
        "llm_backend": "llama-cpp",
        "llm_model": "smollm2-135m",
        "llm_system_prompt": "You are a friendly voice assistant. Answer in one or two short sentences.",
        "llm_max_tokens": 24,
        "llm_temperature": 0.0,
        "llm_threads": 1,
        "llm_context_size": 1024,
        "llm_seed": 1234,
        "tts_backend": "piper",
        "tts_voice": "en_US-joe-medium",
        "tts_threads": 1,
    }
)
# Without noise Piper gives the same samples for the same text, so the first chunk can be checked.
STEADY = {"length_scale": 1.0, "noise_scale": 0.0, "noise_w_scale": 0.0, "volume": 1.0}
PROMPT = "What is the weather like today?"
SECOND = "Tell me about the wind."
ORDER = (
    "true_end_ms",
    "first_silence_ms",
    "decision_sample_ms",
    "decision_ms",
)
REPLY_ORDER = (
    "stt_start_ms",
    "stt_end_ms",
    "llm_start_ms",
    "llm_first_clause_ready_ms",
    "first_chunk_ready_ms",
)


def voiced(samples: np.ndarray) -> np.ndarray:
    """A prompt cut to its voiced samples, so the silences put around it are exactly known."""
    start = round(iterations.leading_silence_s(samples, vad.SAMPLE_RATE, -40.0) * vad.SAMPLE_RATE)
    return samples[start : vad.last_voiced_sample(samples, vad.SAMPLE_RATE, -40.0)]


def normalise(text: str) -> str:
    return " ".join("".join(c for c in text.lower() if c.isalnum() or c.isspace()).split())


class StreamedTurnTests(TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.cache = tempfile.TemporaryDirectory()
        cls.addClassCleanup(cls.cache.cleanup)
        cls.loaded = iterations._conversation_models(CONFIG, Path(cls.cache.name))
        cls.prompt = iterations.prompt_audio(PROMPT, language="en", config=CONFIG, seconds=None)
        cls.offline = stt.transcribe(cls.loaded.whisper, cls.prompt, language="en").text

    def turn(self, prompt_16k: np.ndarray, **options) -> dict:
        self.played = []
        return streaming.run_streaming_turn(
            prompt_16k,
            context=pipeline.PipelineContext(config=CONFIG, language="en", style=STEADY, loaded=self.loaded),
            options=streaming.StreamingOptions(**options),
            playback=lambda samples, rate: self.played.append(samples),
        )

    def iteration(self, run) -> iterations.IterationResult:
        """iterations.streaming_iteration or unstreamed_iteration on the prompt with the default options."""
        return run(
            prompt_16k=self.prompt,
            language="en",
            style=STEADY,
            config=CONFIG,
            cache_dir=Path(self.cache.name),
            silence_dbfs=-40.0,
            options=streaming.StreamingOptions(),
            on_stage=lambda stage: None,
        )

    def test_a_streamed_turn_keeps_its_clock_in_order_and_plays_the_first_clause_first(self):
        t = self.turn(self.prompt)
        self.assertFalse(t["end_forced"])
        self.assertEqual(t["prompt_text"], self.offline)
        times = [t[name] for name in ORDER]
        self.assertEqual(times, sorted(times), t)
        self.assertGreaterEqual(t["decision_sample_ms"] - t["first_silence_ms"], 240)
        # With speculation the final pass starts at the first silent frame, before the decision.
        self.assertGreaterEqual(t["speculations"], 1)
        self.assertGreaterEqual(t["stt_start_ms"], t["first_silence_ms"])
        self.assertLess(t["stt_start_ms"], t["decision_ms"])
        replies = [t[name] for name in REPLY_ORDER]
        self.assertEqual(replies, sorted(replies), t)
        self.assertGreaterEqual(t["playback_ms"], max(t["decision_ms"], t["first_chunk_ready_ms"]))
        self.assertLessEqual(t["playback_ms"], t["total_ms"])
        self.assertTrue(t["reply"].startswith(t["first_clause"].rstrip(",;:—")), t["reply"])
        self.assertGreaterEqual(len(t["first_clause"].split()), 3)
        spoken = pipeline.speak(t["first_clause"], language="en", style=STEADY, config=CONFIG)
        np.testing.assert_allclose(self.played[0], spoken.audio, atol=1e-4)
        np.testing.assert_array_equal(np.concatenate(self.played), t["audio"])

    def test_a_pause_shorter_than_the_hangover_starts_a_speculation_that_is_discarded(self):
        first = voiced(self.prompt)
        second = iterations.prompt_audio(
            "Tell me about the wind.", language="en", config=CONFIG, seconds=None
        )
        gap, tail = np.zeros(9600, np.float32), np.zeros(16000, np.float32)  # 600 ms, then 1 s
        prompt = np.concatenate([first, gap, voiced(second), tail])
        t = self.turn(prompt, hangover_ms=800)
        offline = stt.transcribe(self.loaded.whisper, prompt, language="en").text
        self.assertGreaterEqual(t["wrong_speculations"], 1)
        self.assertEqual(t["speculations"], t["wrong_speculations"] + 1)
        self.assertEqual(t["prompt_text"], offline)
        self.assertIn("wind", normalise(t["prompt_text"]))
        self.assertGreater(t["first_silence_ms"], (len(first) + len(gap)) * 1000 / vad.SAMPLE_RATE)
        self.assertGreaterEqual(t["decision_sample_ms"] - t["first_silence_ms"], 800)

    def test_a_gap_shorter_than_the_speculation_delay_starts_no_attempt(self):
        first = voiced(self.prompt)
        second = iterations.prompt_audio(
            "Tell me about the wind.", language="en", config=CONFIG, seconds=None
        )
        gap, tail = np.zeros(4800, np.float32), np.zeros(16000, np.float32)  # 300 ms, then 1 s
        prompt = np.concatenate([first, gap, voiced(second), tail])
        eager = self.turn(prompt, hangover_ms=800, chunk_ms=32)
        patient = self.turn(prompt, hangover_ms=800, chunk_ms=32, speculate_after_ms=600)
        self.assertGreaterEqual(eager["wrong_speculations"], 1)
        # The gap's pause never lasted 600 ms: only the final pause, once it had, started an attempt.
        self.assertEqual((patient["speculations"], patient["wrong_speculations"]), (1, 0))
        self.assertGreaterEqual(patient["stt_start_ms"], patient["first_silence_ms"] + 600)
        self.assertIn("wind", normalise(patient["prompt_text"]))

    def test_without_speculation_the_final_pass_waits_for_the_decision_and_a_short_window_is_scored(self):
        t = self.turn(self.prompt, speculate=False, stt_chunk_length_s=10, partial_interval_ms=400)
        self.assertEqual((t["speculations"], t["wrong_speculations"]), (0, 0))
        self.assertGreaterEqual(t["partial_passes"], 1)
        self.assertGreaterEqual(t["stt_start_ms"], t["decision_ms"])
        reference = normalise(PROMPT)
        full = jiwer.wer(reference, normalise(self.offline))
        short = jiwer.wer(reference, normalise(t["prompt_text"]))
        print(f"\nWER with a 30 s window {full:.3f}, with a 10 s window {short:.3f}: {short - full:+.3f}")
        self.assertTrue(t["prompt_text"])

    def test_without_streaming_nothing_starts_before_the_decision_and_the_whole_sentence_plays(self):
        t = streaming.run_unstreamed_turn(
            self.prompt,
            context=pipeline.PipelineContext(
                config=replace(CONFIG, stt_window_s=10), language="en", style=STEADY, loaded=self.loaded
            ),
            options=streaming.StreamingOptions(stt_chunk_length_s=10),
        )
        self.assertFalse(t["end_forced"])
        times = [t[name] for name in (*ORDER, "stt_start_ms", "playback_ms", "total_ms")]
        self.assertEqual(times, sorted(times), t)
        self.assertGreaterEqual(t["decision_sample_ms"] - t["first_silence_ms"], 240)
        # faster-whisper's own 30 s window on the whole prompt, whatever the configuration's window.
        self.assertEqual(t["prompt_text"], self.offline)
        # The first audio is the reply's first full sentence, as the pipeline before streaming spoke it.
        sentences, rest = llm.split_sentences(t["reply"])
        first = sentences[0] if sentences else rest.strip()
        spoken = pipeline.speak(first, language="en", style=STEADY, config=CONFIG)
        np.testing.assert_allclose(t["audio"][: len(spoken.audio)], spoken.audio, atol=1e-4)

    def test_an_unstreamed_iteration_reports_every_figure_its_summary_reads(self):
        result = self.iteration(iterations.unstreamed_iteration)
        f = result.figures
        self.assertEqual(result.kind, iterations.UNSTREAMED)
        # The whole prompt through faster-whisper's own window: the offline transcript.
        self.assertEqual(result.label, self.offline)
        names = ("first_audio_ms", "perceived_first_audio_ms", "first_audio_from_decision_ms")
        names += ("end_detection_ms", "stt_ms", "llm_ms", "tts_ms", "total_ms", "stt_rtf", "tts_rtf")
        for name in names:
            self.assertGreater(f[name], 0, name)
        # Whisper's time is over the audio it heard (the prompt, then the silence up to the decision).
        self.assertLess(f["stt_rtf"], f["stt_ms"] / 1000 / (len(self.prompt) / vad.SAMPLE_RATE))

    def test_an_iteration_reports_both_clocks_the_breakdown_and_the_floor(self):
        result = self.iteration(iterations.streaming_iteration)
        f = result.figures
        self.assertEqual(result.kind, iterations.STREAMING)
        print("\n" + ", ".join(f"{name} {value:.0f}" for name, value in f.items()))
        self.assertAlmostEqual(
            f["first_audio_ms"] - f["first_audio_from_decision_ms"], f["end_detection_ms"], places=6
        )
        self.assertGreaterEqual(f["perceived_first_audio_ms"], f["first_audio_ms"])
        for name in ("direct_stt_ms", "direct_llm_first_clause_ms", "direct_tts_first_clause_ms"):
            self.assertGreater(f[name], 0)
        # The first silent frame may come up to a frame (32 ms) before the true end at -40 dBFS.
        self.assertGreaterEqual(f["floor_first_audio_ms"], f["direct_critical_path_ms"] - 32)


class PrefixCacheTests(TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.model = iterations._conversation_models(CONFIG, Path(tempfile.gettempdir())).llm

    def prompt_tokens(self, *, cached: bool) -> int:
        options = streaming.StreamingOptions(llm_prefix_cache=cached)
        streaming.prepare_llm(self.model, config=CONFIG, options=options)
        before = llm.prompt_tokens_evaluated(self.model)
        llm.generate(
            self.model,
            system_prompt=CONFIG.llm_system_prompt,
            user_text=PROMPT,
            max_tokens=2,
            temperature=0.0,
        )
        return llm.prompt_tokens_evaluated(self.model) - before

    def test_the_system_prompt_is_evaluated_once_and_not_again_for_each_reply(self):
        cached, fresh = self.prompt_tokens(cached=True), self.prompt_tokens(cached=False)
        system = len(self.model.tokenize(CONFIG.llm_system_prompt.encode(), add_bos=False))
        self.assertLessEqual(cached, fresh - system, (cached, fresh))

    def test_a_cancelled_stream_stops_between_tokens(self):
        cancel = threading.Event()
        stream = llm.stream_reply(
            self.model,
            system_prompt=CONFIG.llm_system_prompt,
            user_text=PROMPT,
            max_tokens=48,
            temperature=0.0,
            clause_min_words=3,
            cancel=cancel,
        )
        clauses = []
        for clause in stream:
            clauses.append(clause)
            cancel.set()
        self.assertEqual(len(clauses), 1)
        self.assertTrue(stream.cancelled)

    def test_only_the_first_clause_is_cut_at_the_word_limit_and_no_word_is_lost(self):
        def clauses(limit: int) -> list[str]:
            stream = llm.stream_reply(
                self.model,
                system_prompt=CONFIG.llm_system_prompt,
                user_text=PROMPT,
                max_tokens=48,
                temperature=0.0,
                seed=CONFIG.llm_seed,
                clause_min_words=1,
                first_clause_max_words=limit,
            )
            self.last_stream = stream
            return list(stream)

        whole, cut = clauses(0), clauses(1)
        self.assertTrue(self.last_stream.first_clause_cut)
        first_word, *rest = whole[0].split(maxsplit=1)
        # The first clause is cut after its first word; the rest of it and every later clause are as before.
        self.assertEqual(cut, [first_word, *rest, *whole[1:]])


class ClauseSplittingTests(TestCase):
    def test_it_splits_at_clause_punctuation_once_the_clause_has_enough_words(self):
        text = "Well, the sky is clear, and warm; it is nice: yes — I think so. Then"
        clauses, rest = llm.split_clauses(text, 3)
        self.assertEqual(clauses, ["Well, the sky is clear,", "and warm; it is nice:", "yes — I think so."])
        self.assertEqual(rest, "Then")

    def test_it_waits_for_the_next_token_before_closing_a_clause(self):
        self.assertEqual(llm.split_clauses("The sky is clear,", 3), ([], "The sky is clear,"))
        self.assertEqual(llm.split_clauses("It costs 3,5 euros", 1), ([], "It costs 3,5 euros"))

    def test_a_long_clause_is_cut_after_max_words_once_the_last_of_them_is_complete(self):
        text = "The birch canoe slid on the smooth"
        # "smooth" may still grow ("smoothly"): six complete words are not enough to cut at six.
        self.assertEqual(llm.split_clauses(text, 3, 7), ([], text))
        self.assertEqual(
            llm.split_clauses(text + " planks", 3, 6), (["The birch canoe slid on the"], "smooth planks")
        )
        # A boundary within the limit wins; the limit never cuts a clause that has one.
        self.assertEqual(
            llm.split_clauses("Yes, it slid on the smooth planks today", 1, 4),
            (["Yes,"], "it slid on the smooth planks today"),
        )
        self.assertEqual(llm.split_clauses(text + " planks", 3, 0), ([], text + " planks"))
