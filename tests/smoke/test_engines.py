"""End-to-end checks of the real default models (no fakes): Piper, espeak-ng, Whisper, SmolLM2, DNSMOS."""

import re
import tempfile
import time
from pathlib import Path
from unittest import TestCase

import jiwer
import numpy as np
import pytest

from synthesis.engines import audio, llm, models, mos, stt, tts

pytestmark = pytest.mark.models  # real models or a real browser: left out by make test-fast

ENGLISH = "The weather today is sunny with a light breeze from the west."
SPANISH = "Buenos días, me llamo Sara y vivo en Madrid con mi familia."
NEUTRAL = {"length_scale": 1.0, "noise_scale": 0.667, "noise_w_scale": 0.8}
WARM = {"length_scale": 1.12, "noise_scale": 0.75, "noise_w_scale": 0.9}


def normalise(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s']", " ", text.lower()).split())


def to_16k(result: tts.TTSResult) -> np.ndarray:
    return audio.resample(result.audio, result.sample_rate, stt.SAMPLE_RATE)


def seconds_of(result: tts.TTSResult) -> float:
    return result.audio.size / result.sample_rate


def timed(call):
    """(what call() returns, the wall time of the call in seconds)."""
    started = time.perf_counter()
    result = call()
    return result, time.perf_counter() - started


class WhisperCacheMixin:
    @classmethod
    def load_whisper_base(cls) -> None:
        cls.cache = tempfile.TemporaryDirectory()
        cls.addClassCleanup(cls.cache.cleanup)
        directory = models.resolve_stt_model("whisper-base", Path(cls.cache.name))
        cls.whisper_base = stt.load_whisper(str(directory), "int8", 1)


class PiperAndWhisperTests(WhisperCacheMixin, TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.load_whisper_base()
        tiny_dir = models.resolve_stt_model("whisper-tiny.en", Path(cls.cache.name))
        cls.whisper_tiny = stt.load_whisper(str(tiny_dir), "int8", 1)
        cls.neutral = tts.synthesize("piper", "en_US-joe-medium", ENGLISH, language="en", style=NEUTRAL)
        cls.warm = tts.synthesize("piper", "en_US-joe-medium", ENGLISH, language="en", style=WARM)

    def test_piper_speaks_the_sentence_as_mono_audio_in_range(self):
        self.assertEqual(self.neutral.sample_rate, 22050)
        self.assertEqual(self.neutral.audio.dtype, np.float32)
        self.assertEqual(self.neutral.audio.ndim, 1)
        self.assertGreater(seconds_of(self.neutral), 2.0)
        self.assertLessEqual(float(np.max(np.abs(self.neutral.audio))), 1.0)

    def test_piper_reports_the_time_it_spent_speaking(self):
        # Piper yields audio lazily: a clock stopped before the audio was drawn would report a
        # small fraction of the call; one that took in the loading would report more than it.
        result, wall = timed(
            lambda: tts.synthesize("piper", "en_US-joe-medium", ENGLISH, language="en", style=NEUTRAL)
        )

        self.assertGreater(seconds_of(result), 2.0)
        self.assertLessEqual(result.seconds, wall)
        self.assertGreater(result.seconds, wall / 2)

    def test_the_warm_length_scale_speaks_more_slowly_than_neutral(self):
        # Duration noise (noise_w_scale) varies the length from call to call; without it only
        # length_scale sets the pace, so the comparison cannot flip by chance.
        steady = {"noise_w_scale": 0.0}
        neutral = tts.synthesize(
            "piper", "en_US-joe-medium", ENGLISH, language="en", style={**NEUTRAL, **steady}
        )
        warm = tts.synthesize("piper", "en_US-joe-medium", ENGLISH, language="en", style={**WARM, **steady})
        self.assertGreater(seconds_of(warm), seconds_of(neutral))

    def test_whisper_base_transcribes_piper_speech_back_to_the_sentence(self):
        speech = to_16k(self.neutral)
        result, wall = timed(lambda: stt.transcribe(self.whisper_base, speech, language="en"))

        self.assertLessEqual(jiwer.wer(normalise(ENGLISH), normalise(result.text)), 0.25, result.text)
        self.assertEqual(result.language, "en")
        # Whisper decodes lazily too: the reported time covers the decoding, which is most of the call.
        self.assertLessEqual(result.seconds, wall)
        self.assertGreater(result.seconds, wall / 2)

    def test_whisper_tiny_en_transcribes_piper_speech_back_to_the_sentence(self):
        result = stt.transcribe(self.whisper_tiny, to_16k(self.warm), language="en-US")

        self.assertLessEqual(jiwer.wer(normalise(ENGLISH), normalise(result.text)), 0.25, result.text)

    def test_the_english_only_model_refuses_spanish(self):
        with self.assertRaisesRegex(ValueError, "English-only.*'es'"):
            stt.transcribe(self.whisper_tiny, to_16k(self.neutral), language="es")

    def test_an_unknown_backend_is_named_in_the_error(self):
        with self.assertRaisesRegex(ValueError, "unknown TTS backend 'festival'"):
            tts.synthesize("festival", "kal", ENGLISH, language="en", style=NEUTRAL)


class EspeakTests(WhisperCacheMixin, TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.load_whisper_base()
        cls.spanish = tts.synthesize("espeak-ng", "", SPANISH, language="es", style=NEUTRAL)

    def test_whisper_base_recognises_spanish_words_spoken_by_espeak(self):
        result = stt.transcribe(self.whisper_base, to_16k(self.spanish), language="es")

        heard = set(normalise(result.text).split())
        expected = {"me", "llamo", "vivo", "en", "madrid", "con", "mi", "familia"}
        self.assertGreaterEqual(len(heard & expected), 3, result.text)

    def test_espeak_speaks_more_slowly_with_a_longer_length_scale(self):
        slow = tts.synthesize("espeak-ng", "", SPANISH, language="es", style=WARM)

        self.assertEqual(slow.sample_rate, self.spanish.sample_rate)
        self.assertGreater(seconds_of(slow), seconds_of(self.spanish) * 1.05)

    def test_an_unknown_espeak_voice_is_named_in_the_error(self):
        with self.assertRaisesRegex(ValueError, "no voice 'xx-nowhere'"):
            tts.synthesize("espeak-ng", "", SPANISH, language="xx-nowhere", style=NEUTRAL)


class SmolLM2Tests(TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.llm = llm.load_llm(str(models.resolve_llm_model("smollm2-135m")), n_ctx=1024, n_threads=1)

    def test_it_streams_a_reply_sentence_by_sentence(self):
        stream = llm.stream_reply(
            self.llm,
            system_prompt="You are a friendly voice assistant. Answer in two short sentences.",
            user_text="What should I wear on a sunny day?",
            max_tokens=60,
            temperature=0.7,
            seed=7,
        )

        sentences = list(stream)

        self.assertGreaterEqual(len(sentences), 1)
        self.assertTrue(all(sentence.strip() for sentence in sentences))
        self.assertEqual(" ".join(sentences).split(), stream.result.text.split())
        self.assertGreater(stream.result.tokens, 0)
        self.assertIsNotNone(stream.result.first_token_seconds)
        self.assertLessEqual(stream.result.first_token_seconds, stream.result.seconds)

    def test_the_same_seed_gives_the_same_reply(self):
        kwargs = {
            "system_prompt": "You are a helpful assistant.",
            "user_text": "Name a fruit.",
            "max_tokens": 20,
            "temperature": 0.8,
            "seed": 3,
        }

        first = llm.generate(self.llm, **kwargs)
        second = llm.generate(self.llm, **kwargs)

        self.assertTrue(first.text)
        self.assertEqual(first.text, second.text)


class SentenceSplittingTests(TestCase):
    def test_it_splits_after_sentence_punctuation_and_keeps_it(self):
        sentences, rest = llm.split_sentences("Hi there! It costs 3.5 euros. Really?\nYes… and then")

        self.assertEqual(sentences, ["Hi there!", "It costs 3.5 euros.", "Really?", "Yes…"])
        self.assertEqual(rest, "and then")

    def test_it_waits_for_the_next_word_before_closing_a_sentence(self):
        self.assertEqual(llm.split_sentences("It is 3."), ([], "It is 3."))


class DNSMOSTests(TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.scorer = mos.load_dnsmos()
        mos.warm_up_dnsmos(cls.scorer)
        cls.speech = tts.synthesize("piper", "en_US-joe-medium", ENGLISH, language="en", style=NEUTRAL)

    def test_it_scores_speech_on_the_four_scales_between_1_and_5(self):
        scores = mos.score_dnsmos(self.scorer, to_16k(self.speech))

        self.assertEqual(set(scores), {"p808", "sig", "bak", "ovrl"})
        for name, value in scores.items():
            with self.subTest(scale=name):
                self.assertGreaterEqual(value, 1.0)
                self.assertLessEqual(value, 5.0)

    def test_it_rates_clean_speech_above_white_noise(self):
        noise = np.random.default_rng(0).normal(0, 0.3, 3 * mos.SAMPLE_RATE).astype(np.float32)

        speech = mos.score_dnsmos(self.scorer, to_16k(self.speech))
        hiss = mos.score_dnsmos(self.scorer, noise)

        self.assertGreater(speech["ovrl"], hiss["ovrl"])

    def test_it_refuses_empty_audio(self):
        with self.assertRaisesRegex(ValueError, "non-empty"):
            mos.score_dnsmos(self.scorer, np.zeros(0, dtype=np.float32))
