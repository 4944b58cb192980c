import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0007_one_clip_trials"),
    ]

    operations = [
        migrations.RemoveConstraint(model_name="assignment", name="assignment_unique_sample"),
        migrations.RemoveField(model_name="assignment", name="test_sample"),
        migrations.AlterField(
            model_name="assignment",
            name="trial",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT,
                related_name="assignments",
                to="annotations.trial",
            ),
        ),
        migrations.AddConstraint(
            model_name="assignment",
            constraint=models.UniqueConstraint(fields=("evaluator", "trial"), name="assignment_unique_trial"),
        ),
        migrations.RemoveConstraint(model_name="rating", name="rating_unique_per_dimension"),
        migrations.AddConstraint(
            model_name="rating",
            constraint=models.UniqueConstraint(
                condition=models.Q(("trial__isnull", True)),
                fields=("evaluator", "sample", "dimension"),
                name="rating_unique_per_dimension",
            ),
        ),
        migrations.AddConstraint(
            model_name="rating",
            constraint=models.UniqueConstraint(
                condition=models.Q(("trial__isnull", False)),
                fields=("evaluator", "trial", "sample", "dimension"),
                name="rating_unique_per_trial_dimension",
            ),
        ),
    ]
