"""The analysis as stored: the latest finished one of a test, whether one is pending, and an analysis
computed in this process stored for the next page views."""

import json
import os
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from annotations.models import Analysis, ListeningTest

# A queued analysis blocks another request for the same test this long (the worker may be busy).
PENDING_FOR = timedelta(minutes=15)


# A running analysis whose worker died is handed to another after this; longer than any analysis.
ANALYSIS_LEASE = timedelta(hours=1)


def load_stored(test: ListeningTest) -> dict | None:
    """The latest finished background analysis of the test, as the pages read it; None if none."""
    row = test.analyses.filter(status=Analysis.Status.DONE).order_by("-finished_at", "-pk").first()
    return None if row is None else _as_read(row)


def as_stored(data: dict) -> dict:
    """The analysis as the database will hand it back: numpy scalars and tuples through a JSON round trip."""
    return json.loads(json.dumps(data, default=str))


def is_current(stored: dict | None, version: tuple, thresholds, min_overlap: int) -> bool:
    """The stored analysis covers these ratings (ratings_version) with these screening settings."""
    return bool(stored) and (
        stored["version"] == list(version)
        and stored["thresholds"] == thresholds.as_dict()
        and stored.get("min_overlap") == min_overlap
    )


def store_computed(*, test: ListeningTest, thresholds, version: tuple, compute: Callable[[], dict]) -> dict:
    """Compute the test's analysis in this process and store it as a finished Analysis row in place of
    the earlier ones, so the next page views read it instead of computing it; returns it as load_stored
    does. `version` is ratings_version taken before computing: a rating that arrives meanwhile makes the
    next view compute again."""
    started_at, started = timezone.now(), time.perf_counter()
    data = as_stored(compute())
    row = Analysis.objects.create(
        test=test,
        thresholds=thresholds.as_dict(),
        min_overlap=data["min_overlap"],
        status=Analysis.Status.DONE,
        claimed_by=f"page:{os.getpid()}",
        result=data,
        seconds=round(time.perf_counter() - started, 3),
        n_ratings=version[0],
        last_rating_id=version[1],
        started_at=started_at,
        finished_at=timezone.now(),
    )
    # Older ones only: of two views storing at once, the later row stays.
    test.analyses.filter(status=Analysis.Status.DONE, pk__lt=row.pk).delete()
    return _as_read(row)


def _as_read(row: Analysis) -> dict:
    return {
        **row.result,
        "analysis_id": row.pk,
        "version": [row.n_ratings, row.last_rating_id],
        "n_ratings": row.n_ratings,
        "thresholds": row.thresholds,
        "min_overlap": row.min_overlap,
        "seconds": row.seconds,
        "computed_at": row.finished_at,
    }


def _pending(test_id: int, now: datetime | None = None) -> QuerySet:
    """Analyses of the test queued recently or running on a live lease."""
    now = now or timezone.now()
    return Analysis.objects.filter(
        Q(status=Analysis.Status.QUEUED, created_at__gte=now - PENDING_FOR)
        | Q(status=Analysis.Status.RUNNING, lease_expires_at__gte=now),
        test_id=test_id,
    )


def is_pending(test_id: int) -> bool:
    return _pending(test_id).exists()


def background_status(test: ListeningTest, stored: dict | None, version: tuple, thresholds) -> dict:
    if not stored:
        return {"available": False, "pending": is_pending(test.pk)}
    return {
        "available": True,
        "pending": is_pending(test.pk),
        "computed_at": stored["computed_at"],
        "seconds": stored["seconds"],
        "n_ratings": stored["n_ratings"],
        "stale": stored["version"] != list(version),
        "thresholds_match": stored["thresholds"] == thresholds.as_dict()
        and stored.get("min_overlap") == test.min_rater_overlap,
        "thresholds": stored["thresholds"],
    }
