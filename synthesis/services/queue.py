"""Sending work to the workers: the only module that enqueues synthesis tasks.

A message names its task (synthesis.tasks) and leaves once the current transaction commits, so a
worker never looks for a row that is not there yet. The tasks call the services; the services
send the tasks by name without importing them, so the two never import each other, and a web or
command process needs no task module loaded to send one.
"""

from django.db import transaction

from sarai_eval.celery import app

PROCESS_ITEM = "synthesis.tasks.process_item"
PROCESS_SERIAL_RUN = "synthesis.tasks.process_serial_run"


def send_item(item_id: int) -> None:
    """One item to any inference worker."""
    _send_on_commit(PROCESS_ITEM, item_id)


def send_serial_run(run_id: int) -> None:
    """A serial run to one inference worker, which runs its items in order."""
    _send_on_commit(PROCESS_SERIAL_RUN, run_id)


def _send_on_commit(task_name: str, object_id: int) -> None:
    transaction.on_commit(lambda: app.send_task(task_name, args=[object_id]))
