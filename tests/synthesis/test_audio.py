import io
import math
import struct
import tempfile
from pathlib import Path
from unittest import TestCase

import numpy as np
import soundfile

from synthesis.engines import audio
from synthesis.engines.audio import AudioDecodeError

RATE = 22050


def voiced_signal(seconds: float = 3.0, sample_rate: int = RATE) -> np.ndarray:
    """A speech-like test signal: a 120 Hz harmonic buzz in 4 Hz syllables with pauses."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    f0 = 120 + 15 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    buzz = sum(np.sin(k * phase) / k for k in range(1, 25))
    syllables = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2
    pauses = (np.sin(2 * np.pi * 0.5 * t) > -0.6).astype(float)
    noise = np.random.default_rng(1).normal(0, 0.002, t.size)
    signal = buzz * syllables * pauses + noise
    return (0.5 * signal / np.max(np.abs(signal))).astype(np.float32)


def riff_chunk_ids(data: bytes) -> list[str]:
    ids, position = [], 12
    while position + 8 <= len(data):
        chunk_id, size = struct.unpack("<4sI", data[position : position + 8])
        ids.append(chunk_id.decode("ascii"))
        position += 8 + size + (size % 2)
    return ids


class ReadAudioTests(TestCase):
    def test_it_rejects_bytes_that_are_not_audio(self):
        with self.assertRaisesRegex(AudioDecodeError, "file is not readable audio"):
            audio.read_audio(b"this is a text file, not a wav")

    def test_it_rejects_a_missing_file(self):
        with self.assertRaisesRegex(AudioDecodeError, "file is not readable audio"):
            audio.read_audio(Path(tempfile.gettempdir()) / "no-such-file.wav")

    def test_it_rejects_a_wav_without_samples(self):
        with self.assertRaisesRegex(AudioDecodeError, "audio is empty"):
            audio.read_audio(audio.wav_bytes(np.zeros(0, dtype=np.float32), RATE))

    def test_it_rejects_a_float_wav_containing_nan(self):
        buffer = io.BytesIO()
        soundfile.write(buffer, np.array([0.1, np.nan, 0.2]), RATE, format="WAV", subtype="FLOAT")

        with self.assertRaisesRegex(AudioDecodeError, "audio contains NaN"):
            audio.read_audio(buffer.getvalue())

    def test_it_averages_stereo_to_mono(self):
        buffer = io.BytesIO()
        stereo = np.stack([np.full(100, 0.5), np.full(100, -0.25)], axis=1)
        soundfile.write(buffer, stereo, RATE, format="WAV", subtype="PCM_16")
        buffer.seek(0)

        mono, sample_rate = audio.read_audio(buffer)

        self.assertEqual(mono.shape, (100,))
        self.assertAlmostEqual(float(mono[0]), 0.125, places=3)


class WriteWavTests(TestCase):
    def test_it_round_trips_audio_through_a_file(self):
        signal = voiced_signal(1.0)
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "clip.wav"
            audio.write_wav(path, signal, RATE)
            decoded, sample_rate = audio.read_audio(path)

        self.assertEqual(sample_rate, RATE)
        self.assertEqual(decoded.dtype, np.float32)
        np.testing.assert_allclose(decoded, signal, atol=1 / 32768)

    def test_it_writes_16_bit_pcm_with_only_fmt_and_data_chunks(self):
        data = audio.wav_bytes(voiced_signal(0.5), RATE)

        self.assertEqual(data[:4] + data[8:12], b"RIFFWAVE")
        self.assertEqual(riff_chunk_ids(data), ["fmt ", "data"])
        self.assertEqual(soundfile.info(io.BytesIO(data)).subtype, "PCM_16")

    def test_it_clips_over_full_scale_instead_of_wrapping_around(self):
        decoded, _ = audio.read_audio(audio.wav_bytes(np.array([1.5, -1.5], dtype=np.float32), RATE))

        np.testing.assert_allclose(decoded, [1.0, -1.0], atol=1 / 32768)


class ResampleTests(TestCase):
    def test_it_keeps_the_pitch_of_a_tone_when_resampling_to_16_khz(self):
        tone = np.sin(2 * np.pi * 440 * np.arange(RATE) / RATE).astype(np.float32)

        resampled = audio.resample(tone, RATE, 16000)

        self.assertEqual(resampled.size, 16000)
        self.assertEqual(int(np.argmax(np.abs(np.fft.rfft(resampled)))), 440)


class LoudnessTests(TestCase):
    def test_it_matches_ordinary_speech_targets_within_half_a_loudness_unit(self):
        signal = voiced_signal()
        for target in (-30.0, -23.0, -16.0):
            with self.subTest(target=target):
                matched = audio.match_loudness(signal, RATE, target)

                self.assertLess(abs(audio.integrated_loudness(matched, RATE) - target), 0.5)
                self.assertLessEqual(float(np.max(np.abs(matched))), audio.LIMITER_CEILING)

    def test_it_limits_peaks_below_full_scale_when_a_loud_target_needs_it(self):
        signal = voiced_signal()
        plain_gain_peak = float(np.max(np.abs(signal))) * 10 ** (
            (-10.5 - audio.integrated_loudness(signal, RATE)) / 20
        )
        self.assertGreater(plain_gain_peak, 1.0)  # the target is only reachable with limiting

        matched = audio.match_loudness(signal, RATE, -10.5)

        self.assertLessEqual(float(np.max(np.abs(matched))), audio.LIMITER_CEILING)
        self.assertLess(abs(audio.integrated_loudness(matched, RATE) - -10.5), 0.5)

    def test_it_measures_a_clip_shorter_than_one_block_like_the_same_sound_held_longer(self):
        tone = 0.3 * np.sin(2 * np.pi * 300 * np.arange(2 * RATE) / RATE)

        short = audio.integrated_loudness(tone[: int(0.2 * RATE)], RATE)
        long = audio.integrated_loudness(tone, RATE)

        self.assertLess(abs(short - long), 0.5)

    def test_it_reports_silence_as_minus_infinity_and_refuses_to_match_it(self):
        silence = np.zeros(RATE, dtype=np.float32)

        self.assertEqual(audio.integrated_loudness(silence, RATE), -math.inf)
        with self.assertRaisesRegex(AudioDecodeError, "silent"):
            audio.match_loudness(silence, RATE, -23.0)


class LowPassTests(TestCase):
    """The MUSHRA anchor's filter: ITU-R BS.1534's 3.5 kHz low-pass, without phase shift."""

    @staticmethod
    def tone(freq: float, sample_rate: int) -> np.ndarray:
        return (0.3 * np.sin(2 * np.pi * freq * np.arange(sample_rate) / sample_rate)).astype(np.float32)

    @staticmethod
    def level_db(signal: np.ndarray) -> float:
        middle = signal[signal.size // 4 : -signal.size // 4]  # away from the filter's edges
        return 20 * math.log10(float(np.sqrt(np.mean(middle.astype(np.float64) ** 2))))

    def test_it_keeps_speech_frequencies_and_removes_those_above_four_kilohertz(self):
        for sample_rate in (16000, 22050, 48000):
            with self.subTest(sample_rate=sample_rate):
                low, high = self.tone(1000, sample_rate), self.tone(5000, sample_rate)
                self.assertAlmostEqual(
                    self.level_db(audio.low_pass(low, sample_rate)), self.level_db(low), delta=0.05
                )
                self.assertLess(self.level_db(audio.low_pass(high, sample_rate)), self.level_db(high) - 60)

    def test_it_is_six_decibels_down_at_the_cut_off_and_shifts_no_phase(self):
        at_cutoff = self.tone(3500, RATE)
        filtered = audio.low_pass(at_cutoff, RATE)
        self.assertAlmostEqual(self.level_db(filtered) - self.level_db(at_cutoff), -6.02, delta=0.1)
        voice = voiced_signal()
        lag = np.argmax(np.correlate(audio.low_pass(voice, RATE)[:4000], voice[:4000], "full")) - 3999
        self.assertEqual(lag, 0)

    def test_audio_sampled_below_seven_kilohertz_is_returned_unchanged(self):
        tone = self.tone(1000, 6000)
        np.testing.assert_array_equal(audio.low_pass(tone, 6000), tone)

    def test_a_clip_too_short_for_the_filter_is_refused_clearly(self):
        with self.assertRaisesRegex(AudioDecodeError, "too short to low-pass"):
            audio.low_pass(np.ones(20, dtype=np.float32), RATE)
