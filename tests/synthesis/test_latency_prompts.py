"""Latency runs on recorded prompts (a frozen spoken dataset) and the paired WER of two runs' turns."""

import io

import numpy as np
from django.core.management import CommandError, call_command
from django.test import TestCase

from synthesis import run_modes, services
from synthesis.engines import iterations
from synthesis.management.commands.benchmark_latency import Command, named_prompts
from synthesis.results import latency
from synthesis.results.stats import paired_error_rate_difference
from tests.factories import make_config, make_sentence_set, store_by_hand
from tests.factories.samples import make_dataset

TEXTS = ("The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background.")


class RecordedPromptTests(TestCase):
    def test_a_dataset_name_gives_its_utterances_in_order_with_their_audio(self):
        dataset = make_dataset(name="harvard-spoken", texts=TEXTS)
        prompts = named_prompts("harvard-spoken")
        self.assertEqual([p["prompt"] for p in prompts], list(TEXTS))
        first = dataset.utterances.order_by("position").first()
        self.assertEqual(prompts[0]["utterance"], first.pk)
        audio = run_modes.latency.recorded_prompt(first.pk)
        np.testing.assert_array_equal(audio, first.audio_16k())
        self.assertFalse(audio.flags.writeable)  # one decoded copy per process, shared by every turn

    def test_a_name_both_kinds_have_must_say_which(self):
        make_dataset(name="shared", texts=TEXTS)
        make_sentence_set(name="shared", texts=TEXTS)
        with self.assertRaisesRegex(CommandError, "say set:shared or dataset:shared"):
            named_prompts("shared")
        self.assertEqual(named_prompts("set:shared"), [(text, "en") for text in TEXTS])
        self.assertEqual(len(named_prompts("dataset:shared")), 2)
        with self.assertRaisesRegex(CommandError, "No sentence set or speech dataset named 'nothing'"):
            named_prompts("nothing")

    def test_the_plan_keeps_each_recorded_prompt_for_every_kind_of_turn(self):
        make_dataset(name="harvard-spoken", texts=TEXTS)
        plan = run_modes.latency.latency_plan(
            count=2, warmup=1, prompts=named_prompts("harvard-spoken"), streaming="both"
        )
        self.assertEqual(len(plan), 6)
        self.assertEqual({entry["kind"] for entry in plan[:2]}, {iterations.UNSTREAMED, iterations.STREAMING})
        self.assertEqual(plan[0]["utterance"], plan[1]["utterance"])
        self.assertNotEqual(plan[0]["utterance"], plan[2]["utterance"])


class PairedPromptWerTests(TestCase):
    def setUp(self):
        self.config = make_config()

    def run_with(self, errors: list[int]):
        """A latency run of streamed turns over TEXTS, counted turn n with errors[n] word errors."""
        plan = run_modes.latency.latency_plan(
            count=len(errors), warmup=1, prompts=[(t, "en") for t in TEXTS], streaming="on"
        )
        with self.captureOnCommitCallbacks(execute=False):
            run = services.start_run(name="bench", config=self.config, mode="latency", plan=plan)

        def figures(n, entry):
            counted = n - 1
            wrong = errors[counted] if counted >= 0 else 5  # the warm-up is not counted
            words = len(entry["prompt"].split())
            return iterations.STREAMING, {
                "first_audio_ms": 500.0,
                "prompt_words": words,
                "prompt_word_errors": wrong,
            }

        store_by_hand(run, figures)
        return run

    def test_turns_are_paired_by_prompt_and_occurrence_and_match_the_bootstrap_on_those_pairs(self):
        # Counted turns cycle TEXTS from the second entry: prompts 1, 0, 1, 0 (8 and 8 words).
        baseline = self.run_with([0, 1, 0, 0])
        faster = self.run_with([1, 1, 2, 0])
        d = latency.paired_prompt_wer(baseline, faster)
        self.assertEqual(d["n"], 4)
        self.assertAlmostEqual(d["rate_a"], 1 / 32)
        self.assertAlmostEqual(d["rate_b"], 4 / 32)
        self.assertAlmostEqual(d["difference"], 3 / 32)
        # The same pairs, ordered as the function orders them, through the bootstrap directly.
        keys = sorted([(TEXTS[1], 0), (TEXTS[0], 0), (TEXTS[1], 1), (TEXTS[0], 1)], key=str)
        by_key = {(TEXTS[1], 0): (0, 1), (TEXTS[0], 0): (1, 1), (TEXTS[1], 1): (0, 2), (TEXTS[0], 1): (0, 0)}
        direct = paired_error_rate_difference(
            [by_key[k][0] for k in keys], [by_key[k][1] for k in keys], [8, 8, 8, 8]
        )
        self.assertEqual((d["low"], d["high"]), (direct["low"], direct["high"]))

    def test_the_command_prints_the_paired_difference_against_a_baseline_run(self):
        baseline = self.run_with([0, 0])
        run = self.run_with([2, 0])
        out = io.StringIO()
        command = Command(stdout=out)
        command.report_paired_wer(baseline, run)
        self.assertIn("2 prompts heard by both", out.getvalue())
        self.assertIn("difference +12.50 points, 95 % CI [", out.getvalue())

    def test_an_unknown_baseline_run_is_refused_before_anything_runs(self):
        with self.assertRaisesRegex(CommandError, "No latency run 999999"):
            call_command(
                "benchmark_latency", "--baseline-run", "999999", "--in-process", stdout=io.StringIO()
            )
