"""The site icon: linked from every page and answered at /favicon.ico, so browsers never get a 404."""

from django.contrib.staticfiles import finders
from django.templatetags.static import static
from django.test import TestCase
from django.urls import reverse

from tests.annotations.helpers import session_url
from tests.factories import build_test, make_admin, make_evaluator


class FaviconTests(TestCase):
    def test_favicon_ico_redirects_to_the_icon_that_exists_in_static(self):
        response = self.client.get("/favicon.ico")
        self.assertRedirects(response, static("favicon.svg"), fetch_redirect_response=False)
        path = finders.find("favicon.svg")
        self.assertIsNotNone(path)
        with open(path, encoding="utf-8") as handle:
            self.assertTrue(handle.read().startswith("<svg"))

    def test_staff_pages_and_evaluator_pages_link_the_icon(self):
        icon = f'<link rel="icon" href="{static("favicon.svg")}" type="image/svg+xml">'
        self.client.force_login(make_admin())
        self.assertContains(self.client.get(reverse("synthesis:home")), icon, html=True)
        self.client.logout()
        evaluator = make_evaluator(build_test())
        self.assertContains(self.client.get(session_url(evaluator, "consent")), icon, html=True)
