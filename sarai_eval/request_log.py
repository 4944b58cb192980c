"""One JSON line per request on the `sarai_eval.requests` logger, with the evaluator tokens masked.

First in MIDDLEWARE, so the time and status include every other middleware (a redirect to HTTPS,
a CSRF refusal). The request id is sent back as `X-Request-ID`, so a user's report of a failed page
can be matched to its line; an id set by a reverse proxy is kept when it looks like one.

Each line also says what the request spent in the database: its statements (`db_queries`), the time
inside them (`db_ms`), and of that the time spent waiting to write (`lock_wait_ms`): on SQLite, the
time in `BEGIN IMMEDIATE` (where a transaction waits for the one write lock) and in writes made
outside a transaction (each takes the lock itself); on PostgreSQL a row lock is waited for inside
the statement that takes it, which pg_stat_activity shows (`bench_evaluators` samples it).
"""

import json
import logging
import re
import time
import uuid

from django.conf import settings
from django.db import connection
from django.http import HttpRequest
from django.utils import timezone

from sarai_eval.log_redaction import redact_path

logger = logging.getLogger("sarai_eval.requests")
REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def client_address(request: HttpRequest) -> str:
    """The address the request came from: REMOTE_ADDR, or behind trusted proxies X-Forwarded-For.

    With SARAI_TRUSTED_PROXIES = N, the last N hops of X-Forwarded-For were added by proxies the
    installation runs; the address before them is the client's. Addresses a client wrote itself
    further left are never believed.
    """
    proxies = settings.SARAI_TRUSTED_PROXIES
    if proxies > 0:
        hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def request_log_middleware(get_response):
    def middleware(request):
        started_at = timezone.now()
        started = time.monotonic()
        request_id = request.headers.get("X-Request-ID", "")
        if not REQUEST_ID.match(request_id):
            request_id = uuid.uuid4().hex
        request.request_id = request_id
        database = DatabaseTime()
        with connection.execute_wrapper(database):
            response = get_response(request)
        response["X-Request-ID"] = request_id
        fields = log_fields(request, response, started_at=started_at, duration=time.monotonic() - started)
        logger.info(json.dumps(fields | database.fields(), ensure_ascii=False))
        return response

    return middleware


WRITES = ("INSERT", "UPDATE", "DELETE")


class DatabaseTime:
    """An execute wrapper adding up a request's statements and the time inside them (see above)."""

    def __init__(self):
        self.queries = 0
        self.seconds = 0.0
        self.lock_wait = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.monotonic()
        try:
            return execute(sql, params, many, context)
        finally:
            elapsed = time.monotonic() - started
            self.queries += 1
            self.seconds += elapsed
            if context["connection"].vendor == "sqlite" and (
                sql.startswith("BEGIN") or (sql.startswith(WRITES) and context["connection"].get_autocommit())
            ):
                self.lock_wait += elapsed

    def fields(self) -> dict:
        return {
            "db_queries": self.queries,
            "db_ms": round(self.seconds * 1000, 2),
            "lock_wait_ms": round(self.lock_wait * 1000, 2),
        }


def log_fields(request, response, *, started_at, duration: float) -> dict:
    user = getattr(request, "user", None)
    return {
        "time": started_at.isoformat(timespec="milliseconds"),
        "request_id": request.request_id,
        "method": request.method,
        # The path only: query strings carry crowd participant ids.
        "path": redact_path(request.path),
        "status": response.status_code,
        "duration_ms": round(duration * 1000, 1),
        "bytes": response_bytes(response),
        "remote_addr": client_address(request),
        "user_id": user.pk if user is not None and user.is_authenticated else None,
    }


def response_bytes(response) -> int | None:
    """The body's size; for a streamed body, its Content-Length (None when the server does not know)."""
    if not response.streaming:
        return len(response.content)
    length = response.get("Content-Length")
    return int(length) if length and length.isdigit() else None
