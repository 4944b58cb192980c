"""Loaded with -p before Django starts (see pyproject.toml): test runs keep their files out of var/."""

import os
import tempfile

# Test runs write media and model caches into throw-away folders, never into the working copy.
os.environ.setdefault("SARAI_MEDIA_ROOT", tempfile.mkdtemp(prefix="sarai-test-media-"))
os.environ.setdefault("CELERY_BROKER_DIR", tempfile.mkdtemp(prefix="sarai-test-broker-"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Hundreds of tests reach the evaluator pages from 127.0.0.1 within a minute; counters in a Redis
# cache outlive each test's rollback. The rate-limit tests switch the limits on themselves.
os.environ.setdefault("SARAI_RATELIMIT_ENABLE", "false")


import pytest  # noqa: E402


@pytest.hookimpl(trylast=True)
def pytest_configure(config) -> None:
    """A fast password hash for the personas' logins (Django's advice for test runs)."""
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def pytest_unconfigure(config) -> None:
    """Free the models the tests loaded while the interpreter is still whole."""
    from synthesis.engines import pipeline

    pipeline.release_models()
