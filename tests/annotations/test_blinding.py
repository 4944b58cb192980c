"""Nothing an evaluator can reach names a system, style, sentence, run or file."""

import re

from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client, TestCase
from django.urls import reverse

from annotations import services
from annotations.models import Evaluator, ListeningTest
from synthesis.models import Sample, StylePreset, SynthesisRun
from tests.annotations.helpers import build_test, make_clip, rate_everything, session_url, walk_to_rating
from tests.annotations.test_create_test import riff_chunks
from tests.factories import make_config, make_sentence_set

SECRETS = [
    "SYSTEM-SECRET-X",
    "SYSTEM-SECRET-Y",
    "style-secret-calm",
    "style-secret-bright",
    "Zebras quietly debate",
    "Walruses loudly agree",
    "Otters calmly listen",
    "set-secret",
    "RUN-SECRET-NAME",
    "cfg-secret",
    "original-secret-file",
    "mos-secret-test",
    "DESCRIPTION-SECRET",
    "gold",
    "trap",
]
# Every URL in a page must be one of these: opaque tokens and static files, no ids or names.
ALLOWED_URL = re.compile(
    r"^(/t/i/[A-Za-z0-9_-]{22}/((consent|check|training|rate|finish)/|check\.wav(\?n=\d+)?|a/[A-Za-z0-9_-]{22}\.wav)?"
    r"|/static/(css/site|css/rate|js/rate|js/once|js/copy)\.(css|js)|/static/favicon\.svg)$"
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


class BlindingTests(TestCase):
    def setUp(self):
        sentence_set = make_sentence_set(
            name="set-secret",
            texts=("Zebras quietly debate.", "Walruses loudly agree.", "Otters calmly listen."),
        )
        styles = [
            StylePreset.objects.create(name=name) for name in ("style-secret-calm", "style-secret-bright")
        ]
        run = SynthesisRun.objects.create(name="RUN-SECRET-NAME", config=make_config("cfg-secret"))
        samples = []
        for sentence in sentence_set.sentences.all():
            for style in styles:
                for system in ("SYSTEM-SECRET-X", "SYSTEM-SECRET-Y"):
                    sample = make_clip(
                        system_label=system,
                        style_name=style.name,
                        sentence=sentence,
                        source_name="original-secret-file.wav",
                    )
                    Sample.objects.filter(pk=sample.pk).update(run=run)
                    samples.append(sample)
        self.test = build_test(
            "mos-secret-test",
            samples=samples[:6],
            gold={samples[6]: 5},
            traps={samples[7]: 2},
            training=samples[8:10],
            description="DESCRIPTION-SECRET",
            allow_open_link=True,
            samples_per_session=6,
        )
        self.samples, self.run = samples, run
        self.client = RecordingClient()

    def walk_whole_session(self) -> Evaluator:
        url = reverse("annotations:open_link", args=[self.test.open_token]) + "?PROLIFIC_PID=abc123"
        self.client.get(url, follow=True)
        evaluator = Evaluator.objects.get()
        walk_to_rating(self.client, evaluator)
        self.client.get(session_url(evaluator), follow=True)
        rate_everything(self.client, evaluator)
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

    def test_no_page_asset_header_or_audio_an_evaluator_reaches_names_the_condition(self):
        evaluator = self.walk_whole_session()
        self.fetch_everything_referenced()
        paths = {path for path, _, _ in self.client.seen}
        self.assertGreaterEqual(len(self.client.seen), 30)
        self.assertTrue(any("/a/" in path for path in paths) and "/static/js/rate.js" in paths)
        self.assertTrue(any(path.endswith("/finish/") for path in paths))
        for path, response, body in self.client.seen:
            headers = "\n".join(f"{key}: {value}" for key, value in response.items())
            text = body.decode("utf-8", "replace") + headers + path
            for secret in SECRETS:
                self.assertFalse(secret.lower() in text.lower(), f"{secret!r} is in {path}")
            self.assertNotIn("/samples/", text)
            location = response.get("Location", "")
            self.assertFalse(location and not ALLOWED_URL.match(location.split("?")[0]), location)
        evaluator.refresh_from_db()
        self.assertIsNotNone(evaluator.finished_at)

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
                self.assertIn("/admin/login/", response["Location"])
        self.assertEqual(self.client.get(settings.MEDIA_URL + sample.audio.name).status_code, 404)
