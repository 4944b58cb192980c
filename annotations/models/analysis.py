"""Background analyses of listening tests, stored for every web process to read."""

from django.db import models
from django.utils import timezone

from annotations.models.listening_tests import ListeningTest


class Analysis(models.Model):
    """A background analysis of a listening test, claimed by one worker and read by every web process."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    test = models.ForeignKey(ListeningTest, on_delete=models.CASCADE, related_name="analyses")
    thresholds = models.JSONField(help_text="Screening settings the analysis used (min_variance, ...).")
    min_overlap = models.PositiveIntegerField(
        help_text="The test's minimum rater overlap when it was queued."
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True)
    claimed_by = models.CharField(max_length=200, blank=True, help_text="host:pid of the worker running it.")
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="Another worker may take a running analysis after this."
    )
    result = models.JSONField(
        null=True,
        blank=True,
        help_text="Screening, bootstrap, agreement and mixed models, as the pages read them.",
    )
    seconds = models.FloatField(null=True, blank=True, help_text="How long the analysis took.")
    n_ratings = models.PositiveIntegerField(null=True, blank=True, help_text="Ratings the analysis covered.")
    last_rating_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Highest rating id covered; with n_ratings tells when it is stale."
    )
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "analyses"

    def __str__(self) -> str:
        return f"analysis {self.pk} of {self.test_id} ({self.status})"
