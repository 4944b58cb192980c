"""Trials (what one page asks), their clips, and each evaluator's assignment of them."""

from django.db import models

from annotations.models.evaluators import Evaluator
from annotations.models.listening_tests import ListeningTest, TestSample


class Trial(models.Model):
    """What an evaluator answers on one page: one clip for ACR, a pair or a set for other methods."""

    test = models.ForeignKey(ListeningTest, on_delete=models.CASCADE, related_name="trials")
    kind = models.CharField(
        max_length=8,
        choices=TestSample.Kind.choices,
        default=TestSample.Kind.TEST,
        help_text="Test, gold or trapping trial; sessions mix them like the clips they hold.",
    )
    clips = models.ManyToManyField(TestSample, through="TrialClip", related_name="trials")
    repeat_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="repeats",
        help_text="Set on a repeat: the trial it repeats, with the same clips and roles, built for one "
        "evaluator's session and shown later in it in swapped order to measure consistency. Repeats "
        "never count towards the ratings target or the main statistics.",
    )

    class Meta:
        # Ordered by key columns, never by a related model (whose own ordering would join its table
        # into every query): the evaluator requests read these rows on every page.
        ordering = ["test_id", "id"]

    def __str__(self) -> str:
        return f"{self.test.name}:trial {self.pk}"


class TrialClip(models.Model):
    trial = models.ForeignKey(Trial, on_delete=models.CASCADE, related_name="trial_clips")
    # RESTRICT, not PROTECT: a clip with trials cannot be deleted alone, but deleting its whole test
    # (which cascades to both) can.
    test_sample = models.ForeignKey(TestSample, on_delete=models.RESTRICT, related_name="trial_clips")
    role = models.CharField(
        max_length=20,
        blank=True,
        help_text='The clip\'s part in the trial: "X" or "Y" in a CMOS or A/B pair (X is the condition, '
        '(system, style), that sorts first); "reference" (hidden), "anchor" or "condition" on a MUSHRA '
        'page; "" for a one-clip trial. Never shown to evaluators.',
    )
    position = models.PositiveSmallIntegerField(help_text="Order in the trial as built, from 0.")

    class Meta:
        ordering = ["trial_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["trial", "position"], name="trial_clip_unique_position"),
            models.UniqueConstraint(fields=["trial", "test_sample"], name="trial_clip_unique_sample"),
        ]

    def __str__(self) -> str:
        return f"{self.trial} · {self.role or self.position}"


class Assignment(models.Model):
    evaluator = models.ForeignKey(Evaluator, on_delete=models.CASCADE, related_name="assignments")
    trial = models.ForeignKey(Trial, on_delete=models.RESTRICT, related_name="assignments")
    position = models.PositiveIntegerField(help_text="Order in the evaluator's session, from 0.")
    clip_order = models.JSONField(
        default=list,
        help_text="TrialClip ids in the order this evaluator is presented them; in a pair the first is "
        'clip "A" (played first) and the second clip "B".',
    )

    class Meta:
        ordering = ["evaluator_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["evaluator", "trial"], name="assignment_unique_trial"),
            models.UniqueConstraint(fields=["evaluator", "position"], name="assignment_unique_position"),
        ]

    _presented: list[TrialClip] | None = None

    def __str__(self) -> str:
        return f"{self.evaluator} #{self.position}"

    def presented_clips(self) -> list[TrialClip]:
        """The trial's clips in this evaluator's order (the trial's own order if none was stored).

        Read once per instance: a trial's clips never change once its test is created.
        """
        if self._presented is None:
            clips = {clip.pk: clip for clip in self.trial.trial_clips.select_related("test_sample__sample")}
            order = [pk for pk in self.clip_order if pk in clips]
            order = order or sorted(clips, key=lambda pk: clips[pk].position)
            self._presented = [clips[pk] for pk in order]
        return list(self._presented)
