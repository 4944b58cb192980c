"""The headphone and loudness check played before a test: three tones, find the quiet one.

After Woods et al. (2017), "Headphone screening to facilitate web-based auditory experiments":
three 200 Hz tones, one 6 dB quieter, one in antiphase between the ears. Over loudspeakers the
antiphase tone partly cancels and sounds quietest; over headphones the truly quieter tone is easy
to pick. The protocol plays six such trials and passes a listener at 5 or more correct. The
reference tones sit at the test's playback loudness, so the volume the evaluator sets here is the
right one for the clips. Pure numpy and scipy: no Django.
"""

import io
import random

import numpy as np
import soundfile
from scipy import stats

from synthesis.engines import audio

CHECK_RATE = 16000
CHECK_TONE_HZ = 200.0
CHECK_TONE_S = 0.6
CHECK_GAP_S = 0.4
CHECK_RAMP_S = 0.05
CHECK_QUIET_DB = -6.0
POSITIONS = (1, 2, 3)
# Woods et al. 2017: six trials, pass at five or more correct.
PROTOCOL_TRIALS = 6
PROTOCOL_PASS_MARK = 5


def draw_trial(rng: random.Random) -> tuple[int, int]:
    """(quiet position, antiphase position) of one trial: any of the six arrangements, equally likely."""
    quiet = rng.choice(POSITIONS)
    return quiet, rng.choice([position for position in POSITIONS if position != quiet])


def attempt_pass_mark(trials: int, pass_mark: int, attempt: int) -> int:
    """Correct trials an attempt needs: the pass mark on the first, every trial on the one retry, so
    that guessing twice adds little to a guesser's chance."""
    return pass_mark if attempt == 1 else trials


def guess_pass_probability(trials: int, pass_mark: int, *, retry_allowed: bool = False) -> float:
    """Chance that a listener guessing (1 in 3 per trial) passes the screen as configured.

    One attempt passes with p1 = P(at least pass_mark of trials right), binomial; where one retry is
    allowed, a guesser who fails may pass it with p2 = P(every trial right), so p1 + (1 - p1) · p2.
    Woods et al. (2017)'s protocol, 5 of 6: 13/729 = 1.8 % per attempt, 1.9 % with the retry.
    """
    chance = 1 / len(POSITIONS)
    first = stats.binom.sf(attempt_pass_mark(trials, pass_mark, 1) - 1, trials, chance)
    if not retry_allowed:
        return float(first)
    again = stats.binom.sf(attempt_pass_mark(trials, pass_mark, 2) - 1, trials, chance)
    return float(first + (1 - first) * again)


def check_tones_wav(*, quietest: int, antiphase: int, target_lufs: float) -> bytes:
    """Three tones as a 16-bit stereo WAV: tone `quietest` is 6 dB down, tone `antiphase` inverted right."""
    if quietest == antiphase or {quietest, antiphase} - set(POSITIONS):
        raise ValueError(f"quietest={quietest} and antiphase={antiphase} must be two different tones of 1-3")
    t = np.arange(int(CHECK_TONE_S * CHECK_RATE)) / CHECK_RATE
    # Raised edges: a tone switched on abruptly clicks, and the click is heard over loudspeakers too.
    ramp = np.minimum(1.0, np.minimum(t, t[::-1]) / CHECK_RAMP_S)
    tone = (np.sin(2 * np.pi * CHECK_TONE_HZ * t) * ramp).astype(np.float32)
    tone = audio.match_loudness(tone, CHECK_RATE, target_lufs)
    gap = np.zeros((int(CHECK_GAP_S * CHECK_RATE), 2), dtype=np.float32)
    parts = [gap]
    for position in POSITIONS:
        left = tone * np.float32(10 ** (CHECK_QUIET_DB / 20) if position == quietest else 1.0)
        right = -left if position == antiphase else left
        parts += [np.stack([left, right], axis=1), gap]
    buffer = io.BytesIO()
    soundfile.write(buffer, np.concatenate(parts), CHECK_RATE, subtype="PCM_16", format="WAV")
    return buffer.getvalue()
