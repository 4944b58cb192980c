import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0008_assignment_trial_required"),
    ]

    operations = [
        migrations.CreateModel(
            name="Analysis",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "thresholds",
                    models.JSONField(help_text="Screening settings the analysis used (min_variance, ...)."),
                ),
                (
                    "min_overlap",
                    models.PositiveIntegerField(
                        help_text="The test's minimum rater overlap when it was queued."
                    ),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("queued", "Queued"),
                            ("running", "Running"),
                            ("done", "Done"),
                            ("failed", "Failed"),
                        ],
                        db_index=True,
                        default="queued",
                        max_length=10,
                    ),
                ),
                (
                    "claimed_by",
                    models.CharField(
                        blank=True, help_text="host:pid of the worker running it.", max_length=200
                    ),
                ),
                (
                    "lease_expires_at",
                    models.DateTimeField(
                        blank=True,
                        help_text="Another worker may take a running analysis after this.",
                        null=True,
                    ),
                ),
                (
                    "result",
                    models.JSONField(
                        blank=True,
                        help_text="Screening, bootstrap, agreement and mixed models, as the pages read them.",
                        null=True,
                    ),
                ),
                (
                    "seconds",
                    models.FloatField(blank=True, help_text="How long the analysis took.", null=True),
                ),
                (
                    "n_ratings",
                    models.PositiveIntegerField(
                        blank=True, help_text="Ratings the analysis covered.", null=True
                    ),
                ),
                (
                    "last_rating_id",
                    models.PositiveBigIntegerField(
                        blank=True,
                        help_text="Highest rating id covered; with n_ratings tells when it is stale.",
                        null=True,
                    ),
                ),
                ("error", models.TextField(blank=True)),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("started_at", models.DateTimeField(blank=True, null=True)),
                ("finished_at", models.DateTimeField(blank=True, null=True)),
                (
                    "test",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="analyses",
                        to="annotations.listeningtest",
                    ),
                ),
            ],
            options={"verbose_name_plural": "analyses"},
        ),
    ]
