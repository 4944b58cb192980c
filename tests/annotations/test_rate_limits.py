"""Request limits on the evaluator links, the open link and the sign-in pages, counted in the database.

The clock the counters read is held still in these tests, so a burst never straddles two
one-minute windows (which would reset a count halfway and make a test pass or fail by the second).
"""

import json
import secrets
import sqlite3
import tempfile
import threading
import time
from contextlib import closing
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.db import connection
from django.test import RequestFactory, TestCase, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from annotations import ratelimits, services
from annotations.models import RequestCount
from tests.annotations.helpers import answer_for, rate_everything, session_url, walk_to_rating
from tests.factories import build_test, evaluator_at_rating, make_admin

pytestmark = pytest.mark.backends  # the per-request upsert of the rate limits: repeated on PostgreSQL + Redis

# The fastest honest pace: one trial per 3-second clip, each a page and an answer; a MUSHRA trial
# fetches up to ten clips, each in up to three requests (browsers fetch byte ranges).
TRIALS_PER_MINUTE = 60 // 3
PAGES_PER_TRIAL = 2
FETCHES_PER_TRIAL = 10 * 3


def new_address() -> str:
    return "10." + ".".join(str(part) for part in secrets.token_bytes(3))


@override_settings(SARAI_RATELIMIT_ENABLE=True)
class LimitTestCase(TestCase):
    def setUp(self):
        # Hold the counters' clock at this second, so every request of a test falls in one window.
        clock = mock.patch("annotations.ratelimits.time.time", return_value=float(int(time.time())))
        clock.start()
        self.addCleanup(clock.stop)
        self.hammer, self.neighbour = new_address(), new_address()
        self.client.defaults["REMOTE_ADDR"] = self.hammer


class EvaluatorLimitTests(LimitTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.test = build_test(scale=None, language="es")
        cls.evaluator = evaluator_at_rating(cls.test)

    @override_settings(SARAI_RATELIMIT_PAGES=3)
    def test_over_the_evaluators_limit_the_page_says_so_in_the_tests_language_with_retry_after(self):
        url = session_url(self.evaluator, "rate")
        for _ in range(3):
            self.assertEqual(self.client.get(url).status_code, 200)
        response = self.client.get(url)
        self.assertContains(response, "Demasiadas solicitudes", status_code=429)
        self.assertTrue(1 <= int(response["Retry-After"]) <= 60, response["Retry-After"])

    @override_settings(SARAI_RATELIMIT_PAGES=2)
    def test_the_answer_poster_gets_json_it_can_show(self):
        url = session_url(self.evaluator, "rate")
        data = answer_for(self.client, self.evaluator, url)  # one page view
        self.client.get(url)
        response = self.client.post(url, data, HTTP_ACCEPT="application/json")
        self.assertEqual(response.status_code, 429)
        self.assertIn("Retry-After", response)
        body = json.loads(response.content)
        self.assertFalse(body["ok"])
        self.assertIn("Demasiadas solicitudes", body["error"])
        self.assertFalse(self.evaluator.ratings.exists())

    @override_settings(SARAI_RATELIMIT_AUDIO=2)
    def test_clip_audio_has_its_own_limit(self):
        page = self.client.get(session_url(self.evaluator, "rate"))
        audio_url = page.context["clips"][0]["audio_url"]
        self.assertEqual(self.client.get(audio_url).status_code, 200)
        self.assertEqual(self.client.get(audio_url).status_code, 200)
        response = self.client.get(audio_url)
        self.assertEqual(response.status_code, 429)
        self.assertIn("Retry-After", response)
        # Pages count apart: the rating page still opens.
        self.assertEqual(self.client.get(session_url(self.evaluator, "rate")).status_code, 200)

    @override_settings(SARAI_RATELIMIT_PAGES_PER_ADDRESS=3)
    def test_a_busy_address_does_not_hold_up_another(self):
        other = evaluator_at_rating(self.test)
        for _ in range(3):
            self.client.get(session_url(self.evaluator))
        self.assertEqual(self.client.get(session_url(self.evaluator)).status_code, 429)
        # Another evaluator from the same address is refused too; from elsewhere, nobody is.
        self.assertEqual(self.client.get(session_url(other)).status_code, 429)
        elsewhere = {"REMOTE_ADDR": self.neighbour}
        self.assertEqual(self.client.get(session_url(other), **elsewhere).status_code, 302)
        self.assertEqual(self.client.get(session_url(self.evaluator), **elsewhere).status_code, 302)

    @override_settings(SARAI_RATELIMIT_PAGES=3, SARAI_RATELIMIT_ENABLE=False)
    def test_the_limits_can_be_turned_off(self):
        for _ in range(5):
            self.assertEqual(self.client.get(session_url(self.evaluator)).status_code, 302)

    def test_a_whole_session_over_http_stays_under_the_default_limits(self):
        evaluator = services.invite_evaluators(test=self.test, count=1)[0]
        walk_to_rating(self.client, evaluator)
        rate_everything(self.client, evaluator)
        evaluator.refresh_from_db()
        self.assertEqual(evaluator.step, "finish")


class BudgetTests(LimitTestCase):
    """The default limits against the fastest honest pace, counted through the real counters."""

    def count(self, scope: str, participant: str, times: int) -> list[int | None]:
        request = RequestFactory().get("/", REMOTE_ADDR=self.hammer)
        return [ratelimits.retry_after(request, scope=scope, participant=participant) for _ in range(times)]

    def test_four_evaluators_behind_one_address_answering_flat_out_for_a_minute_are_never_refused(self):
        waits = []
        for evaluator in (secrets.token_urlsafe(12) for _ in range(4)):
            waits += self.count("PAGES", evaluator, TRIALS_PER_MINUTE * PAGES_PER_TRIAL)
            waits += self.count("AUDIO", evaluator, TRIALS_PER_MINUTE * FETCHES_PER_TRIAL)
        self.assertEqual([wait for wait in waits if wait is not None], [])

    def test_a_script_hammering_one_link_is_refused_right_after_the_limit(self):
        waits = self.count("PAGES", secrets.token_urlsafe(12), 300)
        refused = [index for index, wait in enumerate(waits) if wait is not None]
        self.assertEqual(refused[0], settings.SARAI_RATELIMIT_PAGES)
        self.assertEqual(len(refused), 300 - settings.SARAI_RATELIMIT_PAGES)


class OpenLinkLimitTests(LimitTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.test = build_test(allow_open_link=True)
        cls.url = reverse("annotations:open_link", args=[cls.test.open_token])

    def setUp(self):
        super().setUp()
        self.run_id = secrets.token_hex(6)

    def visit(self, pid: str, **extra):
        return self.client.get(self.url, {"PROLIFIC_PID": f"{pid}-{self.run_id}"}, **extra)

    @override_settings(SARAI_RATELIMIT_OPEN_LINK=2)
    def test_the_same_participant_id_over_its_limit_gets_429_and_no_new_session(self):
        self.assertEqual(self.visit("PID-A").status_code, 302)
        self.assertEqual(self.visit("PID-A").status_code, 302)
        response = self.visit("PID-A")
        self.assertContains(response, "Too many requests", status_code=429)
        self.assertIn("Retry-After", response)
        self.assertEqual(self.visit("PID-B").status_code, 302)

    @override_settings(SARAI_RATELIMIT_OPEN_LINK_PER_ADDRESS=3)
    def test_an_address_creating_sessions_without_end_is_stopped(self):
        for number in range(3):
            self.assertEqual(self.visit(f"PID-{number}").status_code, 302)
        self.assertEqual(self.visit("PID-9").status_code, 429)
        self.assertEqual(self.test.evaluators.count(), 3)
        self.assertEqual(self.visit("PID-9", REMOTE_ADDR=self.neighbour).status_code, 302)


class SignInLimitTests(LimitTestCase):
    @override_settings(SARAI_RATELIMIT_LOGIN_PER_ADDRESS=2)
    def test_password_guessing_from_one_address_is_refused(self):
        make_admin()
        url = reverse("admin:login")
        for _ in range(2):
            response = self.client.post(url, {"username": "ada-admin", "password": "guess"})
            self.assertEqual(response.status_code, 200)
        right = {"username": "ada-admin", "password": "pw-admin-123"}
        response = self.client.post(url, right)
        self.assertEqual(response.status_code, 429)
        self.assertIn("Retry-After", response)
        self.assertEqual(self.client.get(url).status_code, 200)
        self.assertEqual(self.client.post(url, right, REMOTE_ADDR=self.neighbour).status_code, 302)

    @override_settings(SARAI_RATELIMIT_LOGIN_PER_ADDRESS=2)
    def test_password_guessing_on_the_apps_sign_in_page_is_refused_too(self):
        make_admin()
        url = reverse("login")
        for _ in range(2):
            self.assertEqual(
                self.client.post(url, {"username": "ada-admin", "password": "guess"}).status_code, 200
            )
        right = {"username": "ada-admin", "password": "pw-admin-123"}
        response = self.client.post(url, right)
        self.assertEqual(response.status_code, 429)
        self.assertIn("Retry-After", response)
        self.assertEqual(self.client.get(url).status_code, 200)
        self.assertEqual(self.client.post(url, right, REMOTE_ADDR=self.neighbour).status_code, 302)

    @override_settings(SARAI_RATELIMIT_LOGIN_PER_ADDRESS=2)
    def test_the_two_sign_in_pages_share_one_count(self):
        make_admin()
        guess = {"username": "ada-admin", "password": "guess"}
        self.assertEqual(self.client.post(reverse("admin:login"), guess).status_code, 200)
        self.assertEqual(self.client.post(reverse("login"), guess).status_code, 200)
        self.assertEqual(self.client.post(reverse("login"), guess).status_code, 429)


class SharedCounterTests(LimitTestCase):
    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.test = build_test()
        cls.evaluator = evaluator_at_rating(cls.test)

    def test_the_counters_are_rows_of_the_database_without_the_token_in_them(self):
        self.client.get(session_url(self.evaluator))
        counts = list(RequestCount.objects.values_list("digest", "count"))
        self.assertEqual(len(counts), 2)  # the evaluator's count and the address's
        self.assertEqual({count for _, count in counts}, {1})
        self.assertNotIn(self.evaluator.token, str(counts))

    def test_old_minutes_are_purged_and_this_minute_is_kept(self):
        self.client.get(session_url(self.evaluator))
        minute = int(time.time() // ratelimits.WINDOW_S)
        RequestCount.objects.create(digest="0" * 64, minute=minute - 5, count=9)
        self.assertEqual(ratelimits.purge(before_minute=minute - 1), 1)
        self.assertEqual(RequestCount.objects.count(), 2)


class CountsFileTests(LimitTestCase):
    """On SQLite the counts are kept in a file of their own (SARAI_REQUEST_COUNTS_FILE), so counting a
    page view never takes the main database's write lock."""

    @classmethod
    def setUpTestData(cls):
        super().setUpTestData()
        cls.test = build_test()
        cls.evaluator = evaluator_at_rating(cls.test)

    def setUp(self):
        super().setUp()
        self.path = Path(tempfile.mkdtemp(prefix="sarai-counts-")) / "request-counts.sqlite3"
        self.enterContext(override_settings(SARAI_REQUEST_COUNTS_FILE=str(self.path)))

    def rows(self) -> list[tuple]:
        with closing(sqlite3.connect(self.path)) as counts:
            return counts.execute("SELECT digest, minute, count FROM request_count ORDER BY 1").fetchall()

    def test_a_page_view_is_counted_in_the_file_and_writes_nothing_to_the_main_database(self):
        with CaptureQueriesContext(connection) as queries:
            self.assertEqual(self.client.get(session_url(self.evaluator, "rate")).status_code, 200)
        self.assertFalse([q["sql"] for q in queries if not q["sql"].startswith("SELECT")])
        self.assertFalse(RequestCount.objects.exists())
        rows = self.rows()
        self.assertEqual([count for _, _, count in rows], [1, 1])  # the evaluator's and the address's
        self.assertNotIn(self.evaluator.token, str(rows))

    @override_settings(SARAI_RATELIMIT_PAGES=3)
    def test_counts_made_on_other_connections_add_up_and_the_limit_holds(self):
        url = session_url(self.evaluator, "rate")
        self.assertEqual(self.client.get(url).status_code, 200)
        # Another thread has a connection of its own, as another web process has.
        elsewhere = threading.Thread(target=self.client_class(REMOTE_ADDR=self.neighbour).get, args=[url])
        elsewhere.start()
        elsewhere.join()
        self.assertEqual(self.client.get(url).status_code, 200)
        self.assertEqual(self.client.get(url).status_code, 429)

    def test_old_minutes_are_purged_from_the_file(self):
        self.client.get(session_url(self.evaluator))
        minute = int(time.time() // ratelimits.WINDOW_S)
        with closing(sqlite3.connect(self.path, isolation_level=None)) as counts:
            counts.execute("INSERT INTO request_count VALUES (?, ?, 9)", ["0" * 64, minute - 5])
        self.assertEqual(ratelimits.purge(before_minute=minute - 1), 1)
        self.assertEqual(len(self.rows()), 2)

    def test_a_counts_file_that_cannot_be_opened_lets_the_request_through_and_says_why(self):
        with (
            override_settings(SARAI_REQUEST_COUNTS_FILE=str(self.path.parent / "missing" / "counts.sqlite3")),
            self.assertLogs("annotations.ratelimits", "ERROR") as logged,
        ):
            self.assertEqual(self.client.get(session_url(self.evaluator, "rate")).status_code, 200)
        self.assertIn("Could not count a request for the PAGES rate limit", logged.output[0])
