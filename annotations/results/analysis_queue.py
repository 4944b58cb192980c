"""The background analysis of a listening test, claimed and run by one worker (annotations.tasks).

An Analysis row is queued by annotations.results.services.queue_analysis, which enqueues the task; the
task claims the row with one conditional UPDATE and runs the test's method's background analysis here.
This module never imports the tasks, so the tasks can import it.
"""

import logging
import os
import time

from django.db.models import Q
from django.utils import timezone

from annotations.methods import get_method
from annotations.models import Analysis, ListeningTest
from annotations.results.raters import Thresholds, ratings_version
from annotations.results.stored import ANALYSIS_LEASE, as_stored, load_stored

logger = logging.getLogger(__name__)


def claim_analysis(*, analysis_id: int, worker: str) -> Analysis | None:
    """Take a queued analysis (or one whose lease ran out) with one conditional UPDATE; None if taken."""
    now = timezone.now()
    claimable = Q(status=Analysis.Status.QUEUED) | Q(status=Analysis.Status.RUNNING, lease_expires_at__lt=now)
    claimed = Analysis.objects.filter(claimable, pk=analysis_id).update(
        status=Analysis.Status.RUNNING,
        claimed_by=worker,
        started_at=now,
        lease_expires_at=now + ANALYSIS_LEASE,
    )
    return Analysis.objects.select_related("test").get(pk=analysis_id) if claimed else None


def run_claimed_analysis(*, analysis: Analysis) -> None:
    """Compute a claimed analysis and store it (DONE), or store why it failed (FAILED)."""
    mine = Analysis.objects.filter(
        pk=analysis.pk, status=Analysis.Status.RUNNING, claimed_by=analysis.claimed_by
    )
    thresholds = Thresholds(**analysis.thresholds)
    try:
        data, version, seconds = compute_background_analysis(test=analysis.test, thresholds=thresholds)
    except Exception as error:
        logger.exception("background analysis %s failed", analysis.pk)
        mine.update(
            status=Analysis.Status.FAILED,
            error=repr(error)[:2000],
            finished_at=timezone.now(),
            lease_expires_at=None,
        )
        return
    finished = mine.update(
        status=Analysis.Status.DONE,
        result=data,
        seconds=seconds,
        n_ratings=version[0],
        last_rating_id=version[1],
        min_overlap=data["min_overlap"],
        finished_at=timezone.now(),
        lease_expires_at=None,
    )
    if finished:  # the earlier results of this test are superseded
        analysis.test.analyses.filter(status=Analysis.Status.DONE).exclude(pk=analysis.pk).delete()


def compute_background_analysis(*, test: ListeningTest, thresholds: Thresholds) -> tuple[dict, tuple, float]:
    """The method's analysis on every rating: (result, version, seconds)."""
    started, version = time.perf_counter(), ratings_version(test)
    data = get_method(test.method).background(test, thresholds)
    return as_stored(data), version, round(time.perf_counter() - started, 3)


def run_background_analysis(*, test: ListeningTest, thresholds: Thresholds) -> dict:
    """Run the background analysis now in this process (commands, benchmarks); stored and returned."""
    analysis = Analysis.objects.create(
        test=test,
        thresholds=thresholds.as_dict(),
        min_overlap=test.min_rater_overlap,
        status=Analysis.Status.RUNNING,
        claimed_by=f"inline:{os.getpid()}",
        started_at=timezone.now(),
        lease_expires_at=timezone.now() + ANALYSIS_LEASE,
    )
    run_claimed_analysis(analysis=analysis)
    analysis.refresh_from_db()
    if analysis.status != Analysis.Status.DONE:
        raise RuntimeError(f"background analysis failed: {analysis.error}")
    return load_stored(test)
