"""Intelligibility: one clip per page, the listener types what they heard, plays limited by the server."""

from io import StringIO

from django.core.management import call_command
from django.test import TestCase, override_settings
from django.urls import reverse

from annotations import intelligibility, methods, services
from annotations.models import ClipFetch, ListeningTest, Rating, count_plays
from synthesis.models import Sample
from tests.annotations.helpers import answer_for, rate_everything, session_url, walk_to_rating
from tests.factories import (
    build_test,
    evaluator_at_rating,
    hear_all,
    intelligibility_test,
    make_admin,
    make_sample,
    make_samples,
    make_sentence_set,
)


class IntelligibilityTrialTests(TestCase):
    def test_each_clip_is_one_page_asking_for_a_transcript_on_the_one_point_scale(self):
        test = intelligibility_test()
        self.assertEqual(test.trials.count(), 6)
        for trial in test.trials.all():
            self.assertEqual([clip.role for clip in trial.trial_clips.all()], [""])
        self.assertEqual(
            (test.dimensions, test.scale.name, test.max_plays), (["transcript"], "transcription-en", 2)
        )
        self.assertEqual((test.scale.min_value, test.scale.max_value), (0, 0))
        spanish = intelligibility_test("intel-es", language="es", max_plays=3)
        self.assertEqual(
            (spanish.scale.name, spanish.scale.title, spanish.max_plays),
            (
                "transcription-es",
                "Escriba las palabras que ha oído",
                3,
            ),
        )

    def test_other_methods_never_limit_plays(self):
        test = build_test("acr", samples=make_samples(), max_plays=2)
        self.assertEqual(test.max_plays, 0)


# The Range headers of one play in each browser (PlayCountTests describes them); "{last}" is size - 1.
BROWSER_PLAYS = {
    "Chromium": ["bytes=0-"],
    "Firefox": ["bytes=0-", "bytes=-128"],
    "Safari": ["bytes=0-1", "bytes=0-{last}"],
}


def sent_bytes(requests: list[str], size: int) -> list[tuple[int, int]]:
    """(first byte, last byte) the server sends for each Range header of a file of size bytes."""
    sent = []
    for header in requests:
        first, last = header.removeprefix("bytes=").format(last=size - 1).split("-")
        if not first:
            first, last = size - int(last), size - 1
        sent.append((int(first), int(last) if last else size - 1))
    return sent


class PlayCountTests(TestCase):
    def test_a_play_is_a_run_of_requests_that_together_send_the_whole_file(self):
        size = 1000
        self.assertEqual(count_plays([]), (0, False))
        self.assertEqual(count_plays([(0, 999, size)]), (1, True))
        # Safari: two bytes first, then the whole file; one play.
        self.assertEqual(count_plays([(0, 1, size), (0, 999, size)]), (1, True))
        self.assertEqual(count_plays([(0, 1, size), (0, 499, size)]), (1, False))
        self.assertEqual(count_plays([(0, 499, size), (500, 999, size), (0, 1, size)]), (2, False))
        # After a complete play, a request from the first byte begins the next.
        self.assertEqual(count_plays([(0, 999, size), (0, 499, size)]), (2, False))

    def test_each_browsers_requests_for_one_play_count_as_one_play(self):
        """The requests an <audio> element sends for one play of a clip served with byte ranges:

        Chromium: one request, `bytes=0-`.
        Firefox: `bytes=0-`; where a format keeps something at the end of the file, it also asks
        for the tail (`bytes=N-`) before it plays.
        Safari: a probe of the first two bytes, `bytes=0-1` (it learns the size and that ranges
        work), then the rest as one range, `bytes=0-(size-1)`.
        """
        size = 1000
        for browser, requests in BROWSER_PLAYS.items():
            with self.subTest(browser):
                one_play = [(*sent, size) for sent in sent_bytes(requests, size)]
                self.assertEqual(count_plays(one_play), (1, True))
                self.assertEqual(count_plays(one_play * 2), (2, True))


class PlayLimitTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = intelligibility_test(samples_per_session=2)
        cls.evaluator = evaluator_at_rating(cls.test)
        cls.url = session_url(cls.evaluator, "rate")

    def audio_url(self) -> str:
        return self.client.get(self.url).context["clips"][0]["audio_url"]

    def test_the_third_play_of_a_clip_is_refused_by_the_server_and_the_page_says_none_are_left(self):
        page = self.client.get(self.url)
        self.assertContains(page, "Plays left: 2")
        self.assertContains(page, "You can play the clip up to 2 times.")
        audio_url = page.context["clips"][0]["audio_url"]
        self.assertEqual(self.client.get(audio_url).status_code, 200)
        self.assertContains(self.client.get(self.url), "Plays left: 1")
        self.assertEqual(self.client.get(audio_url).status_code, 200)
        refused = self.client.get(audio_url)
        self.assertEqual(refused.status_code, 403)
        self.assertEqual(refused.content.decode(), "You have played this clip as often as the test allows.")
        self.assertIn("no-store", refused["Cache-Control"])
        self.assertEqual(ClipFetch.objects.count(), 2)
        page = self.client.get(self.url)
        self.assertContains(page, "Plays left: 0")
        self.assertContains(page, 'aria-describedby="play-hint" disabled>No plays left</button>')
        self.assertContains(page, "data-clip data-heard")  # heard whole: the answer can still be typed

    def test_a_probe_of_the_first_bytes_and_the_request_for_the_rest_are_one_play(self):
        audio_url = self.audio_url()
        for first_play in ("bytes=0-1", "bytes=0-"):
            self.assertEqual(self.client.get(audio_url, HTTP_RANGE=first_play).status_code, 206)
        self.assertEqual(self.client.get(audio_url, HTTP_RANGE="bytes=0-99").status_code, 206)
        self.assertEqual(self.client.get(audio_url, HTTP_RANGE="bytes=100-").status_code, 206)
        # Two plays sent whole: neither a new start nor a request from the middle gets any more.
        for more in ("bytes=0-1", "bytes=100-"):
            self.assertEqual(self.client.get(audio_url, HTTP_RANGE=more).status_code, 403)
        self.assertEqual(ClipFetch.objects.count(), 4)

    def test_each_browser_plays_a_clip_as_often_as_the_test_allows_and_no_more(self):
        """Two plays as Chromium, Firefox or Safari request them are served; the third play is refused."""
        size = self.test.test_samples.first().playback_audio.size
        for browser, requests in BROWSER_PLAYS.items():
            with self.subTest(browser):
                audio_url = self.client.get(session_url(evaluator_at_rating(self.test), "rate")).context[
                    "clips"
                ][0]["audio_url"]
                headers = [header.format(last=size - 1) for header in requests]
                for play in range(2):
                    for header in headers:
                        response = self.client.get(f"{audio_url}?play={play}", HTTP_RANGE=header)
                        self.assertEqual(response.status_code, 206, (play, header))
                refused = self.client.get(f"{audio_url}?play=3", HTTP_RANGE=headers[0])
                self.assertEqual(refused.status_code, 403)
                self.assertEqual(
                    refused.content.decode(), "You have played this clip as often as the test allows."
                )

    def test_ranges_that_stop_short_of_the_last_byte_get_no_more_than_the_plays_allow(self):
        """After a whole play, 50 requests for all but the last byte: the one that begins the second
        play is served, the rest are refused as a play beyond the limit is; nobody gets more than
        two clips' worth of bytes (and the allowance for a browser's probes)."""
        audio_url = self.audio_url()
        size = self.test.test_samples.first().playback_audio.size
        served = len(self.client.get(audio_url).getvalue())
        statuses = []
        for _ in range(50):
            response = self.client.get(audio_url, HTTP_RANGE=f"bytes=0-{size - 2}")
            statuses.append(response.status_code)
            if response.status_code == 206:
                served += len(response.getvalue())
            else:
                self.assertEqual(response.status_code, 403)
                self.assertEqual(
                    response.content.decode(), "You have played this clip as often as the test allows."
                )
        self.assertEqual(statuses, [206] + [403] * 49)
        self.assertLessEqual(served, 2 * size + 1024)
        self.assertContains(self.client.get(self.url), "Plays left: 0")

    def test_a_limit_of_zero_lets_the_clip_play_as_often_as_the_listener_likes(self):
        ListeningTest.objects.filter(pk=self.test.pk).update(max_plays=0)
        audio_url = self.audio_url()
        for _ in range(5):
            self.assertEqual(self.client.get(audio_url).status_code, 200)
        self.assertNotContains(self.client.get(self.url), "Plays left")

    def test_the_plays_are_each_evaluators_own(self):
        test = intelligibility_test("everyone-hears-all", samples_per_session=6, ratings_per_sample=9)
        mine, theirs = evaluator_at_rating(test), evaluator_at_rating(test)
        clip = test.test_samples.first()
        for _ in range(2):
            self.client.get(reverse("annotations:clip_audio", args=[mine.token, clip.token]))
        self.assertEqual(
            self.client.get(reverse("annotations:clip_audio", args=[mine.token, clip.token])).status_code, 403
        )
        self.assertEqual(
            self.client.get(reverse("annotations:clip_audio", args=[theirs.token, clip.token])).status_code,
            200,
        )


@override_settings(SARAI_LISTEN_TOLERANCE_S=0.05)
class TranscriptAnswerTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = intelligibility_test(samples_per_session=6)
        cls.evaluator = evaluator_at_rating(cls.test)

    def submit(self, text: str, **fields):
        clip = services.current_clip(evaluator=self.evaluator)[0].presented_clips()[0].test_sample
        hear_all(self.evaluator, [clip])
        answer = {"played_to_end": True, "play_count": 1, "time_to_answer_ms": 700, **fields}
        return services.submit_rating(
            evaluator=self.evaluator, sample_token=clip.token, scores={"transcript": text}, **answer
        )

    def test_an_empty_or_blank_transcript_is_refused(self):
        for text in ("", "   \n ", None):
            with (
                self.subTest(text=text),
                self.assertRaisesMessage(services.RatingRefused, "the transcript is empty"),
            ):
                self.submit(text)
        self.assertFalse(Rating.objects.exists())

    def test_a_transcript_longer_than_the_limit_is_refused(self):
        with self.assertRaisesMessage(services.RatingRefused, "at most 500 are kept"):
            self.submit("word " * 120)

    def test_the_transcript_is_stored_trimmed_without_a_score_once(self):
        [rating] = self.submit("  the cat sat on the mat \n")
        self.assertEqual(
            (rating.dimension, rating.score, rating.transcript),
            ("transcript", None, "the cat sat on the mat"),
        )
        again = services.submit_rating(
            evaluator=self.evaluator,
            sample_token=rating.test_sample.token,
            scores={"transcript": "something else"},
            played_to_end=True,
            play_count=1,
            time_to_answer_ms=700,
        )
        self.assertEqual(again, [rating])

    def test_transcriptions_read_back_with_the_reference_language_plays_and_condition(self):
        clip = services.current_clip(evaluator=self.evaluator)[0].presented_clips()[0].test_sample
        self.submit("the cat sat on a mat", play_count=2)
        [row] = intelligibility.transcriptions(self.test)
        self.assertEqual(
            {
                key: row[key]
                for key in ("rater", "test_sample", "sample", "reference", "transcript", "language")
            },
            {
                "rater": "R001",
                "test_sample": clip.pk,
                "sample": clip.sample_id,
                "reference": clip.sample.text,
                "transcript": "the cat sat on a mat",
                "language": "en",
            },
        )
        self.assertEqual((row["plays"], row["play_count"]), (1, 2))
        self.assertEqual(row["condition"], (clip.sample.system_label, clip.sample.style_label))
        self.assertIsNone(row["asr_wer"])

    def test_the_summary_pools_word_errors_per_condition_with_the_sentences_normaliser(self):
        spanish = make_sentence_set(name="set-es", texts=("El gato duerme.", "Llueve hoy."), language="es")
        samples = [
            make_sample(sentence=sentence, freq=300 + 50 * i)
            for i, sentence in enumerate(spanish.sentences.all())
        ]
        test = intelligibility_test("intel-es", samples=samples, samples_per_session=2)
        evaluator = evaluator_at_rating(test)
        typed = {"El gato duerme.": "el gato duerme", "Llueve hoy.": "llueve hoy no"}
        while (assignment := services.current_clip(evaluator=evaluator)[0]) is not None:
            clip = assignment.presented_clips()[0].test_sample
            hear_all(evaluator, [clip])
            services.submit_rating(
                evaluator=evaluator,
                sample_token=clip.token,
                scores={"transcript": typed[clip.sample.text]},
                played_to_end=True,
                play_count=1,
                time_to_answer_ms=700,
            )
        self.assertEqual({row["language"] for row in intelligibility.transcriptions(test)}, {"es"})
        [condition] = methods.get_method("intelligibility").analyse(test)["conditions"]
        # One inserted word over five reference words; case and punctuation are normalised away.
        self.assertEqual((condition["system"], condition["n"]), ("sys-a", 2))
        self.assertAlmostEqual(condition["wer"]["rate"], 1 / 5)


class TranscriptPageTests(TestCase):
    def page(self, **options):
        self.test = intelligibility_test(samples_per_session=2, **options)
        self.evaluator = evaluator_at_rating(self.test)
        return self.client.get(session_url(self.evaluator, "rate"))

    def test_the_page_has_one_player_and_a_text_box_and_never_the_clips_text(self):
        page = self.page()
        html = page.content.decode()
        self.assertTemplateUsed(page, "annotations/methods/intelligibility.html")
        self.assertEqual(html.count("<audio"), 1)
        self.assertIn('preload="none"', html)
        self.assertIn('name="text-transcript" maxlength="500"', html)
        self.assertIn('autocorrect="off" autocapitalize="none" spellcheck="false"', html)
        self.assertContains(page, "Type the words you heard")
        self.assertContains(page, "P plays the clip")
        self.assertContains(page, "/static/js/transcribe.js")
        for sample in Sample.objects.all():
            self.assertNotIn(sample.text, html)

    def test_the_spanish_page_speaks_spanish(self):
        page = self.page(language="es")
        self.assertContains(page, "Audio 1 de 2")
        self.assertContains(page, "Escriba las palabras que ha oído")
        self.assertContains(page, "Reproducciones restantes: 2")
        self.assertContains(page, "Puede reproducir el audio hasta 2 veces.")
        self.assertNotContains(page, "Plays left")

    def test_a_posted_empty_answer_is_refused_with_a_message_the_page_shows(self):
        page = self.page()
        clip = page.context["clips"][0]
        hear_all(self.evaluator, self.test.test_samples.filter(token=clip["token"]))
        data = {"clip": clip["token"], "played_to_end": "true", "play_count": 1, "text-transcript": "  "}
        refused = self.client.post(session_url(self.evaluator, "rate"), data, HTTP_ACCEPT="application/json")
        self.assertEqual(refused.status_code, 400)
        self.assertEqual(refused.json()["error"], "Please type what you heard (at most 500 characters).")
        data["text-transcript"] = "x" * 501
        refused = self.client.post(session_url(self.evaluator, "rate"), data, HTTP_ACCEPT="application/json")
        self.assertEqual(refused.status_code, 400)
        self.assertFalse(Rating.objects.exists())


class IntelligibilitySessionTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = intelligibility_test(samples_per_session=3, ratings_per_sample=1, allow_open_link=True)

    def test_a_whole_session_runs_from_the_open_link_to_the_completion_code(self):
        url = reverse("annotations:open_link", args=[self.test.open_token]) + "?PROLIFIC_PID=p1"
        self.client.get(url, follow=True)
        evaluator = self.test.evaluators.get()
        walk_to_rating(self.client, evaluator)
        page = self.client.get(session_url(evaluator, "rate"))
        self.assertContains(page, "Clip 1 of 3")
        rate_everything(self.client, evaluator)
        evaluator.refresh_from_db()
        self.assertIsNotNone(evaluator.finished_at)
        self.assertEqual(
            list(Rating.objects.filter(evaluator=evaluator).values_list("transcript", flat=True)),
            ["the words I heard"] * 3,
        )
        self.assertContains(self.client.get(session_url(evaluator), follow=True), self.test.completion_code)

    def test_a_returning_evaluator_resumes_at_the_next_clip_with_the_plays_they_have_left(self):
        evaluator = evaluator_at_rating(self.test)
        url = session_url(evaluator, "rate")
        self.client.post(url, answer_for(self.client, evaluator, url, text="hello there"))
        second = self.client.get(session_url(evaluator, "rate"))
        self.client.get(second.context["clips"][0]["audio_url"])
        other_browser = self.client_class()
        page = other_browser.get(session_url(evaluator), follow=True)
        self.assertContains(page, "Clip 2 of 3")
        self.assertEqual(page.context["clips"][0]["token"], second.context["clips"][0]["token"])
        self.assertContains(page, "Plays left: 1")


class IntelligibilityCreationTests(TestCase):
    def test_a_clip_without_a_reference_text_is_refused_and_named(self):
        samples = make_samples()
        untexted = make_sample(system_label="sys-z", freq=700)
        with self.assertRaisesMessage(
            services.TestCreationError, f"1 clip(s) have no reference text (e.g. sample {untexted.pk})"
        ):
            intelligibility_test(samples=[*samples, untexted])
        self.assertFalse(ListeningTest.objects.exists())

    def test_a_scored_scale_is_refused_and_the_one_point_scale_is_refused_for_scored_methods(self):
        samples = make_samples()
        with self.assertRaisesMessage(services.TestCreationError, "an intelligibility answer is typed text"):
            build_test("wrong", samples=samples, scale="acr-en", method="intelligibility")
        with self.assertRaisesMessage(services.TestCreationError, "has a single point (0)"):
            build_test("acr-flat", samples=samples, scale="transcription-en")

    def test_create_test_takes_the_method_and_the_number_of_plays(self):
        make_samples()
        out = StringIO()
        call_command(
            "create_test",
            "--name",
            "intel-cmd",
            "--method",
            "intelligibility",
            "--system",
            "sys-a",
            "--max-plays",
            "3",
            "--language",
            "es",
            stdout=out,
        )
        self.assertIn("with 6 clips in 6 trials", out.getvalue())
        test = ListeningTest.objects.get(name="intel-cmd")
        self.assertEqual(
            (test.method, test.scale.name, test.max_plays), ("intelligibility", "transcription-es", 3)
        )

    def test_the_create_page_makes_an_intelligibility_test_with_its_plays(self):
        self.client.force_login(make_admin())
        make_samples()
        data = {
            "name": "intel-page",
            "method": "intelligibility",
            "systems": ["sys-a"],
            "dimensions": "overall",
            "ratings_per_sample": 4,
            "samples_per_session": 3,
            "gold_per_session": 0,
            "traps_per_session": 0,
            "min_rater_overlap": 5,
            "language": "en",
            "max_plays": 1,
        }
        listed = self.client.post(reverse("annotations:test_new"), {**data, "show_clips": "1"})
        self.assertContains(listed, "the listener types what they heard")
        self.assertContains(listed, 'name="max_plays" value="1"')
        self.client.post(reverse("annotations:test_new"), data)
        test = ListeningTest.objects.get(name="intel-page")
        self.assertEqual(
            (test.method, test.scale.name, test.max_plays), ("intelligibility", "transcription-en", 1)
        )
