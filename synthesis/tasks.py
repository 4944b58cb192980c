"""Celery adapters: take ids, claim, call the service. Inference happens in services/engines."""

from celery import shared_task
from celery.signals import worker_process_shutdown, worker_ready

from synthesis import services
from synthesis.engines import pipeline


@shared_task(
    acks_late=True,
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


@shared_task
def requeue_stale() -> None:
    """Periodic (Celery beat): send again items whose message or worker was lost."""
    services.requeue_stale_items()


@worker_ready.connect
def requeue_after_restart(**kwargs) -> None:
    """A worker killed mid-item leaves it RUNNING: hand such items out again when a worker starts."""
    services.requeue_stale_items()


@worker_process_shutdown.connect
def release_models(**kwargs) -> None:
    pipeline.release_models()
