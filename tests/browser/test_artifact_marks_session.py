"""Artifact marks in a real browser: on an ACR page the listener marks a moment while the clip plays,
labels it, sees it in the list and answers; the mark is stored with the answer.

Every clip is half a second of tone and the headphone screen has two trials, so a session takes seconds.
"""

import pytest
from django.urls import reverse

from annotations.models import ArtifactMark, Rating
from tests.browser.base import UNLOCKED, BrowserTestCase
from tests.factories import build_test, make_samples

pytestmark = pytest.mark.browser  # drives Chromium: left out by make test-fast

PLAYING = (
    "() => { const a = document.querySelector('audio[data-clip]'); return a.currentTime > 0.1 || a.ended; }"
)


class ArtifactMarkBrowserTests(BrowserTestCase):
    def setUp(self):
        super().setUp()
        self.test = build_test(
            "acr-marks",
            samples=make_samples(set_name="set-marks"),
            artifact_labels=["click", "robotic"],
            samples_per_session=1,
            allow_open_link=True,
            screen_trials=2,
            screen_pass_mark=2,
        )

    def test_a_listener_marks_a_moment_labels_it_and_the_mark_is_stored_with_the_answer(self):
        page = self.page
        open_link = reverse("annotations:open_link", args=[self.test.open_token])
        page.goto(f"{self.live_server_url}{open_link}?PROLIFIC_PID=marks-pid")
        self.consent()
        evaluator = self.pass_sound_check("marks-pid")
        page.wait_for_load_state("networkidle")
        while "/training/" in page.url:
            self.listen_and_answer("3")
            page.wait_for_load_state("networkidle")
        self.assertIn("/rate/", page.url)
        self.assertTrue(page.get_by_role("button", name="Mark a problem").is_disabled())

        page.get_by_role("button", name="Play").click()
        page.wait_for_function(PLAYING, timeout=15000)
        page.keyboard.press("m")
        marks = page.locator("[data-mark-list] > li")
        self.assertEqual(marks.count(), 1)
        marks.first.get_by_label("Kind of problem").select_option("robotic")
        page.wait_for_function("() => document.querySelector('audio[data-clip]').ended", timeout=15000)
        page.wait_for_function(UNLOCKED, timeout=5000)
        # Before the answer goes: the list shows the one mark, its label and the time it was made.
        self.assertRegex(marks.first.inner_text(), r"^\d\.\d s")
        self.assertEqual(marks.first.locator("select").input_value(), "robotic")
        self.assertEqual(page.locator("[data-timeline] .region").count(), 1)

        page.keyboard.press("4")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        self.assertIn("/finish/", page.url)

        rating = Rating.objects.get(evaluator=evaluator, trial__isnull=False)
        self.assertEqual(rating.score, 4)
        mark = ArtifactMark.objects.get()
        self.assertEqual(
            (mark.evaluator_id, mark.trial_id, mark.label), (evaluator.pk, rating.trial_id, "robotic")
        )
        self.assertEqual(mark.test_sample_id, rating.test_sample_id)
        self.assertLessEqual(0, mark.start_s)
        self.assertLessEqual(mark.start_s, mark.end_s)
        self.assertLessEqual(mark.end_s, rating.test_sample.sample.duration_s)

    def test_on_the_intelligibility_page_a_mark_on_a_second_play_takes_that_plays_time(self):
        test = build_test(
            "intel-marks",
            samples=make_samples(set_name="set-intel-marks"),
            method="intelligibility",
            scale=None,
            artifact_labels=["click", "robotic"],
            samples_per_session=1,
            allow_open_link=True,
            screen_trials=2,
            screen_pass_mark=2,
        )
        page = self.page
        open_link = reverse("annotations:open_link", args=[test.open_token])
        page.goto(f"{self.live_server_url}{open_link}?PROLIFIC_PID=intel-marks-pid")
        self.consent()
        evaluator = self.pass_sound_check("intel-marks-pid")
        ended = "() => document.querySelector('audio[data-clip]').ended"
        while "/training/" in page.url or "/rate/" in page.url:
            page.wait_for_load_state("networkidle")
            page.get_by_role("button", name="Play", exact=True).click()
            page.wait_for_function(ended, timeout=15000)
            if "/rate/" in page.url:
                # The second play is fetched from a new ?play= address; the mark reads that play's time.
                page.get_by_role("button", name="Play again", exact=True).click()
                page.wait_for_function(PLAYING, timeout=15000)
                self.assertRegex(
                    page.evaluate("() => document.querySelector('audio').currentSrc"), r"\?play=\d+$"
                )
                page.get_by_role("button", name="Mark a problem").click()
                page.locator("[data-mark-list] > li select").select_option("click")
                self.assertEqual(page.locator("[data-mark-list] > li").count(), 1)
                page.wait_for_function(ended, timeout=15000)
            page.locator("[data-answer]").fill("the words")
            with page.expect_navigation():
                page.keyboard.press("Enter")

        self.assertIn("/finish/", page.url)
        rating = Rating.objects.get(evaluator=evaluator, trial__isnull=False)
        mark = ArtifactMark.objects.get()
        self.assertEqual(
            (mark.trial_id, mark.label, rating.transcript), (rating.trial_id, "click", "the words")
        )
        self.assertLessEqual(0, mark.start_s)
        self.assertLessEqual(mark.start_s, mark.end_s)
        self.assertLessEqual(mark.end_s, rating.test_sample.sample.duration_s)
