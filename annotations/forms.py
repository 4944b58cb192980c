from django import forms
from django.conf import settings
from django.core.validators import RegexValidator, validate_slug
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from annotations.models import ListeningTest, Scale
from synthesis.forms import validate_upload_size
from synthesis.models import Sample, SynthesisRun

TRUE_VALUES = {"1", "true", "yes", "on"}
crowd_id = RegexValidator(r"^[A-Za-z0-9_.:@-]+$", "Use letters, digits and _ . : @ - only.")
EXTERNAL_ORIGINS = [Sample.Origin.IMPORTED, Sample.Origin.REFERENCE]


# -- evaluator forms -----------------------------------------------------------------------------


class OpenLinkForm(forms.Form):
    """The crowd platform's query parameters (Prolific names; other platforms can map onto them)."""

    PROLIFIC_PID = forms.CharField(max_length=100, required=False, validators=[crowd_id])
    STUDY_ID = forms.CharField(max_length=100, required=False, validators=[crowd_id])
    SESSION_ID = forms.CharField(max_length=100, required=False, validators=[crowd_id])


class ConsentForm(forms.Form):
    agree = forms.BooleanField(label=_("I agree to take part in this listening test."))


class CheckForm(forms.Form):
    answer = forms.TypedChoiceField(choices=[(n, str(n)) for n in (1, 2, 3)], coerce=int)


class RatingForm(forms.Form):
    """One answer for one clip. Score ranges are checked by the service, which knows the scale."""

    clip = forms.CharField(max_length=40)
    played_to_end = forms.CharField(required=False)
    play_count = forms.IntegerField(min_value=0, max_value=100000, required=False)
    time_to_answer_ms = forms.IntegerField(min_value=0, required=False)

    def __init__(self, *args, dimensions: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.dimensions = dimensions
        for dimension in dimensions:
            self.fields[f"score-{dimension}"] = forms.IntegerField(required=False)

    def clean_played_to_end(self) -> bool:
        # A CheckboxInput would read the string "0" as True; the page sends "true" or "false".
        return self.cleaned_data["played_to_end"].strip().lower() in TRUE_VALUES

    def scores(self) -> dict[str, int | None]:
        return {dimension: self.cleaned_data.get(f"score-{dimension}") for dimension in self.dimensions}


# -- researcher forms ----------------------------------------------------------------------------


def _parse_id_scores(text: str, label: str) -> dict[int, int]:
    """'12=5, 40=1' -> {12: 5, 40: 1}."""
    result = {}
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        sample_id, sep, score = part.partition("=")
        if not (sep and sample_id.strip().isdigit() and score.strip().isdigit()):
            raise forms.ValidationError(f"{label}: write sample id=score, e.g. 12=5 (got {part.strip()!r}).")
        if not 1 <= int(score) <= 5:
            raise forms.ValidationError(f"{label}: the score of sample {sample_id.strip()} must be 1 to 5.")
        result[int(sample_id)] = int(score)
    return result


class CreateTestForm(forms.Form):
    name = forms.CharField(max_length=80, validators=[validate_slug], help_text="Unique, e.g. mos-2024-05.")
    runs = forms.ModelMultipleChoiceField(
        queryset=None,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Their samples are rated.",
    )
    systems = forms.MultipleChoiceField(
        choices=[],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Imported samples",
        help_text="Imported output and human reference recordings, by system name.",
    )
    references_as_gold = forms.BooleanField(
        required=False,
        label="Reference recordings are gold clips (expected score 5) rather than a rated condition",
    )
    gold = forms.CharField(
        required=False, help_text="More gold clips as sample id=expected score, e.g. 12=5, 40=1."
    )
    traps = forms.CharField(
        required=False,
        help_text="Trapping clips as sample id=instructed score, e.g. 77=2 for a clip that says "
        "'this is an attention check, please answer Poor'.",
    )
    training = forms.CharField(
        required=False,
        help_text="Sample ids for practice, e.g. 5, 9. Empty: unassigned test clips are used.",
    )
    scale = forms.ModelChoiceField(queryset=None, empty_label=None)
    dimensions = forms.CharField(
        initial="overall", help_text="Comma list rated on the same page; the first is the main one."
    )
    ratings_per_sample = forms.IntegerField(min_value=1, max_value=1000, initial=8)
    samples_per_session = forms.IntegerField(min_value=1, max_value=1000, initial=20)
    gold_per_session = forms.IntegerField(min_value=0, max_value=100, initial=1)
    traps_per_session = forms.IntegerField(min_value=0, max_value=100, initial=1)
    instructions = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    language = forms.ChoiceField(choices=settings.LANGUAGES, help_text="Language of the evaluator pages.")
    allow_open_link = forms.BooleanField(required=False, label="Accept the open link (crowd platforms)")
    redirect_url = forms.URLField(
        required=False, help_text="Where the finish page sends evaluators, if anywhere."
    )
    expires_at = forms.DateTimeField(required=False, help_text="YYYY-MM-DD HH:MM; empty for no expiry.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["runs"].queryset = SynthesisRun.objects.annotate(n=Count("samples")).filter(n__gt=0)
        systems = (
            Sample.objects.filter(origin__in=EXTERNAL_ORIGINS)
            .values_list("system_label", flat=True)
            .distinct()
            .order_by("system_label")
        )
        self.fields["systems"].choices = [(label, label) for label in systems]
        self.fields["scale"].queryset = Scale.objects.all()

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if ListeningTest.objects.filter(name=name).exists():
            raise forms.ValidationError("A listening test with this name exists already.")
        return name

    def clean_dimensions(self) -> list[str]:
        return [part.strip() for part in self.cleaned_data["dimensions"].split(",") if part.strip()]

    def clean(self):
        data = super().clean()
        scale, language = data.get("scale"), data.get("language")
        if scale and language and scale.language != language:
            # The labels come from the scale, everything else from the interface language.
            self.add_error(
                "scale", f"This scale's labels are in '{scale.language}'; choose one in '{language}'."
            )
        try:
            gold = _parse_id_scores(data.get("gold", ""), "Gold")
            traps = _parse_id_scores(data.get("traps", ""), "Trapping clips")
            training = [int(part) for part in data.get("training", "").replace(",", " ").split()]
        except ValueError:
            raise forms.ValidationError("Training: write sample ids separated by commas.") from None
        chosen = Q(run__in=data.get("runs") or []) | Q(
            origin__in=EXTERNAL_ORIGINS, system_label__in=data.get("systems") or []
        )
        samples = list(Sample.objects.filter(chosen))
        if data.get("references_as_gold"):
            gold.update({s.pk: 5 for s in samples if s.origin == Sample.Origin.REFERENCE})
        by_id = Sample.objects.in_bulk([*gold, *traps, *training])
        missing = sorted({*gold, *traps, *training} - set(by_id))
        if missing:
            raise forms.ValidationError(f"No sample with id {', '.join(map(str, missing))}.")
        data["samples"] = samples
        data["gold_samples"] = {by_id[pk]: score for pk, score in gold.items()}
        data["trap_samples"] = {by_id[pk]: score for pk, score in traps.items()}
        data["training_samples"] = [by_id[pk] for pk in training]
        return data


class InviteForm(forms.Form):
    count = forms.IntegerField(min_value=1, max_value=500, initial=10, label="Invite links to create")


class SampleImportForm(forms.Form):
    archive = forms.FileField(
        help_text="A zip with the audio files and manifest.csv (file, system, text, ...).",
        validators=[validate_upload_size],
    )
    system_label = forms.CharField(
        max_length=80, required=False, help_text="System name for lines without a 'system' column."
    )
    origin = forms.ChoiceField(choices=[(o.value, o.label) for o in EXTERNAL_ORIGINS])
