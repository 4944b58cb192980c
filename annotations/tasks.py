"""Background analyses of listening tests: a thin adapter from an analysis id to annotations.results.

annotations.results.services enqueues these tasks; they call annotations.results.analysis_queue, which
never imports them.
"""

import time

from celery import shared_task

from annotations import ratelimits
from annotations.results import analysis_queue
from synthesis.services import worker_name


@shared_task(acks_late=True)
def analyse_test(analysis_id: int) -> None:
    """Screening, bootstrap, agreement and mixed models on every rating, stored for the results pages.

    Idempotent: a second delivery finds the analysis claimed or done and returns.
    """
    analysis = analysis_queue.claim_analysis(analysis_id=analysis_id, worker=worker_name())
    if analysis is not None:
        analysis_queue.run_claimed_analysis(analysis=analysis)


@shared_task
def purge_request_counts() -> None:
    """Periodic (Celery beat): drop rate-limit counts of minutes that no limit reads any more."""
    ratelimits.purge(before_minute=int(time.time() // ratelimits.WINDOW_S) - 1)
