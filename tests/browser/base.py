"""What every browser test shares: Playwright driving Debian's Chromium against a live server.

Outside CI a missing /usr/bin/chromium or playwright package skips the browser tests with a
message; with CI=true it fails them, so a CI machine without a browser can never pass by skipping.
"""

import os
from collections.abc import Mapping
from importlib import import_module
from pathlib import Path
from unittest import SkipTest

from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles.testing import StaticLiveServerTestCase
from django.test import Client

from annotations.models import Evaluator

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - the package is in requirements-dev.txt
    sync_playwright = None

CHROMIUM = "/usr/bin/chromium"
HOW_TO_ENABLE = "install Debian's chromium package (apt-get install chromium) to run the browser tests"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]
DEFAULT_ROWS = [
    ("annotations.migrations.0002_default_scales", "create_scales"),
    ("annotations.migrations.0015_comparison_scales", "create_scales"),
    ("annotations.migrations.0017_transcription_and_mushra_scales", "create_scales"),
    ("synthesis.migrations.0002_default_styles", "create_styles"),
]
UNLOCKED = "() => !document.querySelector('fieldset[data-group]').disabled"
# The researcher pages are checked on a laptop screen and on a phone.
DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 390, "height": 844}


class BrowserMissing(AssertionError):
    """CI=true and the browser tests cannot run."""


def require_browser(
    *, environ: Mapping[str, str] = os.environ, chromium: str = CHROMIUM, playwright_installed: bool = True
) -> None:
    """Return if the browser tests can run; otherwise fail under CI=true and skip elsewhere."""
    missing = []
    if not Path(chromium).exists():
        missing.append(f"{chromium} is missing")
    if not playwright_installed:
        missing.append("the playwright package is not installed (pip install -r requirements-dev.txt)")
    if not missing:
        return
    problem = " and ".join(missing)
    if environ.get("CI", "").strip().lower() == "true":
        raise BrowserMissing(f"CI=true but {problem}: the browser tests must run in CI; {HOW_TO_ENABLE}.")
    raise SkipTest(f"{problem}; {HOW_TO_ENABLE}")


class BrowserTestCase(StaticLiveServerTestCase):
    """A live server, one headless Chromium for the class and a fresh page per test."""

    viewport = {"width": 1280, "height": 800}

    @classmethod
    def setUpClass(cls):
        require_browser(playwright_installed=sync_playwright is not None)
        # Playwright's sync API runs an event loop; Django refuses ORM calls inside one without this.
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
        super().setUpClass()
        cls.playwright = sync_playwright().start()
        cls.browser = cls.playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

    @classmethod
    def tearDownClass(cls):
        cls.browser.close()
        cls.playwright.stop()
        super().tearDownClass()

    def setUp(self):
        # A live-server test empties the database after each test, and serialized_rollback cannot
        # put the migrations' rows back once Playwright runs (its greenlets give Django another
        # connection object), so the default scales and styles are made again here.
        for module, function in DEFAULT_ROWS:
            getattr(import_module(module), function)(apps, None)
        self.page = self.browser.new_page(viewport=self.viewport)

    def tearDown(self):
        self.page.close()

    def sign_in(self, page, user) -> None:
        """Give the browser of page a signed-in session of user, as if they had signed in."""
        client = Client()
        client.force_login(user)
        cookie = client.cookies["sessionid"]
        page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": self.live_server_url}])

    def signed_in_page(self, user, viewport: dict, **options):
        """A page of a new browser context signed in as user (the session cookie of a test client)."""
        client = Client()
        client.force_login(user)
        context = self.browser.new_context(viewport=viewport, **options)
        cookie = {"name": settings.SESSION_COOKIE_NAME, "url": self.live_server_url}
        context.add_cookies([{**cookie, "value": client.cookies[settings.SESSION_COOKIE_NAME].value}])
        self.addCleanup(context.close)
        return context.new_page()

    def listen_and_answer(self, key: str, plays: int = 1) -> None:
        """Play the clip to the end (plays times), answer with a key and go on with Enter."""
        page = self.page
        self.assertTrue(page.locator("input[type=radio]").first.is_disabled())
        for _ in range(plays):
            page.get_by_role("button", name="Play").or_(page.get_by_role("button", name="Play again")).click()
            page.wait_for_function("() => document.querySelector('audio').ended", timeout=15000)
        page.wait_for_function(UNLOCKED, timeout=5000)
        page.keyboard.press(key)
        with page.expect_navigation():
            page.keyboard.press("Enter")

    def consent(self) -> None:
        self.page.get_by_label("I agree to take part").check()
        self.page.get_by_role("button", name="Start").click()

    def pass_sound_check(self, participant: str) -> Evaluator:
        """Play each screen trial's three tones, pick the quiet one the server dealt, and go on.

        The page says nothing of the answer; the test reads the server's answer key from the database.
        """
        page = self.page
        evaluator = Evaluator.objects.get(external_id=participant)
        for number in range(1, evaluator.test.screen_trials + 1):
            page.wait_for_selector(f"text=Tones {number} of {evaluator.test.screen_trials}")
            page.wait_for_load_state("networkidle")
            trial = evaluator.screen_trials.get(attempt=1, number=number)
            page.get_by_role("button", name="Play").click()
            page.wait_for_function(UNLOCKED, timeout=15000)
            page.get_by_label(["First tone", "Second tone", "Third tone"][trial.quiet_position - 1]).check()
            with page.expect_navigation():
                page.get_by_role("button", name="Continue").click()
        evaluator.refresh_from_db()
        return evaluator
