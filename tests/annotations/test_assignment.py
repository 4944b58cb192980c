import random
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from annotations import services
from annotations.models import Assignment, Evaluator
from annotations.ordering import order_without_neighbours
from tests.factories import build_test, make_samples, rate

# assignment under the evaluator lock, least-answered first by aggregate: repeated on PostgreSQL + Redis
pytestmark = pytest.mark.backends

SIX_SENTENCES = ("One.", "Two.", "Three.", "Four.", "Five.", "Six.")


class AssignmentTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        # Six sentences in two styles: twelve clips, six per session, three ratings wanted each.
        cls.samples = make_samples(sentences=SIX_SENTENCES)
        cls.test = build_test(samples=cls.samples, ratings_per_sample=3, samples_per_session=6)

    def held(self) -> Counter:
        return Counter(
            Assignment.objects.filter(evaluator__test=self.test).values_list("trial__clips", flat=True)
        )

    def test_sessions_are_balanced_across_evaluators(self):
        for evaluator in services.invite_evaluators(test=self.test, count=6):
            services.assign(evaluator=evaluator)
        # 6 evaluators x 6 clips over 12 clips: every clip exactly 3 times, its target.
        self.assertEqual(sorted(self.held().values()), [3] * 12)

    def test_the_least_rated_clips_come_first(self):
        first, second = services.invite_evaluators(test=self.test, count=2)
        taken = {a.trial_id for a in services.assign(evaluator=first)}
        others = {a.trial_id for a in services.assign(evaluator=second)}
        self.assertEqual(len(taken | others), 12)

    def test_an_evaluator_never_gets_the_same_sample_twice(self):
        evaluator = services.invite_evaluators(test=self.test, count=1)[0]
        clips = [a.presented_clips()[0].test_sample.sample_id for a in services.assign(evaluator=evaluator)]
        self.assertEqual(len(clips), len(set(clips)))

    def test_the_assignment_is_built_once_so_a_session_resumes_unchanged(self):
        evaluator = services.invite_evaluators(test=self.test, count=1)[0]
        first = [a.pk for a in services.assign(evaluator=evaluator)]
        again = [a.pk for a in services.assign(evaluator=Evaluator.objects.get(pk=evaluator.pk))]
        self.assertEqual(first, again)
        self.assertEqual(Assignment.objects.count(), 6)

    def test_two_clips_of_one_sentence_are_never_neighbours(self):
        test = build_test("whole", samples=self.samples, samples_per_session=12, ratings_per_sample=50)
        for evaluator in services.invite_evaluators(test=test, count=20):
            sentences = [a.trial.clips.get().sample.sentence_id for a in services.assign(evaluator=evaluator)]
            self.assertEqual(len(sentences), 12)
            for before, after in zip(sentences, sentences[1:], strict=False):
                self.assertNotEqual(before, after, sentences)

    def test_each_evaluator_hears_the_clips_in_a_different_order(self):
        test = build_test("whole", samples=self.samples, samples_per_session=12, ratings_per_sample=50)
        orders = {
            tuple(a.trial_id for a in services.assign(evaluator=evaluator))
            for evaluator in services.invite_evaluators(test=test, count=5)
        }
        self.assertGreater(len(orders), 1)

    def test_gold_and_trap_clips_are_mixed_into_every_session(self):
        extra = make_samples(sentences=("Gold.", "Trap."), styles=("neutral",), set_name="extra")
        test = build_test(
            "checked", samples=self.samples, gold={extra[0]: 5}, traps={extra[1]: 1}, samples_per_session=6
        )
        evaluator = services.invite_evaluators(test=test, count=1)[0]
        kinds = Counter(a.trial.kind for a in services.assign(evaluator=evaluator))
        self.assertEqual(kinds, {"test": 6, "gold": 1, "trap": 1})

    def test_a_test_whose_clips_all_reached_their_target_turns_new_evaluators_away(self):
        test = build_test("small", samples=self.samples[:2], ratings_per_sample=1, samples_per_session=2)
        first, second = services.invite_evaluators(test=test, count=2)
        for assignment in services.assign(evaluator=first):
            clip = assignment.presented_clips()[0].test_sample
            rate(first, clip.sample, 4, test_sample=clip, trial=assignment.trial)
        with self.assertRaises(services.SessionUnavailable) as raised:
            services.assign(evaluator=second)
        self.assertEqual(raised.exception.code, "full")

    def test_an_idle_session_releases_the_clips_it_has_not_rated(self):
        test = build_test("small", samples=self.samples[:2], ratings_per_sample=1, samples_per_session=2)
        idle, rated_one, newcomer = services.invite_evaluators(test=test, count=3)
        services.assign(evaluator=idle)
        Evaluator.objects.filter(pk=idle.pk).update(last_seen_at=timezone.now() - timedelta(hours=3))
        self.assertEqual(sum(services.held_counts(test).values()), 0)
        self.assertEqual(len(services.assign(evaluator=newcomer)), 2)


class SessionLoadTests(TestCase):
    def test_only_the_sessions_own_trials_are_loaded_with_their_clips(self):
        # Twelve trials in the test, six per session: the clips of six trials are read, not twelve.
        test = build_test(samples=make_samples(sentences=SIX_SENTENCES), samples_per_session=6)
        evaluator = Evaluator.objects.create(test=test, pseudonym="R001")
        with CaptureQueriesContext(connection) as queries:
            services.assign(evaluator=evaluator, rng=random.Random(1))
        clip_reads = [q["sql"] for q in queries if 'FROM "annotations_trialclip"' in q["sql"]]
        self.assertTrue(clip_reads)
        for sql in clip_reads:
            ids = sql.split(" IN (", 1)[1].split(")", 1)[0].split(",")
            self.assertEqual(len(ids), 6, sql)


class OrderWithoutNeighboursTests(TestCase):
    def test_it_finds_an_order_without_equal_neighbours_whenever_one_exists(self):
        rng = random.Random(7)
        for _ in range(300):
            keys = [rng.randrange(4) for _ in range(rng.randrange(1, 14))]
            most = max(Counter(keys).values())
            if most > (len(keys) + 1) // 2:
                continue  # no such order exists
            order = order_without_neighbours(keys, key=lambda k: k, rng=rng)
            self.assertEqual(sorted(order), sorted(keys))
            self.assertTrue(all(a != b for a, b in zip(order, order[1:], strict=False)), order)

    def test_it_still_returns_every_item_when_no_such_order_exists(self):
        order = order_without_neighbours([1, 1, 1, 2], key=lambda k: k, rng=random.Random(1))
        self.assertEqual(sorted(order), [1, 1, 1, 2])
        # The best possible: one pair of equal neighbours, not two.
        self.assertEqual(sum(a == b for a, b in zip(order, order[1:], strict=False)), 1)
