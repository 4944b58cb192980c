"""The headphone screen (Woods et al. 2017): dealing its trials, serving their tones, scoring them."""

import random

from django.conf import settings
from django.utils import timezone

from annotations.listening_check import attempt_pass_mark, check_tones_wav, draw_trial
from annotations.models import Evaluator, ScreenTrial


def start_screen(*, evaluator: Evaluator, rng: random.Random | None = None) -> None:
    """Deal the first attempt of the headphone screen (once; a second call changes nothing)."""
    _deal_screen_attempt(evaluator, 1, rng)


def _deal_screen_attempt(evaluator: Evaluator, attempt: int, rng: random.Random | None) -> None:
    """Store the attempt's trials with their answer keys, once (a second call changes nothing)."""
    rng = rng or random.SystemRandom()
    trials = []
    for number in range(1, evaluator.test.screen_trials + 1):
        quiet, antiphase = draw_trial(rng)
        trials.append(
            ScreenTrial(
                evaluator=evaluator,
                attempt=attempt,
                number=number,
                quiet_position=quiet,
                antiphase_position=antiphase,
            )
        )
    ScreenTrial.objects.bulk_create(trials, ignore_conflicts=True)


def current_screen_trial(*, evaluator: Evaluator) -> ScreenTrial | None:
    """The first unanswered trial of the screen, or None when none is waiting.

    An evaluator at the check step with no trials yet (consent given before the screen existed)
    is dealt the first attempt here.
    """
    waiting = evaluator.screen_trials.filter(answer__isnull=True).order_by("attempt", "number")
    trial = waiting.first()
    if trial is None and evaluator.step == "check" and not evaluator.screen_trials.exists():
        start_screen(evaluator=evaluator)
        trial = waiting.first()
    if trial is not None:
        trial.evaluator = evaluator  # the caller's row, with its test: no second read of either
    return trial


def screen_position(trial: ScreenTrial) -> int:
    """The trial's place in the whole screen, from 1; opaque in URLs (it says nothing of the answer)."""
    return (trial.attempt - 1) * trial.evaluator.test.screen_trials + trial.number


def listening_check_wav(*, evaluator: Evaluator) -> bytes | None:
    """The evaluator's current screen trial as a WAV, or None; the answer stays on the server."""
    trial = current_screen_trial(evaluator=evaluator)
    if trial is None:
        return None
    return check_tones_wav(
        quietest=trial.quiet_position,
        antiphase=trial.antiphase_position,
        target_lufs=settings.SARAI_TARGET_LUFS,
    )


def answer_check(
    *, evaluator: Evaluator, answer: int, position: int | None = None, rng: random.Random | None = None
) -> str:
    """Record the answer to the current screen trial; returns "next", "passed", "retry" or "failed".

    No feedback per trial (as in the protocol). position, when given, is the trial the page showed:
    a resent answer to an earlier trial is ignored instead of answering the next one.
    """
    if evaluator.checked_at or evaluator.screened_out_at:
        return "passed" if evaluator.checked_at else "failed"
    trial = current_screen_trial(evaluator=evaluator)
    if trial is None or (position is not None and position != screen_position(trial)):
        return "next"
    ScreenTrial.objects.filter(pk=trial.pk, answer__isnull=True).update(
        answer=answer, answered_at=timezone.now()
    )
    if trial.number < evaluator.test.screen_trials:
        return "next"
    return _score_screen_attempt(evaluator, trial.attempt, rng)


def _score_screen_attempt(evaluator: Evaluator, attempt: int, rng: random.Random | None) -> str:
    """Pass, deal the one retry, or screen the evaluator out, once the attempt's last trial is in."""
    test = evaluator.test
    trials = evaluator.screen_trials.filter(attempt=attempt)
    correct = sum(trial.correct for trial in trials)
    needed = attempt_pass_mark(test.screen_trials, test.screen_pass_mark, attempt)
    now = timezone.now()
    if correct >= needed:
        _note_outcome(evaluator, "checked_at", now)
        return "passed"
    if attempt == 1 and test.screen_retry_allowed:
        _deal_screen_attempt(evaluator, 2, rng)
        return "retry"
    _note_outcome(evaluator, "screened_out_at", now)
    return "failed"


def _note_outcome(evaluator: Evaluator, field: str, now) -> None:
    """Write the screen's outcome once; the caller's row then holds it as stored (written here, or
    by a copy of the last answer that arrived first)."""
    if Evaluator.objects.filter(pk=evaluator.pk, **{f"{field}__isnull": True}).update(**{field: now}):
        setattr(evaluator, field, now)
    else:
        evaluator.refresh_from_db(fields=[field])
