import io
import random

import numpy as np
import soundfile as sf
from django.test import SimpleTestCase

from annotations.listening_check import (
    CHECK_GAP_S,
    CHECK_RATE,
    CHECK_TONE_S,
    check_tones_wav,
    draw_trial,
)


def tones(quietest: int, antiphase: int) -> list[np.ndarray]:
    data, rate = sf.read(io.BytesIO(check_tones_wav(quietest=quietest, antiphase=antiphase, target_lufs=-23)))
    assert rate == CHECK_RATE
    tone, gap = int(CHECK_TONE_S * rate), int(CHECK_GAP_S * rate)
    return [data[gap + i * (tone + gap) : gap + i * (tone + gap) + tone] for i in range(3)]


def rms_db(signal: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(signal**2)))


class ListeningCheckTests(SimpleTestCase):
    def test_the_quiet_tone_is_six_decibels_below_the_others(self):
        first, second, third = tones(quietest=2, antiphase=3)
        self.assertAlmostEqual(rms_db(first[:, 0]) - rms_db(second[:, 0]), 6.0, delta=0.2)
        self.assertAlmostEqual(rms_db(first[:, 0]), rms_db(third[:, 0]), delta=0.1)

    def test_the_decoy_tone_is_inverted_in_one_ear_only(self):
        first, second, third = tones(quietest=1, antiphase=3)
        np.testing.assert_allclose(third[:, 1], -third[:, 0], atol=1e-4)
        np.testing.assert_allclose(second[:, 1], second[:, 0], atol=1e-4)
        # Played together through loudspeakers the decoy cancels, which is what catches them out.
        self.assertLess(np.abs(third.sum(axis=1)).max(), 1e-3)

    def test_trials_take_all_six_arrangements_and_the_decoy_is_never_the_answer(self):
        rng = random.Random(7)
        drawn = [draw_trial(rng) for _ in range(600)]
        self.assertTrue(all(quiet != decoy for quiet, decoy in drawn))
        self.assertEqual(len(set(drawn)), 6)

    def test_it_refuses_a_decoy_on_the_answer(self):
        with self.assertRaises(ValueError):
            check_tones_wav(quietest=2, antiphase=2, target_lufs=-23)
