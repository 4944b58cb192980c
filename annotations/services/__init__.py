"""Listening-test workflows, one module per concept; callers use the names re-exported here.

creation (a test, its clips and trials; playback copies and anchors in playback), invites (joining,
invites, revocation, consent), assignment (an evaluator's trials), screening (the headphone screen),
training (practice), rating (answers and artifact marks), listening (audio requests and whether an
answer was heard) and errors (what they refuse).
"""

from annotations.services.assignment import assign, held_counts
from annotations.services.creation import (
    EXTERNAL_ORIGINS,
    TEST_OPTIONS,
    build_trials,
    candidate_samples,
    clean_dimensions,
    create_test,
)
from annotations.services.errors import (
    PlayLimitReached,
    RatingRefused,
    SessionUnavailable,
    TestCreationError,
)
from annotations.services.invites import (
    check_open,
    give_consent,
    invite_evaluators,
    join_test,
    revoke_evaluator,
)
from annotations.services.listening import play_state, record_fetch, verify_listening
from annotations.services.rating import current_clip, finish_if_done, submit_rating
from annotations.services.screening import (
    answer_check,
    current_screen_trial,
    listening_check_wav,
    screen_position,
    start_screen,
)
from annotations.services.training import (
    answer_training,
    skip_training_if_none,
    training_clips,
    training_trials,
)

__all__ = [
    "EXTERNAL_ORIGINS",
    "TEST_OPTIONS",
    "PlayLimitReached",
    "RatingRefused",
    "SessionUnavailable",
    "TestCreationError",
    "answer_check",
    "answer_training",
    "assign",
    "build_trials",
    "candidate_samples",
    "check_open",
    "clean_dimensions",
    "create_test",
    "current_clip",
    "current_screen_trial",
    "finish_if_done",
    "give_consent",
    "held_counts",
    "invite_evaluators",
    "join_test",
    "listening_check_wav",
    "play_state",
    "record_fetch",
    "revoke_evaluator",
    "screen_position",
    "skip_training_if_none",
    "start_screen",
    "submit_rating",
    "training_clips",
    "training_trials",
    "verify_listening",
]
