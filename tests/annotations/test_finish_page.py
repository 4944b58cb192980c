import re

from django.core.exceptions import ValidationError
from django.test import TestCase

from annotations import services
from annotations.models import CODE_ALPHABET, ListeningTest, new_completion_code
from tests.annotations.helpers import rate_everything, session_url, walk_to_rating
from tests.factories import build_test, make_samples

PROLIFIC = "https://app.prolific.com/submissions/complete?cc=WALK123"
REFRESH = re.compile(r'<meta http-equiv="refresh" content="(\d+);url=([^"]*)">')


class FinishPageTests(TestCase):
    def finish(self, **options):
        """A test with these options, and the finish page its first evaluator reaches."""
        self.test = build_test(samples=make_samples(systems=("SYSTEM-SECRET",)), **options)
        self.evaluator = services.invite_evaluators(test=self.test, count=1)[0]
        walk_to_rating(self.client, self.evaluator)
        rate_everything(self.client, self.evaluator)
        return self.client.get(session_url(self.evaluator), follow=True)

    def shown_code(self, response) -> str | None:
        match = re.search(r'id="completion-code"[^>]*>([^<]*)<', response.content.decode())
        return match and match[1]

    def test_the_platform_code_is_the_code_shown_and_the_page_sends_the_evaluator_to_the_completion_url(self):
        response = self.finish(platform_code="WALK123", completion_url=PROLIFIC)
        self.assertEqual(self.shown_code(response), "WALK123")
        self.assertNotContains(response, self.test.completion_code)
        refresh = REFRESH.search(response.content.decode())
        self.assertEqual(refresh.groups(), ("3", PROLIFIC.replace("&", "&amp;")))
        self.assertContains(response, f'<a class="button next" href="{PROLIFIC}"', html=False)
        self.assertContains(response, "Return to the study")
        self.assertNotContains(response, "SYSTEM-SECRET")

    def test_without_a_platform_code_the_code_in_the_completion_url_is_the_one_shown(self):
        response = self.finish(completion_url=PROLIFIC)
        self.assertEqual(self.shown_code(response), "WALK123")
        self.assertNotContains(response, self.test.completion_code)

    def test_a_completion_url_without_a_code_sends_the_evaluator_there_and_shows_no_code_to_type(self):
        response = self.finish(completion_url="https://survey.example.org/thanks")
        self.assertIsNone(self.shown_code(response))
        self.assertNotContains(response, self.test.completion_code)
        self.assertRegex(response.content.decode(), REFRESH)

    def test_a_platform_code_alone_is_shown_with_a_copy_button_and_no_redirect(self):
        response = self.finish(platform_code="C1A2B3C4")
        self.assertEqual(self.shown_code(response), "C1A2B3C4")
        self.assertNotRegex(response.content.decode(), REFRESH)
        self.assertContains(response, 'data-copy="completion-code"')

    def test_without_platform_settings_the_apps_own_code_is_shown_with_a_copy_button(self):
        response = self.finish()
        self.assertEqual(self.shown_code(response), self.test.completion_code)
        self.assertContains(response, "Enter this code where the study asks for it")
        self.assertContains(response, 'data-copy="completion-code"')
        self.assertContains(response, "/static/js/copy.js")
        self.assertNotRegex(response.content.decode(), REFRESH)

    def test_the_copy_button_and_the_way_back_speak_the_tests_language(self):
        response = self.finish(language="es", scale="acr-es", completion_url=PROLIFIC)
        self.assertContains(response, "Copiar el código")
        self.assertContains(response, "Volver al estudio")

    def test_a_finished_evaluator_still_sees_the_code_after_the_test_closes(self):
        self.finish(platform_code="C1A2B3C4")
        ListeningTest.objects.filter(pk=self.test.pk).update(state=ListeningTest.State.CLOSED)
        self.assertEqual(
            self.shown_code(self.client.get(session_url(self.evaluator), follow=True)), "C1A2B3C4"
        )


class CompletionCodeTests(TestCase):
    def test_the_apps_own_code_has_no_look_alike_characters(self):
        codes = {new_completion_code() for _ in range(500)}
        self.assertGreater(len(codes), 495)
        for code in codes:
            self.assertRegex(code, r"^[A-Z2-9]{8}$")
            self.assertFalse(set(code) & set("0O1IlL"), code)
        self.assertEqual(set("".join(codes)), set(CODE_ALPHABET))
        self.assertRegex(build_test().completion_code, r"^[A-Z2-9]{8}$")

    def test_a_platform_code_that_differs_from_the_code_in_the_completion_url_is_refused(self):
        test = build_test(platform_code="OTHER99", completion_url=PROLIFIC)
        with self.assertRaisesMessage(ValidationError, "carries the code 'WALK123' but the platform code"):
            test.full_clean()
        test.platform_code = "WALK123"
        test.full_clean()
