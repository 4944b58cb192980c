"""A run's progress: its counts and status recomputed from its items in one UPDATE."""

import logging

from django.utils import timezone

from synthesis.models import (
    RunItem,
    Status,
    SynthesisRun,
)

logger = logging.getLogger(__name__)


def refresh_progress(*, run_id: int) -> None:
    """Recount the run's items and close the run when none is left to do."""
    run = SynthesisRun.objects.select_for_update().get(pk=run_id)
    counts = RunItem.objects.filter(run_id=run_id).status_counts()
    run.done_count = counts.get(Status.DONE, 0)
    run.failed_count = counts.get(Status.FAILED, 0)
    open_items = counts.get(Status.QUEUED, 0) + counts.get(Status.RUNNING, 0)
    if open_items == 0 and run.status in {Status.QUEUED, Status.RUNNING}:
        run.status = Status.FAILED if run.done_count == 0 and run.failed_count else Status.DONE
        run.error = "Every item failed; see the items' errors." if run.status == Status.FAILED else ""
        run.finished_at = timezone.now()
    run.save(update_fields=["done_count", "failed_count", "status", "error", "finished_at"])
