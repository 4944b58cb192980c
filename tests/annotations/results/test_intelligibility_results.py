"""annotations.results.intelligibility_results: human WER/CER per condition beside the ASR round trip's."""

import jiwer
import numpy as np
from django.test import SimpleTestCase, TestCase
from django.urls import reverse
from scipy import stats as scipy_stats

from annotations import services
from annotations.models import Rating
from annotations.results import intelligibility_results as results
from synthesis.engines import textnorm
from tests.factories import intelligibility_test, make_admin, make_run_with_samples

WORDS = tuple(
    [
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "the",
        "lazy",
        "dog",
        "while",
        "seven",
        "cats",
        "watch",
        "quietly",
    ]
)


def row(rater: int, sample: int, reference: str, transcript: str, **fields) -> dict:
    data = {
        "evaluator_id": rater,
        "rater": f"R{rater:03d}",
        "sample": sample,
        "condition": ("sys-a", "neutral"),
        "language": "en",
        "reference": reference,
        "transcript": transcript,
        "asr_transcript": "",
    }
    return data | fields


def planted(rng: np.random.Generator, rate: float) -> tuple[str, int]:
    """The reference with each word substituted (half) or deleted (half) with probability rate."""
    out, errors = [], 0
    for word in WORDS:
        if rng.random() < rate:
            errors += 1
            if rng.random() < 0.5:
                out.append("zzz")
        else:
            out.append(word)
    return " ".join(out), errors


class HumanWerTests(SimpleTestCase):
    def test_the_human_wer_is_jiwers_corpus_wer_on_the_same_normalised_text(self):
        pairs = [
            ("Mr. Smith paid $20 today.", "mister smith paid twenty dollars to day"),
            ("It's the colour of the sea!", "its the color of sea"),
            ("Rain is due later.", "rain is due later"),
        ]
        rows = [row(1, i, ref, hyp) for i, (ref, hyp) in enumerate(pairs)]
        data = results.summarise(rows, n_boot=200)
        refs = [textnorm.normalize(ref, "english", "en") for ref, _ in pairs]
        hyps = [textnorm.normalize(hyp, "english", "en") for _, hyp in pairs]
        condition = data["conditions"][0]
        self.assertAlmostEqual(condition["wer"]["rate"], jiwer.wer(refs, hyps))
        self.assertAlmostEqual(condition["cer"]["rate"], jiwer.cer(refs, hyps))
        self.assertEqual(data["methods_applied"], ["english"])

    def test_spanish_transcripts_get_the_basic_normaliser(self):
        rows = [row(1, 1, "¿Dónde está el tren?", "donde esta el tren", language="es")]
        self.assertEqual(results.scored_rows(rows)[0]["method"], "basic")

    def test_a_planted_error_rate_is_recovered_within_its_ci(self):
        rng = np.random.default_rng(7)
        rows = []
        for rater in range(20):
            for sample in range(30):
                transcript, _ = planted(rng, 0.10)
                rows.append(row(rater, sample, " ".join(WORDS), transcript))
        wer = results.summarise(rows)["conditions"][0]["wer"]
        self.assertLessEqual(wer["low"], 0.10)
        self.assertGreaterEqual(wer["high"], 0.10)
        self.assertLess(wer["high"] - wer["low"], 0.03)

    def test_excluded_raters_are_left_out(self):
        rows = [row(1, 1, "one two", "one two"), row(2, 1, "one two", "nine nine")]
        self.assertEqual(results.summarise(rows, excluded={2}, n_boot=50)["conditions"][0]["wer"]["rate"], 0)


class AsrBesideHumanTests(SimpleTestCase):
    def test_the_asr_wer_is_scored_from_its_transcript_with_the_same_normaliser_once_per_sample(self):
        rows = [
            row(1, 1, "Red, green blue.", "red green blue", asr_transcript="red green glue"),
            row(2, 1, "Red, green blue.", "red green", asr_transcript="red green glue"),
            row(1, 2, "Black cat.", "black cat", asr_transcript="Black, cat!"),
        ]
        condition = results.summarise(rows, n_boot=50)["conditions"][0]
        self.assertEqual(condition["asr_samples"], 2)
        self.assertAlmostEqual(condition["asr_wer"]["rate"], 1 / 5)
        self.assertAlmostEqual(condition["wer"]["rate"], 1 / 8)

    def test_the_correlation_across_samples_matches_scipy_and_needs_three_samples(self):
        rows, human, asr = [], [], []
        references = ["a b c d", "e f g h", "i j k l", "m n o p"]
        for sample, reference in enumerate(references):
            words = reference.split()
            hyp = " ".join(words[: 4 - sample])  # 0, 1, 2, 3 deletions
            asr_hyp = " ".join(words[: 4 - (sample * 7) % 4])
            rows.append(row(1, sample, reference, hyp, asr_transcript=asr_hyp))
            human.append(sample / 4)
            asr.append(((sample * 7) % 4) / 4)
        correlation = results.summarise(rows, n_boot=50)["correlation"]
        self.assertEqual(correlation["n"], 4)
        self.assertAlmostEqual(correlation["pearson_r"], scipy_stats.pearsonr(human, asr).statistic)
        self.assertAlmostEqual(correlation["spearman_rho"], scipy_stats.spearmanr(human, asr).statistic)
        few = results.summarise(rows[:2], n_boot=50)["correlation"]
        self.assertIsNone(few["pearson_r"])
        self.assertIn("not enough samples", few["reason"])


class IntelligibilityDashboardTests(TestCase):
    """A stored intelligibility test read back through the dashboard, the report and the ratings export."""

    @classmethod
    def setUpTestData(cls):
        cls.test = intelligibility_test("intel-results")
        evaluators = services.invite_evaluators(test=cls.test, count=2)
        trials = cls.test.trials.filter(kind="test").prefetch_related("trial_clips__test_sample__sample")
        ratings = []
        for evaluator in evaluators:
            for trial in trials:
                clip = trial.trial_clips.all()[0].test_sample
                words = clip.sample.text.split()
                ratings.append(
                    Rating(evaluator=evaluator, sample_id=clip.sample_id, test_sample=clip, trial=trial,
                           dimension="transcript", score=None, transcript=" ".join(words[:-1]) or "x")
                )  # fmt: skip
        Rating.objects.bulk_create(ratings)
        cls.admin = make_admin()

    def setUp(self):
        self.client.force_login(self.admin)

    def test_the_dashboard_shows_the_human_wer_per_condition(self):
        response = self.client.get(reverse("results:test", args=[self.test.pk]))
        self.assertContains(response, "Intelligibility: word and character error rates per condition")

    def test_imported_samples_are_said_to_have_no_asr_transcript_rather_than_too_few(self):
        response = self.client.get(reverse("results:test", args=[self.test.pk]))
        self.assertNotContains(response, "not enough samples")
        # Two conditions and the line across every sample.
        self.assertContains(response, results.NO_ASR, count=3)

    def test_the_ratings_export_has_one_row_per_transcript_with_its_errors(self):
        response = self.client.get(reverse("results:test_ratings_csv", args=[self.test.pk]))
        lines = b"".join(response.streaming_content).decode().splitlines()
        header = lines[0].split(",")
        for column in ("reference", "transcript", "reference_normalised", "wer", "plays"):
            self.assertIn(column, header)
        self.assertEqual(len(lines) - 1, Rating.objects.filter(evaluator__test=self.test).count())

    def test_the_report_renders_with_the_appendix(self):
        response = self.client.get(reverse("results:test_report", args=[self.test.pk]))
        self.assertContains(response, "Reporting appendix")

    def test_the_report_says_the_answer_is_a_typed_transcription_without_scale_points(self):
        response = self.client.get(reverse("results:test_report", args=[self.test.pk]))
        self.assertContains(
            response,
            "<dt>Scale</dt><dd>Type the words you heard: typed transcription, no scale points</dd>",
            html=True,
        )
        self.assertContains(
            response,
            "<dt>Scale labels shown</dt><dd>none (typed transcription, no scale points)</dd>",
            html=True,
        )
        self.assertNotContains(response, "0 = Typed")
        self.assertNotContains(response, "0 Typed")


class SynthesisRunSamplesTests(TestCase):
    """A test built from a synthesis run's samples, each with the ASR transcript of its round trip."""

    def setUp(self):
        _, samples = make_run_with_samples("intel-run")
        heard = {
            "The cat sat on the mat.": "the cat sat on a mat",
            "Rain is due later today.": "rain is due today",
        }
        for sample in samples:
            sample.recognized_text = heard.get(sample.text, sample.text)
            sample.save(update_fields=["recognized_text"])
        self.test = intelligibility_test("intel-run-test", samples=samples)
        for number, evaluator in enumerate(services.invite_evaluators(test=self.test, count=2)):
            for trial in self.test.trials.filter(kind="test").prefetch_related(
                "trial_clips__test_sample__sample"
            ):
                clip = trial.trial_clips.all()[0].test_sample
                words = clip.sample.text.split()
                kept = len(words) - number - clip.sample.pk % 2  # a word or two missed on some clips
                Rating.objects.create(
                    evaluator=evaluator, sample_id=clip.sample_id, test_sample=clip, trial=trial,
                    dimension="transcript", transcript=" ".join(words[:kept]),
                )  # fmt: skip
        self.client.force_login(make_admin())

    def test_the_dashboard_puts_each_conditions_asr_wer_beside_the_listeners(self):
        page = self.client.get(reverse("results:test", args=[self.test.pk]))
        analysis = page.context["r"]["analysis"]
        for condition in analysis["conditions"]:
            self.assertEqual(condition["asr_samples"], 3, condition["label"])
            self.assertIsNotNone(condition["asr_wer"]["rate"], condition["label"])
            self.assertEqual(condition["correlation"]["n"], 3, condition["label"])
        correlation = analysis["correlation"]
        self.assertEqual(correlation["n"], 6)
        self.assertIsNotNone(correlation["pearson_r"], correlation["reason"])
        self.assertNotContains(page, "no ASR transcript")
