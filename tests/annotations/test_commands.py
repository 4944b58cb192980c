"""Command line: roles, export/import of ratings, the MOS summary, the simulated demo and the benchmark."""

import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import TestCase, override_settings
from django.urls import reverse

from annotations import services
from annotations.models import ListeningTest, Rating, Scale
from annotations.models import TestSample as Clip
from annotations.results import services as results_services
from annotations.results.imports import placeholder_audio
from annotations.roles import ADMINS, RESEARCHERS
from synthesis.engines import audio
from synthesis.models import Sample, SentenceSet
from tests.factories import SCORES, VAR_DIR, add_to_test, build_design, make_researcher, make_test, rate_all

bench_results = __import__("annotations.management.commands.bench_results", fromlist=["write_section"])


def run(*args, **options) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **options)
    return out.getvalue()


class SetupRolesTests(TestCase):
    def codenames(self, group: str) -> set[str]:
        return set(Group.objects.get(name=group).permissions.values_list("codename", flat=True))

    def test_it_gives_researchers_view_and_export_and_admins_also_add_and_change(self):
        run("setup_roles")
        researchers, admins = self.codenames(RESEARCHERS), self.codenames(ADMINS)
        self.assertTrue(
            {"view_synthesisrun", "view_listeningtest", "view_rating", "export_results"} <= researchers
        )
        self.assertFalse({codename for codename in researchers if codename.startswith(("add_", "change_"))})
        self.assertTrue(
            {"add_synthesisrun", "add_listeningtest", "change_listeningtest", "export_results"} <= admins
        )
        self.assertFalse({codename for codename in admins if codename.startswith("delete_")})

    def test_running_it_again_changes_nothing(self):
        first = run("setup_roles")
        self.assertEqual(run("setup_roles"), first)
        self.assertEqual(Group.objects.filter(name__in=[RESEARCHERS, ADMINS]).count(), 2)


@override_settings(VAR_DIR=VAR_DIR)
class ExportImportCommandTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.test, clips = build_design(systems=("sys-a", "sys-b"))
        rate_all(cls.test, clips, {name: scores * 2 for name, scores in SCORES.items()})

    def setUp(self):
        self.folder = Path(tempfile.mkdtemp(prefix="sarai-test-csv-"))

    def test_export_then_import_then_export_writes_the_same_file(self):
        first, second = self.folder / "first.csv", self.folder / "second.csv"
        call_command("export_ratings", test="design", out=str(first), stderr=io.StringIO())
        Rating.objects.filter(evaluator__test=self.test).delete()
        self.test.delete()
        output = run("import_ratings", str(first), test="design")
        self.assertIn("Imported 36 ratings by 3 evaluators on 12 clips into design.", output)
        call_command("export_ratings", test="design", out=str(second), stderr=io.StringIO())
        self.assertEqual(second.read_bytes(), first.read_bytes())
        self.assertEqual(len(first.read_text().splitlines()), 37)

    def test_an_unknown_test_or_a_bad_file_is_a_readable_error(self):
        with self.assertRaisesMessage(CommandError, "No listening test named 'nope'"):
            call_command("export_ratings", test="nope")
        bad = self.folder / "bad.csv"
        bad.write_text("evaluator,sample\nR1,x\n")
        with self.assertRaisesMessage(CommandError, "Missing column(s): dimension, score, system."):
            call_command("import_ratings", str(bad), test="other")

    def test_mos_summary_json_has_every_ci_method_after_and_before_screening(self):
        data = json.loads(run("mos_summary", test="design", format="json"))
        self.assertEqual(data["screening"]["excluded"][0]["evaluator"], "R3")
        self.assertEqual(len(data["conditions"]), 4)
        for condition in data["conditions"]:
            for state in ("after", "before"):
                summary = condition[state]
                self.assertTrue(
                    all(summary["ci95"][method] is not None for method in ("crowdmos", "t", "normal"))
                )
                low, high = summary["ci95"]["bootstrap"]
                self.assertLess(low, summary["mos"])
                self.assertGreater(high, summary["mos"])
            self.assertEqual((condition["before"]["raters"], condition["after"]["raters"]), (3, 2))

    def test_mos_summary_csv_and_screening_options(self):
        lines = run("mos_summary", "--test=design", "--format=csv", "--min-variance=off").splitlines()
        self.assertTrue(
            lines[0].startswith("test,dimension,system,style,screening,n,raters,clips,mos,sd,ci95_crowdmos")
        )
        self.assertEqual(len(lines), 1 + 4 * 2)
        self.assertTrue(
            all(line.split(",")[6] == "3" for line in lines[1:])
        )  # nobody excluded with the rule off


@override_settings(VAR_DIR=VAR_DIR)
@pytest.mark.models
@pytest.mark.backends
class SimulatedDemoTests(TestCase):
    def test_the_dashboard_recovers_the_known_difference_between_styles(self):
        output = run("simulate_ratings")
        self.assertIn("Excluded raters: R025, R026, R027, R028", output)
        test = ListeningTest.objects.get(name="demo-simulated")
        self.client.force_login(make_researcher())
        page = self.client.get(reverse("results:test", args=[test.pk]))
        for comparison in page.context["r"]["comparisons"]:
            (system_a, style_a), (system_b, style_b) = comparison["a"], comparison["b"]
            if system_a != system_b:
                continue
            model = comparison["mixed_model"]
            self.assertEqual((style_a, style_b), ("neutral", "warm"))
            self.assertAlmostEqual(model["difference"], 0.3, delta=0.1)
            self.assertLess(model["ci_low"], 0.3)
            self.assertGreater(model["ci_high"], 0.3)
            self.assertTrue(comparison["by_rater"]["reject_holm"])
        self.assertContains(page, "straight_lining")
        self.assertContains(page, "failed_trap")

    def test_the_dashboard_excludes_the_two_fetch_and_wait_scripts_with_their_reasons(self):
        # 6 good and 4 careless raters, then the scripts R011 (same score) and R012 (random); 42 clips.
        run("simulate_ratings", raters=6, sentences=10, systems=2, no_analysis=True)
        data = results_services.test_results(ListeningTest.objects.get(name="demo-simulated"))
        excluded = {row["pseudonym"]: row for row in data["excluded"]}
        timing_flags = ["answers_at_minimum", "never_replayed", "session_at_audio_length"]
        for script in ("R011", "R012"):
            self.assertEqual(excluded[script]["flags"][-3:], timing_flags)
            self.assertIn(
                "answered 42 of 42 trials within 0.5 s of the least time",
                " ".join(excluded[script]["reasons"]),
            )
            self.assertIn("the server sent each of 42 clips once", " ".join(excluded[script]["reasons"]))
        self.assertIn("straight_lining", excluded["R011"]["flags"])
        # Every demo rater passed the headphone screen, the scripts too: it is what they cannot fake.
        self.assertEqual({row["screen"].result for row in data["raters"]}, {"passed"})
        self.assertEqual(data["headphone_screen"]["passed"], 12)
        self.assertNotIn("headphone", " ".join(excluded["R011"]["reasons"]))
        for row in data["raters"]:
            if row["pseudonym"] not in ("R011", "R012"):
                self.assertFalse(set(row["flags"]) & set(timing_flags), row["pseudonym"])
                self.assertEqual(row["notes"], [])

    def test_running_it_again_replaces_the_demo(self):
        run("simulate_ratings", raters=6, sentences=4, systems=1, no_analysis=True)
        run("simulate_ratings", raters=6, sentences=4, systems=1, no_analysis=True)
        test = ListeningTest.objects.get(name="demo-simulated")
        self.assertEqual(test.evaluators.count(), 6 + 4 + 2)  # good, careless and scripted raters
        self.assertEqual(Sample.objects.filter(test_samples__test=test).count(), 4 * 2 + 2)

    def test_replacing_the_demo_deletes_the_old_audio_files(self):
        run("simulate_ratings", raters=6, sentences=1, systems=1, no_analysis=True)
        old = list(Sample.objects.values_list("audio", flat=True))
        storage = Sample._meta.get_field("audio").storage
        self.assertTrue(all(storage.exists(name) for name in old))
        with self.captureOnCommitCallbacks(execute=True):
            run("simulate_ratings", raters=6, sentences=1, systems=1, no_analysis=True)
        self.assertFalse(any(storage.exists(name) for name in old))

    def test_every_clip_is_real_speech_by_a_synthetic_system_named_for_what_it_is(self):
        run("simulate_ratings", raters=6, sentences=2, no_analysis=True)
        samples = Sample.objects.filter(test_samples__test__name="demo-simulated")
        self.assertEqual(samples.count(), 2 * 2 * 2 + 2)
        self.assertEqual(
            set(samples.values_list("system_label", flat=True)), {"piper-joe-medium", "espeak-ng-formant"}
        )
        self.assertEqual(set(samples.values_list("origin", flat=True)), {Sample.Origin.IMPORTED})
        for sample in samples:
            with sample.audio.open("rb") as handle:
                data, rate = audio.read_audio(handle.read())
            self.assertGreater(len(data) / rate, 1.0, sample.text)
            self.assertAlmostEqual(sample.duration_s, len(data) / rate, places=2)
            self.assertGreater(float(np.sqrt(np.mean(data**2))), 0.01, sample.text)  # not silence
        trap = Clip.objects.get(test__name="demo-simulated", kind=Clip.Kind.TRAP)
        self.assertIn(f"Please answer {trap.instructed_score}, poor.", trap.sample.text)

    def test_demo_clips_can_be_picked_as_test_gold_and_training_clips_of_a_new_test(self):
        run("simulate_ratings", raters=6, sentences=2, systems=1, no_analysis=True)
        samples = list(Sample.objects.filter(test_samples__test__name="demo-simulated").order_by("pk"))
        test = services.create_test(
            name="from-the-demo",
            samples=samples[:2],
            gold={samples[2]: 5},
            training=[samples[3]],
            scale=Scale.objects.get(name="acr-en"),
        )
        kinds = sorted(test.test_samples.values_list("kind", flat=True))
        self.assertEqual(kinds, ["gold", "test", "test", "training"])
        self.assertTrue(all(clip.playback_lufs is not None for clip in test.test_samples.all()))

    def test_an_older_demo_of_silent_placeholders_is_replaced_even_with_if_missing(self):
        old = make_test("demo-simulated", state=ListeningTest.State.CLOSED)
        for label in ("reference", "system-a", "system-b", "trap"):
            placeholder = Sample.objects.create(
                origin=Sample.Origin.IMPORTED,
                system_label=label,
                audio=placeholder_audio(),
                duration_s=0.0,
                sample_rate=16000,
            )
            add_to_test(old, placeholder)
        output = run("simulate_ratings", raters=6, sentences=1, systems=1, no_analysis=True, if_missing=True)
        self.assertIn("Replacing demo-simulated: its clips were silent placeholders", output)
        self.assertFalse(Sample.objects.filter(duration_s=0).exists())
        self.assertFalse(Sample.objects.filter(system_label__in=["reference", "system-a", "trap"]).exists())
        self.assertIn("exists already", run("simulate_ratings", if_missing=True, no_analysis=True))


@override_settings(VAR_DIR=VAR_DIR)
class BenchResultsTests(TestCase):
    def test_it_prints_the_table_and_removes_its_data(self):
        output = run(
            "bench_results", raters=12, samples=8, repeat=1, no_write=True, pair_raters=2, pair_sentences=2
        )
        for label in ("MOS/CI table + distribution", "Progress", "Export: Python heap peak (tracemalloc)"):
            self.assertIn(label, output)
        self.assertFalse(ListeningTest.objects.exists())
        self.assertFalse(SentenceSet.objects.filter(name__startswith="bench-results").exists())

    def test_it_times_the_cmos_and_ab_dashboard_pages_on_first_and_later_views(self):
        output = run("bench_results", pairs_only=True, repeat=2, pair_raters=2, pair_sentences=2)
        for title in ("CMOS", "A/B"):
            self.assertRegex(
                output, rf"\| {title} dashboard page: first view after new ratings \| [0-9.]+ s \|"
            )
            self.assertRegex(
                output, rf"\| {title} dashboard page: each later view \| [0-9.]+ s \| median of 2 \|"
            )
        self.assertNotIn("| MOS/CI table", output)
        self.assertFalse(ListeningTest.objects.exists())
        self.assertFalse(Sample.objects.exists())
        self.assertFalse(get_user_model().objects.exists())

    def test_it_replaces_only_its_own_section_of_the_benchmarks_file(self):
        path = Path(tempfile.mkdtemp(prefix="sarai-test-docs-")) / "benchmarks.md"
        path.write_text(
            "# Benchmarks\n\n## bench_pipeline\n\nkeep me\n\n## bench_results\n\nold\n\n## later\n\nme too\n"
        )
        bench_results.write_section("## bench_results\n\nnew table\n", path)
        text = path.read_text()
        self.assertIn("keep me", text)
        self.assertIn("me too", text)
        self.assertIn("new table", text)
        self.assertNotIn("old", text)
