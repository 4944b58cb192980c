import pytest
from django.test import TestCase

from annotations import services
from annotations.models import ListeningTest, Rating
from tests.factories import build_test, heard

# a unique constraint and the transaction around an answer: repeated on PostgreSQL + Redis
pytestmark = pytest.mark.backends


class SubmitRatingTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = build_test(dimensions=["overall", "clarity"], samples_per_session=2)
        cls.evaluator, cls.other = services.invite_evaluators(test=cls.test, count=2)
        cls.clips = [a.presented_clips()[0].test_sample for a in services.assign(evaluator=cls.evaluator)]
        heard(cls.evaluator, *cls.clips)

    def submit(self, clip=None, scores=None, **fields):
        fields.setdefault("played_to_end", True)
        fields.setdefault("play_count", 2)
        fields.setdefault("time_to_answer_ms", 1500)
        return services.submit_rating(
            evaluator=self.evaluator,
            sample_token=(clip or self.clips[0]).token,
            scores=scores or {"overall": 4, "clarity": 3},
            **fields,
        )

    def assertRefused(self, code, **kwargs):
        with self.assertRaises(services.RatingRefused) as raised:
            self.submit(**kwargs)
        self.assertEqual(raised.exception.code, code)
        self.assertFalse(Rating.objects.exists())

    def test_every_dimension_is_saved_at_once_with_plays_and_answer_time(self):
        self.submit()
        rows = Rating.objects.values_list(
            "dimension", "score", "played_to_end", "play_count", "time_to_answer_ms"
        )
        self.assertEqual(sorted(rows), [("clarity", 3, True, 2, 1500), ("overall", 4, True, 2, 1500)])
        self.assertEqual({r.test_sample_id for r in Rating.objects.all()}, {self.clips[0].pk})

    def test_a_resent_answer_returns_the_stored_ratings_and_adds_none(self):
        first = self.submit()
        again = self.submit(scores={"overall": 1, "clarity": 1})
        self.assertEqual({r.pk for r in first}, {r.pk for r in again})
        self.assertEqual(sorted(Rating.objects.values_list("score", flat=True)), [3, 4])

    def test_a_half_stored_answer_is_completed_not_duplicated(self):
        Rating.objects.create(
            evaluator=self.evaluator,
            sample=self.clips[0].sample,
            test_sample=self.clips[0],
            trial=self.clips[0].trials.get(),
            score=4,
            played_to_end=True,
        )
        self.submit()
        self.assertEqual(Rating.objects.count(), 2)

    def test_it_refuses_a_clip_from_another_evaluators_session(self):
        others = [a.presented_clips()[0].test_sample for a in services.assign(evaluator=self.other)]
        foreign = next(clip for clip in others if clip not in self.clips)
        heard(self.evaluator, foreign)
        self.assertRefused("not_assigned", clip=foreign)

    def test_it_refuses_an_unknown_token(self):
        with self.assertRaises(services.RatingRefused):
            services.submit_rating(
                evaluator=self.evaluator,
                sample_token="made-up",
                scores={"overall": 4, "clarity": 4},
                played_to_end=True,
                play_count=1,
                time_to_answer_ms=10,
            )

    def test_it_refuses_scores_outside_the_scale(self):
        for scores in ({"overall": 0, "clarity": 3}, {"overall": 6, "clarity": 3}, {"overall": 4}):
            with self.subTest(scores=scores):
                self.assertRefused("bad_score", scores=scores)

    def test_it_refuses_a_clip_the_browser_did_not_play_to_the_end(self):
        self.assertRefused("not_played", played_to_end=False)

    def test_it_refuses_answers_once_the_test_has_closed(self):
        ListeningTest.objects.filter(pk=self.test.pk).update(state=ListeningTest.State.CLOSED)
        self.evaluator.refresh_from_db()
        self.assertRefused("closed")

    def test_the_last_answer_finishes_the_session(self):
        self.submit(clip=self.clips[0])
        self.assertIsNone(self.evaluator.finished_at)
        self.submit(clip=self.clips[1])
        self.assertIsNotNone(self.evaluator.finished_at)
        self.assertEqual(self.evaluator.step, "finish")

    def test_absurd_counts_from_the_browser_are_clamped(self):
        self.submit(play_count=0, time_to_answer_ms=10**12)
        rating = Rating.objects.first()
        self.assertEqual((rating.play_count, rating.time_to_answer_ms), (1, 2**31 - 1))
