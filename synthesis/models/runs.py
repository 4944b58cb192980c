"""Runs and their items: what was asked, in which mode, and how far it got."""

from django.conf import settings
from django.db import models
from django.db.models import Count, Q
from django.utils import timezone

from synthesis import modes
from synthesis.engines import pipeline
from synthesis.engines.settings import PipelineSettings
from synthesis.models.configs import PipelineConfig
from synthesis.models.sentences import Sentence, SentenceSet, StylePreset


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


def run_mode_choices() -> list[tuple[str, str]]:
    """The registered run modes (synthesis.modes), read when needed so a new mode needs no migration."""
    return modes.mode_choices()


class SynthesisRun(models.Model):
    name = models.CharField(max_length=120, help_text="Free label for this run.")
    mode = models.CharField(
        max_length=16,
        choices=run_mode_choices,
        default=modes.DEFAULT_MODE,
        help_text="What each item runs and measures; see synthesis.modes.",
    )
    config = models.ForeignKey(PipelineConfig, on_delete=models.PROTECT, related_name="runs")
    dataset = models.ForeignKey(
        "SpeechDataset",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="runs",
        help_text="Speech dataset whose utterances the items transcribe (STT WER runs).",
    )
    sentence_sets = models.ManyToManyField(SentenceSet, related_name="runs")
    styles = models.ManyToManyField(StylePreset, related_name="runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    total_count = models.PositiveIntegerField(default=0, help_text="Items in this run.")
    done_count = models.PositiveIntegerField(default=0, help_text="Items finished with a sample.")
    failed_count = models.PositiveIntegerField(default=0, help_text="Items that failed.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True, help_text="When the first item was claimed.")
    finished_at = models.DateTimeField(null=True, blank=True, help_text="When the last item ended.")
    error = models.TextField(blank=True, help_text="Why the run as a whole failed, if it did.")
    config_snapshot = models.JSONField(
        default=dict, blank=True, help_text="The configuration as it was at start."
    )
    style_snapshot = models.JSONField(
        default=dict, blank=True, help_text="Style parameters as they were at start."
    )
    library_versions = models.JSONField(
        default=dict, blank=True, help_text="Versions of the inference libraries."
    )
    model_files = models.JSONField(
        default=list, blank=True, help_text="Model files used: path, size, sha256."
    )
    cpu_description = models.CharField(max_length=300, blank=True, help_text="CPU model and core count.")
    in_process_by = models.CharField(
        max_length=200,
        blank=True,
        help_text="host:pid of the command running this run in its own process (synthesize --in-process); "
        "empty when Celery workers run it.",
    )
    benchmark = models.JSONField(
        default=dict,
        blank=True,
        help_text="Iteration runs (latency, llm-speed): the plan of items, and what the serial runner "
        "recorded (seconds waited for the machine to be idle, contention).",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(done_count__lte=models.F("total_count")), name="run_done_within_total"
            ),
            models.CheckConstraint(
                condition=Q(failed_count__lte=models.F("total_count")), name="run_failed_within_total"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"

    @property
    def system_label(self) -> str:
        return self.config_snapshot.get("system_label") or self.config.system_label

    @property
    def pipeline_settings(self) -> PipelineSettings:
        """The configuration frozen at start as the engines read it; keys added since take their defaults."""
        return PipelineSettings.from_snapshot(self.config_snapshot)

    @property
    def stt_choice(self) -> str:
        """The Whisper model and encoder window the clips of an STT WER run went through.

        Runs started before STT WER runs transcribed as the turns do (modes.STT_AS_TURNS) used
        stt_model with Whisper's 30 s window, whatever else their configuration held.
        """
        config = self.pipeline_settings
        if not (self.benchmark or {}).get(modes.STT_AS_TURNS):
            return f"{config.stt_model}, 30 s window"
        language = self.dataset.language if self.dataset_id else ""
        return pipeline.stt_choice(config, language)

    @property
    def is_finished(self) -> bool:
        return self.status in {Status.DONE, Status.FAILED, Status.CANCELLED}

    @staticmethod
    def default_name(set_names: list[str], style_names: list[str]) -> str:
        """What a run is called when nobody names it: 'demo-en × neutral,warm'."""
        return f"{','.join(set_names)} × {','.join(style_names)}"[:120]


class RunItemQuerySet(models.QuerySet):
    def status_counts(self) -> dict:
        rows = self.values("status").annotate(n=Count("id"))
        return {row["status"]: row["n"] for row in rows}


class RunItem(models.Model):
    run = models.ForeignKey(SynthesisRun, on_delete=models.CASCADE, related_name="items")
    sentence = models.ForeignKey(
        Sentence, null=True, blank=True, on_delete=models.PROTECT, related_name="run_items"
    )
    style = models.ForeignKey(
        StylePreset, null=True, blank=True, on_delete=models.PROTECT, related_name="run_items"
    )
    utterance = models.ForeignKey(
        "Utterance",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="run_items",
        help_text="STT WER runs: the recorded utterance this item transcribes (instead of a sentence).",
    )
    iteration = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Iteration runs: the item's 0-based position in the run's plan (SynthesisRun.benchmark).",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="How many times a worker claimed it.")
    claimed_by = models.CharField(max_length=200, blank=True, help_text="host:pid of the worker holding it.")
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="After this a RUNNING item is free."
    )
    queued_at = models.DateTimeField(
        default=timezone.now, help_text="When its latest message was sent; a long wait means it was lost."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Readable reason when the item failed.")
    stage = models.CharField(
        max_length=40,
        blank=True,
        help_text="Pipeline stage the item was last in (e.g. llm); names the stage when a worker dies.",
    )
    prompt_audio = models.FileField(
        upload_to="prompts/",
        blank=True,
        help_text="Conversation mode: the spoken prompt (uploaded or synthesised).",
    )

    objects = RunItemQuerySet.as_manager()

    class Meta:
        ordering = ["run", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "sentence", "style"], name="run_item_unique"),
            models.UniqueConstraint(fields=["run", "utterance"], name="run_item_unique_utterance"),
            models.UniqueConstraint(fields=["run", "iteration"], name="run_item_unique_iteration"),
            models.CheckConstraint(
                condition=Q(sentence__isnull=False, style__isnull=False)
                | Q(utterance__isnull=False)
                | Q(iteration__isnull=False),
                name="run_item_has_input",
            ),
        ]

    def __str__(self) -> str:
        if self.utterance_id:
            return f"run {self.run_id} · {self.utterance}"
        if self.iteration is not None:
            return f"run {self.run_id} · iteration {self.iteration}"
        return f"run {self.run_id} · {self.sentence} · {self.style}"
