"""`manage.py check --deploy` passes with the production settings docs/deploy.md lists, and the
defaults still serve `make run` on plain http://127.0.0.1."""

import os
import re
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.test import SimpleTestCase

ROOT = Path(__file__).resolve().parent.parent
# Behind a reverse proxy that ends HTTPS for eval.example.org and sets X-Forwarded-Proto.
PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_ALLOWED_HOSTS": "eval.example.org",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://eval.example.org",
    "DJANGO_SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto",
    "DJANGO_SECURE_SSL_REDIRECT": "true",
    "DJANGO_HSTS_SECONDS": "31536000",
    "DJANGO_HSTS_INCLUDE_SUBDOMAINS": "true",
    "DJANGO_HSTS_PRELOAD": "true",
}
# What scripts/serve.sh exports for `make run`.
MAKE_RUN = {"DJANGO_SECURE_COOKIES": "false"}


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environment.update(
        {
            "DJANGO_SETTINGS_MODULE": "sarai_eval.settings",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "SARAI_VAR_DIR": tempfile.mkdtemp(prefix="sarai-deploy-check-"),
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def deploy_check(**env: str) -> subprocess.CompletedProcess:
    return run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **env)


def setting_values(*names: str, **env: str) -> subprocess.CompletedProcess:
    code = "import django; django.setup(); from django.conf import settings; " + "; ".join(
        f"print(repr(settings.{name}))" for name in names
    )
    return run(["-c", code], **env)


@pytest.mark.processes
class DeployCheckTests(SimpleTestCase):
    def test_the_documented_production_settings_pass_the_deploy_check_without_a_warning(self):
        result = deploy_check(**PRODUCTION)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("System check identified no issues", result.stdout)
        self.assertNotIn("WARNINGS", result.stdout + result.stderr)

    def test_without_the_https_settings_the_deploy_check_names_what_is_missing(self):
        plain = {k: v for k, v in PRODUCTION.items() if "HSTS" not in k and "SSL" not in k}
        result = deploy_check(**plain)
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("security.W004", result.stderr)
        self.assertIn("security.W008", result.stderr)

    def test_the_proxy_header_makes_forwarded_https_requests_secure(self):
        result = setting_values("SECURE_PROXY_SSL_HEADER", **PRODUCTION)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), "('HTTP_X_FORWARDED_PROTO', 'https')")

    def test_a_malformed_proxy_header_is_a_configuration_error(self):
        result = setting_values(
            "SECURE_PROXY_SSL_HEADER", DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto: https"
        )
        self.assertNotEqual(result.returncode, 0)
        self.assertIn("is not a header name", result.stderr)

    def test_without_any_variable_the_deploy_check_names_only_the_https_settings(self):
        """A fresh clone: DEBUG off and a key generated for the installation, so neither W018 (DEBUG)
        nor W009 (a weak key) is raised."""
        result = run(["manage.py", "check", "--deploy"], DJANGO_SECRET_KEY="")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(re.findall(r"security\.W\d+", result.stderr), ["security.W004", "security.W008"])

    def test_make_run_still_starts_on_plain_http(self):
        """DEBUG off with cookies that plain http://127.0.0.1 can carry, no redirect to HTTPS, no HSTS."""
        result = setting_values(
            "DEBUG",
            "SESSION_COOKIE_SECURE",
            "CSRF_COOKIE_SECURE",
            "SECURE_SSL_REDIRECT",
            "SECURE_HSTS_SECONDS",
            **MAKE_RUN,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split(), ["False", "False", "False", "False", "0"])
