"""Speech datasets: recorded utterances with their transcripts, the input of STT WER runs."""

import numpy as np
from django.db import models
from django.db.models import Q
from django.utils import timezone

from synthesis.engines.audio import read_any_audio, resample


def utterance_upload_to(instance: "Utterance", filename: str) -> str:
    """Name a clip after its content hash, so identical bytes share one stored file."""
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"datasets/{instance.sha256[:2]}/{instance.sha256}.{suffix}"


class SpeechDataset(models.Model):
    """Recorded utterances with reference transcripts, imported for WER benchmarks."""

    name = models.SlugField(max_length=80, unique=True, help_text="Short unique name, e.g. cv-es-test.")
    description = models.TextField(blank=True, help_text="Where the recordings come from and their licence.")
    language = models.CharField(
        max_length=16,
        default="es",
        help_text="BCP 47 language of utterances whose row names none, e.g. es, en.",
    )
    source = models.CharField(
        max_length=300,
        blank=True,
        help_text="What was imported, e.g. 'Common Voice TSV validated.tsv' or 'CSV manifest manifest.csv'.",
    )
    limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Size of the random subset kept; empty when the whole set was kept."
    )
    seed = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="Seed of the random subset (numpy default_rng); empty for the whole set.",
    )
    import_report = models.JSONField(
        default=dict,
        blank=True,
        help_text="Rows read, good and imported counts, and each skipped row as {line, file, reason}.",
    )
    created_at = models.DateTimeField(default=timezone.now, help_text="When the dataset was imported.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Utterance(models.Model):
    """One recorded clip of a speech dataset and what it says."""

    dataset = models.ForeignKey(SpeechDataset, on_delete=models.CASCADE, related_name="utterances")
    position = models.PositiveIntegerField(
        help_text="Line of this row in the source TSV or CSV (1 = header)."
    )
    source_name = models.CharField(max_length=300, help_text="Clip file name as listed in the source file.")
    transcript = models.TextField(help_text="Reference transcript, as written in the source file.")
    language = models.CharField(max_length=16, help_text="BCP 47 language code, e.g. es, en-US.")
    audio = models.FileField(
        upload_to=utterance_upload_to,
        max_length=200,
        help_text="The clip as imported, stored once per content hash (datasets/ab/<sha256>.<ext>).",
    )
    sha256 = models.CharField(max_length=64, db_index=True, help_text="SHA-256 of the clip's bytes.")
    duration_s = models.FloatField(help_text="Clip duration in seconds.")
    sample_rate = models.PositiveIntegerField(help_text="Sample rate of the stored file.")

    class Meta:
        ordering = ["dataset", "position"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "position"], name="utterance_unique_position"),
            models.CheckConstraint(condition=~Q(transcript=""), name="utterance_transcript_not_empty"),
            models.CheckConstraint(condition=Q(duration_s__gt=0), name="utterance_duration_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset.name}#{self.position}"

    def audio_16k(self) -> np.ndarray:
        """The clip decoded to float32 mono at 16 kHz, as the STT engines take it."""
        with self.audio.open("rb") as handle:
            audio, sample_rate = read_any_audio(handle.read())
        return resample(audio, sample_rate, 16000)
