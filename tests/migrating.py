"""Migration tests take the test database back to an earlier state, then bring it to the newest again."""

import hashlib
import shutil
from pathlib import Path

from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.conftest import migrated_template


def _sqlite_file() -> Path | None:
    if connection.vendor == "sqlite" and not connection.is_in_memory_db():
        return Path(connection.settings_dict["NAME"])
    return None


def _replace_database(name: Path, source: Path) -> None:
    """This process's test database file replaced by a copy of source."""
    connection.close()  # the last connection: SQLite folds its write-ahead log into the file
    for leftover in (name.with_name(name.name + "-wal"), name.with_name(name.name + "-shm")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(source, name)


def database_at(targets: list[tuple[str, str]]):
    """The test database, rows and all, as the migrated template taken back to targets; their apps.

    Unapplying migrations costs seconds (Django renders the project's state at each step), so on
    SQLite the result is kept beside the template (tests/conftest.py), named after it and the
    targets, and later runs copy it: the state is the same each time, since it starts from the
    template. A new or edited migration makes a new template, which removes these copies. On any
    other database (CI's PostgreSQL pass) the migrations are unapplied each time.
    """
    name = _sqlite_file()
    if name is not None:
        template = migrated_template()
        key = hashlib.sha256(repr(sorted(targets)).encode()).hexdigest()[:12]
        kept = template.with_name(f"{template.stem}-at-{key}.sqlite3")
        if kept.exists():
            _replace_database(name, kept)
        else:
            _replace_database(name, template)
            MigrationExecutor(connection).migrate(targets)
            connection.close()
            building = kept.with_suffix(f".{name.parent.name}.building")
            shutil.copyfile(name, building)
            building.rename(kept)  # whole or not at all, should two processes make it at once
    executor = MigrationExecutor(connection)
    if name is None:
        executor.migrate(targets)
    return executor.loader.project_state(targets).apps


def migrate_to_newest() -> None:
    """The test database at the newest migrations again, for the tests that follow.

    On SQLite this process's copy is replaced by the migrated template (tests/conftest.py), which
    holds exactly that state, instead of applying every migration forward again (seconds per test);
    elsewhere (CI's PostgreSQL pass) every migration is applied forward.
    """
    name = _sqlite_file()
    if name is not None:
        _replace_database(name, migrated_template())
        return
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
