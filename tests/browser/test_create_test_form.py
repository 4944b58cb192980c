"""The create-test page in a browser, on a laptop screen and on a phone: a refused submit, and the
settings of the chosen method."""

import pytest
from django.urls import reverse

from annotations.models import ListeningTest
from tests.browser.base import DESKTOP, PHONE, BrowserTestCase
from tests.factories import make_admin, make_run_with_samples

pytestmark = pytest.mark.browser  # drives Chromium: left out by make test-fast

# The element's box lies within the viewport (to the pixel: a scrolled-to anchor may sit a fraction above).
IN_VIEW = (
    "(e) => { const box = e.getBoundingClientRect(); return box.top > -1 && box.bottom < innerHeight + 1; }"
)


class CreateTestFormBrowserTests(BrowserTestCase):
    def setUp(self):
        super().setUp()
        self.admin = make_admin()
        self.run, self.samples = make_run_with_samples()
        self.url = f"{self.live_server_url}{reverse('annotations:test_new')}?run={self.run.pk}"

    def test_a_refused_submit_opens_on_a_focused_summary_of_its_errors_linked_to_each_field(self):
        gold = self.samples[0]
        for viewport in (DESKTOP, PHONE):
            with self.subTest(viewport=viewport):
                page = self.signed_in_page(self.admin, viewport)
                page.goto(self.url)
                page.get_by_label("Name").fill("mos-1")
                page.get_by_label(f"Clip {gold.pk} is gold").check()
                with page.expect_navigation():
                    page.get_by_role("button", name="Create test").click()

                summary = page.locator("#error-summary")
                self.assertEqual(page.evaluate("document.activeElement.id"), "error-summary")
                self.assertTrue(summary.evaluate(IN_VIEW), "the summary is out of view")
                self.assertEqual(summary.get_attribute("role"), "alert")
                link = f"Clip {gold.pk} is a gold clip: choose the score it should get."
                summary.get_by_role("link", name=link).click()
                self.assertTrue(page.locator(f"#clip-{gold.pk}").evaluate(IN_VIEW))
                page.go_back()
                summary.get_by_role("link", name="Traps per session: No trapping clip is ticked").click()
                self.assertTrue(page.locator("#id_traps_per_session").evaluate(IN_VIEW))
                self.assertFalse(ListeningTest.objects.exists())

    def test_only_the_chosen_methods_own_settings_show_and_without_javascript_all_show_under_headings(self):
        anchor, traps, repeats = (
            "Add an anchor to each MUSHRA page",
            "Traps per session",
            "Repeated pairs (A/B)",
        )
        for viewport in (DESKTOP, PHONE):
            with self.subTest(viewport=viewport):
                page = self.signed_in_page(self.admin, viewport)
                page.goto(self.url)
                self.assertEqual(page.locator("#id_method").input_value(), "acr")
                self.assertTrue(page.get_by_label(traps).is_visible())
                self.assertFalse(page.get_by_label(anchor).is_visible())
                self.assertFalse(page.get_by_label(repeats).is_visible())
                page.locator("#id_method").select_option("mushra")
                self.assertTrue(page.get_by_label(anchor).is_visible())
                self.assertTrue(page.get_by_label("Reference system (MUSHRA)").is_visible())
                self.assertFalse(page.get_by_label(traps).is_visible())
                page.locator("#id_method").select_option("ab")
                self.assertTrue(page.get_by_label(repeats).is_visible())
                self.assertFalse(page.get_by_label(anchor).is_visible())

                page = self.signed_in_page(self.admin, viewport, java_script_enabled=False)
                page.goto(self.url)
                for label in (anchor, traps, repeats):
                    self.assertTrue(page.get_by_label(label).is_visible(), label)
                for heading in ("MUSHRA tests", "ACR tests", "A/B tests", "Intelligibility tests"):
                    self.assertTrue(
                        page.get_by_role("heading", name=heading, exact=True).first.is_visible(), heading
                    )
