"""Exports of CMOS and A/B tests: the tidy ratings CSV (one row per judgement), the summary CSV and JSON
(per pair and the ranking) and the HTML report with its forest plots."""

import csv
import io
import random
import re
import tempfile
from pathlib import Path

from django.core.management import call_command
from django.test import TestCase, override_settings
from django.urls import reverse

from annotations import pairs
from annotations.models import Rating
from annotations.results import exports
from annotations.results.services import Thresholds
from tests.factories import (
    VAR_DIR,
    evaluator_at_rating,
    judge,
    make_researcher,
    rated_ab_test,
    rated_cmos_test,
)

PAIR_COLUMNS = [
    "test",
    "evaluator",
    "sentence_key",
    "sentence",
    "sample_a",
    "system_a",
    "style_a",
    "sample_b",
    "system_b",
    "style_b",
    "order",
    "dimension",
    "answer",
    "answer_label",
    "system_x",
    "style_x",
    "system_y",
    "style_y",
    "answer_y_vs_x",
    "trial",
    "repeat_of",
    "first_fetch_at",
    "received_at",
    "time_to_answer_ms",
    "fetch_count",
    "played_to_end",
    "play_count",
    "server_play_count",
    "created_at",
    "screening_flags",
    "excluded",
    "screen_result",
    "screen_correct",
    "screen_attempts",
]


def read_csv(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def export_text(test) -> str:
    out = io.StringIO(newline="")
    exports.write_ratings(test, Thresholds(), out)
    return out.getvalue()


@override_settings(VAR_DIR=VAR_DIR)
class PairRatingsCsvTests(TestCase):
    def test_each_judgement_is_one_row_naming_the_clip_played_first_and_the_answer_both_ways(self):
        test = rated_cmos_test()
        text = export_text(test)
        self.assertEqual(text.splitlines()[0].split(","), PAIR_COLUMNS)
        rows = read_csv(text)
        self.assertEqual(len(rows), 9)
        rating = (
            Rating.objects.filter(evaluator__pseudonym="R002").select_related("test_sample__sample").first()
        )
        [row] = [row for row in rows if row["trial"] == str(rating.trial_id) and row["evaluator"] == "R002"]
        second = rating.test_sample.sample  # the answer is stored on the clip played second (B)
        self.assertEqual((row["system_b"], row["style_b"]), (second.system_label, second.style_label))
        self.assertEqual(row["sample_b"], f"sample-{second.pk}")
        self.assertEqual(row["sentence"], second.sentence.text)
        self.assertEqual(row["sentence_key"], second.sentence_key)
        self.assertNotEqual(row["style_a"], row["style_b"])
        self.assertEqual((row["style_x"], row["style_y"]), ("neutral", "warm"))
        self.assertEqual(row["order"], "X-first" if row["style_a"] == "neutral" else "Y-first")
        self.assertEqual(int(row["answer"]), rating.score)
        self.assertEqual(
            int(row["answer_y_vs_x"]), rating.score if second.style_label == "warm" else -rating.score
        )
        self.assertEqual(row["answer_label"], dict(test.scale.choices())[rating.score])
        self.assertEqual((row["repeat_of"], row["played_to_end"], row["play_count"]), ("", "true", "2"))
        self.assertEqual(row["server_play_count"], "1")  # the page's count beside the server's
        self.assertEqual(row["fetch_count"], "3")
        self.assertEqual(row["received_at"], rating.received_at.isoformat())
        self.assertEqual((row["screening_flags"], row["excluded"]), ("", "false"))

    def test_a_repeated_pair_names_the_trial_it_repeats_and_an_excluded_raters_rows_say_so(self):
        test = rated_ab_test()
        careless = evaluator_at_rating(test, rng=random.Random(9))
        judge(careless, lambda first, second: -1)  # always A: the same answer everywhere
        rows = read_csv(export_text(test))
        repeats = [row for row in rows if row["repeat_of"]]
        self.assertEqual(len(repeats), 3)
        originals = {(row["evaluator"], row["trial"]): row for row in rows}
        for row in repeats:
            original = originals[(row["evaluator"], row["repeat_of"])]
            self.assertEqual(row["sentence_key"], original["sentence_key"])
            self.assertNotEqual(row["order"], original["order"])
        careless_rows = [row for row in rows if row["evaluator"] == careless.pseudonym]
        self.assertTrue(all(row["excluded"] == "true" for row in careless_rows))
        self.assertIn("straight_lining", careless_rows[0]["screening_flags"])
        self.assertEqual({row["answer_label"] for row in careless_rows}, {"A"})

    def test_the_download_and_the_command_give_the_same_rows(self):
        test = rated_cmos_test()
        self.client.force_login(make_researcher())
        response = self.client.get(reverse("results:test_ratings_csv", args=[test.pk]))
        downloaded = b"".join(response.streaming_content).decode()
        path = Path(tempfile.mkdtemp(prefix="sarai-test-export-")) / "ratings.csv"
        call_command("export_ratings", test=test.name, out=str(path), stderr=io.StringIO())
        self.assertEqual(read_csv(downloaded), read_csv(path.read_text(encoding="utf-8")))
        self.assertEqual(len(read_csv(downloaded)), len(pairs.pair_judgements(test)))


@override_settings(VAR_DIR=VAR_DIR)
class PairSummaryTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = rated_ab_test()
        cls.researcher = make_researcher()

    def setUp(self):
        self.client.force_login(self.researcher)

    def test_the_summary_csv_has_each_pair_after_and_before_screening_then_the_ranking(self):
        response = self.client.get(reverse("results:test_summary_csv", args=[self.test.pk]))
        rows = read_csv(response.content.decode())
        self.assertEqual(
            [(row["table"], row["screening"]) for row in rows][:2], [("pair", "after"), ("pair", "before")]
        )
        pair = rows[0]
        self.assertEqual((pair["style_x"], pair["style_y"], pair["n"]), ("neutral", "warm", "24"))
        self.assertEqual((pair["x_preferred"], pair["y_preferred"], pair["no_preference"]), ("14", "8", "2"))
        self.assertAlmostEqual(float(pair["share_y_decisive"]), 8 / 22)
        ranking = [row for row in rows if row["table"] == "ranking"]
        self.assertEqual([row["rank"] for row in ranking], ["1", "2"])
        self.assertEqual(ranking[0]["style"], "neutral")  # 14 of 22 decisive answers preferred it

    def test_the_summary_json_carries_the_pairs_the_consistency_the_ranking_and_their_citations(self):
        data = self.client.get(reverse("results:test_summary_json", args=[self.test.pk])).json()
        self.assertEqual(data["method"], "ab")
        analysis = data["analysis"]
        [pair] = analysis["pairs"]
        self.assertEqual(pair["after"]["sign_test"]["wins_y"], 8)
        self.assertEqual(analysis["rater_consistency"]["repeats"], 2)
        self.assertTrue(analysis["ranking"]["available"])
        self.assertIn("Wilson 1927", analysis["citations"]["wilson"])
        self.assertIn("Davidson 1970", analysis["citations"]["ranking"])
        self.assertEqual(data["screening"]["excluded"], [])


@override_settings(VAR_DIR=VAR_DIR)
class PairReportTests(TestCase):
    def test_the_report_holds_the_comparison_sections_and_the_forest_plots_in_one_file(self):
        test = rated_cmos_test()
        self.client.force_login(make_researcher())
        html = self.client.get(reverse("results:test_report", args=[test.pk])).content.decode()
        self.assertIsNone(re.search(r"<script|<link|src=\"|url\(", html))
        self.assertIn("CMOS per pair of conditions", html)
        self.assertIn(
            "Ranking: Bradley-Terry strength with ties (Davidson), 95% bootstrap CI over raters", html
        )
        self.assertIn("CMOS of Y over X after screening, 95% two-way bootstrap CI", html)
        self.assertEqual(html.count("<svg"), 2)
        self.assertIn("99 judgements per pair of clips (3 pairs)", html)
        self.assertNotIn("Run the background analysis now", html)
        self.assertNotIn("MOS per condition", html)
