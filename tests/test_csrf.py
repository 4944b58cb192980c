"""CSRF: every URL refuses a POST without the token, and every POST form in the templates carries one."""

import re
from pathlib import Path

from django.conf import settings
from django.test import Client, TestCase
from django.urls import reverse

from tests.factories import ADMIN_PREFIXES, TABLE, RoleFixturesMixin

POST_FORM = re.compile(r"<form\b[^>]*\bmethod\s*=\s*[\"']?post\b[^>]*>(?P<body>.*?)</form>", re.I | re.S)
CSRF_TOKEN = re.compile(r"{%\s*csrf_token\s*%}")


class CsrfOnEveryPostTests(RoleFixturesMixin, TestCase):
    """Reuses the URL table's objects and URLs: the same patterns, asked with a POST and no token."""

    def refusals(self, role: str) -> list[tuple]:
        client = Client(enforce_csrf_checks=True)
        user = {"researcher": self.researcher, "admin": self.admin}.get(role)
        if user:
            client.force_login(user)
        urls = [self.url(key, row, role) for key, row in TABLE.items()]
        urls += [self.url(name, row, role) for name, row in ADMIN_PREFIXES.values()]
        wrong = []
        for url in urls:
            response = client.post(url, {"agree": "1", "count": "1", "confirm": "yes"})
            if response.status_code != 403 or b"CSRF" not in response.content:
                wrong.append((url, response.status_code))
        return wrong

    def test_every_url_refuses_a_post_without_the_csrf_token_from_a_signed_in_admin(self):
        self.assertEqual(self.refusals("admin"), [])

    def test_every_url_refuses_a_post_without_the_csrf_token_from_an_evaluator(self):
        self.assertEqual(self.refusals("evaluator"), [])

    def test_the_same_post_with_the_token_gets_through(self):
        client = Client(enforce_csrf_checks=True)
        client.force_login(self.admin)
        detail = client.get(reverse("annotations:test_detail", args=[self.test.pk]))
        token = detail.context["csrf_token"]
        url = reverse("annotations:test_invite", args=[self.test.pk])
        response = client.post(url, {"count": "2", "csrfmiddlewaretoken": str(token)})
        self.assertRedirects(response, reverse("annotations:test_detail", args=[self.test.pk]))
        self.assertEqual(self.test.evaluators.count(), 4)


class CsrfTokenInTemplatesTests(TestCase):
    def templates(self) -> list[Path]:
        return sorted(Path(settings.BASE_DIR, "templates").rglob("*.html"))

    def test_every_post_form_in_the_templates_carries_the_csrf_token(self):
        forms = [(path, match) for path in self.templates() for match in POST_FORM.finditer(path.read_text())]
        self.assertGreater(len(forms), 10)
        without = [
            f"{path.relative_to(settings.BASE_DIR)}: {match.group(0)[:80]}"
            for path, match in forms
            if not CSRF_TOKEN.search(match["body"])
        ]
        self.assertEqual(without, [])

    def test_the_scan_finds_a_form_without_the_token(self):
        page = '<form method="post" action="/x/"><button>Go</button></form>'
        match = POST_FORM.search(page)
        self.assertIsNotNone(match)
        self.assertIsNone(CSRF_TOKEN.search(match["body"]))
