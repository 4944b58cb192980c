"""Server-verified listening: an answer counts only after the server sent every clip and its time passed.

Three scripted evaluators play the session over HTTP. The clips are 0.3 s tones, so the one
that waits really waits, and nothing is moved in the database.
"""

import csv
import dataclasses
import io
import random
import time
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.db.models import F
from django.test import TestCase, override_settings
from django.utils import timezone

from annotations import methods, services
from annotations.models import ClipFetch, Evaluator, Rating, Scale, covers_file
from annotations.results import exports
from annotations.results.services import Thresholds
from annotations.views import REFUSALS
from tests.annotations.helpers import answer_pair, session_url
from tests.factories import (
    ab_test,
    build_test,
    evaluator_at_rating,
    fetch_whole,
    hear_all,
    make_sample,
    make_samples,
    make_sentence_set,
    tone_wav,
)

pytestmark = pytest.mark.backends  # fetches counted under the evaluator lock: repeated on PostgreSQL + Redis

CLIP_S = 0.2
# Tight enough that answering at once (a few ms after the fetch) is refused on a CLIP_S clip.
TOLERANCE_S = 0.02


def short_clips(count: int, set_name: str = "short") -> list:
    """Samples whose audio is a CLIP_S-second tone and whose duration says so."""
    sentence_set = make_sentence_set(name=set_name, texts=tuple(f"Short sentence {i}." for i in range(count)))
    samples = []
    for index, sentence in enumerate(sentence_set.sentences.all()):
        sample = make_sample(sentence=sentence)
        sample.audio.save(
            "clip.wav", ContentFile(tone_wav(seconds=CLIP_S, freq=200 + 40 * index)), save=False
        )
        sample.duration_s = CLIP_S
        sample.save()
        samples.append(sample)
    return samples


@override_settings(SARAI_LISTEN_TOLERANCE_S=TOLERANCE_S)
class ScriptedEvaluatorTests(TestCase):
    def setUp(self):
        self.test = build_test(samples=short_clips(4), samples_per_session=2)

    def evaluator_at_rating(self) -> Evaluator:
        """An evaluator past consent, screen and practice (those steps have their own tests)."""
        evaluator = services.invite_evaluators(test=self.test, count=1)[0]
        services.give_consent(evaluator=evaluator)
        Evaluator.objects.filter(pk=evaluator.pk).update(checked_at=timezone.now(), trained_at=timezone.now())
        return evaluator

    def page(self, evaluator: Evaluator, step: str = "rate"):
        return self.client.get(session_url(evaluator, step))

    def fetch(self, url: str, range_header: str | None = None):
        headers = {"Range": range_header} if range_header else {}
        response = self.client.get(url, headers=headers)
        self.assertIn(response.status_code, (200, 206))
        return response

    def answer(self, evaluator: Evaluator, token: str, step: str = "rate"):
        data = {
            "clip": token,
            "played_to_end": "true",
            "play_count": 1,
            "time_to_answer_ms": 5,
            "score-overall": 4,
        }
        return self.client.post(session_url(evaluator, step), data, HTTP_ACCEPT="application/json")

    def assertRefusedWith(self, response, code: str):
        self.assertEqual(response.status_code, 400)
        body = response.json()
        self.assertEqual(
            (body["ok"], body["error"], body["listen_again"]), (False, str(REFUSALS[code]), True)
        )

    def test_a_script_that_never_fetches_audio_is_refused_on_every_clip_and_nothing_is_stored(self):
        evaluator = self.evaluator_at_rating()
        self.assertEqual(self.page(evaluator).status_code, 200)
        tokens = [a.presented_clips()[0].test_sample.token for a in evaluator.assignments.all()]
        self.assertEqual(len(tokens), 2)
        for token in tokens:
            with self.subTest(token=token):
                self.assertRefusedWith(self.answer(evaluator, token), "not_fetched")
        self.assertFalse(Rating.objects.exists())
        evaluator.refresh_from_db()
        self.assertIsNone(evaluator.finished_at)

    def test_a_script_that_fetches_but_answers_at_once_is_refused(self):
        evaluator = self.evaluator_at_rating()
        for _ in range(2):  # asking again at once changes nothing
            page = self.page(evaluator)
            self.fetch(page.context["audio_url"])
            self.assertRefusedWith(self.answer(evaluator, page.context["clip_token"]), "too_soon")
        self.assertFalse(Rating.objects.exists())
        self.assertEqual(ClipFetch.objects.filter(evaluator=evaluator).count(), 2)

    def test_a_script_that_fetches_and_waits_the_clips_duration_is_accepted_with_server_timings(self):
        evaluator = self.evaluator_at_rating()
        for _ in range(2):
            page = self.page(evaluator)
            self.fetch(page.context["audio_url"])
            time.sleep(CLIP_S)
            response = self.answer(evaluator, page.context["clip_token"])
            self.assertEqual(response.status_code, 200, response.content)
            self.assertTrue(response.json()["ok"])
        evaluator.refresh_from_db()
        self.assertIsNotNone(evaluator.finished_at)
        ratings = list(Rating.objects.filter(evaluator=evaluator))
        self.assertEqual(len(ratings), 2)
        for rating in ratings:
            self.assertEqual(rating.fetch_count, 1)
            waited = (rating.received_at - rating.first_fetch_at).total_seconds()
            self.assertGreaterEqual(waited, CLIP_S - TOLERANCE_S)
            self.assertLessEqual(rating.received_at, rating.created_at)

    def test_byte_ranges_that_cover_the_file_count_and_a_partial_range_does_not(self):
        evaluator = self.evaluator_at_rating()
        page = self.page(evaluator)
        url, token = page.context["audio_url"], page.context["clip_token"]
        size = len(self.fetch(url, "bytes=0-99").getvalue())
        self.assertEqual(size, 100)
        time.sleep(CLIP_S)
        self.assertRefusedWith(self.answer(evaluator, token), "not_fetched")
        whole = self.fetch(url, "bytes=100-")
        self.assertEqual(whole.status_code, 206)
        self.assertEqual(self.answer(evaluator, token).status_code, 200)
        rating = Rating.objects.get(evaluator=evaluator)
        self.assertEqual(rating.fetch_count, 2)

    def test_a_second_fetch_of_the_same_clip_is_counted(self):
        evaluator = self.evaluator_at_rating()
        page = self.page(evaluator)
        self.fetch(page.context["audio_url"])
        self.fetch(page.context["audio_url"], "bytes=0-")
        time.sleep(CLIP_S)
        self.answer(evaluator, page.context["clip_token"])
        self.assertEqual(Rating.objects.get(evaluator=evaluator).fetch_count, 2)

    def test_a_replay_at_a_new_address_is_a_fetch_of_the_same_clip(self):
        evaluator = self.evaluator_at_rating()
        page = self.page(evaluator)
        first = self.fetch(page.context["audio_url"])
        again = self.fetch(page.context["audio_url"] + "?play=1764486000000")
        self.assertEqual(again.getvalue(), first.getvalue())
        time.sleep(CLIP_S)
        self.assertTrue(self.answer(evaluator, page.context["clip_token"]).json()["ok"])
        self.assertEqual(Rating.objects.get(evaluator=evaluator).fetch_count, 2)

    def test_clips_are_served_no_store_and_a_head_request_is_not_a_fetch(self):
        evaluator = self.evaluator_at_rating()
        url = self.page(evaluator).context["audio_url"]
        for response in (self.fetch(url), self.fetch(url, "bytes=0-10")):
            self.assertIn("no-store", response["Cache-Control"])
        self.client.head(url)
        self.assertEqual(ClipFetch.objects.filter(evaluator=evaluator).count(), 2)

    def test_without_javascript_the_refusal_comes_back_on_the_page_with_the_clip_to_play_again(self):
        evaluator = self.evaluator_at_rating()
        token = self.page(evaluator).context["clip_token"]
        data = {"clip": token, "played_to_end": "true", "score-overall": 4}
        response = self.client.post(session_url(evaluator, "rate"), data, follow=True)
        self.assertContains(response, "has not loaded the whole clip from the server")
        self.assertEqual(response.context["clip_token"], token)
        self.assertContains(response, "<audio")

    def test_the_server_timings_are_in_the_ratings_export(self):
        evaluator = self.evaluator_at_rating()
        page = self.page(evaluator)
        self.fetch(page.context["audio_url"])
        time.sleep(CLIP_S)
        self.answer(evaluator, page.context["clip_token"])
        out = io.StringIO(newline="")
        exports.write_ratings(self.test, Thresholds(), out)
        row = next(csv.DictReader(io.StringIO(out.getvalue())))
        rating = Rating.objects.get(evaluator=evaluator)
        self.assertEqual(row["fetch_count"], "1")
        self.assertEqual(row["first_fetch_at"], rating.first_fetch_at.isoformat())
        self.assertEqual(row["received_at"], rating.received_at.isoformat())


@override_settings(SARAI_LISTEN_TOLERANCE_S=TOLERANCE_S)
class PracticeAnswerTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        samples = short_clips(4)
        cls.test = build_test(samples=samples[:3], training=samples[3:], samples_per_session=2)
        cls.evaluator = services.invite_evaluators(test=cls.test, count=1)[0]
        services.give_consent(evaluator=cls.evaluator)
        Evaluator.objects.filter(pk=cls.evaluator.pk).update(checked_at=timezone.now())

    def post(self, token: str):
        data = {"clip": token, "played_to_end": "true", "score-overall": 3}
        return self.client.post(session_url(self.evaluator, "training"), data, HTTP_ACCEPT="application/json")

    def test_a_practice_answer_needs_the_clip_fetched_and_its_time_passed(self):
        page = self.client.get(session_url(self.evaluator, "training"))
        token, url = page.context["clip_token"], page.context["audio_url"]
        self.assertEqual(self.post(token).json()["error"], str(REFUSALS["not_fetched"]))
        self.client.get(url)
        self.assertEqual(self.post(token).json()["error"], str(REFUSALS["too_soon"]))
        self.evaluator.refresh_from_db()
        self.assertEqual(self.evaluator.training_done, 0)
        time.sleep(CLIP_S)
        self.assertTrue(self.post(token).json()["ok"])
        self.evaluator.refresh_from_db()
        self.assertEqual(self.evaluator.step, "rate")
        self.assertFalse(Rating.objects.exists())  # practice is never stored as ratings

    def test_the_fetches_a_practice_answer_was_accepted_on_count_for_it_alone(self):
        page = self.client.get(session_url(self.evaluator, "training"))
        self.client.get(page.context["audio_url"])
        time.sleep(CLIP_S)
        self.assertTrue(self.post(page.context["clip_token"]).json()["ok"])
        fetch = ClipFetch.objects.get(evaluator=self.evaluator)
        self.assertGreater(fetch.counted_at, fetch.started_at)
        with self.assertRaisesMessage(services.RatingRefused, "not_fetched"):
            services.verify_listening(
                evaluator=self.evaluator,
                method=methods.get_method("acr"),
                clips=[fetch.test_sample],
                received_at=timezone.now(),
            )


def _pairs(clips: list) -> list[methods.TrialShape]:
    return [[(a, "A"), (b, "B")] for a, b in zip(clips[::2], clips[1::2], strict=False)]


def _same(test, clips, scores) -> list[methods.Answer]:
    wanted = {"same": scores.get("same")}
    methods.check_on_scale(test, wanted)
    return [methods.Answer(clips[0].test_sample, "same", wanted["same"])]


# A toy method of two clips a page, asking whether they sound the same (the one that
# tests/annotations/test_methods_registry.py registers shuffles each pair and has an analysis too).
SAME_DIFFERENT = methods.Method(
    name="same_different",
    title="Same or different (two clips per page)",
    build_trials=_pairs,
    template="annotations/methods/same_different.html",
    questions=lambda test: ["same"],
    validate=_same,
    analyse=lambda test: {},
)


@override_settings(SARAI_LISTEN_TOLERANCE_S=TOLERANCE_S)
class TwoClipTrialTests(TestCase):
    """A trial of two clips: both must be fetched; the method says how long they take to hear."""

    def setUp(self):
        Scale.objects.create(
            name="same-different", title="Same?", min_value=0, max_value=1, labels=["Different", "Same"]
        )

    def evaluator_for(self, method: methods.Method) -> Evaluator:
        methods.register(method)
        self.addCleanup(methods.METHODS.pop, method.name)
        test = build_test(
            "pairs", samples=short_clips(4), scale="same-different", method=method.name, samples_per_session=2
        )
        evaluator = services.invite_evaluators(test=test, count=1)[0]
        services.give_consent(evaluator=evaluator)
        Evaluator.objects.filter(pk=evaluator.pk).update(checked_at=timezone.now(), trained_at=timezone.now())
        return evaluator

    def answer(self, evaluator: Evaluator, token: str):
        data = {"clip": token, "played_to_end": "true", "score-same": 1}
        return self.client.post(session_url(evaluator, "rate"), data, HTTP_ACCEPT="application/json")

    def test_every_clip_is_fetched_and_the_longest_clips_time_is_enough_by_default(self):
        evaluator = self.evaluator_for(SAME_DIFFERENT)
        page = self.client.get(session_url(evaluator, "rate"))
        first, second = page.context["clips"]
        self.client.get(first["audio_url"])
        time.sleep(CLIP_S)
        self.assertEqual(
            self.answer(evaluator, page.context["clip_token"]).json()["error"], REFUSALS["not_fetched"]
        )
        self.client.get(second["audio_url"])
        self.assertTrue(self.answer(evaluator, page.context["clip_token"]).json()["ok"])

    def test_a_method_may_ask_for_more_listening_time(self):
        evaluator = self.evaluator_for(dataclasses.replace(SAME_DIFFERENT, listening_time=sum))
        page = self.client.get(session_url(evaluator, "rate"))
        for clip in page.context["clips"]:
            self.client.get(clip["audio_url"])
        time.sleep(CLIP_S)
        self.assertEqual(
            self.answer(evaluator, page.context["clip_token"]).json()["error"], REFUSALS["too_soon"]
        )
        time.sleep(CLIP_S)
        self.assertTrue(self.answer(evaluator, page.context["clip_token"]).json()["ok"])
        self.assertEqual(Rating.objects.get(evaluator=evaluator).fetch_count, 2)


class CoverageTests(TestCase):
    def test_ranges_cover_a_file_only_when_they_join_up_from_the_first_byte_to_the_last(self):
        self.assertTrue(covers_file([(0, 99)], 100))
        self.assertTrue(covers_file([(50, 99), (0, 49)], 100))
        self.assertTrue(covers_file([(0, 60), (40, 99)], 100))
        self.assertFalse(covers_file([(0, 49), (51, 99)], 100))
        self.assertFalse(covers_file([(1, 99)], 100))
        self.assertFalse(covers_file([(0, 98)], 100))
        self.assertFalse(covers_file([], 100))


class ListeningPerTrialTests(TestCase):
    """A clip in several trials of a session is fetched again for each: a fetch counts for one answer."""

    def fetch(self, evaluator: Evaluator, clip, seconds_ago: float = 0.0) -> None:
        fetch_whole(evaluator, clip, started_at=timezone.now() - timedelta(seconds=seconds_ago))

    def submit(self, evaluator: Evaluator, clips: list, score: int) -> list[Rating]:
        return services.submit_rating(
            evaluator=evaluator,
            sample_token=clips[0].token,
            clip_tokens=[clip.token for clip in clips],
            scores={evaluator.test.rated_dimensions[0]: score},
            played_to_end=True,
            play_count=1,
            time_to_answer_ms=500,
        )

    def test_a_pair_sharing_a_clip_heard_in_an_earlier_pair_needs_it_fetched_and_heard_again(self):
        # One sentence in three conditions: each clip is in two of the three pairs.
        samples = make_samples(
            sentences=("One sentence here.",), styles=("neutral",), systems=("sys-a", "sys-b", "sys-c")
        )
        test = build_test("cmos", samples=samples, scale=None, method="cmos", samples_per_session=3)
        evaluator = evaluator_at_rating(test)
        first = [clip.test_sample for clip in services.current_clip(evaluator=evaluator)[0].presented_clips()]
        for clip in first:
            self.fetch(evaluator, clip, seconds_ago=30)
        [earlier] = self.submit(evaluator, first, 1)
        second = [
            clip.test_sample for clip in services.current_clip(evaluator=evaluator)[0].presented_clips()
        ]
        [new] = [clip for clip in second if clip not in first]
        [shared] = [clip for clip in second if clip in first]

        self.fetch(evaluator, new)
        with self.assertRaisesMessage(services.RatingRefused, f"not_fetched: clips [{shared.pk}]"):
            self.submit(evaluator, second, 2)
        self.fetch(evaluator, shared)
        with self.assertRaisesMessage(services.RatingRefused, "too_soon"):
            self.submit(evaluator, second, 2)
        self.assertEqual(Rating.objects.count(), 1)

        # Both clips' time passes (as the pair page needs it): the answer counts this pair's fetches only.
        fetched = ClipFetch.objects.filter(evaluator=evaluator, counted_at__isnull=True)
        fetched.update(started_at=F("started_at") - timedelta(seconds=2))
        this_pair = list(fetched.values_list("started_at", flat=True))
        [rating] = self.submit(evaluator, second, 2)
        self.assertEqual((rating.fetch_count, rating.first_fetch_at), (2, min(this_pair)))
        self.assertGreater(rating.first_fetch_at, earlier.first_fetch_at)  # not the first pair's 30 s ago
        self.assertEqual(earlier.fetch_count, 2)

    def test_an_ab_repeat_is_refused_until_its_clips_are_fetched_again(self):
        evaluator = evaluator_at_rating(
            ab_test(ratings_per_sample=99, repeat_share=0.3), rng=random.Random(1)
        )
        repeats = 0
        while (assignment := services.current_clip(evaluator=evaluator)[0]) is not None:
            if not assignment.trial.repeat_of_id:
                answer_pair(evaluator, 1)
                continue
            repeats += 1
            clips = [clip.test_sample for clip in assignment.presented_clips()]
            with self.assertRaisesMessage(services.RatingRefused, "not_fetched"):
                self.submit(evaluator, clips, -1)
            hear_all(evaluator, clips)
            [rating] = self.submit(evaluator, clips, -1)
            self.assertEqual((rating.trial_id, rating.fetch_count), (assignment.trial_id, 2))
        self.assertGreater(repeats, 0)
        self.assertEqual(Rating.objects.filter(trial__repeat_of__isnull=False).count(), repeats)
