"""synthesis.services.queue: the services send the tasks by name, so the names must be the tasks'."""

import subprocess
import sys
from unittest import mock

import pytest
from django.conf import settings
from django.test import SimpleTestCase, TestCase

from sarai_eval.celery import app
from synthesis import tasks
from synthesis.services import queue


class QueueTests(TestCase):
    def test_each_name_the_services_send_is_a_task_of_synthesis_tasks_routed_to_the_inference_queue(self):
        self.assertEqual(queue.PROCESS_ITEM, tasks.process_item.name)
        self.assertEqual(queue.PROCESS_SERIAL_RUN, tasks.process_serial_run.name)
        for name in (queue.PROCESS_ITEM, queue.PROCESS_SERIAL_RUN):
            self.assertEqual(settings.CELERY_TASK_ROUTES[name]["queue"], "inference")

    def test_a_message_leaves_only_when_the_transaction_commits(self):
        with mock.patch.object(app, "send_task") as sent:
            with self.captureOnCommitCallbacks(execute=False) as callbacks:
                queue.send_item(41)
            self.assertEqual((len(callbacks), sent.call_count), (1, 0))
            callbacks[0]()
        sent.assert_called_once_with(queue.PROCESS_ITEM, args=[41])


@pytest.mark.processes  # starts a Python process
class SendingFromAFreshProcessTests(SimpleTestCase):
    def test_a_process_that_never_imported_the_tasks_still_sends_by_name(self):
        script = (
            "import django; django.setup(); import sys\n"
            "from synthesis.services import queue\n"
            "assert 'synthesis.tasks' not in sys.modules, 'the services imported the tasks'\n"
            "print(queue.PROCESS_ITEM)\n"
        )
        env = {"DJANGO_SETTINGS_MODULE": "sarai_eval.settings", "PATH": "/usr/bin:/bin"}
        result = subprocess.run(
            [sys.executable, "-c", script], cwd=settings.BASE_DIR, env=env, capture_output=True, text=True
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), queue.PROCESS_ITEM)
