"""Evaluators (one per session of a test) and the trials of their headphone screen."""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from annotations.models.listening_tests import ListeningTest
from annotations.models.tokens import new_token

# An evaluator idle this long releases the clips they have not rated yet, so abandoned crowd
# sessions do not hold samples below their target for ever. A returning evaluator keeps their
# assignment; the sample may then get a rating more than its target.
IDLE_RELEASE = timedelta(hours=2)


class EvaluatorQuerySet(models.QuerySet):
    def active(self, now: datetime | None = None) -> "EvaluatorQuerySet":
        """Evaluators in a session that has not finished and was seen within IDLE_RELEASE."""
        cutoff = (now or timezone.now()) - IDLE_RELEASE
        # A screened-out evaluator will never rate: their clips go back to the others at once.
        # Nor will a revoked one: their unanswered clips go back at once too.
        return self.filter(
            finished_at__isnull=True,
            screened_out_at__isnull=True,
            revoked_at__isnull=True,
            last_seen_at__gte=cutoff,
        )


class Evaluator(models.Model):
    test = models.ForeignKey(ListeningTest, on_delete=models.CASCADE, related_name="evaluators")
    token = models.CharField(
        max_length=40, unique=True, default=new_token, help_text="Personal invite token."
    )
    pseudonym = models.CharField(max_length=40, help_text="Stable pseudonym used in exports, e.g. R007.")
    external_id = models.CharField(
        max_length=100, blank=True, help_text="Crowd participant id (PROLIFIC_PID)."
    )
    study_id = models.CharField(max_length=100, blank=True, help_text="Crowd study id (STUDY_ID).")
    session_id = models.CharField(max_length=100, blank=True, help_text="Crowd session id (SESSION_ID).")
    consented_at = models.DateTimeField(null=True, blank=True, help_text="When consent was given.")
    checked_at = models.DateTimeField(
        null=True, blank=True, help_text="When the headphone screen was passed."
    )
    screened_out_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the headphone screen was failed for good; the session ended there, without ratings.",
    )
    trained_at = models.DateTimeField(null=True, blank=True, help_text="When the training clips were done.")
    training_done = models.PositiveSmallIntegerField(default=0, help_text="Training clips answered so far.")
    last_seen_at = models.DateTimeField(
        null=True, blank=True, help_text="Last assignment or rating; idle sessions release their clips."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the invite token was revoked: its pages are gone, its ratings are kept.",
    )
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Who revoked the invite token.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    objects = EvaluatorQuerySet.as_manager()

    class Meta:
        ordering = ["test_id", "pseudonym"]
        constraints = [
            models.UniqueConstraint(fields=["test", "pseudonym"], name="evaluator_unique_pseudonym"),
            models.UniqueConstraint(
                fields=["test", "external_id"],
                condition=~Q(external_id=""),
                name="evaluator_unique_external_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.test.name}:{self.pseudonym}"

    @property
    def step(self) -> str:
        """Where the session stands: consent, check, training, rate, finish or screened_out."""
        if self.screened_out_at:
            return "screened_out"
        if self.finished_at:
            return "finish"
        if not self.consented_at:
            return "consent"
        if not self.checked_at:
            return "check"
        if not self.trained_at:
            return "training"
        return "rate"

    @property
    def session_state(self) -> str:
        """Where the session stands, in words for the researchers' pages."""
        if self.revoked_at:
            return "revoked"
        return {
            "screened_out": "screened out by the headphone screen",
            "finish": "finished",
            "consent": "not started",
            "check": "in progress: headphone screen",
            "training": "in progress: practice",
            "rate": "in progress: rating",
        }[self.step]


class ScreenTrial(models.Model):
    """One three-tone trial of an evaluator's headphone screen; the answer key never leaves the server."""

    evaluator = models.ForeignKey(Evaluator, on_delete=models.CASCADE, related_name="screen_trials")
    attempt = models.PositiveSmallIntegerField(help_text="1 for the first attempt, 2 for the one retry.")
    number = models.PositiveSmallIntegerField(help_text="Order within the attempt, from 1.")
    quiet_position = models.PositiveSmallIntegerField(
        help_text="Which tone (1-3) is 6 dB quieter: the answer."
    )
    antiphase_position = models.PositiveSmallIntegerField(
        help_text="Which tone (1-3) is in antiphase between the ears: the loudspeaker decoy."
    )
    answer = models.PositiveSmallIntegerField(
        null=True, blank=True, help_text="The tone (1-3) the evaluator chose; empty until answered."
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["evaluator_id", "attempt", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["evaluator", "attempt", "number"], name="screen_trial_unique_number"
            ),
            models.CheckConstraint(
                condition=~Q(quiet_position=F("antiphase_position")), name="screen_trial_decoy_not_answer"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.evaluator} · screen {self.attempt}.{self.number}"

    @property
    def correct(self) -> bool:
        return self.answer == self.quiet_position
