from io import StringIO
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from django.core.management import CommandError, call_command
from django.test import TestCase

from synthesis.importing import SentenceFileError
from synthesis.models import Sentence, SentenceSet
from synthesis.services import import_sentences

# an import saved whole in one transaction or not at all: repeated on PostgreSQL + Redis
pytestmark = pytest.mark.backends


class ImportSentencesTests(TestCase):
    def test_it_imports_one_sentence_per_line_with_the_default_language(self):
        sentence_set = import_sentences(
            name="plain", data="Hola.\nAdiós.\n".encode(), filename="s.txt", language="es"
        )
        rows = list(sentence_set.sentences.values_list("position", "text", "language"))
        self.assertEqual(rows, [(1, "Hola.", "es"), (2, "Adiós.", "es")])

    def test_it_reads_language_and_tags_from_csv_columns(self):
        data = 'text,language,tags\n"Yes, really.",en,question;short\n¿Sí?,es,\n'.encode()
        sentence_set = import_sentences(name="csv", data=data, filename="s.csv")
        first, second = sentence_set.sentences.all()
        self.assertEqual(
            (first.text, first.language, first.tags), ("Yes, really.", "en", ["question", "short"])
        )
        self.assertEqual((second.text, second.language, second.tags), ("¿Sí?", "es", []))

    def test_it_accepts_a_utf8_byte_order_mark(self):
        sentence_set = import_sentences(name="bom", data=b"\xef\xbb\xbfHello.\n", filename="s.txt")
        self.assertEqual(sentence_set.sentences.get().text, "Hello.")

    def test_a_wrong_encoding_names_the_line_and_saves_nothing(self):
        data = b"First line.\nSecond line.\n" + "Canción número tres.\n".encode("latin-1")
        with self.assertRaisesMessage(SentenceFileError, "Line 3 is not valid UTF-8"):
            import_sentences(name="latin", data=data, filename="s.txt")
        self.assertFalse(SentenceSet.objects.filter(name="latin").exists())
        self.assertEqual(Sentence.objects.count(), 0)

    def test_an_empty_line_is_named_in_the_error(self):
        with self.assertRaisesMessage(SentenceFileError, "Line 2 is empty"):
            import_sentences(name="gap", data=b"One.\n   \nThree.\n", filename="s.txt")
        self.assertFalse(SentenceSet.objects.exists())

    def test_an_empty_csv_text_field_is_named_with_its_file_line(self):
        data = b"text,language\nFine.,en\n,en\n"
        with self.assertRaisesMessage(SentenceFileError, "Line 3 has an empty 'text' field"):
            import_sentences(name="csv-gap", data=data, filename="s.csv")

    def test_a_csv_without_a_text_column_is_refused(self):
        with self.assertRaisesMessage(SentenceFileError, "Line 1: the CSV header must have a 'text' column"):
            import_sentences(name="nohead", data=b"sentence\nHello\n", filename="s.csv")

    def test_a_file_without_sentences_is_refused(self):
        with self.assertRaisesMessage(SentenceFileError, "no sentences"):
            import_sentences(name="empty", data=b"", filename="s.txt")


class ImportSentencesCommandTests(TestCase):
    def test_the_command_reports_the_bad_line_as_a_command_error(self):
        with TemporaryDirectory() as folder:
            path = Path(folder) / "bad.txt"
            path.write_bytes(b"Fine.\n\xff\xfe broken\n")
            with self.assertRaisesMessage(CommandError, "Line 2 is not valid UTF-8"):
                call_command("import_sentences", str(path), name="bad")

    def test_the_command_imports_a_csv_file(self):
        with TemporaryDirectory() as folder:
            path = Path(folder) / "good.csv"
            path.write_text("text,language\nBuenos días.,es\n", encoding="utf-8")
            out = StringIO()
            call_command("import_sentences", str(path), name="good", stdout=out)
        self.assertIn("Imported 1 sentence into good.", out.getvalue())
        self.assertEqual(Sentence.objects.get().language, "es")

    def test_the_command_counts_one_sentence_in_the_singular_and_more_in_the_plural(self):
        with TemporaryDirectory() as folder:
            for name, text in (("one", "Hello.\n"), ("two", "Hello.\nGoodbye.\n")):
                path = Path(folder) / f"{name}.txt"
                path.write_text(text, encoding="utf-8")
                out = StringIO()
                call_command("import_sentences", str(path), name=name, stdout=out)
                expected = (
                    "Imported 1 sentence into one." if name == "one" else "Imported 2 sentences into two."
                )
                self.assertEqual(out.getvalue().strip(), expected)


class ImportSentencesValidationTests(TestCase):
    def test_an_unquoted_comma_is_reported_with_its_line(self):
        data = b"text,language\nFine.,en\nOh, no.,en\n"
        with self.assertRaisesMessage(SentenceFileError, "Line 3 has more fields than the header"):
            import_sentences(name="commas", data=data, filename="s.csv")

    def test_a_malformed_language_code_is_reported_with_its_line(self):
        data = b"text,language\nFine.,en\nBien.,spanish please\n"
        with self.assertRaisesMessage(SentenceFileError, "Line 3: 'spanish please' is not a language code"):
            import_sentences(name="lang", data=data, filename="s.csv")


class ImportSentencesLineEndingTests(TestCase):
    def test_blank_lines_at_the_end_of_the_file_are_ignored(self):
        sentence_set = import_sentences(name="tail", data=b"One.\r\nTwo.\r\n\r\n\n", filename="s.txt")
        self.assertEqual(list(sentence_set.sentences.values_list("text", flat=True)), ["One.", "Two."])

    def test_a_unicode_line_separator_inside_a_sentence_does_not_split_it(self):
        sentence_set = import_sentences(name="ls", data="Hello\u2028world.\n".encode(), filename="s.txt")
        self.assertEqual(sentence_set.sentences.count(), 1)

    def test_a_language_code_longer_than_the_field_is_refused(self):
        with self.assertRaisesMessage(
            SentenceFileError, "Line 2: 'en-abcdefgh-abcdefgh' is not a language code"
        ):
            import_sentences(name="long", data=b"text,language\nHi.,en-abcdefgh-abcdefgh\n", filename="s.csv")
