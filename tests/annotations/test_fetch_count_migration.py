"""Migration 0022: the fetches an evaluator made up to their latest stored answer count as spent."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import TransactionTestCase
from django.utils import timezone

from annotations.models import ClipFetch, Rating
from tests.factories import build_test, ensure_default_scales, evaluator_at_rating, fetch_whole, heard
from tests.migrating import migrate_to_newest

# a migration that rewrites rows with an aggregate: repeated on PostgreSQL + Redis
pytestmark = pytest.mark.backends


class FetchCountMigrationTests(TransactionTestCase):
    def setUp(self):
        ensure_default_scales()

    def migrate(self, target: tuple[str, str]) -> None:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate([target])

    def tearDown(self):
        migrate_to_newest()

    def test_fetches_before_each_evaluators_latest_answer_are_spent_and_later_ones_are_not(self):
        test = build_test()
        rater, newcomer = evaluator_at_rating(test), evaluator_at_rating(test)
        clips = [a.presented_clips()[0].test_sample for a in rater.assignments.order_by("position")]
        heard(rater, clips[0])
        rating = Rating.objects.create(
            evaluator=rater,
            sample_id=clips[0].sample_id,
            test_sample=clips[0],
            trial=rater.assignments.order_by("position")[0].trial,
            dimension=test.rated_dimensions[0],
            score=4,
            received_at=timezone.now(),
        )
        fetch_whole(rater, clips[1], started_at=rating.received_at + timedelta(seconds=1))  # the next trial
        fetch_whole(newcomer, clips[0], started_at=rating.received_at)  # nobody answered yet
        ClipFetch.objects.update(counted_at=None)

        self.migrate(("annotations", "0021_request_counts"))
        self.migrate(("annotations", "0022_listening_per_trial"))

        spent = dict(
            ClipFetch.objects.values_list("evaluator__pseudonym", "test_sample").filter(
                counted_at__isnull=False
            )
        )
        self.assertEqual(spent, {rater.pseudonym: clips[0].pk})
        self.assertEqual(
            ClipFetch.objects.get(evaluator=rater, test_sample=clips[0]).counted_at, rating.received_at
        )
        self.assertEqual(ClipFetch.objects.filter(counted_at__isnull=True).count(), 2)
