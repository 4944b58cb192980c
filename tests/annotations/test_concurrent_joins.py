"""Crowd participants arriving at the same moment each get their own session and pseudonym.

Found by the load test on PostgreSQL: 23 of 200 simultaneous open-link visits failed with "could not
allocate an evaluator pseudonym" while the numbering raced. Threads here use their own connections.
"""

import threading
from importlib import import_module
from unittest import skipIf

from django.db import connection
from django.test import TransactionTestCase

from annotations import services
from annotations.models import Scale
from tests.factories import build_test

VISITORS = 40


# The SQLite test database is in memory with a shared cache: concurrent writers there fail with
# "table is locked" instead of waiting as they do on the WAL file the app uses (which
# bench_evaluators drives with 200 evaluators at once).
@skipIf(connection.vendor == "sqlite", "needs a database server; runs in CI's PostgreSQL pass")
class ConcurrentJoinTests(TransactionTestCase):
    def setUp(self):
        # A TransactionTestCase empties every table after each test, the migrations' scales too.
        acr = next(scale for scale in import_module("annotations.migrations.0002_default_scales").SCALES)
        Scale.objects.get_or_create(name=acr["name"], defaults=acr)

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
