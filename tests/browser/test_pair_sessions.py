"""CMOS and A/B sessions in a real browser, and what the browser saw of them: nothing names a condition.

Every clip is half a second of tone and the headphone screen has two trials, so a session takes
seconds. The clips are tests/annotations/test_blinding.py's, whose every name is a secret; that
file checks the pages and assets the server sends, this one what only a browser shows: the
requests it made, the audio responses it got and the page after its script ran.
"""

from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from annotations.models import Evaluator, ListeningTest, Rating
from tests.browser.base import UNLOCKED, BrowserTestCase
from tests.factories import ALLOWED_URL, ROLE_MARKERS, SECRETS, build_test, secret_samples

pytestmark = pytest.mark.browser  # drives Chromium: left out by make test-fast

PHONE = {"width": 390, "height": 844}
PLAY_FIRST = "Please listen to both samples to the end first."
ENDED = "(index) => document.querySelectorAll('audio[data-clip]')[index].ended"
# Every attribute value on the page once its script has run: a role would show as "X" or "Y".
ATTRIBUTE_VALUES = (
    "() => Array.from(document.querySelectorAll('*')).flatMap(e => Array.from(e.attributes, a => a.value))"
)
AUDIO_SOURCES = "() => Array.from(document.querySelectorAll('audio'), audio => audio.currentSrc)"


class PairSessionBrowserTests(BrowserTestCase):
    def setUp(self):
        super().setUp()
        samples, _ = secret_samples()
        # Four conditions per sentence there; one style here, so each sentence makes one pair:
        # two sentences to rate and the third to practise on.
        self.rated = [samples[0], samples[1], samples[4], samples[5]]
        self.practice = [samples[8], samples[9]]
        self.requests: list[tuple[str, str, str]] = []
        self.responses: list[tuple[str, str, dict[str, str]]] = []
        self.pages: list[dict] = []

    def pair_test(self, method: str, **options) -> ListeningTest:
        return build_test(
            f"{method}-secret-test",
            samples=self.rated,
            training=self.practice,
            method=method,
            scale=None,
            description="DESCRIPTION-SECRET",
            allow_open_link=True,
            samples_per_session=2,
            screen_trials=2,
            screen_pass_mark=2,
            **options,
        )

    def start(self, test: ListeningTest, participant: str) -> Evaluator:
        """Record what the browser asks and gets, open the test's link, consent and pass the screen."""
        self.page.on("request", lambda r: self.requests.append((r.method, r.url, r.post_data or "")))
        self.page.on("response", lambda r: self.responses.append((r.url, r.request.resource_type, r.headers)))
        open_link = reverse("annotations:open_link", args=[test.open_token])
        self.page.goto(f"{self.live_server_url}{open_link}?PROLIFIC_PID={participant}")
        self.open_link_path = open_link
        self.consent()
        return self.pass_sound_check(participant)

    def arrive(self) -> list[str]:
        """The pair page now shown, locked: its clip tokens in the order presented (A, then B)."""
        page = self.page
        page.wait_for_load_state("networkidle")
        self.assertTrue(
            page.eval_on_selector_all("input[type=radio]", "els => els.every(e => e.matches(':disabled'))")
        )
        self.assertTrue(page.locator("[data-submit]").is_disabled())
        self.assertEqual(page.locator("[data-heard]").all_inner_texts(), ["Not heard yet"] * 2)
        return [field.input_value() for field in page.locator("input[name=clips]").all()]

    def wait_to_end(self, index: int) -> None:
        self.page.wait_for_function(ENDED, arg=index, timeout=15000)

    def heard_both(self) -> None:
        """Both clips played to the end: the answers unlock; note what the page then shows."""
        page = self.page
        page.wait_for_function(UNLOCKED, timeout=5000)
        self.assertEqual(page.locator("[data-heard]").all_inner_texts(), ["Heard to the end"] * 2)
        self.pages.append(
            {
                "url": page.url,
                "html": page.content(),
                "attributes": page.evaluate(ATTRIBUTE_VALUES),
                "audio": page.evaluate(AUDIO_SOURCES),
            }
        )

    def finish(self, test: ListeningTest, evaluator: Evaluator) -> None:
        self.assertIn("/finish/", self.page.url)
        self.assertEqual(self.page.inner_text("#completion-code"), test.completion_code)
        evaluator.refresh_from_db()
        self.assertIsNotNone(evaluator.finished_at)

    def answers_sent(self) -> int:
        return sum(
            verb == "POST" and urlsplit(url).path.endswith(("/training/", "/rate/"))
            for verb, url, _ in self.requests
        )

    def assert_the_browser_saw_no_condition(self, method: str) -> None:
        secrets = [secret.lower() for secret in [*SECRETS, f"{method}-secret-test"]]
        for verb, url, body in self.requests:
            parts = urlsplit(url)
            self.assertEqual(f"{parts.scheme}://{parts.netloc}", self.live_server_url, url)
            if parts.path != self.open_link_path:
                address = parts.path + (f"?{parts.query}" if parts.query else "")
                self.assertRegex(address, ALLOWED_URL)
            for secret in secrets:
                self.assertNotIn(secret, f"{url}\n{body}".lower(), f"{verb} {url}")
        audio = [(url, headers) for url, kind, headers in self.responses if "/a/" in urlsplit(url).path]
        # The clips fetched are those the pair pages offered, each played by an audio element.
        offered = {source for shown in self.pages for source in shown["audio"]}
        self.assertEqual({url for url, _ in audio}, offered)
        self.assertEqual({kind for url, kind, _ in self.responses if url in offered}, {"media"})
        for url, headers in audio:
            self.assertEqual(headers["content-disposition"], 'inline; filename="clip.wav"', url)
            self.assertIn("no-store", headers["cache-control"], url)
            self.assertNotIn("etag", headers)
            self.assertNotIn("last-modified", headers)
        for url, _, headers in self.responses:
            text = "\n".join(f"{key}: {value}" for key, value in headers.items()).lower()
            for secret in secrets:
                self.assertNotIn(secret, text, url)
        for shown in self.pages:
            self.assertEqual(len(shown["audio"]), 2)
            for source in shown["audio"]:
                self.assertRegex(urlsplit(source).path, ALLOWED_URL)
            html = shown["html"].lower()
            for secret in secrets:
                self.assertNotIn(secret, html, shown["url"])
            for marker in ROLE_MARKERS:
                self.assertNotIn(marker.lower(), html, shown["url"])
            self.assertFalse({"X", "Y"} & set(shown["attributes"]), shown["url"])
            self.assertFalse(
                any(secret in value.lower() for value in shown["attributes"] for secret in secrets)
            )

    def test_a_cmos_session_is_answered_with_the_keyboard_only_after_both_clips_were_heard(self):
        test = self.pair_test("cmos")
        evaluator = self.start(test, "cmos-pid")
        page = self.page
        answers = iter(["4", "1", "7"])  # the practice pair, then -3 and +3
        shown = []
        while "/training/" in page.url or "/rate/" in page.url:
            rating = "/rate/" in page.url
            tokens = self.arrive()
            self.assertEqual(Rating.objects.filter(evaluator=evaluator).count(), len(shown))
            page.keyboard.press("5")
            page.keyboard.press("Enter")
            self.assertEqual(page.inner_text("[data-error]"), PLAY_FIRST)
            page.keyboard.press("a")
            self.wait_to_end(0)
            # A alone does not unlock the answers.
            self.assertTrue(page.locator("input[type=radio]").first.is_disabled())
            page.keyboard.press("b")
            self.wait_to_end(1)
            self.heard_both()
            self.assertEqual(page.locator("input[type=radio]:checked").count(), 0)
            page.keyboard.press(next(answers))
            with page.expect_navigation():
                page.keyboard.press("Enter")
            if rating:
                shown.append(tokens)
            self.assertEqual(Rating.objects.filter(evaluator=evaluator).count(), len(shown))

        self.assertEqual(len(self.pages), 3)  # one practice pair, then the two of the session
        self.assertEqual(self.answers_sent(), 3)  # the answers tried before listening never left the page
        self.finish(test, evaluator)
        ratings = list(Rating.objects.filter(evaluator=evaluator).select_related("test_sample"))
        ratings.sort(key=lambda r: r.created_at)
        self.assertEqual(
            [(r.dimension, r.score, r.test_sample.token) for r in ratings],
            [("cmos", -3, shown[0][1]), ("cmos", 3, shown[1][1])],
        )
        self.assertEqual(len({r.trial_id for r in ratings}), 2)
        self.assertTrue(all(r.played_to_end and r.play_count == 1 for r in ratings))
        self.assert_the_browser_saw_no_condition("cmos")

    def test_an_ab_session_on_a_phone_is_tapped_through_with_a_repeat_in_swapped_order(self):
        self.page.close()
        self.page = self.browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
        test = self.pair_test("ab", repeat_share=0.5)  # of two pairs, one is asked again
        evaluator = self.start(test, "ab-pid")
        page = self.page
        answers = iter(["B", "A", "B", "No preference"])  # the practice pair, then the session's three
        shown = []
        while "/training/" in page.url or "/rate/" in page.url:
            rating = "/rate/" in page.url
            tokens = self.arrive()
            self.assertEqual(page.evaluate("innerWidth"), PHONE["width"])
            self.assertLessEqual(page.evaluate("document.documentElement.scrollWidth"), PHONE["width"])
            self.assertFalse(page.locator(".key-hint").first.is_visible())
            # Tapping an answer before listening chooses nothing.
            page.locator("label.choice").first.tap(force=True)
            self.assertEqual(page.locator("input[type=radio]:checked").count(), 0)
            page.get_by_role("button", name="Play A").tap()
            self.wait_to_end(0)
            page.get_by_role("button", name="Play B").tap()
            self.wait_to_end(1)
            self.heard_both()
            page.get_by_role("radio", name=next(answers), exact=True).tap()
            with page.expect_navigation():
                page.get_by_role("button", name="Next").tap()
            if rating:
                shown.append(tokens)

        self.assertEqual(len(shown), 3)
        self.assertEqual(self.answers_sent(), 4)
        self.finish(test, evaluator)
        ratings = list(Rating.objects.filter(evaluator=evaluator).select_related("test_sample", "trial"))
        ratings.sort(key=lambda r: r.created_at)
        self.assertEqual(
            [(r.dimension, r.score, r.test_sample.token) for r in ratings],
            [("preference", score, tokens[1]) for score, tokens in zip((-1, 1, 0), shown, strict=True)],
        )
        [repeat] = [r for r in ratings if r.trial.repeat_of_id]
        [original] = [r for r in ratings if r.trial_id == repeat.trial.repeat_of_id]
        later, earlier = ratings.index(repeat), ratings.index(original)
        self.assertGreater(later, earlier)
        self.assertEqual(shown[later], shown[earlier][::-1])
        self.assert_the_browser_saw_no_condition("ab")
