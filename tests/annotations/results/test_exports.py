"""Exports: the tidy ratings CSV (streamed), its import, summaries, measurements and the HTML report."""

import csv
import io
import json
import re

from django.http import StreamingHttpResponse
from django.test import TestCase, override_settings
from django.urls import reverse

from annotations.models import ListeningTest, Rating, Scale
from annotations.results import exports, services, tables
from annotations.results.imports import RatingImportError, import_ratings
from annotations.results.services import Thresholds
from synthesis.models import Sample
from tests.factories import SCORES, VAR_DIR, add_special, build_design, give, make_researcher, rate_all


def read_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def export_text(test: ListeningTest, thresholds: Thresholds | None = None) -> str:
    out = io.StringIO(newline="")
    exports.write_ratings(test, thresholds or Thresholds(), out)
    return out.getvalue()


def delete_test(test: ListeningTest) -> None:
    Rating.objects.filter(evaluator__test=test).delete()
    test.delete()


@override_settings(VAR_DIR=VAR_DIR)
class RatingsCsvTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test, cls.clips = build_design(systems=("sys-a", "sys-b"), dimensions=("overall", "clarity"))
        scores = {name: values * 2 for name, values in SCORES.items()}
        rate_all(cls.test, cls.clips, scores)
        rate_all(
            cls.test,
            cls.clips,
            {name: [max(v - 1, 1) for v in values] for name, values in scores.items()},
            "clarity",
        )
        gold, trap = add_special(cls.test, "gold", 5), add_special(cls.test, "trap", 2)
        for evaluator in cls.test.evaluators.all():
            give(evaluator, gold, 5, time_to_answer_ms=1200), give(evaluator, trap, 2, play_count=2)
        cls.researcher = make_researcher()

    def setUp(self):
        self.client.force_login(self.researcher)

    def test_the_download_streams_one_row_per_rating_with_the_screening_flags_of_its_rater(self):
        response = self.client.get(reverse("results:test_ratings_csv", args=[self.test.pk]))
        self.assertIsInstance(response, StreamingHttpResponse)
        self.assertIn('attachment; filename="design-ratings.csv"', response["Content-Disposition"])
        rows = read_csv(b"".join(response.streaming_content).decode())
        self.assertEqual(len(rows), Rating.objects.filter(evaluator__test=self.test).count())
        self.assertEqual(list(rows[0]), list(tables.RATING_COLUMNS))
        flags = {row["evaluator"]: row["screening_flags"] for row in rows}
        self.assertEqual(flags, {"R1": "", "R2": "", "R3": "straight_lining"})
        gold = next(row for row in rows if row["clip_kind"] == "gold")
        self.assertEqual(
            (gold["clip_target_score"], gold["time_to_answer_ms"], gold["system"]), ("5", "1200", "reference")
        )
        first = rows[0]
        self.assertEqual(
            (first["test"], first["dimension"], first["played_to_end"]), ("design", "overall", "true")
        )
        self.assertRegex(first["sample"], r"^sample-\d+$")
        self.assertEqual(first["sentence"], "Sentence 0.")

    def test_rows_come_from_a_generator_that_reads_the_database_in_chunks(self):
        rows = tables.rating_rows(self.test, services.current_screening(self.test))
        self.assertIs(iter(rows), rows)  # lazy: nothing is held beyond the current chunk
        self.assertEqual(next(rows)[0], "design")

    def test_export_import_export_gives_identical_rows(self):
        first = export_text(self.test)
        delete_test(self.test)
        import_ratings(name="design", lines=io.StringIO(first), scale=Scale.objects.get(name="acr-en"))
        self.assertEqual(export_text(ListeningTest.objects.get(name="design")), first)

    def test_an_import_under_another_name_differs_only_in_the_test_column(self):
        first = export_text(self.test)
        copy = import_ratings(name="copy", lines=io.StringIO(first), scale=Scale.objects.get(name="acr-en"))
        again = read_csv(export_text(copy))
        self.assertEqual([{**row, "test": "design"} for row in again], read_csv(first))
        self.assertEqual(copy.state, ListeningTest.State.CLOSED)
        self.assertEqual(copy.rated_dimensions, ["overall", "clarity"])
        self.assertEqual(copy.test_samples.filter(kind="gold").get().expected_score, 5)

    def test_imported_ratings_are_screened_and_summarised_like_native_ones(self):
        copy = import_ratings(
            name="copy", lines=io.StringIO(export_text(self.test)), scale=Scale.objects.get(name="acr-en")
        )
        native, imported = services.test_results(self.test), services.test_results(copy)
        self.assertEqual(
            [r["pseudonym"] for r in imported["excluded"]], [r["pseudonym"] for r in native["excluded"]]
        )
        for a, b in zip(native["conditions"], imported["conditions"], strict=True):
            self.assertEqual(
                (a["system"], a["style"], a["dimension"]), (b["system"], b["style"], b["dimension"])
            )
            self.assertAlmostEqual(a["after"]["crowdmos"]["ci95"], b["after"]["crowdmos"]["ci95"])
        self.assertEqual(len(imported["comparisons"]), len(native["comparisons"]))

    def test_a_bad_line_is_named_and_nothing_is_saved(self):
        rows = read_csv(export_text(self.test))
        rows[1]["score"] = "7"
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=tables.RATING_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        samples_before = Sample.objects.count()
        with self.assertRaisesMessage(RatingImportError, "Line 3: 7 is not on the scale acr-en (1 to 5)"):
            import_ratings(
                name="broken", lines=io.StringIO(out.getvalue()), scale=Scale.objects.get(name="acr-en")
            )
        self.assertFalse(ListeningTest.objects.filter(name="broken").exists())
        self.assertEqual(Sample.objects.count(), samples_before)

    def test_a_file_from_a_crowd_toolkit_needs_only_the_core_columns(self):
        lines = "\n".join(
            [
                "evaluator,sample,system,style,dimension,score",
                "w1,a.wav,ours,warm,overall,4",
                "w2,a.wav,ours,warm,overall,5",
            ]
        )
        test = import_ratings(name="crowd", lines=io.StringIO(lines), scale=Scale.objects.get(name="acr-en"))
        row = services.test_results(test)["conditions"][0]
        self.assertEqual(
            (row["system"], row["style"], row["after"]["n"], row["after"]["mean"]), ("ours", "warm", 2, 4.5)
        )
        self.assertEqual(Sample.objects.get(test_samples__test=test).source_name, "a.wav")


@override_settings(VAR_DIR=VAR_DIR)
class SummaryAndReportTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test, cls.clips = build_design()
        rate_all(cls.test, cls.clips, SCORES)
        cls.researcher = make_researcher()

    def setUp(self):
        self.client.force_login(self.researcher)

    def test_the_summary_json_gives_every_ci_method_after_and_before_screening(self):
        data = self.client.get(reverse("results:test_summary_json", args=[self.test.pk])).json()
        self.assertEqual(data["headline_ci"], "crowdmos")
        self.assertEqual(set(data["ci_methods"]), {"crowdmos", "t", "normal", "bootstrap"})
        self.assertEqual(data["screening"]["excluded"][0]["evaluator"], "R3")
        for condition in data["conditions"]:
            for state in ("after", "before"):
                self.assertEqual(set(condition[state]["ci95"]), {"crowdmos", "t", "normal", "bootstrap"})
                self.assertEqual(len(condition[state]["ci95"]["bootstrap"]), 2)
        neutral = data["conditions"][0]
        self.assertEqual((neutral["after"]["n"], neutral["before"]["n"]), (6, 9))

    def test_the_summary_csv_has_a_row_per_condition_and_screening_state(self):
        response = self.client.get(reverse("results:test_summary_csv", args=[self.test.pk]))
        rows = read_csv(response.content.decode())
        self.assertEqual(
            [(r["style"], r["screening"]) for r in rows],
            [("neutral", "after"), ("neutral", "before"), ("warm", "after"), ("warm", "before")],
        )
        self.assertTrue(
            all(rows[0][key] for key in ("ci95_crowdmos", "ci95_t", "ci95_normal", "bootstrap_low"))
        )

    def test_the_measurements_csv_names_the_wer_normalisation_and_gives_the_human_mos(self):
        Sample.objects.filter(pk=self.clips[("sys-a", "warm", 0)].sample_id).update(wer=0.25, dnsmos_p808=3.3)
        response = self.client.get(reverse("results:test_measurements_csv", args=[self.test.pk]))
        rows = read_csv(b"".join(response.streaming_content).decode())
        self.assertEqual(len(rows), 6)
        row = next(r for r in rows if r["wer"])
        self.assertEqual(
            (row["wer"], row["wer_normalisation"], row["dnsmos_p808"]), ("0.25", "english", "3.3")
        )
        self.assertEqual(
            (row["human_score"], row["human_votes"]), ("5.0", "2")
        )  # R1 and R2 gave 5; R3 screened out
        self.assertEqual(
            (row["human_test"], row["human_score_name"], row["human_scale"]),
            (self.test.name, "MOS", "acr-en"),
        )

    def test_the_report_is_one_self_contained_html_file(self):
        response = self.client.get(reverse("results:test_report", args=[self.test.pk]))
        html = response.content.decode()
        self.assertIn('attachment; filename="design-report.html"', response["Content-Disposition"])
        self.assertIn("<svg", html)
        self.assertIn("<style>", html)
        self.assertIsNone(re.search(r"<script|<link|src=\"|url\(", html))
        self.assertIn("Headline: CrowdMOS 95% CI.", html)
        self.assertIn("<strong>R3</strong>: votes barely vary", html)
        self.assertIn("statsmodels", html)
        self.assertNotIn("Run the background analysis now", html)

    def test_the_summary_of_the_report_matches_the_command_line(self):
        data = services.test_results(self.test, inline=True)
        via_page = self.client.get(reverse("results:test_summary_json", args=[self.test.pk])).json()
        direct = json.loads(json.dumps(exports.summary_json(data)))
        self.assertEqual(via_page["conditions"], direct["conditions"])
        # The report and the command agree on something: every condition of the design, screened.
        self.assertEqual(len(via_page["conditions"]), len(data["conditions"]))
        self.assertGreater(len(via_page["conditions"]), 0)
        self.assertEqual(via_page["screening"]["excluded"][0]["evaluator"], "R3")
