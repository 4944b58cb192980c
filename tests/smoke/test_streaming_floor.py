"""The streamed turn's shorter stages (issue 27) with the real default models: their bookkeeping, not
their speed. A window fitted to the audio covers all of the speech; the first words synthesised alone
join the rest without a gap and without losing a word; the prompt evaluated on a partial transcript
gives the same reply as a full evaluation."""

import tempfile
from pathlib import Path
from unittest import TestCase

import numpy as np
import pytest

from synthesis.engines import audio, iterations, llm, pipeline, streaming, stt, textnorm, vad
from tests.smoke.test_streaming import CONFIG, STEADY

pytestmark = [pytest.mark.models]

HARVARD = (
    "The birch canoe slid on the smooth planks.",
    "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.",
    "These days a chicken leg is a rare dish.",
)


def words(text: str) -> list[str]:
    return textnorm.normalize(text, "english", "en").split()


class WhisperTestCase(TestCase):
    """Whisper base loaded once for the class (into a cache folder of its own)."""

    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.cache = tempfile.TemporaryDirectory()
        cls.addClassCleanup(cls.cache.cleanup)
        cls.whisper = pipeline.load_stt(CONFIG, Path(cls.cache.name))


class FittedWindowTests(WhisperTestCase):
    def test_the_window_is_the_audio_in_whole_seconds_within_its_cap(self):
        margin = stt.FIT_MARGIN_S
        self.assertEqual(stt.fitted_window_s(1, 10), 1 + margin)
        self.assertEqual(stt.fitted_window_s(16000 * 3, 10), 3 + margin)
        self.assertEqual(stt.fitted_window_s(16000 * 3 + 1, 10), 4 + margin)
        self.assertEqual(stt.fitted_window_s(16000 * 45, 10), 10)
        self.assertEqual(stt.fitted_window_s(16000 * 45, None), 30)

    def test_consecutive_windows_cover_every_frame_of_any_length(self):
        for frames in range(1, 3100, 7):
            for window in (100, 300, 1000, 3000):
                starts = list(stt.window_starts(frames, window))
                self.assertEqual(starts[0], 0)
                self.assertGreaterEqual(starts[-1] + window, frames - 1, (frames, window))

    def spoken(self, texts) -> np.ndarray:
        """The texts spoken one after another by the prompt voice, with 0.3 s between them."""
        gap = np.zeros(int(0.3 * vad.SAMPLE_RATE), dtype=np.float32)
        clips = [iterations.spoken_prompt(text, language="en", config=CONFIG, seconds=None) for text in texts]
        return np.concatenate([part for clip in clips for part in (clip, gap)])

    def test_a_fitted_window_hears_the_whole_of_the_speech_short_or_longer_than_its_cap(self):
        # Four sentences (about 13 s) are longer than the 10 s window: with no cap set the fitted window
        # holds them whole.
        for texts, cap in ((HARVARD[:1], 10), (HARVARD, None)):
            prompt = self.spoken(texts)
            end_s = vad.last_voiced_sample(prompt, vad.SAMPLE_RATE, -40.0) / vad.SAMPLE_RATE
            window = streaming.StreamingOptions(stt_chunk_length_s=cap, stt_window_fit=True).stt_window(
                len(prompt)
            )
            fitted = int(np.ceil(len(prompt) / vad.SAMPLE_RATE)) + stt.FIT_MARGIN_S
            self.assertEqual(window, min(fitted, cap or 30))
            heard = stt.transcribe(self.whisper, prompt, language="en", chunk_length=window)
            said, got = words(" ".join(texts)), words(heard.text)
            # The last word spoken, just before the detected end of speech, is heard.
            self.assertGreater(end_s, len(prompt) / vad.SAMPLE_RATE - 0.5)
            self.assertEqual(got[-1], said[-1], heard.text)
            errors = textnorm.utterance_errors(" ".join(texts), heard.text, method="english", language="en")
            self.assertLessEqual(errors["deletions"], len(texts) - 1, heard.text)  # at most a word per cut


class FirstWordsTests(WhisperTestCase):
    GAP_FRAME_MS = 10

    def test_a_clause_is_split_after_its_first_words_only_when_two_words_are_left(self):
        self.assertEqual(streaming.first_words("one two three four five", 3), ["one two three", "four five"])
        self.assertEqual(streaming.first_words("one two three four", 3), ["one two three four"])
        self.assertEqual(streaming.first_words("one two three four five", 0), ["one two three four five"])

    def longest_silence_at(self, samples: np.ndarray, rate: int, at: int) -> float:
        """ms of the run of quiet frames (40 dB under the loudest) around sample `at`."""
        size = rate * self.GAP_FRAME_MS // 1000
        frames = samples[: len(samples) // size * size].reshape(-1, size)
        level = np.sqrt(np.mean(frames**2, axis=1))
        quiet = level < level.max() * 10 ** (-audio.TRIM_TOP_DB / 20)
        left = right = min(at // size, len(quiet) - 1)
        while left > 0 and quiet[left - 1]:
            left -= 1
        while right < len(quiet) and quiet[right]:
            right += 1
        return (right - left) * self.GAP_FRAME_MS

    def test_the_first_words_and_the_rest_join_without_a_gap_and_lose_no_word(self):
        options = streaming.StreamingOptions(tts_first_words=3, tts_trim_silence=True)
        for clause in HARVARD:
            pieces = list(
                streaming.speak_pieces(
                    clause, first=True, options=options, language="en", style=STEADY, config=CONFIG
                )
            )
            self.assertEqual(len(pieces), 2)
            (head, rate, _), (tail, _, _) = pieces
            joined = np.concatenate([head, tail])
            self.assertLessEqual(self.longest_silence_at(joined, rate, len(head)), 50, clause)
            # Trimmed, the first chunk starts with sound, not Piper's lead-in.
            lead_in = iterations.leading_silence_s(
                pipeline.speak(clause, language="en", style=STEADY, config=CONFIG).audio, rate, -40.0
            )
            self.assertLess(iterations.leading_silence_s(head, rate, -40.0), min(lead_in, 0.03), clause)
            heard = stt.transcribe(self.whisper, audio.resample(joined, rate, 16000), language="en").text
            errors = textnorm.utterance_errors(clause, heard, method="english", language="en")
            self.assertEqual(errors["deletions"], 0, heard)

    def test_later_clauses_are_spoken_whole_and_untrimmed(self):
        options = streaming.StreamingOptions(tts_first_words=3, tts_trim_silence=True)
        [(samples, _, _)] = streaming.speak_pieces(
            HARVARD[1], first=False, options=options, language="en", style=STEADY, config=CONFIG
        )
        whole = pipeline.speak(HARVARD[1], language="en", style=STEADY, config=CONFIG)
        np.testing.assert_array_equal(samples, whole.audio)


class PartialPrefillTests(TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        cls.model = pipeline.load_llm(CONFIG)

    def reply(self, user_text: str, *, partial: str | None) -> tuple[str, int]:
        """The reply at temperature 0 after the system prompt was primed (and the partial prefilled)."""
        self.model.reset()
        llm.prime_system_prompt(self.model, CONFIG.llm_system_prompt)
        if partial is not None:
            llm.prefill(self.model, CONFIG.llm_system_prompt, partial)
        before = llm.prompt_tokens_evaluated(self.model)
        result = llm.generate(
            self.model,
            system_prompt=CONFIG.llm_system_prompt,
            user_text=user_text,
            max_tokens=CONFIG.llm_max_tokens,
            temperature=0.0,
            seed=CONFIG.llm_seed,
        )
        return result.text, llm.prompt_tokens_evaluated(self.model) - before

    def test_a_prompt_evaluated_on_the_partial_transcript_gives_the_same_reply_for_fewer_tokens(self):
        for sentence in HARVARD:
            partial = " ".join(sentence.split()[:5])
            full_text, full_tokens = self.reply(sentence, partial=None)
            reused_text, reused_tokens = self.reply(sentence, partial=partial)
            self.assertEqual(reused_text, full_text, sentence)
            self.assertLess(reused_tokens, full_tokens, sentence)
