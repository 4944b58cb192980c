"""The listening-test methods: the registry (annotations.methods.registry) and one module per method.

Importing this package registers every method. Callers look a method up by name (get_method) and call
what it carries; they never compare method names (tests/test_layout.py keeps it so).
"""

from annotations.methods.ab import AB
from annotations.methods.acr import ACR
from annotations.methods.cmos import CMOS
from annotations.methods.intelligibility import INTELLIGIBILITY
from annotations.methods.mushra import MUSHRA
from annotations.methods.registry import (
    DEFAULT_METHOD,
    METHODS,
    Answer,
    ClipScore,
    Method,
    TrialShape,
    check_on_scale,
    get_method,
    register,
    scoring_methods,
)

__all__ = [
    "AB",
    "ACR",
    "CMOS",
    "DEFAULT_METHOD",
    "INTELLIGIBILITY",
    "METHODS",
    "MUSHRA",
    "Answer",
    "ClipScore",
    "Method",
    "TrialShape",
    "check_on_scale",
    "get_method",
    "register",
    "scoring_methods",
]
