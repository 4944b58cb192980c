"""CSV exports never hand a spreadsheet a formula: text cells that would run are quoted, numbers are not."""

import csv
import io

from django.test import TestCase, override_settings
from django.urls import reverse

from annotations.importing import import_samples
from annotations.results import tables
from annotations.results.imports import import_ratings
from tests.factories import (
    VAR_DIR,
    add_to_test,
    make_evaluator,
    make_researcher,
    make_sentence_set,
    make_test,
    rate,
    rated_cmos_test,
    tone_wav,
    zip_bytes,
)

HYPERLINK = '=HYPERLINK("http://x","y")'
MANIFEST = "file,system,sentence_set,sentence,origin\n@SUM(1),+cmd|calc,hostile,1,imported\n"


def rows_of(response) -> list[dict]:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.DictReader(io.StringIO(content.decode())))


@override_settings(VAR_DIR=VAR_DIR)
class FormulaCellsTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        make_sentence_set(name="hostile", texts=(HYPERLINK,))
        (sample,) = import_samples(source=zip_bytes({"manifest.csv": MANIFEST, "@SUM(1)": tone_wav()}))
        cls.test = make_test("hostile-test")
        add_to_test(cls.test, sample)
        rate(make_evaluator(cls.test), sample, 4)
        cls.researcher = make_researcher()

    def setUp(self):
        self.client.force_login(self.researcher)

    def test_the_ratings_csv_quotes_a_formula_in_a_sentence_a_sample_name_and_a_system_name(self):
        (row,) = rows_of(self.client.get(reverse("results:test_ratings_csv", args=[self.test.pk])))
        self.assertEqual(row["sentence"], "'" + HYPERLINK)
        self.assertEqual(row["sample"], "'@SUM(1)")
        self.assertEqual(row["system"], "'+cmd|calc")
        self.assertEqual(row["score"], "4")

    def test_an_exported_ratings_csv_imports_back_with_the_original_texts(self):
        content = b"".join(
            self.client.get(reverse("results:test_ratings_csv", args=[self.test.pk])).streaming_content
        )
        imported = import_ratings(
            name="hostile-again", lines=io.StringIO(content.decode()), scale=self.test.scale
        )
        clip = imported.test_samples.select_related("sample__sentence").get()
        self.assertEqual(clip.sample.sentence.text, HYPERLINK)
        self.assertEqual(clip.sample.system_label, "+cmd|calc")

    def test_the_summary_csv_quotes_the_system_name(self):
        response = self.client.get(reverse("results:test_summary_csv", args=[self.test.pk]))
        systems = {row["system"] for row in rows_of(response)}
        self.assertIn("'+cmd|calc", systems)
        self.assertNotIn("+cmd|calc", systems)


class NumbersStayNumbersTests(TestCase):
    def test_only_text_that_is_not_a_number_is_quoted(self):
        cells = [-2, -0.5, "-0.5", "-3", "=1+1", "@A1", "+x", "-x", "\tx", "\rx", "plain", None, 0]
        self.assertEqual(
            [tables.safe_cell(cell) for cell in cells],
            [-2, -0.5, "-0.5", "-3", "'=1+1", "'@A1", "'+x", "'-x", "'\tx", "'\rx", "plain", None, 0],
        )

    @override_settings(VAR_DIR=VAR_DIR)
    def test_negative_cmos_scores_and_means_reach_the_exports_as_numbers(self):
        test = rated_cmos_test()
        self.client.force_login(make_researcher())
        ratings = rows_of(self.client.get(reverse("results:test_ratings_csv", args=[test.pk])))
        summary = rows_of(self.client.get(reverse("results:test_summary_csv", args=[test.pk])))
        self.assertIn("-2", [row["answer"] for row in ratings])
        cells = [value for row in ratings + summary for value in row.values() if value]
        self.assertEqual([cell for cell in cells if cell.startswith("'")], [])
        negatives = [cell for cell in cells if cell.startswith("-")]
        self.assertTrue(any("." in cell for cell in negatives), negatives)
        for cell in negatives:
            float(cell)
