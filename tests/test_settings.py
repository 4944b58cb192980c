import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parent.parent


def load_settings(**env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL"))}
    environment.update(env)
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'])"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


@pytest.mark.processes
class SettingsGuardTests(SimpleTestCase):
    def test_it_refuses_to_start_with_debug_off_and_the_default_secret_key(self):
        result = load_settings(DJANGO_SETTINGS_MODULE="sarai_eval.settings", DJANGO_DEBUG="false")
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("DJANGO_SECRET_KEY is the default development key", result.stderr)

    def test_it_starts_with_debug_off_and_a_real_secret_key(self):
        result = load_settings(
            DJANGO_SETTINGS_MODULE="sarai_eval.settings",
            DJANGO_DEBUG="false",
            DJANGO_SECRET_KEY="a-long-random-production-secret-0123456789",
        )
        self.assertEqual(result.returncode, 0, result.stderr)

    def test_a_malformed_boolean_is_a_configuration_error(self):
        result = load_settings(DJANGO_SETTINGS_MODULE="sarai_eval.settings", DJANGO_DEBUG="perhaps")
        self.assertIn("DJANGO_DEBUG='perhaps' is not a boolean", result.stderr)

    def test_database_url_switches_to_postgresql(self):
        result = load_settings(
            DJANGO_SETTINGS_MODULE="sarai_eval.settings",
            DATABASE_URL="postgres://postgres@127.0.0.1:5432/test",
        )
        self.assertEqual(result.stdout.strip(), "django.db.backends.postgresql")

    def test_the_default_database_is_sqlite(self):
        result = load_settings(DJANGO_SETTINGS_MODULE="sarai_eval.settings")
        self.assertEqual(result.stdout.strip(), "django.db.backends.sqlite3")
