"""Migration tests take the test database back to an earlier state; this brings it to the newest again."""

import shutil
from pathlib import Path

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.conftest import migrated_template


def migrate_to_newest() -> None:
    """The test database at the newest migrations again, for the tests that follow.

    On SQLite this process's copy is replaced by the migrated template (tests/conftest.py), which
    holds exactly that state, instead of applying every migration forward again (seconds per test);
    elsewhere (CI's PostgreSQL pass) every migration is applied forward.
    """
    if connection.vendor == "sqlite" and not connection.is_in_memory_db():
        name = Path(connection.settings_dict["NAME"])
        connection.close()  # the last connection: SQLite folds its write-ahead log into the file
        for leftover in (name.with_name(name.name + "-wal"), name.with_name(name.name + "-shm")):
            leftover.unlink(missing_ok=True)
        shutil.copyfile(migrated_template(), name)
        return
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
