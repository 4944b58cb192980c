"""Celery adapters: take ids, claim, call the service. Inference happens in services/engines."""

import logging

from billiard.exceptions import WorkerLostError
from celery import shared_task
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    task_failure,
    worker_init,
    worker_process_shutdown,
    worker_ready,
)
from django.conf import settings

from sarai_eval import log_redaction
from synthesis import services
from synthesis.engines import pipeline, selftest

logger = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    # When a pool process dies on an item, the main process acks the message and reports the exit
    # code through task_failure (below), which records the crash and sends the item again or fails it.
    # Rejecting the message instead would redeliver it silently, with the cause lost.
    reject_on_worker_lost=False,
    autoretry_for=services.TRANSIENT_ERRORS,
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=8,
)
def process_item(item_id: int) -> None:
    """Run one item; a duplicate delivery finds the item claimed or done and returns."""
    item = services.claim_item(item_id=item_id, worker=services.worker_name())
    if item is None:
        return
    services.execute_item(item=item)


@shared_task(acks_late=True, autoretry_for=services.TRANSIENT_ERRORS, retry_backoff=2, max_retries=8)
def process_serial_run(run_id: int) -> None:
    """Run a serial run's items one after another in this worker process once no other item runs."""
    services.run_serial(run_id=run_id, worker=services.worker_name())


@shared_task
def requeue_stale() -> None:
    """Periodic (Celery beat): send again items whose message or worker was lost."""
    services.fail_abandoned_in_process_runs()
    services.requeue_stale_items()


def consumed_queues(worker) -> set[str]:
    """The queues a starting worker takes messages from: its -Q list, else every configured queue."""
    return set(worker.app.amqp.queues.consume_from)


def runs_inference(worker) -> bool:
    inference_queues = {
        settings.CELERY_TASK_ROUTES[task.name]["queue"] for task in (process_item, process_serial_run)
    }
    return bool(inference_queues & consumed_queues(worker))


@worker_init.connect
def check_engines(sender=None, **kwargs) -> None:
    """Self-test every engine in child processes before the pool starts (cached per build and CPU).

    Only a worker that takes inference items runs models: a `-Q light` worker (analyses,
    housekeeping) starts on a machine without them.
    """
    if not runs_inference(sender):
        logger.info(
            "This worker takes no inference items (queues: %s): engines not checked.",
            ", ".join(sorted(consumed_queues(sender))),
        )
        return
    report = selftest.ensure_report(cache_dir=settings.SARAI_MODEL_CACHE)
    for result in report["results"]:
        if not result["ok"]:
            logger.error(
                "Engine self-test failed: %s. Items that need it will fail at once.", result["message"]
            )


@after_setup_logger.connect
@after_setup_task_logger.connect
def redact_worker_logs(logger=None, **kwargs) -> None:
    """Celery replaces the root handlers of settings.LOGGING with its own: they mask secrets too."""
    log_redaction.add_filter(logger)


@worker_ready.connect
def requeue_after_restart(**kwargs) -> None:
    """A worker killed mid-item leaves it RUNNING: hand such items out again when a worker starts."""
    services.fail_abandoned_in_process_runs()
    services.requeue_stale_items()


@task_failure.connect
def record_worker_crash(sender=None, exception=None, args=None, **kwargs) -> None:
    """In the worker's main process: a pool process died on an item (the pool's exit code says how)."""
    if getattr(sender, "name", None) == process_item.name and isinstance(exception, WorkerLostError) and args:
        services.record_worker_crash(item_id=args[0], exit_description=str(exception))


@worker_process_shutdown.connect
def release_models(**kwargs) -> None:
    pipeline.release_models()
