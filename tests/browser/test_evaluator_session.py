"""A whole evaluator session in a real browser: Playwright driving Debian's Chromium.

Skipped when /usr/bin/chromium is missing, and failed instead with CI=true (see base.py); `.ci/run`
installs it. Set SARAI_UPDATE_SCREENSHOTS=1 to write docs/rating-phone.png and
docs/rating-desktop.png from the screenshots taken here.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from annotations import services
from annotations.models import Evaluator, Rating
from tests.browser.base import UNLOCKED, BrowserTestCase
from tests.factories import build_test, heard, make_samples

pytestmark = pytest.mark.browser  # drives Chromium: left out by make test-fast

DOCS = Path(__file__).resolve().parents[2] / "docs"


class EvaluatorSessionBrowserTests(BrowserTestCase):
    def setUp(self):
        super().setUp()
        samples = make_samples()
        practice = make_samples(
            sentences=("Practice one.", "Practice two."), styles=("neutral",), set_name="p"
        )
        self.test = build_test(
            samples=samples,
            training=practice,
            samples_per_session=4,
            allow_open_link=True,
            ratings_per_sample=3,
        )

    def clip_token(self) -> str:
        return self.page.locator("input[name=clip]").input_value()

    def test_an_evaluator_walks_the_whole_session_and_resumes_after_a_reload(self):
        page = self.page
        open_link = reverse("annotations:open_link", args=[self.test.open_token])
        page.goto(f"{self.live_server_url}{open_link}?PROLIFIC_PID=browser-pid&STUDY_ID=s1&SESSION_ID=x1")
        self.consent()

        evaluator = self.pass_sound_check("browser-pid")

        for number in (1, 2):
            self.assertIn(f"Practice clip {number} of 2", page.inner_text("header"))
            self.listen_and_answer("3")

        tokens = []
        while "/rate/" in page.url:
            page.wait_for_load_state("networkidle")
            tokens.append(self.clip_token())
            position = len(tokens)
            self.assertIn(f"Clip {position} of 4", page.inner_text("header"))
            if position == 3:
                page.reload()
                self.assertEqual(self.clip_token(), tokens[-1])
                self.assertIn("Clip 3 of 4", page.inner_text("header"))
            self.listen_and_answer(str(position), plays=2 if position == 2 else 1)

        self.assertIn("/finish/", page.url)
        self.assertIn(self.test.completion_code, page.inner_text("#completion-code"))
        evaluator.refresh_from_db()
        self.assertIsNotNone(evaluator.finished_at)
        ratings = list(Rating.objects.filter(evaluator=evaluator).select_related("test_sample"))
        self.assertEqual([r.test_sample.token for r in sorted(ratings, key=lambda r: r.created_at)], tokens)
        self.assertEqual(sorted(r.score for r in ratings), [1, 2, 3, 4])
        self.assertTrue(all(r.played_to_end and r.time_to_answer_ms is not None for r in ratings))
        self.assertEqual({r.score: r.play_count for r in ratings}, {1: 1, 2: 2, 3: 1, 4: 1})

    def test_the_rating_page_fits_a_phone_and_a_desktop(self):
        evaluator = services.invite_evaluators(test=self.test, count=1)[0]
        services.give_consent(evaluator=evaluator)
        Evaluator.objects.filter(pk=evaluator.pk).update(checked_at=timezone.now(), trained_at=timezone.now())
        for assignment in services.assign(evaluator=evaluator)[:2]:
            heard(evaluator, *(clip.test_sample for clip in assignment.presented_clips()))
            services.submit_rating(
                evaluator=evaluator,
                sample_token=assignment.presented_clips()[0].test_sample.token,
                scores={"overall": 4},
                played_to_end=True,
                play_count=1,
                time_to_answer_ms=800,
            )
        url = self.live_server_url + reverse("annotations:rate", args=[evaluator.token])
        with tempfile.TemporaryDirectory() as folder:
            for name, width, height in (("rating-phone.png", 360, 740), ("rating-desktop.png", 1280, 800)):
                page = self.browser.new_page(viewport={"width": width, "height": height})
                page.goto(url)
                # Keyboard shortcuts are offered where there is a keyboard, not on a phone.
                self.assertEqual(page.locator(".key-hint").is_visible(), width > 640, name)
                page.get_by_role("button", name="Play").click()
                page.wait_for_function(UNLOCKED, timeout=15000)
                page.keyboard.press("4")
                self.assertIn("Clip 3 of 4", page.inner_text("header"))
                self.assertLessEqual(page.evaluate("document.documentElement.scrollWidth"), width)
                page.screenshot(path=f"{folder}/{name}")
                page.close()
                with open(f"{folder}/{name}", "rb") as handle:
                    self.assertEqual(handle.read(8), b"\x89PNG\r\n\x1a\n")
                if os.environ.get("SARAI_UPDATE_SCREENSHOTS"):
                    shutil.copy(f"{folder}/{name}", DOCS / name)
