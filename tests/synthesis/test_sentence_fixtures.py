"""The shipped sentence files: the 720 Harvard sentences in their lists and the Spanish sentences."""

import re

from django.test import SimpleTestCase

from synthesis.importing import parse_sentence_file
from synthesis.management.commands.load_sentence_sets import FIXTURES

HARVARD = FIXTURES / "harvard_sentences.txt"
SPANISH = FIXTURES / "spanish_sentences.txt"


def parse(path, language):
    return parse_sentence_file(path.read_bytes(), filename=path.name, default_language=language)


def harvard_lists() -> dict[int, list[str]]:
    """Sentences under each '# List N' heading of the Harvard file."""
    lists: dict[int, list[str]] = {}
    current = None
    for line in HARVARD.read_text(encoding="utf-8").splitlines():
        heading = re.fullmatch(r"# List (\d+)", line)
        if heading:
            current = int(heading.group(1))
            lists[current] = []
        elif not line.startswith("#"):
            lists[current].append(line)
    return lists


class HarvardSentencesFileTests(SimpleTestCase):
    def test_the_file_parses_to_exactly_720_english_sentences(self):
        sentences = parse(HARVARD, "en")
        self.assertEqual(len(sentences), 720)
        self.assertEqual({s.language for s in sentences}, {"en"})

    def test_no_sentence_appears_twice(self):
        texts = [s.text.casefold() for s in parse(HARVARD, "en")]
        self.assertEqual(len(set(texts)), len(texts))

    def test_there_are_72_lists_in_order_of_10_sentences_each(self):
        lists = harvard_lists()
        self.assertEqual(list(lists), list(range(1, 73)))
        self.assertEqual({len(sentences) for sentences in lists.values()}, {10})

    def test_the_header_names_the_ieee_source(self):
        header = HARVARD.read_text(encoding="utf-8").split("# List 1")[0]
        self.assertIn("IEEE Recommended Practice for Speech Quality Measurements", header)
        self.assertIn("1969", header)

    def test_known_sentences_have_their_exact_text_and_place(self):
        lists = harvard_lists()
        known = {
            (1, 1): "The birch canoe slid on the smooth planks.",
            (1, 10): "A large size in stockings is hard to sell.",
            (2, 1): "The boy was there when the sun rose.",
            (3, 9): "It snowed, rained, and hailed the same morning.",
            (11, 1): "Oak is strong and also gives shade.",
            (39, 10): "The sun came up to light the eastern sky.",
            (72, 10): "When you hear the bell, come quickly.",
        }
        for (number, index), text in known.items():
            with self.subTest(list=number, sentence=index):
                self.assertEqual(lists[number][index - 1], text)

    def test_every_sentence_is_one_clean_line_ending_in_a_full_stop(self):
        for sentence in parse(HARVARD, "en"):
            with self.subTest(line=sentence.line):
                self.assertRegex(sentence.text, r"^[A-Z][A-Za-z ,'-]+\.$")
                self.assertNotIn("  ", sentence.text)


class SpanishSentencesFileTests(SimpleTestCase):
    def test_the_file_is_utf8_and_parses_to_at_least_120_spanish_sentences(self):
        SPANISH.read_bytes().decode("utf-8")  # raises on anything that is not UTF-8
        sentences = parse(SPANISH, "es")
        self.assertGreaterEqual(len(sentences), 120)
        self.assertEqual({s.language for s in sentences}, {"es"})

    def test_no_sentence_appears_twice(self):
        texts = [s.text.casefold() for s in parse(SPANISH, "es")]
        self.assertEqual(len(set(texts)), len(texts))

    def test_every_sentence_has_6_to_14_words_and_paired_spanish_punctuation(self):
        for sentence in parse(SPANISH, "es"):
            with self.subTest(line=sentence.line):
                words = re.findall(r"\w+", sentence.text)
                self.assertGreaterEqual(len(words), 6)
                self.assertLessEqual(len(words), 14)
                self.assertEqual(sentence.text.startswith("¿"), sentence.text.endswith("?"))
                self.assertEqual(sentence.text.startswith("¡"), sentence.text.endswith("!"))
                self.assertIn(sentence.text[-1], ".?!")

    def test_the_sentences_mix_statements_questions_and_exclamations(self):
        texts = [s.text for s in parse(SPANISH, "es")]
        self.assertGreaterEqual(sum(t.endswith("?") for t in texts), 5)
        self.assertGreaterEqual(sum(t.endswith("!") for t in texts), 5)
        self.assertGreater(sum(t.endswith(".") for t in texts), len(texts) // 2)

    def test_the_sentences_cover_the_spanish_sounds_a_voice_must_get_right(self):
        text = " ".join(s.text.casefold() for s in parse(SPANISH, "es"))
        for spelling in ("ñ", "rr", "ll", "y ", "j", "ge", "gi", "ch", "z", "ce", "ci", "gü", "x"):
            with self.subTest(spelling=spelling):
                self.assertIn(spelling, text)
        for accented in "áéíóú":
            with self.subTest(letter=accented):
                self.assertIn(accented, text)
