"""Listening tests, their blinded samples, evaluators, assignments and ratings: one module per concept.

Every model is imported here so that the app registry finds it, and every name other modules and the
migrations use (annotations.models.new_token, ...) stays importable from annotations.models.
"""

from annotations.models.analysis import Analysis
from annotations.models.evaluators import Evaluator, ScreenTrial
from annotations.models.listening import ClipFetch, count_plays, covers_file, within_play_limit
from annotations.models.listening_tests import ListeningTest, TestNotOpen, TestSample
from annotations.models.ratings import MARK_TOLERANCE_S, MAX_MARKS_PER_ANSWER, ArtifactMark, Rating
from annotations.models.request_counts import RequestCount
from annotations.models.scales import Scale
from annotations.models.tokens import (
    CODE_ALPHABET,
    completion_conflict,
    expects_participant_ids,
    new_completion_code,
    new_token,
)
from annotations.models.trials import Assignment, Trial, TrialClip

__all__ = [
    "CODE_ALPHABET",
    "MARK_TOLERANCE_S",
    "MAX_MARKS_PER_ANSWER",
    "Analysis",
    "ArtifactMark",
    "Assignment",
    "ClipFetch",
    "Evaluator",
    "ListeningTest",
    "RequestCount",
    "Rating",
    "Scale",
    "ScreenTrial",
    "TestNotOpen",
    "TestSample",
    "Trial",
    "TrialClip",
    "completion_conflict",
    "count_plays",
    "covers_file",
    "expects_participant_ids",
    "new_completion_code",
    "new_token",
    "within_play_limit",
]
