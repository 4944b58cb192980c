"""Crowd participants arriving at the same moment each get their own session and pseudonym.

Found by the load test on PostgreSQL: 23 of 200 simultaneous open-link visits failed with "could not
allocate an evaluator pseudonym" while the numbering raced. Threads here use their own connections.
"""

import threading
from unittest import skipIf

import pytest
from django.db import connection
from django.test import TransactionTestCase

from annotations import services
from annotations.models import Rating
from tests.factories import build_test, ensure_default_scales, evaluator_at_rating, heard

pytestmark = pytest.mark.backends  # row locks between concurrent sessions: repeated on PostgreSQL + Redis

VISITORS = 40
COPIES = 12


# The SQLite test database is in memory with a shared cache: concurrent writers there fail with
# "table is locked" instead of waiting as they do on the WAL file the app uses (which
# bench_evaluators drives with 200 evaluators at once).
@skipIf(connection.vendor == "sqlite", "needs a database server; runs in CI's PostgreSQL pass")
class ConcurrentJoinTests(TransactionTestCase):
    def setUp(self):
        ensure_default_scales()

    def test_simultaneous_visitors_each_get_a_session_with_a_distinct_pseudonym(self):
        test = build_test(allow_open_link=True)
        start, errors = threading.Barrier(VISITORS), []

        def visit(number: int) -> None:
            try:
                start.wait()
                services.join_test(test=test, external_id=f"PID-{number}")
            except Exception as exc:  # noqa: BLE001 - every failure is what the test reports
                errors.append(repr(exc))
            finally:
                connection.close()

        threads = [threading.Thread(target=visit, args=(number,)) for number in range(VISITORS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(errors, [])
        pseudonyms = list(test.evaluators.values_list("pseudonym", flat=True))
        self.assertEqual(len(pseudonyms), VISITORS)
        self.assertEqual(len(set(pseudonyms)), VISITORS)

    def test_one_participant_arriving_twice_at_once_gets_one_session(self):
        test = build_test(allow_open_link=True)
        start, found, errors = threading.Barrier(4), [], []

        def visit() -> None:
            try:
                start.wait()
                found.append(services.join_test(test=test, external_id="PID-SAME").pk)
            except Exception as exc:  # noqa: BLE001
                errors.append(repr(exc))
            finally:
                connection.close()

        threads = [threading.Thread(target=visit) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(errors, [])
        self.assertEqual(len(set(found)), 1)
        self.assertEqual(test.evaluators.count(), 1)


@skipIf(connection.vendor == "sqlite", "needs a database server; runs in CI's PostgreSQL pass")
class ConcurrentAnswerTests(TransactionTestCase):
    def setUp(self):
        ensure_default_scales()

    def test_copies_of_one_answer_arriving_at_once_store_it_once_and_none_is_refused(self):
        # answer.js resends on a gateway error; a copy checked while the first was being stored used to
        # find the fetches spent and be refused "not fetched".
        test = build_test()
        evaluator = evaluator_at_rating(test)
        clip = services.current_clip(evaluator=evaluator)[0].presented_clips()[0].test_sample
        heard(evaluator, clip)
        start, answered, errors = threading.Barrier(COPIES), [], []

        def answer() -> None:
            try:
                start.wait()
                ratings = services.submit_rating(
                    evaluator=evaluator,
                    sample_token=clip.token,
                    scores={dimension: 4 for dimension in test.rated_dimensions},
                    played_to_end=True,
                    play_count=1,
                    time_to_answer_ms=5000,
                )
                answered.append(sorted(rating.pk for rating in ratings))
            except Exception as exc:  # noqa: BLE001
                errors.append(repr(exc))
            finally:
                connection.close()

        threads = [threading.Thread(target=answer) for _ in range(COPIES)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(errors, [])
        self.assertEqual(len({tuple(pks) for pks in answered}), 1)
        self.assertEqual(Rating.objects.filter(evaluator=evaluator).count(), len(test.rated_dimensions))
