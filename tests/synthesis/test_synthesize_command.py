"""manage.py synthesize: the progress bar of a run in this process (real models, espeak-ng voice)."""

import io
import re

import pytest
from django.core.management import call_command
from django.test import TestCase

from synthesis.models import Status, SynthesisRun
from tests.factories import make_config, make_sentence_set

pytestmark = pytest.mark.models  # real models or a real browser: left out by make test-fast

RATE = re.compile(r"(\d+(?:\.\d+)?)(s/item|item/s)")


def bar_states(output: str) -> list[str]:
    """Every state tqdm drew, in order (it redraws the line after a carriage return)."""
    return [part.strip() for part in re.split(r"[\r\n]", output) if "|" in part]


def seconds_per_item(state: str) -> float:
    value, unit = RATE.search(state).groups()
    return float(value) if unit == "s/item" else 1 / float(value)


class InProcessProgressTests(TestCase):
    def test_the_bar_moves_as_each_item_ends_at_the_rate_the_items_took(self):
        make_sentence_set(name="two", texts=("Good morning to you.", "See you tomorrow."))
        make_config("espeak", tts_backend="espeak-ng", tts_voice="default", stt_model="whisper-tiny.en")
        out = io.StringIO()
        call_command(
            "synthesize",
            "--set",
            "two",
            "--styles",
            "neutral",
            "--config",
            "espeak",
            "--in-process",
            stdout=out,
            stderr=io.StringIO(),
        )
        run = SynthesisRun.objects.get()
        self.assertEqual((run.status, run.done_count), (Status.DONE, 2))
        states = bar_states(out.getvalue())
        counts = [re.search(r"(\d+)/2", state).group(1) for state in states]
        self.assertEqual(sorted(set(counts)), ["0", "1", "2"])  # drawn at 0, after item 1, after item 2
        self.assertLess(counts.index("1"), counts.index("2"))
        # The rate covers the items' work: at least the mean time an item took, not a bar that
        # appeared after the work was done (which showed thousands of items per second).
        item_seconds = [(item.finished_at - item.started_at).total_seconds() for item in run.items.all()]
        final = [state for state in states if "2/2" in state][-1]
        self.assertGreaterEqual(seconds_per_item(final), 0.9 * sum(item_seconds) / 2)
