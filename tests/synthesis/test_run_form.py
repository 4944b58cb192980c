"""The form that queues a run: its name defaults the way the synthesize command names runs."""

import io

from django.core.management import call_command
from django.test import TestCase
from django.urls import reverse

from synthesis.models import StylePreset, SynthesisRun
from tests.factories import make_admin, make_config, make_dataset, make_sentence_set


class RunNameTests(TestCase):
    def setUp(self):
        self.client.force_login(make_admin())
        self.sentence_set = make_sentence_set(name="demo-en", texts=("One.",))
        self.config = make_config("piper-joe")

    def test_the_form_opened_for_a_set_offers_a_name_already(self):
        page = self.client.get(reverse("synthesis:run_new"), {"set": self.sentence_set.pk})
        self.assertEqual(page.context["form"]["name"].value(), "demo-en × neutral,warm")
        self.assertFalse(page.context["form"].fields["name"].required)

    def test_a_run_queued_without_a_name_is_named_after_its_sets_and_styles(self):
        with self.captureOnCommitCallbacks(execute=False):
            self.client.post(
                reverse("synthesis:run_new"),
                {
                    "name": "",
                    "mode": "synthesis",
                    "config": self.config.pk,
                    "sentence_sets": [self.sentence_set.pk],
                    "styles": [StylePreset.objects.get(name="warm").pk],
                },
            )
        self.assertEqual(SynthesisRun.objects.get().name, "demo-en × warm")

    def test_the_command_line_names_its_runs_the_same_way(self):
        with self.captureOnCommitCallbacks(execute=False):
            call_command(
                "synthesize",
                "--set",
                "demo-en",
                "--styles",
                "warm",
                "--config",
                "piper-joe",
                "--no-wait",
                stdout=io.StringIO(),
                stderr=io.StringIO(),
            )
        self.assertEqual(SynthesisRun.objects.get().name, "demo-en × warm")


class DatasetRunFormTests(TestCase):
    def setUp(self):
        self.client.force_login(make_admin())
        self.config = make_config("piper-joe")
        self.dataset = make_dataset(name="cv-es-dev")

    def post(self, **fields):
        data = {"name": "", "mode": "stt-wer", "config": self.config.pk, **fields}
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            response = self.client.post(reverse("synthesis:run_new"), data)
        return response, callbacks

    def test_an_stt_wer_run_is_queued_over_the_chosen_dataset_one_item_per_utterance(self):
        response, callbacks = self.post(dataset=self.dataset.pk)
        run = SynthesisRun.objects.get()
        self.assertRedirects(response, reverse("synthesis:run_detail", args=[run.pk]))
        self.assertEqual((run.dataset, run.name), (self.dataset, "cv-es-dev · stt-wer"))
        self.assertEqual(run.total_count, self.dataset.utterances.count())
        self.assertEqual(len(callbacks), run.total_count)

    def test_an_stt_wer_run_without_a_dataset_is_refused_on_the_form(self):
        response, _ = self.post()
        self.assertContains(response, "This mode runs over a speech dataset: choose one.")
        self.assertFalse(SynthesisRun.objects.exists())

    def test_a_synthesis_run_still_needs_sentence_sets_and_styles(self):
        response, _ = self.post(mode="synthesis", dataset=self.dataset.pk)
        self.assertContains(response, "Choose at least one.", count=2)
        self.assertFalse(SynthesisRun.objects.exists())
