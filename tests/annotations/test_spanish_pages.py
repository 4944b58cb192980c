"""A Spanish test's evaluator pages: every control has its own word, and every message is Spanish, the
browser's own ones included (the consent page leaves the tick to the server, which speaks the test's
language)."""

import re

from django.test import TestCase

from annotations import services
from tests.annotations.helpers import session_url
from tests.factories import build_test

CONSENT_FORM = re.compile(r'<form method="post" class="consent"[^>]*>')


class SpanishPagesTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = build_test(scale=None, language="es")
        cls.evaluator = services.invite_evaluators(test=cls.test, count=1)[0]

    def test_the_sound_checks_resume_label_is_not_its_continue_button(self):
        services.give_consent(evaluator=self.evaluator)
        page = self.client.get(
            session_url(self.evaluator, "check"), HTTP_ACCEPT_LANGUAGE="en"
        ).content.decode()
        resume = re.search(r'data-label-resume="([^"]+)"', page)[1]
        submit = re.search(r"<button[^>]*data-submit>([^<]+)</button>", page)[1]
        self.assertEqual((resume, submit), ("Reanudar", "Continuar"))

    def test_the_consent_form_leaves_the_missing_tick_to_the_server_and_its_spanish_message(self):
        page = self.client.get(session_url(self.evaluator, "consent"), HTTP_ACCEPT_LANGUAGE="en")
        self.assertIn("novalidate", CONSENT_FORM.search(page.content.decode())[0])
        refused = self.client.post(session_url(self.evaluator, "consent"), {}, HTTP_ACCEPT_LANGUAGE="en")
        self.assertContains(refused, "Marque la casilla para participar.", status_code=400)
