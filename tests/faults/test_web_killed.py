"""The web process SIGKILLed in the middle of an evaluator's session: the invite link resumes it.

gunicorn as deployed, on a temporary SQLite installation; the evaluator is scripted over HTTP
(tests/faults/evaluator.py). Everything of a session lives in the database, so a new web process
knows where each evaluator stands.
"""

import signal

import pytest
import requests
from django.test import SimpleTestCase

from tests.faults.evaluator import RATED_CLIPS, SCREEN_KEY, SESSION_CLIPS, HttpEvaluator
from tests.faults.processes import Installation, free_port, full_version

pytestmark = pytest.mark.processes  # a web process it kills


class KilledWebProcessTests(SimpleTestCase):
    def setUp(self):
        self.clips = 8 if full_version() else 3
        self.site = Installation("sarai-faults-web-")
        self.addCleanup(self.site.stop_all)
        self.site.manage("migrate", "--noinput", "-v0")
        self.token = self.site.listening_test(clips=self.clips)
        self.port = free_port()
        self.web = self.site.start_web(self.port)

    def rows(self, sql: str) -> list[str]:
        return [row[0] for row in self.site.query(sql.format(p="?"), (self.token,))]

    def evaluator(self) -> HttpEvaluator:
        """A fresh browser (no cookies) opening the invite link."""
        return HttpEvaluator(
            f"http://127.0.0.1:{self.port}", self.token, screen_key=lambda: self.rows(SCREEN_KEY)[0]
        )

    def kill_and_restart_web(self) -> None:
        self.site.kill(self.web, signal.SIGKILL)  # the whole group: master and workers
        with self.assertRaises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{self.port}/t/i/{self.token}/", timeout=5)
        self.web = self.site.start_web(self.port)

    def test_an_evaluator_resumes_at_the_next_unrated_clip_after_the_web_process_is_killed(self):
        browser = self.evaluator()
        browser.consent()
        browser.check()
        order = self.rows(SESSION_CLIPS)  # the session's clips in the order it shows them
        self.assertEqual(len(order), self.clips)
        self.assertEqual(browser.rate_current(), order[0])
        # Mid-clip: the next page is open and its audio fetched, not yet answered.
        page = browser.send("GET", browser.url("rate"))
        self.assertEqual(browser.current_clip(page), order[1])
        browser.listen(page)

        # A full run kills the web process again after every further answer.
        kills = range(1, self.clips - 1) if full_version() else range(1, 2)
        for position in kills:
            self.kill_and_restart_web()
            browser = self.evaluator()
            resumed = browser.open_invite()
            self.assertTrue(resumed.url.endswith("/rate/"), resumed.url)
            self.assertEqual(browser.current_clip(resumed), order[position])
            self.assertEqual(self.rows(RATED_CLIPS), order[:position])  # the answers before are there once
            self.assertEqual(browser.rate_current(), order[position])

        while browser.rate_current():
            pass
        finished = browser.open_invite()
        self.assertTrue(finished.url.endswith("/finish/"), finished.url)
        self.assertEqual(self.rows(RATED_CLIPS), order)  # every clip rated once, in the session's order
        self.assertEqual(browser.statuses[500], 0)
