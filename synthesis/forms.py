from django import forms
from django.conf import settings
from django.core.validators import validate_slug

from synthesis.engines import audio


def validate_upload_size(upload) -> None:
    """Refuse uploads over SARAI_MAX_UPLOAD_BYTES with the sizes in the message."""
    if upload.size > settings.SARAI_MAX_UPLOAD_BYTES:
        raise forms.ValidationError(
            f"The file is {upload.size} bytes; the limit is {settings.SARAI_MAX_UPLOAD_BYTES} bytes."
        )


def validate_audio_upload(upload) -> None:
    """Refuse a file over the size limit, or one that does not decode as audio, naming the file."""
    validate_upload_size(upload)
    upload.seek(0)
    try:
        audio.read_audio(upload.read())
    except audio.AudioDecodeError as exc:
        raise forms.ValidationError(f"{upload.name}: {exc}") from None
    finally:
        upload.seek(0)  # the storage saves the file from the start


class AudioUploadForm(forms.ModelForm):
    """A model form whose file fields take only decodable audio, for admin pages that upload
    recordings (a sentence's reference recording, a conversation item's spoken prompt)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.FileField):
                field.validators = [*field.validators, validate_audio_upload]


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
    sentence_sets = forms.ModelMultipleChoiceField(
        queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )
    styles = forms.ModelMultipleChoiceField(
        queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )
    dataset = forms.ModelChoiceField(
        queryset=None,
        required=False,
        label="Speech dataset",
        help_text="For a mode over a dataset's utterances (STT WER); "
        "sentence sets and styles are for the other modes.",
    )

    def __init__(self, *args, **kwargs):
        from synthesis.models import PipelineConfig, SentenceSet, SpeechDataset, StylePreset
        from synthesis.modes import mode_choices

        super().__init__(*args, **kwargs)
        self.fields["mode"].choices = mode_choices()
        # The oldest configuration first: the default stack the demo (or the admin) set up first.
        self.fields["config"].queryset = PipelineConfig.objects.order_by("created_at", "pk")
        self.fields["sentence_sets"].queryset = SentenceSet.objects.all()
        self.fields["dataset"].queryset = SpeechDataset.objects.all()
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
        from synthesis.modes import ITERATIONS, UTTERANCES, get_mode

        data = super().clean()
        mode = get_mode(data["mode"]) if data.get("mode") else None
        if mode and mode.items_from == ITERATIONS:
            # Timed iterations on the mode's default plan; the benchmark commands take other plans.
            data["sentence_sets"], data["styles"], data["dataset"] = [], [], None
            data["name"] = data.get("name") or mode.label.split(" (")[0]
            return data
        if mode and mode.items_from == UTTERANCES:
            if not data.get("dataset"):
                self.add_error("dataset", "This mode runs over a speech dataset: choose one.")
            data["sentence_sets"], data["styles"] = [], []
            if not data.get("name") and data.get("dataset"):
                data["name"] = f"{data['dataset'].name} · {mode.key}"
            return data
        data["dataset"] = None
        for field in ("sentence_sets", "styles"):
            if mode and not data.get(field):
                self.add_error(field, "Choose at least one.")
        if not data.get("name") and data.get("sentence_sets") and data.get("styles"):
            data["name"] = self._default_name(data["sentence_sets"], data["styles"])
        return data


class DatasetImportForm(forms.Form):
    name = forms.CharField(
        max_length=80, validators=[validate_slug], help_text="Unique name for the dataset."
    )
    language = forms.CharField(
        max_length=16, required=False, help_text="Language of rows without a locale, e.g. es."
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    folder = forms.CharField(
        max_length=1000,
        required=False,
        help_text="A folder on the server holding the TSV or CSV and the clips.",
    )
    archive = forms.FileField(
        required=False,
        help_text="Or a zip with the same layout.",
        validators=[validate_upload_size],
    )
    limit = forms.IntegerField(min_value=1, required=False, help_text="Keep a random subset of this many.")
    seed = forms.IntegerField(
        min_value=0, required=False, help_text="Seed of the subset; drawn and stored when empty."
    )

    def clean_name(self):
        from synthesis.models import SpeechDataset

        name = self.cleaned_data["name"]
        if SpeechDataset.objects.filter(name=name).exists():
            raise forms.ValidationError("A speech dataset with this name exists already.")
        return name

    def clean(self):
        data = super().clean()
        if bool(data.get("folder")) == bool(data.get("archive")):
            raise forms.ValidationError("Give either a server folder or a zip archive.")
        if data.get("seed") is not None and not data.get("limit"):
            self.add_error("seed", "A seed only chooses a subset: give the subset size too.")
        return data
