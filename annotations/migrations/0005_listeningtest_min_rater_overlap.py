from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0004_crowd_completion"),
    ]

    operations = [
        migrations.AddField(
            model_name="listeningtest",
            name="min_rater_overlap",
            field=models.PositiveSmallIntegerField(
                default=5,
                help_text="Screening: the low-correlation rule judges a rater only when they share at least "
                "this many test clips with the other raters (fewer shared clips give a meaningless "
                "correlation).",
            ),
        ),
    ]
