"""What the simulated sessions of every demo test share: the headphone screen each rater passes, as
the ACR demo's raters always have."""

import random

from annotations import listening_check
from annotations.models import Evaluator, ListeningTest, ScreenTrial


def pass_screen(evaluator: Evaluator, test: ListeningTest, rng: random.Random, *, answered_at) -> None:
    """A passed headphone screen (Woods et al. 2017): every trial right, or all but one where the pass
    mark allows it; scripted raters pass too, as a bot that can tell the tones apart would."""
    miss = (
        rng.randrange(test.screen_trials)
        if test.screen_pass_mark < test.screen_trials and rng.random() < 0.3
        else None
    )
    trials = []
    for number in range(1, test.screen_trials + 1):
        quiet, antiphase = listening_check.draw_trial(rng)
        wrong = next(position for position in listening_check.POSITIONS if position not in (quiet, antiphase))
        answer = wrong if number - 1 == miss else quiet
        trials.append(
            ScreenTrial(
                evaluator=evaluator,
                attempt=1,
                number=number,
                quiet_position=quiet,
                antiphase_position=antiphase,
                answer=answer,
                answered_at=answered_at,
            )
        )
    ScreenTrial.objects.bulk_create(trials)
