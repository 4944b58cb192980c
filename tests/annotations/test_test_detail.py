"""A test's page for researchers (/t/manage/<id>/): its codes, its links and each rater's state."""

import re

from django.test import TestCase
from django.urls import reverse
from django.utils import timezone

from annotations import services
from annotations.models import Evaluator
from tests.factories import build_test, make_admin, make_evaluator, make_samples

PROLIFIC = "https://app.prolific.com/submissions/complete?cc=WALK123"
SCREENED_OUT = "https://app.prolific.com/submissions/complete?cc=SCRN0UT1"


def row_of(page: str, pseudonym: str) -> str:
    """The text of the evaluators table's row of one rater, tags removed and spaces joined."""
    row = re.search(rf"<tr><td>{pseudonym}</td>(.*?)</tr>", page, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", row.group(1)).split()) if row else ""


class TestDetailPageTests(TestCase):
    def setUp(self):
        self.client.force_login(make_admin())

    def page(self, test) -> str:
        return self.client.get(reverse("annotations:test_detail", args=[test.pk])).content.decode()

    def test_the_page_shows_the_screen_out_code_and_url_set_at_creation(self):
        test = build_test(
            platform_code="WALK123",
            completion_url=PROLIFIC,
            screen_out_code="SCRN0UT1",
            screen_out_url=SCREENED_OUT,
        )
        page = self.page(test)
        self.assertIn("evaluators see the code <code>WALK123</code>", page)
        self.assertIn(
            "evaluators who fail the headphone screen see the code <code>SCRN0UT1</code> and are sent to "
            f"<code>{SCREENED_OUT}</code>",
            page,
        )

    def test_without_a_screen_out_code_the_page_says_what_a_screened_out_evaluator_sees(self):
        page = self.page(build_test())
        self.assertIn(
            "evaluators who fail the headphone screen see no code and are asked to return the study on "
            "their platform",
            page,
        )
        self.assertIn("the app's own", page.replace("&#x27;", "'"))

    def test_each_rater_shows_their_state_in_words(self):
        test = build_test()
        now = timezone.now()
        make_evaluator(test, "R001")
        started = make_evaluator(test, "R002")
        services.give_consent(evaluator=started)
        screened = make_evaluator(test, "R003")
        services.give_consent(evaluator=screened)
        Evaluator.objects.filter(pk=screened.pk).update(screened_out_at=now)
        make_evaluator(test, "R004", consented_at=now, checked_at=now, trained_at=now, finished_at=now)
        make_evaluator(test, "R005", consented_at=now, revoked_at=now)
        page = self.page(test)
        self.assertIn("not started", row_of(page, "R001"))
        self.assertIn("in progress: headphone screen", row_of(page, "R002"))
        self.assertIn("screened out by the headphone screen", row_of(page, "R003"))
        self.assertIn("finished", row_of(page, "R004"))
        self.assertIn("revoked", row_of(page, "R005"))
        for pseudonym in ("R001", "R002", "R004", "R005"):
            self.assertNotIn("screened out", row_of(page, pseudonym), pseudonym)

    def test_the_open_link_row_says_whether_visitors_without_a_participant_id_are_accepted(self):
        page = self.page(build_test(allow_open_link=True, platform_code="WALK123"))
        self.assertIn("visitors without a participant id (PROLIFIC_PID) are refused", page)
        test = build_test("plain", samples=make_samples(set_name="set-b"), allow_open_link=True)
        self.assertIn(
            "visitors without a participant id get a session of their own per browser", self.page(test)
        )

    def test_the_admin_lets_an_admin_change_whether_visitors_without_an_id_are_accepted(self):
        test = build_test(platform_code="WALK123")
        change = self.client.get(reverse("admin:annotations_listeningtest_change", args=[test.pk]))
        self.assertContains(change, 'name="allow_no_participant_id"')
        self.assertContains(change, "Accept visitors without a participant id")
