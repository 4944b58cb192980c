"""What the evaluator pages say, on a laptop and on a phone: a message goes once it no longer holds, and a
Spanish page speaks Spanish in every control and message, whatever language the browser speaks."""

import pytest
from django.urls import reverse

from annotations import services
from tests.browser.base import BrowserTestCase
from tests.factories import build_test, evaluator_at_rating, make_sample, make_sentence_set, tone_wav

pytestmark = pytest.mark.browser  # drives Chromium: left out by make test-fast

VIEWPORTS = ({"width": 1366, "height": 768}, {"width": 390, "height": 844})
# The page's error line and its clip, read at once, while the clip plays.
WHILE_PLAYING = """() => {
  const audio = document.querySelector('audio[data-clip]');
  const error = document.querySelector('[data-error]').textContent;
  return { error, playing: !audio.paused && !audio.ended };
}"""
PLAYING = (
    "() => { const a = document.querySelector('audio[data-clip]'); return !a.paused && a.currentTime > 0.1; }"
)


class EvaluatorMessagesBrowserTests(BrowserTestCase):
    def open(self, viewport: dict, url: str):
        page = self.browser.new_page(viewport=viewport)
        page.goto(self.live_server_url + url)
        return page

    def test_the_please_listen_message_goes_once_the_clip_starts_playing(self):
        # Clips long enough to be read while they play.
        sentences = make_sentence_set(name="long", texts=("One.", "Two.", "Three.", "Four.")).sentences.all()
        samples = [
            make_sample(sentence=s, wav=tone_wav(seconds=4.0, freq=220.0 + 40 * n))
            for n, s in enumerate(sentences)
        ]
        test = build_test(samples=samples)
        for viewport in VIEWPORTS:
            with self.subTest(width=viewport["width"]):
                evaluator = evaluator_at_rating(test)
                page = self.open(viewport, reverse("annotations:rate", args=[evaluator.token]))
                page.keyboard.press("3")
                self.assertEqual(
                    page.locator("[data-error]").inner_text(), "Please listen to the clip to the end first."
                )
                page.get_by_role("button", name="Play").click()
                page.wait_for_function(PLAYING, timeout=10000)
                self.assertEqual(page.evaluate(WHILE_PLAYING), {"error": "", "playing": True})
                page.close()

    def test_a_spanish_sound_check_tells_resume_from_continue(self):
        test = build_test(scale=None, language="es")
        for viewport in VIEWPORTS:
            with self.subTest(width=viewport["width"]):
                evaluator = services.invite_evaluators(test=test, count=1)[0]
                services.give_consent(evaluator=evaluator)
                page = self.open(viewport, reverse("annotations:check", args=[evaluator.token]))
                player = page.locator("[data-play]")
                self.assertEqual(player.inner_text(), "Reproducir")
                player.click()
                page.wait_for_function(PLAYING, timeout=10000)
                player.click()
                page.wait_for_selector("[data-play][aria-pressed=false]")
                resume = player.inner_text()
                self.assertEqual(resume, "Reanudar")
                self.assertNotEqual(resume, page.locator("[data-submit]").inner_text())
                page.close()

    def test_a_spanish_consent_page_asks_for_the_tick_in_spanish(self):
        test = build_test(scale=None, language="es")
        for viewport in VIEWPORTS:
            with self.subTest(width=viewport["width"]):
                evaluator = services.invite_evaluators(test=test, count=1)[0]
                page = self.open(viewport, reverse("annotations:consent", args=[evaluator.token]))
                page.get_by_role("button", name="Empezar").click()
                self.assertEqual(
                    page.locator("#agree-error").inner_text(timeout=5000),
                    "Marque la casilla para participar.",
                )
                page.get_by_label("Acepto participar en esta prueba de escucha.").check()
                with page.expect_navigation():
                    page.get_by_role("button", name="Empezar").click()
                self.assertIn("/check/", page.url)
                page.close()
