"""The query budget of every evaluator request, counted (not timed): a query added to one of them
fails here, and none of them reads more as the test fills with other evaluators and their answers.

The counts are those of an ACR test on SQLite (the transactions' savepoints included); each request
reads what it needs by keys and indexes, so the same counts hold with one evaluator or many.
"""

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext

from annotations import services
from annotations.models import Evaluator, ListeningTest
from tests.annotations.helpers import answer_for, screen_answer, session_url, take_screen
from tests.factories import build_test, make_samples

SENTENCES = tuple(f"Sentence {i}." for i in range(12))
BUDGET = {
    "session link": 1,
    "consent page": 1,
    "consent submit": 14,
    "check page": 2,
    "check answer": 3,
    "practice page": 3,
    "practice answer": 10,
    "rate page": 3,
    "audio": 3,
    "answer submit": 11,
}
# Transactions each request opens (counted as the savepoints they take inside the test's own): one
# for each write that must happen exactly once, none for the rest (a fetch is one INSERT).
TRANSACTIONS = {kind: 0 for kind in BUDGET} | {
    "consent submit": 1,
    "practice answer": 1,
    "answer submit": 1,
}


class RequestBudgetTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        samples = make_samples(sentences=SENTENCES)
        cls.test = build_test(
            samples=samples,
            samples_per_session=4,
            ratings_per_sample=50,
            traps_per_session=0,
            gold_per_session=0,
        )

    def counted(self, counts: dict, kind: str, request):
        with CaptureQueriesContext(connection) as queries:
            response = request()
        counts[kind] = len(queries)
        counts[kind, "transactions"] = sum(query["sql"].startswith("SAVEPOINT") for query in queries)
        return response

    def walk(self, client) -> dict:
        """One evaluator's requests, from the invite link to an answer, with their query counts."""
        evaluator = services.invite_evaluators(test=self.test, count=1)[0]
        counts = {}
        self.counted(counts, "session link", lambda: client.get(session_url(evaluator)))
        self.counted(counts, "consent page", lambda: client.get(session_url(evaluator, "consent")))
        consent = session_url(evaluator, "consent")
        self.counted(counts, "consent submit", lambda: client.post(consent, {"agree": "1"}))
        evaluator.refresh_from_db()
        self.counted(counts, "check page", lambda: client.get(session_url(evaluator, "check")))
        trial = services.current_screen_trial(evaluator=evaluator)
        data = {"answer": screen_answer(evaluator), "trial": services.screen_position(trial)}
        self.counted(counts, "check answer", lambda: client.post(session_url(evaluator, "check"), data))
        take_screen(client, evaluator)
        evaluator.refresh_from_db()
        practice = session_url(evaluator, "training")
        self.counted(counts, "practice page", lambda: client.get(practice))
        while evaluator.step == "training":
            data = answer_for(client, evaluator, practice)
            self.counted(counts, "practice answer", lambda data=data: client.post(practice, data))
            evaluator.refresh_from_db()
        url = session_url(evaluator, "rate")
        page = self.counted(counts, "rate page", lambda: client.get(url))
        self.counted(counts, "audio", lambda: client.get(page.context["clips"][0]["audio_url"]))
        answer = answer_for(client, evaluator, url)
        response = self.counted(counts, "answer submit", lambda: client.post(url, answer))
        self.assertEqual(response.status_code, 302)
        return counts

    def assert_within_budget(self, counts: dict) -> None:
        for kind, budget in BUDGET.items():
            with self.subTest(request=kind):
                self.assertEqual(counts[kind], budget)
                self.assertEqual(counts[kind, "transactions"], TRANSACTIONS[kind])

    def test_each_evaluator_request_runs_its_budget_of_queries(self):
        self.assert_within_budget(self.walk(self.client_class()))

    def test_the_budget_holds_when_the_test_is_full_of_other_evaluators_answers(self):
        for _ in range(6):
            client = self.client_class()
            evaluator = services.invite_evaluators(test=self.test, count=1)[0]
            client.post(session_url(evaluator, "consent"), {"agree": "1"})
            evaluator.refresh_from_db()
            take_screen(client, evaluator)
            evaluator.refresh_from_db()
            while evaluator.step == "training":
                practice = session_url(evaluator, "training")
                client.post(practice, answer_for(client, evaluator, practice))
                evaluator.refresh_from_db()
            url = session_url(evaluator, "rate")
            for _ in range(3):
                client.post(url, answer_for(client, evaluator, url))
        self.assertEqual(ListeningTest.objects.get(pk=self.test.pk).evaluators.count(), 6)
        self.assertGreaterEqual(
            Evaluator.objects.filter(test=self.test, ratings__isnull=False).distinct().count(), 6
        )
        self.assert_within_budget(self.walk(self.client_class()))
