from unittest import SkipTest

from django.test import SimpleTestCase

from tests.browser.base import BrowserMissing, require_browser

NOWHERE = "/nonexistent/chromium"


class BrowserRequirementTests(SimpleTestCase):
    def test_with_ci_true_a_missing_chromium_fails_with_a_message_saying_what_to_install(self):
        for value in ("true", "TRUE"):
            with self.subTest(CI=value), self.assertRaises(BrowserMissing) as caught:
                require_browser(environ={"CI": value}, chromium=NOWHERE)
            self.assertIn(f"CI=true but {NOWHERE} is missing", str(caught.exception))
            self.assertIn("apt-get install chromium", str(caught.exception))

    def test_with_ci_true_a_missing_playwright_package_fails_too(self):
        with self.assertRaisesMessage(BrowserMissing, "the playwright package is not installed"):
            require_browser(environ={"CI": "true"}, chromium=__file__, playwright_installed=False)

    def test_outside_ci_a_missing_browser_skips_with_the_same_message(self):
        for environ in ({}, {"CI": "false"}, {"CI": ""}):
            with self.subTest(environ=environ), self.assertRaises(SkipTest) as caught:
                require_browser(environ=environ, chromium=NOWHERE)
            self.assertIn(f"{NOWHERE} is missing", str(caught.exception))

    def test_an_installed_browser_runs_in_and_out_of_ci(self):
        for environ in ({}, {"CI": "true"}):
            with self.subTest(environ=environ):
                self.assertIsNone(require_browser(environ=environ, chromium=__file__))
