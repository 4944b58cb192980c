"""manage.py benchmark_tts_mos: the design's MOS study from a sentence set to invite links and claims."""

import io
import re
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import TestCase, override_settings
from django.utils import timezone

from annotations import services
from annotations.models import ListeningTest, Rating
from annotations.results import claims
from synthesis.engines import selftest
from synthesis.models import PipelineConfig, RunItem, Sample, SentenceSet, Status, SynthesisRun
from tests.annotations.helpers import pass_screen
from tests.factories import make_config, make_sample, make_sentence_set, style

DIMENSIONS = ["overall", "clarity", "naturalness", "expressiveness", "artifacts"]
ENGLISH = ("The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background.")
THIRD = "Help the woman get back to her feet."
SPANISH = ("El perro corre por el parque.", "Mañana lloverá en la ciudad.")
BASE_URL = "https://mos.example.org"
FAILING_PIPER = selftest.Engine(
    "tts-piper", "the TTS engine (Piper)", "tests.synthesis.crashing_engine:fail_with_error", "reinstall it"
)


def run_command(*args) -> str:
    out = io.StringIO()
    call_command("benchmark_tts_mos", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def piper_joe() -> PipelineConfig:
    """The default configuration, made once per test."""
    return PipelineConfig.objects.filter(name="piper-joe").first() or make_config(
        "piper-joe", system_label="Piper joe-medium", tts_backend="piper", tts_voice="en_US-joe-medium"
    )


def finished_run(sentence_set: SentenceSet, styles=("neutral", "warm"), failed: str = "") -> SynthesisRun:
    """A synthesis run of piper-joe over the set × styles, every item done (tones stand in for speech).

    failed: the error of the last item, which then failed instead.
    """
    config = piper_joe()
    run = SynthesisRun.objects.create(
        name="study", config=config, status=Status.DONE, finished_at=timezone.now()
    )
    run.sentence_sets.set([sentence_set])
    items = [
        RunItem.objects.create(run=run, sentence=sentence, style=style(name), status=Status.DONE)
        for sentence in sentence_set.sentences.order_by("position")
        for name in styles
    ]
    for item in items:
        sample = make_sample(
            system_label=config.system_label, style_name=item.style.name, sentence=item.sentence, run=run
        )
        Sample.objects.filter(pk=sample.pk).update(origin=Sample.Origin.SYNTHESIZED, run_item=item)
    if failed:
        RunItem.objects.filter(pk=items[-1].pk).update(status=Status.FAILED, error=failed)
        Sample.objects.filter(run_item=items[-1]).delete()
    run.total_count = len(items)
    run.done_count = len(items) - bool(failed)
    run.failed_count = int(bool(failed))
    run.save()
    return run


def score(dimension: str, clip) -> int:
    """Neutral 4 and 5, warm 3 and 4 (first and second sentence); artifacts one lower."""
    base = {"neutral": 4, "warm": 3}[clip.sample.style_label] + clip.sample.sentence.position - 1
    return base - (dimension == "artifacts")


def rate_as_invited(evaluator) -> None:
    """Consent, pass the headphone screen and answer every trial through the services, each clip sent
    whole by the server (a ClipFetch row) a few seconds before the answer, as in a real session."""
    services.give_consent(evaluator=evaluator)
    pass_screen(evaluator)
    services.skip_training_if_none(evaluator=evaluator)
    assignments = services.assign(evaluator=evaluator)
    for number, assignment in enumerate(assignments):
        clip = assignment.presented_clips()[0].test_sample
        size = clip.playback_audio.size
        waited = clip.sample.duration_s + 5 * (len(assignments) - number)
        services.record_fetch(
            evaluator=evaluator,
            test_sample=clip,
            started_at=timezone.now() - timedelta(seconds=waited),
            bytes_from=0,
            bytes_to=size - 1,
            size=size,
        )
        services.submit_rating(
            evaluator=evaluator,
            sample_token=clip.token,
            scores={dimension: score(dimension, clip) for dimension in DIMENSIONS},
            played_to_end=True,
            play_count=1,
            time_to_answer_ms=2500,
        )


def claim(key: str) -> dict:
    return next(row for row in claims.claim_rows() if row["claim"].key == key)


class TestFromAFinishedRunTests(TestCase):
    def setUp(self):
        self.run = finished_run(make_sentence_set(name="harvard-mini", texts=ENGLISH))

    def test_it_makes_an_open_english_test_asking_overall_then_the_designs_four_dimensions(self):
        run_command("--run", str(self.run.pk), "--evaluators", "3")
        test = ListeningTest.objects.get()
        self.assertEqual(test.name, f"tts-mos-harvard-mini-run-{self.run.pk}")
        self.assertEqual(test.dimensions, DIMENSIONS)
        self.assertEqual(
            (test.scale.name, test.language, test.state), ("acr-en", "en", ListeningTest.State.OPEN)
        )
        clips = test.test_samples.select_related("sample")
        self.assertEqual(
            sorted(clip.sample.style_label for clip in clips), ["neutral", "neutral", "warm", "warm"]
        )

    def test_by_default_every_evaluator_rates_every_clip_so_they_reach_the_target_together(self):
        run_command("--run", str(self.run.pk), "--evaluators", "3")
        test = ListeningTest.objects.get()
        self.assertEqual((test.ratings_per_sample, test.samples_per_session), (3, 4))
        self.assertEqual(test.evaluators.count(), 3)
        for evaluator in test.evaluators.all():
            self.assertEqual(len(services.assign(evaluator=evaluator)), 4)

    def test_fewer_ratings_per_clip_than_evaluators_split_the_clips_between_them(self):
        run_command("--run", str(self.run.pk), "--evaluators", "4", "--ratings-per-sample", "2")
        test = ListeningTest.objects.get()
        self.assertEqual((test.ratings_per_sample, test.samples_per_session), (2, 2))
        held = [len(services.assign(evaluator=evaluator)) for evaluator in test.evaluators.all()]
        self.assertEqual(held, [2, 2, 2, 2])

    def test_it_prints_the_test_the_dashboard_and_one_personal_link_per_evaluator(self):
        output = run_command(
            "--run", str(self.run.pk), "--evaluators", "3", "--name", "mos-june", "--base-url", BASE_URL
        )
        test = ListeningTest.objects.get(name="mos-june")
        self.assertIn(f"Run {self.run.pk}: study", output)
        self.assertIn("Created test mos-june", output)
        self.assertIn(f"Dashboard: {BASE_URL}/results/tests/{test.pk}/", output)
        self.assertIn("Invite links (3):", output)
        for evaluator in test.evaluators.all():
            self.assertIn(f"{evaluator.pseudonym}\t{BASE_URL}/t/i/{evaluator.token}/", output)
        self.assertEqual(len(re.findall(r"^R\d{3}\t", output, re.MULTILINE)), 3)

    def test_a_spanish_set_gets_the_spanish_scale_and_interface(self):
        spanish = finished_run(make_sentence_set(name="frases", texts=SPANISH, language="es"))
        run_command("--run", str(spanish.pk), "--evaluators", "2")
        test = ListeningTest.objects.get()
        self.assertEqual((test.scale.name, test.language), ("acr-es", "es"))

    def test_a_run_with_a_failed_item_makes_no_test_and_lists_the_errors(self):
        broken = finished_run(
            make_sentence_set(name="broken", texts=ENGLISH), failed="Model file problem: gone"
        )
        with self.assertRaises(CommandError) as raised:
            run_command("--run", str(broken.pk))
        message = str(raised.exception)
        self.assertIn("3 of 4 clips synthesised, 1 failed. No test was made of part of the set.", message)
        self.assertIn("1 × Model file problem: gone", message)
        self.assertIn(f"benchmark_tts_mos --run {broken.pk}", message)
        self.assertFalse(ListeningTest.objects.exists())


class ClaimsFromTheStudyTests(TestCase):
    def test_once_every_evaluator_has_rated_the_claims_page_shows_the_mos_of_each_style_and_dimension(self):
        run = finished_run(make_sentence_set(name="harvard-mini", texts=ENGLISH))
        run_command("--run", str(run.pk), "--evaluators", "3")
        test = ListeningTest.objects.get()
        for evaluator in test.evaluators.all():
            rate_as_invited(evaluator)
        self.assertEqual(Rating.objects.filter(dimension="overall").count(), 12)  # the target: 4 clips × 3
        self.assertEqual(claims.Sources().listening_test[0], test)
        expected = {
            "tts-mos-neutral": 4.5,
            "tts-mos-warm": 3.5,
            "tts-mos-clarity-neutral": 4.5,
            "tts-mos-naturalness-warm": 3.5,
            "tts-mos-expressiveness-neutral": 4.5,
            "tts-mos-artifacts-neutral": 3.5,
            "tts-mos-artifacts-warm": 2.5,
        }
        for key, mos in expected.items():
            row = claim(key)
            self.assertAlmostEqual(row["measured"].value, mos, msg=key)
            self.assertIn(f"listening test {test.name}", row["measured"].source)
        # Piper is not the design's talker: a figure, never a verdict.
        self.assertEqual(claim("tts-mos-warm")["verdict"], claims.NOT_COMPARABLE)


class BadInputTests(TestCase):
    def setUp(self):
        piper_joe()
        make_sentence_set(name="three", texts=(*ENGLISH, THIRD))

    def test_an_unknown_set_is_named(self):
        with self.assertRaisesMessage(CommandError, "No sentence set named 'nope'."):
            run_command("--set", "nope")

    def test_an_unknown_style_is_named(self):
        with self.assertRaisesMessage(CommandError, "Unknown style preset name(s): shouting."):
            run_command("--set", "three", "--limit", "2", "--styles", "neutral,shouting")

    def test_a_set_shorter_than_the_limit_is_refused_with_the_limit_that_would_work(self):
        with self.assertRaisesMessage(
            CommandError, "holds 3 sentences, fewer than --limit 100; pass --limit 3"
        ):
            run_command("--set", "three")

    def test_no_evaluators_or_more_ratings_per_clip_than_evaluators_are_refused(self):
        with self.assertRaisesMessage(CommandError, "--evaluators must be between 1 and 10000."):
            run_command("--set", "three", "--limit", "3", "--evaluators", "0")
        with self.assertRaisesMessage(
            CommandError, "--ratings-per-sample must be between 1 and --evaluators (2)."
        ):
            run_command("--set", "three", "--limit", "3", "--evaluators", "2", "--ratings-per-sample", "3")

    def test_a_sentence_set_mixing_languages_is_refused_before_synthesis(self):
        mixed = make_sentence_set(name="mixed", texts=SPANISH, language="es")
        mixed.sentences.filter(position=2).update(language="en")
        with self.assertRaisesMessage(
            CommandError, "The sentences are in en, es; a MOS test rates one language"
        ):
            run_command("--set", "mixed", "--limit", "2")
        self.assertFalse(SynthesisRun.objects.exists())

    def test_a_test_name_in_use_is_refused_before_synthesis(self):
        run_command(
            "--run", str(finished_run(make_sentence_set(name="two", texts=ENGLISH)).pk), "--name", "mos"
        )
        with self.assertRaisesMessage(CommandError, "A listening test named 'mos' exists already."):
            run_command("--set", "three", "--limit", "2", "--name", "mos")
        self.assertEqual(SynthesisRun.objects.count(), 1)

    def test_synthesis_options_are_refused_with_an_existing_run(self):
        run = finished_run(make_sentence_set(name="two", texts=ENGLISH))
        with self.assertRaisesMessage(CommandError, "--styles, --limit choose what to synthesise"):
            run_command("--run", str(run.pk), "--styles", "warm", "--limit", "2")


class SynthesisInThisProcessTests(TestCase):
    """--in-process after a real self-test whose Piper check failed: items fail at once, no model loads."""

    @classmethod
    def setUpTestData(cls):
        piper_joe()
        make_sentence_set(name="three", texts=(*ENGLISH, THIRD))
        cls.cache = Path(tempfile.mkdtemp(prefix="sarai-selftest-mos-"))
        selftest.ensure_report(cache_dir=cls.cache, engines=(FAILING_PIPER,))

    def run_failing(self, *args) -> str:
        with override_settings(SARAI_MODEL_CACHE=self.cache), self.assertRaises(CommandError) as raised:
            run_command(*args, "--in-process")
        return str(raised.exception)

    def test_the_first_sentences_are_synthesised_and_a_failed_engine_stops_before_any_test(self):
        message = self.run_failing("--set", "three", "--limit", "2")
        run = SynthesisRun.objects.get()
        subset = run.sentence_sets.get()
        self.assertEqual(subset.name, "three-2")
        self.assertEqual(list(subset.sentences.values_list("text", flat=True)), list(ENGLISH))
        self.assertEqual((run.total_count, run.failed_count), (4, 4))
        self.assertIn("4 × Engine self-test failed: the TTS engine (Piper) failed its check", message)
        self.assertFalse(ListeningTest.objects.exists())

    def test_a_subset_made_before_with_the_same_sentences_is_synthesised_again(self):
        made_before = make_sentence_set(name="three-2", texts=ENGLISH)
        self.run_failing("--set", "three", "--limit", "2")
        self.assertEqual(SynthesisRun.objects.get().sentence_sets.get(), made_before)

    def test_a_set_named_like_the_subset_but_holding_other_sentences_is_refused(self):
        make_sentence_set(name="three-2", texts=(ENGLISH[0], THIRD))
        message = self.run_failing("--set", "three", "--limit", "2")
        self.assertIn("A sentence set named 'three-2' exists but is not the first 2 of three.", message)
        self.assertFalse(SynthesisRun.objects.exists())


@pytest.mark.models
class RealStudyTests(TestCase):
    """The default models: the whole command in this process, from a sentence set to invite links."""

    def test_it_synthesises_both_styles_with_a_moving_bar_and_makes_the_test(self):
        call_command("load_demo", stdout=io.StringIO())
        make_sentence_set(name="three", texts=(*ENGLISH, THIRD))
        output = run_command("--set", "three", "--limit", "2", "--evaluators", "2", "--in-process")
        run = SynthesisRun.objects.get(mode="synthesis")
        self.assertEqual((run.status, run.done_count, run.failed_count), (Status.DONE, 4, 0))
        self.assertEqual(run.config.name, "piper-joe")
        states = [part for part in re.split(r"[\r\n]", output) if "|" in part]
        self.assertEqual(
            sorted({re.search(r"(\d+)/4", state).group(1) for state in states}), ["0", "1", "2", "3", "4"]
        )
        test = ListeningTest.objects.get()
        self.assertEqual(test.dimensions, DIMENSIONS)
        styles = sorted(test.test_samples.values_list("sample__style_label", flat=True))
        self.assertEqual(styles, ["neutral", "neutral", "warm", "warm"])
        self.assertEqual(len(re.findall(r"^R\d{3}\t\S+/t/i/\S+/$", output, re.MULTILINE)), 2)
