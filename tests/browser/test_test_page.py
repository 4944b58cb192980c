"""A test's page for researchers in a browser, on a laptop screen and on a phone: the codes, each
rater's state, and revoking an invite link only once the researcher confirms."""

import pytest
from django.urls import reverse
from django.utils import timezone

from annotations import services
from annotations.models import Evaluator
from tests.browser.base import DESKTOP, PHONE, BrowserTestCase
from tests.factories import build_test, make_admin, make_evaluator, make_samples

pytestmark = pytest.mark.browser  # drives Chromium: left out by make test-fast


class TestPageBrowserTests(BrowserTestCase):
    def setUp(self):
        super().setUp()
        self.admin = make_admin()
        self.test = build_test(samples=make_samples(), screen_out_code="SCRN0UT1", platform_code="WALK123")
        self.url = self.live_server_url + reverse("annotations:test_detail", args=[self.test.pk])

    def evaluators(self, viewport: dict) -> tuple[Evaluator, Evaluator]:
        """A rater screened out by the headphone screen and one rating, named after the viewport."""
        screened = make_evaluator(self.test, f"S{viewport['width']}")
        services.give_consent(evaluator=screened)
        Evaluator.objects.filter(pk=screened.pk).update(screened_out_at=timezone.now())
        now = timezone.now()
        rating = make_evaluator(
            self.test, f"A{viewport['width']}", consented_at=now, checked_at=now, trained_at=now
        )
        return screened, rating

    def test_the_page_shows_the_codes_and_states_and_revokes_only_once_confirmed(self):
        for viewport in (DESKTOP, PHONE):
            with self.subTest(viewport=viewport):
                screened, rating = self.evaluators(viewport)
                page = self.signed_in_page(self.admin, viewport)
                page.goto(self.url)
                self.assertIn("see the code SCRN0UT1", page.inner_text("main"))
                self.assertIn("see the code WALK123", page.inner_text("main"))
                row = page.get_by_role("row").filter(has_text=screened.pseudonym)
                self.assertIn("screened out by the headphone screen", row.inner_text())
                row = page.get_by_role("row").filter(has_text=rating.pseudonym)
                self.assertIn("in progress: rating", row.inner_text())

                questions = []
                page.once(
                    "dialog", lambda dialog, asked=questions: (asked.append(dialog.message), dialog.dismiss())
                )
                row.get_by_role("button", name="Revoke").click()
                self.assertEqual(len(questions), 1)
                self.assertIn(f"Revoke the invite link of {rating.pseudonym}?", questions[0])
                rating.refresh_from_db()
                self.assertIsNone(rating.revoked_at)

                page.once("dialog", lambda dialog: dialog.accept())
                with page.expect_navigation():
                    row.get_by_role("button", name="Revoke").click()
                self.assertIn(f"Revoked the invite link of {rating.pseudonym}.", page.inner_text("main"))
                rating.refresh_from_db()
                self.assertIsNotNone(rating.revoked_at)

    def test_without_javascript_revoking_asks_on_a_page_of_its_own(self):
        for viewport in (DESKTOP, PHONE):
            with self.subTest(viewport=viewport):
                screened, _ = self.evaluators(viewport)
                page = self.signed_in_page(self.admin, viewport, java_script_enabled=False)
                page.goto(self.url)
                row = page.get_by_role("row").filter(has_text=screened.pseudonym)
                with page.expect_navigation():
                    row.get_by_role("button", name="Revoke").click()
                self.assertEqual(page.inner_text("h1"), f"Revoke the invite link of {screened.pseudonym}?")
                screened.refresh_from_db()
                self.assertIsNone(screened.revoked_at)
                with page.expect_navigation():
                    page.get_by_role("button", name="Revoke the link").click()
                screened.refresh_from_db()
                self.assertIsNotNone(screened.revoked_at)
                row = page.get_by_role("row").filter(has_text=screened.pseudonym)
                self.assertIn("revoked", row.inner_text())
