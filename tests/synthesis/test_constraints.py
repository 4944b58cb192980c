import pytest
from django.db import IntegrityError, transaction
from django.test import TestCase

from synthesis.models import RunItem, Sentence, StylePreset, SynthesisRun
from tests.factories import make_config, make_sentence_set

# database constraints and the errors they raise: repeated on PostgreSQL + Redis
pytestmark = pytest.mark.backends


class SynthesisConstraintTests(TestCase):
    def test_the_neutral_and_warm_styles_exist_after_migration(self):
        names = set(StylePreset.objects.values_list("name", flat=True))
        self.assertTrue({"neutral", "warm"} <= names)
        self.assertNotEqual(
            StylePreset.objects.get(name="neutral").parameters(),
            StylePreset.objects.get(name="warm").parameters(),
        )

    def test_a_style_with_a_non_positive_length_scale_is_refused(self):
        with self.assertRaises(IntegrityError), transaction.atomic():
            StylePreset.objects.create(name="broken", length_scale=0)

    def test_an_empty_sentence_is_refused_by_the_database(self):
        sentence_set = make_sentence_set()
        with self.assertRaises(IntegrityError), transaction.atomic():
            Sentence.objects.create(sentence_set=sentence_set, position=9, text="")

    def test_a_run_cannot_hold_the_same_sentence_and_style_twice(self):
        sentence = make_sentence_set().sentences.first()
        run = SynthesisRun.objects.create(name="r", config=make_config())
        neutral = StylePreset.objects.get(name="neutral")
        RunItem.objects.create(run=run, sentence=sentence, style=neutral)
        with self.assertRaises(IntegrityError), transaction.atomic():
            RunItem.objects.create(run=run, sentence=sentence, style=neutral)

    def test_a_pipeline_needs_at_least_one_thread(self):
        with self.assertRaises(IntegrityError), transaction.atomic():
            make_config(stt_threads=0)
