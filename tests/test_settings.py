import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from django.test import SimpleTestCase

from sarai_eval.settings import installation_secret_key

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SECRET_KEY = "insecure-development-key-change-me"


def load_settings(
    show: str = "settings.DATABASES['default']['ENGINE']", **env
) -> subprocess.CompletedProcess:
    """Print `show` from the settings loaded with env alone (no DJANGO_ variable of this shell; own var/)."""
    environment = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "DATABASE_URL", "SARAI_REQUEST_COUNTS_FILE"))
    }
    code = f"import django; django.setup(); from django.conf import settings; print({show})"
    with tempfile.TemporaryDirectory() as var:
        environment.update({"DJANGO_SETTINGS_MODULE": "sarai_eval.settings", "SARAI_VAR_DIR": var, **env})
        return subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )


@pytest.mark.processes
class SettingsGuardTests(SimpleTestCase):
    def test_without_a_debug_variable_debug_is_off(self):
        result = load_settings("settings.DEBUG")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), "False")

    def test_development_opts_in_to_debug_and_its_known_key(self):
        var = Path(self.enterContext(tempfile.TemporaryDirectory()))
        result = load_settings(
            "settings.DEBUG, settings.SECRET_KEY", DJANGO_DEBUG="true", SARAI_VAR_DIR=str(var)
        )
        self.assertEqual(result.stdout.split(), ["True", DEFAULT_SECRET_KEY])
        self.assertFalse((var / "secret-key").exists())

    def test_a_missing_secret_key_file_is_generated_for_its_owner_alone_and_then_reused(self):
        var = Path(self.enterContext(tempfile.TemporaryDirectory()))
        first = load_settings("settings.SECRET_KEY", SARAI_VAR_DIR=str(var))
        self.assertEqual(first.returncode, 0, first.stderr)
        key_file = var / "secret-key"
        self.assertEqual(stat.S_IMODE(key_file.stat().st_mode), 0o600)
        self.assertEqual(first.stdout.strip(), key_file.read_text().strip())
        self.assertGreaterEqual(len(first.stdout.strip()), 50)
        self.assertNotEqual(first.stdout.strip(), DEFAULT_SECRET_KEY)
        again = load_settings("settings.SECRET_KEY", SARAI_VAR_DIR=str(var))
        self.assertEqual(again.stdout.strip(), first.stdout.strip())

    def test_on_a_filesystem_without_hard_links_the_key_file_is_still_made_for_its_owner(self):
        var = Path(self.enterContext(tempfile.TemporaryDirectory()))
        with mock.patch("os.link", side_effect=PermissionError("links not supported")):
            key = installation_secret_key(var / "secret-key")
        key_file = var / "secret-key"
        self.assertEqual(stat.S_IMODE(key_file.stat().st_mode), 0o600)
        self.assertEqual(key, key_file.read_text().strip())
        self.assertEqual([path.name for path in var.iterdir()], ["secret-key"])  # no draft left
        self.assertEqual(installation_secret_key(key_file), key)

    def test_a_secret_key_variable_is_used_and_nothing_is_written(self):
        var = Path(self.enterContext(tempfile.TemporaryDirectory()))
        result = load_settings("settings.SECRET_KEY", SARAI_VAR_DIR=str(var), DJANGO_SECRET_KEY="k" * 60)
        self.assertEqual(result.stdout.strip(), "k" * 60)
        self.assertFalse((var / "secret-key").exists())

    def test_it_refuses_to_start_with_debug_off_and_the_default_secret_key(self):
        result = load_settings(DJANGO_SECRET_KEY=DEFAULT_SECRET_KEY)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("DJANGO_SECRET_KEY is the default development key", result.stderr)

    def test_it_starts_with_debug_off_and_a_real_secret_key(self):
        result = load_settings(
            DJANGO_DEBUG="false",
            DJANGO_SECRET_KEY="a-long-random-production-secret-0123456789",
        )
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_a_malformed_boolean_is_a_configuration_error(self):
        result = load_settings(DJANGO_DEBUG="perhaps")
        self.assertIn("DJANGO_DEBUG='perhaps' is not a boolean", result.stderr)

    def test_database_url_switches_to_postgresql(self):
        result = load_settings(
            DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        )
        self.assertEqual(result.stdout.strip(), "django.db.backends.postgresql")

    def test_on_sqlite_the_request_counts_have_a_file_beside_the_database_and_on_postgresql_none(self):
        sqlite = load_settings(
            "settings.SARAI_REQUEST_COUNTS_FILE, settings.DATABASES['default']['NAME'], sep='|'"
        )
        self.assertEqual(sqlite.returncode, 0, sqlite.stderr)
        counts, database = (Path(part) for part in sqlite.stdout.strip().split("|"))
        self.assertEqual((counts.name, counts.parent), ("request-counts.sqlite3", database.parent))
        postgresql = load_settings(
            "repr(settings.SARAI_REQUEST_COUNTS_FILE)", DATABASE_URL="postgres://postgres@127.0.0.1:5432/test"
        )
        self.assertEqual(postgresql.stdout.strip(), "''")

    def test_the_default_database_is_sqlite(self):
        result = load_settings()
        self.assertEqual(result.stdout.strip(), "sarai_eval.sqlite")

    def test_connections_are_kept_a_minute_on_either_database(self):
        show = "settings.DATABASES['default']['CONN_MAX_AGE']"
        self.assertEqual(load_settings(show).stdout.strip(), "60")
        postgres = load_settings(show, DATABASE_URL="postgres://postgres@127.0.0.1:5432/test")
        self.assertEqual(postgres.stdout.strip(), "60")

    def test_server_side_cursors_are_turned_off_for_a_transaction_pooler(self):
        show = "settings.DATABASES['default']['DISABLE_SERVER_SIDE_CURSORS']"
        self.assertEqual(load_settings(show).stdout.strip(), "False")
        pooled = load_settings(show, DATABASE_DISABLE_SERVER_SIDE_CURSORS="true")
        self.assertEqual(pooled.stdout.strip(), "True")
