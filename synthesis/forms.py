from django import forms
from django.conf import settings
from django.core.validators import validate_slug


class SentenceImportForm(forms.Form):
    name = forms.CharField(
        max_length=80, validators=[validate_slug], help_text="Unique name for the new set."
    )
    language = forms.CharField(max_length=16, initial="en", help_text="Language of lines without their own.")
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    file = forms.FileField(help_text="UTF-8 text (one sentence per line) or CSV with text[,language][,tags].")

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.SARAI_MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size} bytes; the limit is {settings.SARAI_MAX_UPLOAD_BYTES} bytes."
            )
        return upload

    def clean_name(self):
        from synthesis.models import SentenceSet

        name = self.cleaned_data["name"]
        if SentenceSet.objects.filter(name=name).exists():
            raise forms.ValidationError("A sentence set with this name exists already.")
        return name
