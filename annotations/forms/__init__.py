"""The app's forms, one module per concept; callers import them from annotations.forms."""

from annotations.forms.create_test import CreateTestForm, screen_guess_note
from annotations.forms.evaluator import CheckForm, ConsentForm, OpenLinkForm, RatingForm
from annotations.forms.researcher import InviteForm, SampleImportForm

__all__ = [
    "CheckForm",
    "ConsentForm",
    "CreateTestForm",
    "InviteForm",
    "OpenLinkForm",
    "RatingForm",
    "SampleImportForm",
    "screen_guess_note",
]
