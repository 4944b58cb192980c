from datetime import timedelta

import pytest
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from annotations.models import ListeningTest
from tests.factories import (
    build_test,
    make_admin,
    make_evaluator,
    make_researcher,
    make_sample,
    make_samples,
    rate,
)

# progress counted in SQL (JSON key lookups, casts, subqueries): repeated on PostgreSQL + Redis
pytestmark = pytest.mark.backends

LIST_URL = "/t/manage/"


class TestListTests(TestCase):
    def setUp(self):
        self.client.force_login(make_admin())

    def test_the_list_is_at_t_manage_and_the_navigation_leads_there(self):
        self.assertEqual(reverse("annotations:test_list"), LIST_URL)
        page = self.client.get(reverse("synthesis:home"))
        self.assertContains(page, f'<a href="{LIST_URL}">Tests</a>', html=True)
        self.assertContains(self.client.get(LIST_URL), "No listening tests yet.")

    def test_each_test_shows_its_status_and_links_and_the_open_link_only_when_it_is_on(self):
        crowd = build_test("crowd", samples=make_samples(set_name="c"), allow_open_link=True)
        lab = build_test("lab", samples=make_samples(set_name="l"), state=ListeningTest.State.CLOSED)
        page = self.client.get(LIST_URL)
        for test in (crowd, lab):
            self.assertContains(page, reverse("annotations:test_detail", args=[test.pk]))
            self.assertContains(page, reverse("results:test", args=[test.pk]))
        self.assertContains(
            page, f"http://testserver/t/o/{crowd.open_token}/?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}"
        )
        self.assertNotContains(page, lab.open_token)
        self.assertContains(page, '<td class="status-open">Open</td>', html=True)
        self.assertContains(page, '<td class="status-closed">Closed</td>', html=True)
        self.assertContains(page, reverse("annotations:test_new"))

    def test_an_open_test_past_its_expiry_is_shown_closed(self):
        when = timezone.now() - timedelta(days=1)
        build_test(expires_at=when)
        page = self.client.get(LIST_URL)
        self.assertContains(page, f"Closed (expired {timezone.localtime(when):%Y-%m-%d %H:%M})")

    def test_progress_counts_evaluators_and_main_dimension_ratings_of_test_clips_against_the_target(self):
        samples = make_samples()
        gold = make_sample(system_label="anchor")
        test = build_test(
            samples=samples, gold={gold: 5}, ratings_per_sample=3, dimensions=["clarity", "overall"]
        )
        finished = make_evaluator(test, "R001", finished_at=timezone.now())
        make_evaluator(test, "R002")
        for sample in samples[:4]:
            rate(finished, sample, 4, dimension="clarity")
            rate(finished, sample, 4, dimension="overall")
        rate(finished, gold, 5, dimension="clarity")  # gold clips never count towards progress
        test = ListeningTest.objects.with_progress().get(pk=test.pk)
        self.assertEqual((test.n_finished, test.n_evaluators), (1, 2))
        self.assertEqual((test.n_collected, test.n_target), (4, 18))
        self.assertContains(self.client.get(LIST_URL), '<td class="num">4 / 18</td>', html=True)

    def test_the_list_costs_the_same_queries_for_one_test_or_many(self):
        build_test("first", samples=make_samples(set_name="a"), allow_open_link=True)
        with CaptureQueriesContext(connection) as one:
            self.client.get(LIST_URL)
        for name in ("second", "third"):
            test = build_test(name, samples=make_samples(set_name=name), allow_open_link=True)
            rate(make_evaluator(test), test.test_samples.first().sample, 3)
        with CaptureQueriesContext(connection) as three:
            page = self.client.get(LIST_URL)
        self.assertContains(page, "third")
        self.assertEqual(len(three), len(one))


class TestListAccessTests(TestCase):
    def test_researchers_see_the_list_without_the_create_button_and_others_are_turned_away(self):
        build_test()
        self.assertTrue(self.client.get(LIST_URL)["Location"].startswith(reverse("login")))
        self.client.force_login(make_researcher())
        page = self.client.get(LIST_URL)
        self.assertContains(page, "mos-test")
        self.assertNotContains(page, reverse("annotations:test_new"))
