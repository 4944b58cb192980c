"""Sending work to the workers: the only module that enqueues synthesis tasks.

A message is sent by the task's name once the current transaction commits, so a worker never looks
for a row that is not there yet. The tasks (synthesis.tasks) call the services; the services name
the tasks without importing them, so the two never import each other.
"""

from sarai_eval.celery import app

PROCESS_ITEM = "synthesis.tasks.process_item"
PROCESS_SERIAL_RUN = "synthesis.tasks.process_serial_run"


def send_item(item_id: int) -> None:
    """One item to any inference worker."""
    app.tasks[PROCESS_ITEM].delay_on_commit(item_id)


def send_serial_run(run_id: int) -> None:
    """A serial run to one inference worker, which runs its items in order."""
    app.tasks[PROCESS_SERIAL_RUN].delay_on_commit(run_id)
