"""Intelligibility and MUSHRA sessions in a real browser, and what the browser saw of them: nothing names a
condition, the words to type, the hidden reference or the anchor.

As in test_pair_sessions, every clip is half a second of tone, the headphone screen has two trials and
the clips are tests/annotations/test_blinding.py's, whose every name is a secret; that file checks what
the server sends, this one the requests the browser made, the headers it got and the page after its
script ran.
"""

import re
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from annotations import intelligibility, multistimulus
from annotations.models import ClipFetch, Evaluator, ListeningTest, Rating
from synthesis.models import Sample
from tests.browser.base import BrowserTestCase
from tests.factories import ALLOWED_URL, ROLE_MARKERS, SECRETS, build_test, make_sample, secret_samples

pytestmark = pytest.mark.browser  # drives Chromium: left out by make test-fast

PHONE = {"width": 390, "height": 844}
HUMAN = "SYSTEM-SECRET-HUMAN"
# The transcription page asks for its clip at a new address each play, so the server sees every play.
PLAY_QUERY = re.compile(r"^play=\d+$")
ATTRIBUTE_VALUES = (
    "() => Array.from(document.querySelectorAll('*')).flatMap(e => Array.from(e.attributes, a => a.value))"
)
AUDIO_SOURCES = "() => Array.from(document.querySelectorAll('audio'), audio => audio.currentSrc)"
STIMULUS_ENDED = "(i) => document.querySelectorAll('[data-stimulus] audio[data-clip]')[i].ended"
FETCH_STATUS = "async (source) => (await fetch(source)).status"


class MethodSessionBrowserTests(BrowserTestCase):
    def setUp(self):
        super().setUp()
        self.samples, _ = secret_samples()
        self.requests: list[tuple[str, str, str]] = []
        self.responses: list[tuple[str, int, dict[str, str]]] = []
        self.pages: list[dict] = []

    def start(self, test: ListeningTest, participant: str) -> Evaluator:
        """Record what the browser asks and gets, open the test's link, consent and pass the screen."""
        self.page.on("request", lambda r: self.requests.append((r.method, r.url, r.post_data or "")))
        self.page.on("response", lambda r: self.responses.append((r.url, r.status, r.headers)))
        open_link = reverse("annotations:open_link", args=[test.open_token])
        self.page.goto(f"{self.live_server_url}{open_link}?PROLIFIC_PID={participant}")
        self.open_link_path = open_link
        self.consent()
        return self.pass_sound_check(participant)

    def note_page(self) -> None:
        page = self.page
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

    def assert_the_browser_saw_no_secret(self, secrets: list[str]) -> None:
        secrets = [secret.lower() for secret in secrets]
        for verb, url, body in self.requests:
            parts = urlsplit(url)
            self.assertEqual(f"{parts.scheme}://{parts.netloc}", self.live_server_url, url)
            if parts.path != self.open_link_path:
                query = "" if PLAY_QUERY.match(parts.query) else parts.query
                self.assertRegex(parts.path + (f"?{query}" if query else ""), ALLOWED_URL)
            for secret in secrets:
                self.assertNotIn(secret, f"{url}\n{body}".lower(), f"{verb} {url}")
        for url, status, headers in self.responses:
            text = "\n".join(f"{key}: {value}" for key, value in headers.items()).lower()
            for secret in secrets:
                self.assertNotIn(secret, text, url)
            if "/a/" in urlsplit(url).path and status < 300:
                self.assertEqual(headers["content-disposition"], 'inline; filename="clip.wav"', url)
                self.assertIn("no-store", headers["cache-control"], url)
                self.assertNotIn("etag", headers)
                self.assertNotIn("last-modified", headers)
        for shown in self.pages:
            for source in shown["audio"]:
                self.assertRegex(urlsplit(source).path, ALLOWED_URL)
            html = shown["html"].lower()
            for secret in secrets:
                self.assertNotIn(secret, html, shown["url"])
            for marker in [*ROLE_MARKERS, '"reference"', '"anchor"', '"condition"']:
                self.assertNotIn(marker.lower(), html, shown["url"])
            self.assertFalse(
                any(secret in value.lower() for value in shown["attributes"] for secret in secrets)
            )

    def test_an_intelligibility_session_allows_two_plays_then_takes_the_typed_words(self):
        test = build_test(
            "intel-secret-test",
            samples=self.samples[:4],
            training=self.samples[8:9],
            method="intelligibility",
            scale=None,
            description="DESCRIPTION-SECRET",
            allow_open_link=True,
            samples_per_session=2,
            screen_trials=2,
            screen_pass_mark=2,
        )
        self.assertEqual(test.max_plays, 2)
        evaluator = self.start(test, "intel-pid")
        page = self.page
        typed, heard = [], []
        while "/training/" in page.url or "/rate/" in page.url:
            rating = "/rate/" in page.url
            page.wait_for_load_state("networkidle")
            answer = page.locator("[data-answer]")
            self.assertTrue(answer.is_disabled())
            self.assertEqual(page.inner_text("[data-plays-left-text]"), "Plays left: 2")
            for left, name in ((1, "Play"), (0, "Play again")):
                page.get_by_role("button", name=name, exact=True).click()
                page.wait_for_function(
                    "() => document.querySelector('audio[data-clip]').ended", timeout=15000
                )
                self.assertEqual(page.inner_text("[data-plays-left-text]"), f"Plays left: {left}")
            play = page.locator("[data-play]")
            self.assertTrue(play.is_disabled())
            self.assertEqual(play.inner_text(), "No plays left")
            # A third play is refused by the server, not only by the page.
            source = page.evaluate("() => document.querySelector('audio[data-clip]').currentSrc")
            self.assertEqual(page.evaluate(FETCH_STATUS, source), 403)
            self.assertFalse(answer.is_disabled())
            self.note_page()
            words = f"some words {len(typed) + len(heard)}"
            answer.fill(words)
            with page.expect_navigation():
                page.keyboard.press("Enter")
            if rating:
                typed.append(words)
                heard.append(urlsplit(source).path.rsplit("/", 1)[1].removesuffix(".wav"))

        self.assertEqual(len(typed), 2)
        self.finish(test, evaluator)
        ratings = sorted(
            Rating.objects.filter(evaluator=evaluator).select_related("test_sample"),
            key=lambda r: r.created_at,
        )
        self.assertEqual(
            [(r.dimension, r.score, r.transcript, r.test_sample.token, r.play_count) for r in ratings],
            [("transcript", None, words, token, 2) for words, token in zip(typed, heard, strict=True)],
        )
        # The server counted two plays of each clip from its own requests, and refused the third.
        self.assertEqual([row["plays"] for row in intelligibility.transcriptions(test)], [2, 2])
        refused = [url for url, status, _ in self.responses if status == 403]
        self.assertEqual(len(refused), 3)  # the practice clip and the two rated
        self.assert_the_browser_saw_no_secret([*SECRETS, "intel-secret-test"])

    def mushra_test(self) -> ListeningTest:
        for sentence in {sample.sentence for sample in self.samples}:
            make_sample(
                system_label=HUMAN,
                sentence=sentence,
                origin=Sample.Origin.REFERENCE,
                source_name="original-secret-file.wav",
                freq=900,
            )
        samples = [*self.samples, *Sample.objects.filter(system_label=HUMAN)]
        return build_test(
            "mushra-secret-test",
            samples=samples,
            method="mushra",
            scale=None,
            reference_system=HUMAN,
            with_anchor=True,
            description="DESCRIPTION-SECRET",
            allow_open_link=True,
            samples_per_session=2,
            screen_trials=2,
            screen_pass_mark=2,
        )

    def rate_mushra_page(self, first: bool) -> dict[str, int]:
        """Play the reference and every sample on a phone, set every slider; clip token -> score."""
        page = self.page
        page.wait_for_load_state("networkidle")
        self.assertLessEqual(page.evaluate("document.documentElement.scrollWidth"), PHONE["width"])
        stimuli = page.locator("[data-stimulus]")
        count = stimuli.count()
        self.assertGreaterEqual(count, 4)
        self.assertTrue(page.locator("[data-submit]").is_disabled())
        # A slider tapped before its sample was heard takes no score.
        stimuli.nth(0).locator("[data-slider]").tap(force=True)
        self.assertEqual(stimuli.nth(0).locator("[data-score]").input_value(), "")
        page.get_by_role("button", name="Play the reference").tap()
        page.wait_for_function("() => document.querySelector('[data-reference] audio').ended", timeout=15000)
        for index in range(count):
            stimuli.nth(index).locator("[data-play]").tap()
            page.wait_for_function(STIMULUS_ENDED, arg=index, timeout=15000)
        self.note_page()
        for index in range(count):
            slider = stimuli.nth(index).locator("[data-slider]")
            if index == 0 and first:
                # The keyboard: a focused slider moves with End and the arrows.
                slider.focus()
                page.keyboard.press("End")
                page.keyboard.press("ArrowLeft")
            else:
                box = slider.bounding_box()
                slider.tap(position={"x": box["width"] * (0.1 + 0.8 * index / count), "y": box["height"] / 2})
        self.assertLessEqual(page.evaluate("document.documentElement.scrollWidth"), PHONE["width"])
        scores = [int(stimuli.nth(i).locator("[data-score]").input_value()) for i in range(count)]
        tokens = [field.input_value() for field in page.locator("input[name=clips]").all()]
        if first:
            self.assertEqual(scores[0], 99)
        self.assertEqual(len(set(scores)), count)  # every slider where it was tapped
        with page.expect_navigation():
            page.get_by_role("button", name="Next").tap()
        return dict(zip(tokens, scores, strict=True))

    def test_a_mushra_session_on_a_phone_is_played_and_scored_by_touch_without_naming_a_sample(self):
        self.page.close()
        self.page = self.browser.new_page(viewport=PHONE, is_mobile=True, has_touch=True)
        test = self.mushra_test()
        evaluator = self.start(test, "mushra-pid")
        page = self.page
        self.assertEqual(page.evaluate("innerWidth"), PHONE["width"])
        scored, first = {}, True
        while "/training/" in page.url or "/rate/" in page.url:
            rating = "/rate/" in page.url
            scores = self.rate_mushra_page(first)
            first = False
            if rating:
                scored.update(scores)

        self.finish(test, evaluator)
        ratings = Rating.objects.filter(evaluator=evaluator).select_related("test_sample")
        self.assertEqual({r.test_sample.token: r.score for r in ratings}, scored)
        self.assertEqual({r.dimension for r in ratings}, {multistimulus.DIMENSION})
        self.assertEqual(len({r.trial_id for r in ratings}), 2)
        roles = {r.test_sample.role for r in ratings}
        self.assertEqual(roles, {"reference", "anchor", ""})
        self.assertTrue(all(r.played_to_end for r in ratings))
        # The labelled reference was fetched under its own token, which counts as hearing nothing.
        self.assertTrue(ClipFetch.objects.filter(evaluator=evaluator, labelled_reference=True).exists())
        self.assert_the_hidden_reference_and_anchor_look_like_any_sample(evaluator)
        self.assert_the_browser_saw_no_secret(
            [*SECRETS, HUMAN, "mushra-secret-test", multistimulus.ANCHOR_SYSTEM, "anchor"]
        )

    def assert_the_hidden_reference_and_anchor_look_like_any_sample(self, evaluator: Evaluator) -> None:
        """The hidden reference plays from a token of its own, not the labelled reference's; every
        sample's audio answer carries the same headers, whatever its role."""
        audio = [
            (urlsplit(url).path, headers)
            for url, status, headers in self.responses
            if "/a/" in urlsplit(url).path and status < 300
        ]
        hidden = {
            clip.test_sample.open_token: clip.test_sample.token
            for assignment in evaluator.assignments.select_related("trial")
            for clip in assignment.trial.trial_clips.filter(role="reference").select_related("test_sample")
        }
        token = re.compile(r"/a/([A-Za-z0-9_-]{22})\.wav$")
        rated = [shown for shown in self.pages if "/rate/" in shown["url"]]
        self.assertEqual(len(rated), len(hidden))
        for shown in rated:
            reference, *stimuli = (token.search(urlsplit(source).path)[1] for source in shown["audio"])
            self.assertEqual(len(set(stimuli)), len(stimuli))
            # The labelled reference plays under its open token; the same clip hidden among the
            # samples plays under another, which nothing on the page ties to it.
            self.assertIn(reference, hidden)
            self.assertIn(hidden[reference], stimuli)
            self.assertNotIn(reference, stimuli)
        self.assertEqual(len({tuple(sorted(headers)) for _, headers in audio}), 1)
