"""The app's own sign-in page: where a visitor without a session is sent, signing in and signing out."""

from django.test import TestCase
from django.urls import reverse

from tests.factories import make_researcher

PASSWORD = "pw-user-1234"  # tests.factories.make_user's


class SignInPageTests(TestCase):
    def setUp(self):
        self.researcher = make_researcher()

    def test_the_home_page_sends_a_visitor_to_the_apps_own_sign_in_page(self):
        response = self.client.get("/", follow=True)
        self.assertEqual(response.redirect_chain, [("/login/?next=/", 302)])
        self.assertContains(response, "<title>Sign in · sarai-eval</title>", html=True)
        self.assertContains(response, '<a class="brand" href="/">sarai-eval</a>', html=True)
        self.assertContains(response, "/static/css/site.css")
        self.assertNotContains(response, "Django administration")
        self.assertTemplateUsed(response, "base.html")

    def test_the_sign_in_page_asks_for_a_user_name_and_a_password(self):
        response = self.client.get(reverse("login"))
        self.assertContains(response, 'name="username"')
        self.assertContains(response, 'name="password"')
        self.assertContains(response, 'type="password"')

    def test_a_researcher_signs_in_and_goes_where_they_were_going(self):
        response = self.client.post(
            reverse("login"), {"username": "rita-researcher", "password": PASSWORD, "next": "/results/"}
        )
        self.assertRedirects(response, "/results/")
        self.assertEqual(self.client.get("/").status_code, 200)

    def test_signing_in_without_a_destination_lands_on_the_runs(self):
        response = self.client.post(reverse("login"), {"username": "rita-researcher", "password": PASSWORD})
        self.assertRedirects(response, reverse("synthesis:home"))

    def test_a_wrong_password_is_refused_on_the_same_page(self):
        response = self.client.post(reverse("login"), {"username": "rita-researcher", "password": "guess"})
        self.assertContains(response, "Please enter a correct username and password")
        self.assertEqual(self.client.get("/").status_code, 302)

    def test_the_log_out_button_signs_out_and_returns_to_the_sign_in_page(self):
        self.client.force_login(self.researcher)
        page = self.client.get("/")
        self.assertContains(page, f'action="{reverse("logout")}"')
        response = self.client.post(reverse("logout"))
        self.assertRedirects(response, reverse("login"))
        self.assertRedirects(self.client.get("/"), "/login/?next=/")
