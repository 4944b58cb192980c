"""Recovery: a worker process that died on an item, an in-process command that died, items whose
message or worker was lost, and items of cancelled runs nobody can stop any more."""

import logging
import re
import signal
import socket
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from synthesis import modes
from synthesis.engines import pipeline, selftest
from synthesis.models import (
    RunItem,
    Status,
    SynthesisRun,
)
from synthesis.services import queue
from synthesis.services.items import MAX_ATTEMPTS, is_dead_local_process
from synthesis.services.progress import refresh_progress

logger = logging.getLogger(__name__)


# A native engine that dies of one of these on an item does so again on the next try: fail at once.
DETERMINISTIC_CRASH_SIGNALS = {signal.SIGILL, signal.SIGSEGV, signal.SIGBUS, signal.SIGFPE, signal.SIGABRT}


def record_worker_crash(*, item_id: int, exit_description: str) -> None:
    """A pool process died on this item: name the stage and signal on it, then fail or re-queue it.

    `exit_description` is what the pool reports, e.g. "Worker exited prematurely: signal 4 (SIGILL)".
    A crash that repeats on the same input (SIGILL, SIGSEGV, ...) fails the item at once; anything
    else (SIGKILL from the OOM killer or an operator) sends it again until MAX_ATTEMPTS.
    """

    item = RunItem.objects.select_related("run").filter(pk=item_id, status=Status.RUNNING).first()
    if item is None:
        return
    number = _exit_signal(exit_description)
    how = f"with {selftest.describe_signal(number)}" if number else f"({exit_description.strip()})"
    stage = pipeline.stage_description(item.stage, item.run.pipeline_settings)
    crash = f"The worker process died {how} during {stage}."
    deterministic = number in DETERMINISTIC_CRASH_SIGNALS
    with transaction.atomic():
        if deterministic or item.attempts >= MAX_ATTEMPTS:
            hint = " Run `manage.py doctor` to check the engines on this machine." if deterministic else ""
            done = RunItem.objects.filter(pk=item.pk, status=Status.RUNNING).update(
                status=Status.FAILED,
                error=(crash if deterministic else f"Gave up after {item.attempts} attempts. {crash}") + hint,
                finished_at=timezone.now(),
                lease_expires_at=None,
            )
            if done:
                refresh_progress(run_id=item.run_id)
            return
        requeued = RunItem.objects.filter(pk=item.pk, status=Status.RUNNING).update(
            status=Status.QUEUED,
            error=f"{crash} Sent again.",
            lease_expires_at=None,
            queued_at=timezone.now(),
        )
        if requeued:
            queue.send_item(item.pk)


def _exit_signal(exit_description: str) -> int | None:
    match = re.search(r"signal (\d+)", exit_description)
    return int(match.group(1)) if match else None


def fail_abandoned_in_process_runs() -> int:
    """Fail runs whose `synthesize --in-process` command on this host died; returns how many."""
    host = socket.gethostname()
    open_runs = SynthesisRun.objects.filter(status__in=[Status.QUEUED, Status.RUNNING]).exclude(
        in_process_by=""
    )
    count = 0
    for run_id, runner in open_runs.values_list("id", "in_process_by"):
        if is_dead_local_process(runner, host):
            _fail_abandoned_run(run_id=run_id, runner=runner)
            count += 1
    return count


def _fail_abandoned_run(*, run_id: int, runner: str) -> None:
    now = timezone.now()
    with transaction.atomic():
        run = SynthesisRun.objects.select_for_update().get(pk=run_id)
        for item in run.items.filter(status=Status.RUNNING):
            stage = pipeline.stage_description(item.stage, run.pipeline_settings)
            RunItem.objects.filter(pk=item.pk, status=Status.RUNNING).update(
                status=Status.FAILED,
                error=f"The command running this item in its own process ({runner}) ended during {stage}; "
                "a native crash (e.g. SIGILL) ends a process without a trace: run `manage.py doctor`.",
                finished_at=now,
                lease_expires_at=None,
            )
        run.items.filter(status=Status.QUEUED).update(
            status=Status.FAILED,
            error=f"Not run: the command running the run ({runner}) ended first.",
            finished_at=now,
        )
        SynthesisRun.objects.filter(pk=run_id).update(
            status=Status.FAILED,
            error=f"The command running this run in its own process ({runner}) ended.",
            finished_at=now,
        )
        refresh_progress(run_id=run_id)


def requeue_stale_items() -> int:
    """Send items again whose message or worker was lost. Returns how many were sent.

    RUNNING items whose lease ran out or whose process on this host is dead go back to QUEUED;
    QUEUED items waiting longer than a lease (a message lost on the way, e.g. a broker that was
    down at enqueue time) get a new message. Claims make any duplicate message harmless.
    """

    now, host = timezone.now(), socket.gethostname()
    lease = timedelta(seconds=settings.SARAI_ITEM_LEASE_SECONDS)
    _cancel_orphans_of_cancelled_runs(now=now, host=host)
    running = RunItem.objects.filter(status=Status.RUNNING, run__status=Status.RUNNING, run__in_process_by="")
    stale = [
        (item_id, claimed_by)
        for item_id, claimed_by, expires in running.values_list("id", "claimed_by", "lease_expires_at")
        if (expires is not None and expires < now) or is_dead_local_process(claimed_by, host)
    ]
    sent = 0
    with transaction.atomic():
        for item_id, claimed_by in stale:
            sent += RunItem.objects.filter(pk=item_id, status=Status.RUNNING, claimed_by=claimed_by).update(
                status=Status.QUEUED, queued_at=now
            )
        waiting = RunItem.objects.filter(
            status=Status.QUEUED,
            queued_at__lt=now - lease,
            run__status__in=[Status.QUEUED, Status.RUNNING],
            run__in_process_by="",
        ).exclude(run__mode__in=_serial_mode_keys())
        lost = list(waiting.values_list("id", flat=True))
        _resend_waiting_serial_runs(before=now - lease)
        waiting.filter(pk__in=lost).update(queued_at=now)
        for item_id in [item_id for item_id, _ in stale] + lost:
            queue.send_item(item_id)
    return sent + len(lost)


def _serial_mode_keys() -> list[str]:
    return [mode.key for mode in modes.RUN_MODES.values() if mode.serial]


def _resend_waiting_serial_runs(*, before) -> None:
    """A serial run nobody has claimed for a lease (its message lost): send it again."""

    waiting = SynthesisRun.objects.filter(
        mode__in=_serial_mode_keys(),
        status__in=[Status.QUEUED, Status.RUNNING],
        in_process_by="",
        items__status=Status.QUEUED,
        items__queued_at__lt=before,
    ).distinct()
    for run_id in waiting.values_list("id", flat=True):
        queue.send_serial_run(run_id)


def _cancel_orphans_of_cancelled_runs(*, now, host: str) -> None:
    """Items of a cancelled run whose worker died can no longer stop themselves: close them here."""
    running = RunItem.objects.filter(status=Status.RUNNING, run__status=Status.CANCELLED)
    for item_id, run_id, claimed_by, expires in running.values_list(
        "id", "run_id", "claimed_by", "lease_expires_at"
    ):
        if (expires is not None and expires < now) or is_dead_local_process(claimed_by, host):
            with transaction.atomic():
                RunItem.objects.filter(pk=item_id, status=Status.RUNNING, claimed_by=claimed_by).update(
                    status=Status.CANCELLED, finished_at=now, lease_expires_at=None
                )
                refresh_progress(run_id=run_id)
