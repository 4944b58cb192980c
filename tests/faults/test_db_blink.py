"""PostgreSQL unreachable for seconds while an evaluator answers: 503s, retries, nothing lost or doubled.

gunicorn reaches a fresh database on the machine's PostgreSQL through a TCP proxy in this test
(tests/faults/proxy.py); cutting the proxy takes the database away from the app alone.
The scripted evaluator retries as static/js/answer.js does (tests/faults/evaluator.py).
"""

import socket
import threading
import time
import unittest
import uuid

import psycopg
import pytest
from django.test import SimpleTestCase

from tests.faults.evaluator import RATED_CLIPS, SCREEN_KEY, SESSION_CLIPS, HttpEvaluator
from tests.faults.processes import Installation, free_port, full_version
from tests.faults.proxy import CuttableProxy

pytestmark = pytest.mark.processes  # a web process behind a proxy it cuts

POSTGRES = ("127.0.0.1", 5432)
CUT_S = 3.0
# answer.js gives up after 30 s; a cut of CUT_S must be ridden out well within that.
RETRY_FOR_S = 30.0


def postgres_answers() -> bool:
    try:
        with socket.create_connection(POSTGRES, timeout=2):
            return True
    except OSError:
        return False


class DatabaseBlinkTests(SimpleTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not postgres_answers():
            raise unittest.SkipTest("PostgreSQL does not answer on 127.0.0.1:5432; this fault needs one.")
        cls.database = f"sarai_faults_{uuid.uuid4().hex[:10]}"
        cls.admin(f'CREATE DATABASE "{cls.database}"')
        cls.addClassCleanup(cls.admin, f'DROP DATABASE IF EXISTS "{cls.database}" WITH (FORCE)')
        direct = f"postgres://postgres@{POSTGRES[0]}:{POSTGRES[1]}/{cls.database}"
        cls.site = Installation("sarai-faults-db-", DATABASE_URL=direct)
        cls.addClassCleanup(cls.site.stop_all)
        cls.site.manage("migrate", "--noinput", "-v0")

        web_port = free_port()
        cls.proxy = CuttableProxy(port=free_port({web_port}), upstream_port=POSTGRES[1])
        cls.proxy.start()
        cls.addClassCleanup(cls.proxy.stop)
        cls.site.env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:{cls.proxy.port}/{cls.database}"
        cls.site.start_web(web_port)
        cls.base_url = f"http://127.0.0.1:{web_port}"

    def setUp(self):
        self.clips = 24 if full_version() else 6
        # A test and an evaluator of its own for each test method, on the shared installation.
        self.token = self.site.listening_test(
            clips=self.clips, name=self._testMethodName[5:45].replace("_", "-")
        )

    @staticmethod
    def admin(sql: str) -> None:
        with psycopg.connect(host=POSTGRES[0], port=POSTGRES[1], user="postgres", dbname="postgres") as db:
            db.autocommit = True
            db.execute(sql)

    def rows(self, sql: str) -> list:
        with psycopg.connect(
            host=POSTGRES[0], port=POSTGRES[1], user="postgres", dbname=self.database, autocommit=True
        ) as db:
            return [row[0] for row in db.execute(sql.format(p="%s"), (self.token,)).fetchall()]

    def blink(self) -> threading.Thread:
        """Cut the database away now and bring it back CUT_S seconds later, in the background."""

        def restore_later():
            time.sleep(CUT_S)
            self.proxy.restore()

        self.proxy.cut()
        thread = threading.Thread(target=restore_later, daemon=True)
        thread.start()
        return thread

    def test_answers_posted_while_the_database_is_away_are_stored_once_after_retries(self):
        browser = HttpEvaluator(
            self.base_url, self.token, screen_key=lambda: self.rows(SCREEN_KEY)[0], retry_for=RETRY_FOR_S
        )
        browser.consent()
        browser.check()
        order = self.rows(SESSION_CLIPS)
        self.assertEqual(len(order), self.clips)

        # The cut lands between hearing a clip and posting its answer, every third clip (the full
        # version: every other one), so the post itself meets the missing database.
        every = 2 if full_version() else 3
        blinks, answered = [], []

        def cut_database():
            blinks.append(self.blink())

        for position in range(self.clips):
            answered.append(browser.rate_current(cut_database if position % every == 1 else lambda: None))
        for thread in blinks:
            thread.join()

        self.assertEqual(answered, order)
        self.assertGreater(browser.statuses[503], 0, "no request met the cut database")
        self.assertEqual(browser.statuses[500], 0)
        for refusal in browser.refusals_503:
            self.assertIsInstance(refusal, dict, refusal)  # the JSON answer, not a proxy or error page
            self.assertEqual((refusal["ok"], refusal["retry"]), (False, True))
            self.assertIn("database", refusal["error"])
        self.assertEqual(self.rows(RATED_CLIPS), order)  # each answer stored once, none lost
        self.assertTrue(browser.open_invite().url.endswith("/finish/"))

    def test_a_page_asked_for_while_the_database_is_away_says_so_and_reloads_itself(self):
        browser = HttpEvaluator(self.base_url, self.token, screen_key=lambda: self.rows(SCREEN_KEY)[0])
        self.proxy.cut()
        try:
            page = browser.open_invite()
        finally:
            self.proxy.restore()
        self.assertEqual(page.status_code, 503)
        self.assertEqual(page.headers["Retry-After"], "3")
        self.assertIn('http-equiv="refresh"', page.text)
        self.assertIn("cannot reach its database", page.text)
        self.assertNotIn("Traceback", page.text)
        self.assertTrue(browser.open_invite().url.endswith("/consent/"))  # back once the database is
