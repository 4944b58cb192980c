"""Every existing clip becomes a one-clip ACR trial; assignments and ratings point at it."""

from django.db import migrations


def to_trials(apps, schema_editor):
    TestSample = apps.get_model("annotations", "TestSample")
    Trial = apps.get_model("annotations", "Trial")
    TrialClip = apps.get_model("annotations", "TrialClip")
    Assignment = apps.get_model("annotations", "Assignment")
    Rating = apps.get_model("annotations", "Rating")
    for clip in TestSample.objects.order_by("pk").iterator():
        trial = Trial.objects.create(test_id=clip.test_id, kind=clip.kind)
        trial_clip = TrialClip.objects.create(trial=trial, test_sample=clip, role="", position=0)
        Assignment.objects.filter(test_sample=clip).update(trial=trial, clip_order=[trial_clip.pk])
        Rating.objects.filter(test_sample=clip).update(trial=trial)


def to_clips(apps, schema_editor):
    Assignment = apps.get_model("annotations", "Assignment")
    TrialClip = apps.get_model("annotations", "TrialClip")
    for trial_clip in TrialClip.objects.filter(position=0).iterator():
        Assignment.objects.filter(trial_id=trial_clip.trial_id).update(
            test_sample_id=trial_clip.test_sample_id
        )


class Migration(migrations.Migration):
    dependencies = [
        ("annotations", "0006_scales_trials_methods"),
    ]

    operations = [
        migrations.RunPython(to_trials, to_clips),
    ]
