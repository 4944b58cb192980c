"""What is spoken: sentence sets and their sentences, and the voice styles."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class SentenceSet(models.Model):
    name = models.SlugField(max_length=80, unique=True, help_text="Short unique name, e.g. demo-en.")
    description = models.TextField(
        blank=True, help_text="What the sentences are for and where they come from."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Sentence(models.Model):
    sentence_set = models.ForeignKey(SentenceSet, on_delete=models.CASCADE, related_name="sentences")
    position = models.PositiveIntegerField(help_text="Line number in the imported file (1-based).")
    text = models.TextField(help_text="The text to synthesise; also the reference transcript for WER.")
    language = models.CharField(
        max_length=16, default="en", help_text="BCP 47 language code, e.g. en, es, en-US."
    )
    tags = models.JSONField(default=list, blank=True, help_text="Free labels such as question or long.")
    reference_audio = models.FileField(
        upload_to="reference/", blank=True, help_text="Optional human recording of this sentence."
    )

    class Meta:
        ordering = ["sentence_set", "position"]
        constraints = [
            models.UniqueConstraint(fields=["sentence_set", "position"], name="sentence_unique_position"),
            models.CheckConstraint(condition=~Q(text=""), name="sentence_text_not_empty"),
            models.CheckConstraint(condition=~Q(language=""), name="sentence_language_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.sentence_set.name}#{self.position}"


class StylePreset(models.Model):
    name = models.SlugField(max_length=40, unique=True, help_text="Style name, e.g. neutral or warm.")
    description = models.TextField(blank=True, help_text="What the style should sound like.")
    length_scale = models.FloatField(
        default=1.0, help_text="Piper phoneme duration factor; above 1 is slower."
    )
    noise_scale = models.FloatField(
        default=0.667, help_text="Piper generator noise; more gives livelier prosody."
    )
    noise_w_scale = models.FloatField(default=0.8, help_text="Piper duration noise; more gives freer rhythm.")
    volume = models.FloatField(default=1.0, help_text="Output gain applied by Piper (1 keeps the level).")
    speaker_id = models.PositiveIntegerField(
        null=True, blank=True, help_text="Speaker of a multi-speaker voice."
    )
    espeak_pitch = models.PositiveSmallIntegerField(default=50, help_text="espeak-ng base pitch, 0-99.")
    espeak_range = models.PositiveSmallIntegerField(default=50, help_text="espeak-ng pitch range, 0-99.")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(length_scale__gt=0), name="style_length_scale_positive"),
            models.CheckConstraint(condition=Q(noise_scale__gte=0), name="style_noise_scale_non_negative"),
            models.CheckConstraint(condition=Q(noise_w_scale__gte=0), name="style_noise_w_non_negative"),
            models.CheckConstraint(condition=Q(volume__gt=0), name="style_volume_positive"),
            models.CheckConstraint(condition=Q(espeak_pitch__lte=99), name="style_espeak_pitch_range"),
            models.CheckConstraint(condition=Q(espeak_range__lte=99), name="style_espeak_range_range"),
        ]

    def __str__(self) -> str:
        return self.name

    def parameters(self) -> dict:
        return {
            "length_scale": self.length_scale,
            "noise_scale": self.noise_scale,
            "noise_w_scale": self.noise_w_scale,
            "volume": self.volume,
            "speaker_id": self.speaker_id,
            "espeak_pitch": self.espeak_pitch,
            "espeak_range": self.espeak_range,
        }
