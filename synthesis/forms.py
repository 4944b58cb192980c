from django import forms
from django.conf import settings
from django.core.validators import validate_slug


def validate_upload_size(upload) -> None:
    """Refuse uploads over SARAI_MAX_UPLOAD_BYTES with the sizes in the message."""
    if upload.size > settings.SARAI_MAX_UPLOAD_BYTES:
        raise forms.ValidationError(
            f"The file is {upload.size} bytes; the limit is {settings.SARAI_MAX_UPLOAD_BYTES} bytes."
        )


class SentenceImportForm(forms.Form):
    name = forms.CharField(
        max_length=80, validators=[validate_slug], help_text="Unique name for the new set."
    )
    language = forms.CharField(max_length=16, initial="en", help_text="Language of lines without their own.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    file = forms.FileField(
        help_text="UTF-8 text (one sentence per line) or CSV with text[,language][,tags].",
        validators=[validate_upload_size],
    )

    def clean_name(self):
        from synthesis.models import SentenceSet

        name = self.cleaned_data["name"]
        if SentenceSet.objects.filter(name=name).exists():
            raise forms.ValidationError("A sentence set with this name exists already.")
        return name


class RunForm(forms.Form):
    name = forms.CharField(
        max_length=120,
        required=False,
        help_text="A label for this run. Left empty, it is named after its sentence sets and styles, "
        "as the synthesize command names runs.",
    )
    mode = forms.ChoiceField(choices=[], initial="synthesis")
    config = forms.ModelChoiceField(queryset=None, label="Pipeline configuration", empty_label=None)
    sentence_sets = forms.ModelMultipleChoiceField(queryset=None, widget=forms.CheckboxSelectMultiple)
    styles = forms.ModelMultipleChoiceField(queryset=None, widget=forms.CheckboxSelectMultiple)

    def __init__(self, *args, **kwargs):
        from synthesis.models import PipelineConfig, SentenceSet, StylePreset
        from synthesis.modes import mode_choices

        super().__init__(*args, **kwargs)
        self.fields["mode"].choices = mode_choices()
        # The oldest configuration first: the default stack the demo (or the admin) set up first.
        self.fields["config"].queryset = PipelineConfig.objects.order_by("created_at", "pk")
        self.fields["sentence_sets"].queryset = SentenceSet.objects.all()
        self.fields["styles"].queryset = StylePreset.objects.all()
        self.fields["styles"].initial = list(StylePreset.objects.filter(name__in=["neutral", "warm"]))
        chosen = [str(pk) for pk in self.initial.get("sentence_sets") or [] if str(pk).isdigit()]
        sets = SentenceSet.objects.filter(pk__in=chosen)
        if sets:
            self.initial.setdefault("name", self._default_name(sets, self.fields["styles"].initial))

    @staticmethod
    def _default_name(sentence_sets, styles) -> str:
        from synthesis.models import SynthesisRun

        return SynthesisRun.default_name([s.name for s in sentence_sets], [s.name for s in styles])

    def clean(self):
        data = super().clean()
        if not data.get("name") and data.get("sentence_sets") and data.get("styles"):
            data["name"] = self._default_name(data["sentence_sets"], data["styles"])
        return data
