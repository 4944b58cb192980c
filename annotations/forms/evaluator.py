"""The evaluator's forms: the open link's parameters, consent, the headphone screen and an answer."""

import math
import re

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from annotations.intelligibility import MAX_TRANSCRIPT

TRUE_VALUES = {"1", "true", "yes", "on"}
MARK_KEY = re.compile(r"^mark-\d{1,4}$")
crowd_id = RegexValidator(r"^[A-Za-z0-9_.:@-]+$", "Use letters, digits and _ . : @ - only.")


class OpenLinkForm(forms.Form):
    """The crowd platform's query parameters (Prolific names; other platforms can map onto them)."""

    PROLIFIC_PID = forms.CharField(max_length=100, required=False, validators=[crowd_id])
    STUDY_ID = forms.CharField(max_length=100, required=False, validators=[crowd_id])
    SESSION_ID = forms.CharField(max_length=100, required=False, validators=[crowd_id])


class ConsentForm(forms.Form):
    agree = forms.BooleanField(label=_("I agree to take part in this listening test."))


class CheckForm(forms.Form):
    answer = forms.TypedChoiceField(choices=[(n, str(n)) for n in (1, 2, 3)], coerce=int)
    # Which screen trial the page showed, so a resent answer cannot answer the next trial too.
    trial = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)


class TokenListField(forms.Field):
    """Repeated hidden inputs of one name, read as a list of short tokens."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[str]:
        tokens = [str(token) for token in value or []]
        if len(tokens) > 16 or any(len(token) > 40 for token in tokens):
            raise forms.ValidationError("Too many or too long clip tokens.")
        return tokens


class ScoreListField(forms.Field):
    """Repeated inputs of one name, one score per clip in the order shown; an empty one is None."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value) -> list[int | None]:
        values = [str(item).strip() for item in value or []]
        if len(values) > 16 or not all(item == "" or item.lstrip("-").isdigit() for item in values):
            raise forms.ValidationError("Give at most 16 whole-number scores.")
        return [int(item) if item else None for item in values]


class RatingForm(forms.Form):
    """One answer for one trial. Score ranges are checked by the service, which knows the scale.

    clip is the token of the trial's first clip as shown; clips, when the page sends them, are all
    its clips' tokens in the order shown (a pair page does: one clip is in several of its pairs).
    Each question is posted as the method's answer_kind says: score-<name> (one integer, or one per
    clip in the order of clips) or text-<name> (typed text, trimmed, at most MAX_TRANSCRIPT).
    """

    clip = forms.CharField(max_length=40)
    clips = TokenListField(required=False)
    played_to_end = forms.CharField(required=False)
    play_count = forms.IntegerField(min_value=0, max_value=100000, required=False)
    time_to_answer_ms = forms.IntegerField(min_value=0, required=False)

    def __init__(self, *args, dimensions: list[str], answer_kind: str = "choice", **kwargs):
        super().__init__(*args, **kwargs)
        self.names = {dimension: _answer_field(dimension, answer_kind) for dimension in dimensions}
        for name, field in self.names.values():
            self.fields[name] = field

    def clean_played_to_end(self) -> bool:
        # A CheckboxInput would read the string "0" as True; the page sends "true" or "false".
        return self.cleaned_data["played_to_end"].strip().lower() in TRUE_VALUES

    def scores(self) -> dict[str, object]:
        return {dimension: self.cleaned_data.get(name) for dimension, (name, _) in self.names.items()}

    def marks(self) -> list[tuple[float, float, str]]:
        """The artifact marks posted as mark-<n> = "start,end,label" (label may be empty); ValueError
        for one that does not read so. The service checks them against the clip and the test."""
        marks = []
        for key in sorted(k for k in self.data if MARK_KEY.match(k)):
            start, end, label = (self.data[key].split(",", 2) + ["", ""])[:3]
            try:
                times = float(start), float(end)
            except ValueError:
                raise ValueError(f"{key}={self.data[key]!r} is not start,end,label") from None
            if not all(math.isfinite(t) for t in times):
                raise ValueError(f"{key}={self.data[key]!r} is not start,end,label")
            marks.append((*times, label.strip()))
        return marks


def _answer_field(dimension: str, answer_kind: str) -> tuple[str, forms.Field]:
    if answer_kind == "text":
        return f"text-{dimension}", forms.CharField(required=False, max_length=MAX_TRANSCRIPT, strip=True)
    if answer_kind == "per_clip":
        return f"score-{dimension}", ScoreListField(required=False)
    return f"score-{dimension}", forms.IntegerField(required=False)
