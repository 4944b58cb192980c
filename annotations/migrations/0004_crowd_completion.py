import django.db.models
from django.db import migrations

import annotations.models


class Migration(migrations.Migration):
    """The researcher's completion URL (was redirect_url) and platform code; a typeable own code."""

    dependencies = [
        ("annotations", "0003_session_progress"),
    ]

    operations = [
        migrations.RenameField(
            model_name="listeningtest", old_name="redirect_url", new_name="completion_url"
        ),
        migrations.AlterField(
            model_name="listeningtest",
            name="completion_url",
            field=django.db.models.URLField(
                blank=True,
                help_text="The crowd platform's completion URL (e.g. https://app.prolific.com/submissions/"
                "complete?cc=C1A2B3C4). The finish page sends evaluators there by itself.",
                max_length=500,
            ),
        ),
        migrations.AddField(
            model_name="listeningtest",
            name="platform_code",
            field=django.db.models.CharField(
                blank=True,
                help_text="The crowd platform's completion code (e.g. Prolific's C1A2B3C4). When set, it is "
                "the code the finish page shows.",
                max_length=64,
                verbose_name="platform completion code",
            ),
        ),
        # Existing tests keep their codes: participants may have been given them already.
        migrations.AlterField(
            model_name="listeningtest",
            name="completion_code",
            field=django.db.models.CharField(
                default=annotations.models.new_completion_code,
                help_text="The app's own completion code, for platforms without redirects: shown on the "
                "finish page when the test has neither a platform code nor a completion URL.",
                max_length=40,
            ),
        ),
    ]
