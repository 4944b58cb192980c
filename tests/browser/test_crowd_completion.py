"""A crowd participant's whole visit: the platform's open link in, the platform's completion URL out."""

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from annotations import services
from annotations.models import Evaluator, ListeningTest
from tests.browser.base import BrowserTestCase
from tests.factories import build_test, make_samples

pytestmark = pytest.mark.browser  # drives Chromium: left out by make test-fast


@override_settings(ROOT_URLCONF="tests.browser.urls")
class CrowdCompletionBrowserTests(BrowserTestCase):
    def setUp(self):
        super().setUp()
        self.test = build_test(samples=make_samples(), samples_per_session=2, allow_open_link=True)

    def test_the_open_link_with_prolific_parameters_ends_at_the_researchers_completion_url(self):
        completion_url = f"{self.live_server_url}/platform/submissions/complete?cc=WALK123"
        ListeningTest.objects.filter(pk=self.test.pk).update(completion_url=completion_url)
        page = self.page
        open_link = reverse("annotations:open_link", args=[self.test.open_token])
        page.goto(
            f"{self.live_server_url}{open_link}?PROLIFIC_PID=crowd-pid&STUDY_ID=study-7&SESSION_ID=visit-3"
        )
        self.consent()
        self.pass_sound_check("crowd-pid")
        answered = 0
        while "/training/" in page.url or "/rate/" in page.url:
            page.wait_for_load_state("networkidle")
            self.listen_and_answer("4")
            answered += 1

        self.assertEqual(answered, 4)  # two practice clips, then the two clips of the session
        self.assertIn("/finish/", page.url)
        self.assertEqual(page.inner_text("#completion-code"), "WALK123")
        self.assertEqual(
            page.get_by_role("link", name="Return to the study").get_attribute("href"), completion_url
        )
        page.wait_for_url(completion_url, timeout=10000)
        self.assertEqual(page.inner_text("h1"), "Submission complete")
        evaluator = Evaluator.objects.get(external_id="crowd-pid")
        self.assertEqual((evaluator.study_id, evaluator.session_id), ("study-7", "visit-3"))
        self.assertIsNotNone(evaluator.finished_at)

    def test_the_copy_button_puts_the_apps_own_code_on_the_clipboard(self):
        evaluator = services.invite_evaluators(test=self.test, count=1)[0]
        Evaluator.objects.filter(pk=evaluator.pk).update(finished_at=timezone.now())
        context = self.browser.new_context(permissions=["clipboard-read", "clipboard-write"])
        page = context.new_page()
        page.goto(self.live_server_url + reverse("annotations:finish", args=[evaluator.token]))
        page.get_by_role("button", name="Copy the code").click()
        self.assertEqual(page.evaluate("navigator.clipboard.readText()"), self.test.completion_code)
        self.assertEqual(page.get_by_role("button", name="Copied").count(), 1)
        page.wait_for_timeout(3500)
        self.assertIn("/finish/", page.url)  # no completion URL: the page stays
        context.close()
