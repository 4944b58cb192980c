"""CMOS (CCR, ITU-T P.800 Annex E): one sentence in two conditions per pair, -3..+3 on the second clip."""

import random
from collections import Counter
from itertools import combinations

from django.conf import settings
from django.test import TestCase, override_settings
from django.urls import reverse

from annotations import methods, pairs, services
from annotations.models import ListeningTest, Rating, Scale
from synthesis.engines import audio
from tests.annotations.helpers import (
    answer_pair,
    hear_all,
    rate_everything,
    session_url,
    take_screen,
    walk_to_rating,
)
from tests.factories import build_test, evaluator_at_rating, make_samples

FOUR_SENTENCES = ("One here.", "Two there.", "Three again.", "Four at last.")
CONDITIONS = [("sys-a", "neutral"), ("sys-a", "warm"), ("sys-b", "neutral"), ("sys-b", "warm")]


def cmos_test(name: str = "cmos-test", sentences=FOUR_SENTENCES, **options) -> ListeningTest:
    """Two systems in two styles: four conditions, six pairs per sentence."""
    samples = make_samples(sentences=sentences, systems=("sys-a", "sys-b"), set_name=f"set-{name}")
    options.setdefault("samples_per_session", 24)
    return build_test(name, samples=samples, scale=None, method="cmos", **options)


def conditions_of(trial) -> list[tuple[str, tuple[str, str]]]:
    return [(clip.role, pairs.condition(clip.test_sample.sample)) for clip in trial.trial_clips.all()]


class PairTrialTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = cmos_test(ratings_per_sample=99)

    def test_every_pair_of_conditions_on_a_sentence_is_one_trial_with_x_sorting_first(self):
        trials = list(self.test.trials.prefetch_related("trial_clips__test_sample__sample"))
        self.assertEqual(len(trials), 4 * 6)
        per_sentence = Counter()
        for trial in trials:
            (x_role, x), (y_role, y) = conditions_of(trial)
            self.assertEqual((x_role, y_role), ("X", "Y"))
            self.assertLess(x, y)
            sentences = {clip.test_sample.sample.sentence_key for clip in trial.trial_clips.all()}
            self.assertEqual(len(sentences), 1)
            per_sentence[(sentences.pop(), x, y)] += 1
        expected = {(x, y) for x, y in combinations(CONDITIONS, 2)}
        for sentence in {key[0] for key in per_sentence}:
            self.assertEqual({(x, y) for s, x, y in per_sentence if s == sentence}, expected)
        self.assertEqual(set(per_sentence.values()), {1})

    def test_the_test_asks_one_question_on_the_ccr_scale_of_its_language(self):
        self.assertEqual(
            (self.test.method, self.test.dimensions, self.test.scale.name), ("cmos", ["cmos"], "ccr-en")
        )
        spanish = cmos_test("cmos-es", language="es")
        self.assertEqual(spanish.scale.name, "ccr-es")
        self.assertEqual(
            Scale.objects.get(name="ccr-en").choices(),
            [
                (-3, "Much worse"),
                (-2, "Worse"),
                (-1, "Slightly worse"),
                (0, "About the same"),
                (1, "Slightly better"),
                (2, "Better"),
                (3, "Much better"),
            ],
        )
        self.assertEqual(spanish.scale.labels[3], "Más o menos igual")

    def test_each_evaluator_hears_each_pair_of_conditions_x_first_as_often_as_y_first(self):
        for seed in range(5):
            evaluator = evaluator_at_rating(self.test, rng=random.Random(seed))
            x_first = Counter()
            for assignment in evaluator.assignments.all():
                first, second = assignment.presented_clips()
                key = tuple(
                    sorted(
                        [
                            pairs.condition(first.test_sample.sample),
                            pairs.condition(second.test_sample.sample),
                        ]
                    )
                )
                x_first[key] += 1 if first.role == "X" else -1
                self.assertEqual({first.role, second.role}, {"X", "Y"})
            # Four trials of each pair of conditions per session: two each way.
            self.assertEqual(set(x_first.values()), {0}, seed)
            self.assertEqual(len(x_first), 6)

    def test_of_an_odd_count_the_extra_pair_goes_either_way(self):
        test = cmos_test("odd", sentences=FOUR_SENTENCES[:3], samples_per_session=18, ratings_per_sample=99)
        seen = set()
        for seed in range(12):
            evaluator = evaluator_at_rating(test, rng=random.Random(seed))
            x_first = Counter()
            for assignment in evaluator.assignments.all():
                first, second = assignment.presented_clips()
                key = frozenset(
                    [pairs.condition(first.test_sample.sample), pairs.condition(second.test_sample.sample)]
                )
                x_first[key] += first.role == "X"
            # Three trials of each pair of conditions: one way once, the other twice.
            self.assertLessEqual(set(x_first.values()), {1, 2})
            seen |= set(x_first.values())
        self.assertEqual(seen, {1, 2})


@override_settings(SARAI_LISTEN_TOLERANCE_S=0.05)
class CmosAnswerTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = cmos_test(samples_per_session=4)
        cls.evaluator = evaluator_at_rating(cls.test, rng=random.Random(1))
        cls.assignment = services.current_clip(evaluator=cls.evaluator)[0]
        cls.first, cls.second = [clip.test_sample for clip in cls.assignment.presented_clips()]

    def submit(self, score: int = 2):
        return services.submit_rating(
            evaluator=self.evaluator,
            sample_token=self.first.token,
            scores={"cmos": score},
            played_to_end=True,
            play_count=1,
            time_to_answer_ms=800,
        )

    def test_an_answer_is_refused_until_both_clips_were_fetched_whole(self):
        hear_all(self.evaluator, [self.first], seconds=5)
        with self.assertRaisesMessage(services.RatingRefused, "not_fetched"):
            self.submit()
        self.assertFalse(Rating.objects.exists())

    def test_an_answer_is_refused_before_both_durations_have_passed(self):
        # 0.5 s clips: the longer of the two has passed, their sum has not.
        hear_all(self.evaluator, [self.first, self.second], seconds=0.7)
        with self.assertRaisesMessage(services.RatingRefused, "too_soon"):
            self.submit()
        self.assertEqual(methods.get_method("cmos").listening_time([0.5, 0.5]), 1.0)
        self.assertFalse(Rating.objects.exists())

    def test_the_judgement_is_stored_once_on_the_clip_heard_second(self):
        hear_all(self.evaluator, [self.first, self.second])
        [rating] = self.submit(-2)
        self.assertEqual((rating.test_sample, rating.dimension, rating.score), (self.second, "cmos", -2))
        self.assertEqual(rating.trial_id, self.assignment.trial_id)
        self.assertEqual(self.submit(3), [rating])  # a resend changes nothing
        [row] = pairs.pair_judgements(self.test)
        second_role = self.assignment.presented_clips()[1].role
        self.assertEqual(row["first"], "Y" if second_role == "X" else "X")
        self.assertEqual((row["score"], row["corrected"]), (-2, -2 if second_role == "Y" else 2))

    def test_a_score_off_the_seven_points_is_refused(self):
        hear_all(self.evaluator, [self.first, self.second])
        with self.assertRaisesMessage(services.RatingRefused, "4 is not on the scale ccr-en (-3 to 3)"):
            self.submit(4)


class SharedClipTests(TestCase):
    def test_a_clip_in_several_pairs_is_told_apart_by_the_clips_shown_with_it(self):
        # One sentence in four conditions: every clip is in three of the six pairs.
        test = cmos_test(sentences=FOUR_SENTENCES[:1], samples_per_session=6)
        evaluator = evaluator_at_rating(test)
        shown = []
        while (assignment := services.current_clip(evaluator=evaluator)[0]) is not None:
            shown.append([clip.test_sample.token for clip in assignment.presented_clips()])
            [rating] = answer_pair(evaluator, 1)
            self.assertEqual(rating.trial_id, assignment.trial_id)
        self.assertEqual(Rating.objects.count(), 6)
        again = services.submit_rating(
            evaluator=evaluator,
            sample_token=shown[0][0],
            clip_tokens=shown[0],
            scores={"cmos": -3},
            played_to_end=True,
            play_count=1,
            time_to_answer_ms=500,
        )
        self.assertEqual(
            [(r.trial_id, r.score) for r in again], [(evaluator.assignments.get(position=0).trial_id, 1)]
        )
        with self.assertRaisesMessage(services.RatingRefused, "not_assigned"):
            services.submit_rating(
                evaluator=evaluator,
                sample_token=shown[0][1],
                clip_tokens=shown[0][::-1],
                scores={"cmos": 1},
                played_to_end=True,
                play_count=1,
                time_to_answer_ms=500,
            )


class CmosJudgementTests(TestCase):
    def test_judgements_read_back_as_y_relative_to_x_and_the_summary_averages_them_per_pair(self):
        test = cmos_test(samples_per_session=24, ratings_per_sample=1)
        evaluator = evaluator_at_rating(test, rng=random.Random(4))
        # The rater always finds sys-b better by 2 than sys-a, whatever the order and style.
        while (assignment := services.current_clip(evaluator=evaluator)[0]) is not None:
            first, second = [clip.test_sample.sample for clip in assignment.presented_clips()]
            score = {("sys-a", "sys-b"): 2, ("sys-b", "sys-a"): -2}.get(
                (first.system_label, second.system_label), 0
            )
            answer_pair(evaluator, score)
        rows = pairs.pair_judgements(test)
        self.assertEqual(len(rows), 24)
        self.assertEqual(Counter(row["first"] for row in rows), Counter({"X": 12, "Y": 12}))
        for row in rows:
            self.assertEqual(row["corrected"], 2 if row["x"][0] != row["y"][0] else 0)
            self.assertEqual(row["score"], row["corrected"] if row["first"] == "X" else -row["corrected"])
            self.assertEqual(
                (row["rater"], row["repeat_of"], row["original_trial"]), ("R001", None, row["trial"])
            )
            self.assertIsNotNone(row["received_at"])
        summary = methods.get_method("cmos").analyse(test)
        means = {
            (p["x"]["system"], p["x"]["style"], p["y"]["system"], p["y"]["style"]): (p["n"], p["cmos"])
            for p in summary["pairs"]
        }
        self.assertEqual(means[("sys-a", "neutral", "sys-b", "warm")], (4, 2.0))
        self.assertEqual(means[("sys-a", "neutral", "sys-a", "warm")], (4, 0.0))
        self.assertEqual(len(means), 6)


class CmosSessionTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = cmos_test(samples_per_session=6, ratings_per_sample=1, allow_open_link=True)

    def test_a_whole_session_runs_on_the_pair_page_from_the_open_link_to_the_completion_code(self):
        url = reverse("annotations:open_link", args=[self.test.open_token]) + "?PROLIFIC_PID=p1"
        self.client.get(url, follow=True)
        evaluator = self.test.evaluators.get()
        walk_to_rating(self.client, evaluator, score=1)
        page = self.client.get(session_url(evaluator, "rate"))
        self.assertTemplateUsed(page, "annotations/methods/cmos.html")
        self.assertContains(page, "Pair 1 of 6")
        rate_everything(self.client, evaluator, score=1)
        evaluator.refresh_from_db()
        self.assertIsNotNone(evaluator.finished_at)
        self.assertEqual(Rating.objects.filter(evaluator=evaluator, dimension="cmos").count(), 6)
        finish = self.client.get(session_url(evaluator), follow=True)
        self.assertContains(finish, self.test.completion_code)

    def test_practice_pairs_come_first_on_the_same_page_and_are_not_stored(self):
        evaluator = services.invite_evaluators(test=self.test, count=1)[0]
        self.client.post(session_url(evaluator, "consent"), {"agree": "1"})
        evaluator.refresh_from_db()
        take_screen(self.client, evaluator)
        page = self.client.get(session_url(evaluator), follow=True)
        self.assertTemplateUsed(page, "annotations/methods/cmos.html")
        self.assertContains(page, "Practice pair 1 of 2")
        practice = services.training_trials(evaluator=evaluator)
        self.assertEqual([len(trial) for trial in practice], [2, 2])
        for trial in practice:
            self.assertEqual(len({clip.sample.sentence_key for clip in trial}), 1)
            self.assertEqual(len({pairs.condition(clip.sample) for clip in trial}), 2)
        walk_to_rating(self.client, evaluator, score=1)
        evaluator.refresh_from_db()
        self.assertEqual((evaluator.step, evaluator.training_done), ("rate", 2))
        self.assertFalse(Rating.objects.exists())

    def test_a_returning_evaluator_resumes_at_the_next_pair_in_the_same_order(self):
        evaluator = evaluator_at_rating(self.test)
        order = list(evaluator.assignments.values_list("trial_id", "clip_order"))
        for _ in range(2):
            answer_pair(evaluator, 0)
        other_browser = self.client_class()
        page = other_browser.get(session_url(evaluator), follow=True)
        self.assertContains(page, "Pair 3 of 6")
        third = evaluator.assignments.get(position=2)
        tokens = [clip["token"] for clip in page.context["clips"]]
        self.assertEqual(tokens, [clip.test_sample.token for clip in third.presented_clips()])
        services.assign(evaluator=evaluator)
        self.assertEqual(list(evaluator.assignments.values_list("trial_id", "clip_order")), order)


class CmosPageTests(TestCase):
    def page(self, **options):
        test = cmos_test(samples_per_session=2, **options)
        evaluator = evaluator_at_rating(test)
        return self.client.get(session_url(evaluator, "rate"))

    def test_the_page_has_players_a_and_b_and_seven_answers_with_keys_one_to_seven(self):
        page = self.page()
        html = page.content.decode()
        self.assertEqual(html.count("<audio"), 2)
        self.assertInHTML('<span class="pair-label" aria-hidden="true">A</span>', html)
        self.assertInHTML('<span class="pair-label" aria-hidden="true">B</span>', html)
        self.assertIn('data-key="A"', html)
        self.assertIn('data-key="B"', html)
        for key, (value, label) in enumerate(Scale.objects.get(name="ccr-en").choices(), start=1):
            self.assertIn(f'value="{value}" data-key="{key}"', html)
            self.assertIn(label, html)
        self.assertContains(page, "Compared with the first sample, the second is:")
        self.assertContains(page, "1 to 7 answer")
        self.assertContains(page, "/static/js/pair.js")

    def test_both_clips_play_from_their_loudness_matched_copies(self):
        page = self.page()
        for clip in page.context["clips"]:
            data, rate = audio.read_audio(self.client.get(clip["audio_url"]).getvalue())
            self.assertAlmostEqual(
                audio.integrated_loudness(data, rate), settings.SARAI_TARGET_LUFS, delta=0.3
            )

    def test_the_spanish_page_speaks_spanish(self):
        page = self.page(language="es")
        self.assertContains(page, "Par 1 de 2")
        self.assertContains(page, "Reproducir A")
        self.assertContains(page, "Mucho mejor")
        self.assertContains(page, "En comparación con la primera muestra, la segunda es:")
        self.assertNotContains(page, "Play A")


class CmosCreationTests(TestCase):
    def test_sentences_in_one_condition_make_no_pairs_and_are_named(self):
        samples = make_samples(sentences=("Lonely words.",), styles=("neutral",))
        with self.assertRaisesMessage(
            services.TestCreationError, "No pairs for 1 of 1 sentence(s), e.g. “Lonely words.”"
        ):
            build_test("lonely", samples=samples, scale=None, method="cmos")
        self.assertFalse(ListeningTest.objects.exists())

    def test_two_clips_of_one_condition_on_a_sentence_are_refused(self):
        samples = make_samples(sentences=("Twice said.",), set_name="a") + make_samples(
            sentences=("Twice said.",), set_name="b"
        )
        samples[2].sentence = samples[0].sentence
        samples[2].save()
        with self.assertRaisesMessage(services.TestCreationError, "more than one clip of the same condition"):
            build_test("twice", samples=samples, scale=None, method="cmos")

    def test_a_scale_that_does_not_fit_is_refused(self):
        samples = make_samples()
        for scale in ("acr-en", "ab-en"):
            with (
                self.subTest(scale=scale),
                self.assertRaisesMessage(services.TestCreationError, f"The scale {scale} runs from"),
            ):
                build_test("wrong-scale", samples=samples, scale=scale, method="cmos")

    def test_gold_and_trapping_clips_and_other_dimensions_are_refused(self):
        samples = make_samples()
        with self.assertRaisesMessage(services.TestCreationError, "take no gold or trapping clips"):
            build_test("gold", samples=samples[:4], scale=None, method="cmos", gold={samples[5]: 3})
        with self.assertRaisesMessage(services.TestCreationError, "ask one question (cmos)"):
            build_test("dims", samples=samples, scale=None, method="cmos", dimensions=["clarity"])
        self.assertFalse(ListeningTest.objects.exists())
