"""Nothing an evaluator can reach names a system, style, sentence, run or file."""

import re

from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone

from annotations import multistimulus, services
from annotations.models import Assignment, Evaluator, ListeningTest
from synthesis.models import Sample
from tests.annotations.helpers import rate_everything, session_url, walk_to_rating
from tests.factories import (
    ALLOWED_URL,
    ROLE_MARKERS,
    SECRETS,
    build_test,
    make_sample,
    riff_chunks,
    secret_samples,
)

URL_ATTRIBUTE = re.compile(rb'(?:href|src|action)="([^"]*)"')


class RecordingClient(Client):
    """A test client that keeps every response with its body, for inspection afterwards."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def request(self, **request):
        response = super().request(**request)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        self.seen.append((request["PATH_INFO"], response, body))
        return response


class SessionRecording:
    """Walk a whole session with a RecordingClient, then check everything the evaluator reached."""

    client: RecordingClient

    def walk_whole_session(self, score: int = 4) -> Evaluator:
        url = reverse("annotations:open_link", args=[self.test.open_token]) + "?PROLIFIC_PID=abc123"
        self.client.get(url, follow=True)
        evaluator = Evaluator.objects.get()
        walk_to_rating(self.client, evaluator, score=score)
        self.client.get(session_url(evaluator), follow=True)
        rate_everything(self.client, evaluator, score=score)
        self.client.get(session_url(evaluator), follow=True)
        return evaluator

    def fetch_everything_referenced(self) -> None:
        pages = [
            body for _, response, body in self.client.seen if response["Content-Type"].startswith("text/html")
        ]
        urls = {url.decode() for body in pages for url in URL_ATTRIBUTE.findall(body)}
        for url in sorted(urls):
            self.assertRegex(url, ALLOWED_URL)
            response = self.client.get(url, follow=True)
            if response.status_code == 404 and url.startswith(settings.STATIC_URL):
                # Static files are served by WhiteNoise or the web server; read what they would serve.
                with open(finders.find(url.removeprefix(settings.STATIC_URL)), "rb") as handle:
                    self.client.seen.append((url, response, handle.read()))
            else:
                self.assertEqual(response.status_code, 200, url)

    def assert_nothing_seen_names(self, secrets: list[str]) -> None:
        for path, response, body in self.client.seen:
            headers = "\n".join(f"{key}: {value}" for key, value in response.items())
            text = body.decode("utf-8", "replace") + headers + path
            for secret in secrets:
                self.assertFalse(secret.lower() in text.lower(), f"{secret!r} is in {path}")
            self.assertNotIn("/samples/", text)
            location = response.get("Location", "")
            self.assertFalse(location and not ALLOWED_URL.match(location.split("?")[0]), location)


class BlindingTests(SessionRecording, TestCase):
    @classmethod
    def setUpTestData(cls):
        samples, run = secret_samples()
        cls.test = build_test(
            "mos-secret-test",
            samples=samples[:6],
            gold={samples[6]: 5},
            traps={samples[7]: 2},
            training=samples[8:10],
            description="DESCRIPTION-SECRET",
            allow_open_link=True,
            samples_per_session=6,
        )
        cls.samples, cls.synthesis_run = samples, run

    def setUp(self):
        self.run = self.synthesis_run  # not a class attribute: it would hide TestCase.run
        self.client = RecordingClient()

    def test_no_page_asset_header_or_audio_an_evaluator_reaches_names_the_condition(self):
        evaluator = self.walk_whole_session()
        self.fetch_everything_referenced()
        paths = {path for path, _, _ in self.client.seen}
        self.assertGreaterEqual(len(self.client.seen), 30)
        self.assertTrue(any("/a/" in path for path in paths) and "/static/js/rate.js" in paths)
        self.assertTrue(any(path.endswith("/finish/") for path in paths))
        self.assert_nothing_seen_names(SECRETS)
        evaluator.refresh_from_db()
        self.assertIsNotNone(evaluator.finished_at)

    def test_pages_with_artifact_marking_name_no_condition_either(self):
        ListeningTest.objects.filter(pk=self.test.pk).update(artifact_labels=["click", "robotic"])
        self.walk_whole_session()
        self.fetch_everything_referenced()
        pages = [body for path, _, body in self.client.seen if path.endswith("/rate/")]
        self.assertTrue(any(b"Mark a problem" in body for body in pages))
        self.assert_nothing_seen_names(SECRETS)

    def test_served_clips_are_bare_wavs_named_clip_wav(self):
        evaluator = self.walk_whole_session()
        self.fetch_everything_referenced()
        clips = [(path, response, body) for path, response, body in self.client.seen if "/a/" in path]
        self.assertEqual(len({path for path, _, _ in clips}), 8 + 2)  # session clips and practice clips
        for _, response, body in clips:
            self.assertEqual(response["Content-Type"], "audio/wav")
            self.assertEqual(response["Content-Disposition"], 'inline; filename="clip.wav"')
            self.assertIn("no-store", response["Cache-Control"])
            self.assertNotIn("ETag", response)
            self.assertNotIn("Last-Modified", response)
            self.assertEqual(riff_chunks(body), [b"fmt ", b"data"])
        self.assertEqual(evaluator.test_id, self.test.pk)

    def test_an_evaluator_cannot_hear_another_evaluators_clips(self):
        ListeningTest.objects.filter(pk=self.test.pk).update(samples_per_session=3)
        mine, theirs = services.invite_evaluators(test=self.test, count=2)
        services.assign(evaluator=mine)
        their_clips = {a.presented_clips()[0].test_sample for a in services.assign(evaluator=theirs)}
        my_clips = {a.presented_clips()[0].test_sample for a in mine.assignments.all()}
        practice = set(services.training_clips(evaluator=mine))
        foreign = their_clips - my_clips - practice
        self.assertTrue(foreign)
        for clip in foreign:
            response = self.client.get(reverse("annotations:clip_audio", args=[mine.token, clip.token]))
            self.assertEqual(response.status_code, 404)
            self.assertEqual(response.content, b"Not found.")

    def test_an_evaluator_cannot_reach_researcher_pages(self):
        self.walk_whole_session()
        sample = self.samples[0]
        pages = [
            reverse("annotations:test_new"),
            reverse("annotations:test_detail", args=[self.test.pk]),
            reverse("annotations:sample_import"),
            reverse("synthesis:home"),
            reverse("synthesis:run_detail", args=[self.run.pk]),
            reverse("synthesis:sample_audio", args=[sample.pk]),
            reverse("admin:index"),
            reverse("admin:annotations_testsample_changelist"),
        ]
        for url in pages:
            with self.subTest(url=url):
                response = Client.get(self.client, url)
                self.assertEqual(response.status_code, 302)
                self.assertRegex(
                    response["Location"], r"^(/admin)?/login/"
                )  # the app's or the admin's sign-in
        self.assertEqual(self.client.get(settings.MEDIA_URL + sample.audio.name).status_code, 404)


TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]*"')


class PairBlindingTests(SessionRecording, TestCase):
    """CMOS and A/B pages: nothing names a condition, and the order of A and B shows in nothing but
    the order of two opaque tokens."""

    def setUp(self):
        self.samples, self.run = secret_samples()
        self.client = RecordingClient()

    def pair_test(self, method: str) -> ListeningTest:
        # Two sentences to compare (six pairs each), the third to practise on.
        return build_test(
            f"{method}-secret-test",
            samples=self.samples[:8],
            training=self.samples[8:],
            method=method,
            scale=None,
            description="DESCRIPTION-SECRET",
            allow_open_link=True,
            samples_per_session=6,
        )

    def walk_and_check_everything(self, method: str) -> None:
        self.test = self.pair_test(method)
        evaluator = self.walk_whole_session(score=1)
        self.fetch_everything_referenced()
        paths = {path for path, _, _ in self.client.seen}
        self.assertIn("/static/js/pair.js", paths)
        self.assertGreaterEqual(len({path for path in paths if "/a/" in path}), 6)
        self.assert_nothing_seen_names([*SECRETS, f"{method}-secret-test"])
        pair_pages = [
            body.decode() for path, _, body in self.client.seen if path.endswith(("/rate/", "/training/"))
        ]
        self.assertGreaterEqual(len(pair_pages), 6)
        for page in pair_pages:
            for marker in ROLE_MARKERS:
                self.assertNotIn(marker, page)
        evaluator.refresh_from_db()
        self.assertIsNotNone(evaluator.finished_at)

    def test_no_cmos_page_asset_header_or_audio_names_the_condition_or_the_role(self):
        self.walk_and_check_everything("cmos")

    def test_no_ab_page_asset_header_or_audio_names_the_condition_or_the_role(self):
        self.walk_and_check_everything("ab")

    def test_a_pair_played_y_first_gives_the_same_page_as_x_first_but_for_the_order_of_its_tokens(self):
        for method in ("cmos", "ab"):
            with self.subTest(method=method):
                test = self.pair_test(method)
                evaluator = services.invite_evaluators(test=test, count=1)[0]
                services.assign(evaluator=evaluator)
                Evaluator.objects.filter(pk=evaluator.pk).update(
                    consented_at=timezone.now(), checked_at=timezone.now(), trained_at=timezone.now()
                )
                assignment = services.current_clip(evaluator=evaluator)[0]
                pages = []
                for order in (assignment.clip_order, assignment.clip_order[::-1]):
                    Assignment.objects.filter(pk=assignment.pk).update(clip_order=order)
                    html = self.client.get(session_url(evaluator, "rate")).content.decode()
                    roles = [clip.role for clip in Assignment.objects.get(pk=assignment.pk).presented_clips()]
                    pages.append((roles, html))
                self.assertEqual({tuple(roles) for roles, _ in pages}, {("X", "Y"), ("Y", "X")})
                normalised = {self.normalise(html, evaluator.token) for _, html in pages}
                self.assertEqual(len(normalised), 1)

    @staticmethod
    def normalise(html: str, evaluator_token: str) -> str:
        """The page with its CSRF token blanked and clip tokens numbered in order of appearance."""
        html = CSRF.sub("csrf", html).replace(evaluator_token, "EVALUATOR")
        numbers: dict[str, str] = {}
        return TOKEN.sub(lambda match: numbers.setdefault(match[0], f"CLIP{len(numbers)}"), html)


class IntelligibilityBlindingTests(SessionRecording, TestCase):
    """The transcription page: nothing names the condition, and the text to type is nowhere."""

    def setUp(self):
        samples, self.run = secret_samples()
        self.test = build_test(
            "intel-secret-test",
            samples=samples[:8],
            training=samples[8:10],
            method="intelligibility",
            scale=None,
            description="DESCRIPTION-SECRET",
            allow_open_link=True,
            samples_per_session=4,
        )
        self.client = RecordingClient()

    def test_no_page_asset_header_or_audio_names_the_condition_or_the_words_to_type(self):
        evaluator = self.walk_whole_session()
        self.fetch_everything_referenced()  # a second play of each clip: within the two allowed
        paths = {path for path, _, _ in self.client.seen}
        self.assertIn("/static/js/transcribe.js", paths)
        self.assertGreaterEqual(len({path for path in paths if "/a/" in path}), 6)
        self.assert_nothing_seen_names([*SECRETS, "intel-secret-test"])
        evaluator.refresh_from_db()
        self.assertIsNotNone(evaluator.finished_at)


class MushraBlindingTests(SessionRecording, TestCase):
    """The MUSHRA page: nothing names a condition, the hidden reference or the anchor; the place of
    each shows in nothing but the order of opaque tokens, and the labelled reference has its own."""

    @classmethod
    def setUpTestData(cls):
        samples, cls.synthesis_run = secret_samples()
        for sentence in {sample.sentence for sample in samples}:
            human = make_sample(
                system_label="SYSTEM-SECRET-HUMAN",
                sentence=sentence,
                origin=Sample.Origin.REFERENCE,
                source_name="original-secret-file.wav",
                freq=900,
            )
            samples.append(human)
        cls.samples = samples
        cls.test = build_test(
            "mushra-secret-test",
            samples=samples,
            method="mushra",
            scale=None,
            reference_system="SYSTEM-SECRET-HUMAN",
            with_anchor=True,
            description="DESCRIPTION-SECRET",
            allow_open_link=True,
            samples_per_session=2,
        )

    def setUp(self):
        self.run = self.synthesis_run  # not a class attribute: it would hide TestCase.run
        self.client = RecordingClient()

    def test_no_page_asset_header_or_audio_names_the_condition_the_reference_or_the_anchor(self):
        evaluator = self.walk_whole_session(score=60)
        self.fetch_everything_referenced()
        paths = {path for path, _, _ in self.client.seen}
        self.assertIn("/static/js/mushra.js", paths)
        # Three pages (one to practise) of six samples, and each page's labelled reference.
        self.assertEqual(len({path for path in paths if "/a/" in path}), 3 * 7)
        secrets = [
            *SECRETS,
            "SYSTEM-SECRET-HUMAN",
            "mushra-secret-test",
            multistimulus.ANCHOR_SYSTEM,
            "anchor",
        ]
        self.assert_nothing_seen_names(secrets)
        pages = [
            body.decode() for path, _, body in self.client.seen if path.endswith(("/rate/", "/training/"))
        ]
        for page in pages:
            for marker in ROLE_MARKERS + ['"reference"', '"condition"']:
                self.assertNotIn(marker, page)
        evaluator.refresh_from_db()
        self.assertIsNotNone(evaluator.finished_at)

    def test_a_page_is_the_same_whichever_place_the_hidden_reference_and_the_anchor_take(self):
        evaluator = services.invite_evaluators(test=self.test, count=1)[0]
        services.assign(evaluator=evaluator)
        now = timezone.now()
        Evaluator.objects.filter(pk=evaluator.pk).update(consented_at=now, checked_at=now, trained_at=now)
        assignment = services.current_clip(evaluator=evaluator)[0]
        pages = []
        order = list(assignment.clip_order)
        for shift in range(len(order)):
            Assignment.objects.filter(pk=assignment.pk).update(clip_order=order[shift:] + order[:shift])
            html = self.client.get(session_url(evaluator, "rate")).content.decode()
            roles = [clip.role for clip in Assignment.objects.get(pk=assignment.pk).presented_clips()]
            pages.append((roles.index("reference"), html))
        self.assertEqual({place for place, _ in pages}, set(range(len(order))))
        self.assertEqual(len({PairBlindingTests.normalise(html, evaluator.token) for _, html in pages}), 1)
        hidden = assignment.trial.trial_clips.get(role="reference").test_sample
        html = pages[0][1]
        self.assertIn(f"/a/{hidden.open_token}.wav", html)
        self.assertIn(f"/a/{hidden.token}.wav", html)
        self.assertNotEqual(hidden.token, hidden.open_token)
