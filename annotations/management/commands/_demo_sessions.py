"""What the simulated sessions of every demo test share, timed like a person's around the answers the
demo gives them.

A demo test opens a day before the command runs (OPENED_AGO), with its raters invited; rater n joins n
minutes later, consents, reads the page for a while, passes the headphone screen (Woods et al. 2017; a
trial every few seconds), goes on to the test (the demos have no practice clips), fetches the first clip
after a page load and finishes with the last answer. These times come from a random.Random of the
rater's own, so they never move the demos' answers or the answers' timings.
"""

import random
from datetime import datetime, timedelta

from django.utils import timezone

from annotations import listening_check
from annotations.models import Evaluator, ListeningTest, ScreenTrial

OPENED_AGO = timedelta(days=1)
# Three tones of a screen trial with their gaps (listening_check), before the listener can answer.
SCREEN_TONES_S = 3 * listening_check.CHECK_TONE_S + 2 * listening_check.CHECK_GAP_S


def open_demo(test: ListeningTest) -> None:
    """Date the test's creation back, so every simulated session lies after it and in the past."""
    test.created_at = timezone.now() - OPENED_AGO
    ListeningTest.objects.filter(pk=test.pk).update(created_at=test.created_at)


def start_session(evaluator: Evaluator, test: ListeningTest, number: int) -> datetime:
    """Rater `number` joins, consents and passes the headphone screen; returns when their first clip is
    fetched."""
    rng = random.Random(number)
    joined = test.created_at + timedelta(minutes=number)
    checked = pass_screen(evaluator, test, rng, started_at=joined + timedelta(seconds=rng.uniform(15, 60)))
    Evaluator.objects.filter(pk=evaluator.pk).update(
        created_at=test.created_at, consented_at=joined, checked_at=checked, trained_at=checked
    )
    return checked + timedelta(seconds=rng.uniform(0.4, 2.0))


def end_sessions(last_answers: list[tuple[Evaluator, datetime]]) -> None:
    """Each session finishes with its last answer, which is also when its rater was last seen.

    Called once every session is dealt: the app's assign hands the pages of finished sessions without
    stored answers to the next raters, and the demos store their answers at the end.
    """
    for evaluator, last_answer in last_answers:
        Evaluator.objects.filter(pk=evaluator.pk).update(finished_at=last_answer, last_seen_at=last_answer)


def pass_screen(evaluator: Evaluator, test: ListeningTest, rng: random.Random, *, started_at) -> datetime:
    """A passed headphone screen (Woods et al. 2017): every trial right, or all but one where the pass
    mark allows it; scripted raters pass too, as a bot that can tell the tones apart would. Returns when
    its last trial was answered."""
    miss = (
        rng.randrange(test.screen_trials)
        if test.screen_pass_mark < test.screen_trials and rng.random() < 0.3
        else None
    )
    trials, clock = [], started_at
    for number in range(1, test.screen_trials + 1):
        quiet, antiphase = listening_check.draw_trial(rng)
        wrong = next(position for position in listening_check.POSITIONS if position not in (quiet, antiphase))
        clock += timedelta(seconds=SCREEN_TONES_S + rng.uniform(1.0, 4.0))
        trials.append(
            ScreenTrial(
                evaluator=evaluator,
                attempt=1,
                number=number,
                quiet_position=quiet,
                antiphase_position=antiphase,
                answer=wrong if number - 1 == miss else quiet,
                answered_at=clock,
            )
        )
    ScreenTrial.objects.bulk_create(trials)
    return clock
