"""Streaming end-of-speech detection (engines/vad.py) on Piper speech with known silences."""

from unittest import TestCase

import numpy as np
import pytest

from synthesis.engines import audio, iterations, pipeline, vad
from synthesis.engines.settings import PipelineSettings

pytestmark = pytest.mark.models  # the real Silero VAD and Piper voice

CONFIG = PipelineSettings(tts_backend="piper", tts_voice="en_US-joe-medium", tts_threads=1)
SILENCE_DBFS = -40.0
CHUNK = 2560  # 160 ms at 16 kHz, as a microphone hands it over
GAP, TAIL = 9600, 16000  # 600 ms between the phrases, 1 s after them


def voiced(text: str) -> np.ndarray:
    """A phrase spoken by Piper at 16 kHz, cut to its voiced samples."""
    spoken = pipeline.speak(text, language="en", style=pipeline.NEUTRAL_PROMPT_STYLE, config=CONFIG)
    samples = audio.resample(spoken.audio, spoken.sample_rate, vad.SAMPLE_RATE)
    start = round(iterations.leading_silence_s(samples, vad.SAMPLE_RATE, SILENCE_DBFS) * vad.SAMPLE_RATE)
    return samples[start : vad.last_voiced_sample(samples, vad.SAMPLE_RATE, SILENCE_DBFS)]


def detect(samples: np.ndarray, hangover_ms: int) -> tuple[vad.StreamingVAD, list[vad.VADEvent]]:
    detector = vad.StreamingVAD(hangover_ms=hangover_ms)
    events = []
    for start in range(0, len(samples), CHUNK):
        events += detector.feed(samples[start : start + CHUNK])
    return detector, events


class StreamingVADTests(TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        super().setUpClass()
        first, second = voiced("Good morning."), voiced("Can you set an alarm for seven?")
        cls.prompt = np.concatenate([first, np.zeros(GAP, np.float32), second, np.zeros(TAIL, np.float32)])
        cls.first_end = len(first)
        cls.second_start = len(first) + GAP
        cls.true_end = vad.last_voiced_sample(cls.prompt, vad.SAMPLE_RATE, SILENCE_DBFS)

    def test_it_gives_the_same_probabilities_as_faster_whispers_whole_file_pass(self):
        from faster_whisper.vad import get_vad_model

        detector, _ = detect(self.prompt, hangover_ms=60000)
        padded = np.pad(self.prompt, (0, vad.FRAME - len(self.prompt) % vad.FRAME))
        whole = np.asarray(get_vad_model()(padded)).reshape(-1)
        streamed = np.array(detector.probabilities)
        self.assertEqual(len(streamed), len(self.prompt) // vad.FRAME)
        np.testing.assert_allclose(streamed, whole[: len(streamed)], atol=1e-5)

    def test_a_pause_shorter_than_the_hangover_resumes_and_the_end_follows_the_true_end(self):
        hangover = 800
        detector, events = detect(self.prompt, hangover_ms=hangover)
        kinds = [e.kind for e in events]
        self.assertEqual(kinds.count(vad.END), 1)
        pauses = [e.sample for e in events if e.kind == vad.PAUSE]
        resumes = [e.sample for e in events if e.kind == vad.RESUME]
        # The pause between the phrases is seen, then speech comes back: no cut.
        self.assertTrue(any(self.first_end - vad.FRAME <= p < self.second_start for p in pauses), events)
        self.assertTrue(any(self.second_start - vad.FRAME <= r for r in resumes), events)
        # Silero judges 32 ms frames and lags the signal a little: the end is declared the hang-over
        # after the true end, give or take a frame before and two after.
        late = detector.decision - self.true_end - hangover * vad.SAMPLE_RATE // 1000
        self.assertGreaterEqual(late, -vad.FRAME)
        self.assertLessEqual(late, 2 * vad.FRAME)
        self.assertLessEqual(detector.first_silence, detector.decision - hangover * vad.SAMPLE_RATE // 1000)

    def test_a_240_ms_hangover_cuts_the_prompt_at_the_600_ms_pause(self):
        detector, events = detect(self.prompt, hangover_ms=240)
        self.assertEqual(events[-1].kind, vad.END)
        self.assertGreater(detector.decision, self.first_end)
        self.assertLess(detector.decision, self.second_start)

    def test_nothing_is_declared_before_speech_starts(self):
        detector, events = detect(np.zeros(16000, np.float32), hangover_ms=240)
        self.assertEqual(events, [])
        self.assertIsNone(detector.decision)

    def test_a_hangover_below_200_ms_is_refused(self):
        with self.assertRaisesRegex(ValueError, "at least 200"):
            vad.StreamingVAD(hangover_ms=150)

    def test_a_pause_longer_than_the_hangover_cuts_the_speaker_off_and_a_longer_hangover_does_not(self):
        speech = self.prompt[: self.true_end]
        self.assertTrue(vad.cuts_off(speech, true_end=self.true_end, hangover_ms=240))
        self.assertFalse(vad.cuts_off(speech, true_end=self.true_end, hangover_ms=800))


class LastVoicedSampleTests(TestCase):
    def test_it_finds_one_past_the_last_sample_at_the_threshold(self):
        samples = np.zeros(1000, np.float32)
        samples[100], samples[700], samples[900] = 0.5, 0.02, 0.001  # 0.001 is -60 dBFS
        self.assertEqual(vad.last_voiced_sample(samples, 16000, -40.0), 701)
        self.assertEqual(vad.last_voiced_sample(np.zeros(10, np.float32), 16000, -40.0), 0)
