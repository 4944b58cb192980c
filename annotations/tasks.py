"""Background analyses of listening tests: a thin adapter from a test id to annotations.results."""

from celery import shared_task

from annotations.models import ListeningTest
from annotations.results import services as results
from annotations.results.analysis import Thresholds


@shared_task(acks_late=True)
def analyse_test(test_id: int, thresholds: dict) -> None:
    """Screening, bootstrap, agreement and mixed models on every rating, stored for the results pages.

    Idempotent: a second delivery finds the stored analysis current and returns.
    """
    try:
        test = ListeningTest.objects.filter(pk=test_id).first()
        if test is None:
            return
        wanted = Thresholds(**thresholds)
        if results.is_current(results.load_stored(test), test, wanted):
            return
        results.run_background_analysis(test=test, thresholds=wanted)
    finally:
        results.clear_pending(test_id)
