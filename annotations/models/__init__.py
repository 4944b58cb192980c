"""Listening tests, their blinded samples, evaluators, assignments and ratings.

Every model is imported here so that the app registry finds it, and every name other modules and the
migrations use (annotations.models.new_token, ...) stays importable from annotations.models.
"""

from annotations.models.listening_tests import (
    CODE_ALPHABET,
    MARK_TOLERANCE_S,
    MAX_MARKS_PER_ANSWER,
    Analysis,
    ArtifactMark,
    Assignment,
    ClipFetch,
    Evaluator,
    ListeningTest,
    Rating,
    RequestCount,
    Scale,
    ScreenTrial,
    TestNotOpen,
    TestSample,
    Trial,
    TrialClip,
    completion_conflict,
    count_plays,
    covers_file,
    new_completion_code,
    new_token,
)

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
    "new_completion_code",
    "new_token",
]
