"""synthesis.engines.textnorm: the normalisation applied before WER (no database)."""

from unittest import TestCase

from whisper_normalizer.basic import BasicTextNormalizer
from whisper_normalizer.english import EnglishTextNormalizer

from synthesis.engines.textnorm import (
    DEFAULT_METHOD,
    METHODS,
    NORMALISATION_DESCRIPTIONS,
    default_method,
    effective_method,
    normalize,
    utterance_errors,
)

REFERENCE = "Mr. Park visited Assoc. Prof. Kim Jr."
SPOKEN = "mister park visited associate professor kim junior"


# Texts that exercise each rule of the Whisper normalisers: titles, contractions, numbers,
# currencies, fillers, brackets, accents, British spellings and typographic punctuation.
TEXTS = (
    REFERENCE,
    "Dr. Smith met Mrs. Jones on St. Mark's day",
    "I won't say we can't, isn't it? They're gonna go",
    "Twenty-five people paid $20 million in 1990 (roughly)",
    "Uh, the café is, um, naïve [laughs]",
    "The colour of the theatre, 3.5% R&D",
    "¿Qué tal, Señor O’Brien? Tengo veinte años.",
    "ＡＢＣ\t\n ﬁne  ",
    "",
)


class NormalizeTests(TestCase):
    def test_none_leaves_the_text_unchanged(self):
        self.assertEqual(normalize("  Dr. Who?  ", "none"), "  Dr. Who?  ")

    def test_english_is_whisper_normalizers_english_text_normalizer(self):
        whisper = EnglishTextNormalizer()
        for text in TEXTS:
            with self.subTest(text=text):
                self.assertEqual(normalize(text, "english", "en-US"), whisper(text).strip())

    def test_basic_is_whisper_normalizers_basic_text_normalizer(self):
        whisper = BasicTextNormalizer()
        for text in TEXTS:
            with self.subTest(text=text):
                self.assertEqual(normalize(text, "basic", "es"), whisper(text).strip())

    def test_english_spells_out_titles_so_the_reference_vector_matches(self):
        self.assertEqual(normalize(REFERENCE, "english"), SPOKEN)
        self.assertEqual(normalize(REFERENCE, "basic"), "mr park visited assoc prof kim jr")

    def test_english_falls_back_to_basic_for_other_languages(self):
        text = "Dr. García tiene 20 años"
        self.assertEqual(normalize(text, "english", "es"), BasicTextNormalizer()(text).strip())
        self.assertEqual(effective_method("english", "es-MX"), "basic")
        self.assertEqual(effective_method("english", "en-GB"), "english")

    def test_an_unknown_method_is_refused(self):
        with self.assertRaises(ValueError):
            normalize("x", "whisper")

    def test_the_default_method_is_english_rules_for_english_only(self):
        self.assertEqual(DEFAULT_METHOD, "english")
        self.assertEqual(default_method("en-GB"), "english")
        self.assertEqual(default_method("es"), "basic")

    def test_every_method_has_a_description(self):
        self.assertEqual(set(NORMALISATION_DESCRIPTIONS), set(METHODS))


class UtteranceErrorsTests(TestCase):
    def test_normalisation_changes_the_wer_as_in_the_reference_vector(self):
        expected = {"none": 6 / 7, "basic": 4 / 7, "english": 0.0}
        for method, wer in expected.items():
            with self.subTest(method=method):
                result = utterance_errors(REFERENCE, SPOKEN, method=method, language="en")
                self.assertAlmostEqual(result["wer"], wer, places=4)
                self.assertEqual(result["ref_words"], 7)

    def test_it_counts_each_kind_of_edit(self):
        result = utterance_errors(
            "the cat sat down", "the bat sat on down here", method="basic", language="en"
        )
        counts = [result[k] for k in ("hits", "substitutions", "deletions", "insertions")]
        self.assertEqual(counts, [3, 1, 0, 2])
        self.assertAlmostEqual(result["wer"], 3 / 4)
        # Characters: c->b, then "on " and " here" inserted: 9 edits over 16 characters.
        self.assertAlmostEqual(result["cer"], 9 / 16)
        chars = [result[k] for k in ("char_hits", "char_substitutions", "char_deletions", "char_insertions")]
        self.assertEqual((chars, result["ref_chars"]), ([15, 1, 0, 8], 16))

    def test_an_empty_reference_read_as_silence_has_no_error(self):
        result = utterance_errors("...", "", method="basic", language="en")
        self.assertEqual((result["wer"], result["cer"], result["ref_words"]), (0.0, 0.0, 0))

    def test_an_empty_reference_counts_each_inserted_word_as_one_error(self):
        result = utterance_errors("—", "hello there", method="basic", language="en")
        self.assertEqual((result["wer"], result["insertions"], result["ref_words"]), (2.0, 2, 0))
