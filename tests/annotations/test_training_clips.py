"""Practice clips: which clips an evaluator practises on before rating."""

import random

from django.test import TestCase

from annotations import services
from annotations.models import TestSample as Clip
from tests.factories import build_test, make_evaluator, make_samples


def practice_of(test, count: int = 12) -> list[list[Clip]]:
    """The practice clips of count fresh evaluators of the test."""
    evaluators = [make_evaluator(test, f"R{number:03d}") for number in range(1, count + 1)]
    return [services.training_clips(evaluator=evaluator) for evaluator in evaluators]


class FallbackPracticeTests(TestCase):
    def test_the_two_practice_clips_say_different_sentences_for_every_evaluator(self):
        # Two sentences in two styles: a blind draw gives one sentence twice a third of the time.
        test = build_test(samples=make_samples(sentences=("One here.", "Two there.")), samples_per_session=1)
        for clips in practice_of(test):
            self.assertEqual(len(clips), 2)
            self.assertNotEqual(clips[0].sample.sentence_id, clips[1].sample.sentence_id)

    def test_they_come_from_different_systems_and_styles_when_the_test_has_several(self):
        samples = make_samples(sentences=("A one.", "B two.", "C three."), systems=("sys-a", "sys-b"))
        test = build_test(samples=samples, samples_per_session=1)
        for clips in practice_of(test):
            labels = [(clip.sample.system_label, clip.sample.style_label) for clip in clips]
            self.assertEqual(len({system for system, _ in labels}), 2, labels)
            self.assertEqual(len({style for _, style in labels}), 2, labels)

    def test_an_evaluator_sees_the_same_practice_clips_on_every_request(self):
        test = build_test(samples=make_samples(), samples_per_session=2)
        evaluator = make_evaluator(test)
        services.assign(evaluator=evaluator, rng=random.Random(3))
        first = services.training_clips(evaluator=evaluator)
        self.assertEqual(services.training_clips(evaluator=evaluator), first)
        self.assertFalse(
            {clip.pk for clip in first} & set(evaluator.assignments.values_list("trial__clips", flat=True))
        )


class ChosenPracticeTests(TestCase):
    def test_chosen_training_clips_are_spread_over_sentences_before_any_repeats(self):
        practice = make_samples(sentences=("Practice one.", "Practice two."), set_name="p")
        test = build_test(samples=make_samples(), training=practice)
        for clips in practice_of(test, count=6):
            self.assertEqual(len(clips), 3)
            self.assertNotEqual(clips[0].sample.sentence_id, clips[1].sample.sentence_id)
            self.assertEqual({clip.kind for clip in clips}, {Clip.Kind.TRAINING})
