"""A pool process that dies on an item: the item names the stage and signal; cancel stops between stages."""

import socket

import pytest
from django.test import TestCase
from django.urls import reverse

from synthesis import services
from synthesis.engines import pipeline
from synthesis.engines.settings import PipelineSettings
from synthesis.models import RunItem, Status
from synthesis.services import items
from tests.factories import make_admin, make_config, make_sentence_set, style

# conditional UPDATE claims and leases of run items: repeated on PostgreSQL + Redis
pytestmark = pytest.mark.backends

SIGILL_EXIT = "Worker exited prematurely: signal 4 (SIGILL) Job: 3."
SIGKILL_EXIT = "Worker exited prematurely: signal 9 (SIGKILL) Job: 3."


class WorkerCrashTests(TestCase):
    def setUp(self):
        with self.captureOnCommitCallbacks(execute=False):
            self.run_ = services.start_run(
                name="conv",
                config=make_config(),
                sentence_sets=[make_sentence_set(texts=("Hello.", "Goodbye."))],
                styles=[style("neutral")],
                mode="conversation",
            )
        first_id = self.run_.items.order_by("pk").values_list("pk", flat=True)[0]
        self.item = services.claim_item(item_id=first_id, worker="host-a:4242")
        RunItem.objects.filter(pk=self.item.pk).update(stage="llm")

    def test_a_sigill_fails_the_item_at_once_naming_the_stage_and_the_signal(self):
        services.record_worker_crash(item_id=self.item.pk, exit_description=SIGILL_EXIT)
        self.item.refresh_from_db()
        self.assertEqual(self.item.status, Status.FAILED)
        self.assertIn(
            "died with SIGILL (illegal instruction) during the LLM reply stage (llama.cpp)", self.item.error
        )
        self.assertIn("manage.py doctor", self.item.error)

    def test_a_sigkill_sends_the_item_again_with_the_cause_recorded(self):
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            services.record_worker_crash(item_id=self.item.pk, exit_description=SIGKILL_EXIT)
        self.item.refresh_from_db()
        self.assertEqual(self.item.status, Status.QUEUED)
        self.assertIn("SIGKILL (killed) during the LLM reply stage", self.item.error)
        self.assertEqual(len(callbacks), 1)

    def test_the_last_allowed_attempt_gives_up_with_the_cause(self):
        RunItem.objects.filter(pk=self.item.pk).update(attempts=services.MAX_ATTEMPTS)
        services.record_worker_crash(item_id=self.item.pk, exit_description=SIGKILL_EXIT)
        self.item.refresh_from_db()
        self.assertEqual(self.item.status, Status.FAILED)
        self.assertIn(f"Gave up after {services.MAX_ATTEMPTS} attempts", self.item.error)
        self.assertIn("SIGKILL", self.item.error)

    def test_the_run_page_shows_the_crash(self):
        services.record_worker_crash(item_id=self.item.pk, exit_description=SIGILL_EXIT)
        self.client.force_login(make_admin())
        page = self.client.get(reverse("synthesis:run_samples", args=[self.run_.pk]))
        self.assertContains(page, "SIGILL (illegal instruction) during the LLM reply stage (llama.cpp)")

    def test_a_crash_report_for_an_item_no_longer_running_changes_nothing(self):
        RunItem.objects.filter(pk=self.item.pk).update(status=Status.DONE)
        services.record_worker_crash(item_id=self.item.pk, exit_description=SIGILL_EXIT)
        self.item.refresh_from_db()
        self.assertEqual((self.item.status, self.item.error), (Status.DONE, ""))

    def test_a_running_item_stops_at_its_next_stage_once_the_run_is_cancelled(self):
        recorder = items._stage_recorder(self.item)
        recorder("tts")
        self.assertEqual(RunItem.objects.get(pk=self.item.pk).stage, "tts")
        queued, running = services.cancel_run(run=self.run_)
        self.assertEqual((queued, running), (1, 1))
        with self.assertRaises(services.ItemStopped):
            recorder("asr")
        items._stop_item(self.item)
        self.item.refresh_from_db()
        self.assertEqual(self.item.status, Status.CANCELLED)

    def test_a_running_item_of_a_cancelled_run_whose_worker_died_is_closed_by_the_periodic_check(self):
        services.cancel_run(run=self.run_)
        RunItem.objects.filter(pk=self.item.pk).update(claimed_by=f"{socket.gethostname()}:999999999")
        with self.captureOnCommitCallbacks(execute=False):
            services.requeue_stale_items()
        self.item.refresh_from_db()
        self.assertEqual(self.item.status, Status.CANCELLED)

    def test_stage_descriptions_name_the_engine(self):
        config = PipelineSettings(tts_backend="piper")
        self.assertEqual(pipeline.stage_description("tts", config), "the TTS stage (piper)")
        self.assertEqual(pipeline.stage_description("", config), "its set-up, before the first stage")
