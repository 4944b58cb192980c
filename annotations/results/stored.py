"""The background analysis as stored: the latest finished one of a test and whether one is pending."""

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
    if row is None:
        return None
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
