"""Cancelling a run: a confirmation first, queued items stop at once, running ones at their next stage."""

import pytest
from django.test import TestCase
from django.urls import reverse

from synthesis import services
from synthesis.models import Status, SynthesisRun
from tests.factories import make_admin, make_run

pytestmark = pytest.mark.backends  # conditional UPDATE claims of run items: repeated on PostgreSQL + Redis


class CancelRunServiceTests(TestCase):
    def test_queued_items_stop_at_once_and_running_ones_are_counted_apart(self):
        run = make_run(queued=2, running=4, done=1)
        self.assertEqual(services.cancel_run(run=run), (2, 4))
        counts = run.items.status_counts()
        self.assertEqual((counts[Status.CANCELLED], counts[Status.RUNNING], counts[Status.DONE]), (2, 4, 1))


class CancelRunPageTests(TestCase):
    def setUp(self):
        self.client.force_login(make_admin())
        self.run = make_run(queued=2, running=4)
        self.url = reverse("synthesis:run_cancel", args=[self.run.pk])

    def test_the_run_page_asks_before_cancelling(self):
        page = self.client.get(reverse("synthesis:run_detail", args=[self.run.pk]))
        self.assertContains(page, 'data-confirm="Cancel this run?')
        self.assertContains(page, "js/confirm.js")

    def test_without_javascript_the_button_leads_to_a_confirmation_page_that_cancels_nothing(self):
        for response in (self.client.post(self.url), self.client.get(self.url)):
            self.assertContains(response, "2 queued items will stop at once.")
            self.assertContains(response, "4 running items will stop at their next stage")
            self.assertContains(response, 'name="confirm" value="yes"')
        self.run.refresh_from_db()
        self.assertEqual(self.run.status, Status.RUNNING)

    def test_confirming_cancels_and_reports_both_counts(self):
        response = self.client.post(self.url, {"confirm": "yes"}, follow=True)
        self.assertContains(
            response, "Cancelled 2 queued items; 4 running items will stop at their next stage."
        )
        self.run.refresh_from_db()
        self.assertEqual(self.run.status, Status.CANCELLED)

    def test_one_of_each_is_counted_in_the_singular(self):
        run = make_run(queued=1, running=1)
        response = self.client.post(
            reverse("synthesis:run_cancel", args=[run.pk]), {"confirm": "yes"}, follow=True
        )
        self.assertContains(response, "Cancelled 1 queued item; 1 running item will stop at its next stage.")

    def test_a_run_that_has_ended_is_not_cancelled_again(self):
        SynthesisRun.objects.filter(pk=self.run.pk).update(status=Status.DONE)
        self.assertContains(self.client.get(self.url), "there is nothing to cancel")
        response = self.client.post(self.url, {"confirm": "yes"}, follow=True)
        self.assertContains(response, "The run had already ended (done).")
        self.run.refresh_from_db()
        self.assertEqual(self.run.status, Status.DONE)
