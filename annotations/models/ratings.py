"""Answers: ratings (a score or a transcript per dimension) and the artifact marks stored with them."""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from annotations.models.evaluators import Evaluator
from annotations.models.listening_tests import TestSample
from annotations.models.trials import Trial
from synthesis.models import Sample


class RatingQuerySet(models.QuerySet):
    def originals(self) -> "RatingQuerySet":
        """Leave out answers to repeated trials (kept for consistency, never for the main statistics)."""
        return self.filter(trial__repeat_of__isnull=True)


class Rating(models.Model):
    evaluator = models.ForeignKey(Evaluator, on_delete=models.CASCADE, related_name="ratings")
    sample = models.ForeignKey(Sample, on_delete=models.PROTECT, related_name="ratings")
    test_sample = models.ForeignKey(
        TestSample,
        null=True,
        blank=True,
        on_delete=models.RESTRICT,
        related_name="ratings",
        help_text="How the sample appeared in the test (clip kind); empty for imported ratings.",
    )
    trial = models.ForeignKey(
        Trial,
        null=True,
        blank=True,
        on_delete=models.RESTRICT,
        related_name="ratings",
        help_text="The trial answered; empty for imported ratings.",
    )
    dimension = models.CharField(max_length=40, default="overall", help_text="What was rated, e.g. overall.")
    score = models.SmallIntegerField(
        null=True,
        blank=True,
        help_text="A value of the test's scale (checked when it is stored); empty for a transcript.",
    )
    transcript = models.TextField(
        blank=True,
        db_default="",
        help_text='Intelligibility (dimension "transcript"): what the evaluator typed, trimmed; empty for '
        "a score.",
    )
    played_to_end = models.BooleanField(
        default=False, help_text="The browser reported the clip played to the end."
    )
    play_count = models.PositiveSmallIntegerField(
        default=1, help_text="How many times the page says the clip was played (the browser's own count)."
    )
    server_play_count = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Plays the server sent for this answer: the most of any clip of the trial, counted from "
        "its audio requests as the play limit counts them. Empty for imports and for answers stored before "
        "the server counted plays.",
    )
    time_to_answer_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="From the end of the first playback to the answer."
    )
    first_fetch_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=(
            "Server time when this evaluator's first fetch of the trial's clips began; empty for imports."
        ),
    )
    fetch_count = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Audio requests for the trial's clips the server saw before the answer; empty for imports.",
    )
    received_at = models.DateTimeField(
        null=True, blank=True, help_text="Server time when the answer arrived; empty for imports."
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = RatingQuerySet.as_manager()

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["evaluator", "sample", "dimension"],
                condition=Q(trial__isnull=True),
                name="rating_unique_per_dimension",
            ),
            models.UniqueConstraint(
                fields=["evaluator", "trial", "sample", "dimension"],
                condition=Q(trial__isnull=False),
                name="rating_unique_per_trial_dimension",
            ),
            # A score or a transcript, never both and never neither: code reading scores of a
            # scored method never meets an empty one.
            models.CheckConstraint(
                condition=Q(score__isnull=False, transcript="") | (Q(score__isnull=True) & ~Q(transcript="")),
                name="rating_score_or_transcript",
            ),
        ]

    def __str__(self) -> str:
        answer = self.score if self.score is not None else repr(self.transcript[:40])
        return f"{self.evaluator} · sample {self.sample_id} · {self.dimension}={answer}"


MAX_MARKS_PER_ANSWER = 50
MARK_TOLERANCE_S = 0.5  # a browser's currentTime may run a little past the decoded duration


class ArtifactMark(models.Model):
    """A moment of a clip where an evaluator heard a problem, stored with their answer to the trial."""

    evaluator = models.ForeignKey(Evaluator, on_delete=models.CASCADE, related_name="artifact_marks")
    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="artifact_marks")
    test_sample = models.ForeignKey(TestSample, on_delete=models.CASCADE, related_name="artifact_marks")
    start_s = models.FloatField(help_text="Where the marked region begins, in seconds from the clip's start.")
    end_s = models.FloatField(help_text="Where the marked region ends, in seconds (at or after start_s).")
    label = models.CharField(
        max_length=60, blank=True, help_text="One of the test's artifact labels, or empty for no label."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["test_sample_id", "start_s", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(start_s__gte=0, end_s__gte=F("start_s")), name="artifact_mark_ordered_times"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.evaluator} · clip {self.test_sample_id} · {self.start_s:.2f}-{self.end_s:.2f} s"
