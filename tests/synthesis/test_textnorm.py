"""synthesis.engines.textnorm: the normalisation applied before WER (no database)."""

from unittest import TestCase

from synthesis.engines.textnorm import (
    DEFAULT_METHOD,
    METHODS,
    NORMALISATION_DESCRIPTIONS,
    default_method,
    normalize,
    utterance_errors,
)

REFERENCE = "Mr. Park visited Assoc. Prof. Kim Jr."
SPOKEN = "mister park visited associate professor kim junior"


class NormalizeTests(TestCase):
    def test_none_leaves_the_text_unchanged(self):
        self.assertEqual(normalize("  Dr. Who?  ", "none"), "  Dr. Who?  ")

    def test_basic_lowercases_and_strips_punctuation_but_keeps_accents_and_inner_apostrophes(self):
        self.assertEqual(
            normalize("¿Qué tal, Señor O’Brien? It's “fine”—really!", "basic", "es"),
            "qué tal señor o'brien it's fine really",
        )

    def test_basic_applies_unicode_compatibility_forms_and_collapses_whitespace(self):
        self.assertEqual(normalize("ＡＢＣ\t\n ﬁne  ", "basic"), "abc fine")

    def test_basic_drops_quoting_apostrophes_at_word_edges(self):
        self.assertEqual(
            normalize("'Rock 'n' roll', the students' song", "basic"), "rock n roll the students song"
        )

    def test_english_spells_out_titles_and_abbreviations(self):
        self.assertEqual(normalize(REFERENCE, "english"), SPOKEN)
        self.assertEqual(
            normalize("Dr. Smith met Mrs. Jones on St. Mark's day", "english"),
            ("doctor smith met missus jones on saint mark's day"),
        )

    def test_english_expands_contractions(self):
        self.assertEqual(
            normalize("I won't say we can't, isn't it? They're gonna go", "english"),
            "i will not say we can not is not it they are going to go",
        )

    def test_english_writes_spelled_out_numbers_as_digits(self):
        self.assertEqual(normalize("Twenty-five people", "english"), normalize("25 people", "english"))
        self.assertEqual(normalize("one hundred and five thousand two hundred twelve", "english"), "105212")
        self.assertEqual(normalize("a hundred and one", "english"), "101")
        self.assertEqual(normalize("1,000 votes", "english"), normalize("one thousand votes", "english"))

    def test_english_keeps_ill_formed_number_runs_apart(self):
        self.assertEqual(normalize("nineteen ninety five six", "english"), "19 95 6")

    def test_english_reads_decimals_percent_and_ampersand_as_spoken(self):
        self.assertEqual(normalize("3.5% R&D", "english"), "3 point 5 percent r and d")
        self.assertEqual(normalize("three point five percent", "english"), "3 point 5 percent")

    def test_english_drops_fillers_and_accents(self):
        self.assertEqual(normalize("Uh, the café is, um, naïve", "english"), "the cafe is naive")

    def test_english_falls_back_to_basic_for_other_languages(self):
        self.assertEqual(
            normalize("Dr. García tiene veinte años", "english", "es"), "dr garcía tiene veinte años"
        )

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

    def test_an_empty_reference_read_as_silence_has_no_error(self):
        result = utterance_errors("...", "", method="basic", language="en")
        self.assertEqual((result["wer"], result["cer"], result["ref_words"]), (0.0, 0.0, 0))

    def test_an_empty_reference_counts_each_inserted_word_as_one_error(self):
        result = utterance_errors("—", "hello there", method="basic", language="en")
        self.assertEqual((result["wer"], result["insertions"], result["ref_words"]), (2.0, 2, 0))
