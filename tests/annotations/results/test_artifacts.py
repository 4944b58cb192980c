"""Artifact marks on the dashboard: agreement over time per clip, the most agreed clips, the export."""

import csv
import io

from django.test import SimpleTestCase, TestCase
from django.urls import reverse

from annotations import services
from annotations.models import ArtifactMark
from annotations.results.artifacts import artifact_summary, density, peak_region
from tests.factories import build_test, heard, make_researcher


class DensityTests(SimpleTestCase):
    def test_each_bin_counts_the_distinct_listeners_whose_marks_cover_it(self):
        spans = {
            1: [(0.2, 0.45)],  # bins 2, 3, 4
            2: [(0.3, 0.35), (0.4, 0.6)],  # bins 3, 4, 5: overlapping marks count once
            3: [(0.0, 0.0)],  # a point mark: its own bin
        }
        counts = density(spans, duration=1.0)
        self.assertEqual(counts, [1, 0, 1, 2, 2, 1, 0, 0, 0, 0])
        self.assertEqual(peak_region(counts), (2, 0.3, 0.5))

    def test_a_mark_at_the_very_end_falls_in_the_last_bin(self):
        self.assertEqual(density({1: [(0.5, 0.5)]}, duration=0.5), [0, 0, 0, 0, 1])

    def test_no_marks_no_peak(self):
        self.assertEqual(peak_region(density({}, duration=0.3)), (0, 0.0, 0.0))


class SummaryTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test = build_test(
            artifact_labels=["click", "robotic"], ratings_per_sample=3, samples_per_session=6
        )
        cls.evaluators = services.invite_evaluators(test=cls.test, count=3)
        for evaluator in cls.evaluators:
            services.assign(evaluator=evaluator)
            heard(evaluator, *cls.test.test_samples.filter(kind="test"))
        cls.first, cls.second = cls.test.test_samples.filter(kind="test").order_by("pk")[:2]
        # Three listeners hear the first clip; two agree on a click around 0.2 s, one marks nothing.
        cls.answer(cls.evaluators[0], cls.first, [(0.1, 0.3, "click")])
        cls.answer(cls.evaluators[1], cls.first, [(0.15, 0.25, "click"), (0.4, 0.45, "robotic")])
        cls.answer(cls.evaluators[2], cls.first, [])
        # One listener marks the second clip.
        cls.answer(cls.evaluators[0], cls.second, [(0.0, 0.1, "")])

    @staticmethod
    def answer(evaluator, clip, marks):
        services.submit_rating(
            evaluator=evaluator,
            sample_token=clip.token,
            scores={"overall": 3},
            played_to_end=True,
            play_count=1,
            time_to_answer_ms=500,
            marks=marks,
        )

    def test_clips_are_ranked_by_how_many_listeners_agree_on_one_moment(self):
        summary = artifact_summary(self.test)
        self.assertEqual(summary["n_marks"], 4)
        first, second = summary["samples"]
        self.assertEqual(first["test_sample_id"], self.first.pk)
        self.assertEqual((first["listeners"], first["markers"], first["marks"]), (3, 2, 3))
        self.assertEqual((first["peak"], first["peak_start_s"], first["peak_end_s"]), (2, 0.1, 0.3))
        self.assertEqual(first["density"], [0, 2, 2, 0, 1])
        self.assertEqual(first["labels"], [("click", 2), ("robotic", 1)])
        self.assertTrue(first["audio_url"].endswith(f"/samples/{self.first.sample_id}/audio.wav#t=0.10,0.30"))
        self.assertEqual(
            (second["test_sample_id"], second["peak"], second["labels"]),
            (self.second.pk, 1, [("(no label)", 1)]),
        )

    def test_the_dashboard_shows_the_most_agreed_clips_and_plays_the_marked_region(self):
        self.client.force_login(make_researcher())
        page = self.client.get(reverse("results:test", args=[self.test.pk])).content.decode()
        self.assertIn("Artifact marks", page)
        self.assertIn("2 of 3", page)
        self.assertIn(f'src="/samples/{self.first.sample_id}/audio.wav#t=0.10,0.30"', page)
        self.assertIn("click 2, robotic 1", page)
        self.assertIn(reverse("results:test_marks_csv", args=[self.test.pk]), page)

    def test_a_test_without_labels_has_no_artifact_section(self):
        other = build_test("plain", samples=[ts.sample for ts in self.test.test_samples.all()])
        self.client.force_login(make_researcher())
        page = self.client.get(reverse("results:test", args=[other.pk])).content.decode()
        self.assertNotIn("Artifact marks", page)
        self.assertNotIn("marks.csv", page)

    def test_the_export_lists_every_mark_with_its_rater_clip_times_and_label(self):
        self.client.force_login(make_researcher())
        response = self.client.get(reverse("results:test_marks_csv", args=[self.test.pk]))
        self.assertEqual(
            response["Content-Disposition"], f'attachment; filename="{self.test.name}-marks.csv"'
        )
        rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
        self.assertEqual(len(rows), ArtifactMark.objects.count())
        click = [row for row in rows if row["label"] == "click"]
        self.assertEqual(
            sorted((row["rater"], row["start_s"], row["end_s"]) for row in click),
            [
                (self.evaluators[0].pseudonym, "0.100", "0.300"),
                (self.evaluators[1].pseudonym, "0.150", "0.250"),
            ],
        )
        sample = self.first.sample
        self.assertEqual(
            {(row["system"], row["style"], row["sentence"]) for row in click},
            {(sample.system_label, sample.style_label, sample.sentence.text)},
        )
        self.assertTrue(all(row["created_at"] for row in rows))
