"""Serial runs: one process runs the items in order once no other run's item is running."""

import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from synthesis.models import (
    RunItem,
    Status,
    SynthesisRun,
)
from synthesis.services.items import claim_item, execute_item
from synthesis.services.progress import refresh_progress

logger = logging.getLogger(__name__)


class MachineBusy(Exception):
    """Other items kept running past SARAI_SERIAL_IDLE_TIMEOUT: a serial run would measure contention."""


def wait_until_idle(*, run: SynthesisRun, timeout_s: float, poll_s: float, sleep=None) -> float:
    """Block until no item of another run is RUNNING; return the seconds waited (MachineBusy on timeout)."""
    import time

    sleep = sleep or time.sleep
    started = time.monotonic()
    # An item whose lease ran out belongs to a dead worker (requeue_stale_items hands it out again).
    while (
        RunItem.objects.filter(status=Status.RUNNING, lease_expires_at__gt=timezone.now())
        .exclude(run_id=run.pk)
        .exists()
    ):
        waited = time.monotonic() - started
        if waited >= timeout_s:
            raise MachineBusy(f"other runs' items were still running after {waited:.0f} s")
        sleep(poll_s)
    return time.monotonic() - started


def run_serial(*, run_id: int, worker: str, sleep=None, after_item=None) -> bool:
    """Run a serial run's items in order in this process once the machine is idle; False if not ours.

    The run is claimed with one conditional UPDATE of `in_process_by` (a Celery worker process or the
    command), so duplicate messages are harmless and a runner that dies has its run failed by
    fail_abandoned_in_process_runs. Each item still goes through claim_item/execute_item.
    """
    mine = SynthesisRun.objects.filter(
        Q(in_process_by="") | Q(in_process_by=worker),
        pk=run_id,
        status__in=[Status.QUEUED, Status.RUNNING],
    ).update(in_process_by=worker)
    if not mine:
        return False
    run = SynthesisRun.objects.get(pk=run_id)
    try:
        waited = wait_until_idle(
            run=run,
            timeout_s=settings.SARAI_SERIAL_IDLE_TIMEOUT,
            poll_s=settings.SARAI_SERIAL_POLL_SECONDS,
            sleep=sleep,
        )
    except MachineBusy as exc:
        _fail_unstarted_run(run_id=run_id, error=f"Not measured: {exc}; a serial run needs an idle machine.")
        return True
    SynthesisRun.objects.filter(pk=run_id).update(benchmark={**run.benchmark, "idle_wait_s": waited})
    for item_id in run.items.order_by("iteration", "id").values_list("id", flat=True):
        item = claim_item(item_id=item_id, worker=worker)
        if item is not None:
            execute_item(item=item)
        if after_item is not None:
            after_item()  # e.g. a command's progress bar
    # Handed back so that retry_failed can send the run to any worker again.
    SynthesisRun.objects.filter(pk=run_id, in_process_by=worker).update(in_process_by="")
    return True


def _fail_unstarted_run(*, run_id: int, error: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        RunItem.objects.filter(run_id=run_id, status=Status.QUEUED).update(
            status=Status.FAILED, error=error, finished_at=now
        )
        SynthesisRun.objects.filter(pk=run_id).update(status=Status.FAILED, error=error, finished_at=now)
        refresh_progress(run_id=run_id)
