"""Every play on a rating page is a request the server sees, in Chromium too, which replays a clip it
has loaded from its own media cache however the clip is served: the page asks for each replay at a
new address. A refused answer is played again and then accepted.
"""

import time
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from annotations.models import ClipFetch, Rating
from annotations.views import REFUSALS
from tests.browser.base import UNLOCKED, BrowserTestCase
from tests.factories import build_test, evaluator_at_rating, make_samples

pytestmark = pytest.mark.browser  # drives Chromium: left out by make test-fast

# With this, an answer needs the clip's 0.5 s and 3 s more since the first fetch: answering right
# after one play is refused.
SLOW_TOLERANCE_S = -3.0


class ReplayFetchTests(BrowserTestCase):
    def setUp(self):
        super().setUp()
        self.test = build_test(samples=make_samples(), samples_per_session=2)
        self.evaluator = evaluator_at_rating(self.test)
        self.audio_requests = []
        self.page.on("request", self.note_audio_request)

    def note_audio_request(self, request):
        if "/a/" in urlsplit(request.url).path:
            self.audio_requests.append(request.url)

    def open_rating_page(self) -> None:
        self.page.goto(self.live_server_url + reverse("annotations:rate", args=[self.evaluator.token]))
        self.page.wait_for_load_state("networkidle")

    def play_to_the_end(self) -> None:
        page = self.page
        page.get_by_role("button", name="Play").or_(page.get_by_role("button", name="Play again")).click()
        page.wait_for_function("() => document.querySelector('audio').ended", timeout=15000)

    def test_a_clip_played_twice_is_fetched_twice_and_the_rating_says_so(self):
        self.open_rating_page()
        token = self.page.locator("input[name=clip]").input_value()
        self.listen_and_answer("4", plays=2)

        rating = Rating.objects.get(evaluator=self.evaluator)
        self.assertEqual(rating.test_sample.token, token)
        # The page's count, the server's requests and the plays the server counted from them.
        self.assertEqual((rating.play_count, rating.fetch_count, rating.server_play_count), (2, 2, 2))
        # The replay's address differs only by a time: nothing in it says which system made the clip.
        replays = [parse_qs(urlsplit(url).query) for url in self.audio_requests if "?" in url]
        self.assertEqual(len(replays), 1)
        self.assertEqual(list(replays[0]), ["play"])
        self.assertTrue(replays[0]["play"][0].isdigit())

    @override_settings(SARAI_LISTEN_TOLERANCE_S=SLOW_TOLERANCE_S)
    def test_an_answer_refused_as_too_soon_is_accepted_after_the_clip_is_played_again(self):
        page = self.page
        self.open_rating_page()
        self.play_to_the_end()
        page.wait_for_function(UNLOCKED, timeout=5000)
        page.keyboard.press("4")
        page.keyboard.press("Enter")
        page.wait_for_selector(f"text={REFUSALS['too_soon']}", timeout=5000)
        self.assertFalse(Rating.objects.exists())
        self.assertEqual(ClipFetch.objects.filter(evaluator=self.evaluator).count(), 1)

        self.play_to_the_end()
        self.assertEqual(ClipFetch.objects.filter(evaluator=self.evaluator).count(), 2)
        first = ClipFetch.objects.filter(evaluator=self.evaluator).earliest("started_at").started_at
        # Let the clip's time and the 3 s more pass since the first fetch (the server's clock).
        time.sleep(max(0.0, 0.5 - SLOW_TOLERANCE_S + 0.2 - (timezone.now() - first).total_seconds()))
        self.assertFalse(page.locator("[data-submit]").is_disabled())
        with page.expect_navigation():
            page.locator("[data-submit]").click()

        rating = Rating.objects.get(evaluator=self.evaluator)
        self.assertEqual((rating.score, rating.play_count, rating.fetch_count), (4, 2, 2))
        self.assertEqual(rating.first_fetch_at, first)
