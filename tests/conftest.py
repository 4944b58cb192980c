"""Test databases on SQLite start from a migrated copy instead of running every migration again.

Each test process (each pytest-xdist worker) used to apply all of the project's migrations to its own
empty database: about five seconds of every run, twice. Now the first process to need it migrates a
template file once, under var/cache/test-db/, named after a hash of every migration file and the
Django version (a new or edited migration makes a new template); each process copies the template to
a file of its own and Django keeps it (keepdb), so the no-op `migrate` it still runs finds every
migration applied. The copy is removed at the end of the session. On any other database (CI's
PostgreSQL pass) pytest-django creates and migrates the test database as it always does.
"""

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import django
import pytest

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "var" / "cache" / "test-db"


def _sqlite() -> bool:
    from django.conf import settings

    return settings.DATABASES["default"]["ENGINE"] == "sarai_eval.sqlite"


def _migrations_key() -> str:
    """A hash of every migration file of the project and the Django version (whose apps migrate too)."""
    digest = hashlib.sha256(django.get_version().encode())
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def migrated_template() -> Path:
    """The migrated template database for this code's migrations, made (once, under a lock) if missing."""
    CACHE.mkdir(parents=True, exist_ok=True)
    template = CACHE / f"{_migrations_key()}.sqlite3"
    with open(CACHE / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not template.exists():
            building = template.with_suffix(".building")
            building.unlink(missing_ok=True)
            env = {**os.environ, "DATABASE_URL": f"sqlite:///{building}"}
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
            )
            for old in CACHE.glob("*.sqlite3"):
                old.unlink()  # templates of earlier migrations
            building.rename(template)
    return template


@pytest.fixture(scope="session")
def django_db_keepdb(request) -> bool:
    """Keep the test database this conftest copied from the template (Django then does not rebuild it)."""
    return bool(request.config.getvalue("reuse_db")) or _sqlite()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """On SQLite: the test database is this process's own copy of the migrated template."""
    if not _sqlite():
        yield
        return
    from django.conf import settings

    folder = Path(tempfile.mkdtemp(prefix="sarai-test-db-"))
    copy = folder / "test.sqlite3"
    shutil.copyfile(migrated_template(), copy)
    settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = str(copy)
    yield
    shutil.rmtree(folder, ignore_errors=True)
