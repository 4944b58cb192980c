"""A/B preference: pairs of one sentence in two conditions, A, B or no preference, repeats for consistency."""

import random

from django.test import TestCase

from annotations import methods, pairs, services
from annotations.models import ListeningTest, Rating, Trial
from tests.annotations.helpers import answer_pair, rate_everything, session_url, walk_to_rating
from tests.factories import TWELVE, ab_test, build_test, evaluator_at_rating, make_samples


def session_of(evaluator) -> list:
    return list(evaluator.assignments.select_related("trial").order_by("position"))


class PreferenceAnswerTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = ab_test(ratings_per_sample=99)

    def test_one_trial_per_sentence_holds_system_a_as_x_and_system_b_as_y(self):
        self.assertEqual(self.test.trials.count(), 12)
        for trial in self.test.trials.prefetch_related("trial_clips__test_sample__sample"):
            roles = [(clip.role, clip.test_sample.sample.system_label) for clip in trial.trial_clips.all()]
            self.assertEqual(roles, [("X", "sys-a"), ("Y", "sys-b")])
        self.assertEqual(
            (
                self.test.dimensions,
                self.test.scale.name,
                self.test.allow_no_preference,
                self.test.repeat_share,
            ),
            (["preference"], "ab-en", True, 0.1),
        )

    def test_a_preference_is_stored_on_the_clip_heard_second_and_read_back_relative_to_x(self):
        evaluator = evaluator_at_rating(self.test, rng=random.Random(2))
        for score in (-1, 1, 0):
            assignment = services.current_clip(evaluator=evaluator)[0]
            first, second = assignment.presented_clips()
            [rating] = answer_pair(evaluator, score)
            self.assertEqual(
                (rating.test_sample, rating.dimension, rating.score),
                (second.test_sample, "preference", score),
            )
        rows = pairs.pair_judgements(self.test)
        self.assertEqual([row["score"] for row in rows], [-1, 1, 0])
        for row in rows:
            # -1 prefers A, the clip played first: Y is preferred (+1) when Y was played first.
            y_preferred = (row["score"] == -1 and row["first"] == "Y") or (
                row["score"] == 1 and row["first"] == "X"
            )
            self.assertEqual(row["corrected"], 1 if y_preferred else -1 if row["score"] else 0)

    def test_no_preference_is_refused_when_the_test_asks_for_a_choice(self):
        forced = ab_test("forced", allow_no_preference=False)
        evaluator = evaluator_at_rating(forced)
        with self.assertRaisesMessage(services.RatingRefused, "'no preference' is not an answer"):
            answer_pair(evaluator, 0)
        self.assertEqual(len(answer_pair(evaluator, 1)), 1)

    def test_the_summary_counts_preferences_for_x_for_y_and_ties_per_pair_of_conditions(self):
        evaluator = evaluator_at_rating(self.test, rng=random.Random(5))
        while (assignment := services.current_clip(evaluator=evaluator)[0]) is not None:
            # This rater prefers sys-b, except on the pairs of the first two sentences: no preference.
            first, second = [clip.test_sample.sample for clip in assignment.presented_clips()]
            score = 0 if first.text in TWELVE[:2] else (1 if second.system_label == "sys-b" else -1)
            answer_pair(evaluator, score)
        summary = methods.get_method("ab").analyse(self.test)
        [pair] = summary["pairs"]
        self.assertEqual(
            (pair["x"], pair["y"]),
            ({"system": "sys-a", "style": "neutral"}, {"system": "sys-b", "style": "neutral"}),
        )
        ties = sum(
            1
            for a in session_of(evaluator)
            if a.trial.repeat_of_id is None and a.presented_clips()[0].test_sample.sample.text in TWELVE[:2]
        )
        self.assertEqual((pair["n"], pair["x_preferred"], pair["ties"]), (10, 0, ties))
        self.assertEqual(pair["y_preferred"], 10 - ties)
        self.assertEqual(summary["consistency"]["repeats"], 1)


class RepeatTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = ab_test(ratings_per_sample=99, repeat_share=0.3)

    def test_a_share_of_the_session_is_repeated_later_swapped_as_trials_of_their_own(self):
        for seed in range(8):
            evaluator = evaluator_at_rating(self.test, rng=random.Random(seed))
            session = session_of(evaluator)
            repeats = [a for a in session if a.trial.repeat_of_id]
            self.assertEqual((len(session), len(repeats)), (13, 3))
            position = {a.trial_id: a.position for a in session}
            for repeat in repeats:
                original = next(a for a in session if a.trial_id == repeat.trial.repeat_of_id)
                # Later, with at least three pairs between them.
                self.assertGreaterEqual(repeat.position - original.position, 4, seed)
                shown = [(c.role, c.test_sample_id) for c in repeat.presented_clips()]
                self.assertEqual(
                    shown, [(c.role, c.test_sample_id) for c in original.presented_clips()][::-1]
                )
                self.assertEqual(position[original.trial_id], original.position)

    def test_the_number_of_repeats_is_the_share_rounded_and_at_least_one(self):
        self.assertEqual(
            [
                pairs.repeat_count(share, n)
                for share, n in [(0.1, 10), (0.1, 20), (0.1, 25), (0.3, 10), (0.1, 2), (0.1, 1), (0, 10)]
            ],
            [1, 2, 3, 3, 1, 0, 0],
        )
        none = ab_test("none", repeat_share=0)
        self.assertFalse(any(a.trial.repeat_of_id for a in session_of(evaluator_at_rating(none))))
        self.assertEqual(Trial.objects.filter(test=none).count(), 12)

    def test_repeats_are_never_dealt_to_others_or_counted_towards_the_target(self):
        first = evaluator_at_rating(self.test, rng=random.Random(1))
        held = services.held_counts(self.test)
        self.assertEqual(sum(held.values()), 10)
        self.assertFalse(
            set(held) & set(Trial.objects.filter(repeat_of__isnull=False).values_list("pk", flat=True))
        )
        for _ in range(4):
            evaluator = evaluator_at_rating(self.test)
            self.assertEqual(sum(1 for a in session_of(evaluator) if a.trial.repeat_of_id), 3)
            self.assertFalse(
                [
                    a
                    for a in session_of(evaluator)
                    if a.trial.repeat_of and a.trial.assignments.exclude(evaluator=evaluator).exists()
                ]
            )
        while services.current_clip(evaluator=first)[0] is not None:
            answer_pair(first, 1)
        progress = ListeningTest.objects.with_progress().get(pk=self.test.pk)
        self.assertEqual((progress.n_collected, progress.n_target), (10, 12 * 99))
        self.assertEqual(Rating.objects.filter(evaluator=first).count(), 13)
        self.assertEqual(Rating.objects.originals().filter(evaluator=first).count(), 10)

    def test_a_test_with_answered_repeats_can_still_be_deleted_whole(self):
        evaluator = evaluator_at_rating(self.test)
        while services.current_clip(evaluator=evaluator)[0] is not None:
            answer_pair(evaluator, 1)
        self.test.delete()
        self.assertFalse(Trial.objects.exists() or Rating.objects.exists())

    def test_repeat_answers_are_read_back_with_their_original_and_left_out_of_the_summary(self):
        evaluator = evaluator_at_rating(self.test, rng=random.Random(3))
        while services.current_clip(evaluator=evaluator)[0] is not None:
            answer_pair(evaluator, -1)  # always A, the clip played first: inconsistent on repeats
        rows = pairs.pair_judgements(self.test)
        repeats = [row for row in rows if row["repeat_of"]]
        self.assertEqual(len(repeats), 3)
        by_trial = {row["trial"]: row for row in rows}
        for row in repeats:
            original = by_trial[row["repeat_of"]]
            self.assertEqual(
                (row["original_trial"], row["sentence"]), (original["trial"], original["sentence"])
            )
            self.assertNotEqual(row["first"], original["first"])
            self.assertEqual(row["corrected"], -original["corrected"])
        summary = methods.get_method("ab").analyse(self.test)
        self.assertEqual(summary["pairs"][0]["n"], 10)
        self.assertEqual(summary["consistency"], {"repeats": 3, "same_answer": 0})

    def test_repeats_come_three_trials_later_where_they_can_and_never_next_to_their_original(self):
        rng = random.Random(0)
        for n, count in [(10, 1), (10, 3), (20, 2), (5, 2), (4, 3), (2, 1), (3, 3)]:
            for _ in range(20):
                session = pairs.place_repeats([f"s{i}" for i in range(n)], count, rng)
                self.assertEqual([i for i, repeat in session if not repeat], list(range(n)))
                repeated = [(at, index) for at, (index, repeat) in enumerate(session) if repeat]
                self.assertEqual(len(repeated), count)
                gaps = [at - session.index((index, False)) - 1 for at, index in repeated]
                self.assertGreaterEqual(min(gaps), 1, session)
                if n - count >= pairs.MIN_REPEAT_GAP:
                    self.assertGreaterEqual(min(gaps), pairs.MIN_REPEAT_GAP, session)

    def test_a_repeat_avoids_sitting_next_to_a_trial_of_its_sentence(self):
        # Pairs of one sentence come in twos here; a repeat has a choice of places between other sentences.
        keys = ["a", "b", "a", "c", "d", "c", "e", "f", "e", "g", "h", "g"]
        for seed in range(20):
            session = pairs.place_repeats(keys, 2, random.Random(seed))
            for at, (index, repeat) in enumerate(session):
                if repeat:
                    neighbours = {keys[i] for i, _ in session[at - 1 : at + 2] if (i, _) != (index, True)}
                    self.assertNotIn(keys[index], neighbours, session)


class PreferenceSessionTests(TestCase):
    def test_a_whole_session_with_its_repeat_runs_over_http_and_finishes(self):
        test = ab_test(allow_open_link=True, ratings_per_sample=1)
        evaluator = services.invite_evaluators(test=test, count=1)[0]
        walk_to_rating(self.client, evaluator, score=1)
        page = self.client.get(session_url(evaluator, "rate"))
        self.assertTemplateUsed(page, "annotations/methods/ab.html")
        self.assertContains(page, "Pair 1 of 11")
        rate_everything(self.client, evaluator, score=1)
        evaluator.refresh_from_db()
        self.assertIsNotNone(evaluator.finished_at)
        self.assertEqual(Rating.objects.filter(evaluator=evaluator, dimension="preference").count(), 11)
        self.assertEqual(
            Rating.objects.filter(evaluator=evaluator, trial__repeat_of__isnull=False).count(), 1
        )

    def test_a_returning_evaluator_keeps_the_session_and_its_repeats(self):
        test = ab_test(repeat_share=0.2)
        evaluator = evaluator_at_rating(test)
        before = list(evaluator.assignments.values_list("trial_id", "clip_order"))
        for _ in range(3):
            answer_pair(evaluator, 1)
        services.assign(evaluator=evaluator)
        self.assertEqual(list(evaluator.assignments.values_list("trial_id", "clip_order")), before)
        self.assertEqual(Trial.objects.filter(test=test, repeat_of__isnull=False).count(), 2)
        page = self.client.get(session_url(evaluator), follow=True)
        self.assertContains(page, "Pair 4 of 12")


class PreferencePageTests(TestCase):
    def page(self, **options):
        evaluator = evaluator_at_rating(ab_test(**options))
        return self.client.get(session_url(evaluator, "rate"))

    def test_the_page_offers_a_b_and_no_preference_with_keys(self):
        html = self.page().content.decode()
        self.assertIn('value="-1" data-key="A"', html)
        self.assertIn('value="0" data-key="N"', html)
        self.assertIn('value="1" data-key="B"', html)
        self.assertIn("No preference", html)
        self.assertIn("Which sample do you prefer?", html)
        self.assertIn("A, B or N (no preference) answer", html)
        self.assertIn('data-key="1"', html)
        self.assertIn('data-key="2"', html)

    def test_a_forced_choice_page_offers_a_and_b_only(self):
        html = self.page(allow_no_preference=False).content.decode()
        self.assertNotIn('name="score-preference" value="0"', html)
        self.assertNotIn("No preference", html)
        self.assertIn("A or B answers", html)

    def test_the_spanish_page_speaks_spanish(self):
        page = self.page(language="es")
        self.assertContains(page, "Sin preferencia")
        self.assertContains(page, "¿Qué muestra prefiere?")
        self.assertContains(page, "Par 1 de 11")


class PreferenceCreationTests(TestCase):
    def test_a_scale_other_than_minus_one_to_one_is_refused(self):
        samples = make_samples(sentences=TWELVE[:2], styles=("neutral",), systems=("sys-a", "sys-b"))
        for scale in ("acr-en", "ccr-en"):
            with (
                self.subTest(scale=scale),
                self.assertRaisesMessage(services.TestCreationError, "an A/B answer is -1 (A)"),
            ):
                build_test("ab-wrong", samples=samples, scale=scale, method="ab")
        self.assertFalse(ListeningTest.objects.exists())

    def test_one_system_in_one_style_makes_no_pairs(self):
        samples = make_samples(sentences=TWELVE[:2], styles=("neutral",))
        with self.assertRaisesMessage(services.TestCreationError, "No pairs for 2 of 2 sentence(s)"):
            build_test("ab-lonely", samples=samples, scale=None, method="ab")

    def test_practice_clips_must_make_a_pair(self):
        samples = make_samples(sentences=TWELVE[:3], styles=("neutral",), systems=("sys-a", "sys-b"))
        with self.assertRaisesMessage(services.TestCreationError, "The practice clips make no pair"):
            build_test("ab-practice", samples=samples[:4], training=[samples[4]], scale=None, method="ab")
        test = build_test("ab-practice", samples=samples[:4], training=samples[4:], scale=None, method="ab")
        evaluator = services.invite_evaluators(test=test, count=1)[0]
        practice = services.training_trials(evaluator=evaluator)
        self.assertEqual(
            [sorted(clip.sample_id for clip in trial) for trial in practice], [[samples[4].pk, samples[5].pk]]
        )
