"""Comment lines in plain-text sentence files: skipped, while errors still name the file line."""

from django.test import TestCase

from synthesis.importing import SentenceFileError
from synthesis.services import import_sentences


class SentenceFileCommentTests(TestCase):
    def test_lines_starting_with_a_hash_are_skipped_and_positions_stay_file_lines(self):
        data = b"# Source: written for the test.\n# List 1\nFirst.\n  # indented note\nSecond.\n"
        sentence_set = import_sentences(name="commented", data=data, filename="s.txt")
        rows = list(sentence_set.sentences.values_list("position", "text"))
        self.assertEqual(rows, [(3, "First."), (5, "Second.")])

    def test_a_hash_inside_a_sentence_is_kept(self):
        sentence_set = import_sentences(name="inner", data=b"Press # to repeat.\n", filename="s.txt")
        self.assertEqual(sentence_set.sentences.get().text, "Press # to repeat.")

    def test_an_error_after_comments_names_the_file_line(self):
        with self.assertRaisesMessage(SentenceFileError, "Line 3 is empty"):
            import_sentences(name="gap", data=b"# header\nOne.\n\nTwo.\n", filename="s.txt")

    def test_a_file_of_only_comments_holds_no_sentences(self):
        with self.assertRaisesMessage(SentenceFileError, "no sentences"):
            import_sentences(name="empty", data=b"# nothing here\n", filename="s.txt")
