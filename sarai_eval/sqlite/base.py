"""Django's SQLite backend, with a write lock that is asked for again every half millisecond.

SQLite has one write lock per file. A transaction that finds it taken waits in SQLite's busy
handler, which sleeps 1, 2, 5, 10, 15, 20, 25 … ms between tries: a writer that missed a lock held
for 2 ms sleeps until 3 ms, one that missed it twice until 8, then 18, 33, 53 ms. Under 200
evaluators almost half of all lock waits ended within 1.5 ms of one of those moments: the lock had
been free for most of the sleep (docs/benchmarks.md). Here a statement that takes the write lock
from outside a transaction — `BEGIN IMMEDIATE`, or an autocommitted write, which either happens
whole or not at all — asks with the busy handler off and, while the lock is taken, asks again every
`RETRY_S` until the connection's own timeout has passed, then fails as before ("database is
locked"). Statements inside a transaction already hold the lock and keep the busy handler.

The retries happen inside the cursor's `execute`, so the request log's execute wrapper still counts
the whole wait as one statement and as lock wait (sarai_eval/request_log.py).
"""

import sqlite3
import time

from django.db.backends.sqlite3 import base

RETRY_S = 0.0005


TAKES_THE_LOCK = ("BEGIN IMMEDIATE", "INSERT", "UPDATE", "DELETE")


class PollingCursor(base.SQLiteCursorWrapper):
    def execute(self, query, params=None):
        if query.startswith(TAKES_THE_LOCK) and not self.connection.in_transaction:
            return self.until_unlocked(query, params)
        return super().execute(query, params)

    def until_unlocked(self, query, params):
        connection = self.connection
        timeout_ms = connection.execute("PRAGMA busy_timeout").fetchone()[0]
        deadline = time.monotonic() + timeout_ms / 1000
        connection.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    return super().execute(query, params)
                except sqlite3.OperationalError as error:
                    if not is_locked(error) or time.monotonic() >= deadline:
                        raise
                time.sleep(RETRY_S)
        finally:
            connection.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")


def is_locked(error: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY and its extended codes (a stale WAL snapshot is retried afresh, too)."""
    return getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY


class DatabaseWrapper(base.DatabaseWrapper):
    def create_cursor(self, name=None):
        return self.connection.cursor(factory=PollingCursor)
