"""The load_sentence_sets command: the shipped sets, reloading without duplicates, first-N subsets."""

from io import StringIO

from django.core.management import CommandError, call_command
from django.test import TestCase

from synthesis.models import Sentence, SentenceSet


def load(**options) -> str:
    out = StringIO()
    call_command("load_sentence_sets", stdout=out, **options)
    return out.getvalue()


def texts(name: str) -> list[str]:
    return list(SentenceSet.objects.get(name=name).sentences.values_list("text", flat=True))


class LoadSentenceSetsTests(TestCase):
    def test_it_creates_the_harvard_and_spanish_sets_with_their_languages(self):
        load()
        harvard = SentenceSet.objects.get(name="harvard-en")
        spanish = SentenceSet.objects.get(name="sentences-es")
        self.assertEqual(harvard.sentences.count(), 720)
        self.assertGreaterEqual(spanish.sentences.count(), 120)
        self.assertEqual(set(harvard.sentences.values_list("language", flat=True)), {"en"})
        self.assertEqual(set(spanish.sentences.values_list("language", flat=True)), {"es"})
        self.assertIn("IEEE", harvard.description)
        self.assertEqual(texts("harvard-en")[0], "The birch canoe slid on the smooth planks.")

    def test_comment_lines_of_the_files_never_become_sentences(self):
        load()
        self.assertFalse(Sentence.objects.filter(text__startswith="#").exists())

    def test_loading_twice_creates_nothing_new(self):
        load(limit=100)
        before = list(Sentence.objects.order_by("pk").values_list("sentence_set__name", "position", "text"))
        out = load(limit=100)
        after = list(Sentence.objects.order_by("pk").values_list("sentence_set__name", "position", "text"))
        self.assertEqual(after, before)
        self.assertEqual(SentenceSet.objects.count(), 4)
        self.assertIn("Sentence set harvard-en exists already.", out)

    def test_a_set_made_elsewhere_under_a_shipped_name_is_left_alone(self):
        SentenceSet.objects.create(name="harvard-en", description="mine")
        load()
        kept = SentenceSet.objects.get(name="harvard-en")
        self.assertEqual((kept.description, kept.sentences.count()), ("mine", 0))


class FirstSentencesSubsetTests(TestCase):
    def test_limit_100_makes_harvard_en_100_from_lists_1_to_10(self):
        load(limit=100)
        subset = texts("harvard-en-100")
        self.assertEqual(len(subset), 100)
        self.assertEqual(subset, texts("harvard-en")[:100])
        self.assertEqual(subset[0], "The birch canoe slid on the smooth planks.")
        self.assertEqual(subset[-1], "The bill was paid every third week.")  # list 10, sentence 10

    def test_the_subset_keeps_the_positions_of_the_full_set(self):
        load(limit=100)
        full = SentenceSet.objects.get(name="harvard-en").sentences.values_list("position", "text")
        subset = SentenceSet.objects.get(name="harvard-en-100").sentences.values_list("position", "text")
        self.assertEqual(list(subset), list(full[:100]))

    def test_the_subset_is_the_same_sentences_every_time_it_is_made(self):
        load(limit=100)
        first = texts("harvard-en-100")
        SentenceSet.objects.filter(name="harvard-en-100").delete()
        load(limit=100)
        self.assertEqual(texts("harvard-en-100"), first)

    def test_the_spanish_set_gets_a_subset_of_the_same_size(self):
        load(limit=100)
        self.assertEqual(texts("sentences-es-100"), texts("sentences-es")[:100])

    def test_a_limit_as_large_as_a_set_makes_no_subset_and_says_so(self):
        out = load(limit=720)
        self.assertFalse(SentenceSet.objects.filter(name__endswith="-720").exists())
        self.assertIn("harvard-en has only 720 sentences: no subset of 720.", out)

    def test_a_limit_below_one_is_refused(self):
        with self.assertRaisesMessage(CommandError, "--limit must be a positive number"):
            load(limit=0)
        self.assertFalse(SentenceSet.objects.exists())
