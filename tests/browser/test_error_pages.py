"""The 404 and 500 pages in a real browser, on a laptop and on a phone: the app's bar and type, and
nothing wider than the screen."""

import pytest
from django.test import override_settings
from django.urls import path

from sarai_eval.urls import urlpatterns as project_urlpatterns
from tests.browser.base import BrowserTestCase

pytestmark = pytest.mark.browser  # drives Chromium: left out by make test-fast

VIEWPORTS = ({"width": 1366, "height": 768}, {"width": 390, "height": 844})
# What makes a page look like the app's: its bar, its brand and its type.
LOOK = """() => {
  const style = (selector, names) => {
    const element = document.querySelector(selector);
    if (!element) return null;
    const computed = getComputedStyle(element);
    return Object.fromEntries(names.map((name) => [name, computed[name]]));
  };
  return {
    body: style('body', ['fontFamily', 'fontSize', 'color', 'margin']),
    bar: style('.topbar', ['display', 'borderBottomStyle', 'borderBottomColor', 'paddingTop']),
    brand: style('.brand', ['fontWeight', 'color', 'textDecorationLine']),
  };
}"""


def failing_view(request):
    raise RuntimeError("a bug in a view")


urlpatterns = [path("fails/", failing_view), *project_urlpatterns]


@override_settings(ROOT_URLCONF=__name__)
class ErrorPagesBrowserTests(BrowserTestCase):
    def look_at(self, path: str, viewport: dict) -> tuple[int, dict, str]:
        page = self.browser.new_page(viewport=viewport)
        response = page.goto(self.live_server_url + path)
        self.assertLessEqual(page.evaluate("document.documentElement.scrollWidth"), viewport["width"])
        self.assertTrue(page.locator(".brand").is_visible())
        result = response.status, page.evaluate(LOOK), page.locator("h1").inner_text()
        page.close()
        return result

    def test_a_missing_page_and_a_server_error_look_like_the_app_at_both_widths(self):
        for viewport in VIEWPORTS:
            with self.subTest(width=viewport["width"]):
                app = self.look_at("/login/", viewport)[1]
                self.assertEqual(self.look_at("/no-such-page/", viewport), (404, app, "Page not found"))
                self.assertEqual(self.look_at("/fails/", viewport), (500, app, "Something went wrong"))
