"""The 404 and 500 pages: in the app's look for everyone, the 500 one without the request or the database.

The test client runs with DEBUG off, as production does, so Django's handlers render these templates.
"""

from django.template.loader import get_template
from django.test import TestCase, override_settings
from django.urls import path, reverse

from sarai_eval.urls import urlpatterns as project_urlpatterns
from tests.factories import make_researcher


def failing_view(request):
    raise RuntimeError("a bug in a view")


urlpatterns = [path("fails/", failing_view), *project_urlpatterns]


@override_settings(ROOT_URLCONF=__name__)
class ErrorPageTests(TestCase):
    def test_an_unknown_address_gets_the_apps_not_found_page_with_status_404(self):
        response = self.client.get("/no-such-page/")
        self.assertContains(response, "<h1>Page not found</h1>", status_code=404, html=True)
        self.assertTemplateUsed(response, "404.html")
        self.assertTemplateUsed(response, "base.html")
        self.assertContains(response, '<a class="brand" href="/">sarai-eval</a>', status_code=404, html=True)

    def test_a_signed_in_researcher_keeps_the_menu_on_a_missing_page(self):
        self.client.force_login(make_researcher())
        response = self.client.get("/runs/999999/")
        self.assertContains(response, "<h1>Page not found</h1>", status_code=404, html=True)
        self.assertContains(response, "Log out", status_code=404)

    def test_a_mistyped_evaluator_address_gets_a_not_found_page_that_names_no_product(self):
        response = self.client.get("/t/i/some-token/nowhere/")
        self.assertContains(response, "<h1>Page not found</h1>", status_code=404, html=True)
        self.assertContains(response, "open the whole link again", status_code=404)
        self.assertNotContains(response, "sarai", status_code=404)
        self.assertNotContains(response, 'href="/"', status_code=404)

    def test_an_unknown_evaluator_link_keeps_its_own_friendly_page(self):
        response = self.client.get(reverse("annotations:session", args=["no-such-token"]))
        self.assertContains(response, "This link is not valid", status_code=404)
        self.assertTemplateNotUsed(response, "404.html")

    def test_a_failing_view_gets_the_apps_server_error_page_without_the_database(self):
        self.client.raise_request_exception = False
        with self.assertLogs("django.request", "ERROR") as logged, self.assertNumQueries(0):
            response = self.client.get("/fails/")
        self.assertIn("a bug in a view", "\n".join(logged.output))
        self.assertContains(response, "<h1>Something went wrong</h1>", status_code=500, html=True)
        self.assertTemplateUsed(response, "500.html")
        self.assertNotContains(response, "a bug in a view", status_code=500)
        # Evaluators may land here too: nothing names the product or the system they rate.
        self.assertNotContains(response, "sarai", status_code=500)

    def test_the_server_error_page_renders_without_a_request_or_a_context(self):
        with self.assertNumQueries(0):
            page = get_template("500.html").render()
        self.assertIn("Something went wrong", page)
