import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0005_listeningtest_min_rater_overlap"),
    ]

    operations = [
        # Scales: existing scales get 1 to 5 from the field defaults.
        migrations.AddField(
            model_name="scale",
            name="min_value",
            field=models.SmallIntegerField(default=1, help_text="Lowest score (worst), e.g. 1, -3 or 0."),
        ),
        migrations.AddField(
            model_name="scale",
            name="max_value",
            field=models.SmallIntegerField(default=5, help_text="Highest score (best), e.g. 5, 3 or 100."),
        ),
        migrations.AlterField(
            model_name="scale",
            name="labels",
            field=models.JSONField(
                help_text='One label per score from the lowest to the highest, e.g. ["Bad", "Poor", "Fair", '
                '"Good", "Excellent"] for 1 to 5.'
            ),
        ),
        migrations.AddConstraint(
            model_name="scale",
            constraint=models.CheckConstraint(
                condition=models.Q(("min_value__lt", models.F("max_value"))), name="scale_min_below_max"
            ),
        ),
        # Scores hold any scale's values; the rating service checks them against the test's scale.
        migrations.RemoveConstraint(model_name="rating", name="rating_score_1_to_5"),
        migrations.AlterField(
            model_name="rating",
            name="score",
            field=models.SmallIntegerField(
                help_text="A value of the test's scale (checked when it is stored)."
            ),
        ),
        migrations.RemoveConstraint(model_name="testsample", name="test_sample_gold_has_expected"),
        migrations.RemoveConstraint(model_name="testsample", name="test_sample_trap_has_instruction"),
        migrations.AlterField(
            model_name="testsample",
            name="expected_score",
            field=models.SmallIntegerField(
                blank=True, null=True, help_text="Gold clips: expected score, on the test's scale."
            ),
        ),
        migrations.AlterField(
            model_name="testsample",
            name="instructed_score",
            field=models.SmallIntegerField(
                blank=True,
                null=True,
                help_text="Trapping clips: the score the clip asks for, on the test's scale.",
            ),
        ),
        migrations.AddConstraint(
            model_name="testsample",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("expected_score__isnull", False), ("kind", "gold")),
                    models.Q(("kind", "gold"), _negated=True),
                    _connector="OR",
                ),
                name="test_sample_gold_has_expected",
            ),
        ),
        migrations.AddConstraint(
            model_name="testsample",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("instructed_score__isnull", False), ("kind", "trap")),
                    models.Q(("kind", "trap"), _negated=True),
                    _connector="OR",
                ),
                name="test_sample_trap_has_instruction",
            ),
        ),
        # Methods and trials.
        migrations.AddField(
            model_name="listeningtest",
            name="method",
            field=models.CharField(
                default="acr",
                help_text="Test method (annotations.methods): what a trial holds, its page, answers and "
                "analysis.",
                max_length=40,
            ),
        ),
        migrations.CreateModel(
            name="Trial",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("test", "Test clip"),
                            ("gold", "Gold clip (known score)"),
                            ("trap", "Trapping clip (instructed answer)"),
                            ("training", "Training clip (not analysed)"),
                        ],
                        default="test",
                        help_text="Test, gold or trapping trial; sessions mix them like the clips they hold.",
                        max_length=8,
                    ),
                ),
                (
                    "test",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="trials",
                        to="annotations.listeningtest",
                    ),
                ),
            ],
            options={"ordering": ["test", "id"]},
        ),
        migrations.CreateModel(
            name="TrialClip",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "role",
                    models.CharField(
                        blank=True,
                        help_text='The clip\'s part in the trial, e.g. "A", "B", "reference".',
                        max_length=20,
                    ),
                ),
                (
                    "position",
                    models.PositiveSmallIntegerField(help_text="Order in the trial as built, from 0."),
                ),
                (
                    "test_sample",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="trial_clips",
                        to="annotations.testsample",
                    ),
                ),
                (
                    "trial",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="trial_clips",
                        to="annotations.trial",
                    ),
                ),
            ],
            options={
                "ordering": ["trial", "position"],
                "constraints": [
                    models.UniqueConstraint(fields=("trial", "position"), name="trial_clip_unique_position"),
                    models.UniqueConstraint(fields=("trial", "test_sample"), name="trial_clip_unique_sample"),
                ],
            },
        ),
        migrations.AddField(
            model_name="trial",
            name="clips",
            field=models.ManyToManyField(
                related_name="trials", through="annotations.TrialClip", to="annotations.testsample"
            ),
        ),
        migrations.AddField(
            model_name="assignment",
            name="trial",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="assignments",
                to="annotations.trial",
            ),
        ),
        migrations.AddField(
            model_name="assignment",
            name="clip_order",
            field=models.JSONField(
                default=list, help_text="TrialClip ids in the order this evaluator is presented them."
            ),
        ),
        migrations.AddField(
            model_name="rating",
            name="trial",
            field=models.ForeignKey(
                blank=True,
                help_text="The trial answered; empty for imported ratings.",
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="ratings",
                to="annotations.trial",
            ),
        ),
    ]
