"""Secrets never reach a log: evaluator tokens, crowd ids, passwords in service URLs, the secret key.

An invite link is the evaluator's only credential and a clip token would unblind a clip, so anything
a log line could carry (a request path, an error message, a traceback) goes through `redact`.
`RedactingFilter` is attached to every handler that writes: the root handlers (settings.LOGGING),
Celery's worker handlers (synthesis.tasks) and gunicorn's error log (sarai_eval/gunicorn_conf.py).

This module is imported by gunicorn's configuration before Django is set up: it reads the secret
values from the environment, and from Django's settings only once they are configured.
"""

import logging
import os
import re
from urllib.parse import urlsplit

MASK = "…"
# /t/i/<evaluator token>/…, /t/o/<open-link token>/, and a clip's /a/<clip token>.wav; the clip's
# playback copy is stored as playback/<clip token>.wav, which a missing-file error names.
TOKEN_IN_PATH = re.compile(r"(/t/[io]/)[^/\s?#\"']+")
CLIP_IN_PATH = re.compile(r"(/a/|\bplayback/)[^/\s?#\"']+(\.wav)")
# Crowd platforms' participant, study and session ids arrive in the open link's query string.
QUERY_SECRET = re.compile(
    r"((?:PROLIFIC_PID|STUDY_ID|SESSION_ID|workerId|assignmentId|hitId|token|password)=)[^&\s\"'#]+",
    re.IGNORECASE,
)
# scheme://user:password@host (a database, broker or cache URL): the password is masked.
URL_PASSWORD = re.compile(r"([a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+@", re.IGNORECASE)
SECRET_URL_VARIABLES = ("DATABASE_URL", "CELERY_BROKER_URL")


def secret_values() -> set[str]:
    """The configured secrets, wherever they might appear verbatim (a password outside a URL too)."""
    values = {os.environ.get("DJANGO_SECRET_KEY", "")}
    urls = [os.environ.get(name, "") for name in SECRET_URL_VARIABLES]
    from django.conf import settings

    if settings.configured:
        values.add(settings.SECRET_KEY)
        values.update(str(db.get("PASSWORD") or "") for db in settings.DATABASES.values())
    for url in urls:
        try:
            values.add(urlsplit(url).password or "")
        except ValueError:
            continue
    # Short values (an empty password, "guest") would mask ordinary words.
    return {value for value in values if len(value) >= 8}


def redact_path(path: str) -> str:
    """A request path as logs may show it: `/t/i/<token>/a/<clip>.wav` becomes `/t/i/…/a/….wav`."""
    return CLIP_IN_PATH.sub(rf"\1{MASK}\2", TOKEN_IN_PATH.sub(rf"\1{MASK}", path))


def redact(text: str, secrets: set[str] = frozenset()) -> str:
    text = redact_path(text)
    text = QUERY_SECRET.sub(rf"\1{MASK}", text)
    text = URL_PASSWORD.sub(r"\1***@", text)
    for secret in secrets:
        text = text.replace(secret, "***")
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message and traceback with the secrets masked; never drops a record."""

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self._secrets: set[str] | None = None

    def secrets(self) -> set[str]:
        # Settings may not be configured when the filter is built (gunicorn's master): look once, later.
        if self._secrets is None:
            from django.conf import settings

            if not settings.configured:
                return secret_values()
            self._secrets = secret_values()
        return self._secrets

    def filter(self, record: logging.LogRecord) -> bool:
        secrets = self.secrets()
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            # Arguments that do not fit the message: the handler reports that itself, unmasked
            # parts included, rather than the filter raising into the code that logged.
            return True
        cleaned = redact(message, secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set, so the traceback is written already masked.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, secrets)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, secrets)
        return True


def add_filter(*loggers: logging.Logger) -> None:
    """Attach one RedactingFilter to every handler of these loggers (once)."""
    for logger in loggers:
        for handler in logger.handlers:
            if not any(isinstance(existing, RedactingFilter) for existing in handler.filters):
                handler.addFilter(RedactingFilter())
