"""Analyses stored as JSON files by earlier versions move into the database with the migration."""

import json
import tempfile
from pathlib import Path

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import TransactionTestCase, override_settings

from tests.factories import ensure_default_scales
from tests.migrating import database_at, migrate_to_newest

pytestmark = pytest.mark.backends  # a migration that rewrites rows: repeated on PostgreSQL + Redis

BEFORE = [("annotations", "0009_analysis")]
AFTER = [("annotations", "0010_analyses_from_files")]


class AnalysisFilesMigrationTests(TransactionTestCase):
    def migrate(self, targets):
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(targets)
        return executor.loader.project_state(targets).apps

    def tearDown(self):
        migrate_to_newest()

    def test_a_stored_analysis_file_becomes_a_done_analysis_row_and_a_foreign_file_is_ignored(self):
        var = Path(tempfile.mkdtemp(prefix="sarai-migration-"))
        (var / "analysis").mkdir()
        old = database_at(BEFORE)
        scale = ensure_default_scales(old.get_model("annotations", "Scale"))
        test = old.get_model("annotations", "ListeningTest").objects.create(name="old-test", scale=scale)
        stored = {
            "test_id": test.pk,
            "test_name": "old-test",
            "test_created_at": test.created_at.isoformat(),
            "version": [12, 40],
            "n_ratings": 12,
            "thresholds": {"min_variance": 0.1},
            "screening": {"3": {"flags": [], "reasons": [], "n_test_votes": 4}},
            "screening_n_ratings": 12,
            "bootstrap": {"x": 1},
            "agreement": [],
            "mixed_models": {},
            "seconds": 1.5,
            "computed_at": "2026-11-20T10:00:00+00:00",
        }
        (var / "analysis" / f"test-{test.pk}.json").write_text(json.dumps(stored))
        foreign = {**stored, "test_id": test.pk, "test_name": "another-test"}
        (var / "analysis" / "test-999.json").write_text(json.dumps(foreign))

        with override_settings(VAR_DIR=var):
            new = self.migrate(AFTER)
        [row] = new.get_model("annotations", "Analysis").objects.all()
        self.assertEqual(
            (row.test_id, row.status, row.n_ratings, row.last_rating_id), (test.pk, "done", 12, 40)
        )
        self.assertEqual(row.thresholds, {"min_variance": 0.1})
        self.assertEqual(row.result["bootstrap"], {"x": 1})
        self.assertEqual(row.result["screening"]["3"]["overlap"], None)
        self.assertEqual(row.min_overlap, 0)
        self.assertNotIn("test_name", row.result)
