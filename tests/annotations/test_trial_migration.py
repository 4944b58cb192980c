"""Assignments and ratings of the one-clip era move onto one-clip trials with the migration."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import TransactionTestCase

from tests.factories import ensure_default_scales
from tests.migrating import database_at, migrate_to_newest

pytestmark = pytest.mark.backends  # a migration that rewrites rows: repeated on PostgreSQL + Redis

BEFORE = ("annotations", "0005_listeningtest_min_rater_overlap")
AFTER = ("annotations", "0008_assignment_trial_required")


class OneClipTrialMigrationTests(TransactionTestCase):
    def migrate(self, target, back: bool = False):
        executor = MigrationExecutor(connection)
        # synthesis stays at its newest state, which its rows in the database have.
        targets = [target, *(node for node in executor.loader.graph.leaf_nodes() if node[0] == "synthesis")]
        if back:
            return database_at(targets)
        executor.migrate(targets)
        return executor.loader.project_state(targets).apps

    def tearDown(self):
        migrate_to_newest()

    def test_each_assignment_and_rating_points_at_a_one_clip_trial_of_its_clip(self):
        old = self.migrate(BEFORE, back=True)
        scale = ensure_default_scales(old.get_model("annotations", "Scale"))
        test = old.get_model("annotations", "ListeningTest").objects.create(name="old-test", scale=scale)
        Sample = old.get_model("synthesis", "Sample")
        TestSample = old.get_model("annotations", "TestSample")
        clips = [
            TestSample.objects.create(
                test=test,
                kind=kind,
                expected_score=5 if kind == "gold" else None,
                sample=Sample.objects.create(
                    system_label="piper",
                    style_label="neutral",
                    text=f"Sentence {number}.",
                    audio=f"samples/{number}.wav",
                    duration_s=2.0,
                    sample_rate=22050,
                ),
            )
            for number, kind in enumerate(("test", "test", "gold", "test"), start=1)
        ]
        Evaluator = old.get_model("annotations", "Evaluator")
        Assignment = old.get_model("annotations", "Assignment")
        Rating = old.get_model("annotations", "Rating")
        assigned, rated = {}, {}
        for number, order in enumerate(([0, 1, 2], [3, 2, 1, 0]), start=1):
            evaluator = Evaluator.objects.create(test=test, pseudonym=f"R{number}")
            for position, index in enumerate(order):
                clip = clips[index]
                assignment = Assignment.objects.create(
                    evaluator=evaluator, test_sample=clip, position=position
                )
                assigned[assignment.pk] = (clip.pk, evaluator.pk, position)
                for dimension, score in (("overall", 1 + index), ("clarity", 5 - index)):
                    rating = Rating.objects.create(
                        evaluator=evaluator,
                        sample=clip.sample,
                        test_sample=clip,
                        dimension=dimension,
                        score=score,
                    )
                    rated[rating.pk] = (clip.pk, score)

        new = self.migrate(AFTER)

        trials = new.get_model("annotations", "Trial").objects.filter(test_id=test.pk)
        clips_of = {
            trial.pk: [(c.pk, c.test_sample_id, c.position, c.role) for c in trial.trial_clips.all()]
            for trial in trials
        }
        self.assertEqual(len(clips_of), len(clips))
        self.assertTrue(all(len(trial_clips) == 1 for trial_clips in clips_of.values()), clips_of)
        self.assertEqual(
            sorted(clip for [(_, clip, _, _)] in clips_of.values()), sorted(clip.pk for clip in clips)
        )
        self.assertEqual(
            {trial.pk: trial.kind for trial in trials}[self.trial_of(clips_of, clips[2].pk)], "gold"
        )
        for assignment in new.get_model("annotations", "Assignment").objects.all():
            clip, evaluator, position = assigned[assignment.pk]
            with self.subTest(assignment=assignment.pk):
                [(trial_clip, test_sample, clip_position, role)] = clips_of[assignment.trial_id]
                self.assertEqual((test_sample, clip_position, role), (clip, 0, ""))
                self.assertEqual(assignment.clip_order, [trial_clip])
                self.assertEqual((assignment.evaluator_id, assignment.position), (evaluator, position))
        ratings = new.get_model("annotations", "Rating").objects.all()
        self.assertEqual(len(ratings), len(rated))
        for rating in ratings:
            clip, score = rated[rating.pk]
            with self.subTest(rating=rating.pk):
                self.assertEqual(rating.trial_id, self.trial_of(clips_of, clip))
                self.assertEqual((rating.test_sample_id, rating.score), (clip, score))

    @staticmethod
    def trial_of(clips_of: dict, clip: int) -> int:
        [trial] = [trial for trial, [(_, test_sample, _, _)] in clips_of.items() if test_sample == clip]
        return trial
