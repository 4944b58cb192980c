"""Evaluator tokens, crowd ids and passwords never reach a log, whichever logger writes the line."""

import logging
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from django.test import Client, SimpleTestCase, TestCase
from django.urls import reverse

from annotations.models import Evaluator
from sarai_eval.log_redaction import redact, redact_path
from tests.annotations.helpers import session_url
from tests.factories import build_test, console_output, evaluator_at_rating


class RedactionTests(SimpleTestCase):
    def test_evaluator_open_link_and_clip_tokens_are_masked_in_paths(self):
        self.assertEqual(redact_path("/t/i/Abc-123_xyz/rate/"), "/t/i/…/rate/")
        self.assertEqual(redact_path("/t/o/Open-Token-1/"), "/t/o/…/")
        self.assertEqual(redact_path("/t/i/Abc-123_xyz/a/Clip_Token-9.wav"), "/t/i/…/a/….wav")
        self.assertEqual(redact_path("/results/tests/4/"), "/results/tests/4/")

    def test_a_playback_copy_is_masked_because_its_file_name_is_the_clip_token(self):
        self.assertEqual(
            redact("No such file: '/srv/media/playback/Clip_Token-9.wav'"),
            "No such file: '/srv/media/playback/….wav'",
        )

    def test_crowd_ids_in_a_query_string_are_masked(self):
        line = "GET /t/o/tok/?PROLIFIC_PID=5f1a2b&STUDY_ID=st-1&SESSION_ID=se-1 HTTP/1.1"
        self.assertEqual(redact(line), "GET /t/o/…/?PROLIFIC_PID=…&STUDY_ID=…&SESSION_ID=… HTTP/1.1")

    def test_a_password_in_a_service_url_is_masked(self):
        self.assertEqual(
            redact("Cannot connect to amqp://sarai:s3cret-pass@mq.internal:5672//: refused"),
            "Cannot connect to amqp://sarai:***@mq.internal:5672//: refused",
        )
        self.assertEqual(redact("redis://:hunter2hunter2@127.0.0.1:6379/0"), "redis://:***@127.0.0.1:6379/0")
        self.assertEqual(
            redact("postgres://postgres@127.0.0.1:5432/test"), "postgres://postgres@127.0.0.1:5432/test"
        )

    def test_a_configured_secret_is_masked_wherever_it_appears(self):
        self.assertEqual(
            redact("key is a-long-secret-value-0123 here", {"a-long-secret-value-0123"}), "key is *** here"
        )


class LogRecordRedactionTests(SimpleTestCase):
    def test_a_broker_url_with_a_password_is_masked_in_a_logged_line(self):
        url = "redis://default:Broker-Pa55word@redis.internal:6379/0"
        with console_output() as output:
            logging.getLogger("celery.worker.consumer").error(
                "Cannot connect to %s: Connection refused.", url
            )
        self.assertIn("Cannot connect to redis://default:***@redis.internal:6379/0", output.getvalue())
        self.assertNotIn("Broker-Pa55word", output.getvalue())

    def test_the_secret_key_is_never_written(self):
        from django.conf import settings

        with console_output() as output:
            logging.getLogger("sarai_eval").warning("settings: SECRET_KEY=%s", settings.SECRET_KEY)
        self.assertIn("SECRET_KEY=***", output.getvalue())
        self.assertNotIn(settings.SECRET_KEY, output.getvalue())

    def test_a_token_in_a_traceback_is_masked(self):
        with console_output() as output:
            try:
                raise LookupError("no clip at /t/i/Evaluator-Tok3n/a/Clip-Tok3n.wav")
            except LookupError:
                logging.getLogger("synthesis.tasks").exception("failed")
        self.assertIn("LookupError: no clip at /t/i/…/a/….wav", output.getvalue())
        self.assertNotIn("Tok3n", output.getvalue())


@pytest.mark.processes
class CeleryLogTests(SimpleTestCase):
    def test_the_handlers_celery_sets_up_in_a_worker_mask_tokens_and_passwords(self):
        """A worker replaces the root handlers with Celery's own (app.log.setup): those mask secrets too."""
        code = (
            "import logging, django; django.setup(); from sarai_eval.celery import app; "
            "import synthesis.tasks; from celery.utils.log import get_task_logger; "
            "app.log.setup(loglevel='INFO'); "
            "logging.getLogger('celery.worker')"
            ".error('lost amqp://sarai:Mq-Pa55word@mq:5672// on /t/i/Ev-Tok3n/rate/'); "
            "get_task_logger('synthesis.tasks').error('no clip /t/i/Ev-Tok3n/a/Clip-Tok3n.wav')"
        )
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "sarai_eval.settings"}
        env["SARAI_VAR_DIR"] = tempfile.mkdtemp(prefix="sarai-celery-log-")
        result = subprocess.run(
            [sys.executable, "-c", code],
            cwd=Path(__file__).resolve().parent.parent,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.assertIn("ERROR/MainProcess] lost amqp://sarai:***@mq:5672// on /t/i/…/rate/", result.stderr)
        self.assertIn("no clip /t/i/…/a/….wav", result.stderr)
        self.assertNotIn("Tok3n", result.stderr)
        self.assertNotIn("Mq-Pa55word", result.stderr)


class ServerErrorLogTests(TestCase):
    def test_a_server_error_in_an_evaluator_view_logs_no_token(self):
        """A clip whose audio file is gone from storage: Django logs the 500 with its path and traceback."""
        evaluator = evaluator_at_rating(build_test())
        client = Client(raise_request_exception=False)
        page = client.get(session_url(evaluator, "rate"))
        clip = page.context["clips"][0]
        test_sample = evaluator.test.test_samples.get(token=clip["token"])
        test_sample.playback_audio.storage.delete(test_sample.playback_audio.name)
        with console_output() as output:
            response = client.get(clip["audio_url"])
        self.assertEqual(response.status_code, 500)
        self.assertIn("Internal Server Error: /t/i/…/a/….wav", output.getvalue())
        self.assertIn("Traceback", output.getvalue())
        self.assertNotIn(evaluator.token, output.getvalue())
        self.assertNotIn(clip["token"], output.getvalue())

    def test_a_refused_open_link_logs_neither_its_token_nor_the_crowd_id(self):
        test = build_test(allow_open_link=False)
        with console_output() as output:
            response = self.client.get(
                reverse("annotations:open_link", args=[test.open_token]) + "?PROLIFIC_PID=5f1a2b9c"
            )
        self.assertEqual(response.status_code, 404)
        self.assertIn("/t/o/…/", output.getvalue())
        self.assertNotIn(test.open_token, output.getvalue())
        self.assertNotIn("5f1a2b9c", output.getvalue())
        self.assertFalse(Evaluator.objects.exists())
