"""The listening tests' pages: evaluators' (evaluator.py) and researchers' (researcher.py)."""

from annotations.views.evaluator import (
    REFUSALS,
    check,
    check_audio,
    clip_audio,
    consent,
    finish,
    open_link,
    rate,
    screened_out,
    session,
    training,
)
from annotations.views.researcher import (
    evaluator_revoke,
    sample_import,
    test_detail,
    test_invite,
    test_list,
    test_new,
)

__all__ = [
    "REFUSALS",
    "check",
    "check_audio",
    "clip_audio",
    "consent",
    "evaluator_revoke",
    "finish",
    "open_link",
    "rate",
    "sample_import",
    "screened_out",
    "session",
    "test_detail",
    "test_invite",
    "test_list",
    "test_new",
    "training",
]
