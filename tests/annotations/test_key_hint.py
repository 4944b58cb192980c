"""The keyboard hint of the evaluator pages: shown with a keyboard, hidden on phones and tablets.

The browser test (tests/browser) checks what a 360 px phone actually shows; this checks the markup
and the rule without a browser.
"""

import re

from django.conf import settings
from django.test import TestCase
from django.utils import timezone

from annotations import services
from annotations.models import Evaluator
from tests.annotations.helpers import session_url
from tests.factories import build_test, make_evaluator

CSS = settings.BASE_DIR / "static" / "css" / "rate.css"


class KeyHintTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = build_test(state="open")
        cls.evaluator = make_evaluator(cls.test)

    def test_the_keys_are_a_separate_hint_and_the_listening_instruction_stays_for_everyone(self):
        services.give_consent(evaluator=self.evaluator)
        now = timezone.now()
        Evaluator.objects.filter(pk=self.evaluator.pk).update(checked_at=now, trained_at=now)
        page = self.client.get(session_url(self.evaluator, "rate")).content.decode()
        self.assertIn("Listen to the whole clip; the answers unlock when it ends. <span", page)
        self.assertRegex(page, r'<span class="key-hint">Keys: P plays, 1 to 5 answer, Enter goes on\.</span>')

    def test_the_sound_check_marks_its_keys_hint_too(self):
        Evaluator.objects.filter(pk=self.evaluator.pk).update(consented_at=timezone.now())
        page = self.client.get(session_url(self.evaluator, "check")).content.decode()
        self.assertRegex(page, r'<p class="hint key-hint"[^>]*>Keys: P plays, 1 to 3 choose')

    def test_the_stylesheet_hides_the_keys_hint_on_touch_and_narrow_screens(self):
        rule = re.search(r"@media ([^{]+)\{\s*\.key-hint\s*\{\s*display:\s*none;", CSS.read_text())
        self.assertIsNotNone(rule)
        for condition in ("(hover: none)", "(pointer: coarse)", "max-width"):
            self.assertIn(condition, rule.group(1))
