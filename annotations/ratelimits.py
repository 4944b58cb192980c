"""Limits on requests to the pages anyone can reach, counted per minute in the database.

Every web process, and every web machine, must count the same requests, so the counts live in a
database (`RequestCount`), never in one process's memory. Each request adds one to its counters
with a single `INSERT … ON CONFLICT DO UPDATE … RETURNING` statement (SQLite ≥ 3.35, PostgreSQL):
atomic, and one short write. (Django's database cache, through which django-ratelimit would count,
needs about nine statements per counter, two of them a COUNT(*) over the whole cache table, and
under the load test it doubled the time the evaluator pages spent in Django.)

On SQLite (one machine) the counts are kept in a file of their own, SARAI_REQUEST_COUNTS_FILE,
beside the main database: SQLite lets one connection write at a time, and a count in the main file
made every page view wait for the lock that answers and clip fetches take. The file is made on first
use and holds nothing but counts of the last minutes; deleting it loses nothing else.

Each scope has two limits, both in settings: per participant (the evaluator token, the
PROLIFIC_PID) as SARAI_RATELIMIT_<SCOPE>, and per client address as SARAI_RATELIMIT_<SCOPE>_PER_ADDRESS.
A limit of 0 or less turns that count off. Counts are per calendar minute (a fixed window).
"""

import hashlib
import logging
import os
import sqlite3
import threading
import time
from functools import wraps

from django.conf import settings
from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse

from annotations.models import RequestCount
from sarai_eval.request_log import client_address

logger = logging.getLogger(__name__)
SCOPES = ("PAGES", "AUDIO", "OPEN_LINK", "LOGIN")
WINDOW_S = 60


def limits(scope: str) -> tuple[int, int]:
    """Requests per minute allowed in scope: (per participant, per address)."""
    per_participant = getattr(settings, f"SARAI_RATELIMIT_{scope}", 0)
    return per_participant, getattr(settings, f"SARAI_RATELIMIT_{scope}_PER_ADDRESS")


def digest(scope: str, kind: str, value: str) -> str:
    return hashlib.sha256(f"{scope}:{kind}:{value}".encode()).hexdigest()


def count_requests(digests: list[str], minute: int) -> dict[str, int]:
    """Add one to each counter of this minute in one statement; the counts after it, by digest."""
    params = [value for key in digests for value in (key, minute)]
    if settings.SARAI_REQUEST_COUNTS_FILE:
        counts = _counts_file()
        rows = ", ".join(["(?, ?, 1)"] * len(digests))
        return dict(counts.execute(_upsert(COUNTS_TABLE, rows), params).fetchall())
    table = connection.ops.quote_name(RequestCount._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(_upsert(table, ", ".join(["(%s, %s, 1)"] * len(digests))), params)
        return dict(cursor.fetchall())


def _upsert(table: str, rows: str) -> str:
    return (
        f"INSERT INTO {table} (digest, minute, count) VALUES {rows} "
        f"ON CONFLICT (digest, minute) DO UPDATE SET count = {table}.count + 1 "
        "RETURNING digest, count"
    )


COUNTS_TABLE = "request_count"
_local = threading.local()


def _counts_file() -> sqlite3.Connection:
    """This thread's connection to SARAI_REQUEST_COUNTS_FILE (autocommit), the table made if missing."""
    path = settings.SARAI_REQUEST_COUNTS_FILE
    kept = getattr(_local, "counts", None)
    if kept is not None and kept[0] == (os.getpid(), path):
        return kept[1]
    counts = sqlite3.connect(path, timeout=30, isolation_level=None)
    counts.execute("PRAGMA journal_mode=WAL")
    counts.execute("PRAGMA synchronous=NORMAL")
    counts.execute(
        f"CREATE TABLE IF NOT EXISTS {COUNTS_TABLE} (digest TEXT NOT NULL, minute INTEGER NOT NULL, "
        "count INTEGER NOT NULL, PRIMARY KEY (digest, minute)) WITHOUT ROWID"
    )
    _local.counts = ((os.getpid(), path), counts)
    return counts


def retry_after(request: HttpRequest, *, scope: str, participant: str = "") -> int | None:
    """Count the request in scope; the seconds to wait if it is over a limit, else None."""
    if not settings.SARAI_RATELIMIT_ENABLE:
        return None
    per_participant, per_address = limits(scope)
    allowed = {}
    for kind, value, per_minute in (
        ("participant", participant, per_participant),
        ("address", client_address(request), per_address),
    ):
        if value and per_minute > 0:
            allowed[digest(scope, kind, value)] = per_minute
    if not allowed:
        return None
    now = time.time()
    try:
        counts = count_requests(list(allowed), int(now // WINDOW_S))
    except (DatabaseError, sqlite3.Error):
        # A limit exists to stop scripts, never to turn a participant away because of a count.
        logger.exception("Could not count a request for the %s rate limit; letting it through", scope)
        return None
    if any(counts.get(key, 0) > per_minute for key, per_minute in allowed.items()):
        return max(1, WINDOW_S - int(now % WINDOW_S))
    return None


def limit_sign_in(login):
    """A sign-in view refusing (429) attempts beyond the address's limit: no password guessing.

    The app's sign-in page and the admin site's count together, in the LOGIN scope.
    """

    @wraps(login)
    def limited(request, *args, **kwargs):
        if request.method == "POST":
            wait = retry_after(request, scope="LOGIN")
            if wait is not None:
                response = HttpResponse(
                    "Too many sign-in attempts from this address. Please wait a minute, then try again.",
                    status=429,
                    content_type="text/plain; charset=utf-8",
                )
                response["Retry-After"] = str(wait)
                return response
        return login(request, *args, **kwargs)

    return limited


def purge(*, before_minute: int) -> int:
    """Delete the counts of minutes before before_minute; how many rows went."""
    if settings.SARAI_REQUEST_COUNTS_FILE:
        deleting = _counts_file().execute(f"DELETE FROM {COUNTS_TABLE} WHERE minute < ?", [before_minute])
        return deleting.rowcount
    deleted, _ = RequestCount.objects.filter(minute__lt=before_minute).delete()
    return deleted
