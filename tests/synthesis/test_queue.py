"""synthesis.services.queue: the services send the tasks by name, so the names must be the tasks'."""

from unittest import mock

from django.test import TestCase

from sarai_eval.celery import app
from synthesis import tasks
from synthesis.services import queue


class QueueTests(TestCase):
    def test_each_name_the_services_send_is_a_registered_task_of_synthesis_tasks(self):
        self.assertEqual(queue.PROCESS_ITEM, tasks.process_item.name)
        self.assertEqual(queue.PROCESS_SERIAL_RUN, tasks.process_serial_run.name)
        self.assertIn(queue.PROCESS_ITEM, app.tasks)
        self.assertIn(queue.PROCESS_SERIAL_RUN, app.tasks)

    def test_a_message_leaves_only_when_the_transaction_commits(self):
        with mock.patch.object(tasks.process_item, "delay") as sent:
            with self.captureOnCommitCallbacks(execute=False) as callbacks:
                queue.send_item(41)
            self.assertEqual((len(callbacks), sent.call_count), (1, 0))
            callbacks[0]()
        sent.assert_called_once_with(41)
