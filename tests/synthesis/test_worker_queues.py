"""A worker checks the engines at start-up only if it takes inference items from its queues."""

import json
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from celery import Celery
from django.test import SimpleTestCase, override_settings

from synthesis import tasks
from synthesis.engines import selftest

pytestmark = pytest.mark.backends  # task routing on the broker: repeated on PostgreSQL + Redis


def starting_worker(*queues: str) -> SimpleNamespace:
    """What worker_init sends: a worker whose app selected its queues as `celery worker -Q` does."""
    app = Celery("sarai_eval")
    app.config_from_object("django.conf:settings", namespace="CELERY")
    if queues:
        app.amqp.queues.select(list(queues))
    return SimpleNamespace(app=app)


class WorkerQueuesTests(SimpleTestCase):
    def setUp(self):
        self.cache = Path(tempfile.mkdtemp(prefix="sarai-selftest-"))

    def failed_report_cached(self) -> None:
        """A stored report for this build and CPU in which the TTS engine failed, as on a bad machine."""
        path = selftest.report_path(self.cache)
        path.parent.mkdir(parents=True)
        result = {"key": "tts-piper", "ok": False, "message": "the TTS engine crashed (SIGILL)"}
        path.write_text(json.dumps({"key": selftest.build_key(), "results": [result]}), encoding="utf-8")

    def test_a_light_worker_starts_without_checking_the_engines(self):
        with override_settings(SARAI_MODEL_CACHE=self.cache), self.assertLogs("synthesis.tasks") as logs:
            tasks.check_engines(sender=starting_worker("light"))
        self.assertIn("takes no inference items (queues: light)", logs.output[0])
        self.assertFalse((self.cache / "selftest").exists())

    def test_an_inference_worker_reports_a_failed_engine(self):
        self.failed_report_cached()
        with override_settings(SARAI_MODEL_CACHE=self.cache), self.assertLogs("synthesis.tasks") as logs:
            tasks.check_engines(sender=starting_worker("inference"))
        self.assertIn("Engine self-test failed: the TTS engine crashed (SIGILL)", logs.output[0])

    def test_a_worker_without_a_queue_list_takes_both_and_checks_the_engines(self):
        self.failed_report_cached()
        worker = starting_worker()
        self.assertEqual(tasks.consumed_queues(worker), {"inference", "light"})
        with override_settings(SARAI_MODEL_CACHE=self.cache), self.assertLogs("synthesis.tasks") as logs:
            tasks.check_engines(sender=worker)
        self.assertIn("Engine self-test failed", logs.output[0])
