"""The SQLite backend's write-lock retries (sarai_eval/sqlite/base.py), on real database files."""

import sqlite3
import tempfile
import threading
from pathlib import Path
from unittest import TestCase

from sarai_eval.sqlite.base import PollingCursor

HELD_S = 0.3


class WriteLockRetryTests(TestCase):
    def setUp(self):
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        self.path = Path(directory.name) / "db.sqlite3"
        setup = sqlite3.connect(self.path, isolation_level=None)
        setup.execute("PRAGMA journal_mode=WAL")
        setup.execute("CREATE TABLE rating (id INTEGER PRIMARY KEY, value INTEGER)")
        setup.close()
        self.holder = self.connect(timeout=5)
        self.addCleanup(self.holder.close)

    def connect(self, *, timeout: float) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        self.addCleanup(connection.close)
        return connection

    def hold_then_release(self) -> threading.Event:
        """Hold the write lock for HELD_S; the event is set just before it is let go."""
        self.holder.execute("BEGIN IMMEDIATE")
        letting_go = threading.Event()

        def release():
            letting_go.set()
            self.holder.rollback()

        timer = threading.Timer(HELD_S, release)
        timer.start()
        self.addCleanup(timer.join)
        return letting_go

    def busy_timeout(self, connection) -> int:
        return connection.execute("PRAGMA busy_timeout").fetchone()[0]

    def test_a_transaction_gets_the_lock_once_the_holder_lets_go(self):
        waiter = self.connect(timeout=5)
        letting_go = self.hold_then_release()
        waiter.cursor(factory=PollingCursor).execute("BEGIN IMMEDIATE")
        self.assertTrue(letting_go.is_set())  # it could only have begun once the holder let go
        self.assertTrue(waiter.in_transaction)
        waiter.execute("INSERT INTO rating (value) VALUES (4)")
        waiter.execute("COMMIT")
        self.assertEqual(self.busy_timeout(waiter), 5000)  # the busy handler is back for what follows

    def test_an_autocommitted_write_waits_too_and_is_stored_once(self):
        waiter = self.connect(timeout=5)
        self.hold_then_release()
        waiter.cursor(factory=PollingCursor).execute("INSERT INTO rating (value) VALUES (?)", (3,))
        self.assertEqual(waiter.execute("SELECT value FROM rating").fetchall(), [(3,)])

    def test_a_lock_never_released_fails_after_the_connections_timeout_as_before(self):
        waiter = self.connect(timeout=0.1)
        self.holder.execute("BEGIN IMMEDIATE")
        self.addCleanup(self.holder.rollback)
        with self.assertRaisesRegex(sqlite3.OperationalError, "database is locked"):
            waiter.cursor(factory=PollingCursor).execute("BEGIN IMMEDIATE")
        self.assertFalse(waiter.in_transaction)
        self.assertEqual(self.busy_timeout(waiter), 100)

    def test_other_errors_are_not_retried(self):
        waiter = self.connect(timeout=5)
        with self.assertRaisesRegex(sqlite3.OperationalError, "no such table"):
            waiter.cursor(factory=PollingCursor).execute("INSERT INTO missing (value) VALUES (1)")
        self.assertEqual(self.busy_timeout(waiter), 5000)

    def test_statements_inside_a_transaction_go_straight_through(self):
        waiter = self.connect(timeout=5)
        cursor = waiter.cursor(factory=PollingCursor)
        cursor.execute("BEGIN IMMEDIATE")
        cursor.execute("INSERT INTO rating (value) VALUES (%s)", (5,))  # Django's placeholder style
        cursor.execute("COMMIT")
        self.assertEqual(waiter.execute("SELECT value FROM rating").fetchall(), [(5,)])
