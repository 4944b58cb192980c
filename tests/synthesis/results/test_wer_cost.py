"""What a WER run cost: per-utterance wall time, the run's wall and its worker processes."""

from datetime import timedelta

from django.test import TestCase
from django.utils import timezone

from synthesis.models import RunItem, Status
from synthesis.results import wer
from tests.factories import wer_run


class RunCostTests(TestCase):
    def test_two_processes_side_by_side_count_as_two_workers_over_the_runs_wall(self):
        run = wer_run(stt_model="base", errors=0)
        start = timezone.now()
        # Ten utterances of 100 ms STT each, five per process, back to back: 0.5 s of wall.
        for index, item in enumerate(RunItem.objects.filter(run=run).order_by("pk")):
            begun = start + timedelta(milliseconds=100 * (index // 2))
            item.started_at, item.finished_at = begun, begun + timedelta(milliseconds=100)
            item.claimed_by = f"host:{index % 2}"
            item.save()
        cost = wer.run_cost(run)
        self.assertEqual((cost["n"], cost["workers"]), (10, 2))
        self.assertAlmostEqual(cost["wall_s"], 0.5)
        self.assertAlmostEqual(cost["stt_ms_total"], 1000)
        self.assertTrue(all(abs(ms - 100) < 1e-6 for ms in cost["item_ms"].values()))

    def test_failed_items_are_not_counted(self):
        run = wer_run(stt_model="base", errors=0)
        now = timezone.now()
        RunItem.objects.filter(run=run).update(started_at=now, finished_at=now + timedelta(seconds=1))
        RunItem.objects.filter(pk=RunItem.objects.filter(run=run).first().pk).update(status=Status.FAILED)
        self.assertEqual(wer.run_cost(run)["n"], 9)
