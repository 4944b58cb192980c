"""The demos' simulated sessions read like people's: every rater takes the headphone screen, and consent,
the screen, the answers and the end come in that order, after the test was created."""

import io

from django.core.management import call_command
from django.test import TestCase, override_settings
from django.urls import reverse

from annotations.demo import AB_NAME, CMOS_NAME, INTELLIGIBILITY_NAME, MUSHRA_NAME, NAME
from annotations.headphone_screen import screen_results
from annotations.models import ListeningTest
from tests.factories import VAR_DIR, make_researcher, simulated_acr_demo

DEMOS = (NAME, CMOS_NAME, AB_NAME, MUSHRA_NAME, INTELLIGIBILITY_NAME)


@override_settings(VAR_DIR=VAR_DIR)
class DemoSessionTests(TestCase):
    @classmethod
    def setUpTestData(cls):
        simulated_acr_demo(sentences=2, good=4)
        call_command("simulate_ratings", if_missing=True, no_analysis=True, raters=4, stdout=io.StringIO())

    def setUp(self):
        self.client.force_login(make_researcher())

    def test_every_rater_of_every_demo_passed_the_headphone_screen(self):
        for name in DEMOS:
            test = ListeningTest.objects.get(name=name)
            results = screen_results(test=test)
            self.assertEqual(len(results), test.evaluators.count(), name)
            self.assertEqual({result.result for result in results.values()}, {"passed"}, name)
            page = self.client.get(reverse("results:test", args=[test.pk]))
            self.assertNotContains(page, "rated without taking the headphone screen", msg_prefix=name)
            screen = page.context["r"]["headphone_screen"]
            self.assertEqual((screen["took"], screen["passed"]), (len(results), len(results)), name)
