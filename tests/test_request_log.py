"""Every request writes one JSON line (sarai_eval.requests) that an operator can search, tokens masked."""

import json
import sqlite3
import threading
from datetime import datetime

from django.db import connection
from django.test import TestCase, TransactionTestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.annotations.helpers import session_url
from tests.factories import build_test, console_output, ensure_default_scales, evaluator_at_rating, make_admin


def request_lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith('{"time"')]


class RequestLogTests(TestCase):
    def test_a_request_writes_one_line_with_what_an_operator_needs(self):
        admin = make_admin()
        self.client.force_login(admin)
        with console_output() as output:
            response = self.client.get("/", REMOTE_ADDR="192.0.2.7")
        self.assertEqual(response.status_code, 200)
        [line] = request_lines(output.getvalue())
        self.assertEqual(
            {key: line[key] for key in ("method", "path", "status", "bytes", "remote_addr", "user_id")},
            {
                "method": "GET",
                "path": "/",
                "status": 200,
                "bytes": len(response.content),
                "remote_addr": "192.0.2.7",
                "user_id": admin.pk,
            },
        )
        self.assertEqual(line["request_id"], response["X-Request-ID"])
        self.assertGreaterEqual(line["duration_ms"], 0)
        self.assertIsNotNone(datetime.fromisoformat(line["time"]).tzinfo)

    def test_each_request_gets_its_own_id_and_an_anonymous_one_has_no_user(self):
        with console_output() as output:
            first = self.client.get("/healthz")
            second = self.client.post("/healthz")
        lines = request_lines(output.getvalue())
        self.assertEqual(
            [line["request_id"] for line in lines], [first["X-Request-ID"], second["X-Request-ID"]]
        )
        self.assertNotEqual(first["X-Request-ID"], second["X-Request-ID"])
        self.assertEqual([line["user_id"] for line in lines], [None, None])
        self.assertEqual([line["method"] for line in lines], ["GET", "POST"])

    def test_a_request_id_set_by_the_reverse_proxy_is_kept_and_a_malformed_one_replaced(self):
        kept = self.client.get("/healthz", HTTP_X_REQUEST_ID="proxy-req-0123456789")
        replaced = self.client.get("/healthz", HTTP_X_REQUEST_ID='bad"\n{"status": 200}')
        self.assertEqual(kept["X-Request-ID"], "proxy-req-0123456789")
        self.assertRegex(replaced["X-Request-ID"], r"^[0-9a-f]{32}$")

    def test_evaluator_pages_and_clips_are_logged_without_their_tokens(self):
        evaluator = evaluator_at_rating(build_test())
        with console_output() as output:
            page = self.client.get(session_url(evaluator, "rate"))
            clip = page.context["clips"][0]
            audio = self.client.get(clip["audio_url"])
        self.assertEqual(audio.status_code, 200)
        lines = request_lines(output.getvalue())
        self.assertEqual(
            [(line["path"], line["status"]) for line in lines],
            [("/t/i/…/rate/", 200), ("/t/i/…/a/….wav", 200)],
        )
        self.assertEqual(lines[1]["bytes"], len(audio.getvalue()))
        self.assertNotIn(evaluator.token, output.getvalue())
        self.assertNotIn(clip["token"], output.getvalue())

    def test_the_open_link_is_logged_without_its_token_or_the_crowd_ids(self):
        test = build_test(allow_open_link=True)
        url = reverse("annotations:open_link", args=[test.open_token])
        with console_output() as output:
            response = self.client.get(url + "?PROLIFIC_PID=5f1a2b9c&STUDY_ID=study-77&SESSION_ID=sess-88")
        self.assertEqual(response.status_code, 302)
        [line] = request_lines(output.getvalue())
        self.assertEqual(line["path"], "/t/o/…/")
        for secret in (test.open_token, "5f1a2b9c", "study-77", "sess-88"):
            self.assertNotIn(secret, output.getvalue())


class DatabaseTimeTests(TestCase):
    def test_each_line_counts_the_requests_statements_and_the_time_inside_them(self):
        evaluator = evaluator_at_rating(build_test())
        with console_output() as output, CaptureQueriesContext(connection) as queries:
            self.client.get(session_url(evaluator, "rate"))
        [line] = request_lines(output.getvalue())
        self.assertEqual(line["db_queries"], len(queries))
        self.assertGreater(line["db_ms"], 0)
        self.assertLessEqual(line["db_ms"], line["duration_ms"])
        self.assertLessEqual(line["lock_wait_ms"], line["db_ms"])


class SqliteLockWaitTests(TransactionTestCase):
    """On SQLite a write waits for the one write lock; the line says how long (on PostgreSQL the
    bench samples pg_stat_activity instead)."""

    HELD_S = 0.3

    def test_a_write_waiting_for_the_lock_another_connection_holds_is_counted_as_lock_wait(self):
        if connection.vendor != "sqlite" or connection.is_in_memory_db():
            self.skipTest("SQLite's write lock, on a database file")
        ensure_default_scales()  # an earlier TransactionTestCase's flush may have removed them
        evaluator = evaluator_at_rating(build_test())
        clip = self.client.get(session_url(evaluator, "rate")).context["clips"][0]
        holder = sqlite3.connect(
            connection.settings_dict["NAME"], timeout=5, isolation_level=None, check_same_thread=False
        )
        holder.execute("BEGIN IMMEDIATE")
        release = threading.Timer(self.HELD_S, holder.rollback)
        release.start()
        try:
            with console_output() as output:
                response = self.client.get(clip["audio_url"])  # its fetch is one INSERT, autocommitted
            b"".join(response.streaming_content)
        finally:
            release.join()
            holder.close()
        [line] = request_lines(output.getvalue())
        self.assertEqual(response.status_code, 200)
        # The fetch could not be written before the holder let go: at least that long was waited.
        self.assertGreaterEqual(line["lock_wait_ms"], self.HELD_S * 1000 * 0.9)
        self.assertLessEqual(line["lock_wait_ms"], line["db_ms"])
