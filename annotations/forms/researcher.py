"""The researcher's smaller forms: invite links and importing samples made elsewhere."""

from django import forms

from annotations import services
from synthesis.forms import validate_upload_size


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
    origin = forms.ChoiceField(choices=[(o.value, o.label) for o in services.EXTERNAL_ORIGINS])
