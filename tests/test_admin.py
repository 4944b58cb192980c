from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase
from django.urls import reverse

from annotations import models as annotation_models
from synthesis.models import SentenceSet
from tests.factories import make_admin, make_evaluator, make_sample, make_test, rate


class AdminPagesTests(TestCase):
    def setUp(self):
        self.client.force_login(make_admin())
        test = make_test()
        rate(make_evaluator(test), make_sample(), 4)

    def test_every_model_has_a_working_list_and_add_page(self):
        for model in [
            *apps.get_app_config("synthesis").get_models(),
            *apps.get_app_config("annotations").get_models(),
        ]:
            meta = model._meta
            with self.subTest(model=meta.label):
                response = self.client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
                self.assertEqual(response.status_code, 200)
                response = self.client.get(reverse(f"admin:{meta.app_label}_{meta.model_name}_add"))
                # Clips and trials are made only by create_test (tokens, playback copies), analyses
                # by the dashboard's queue, clip fetches by serving audio and screen trials by the
                # headphone screen, rate-limit counts by the evaluator pages: no add page.
                made_by_create_test = {
                    annotation_models.TestSample,
                    annotation_models.Trial,
                    annotation_models.TrialClip,
                    annotation_models.Analysis,
                    annotation_models.ClipFetch,
                    annotation_models.ScreenTrial,
                    annotation_models.RequestCount,
                }
                self.assertEqual(response.status_code, 403 if model in made_by_create_test else 200)

    def test_the_import_page_creates_a_sentence_set(self):
        upload = SimpleUploadedFile("lines.txt", b"Uno.\nDos.\n")
        response = self.client.post(
            reverse("admin:synthesis_sentenceset_import"),
            {"name": "numbers", "language": "es", "file": upload},
        )
        self.assertEqual(response.status_code, 302)
        self.assertEqual(SentenceSet.objects.get(name="numbers").sentences.count(), 2)

    def test_importing_one_sentence_says_so_in_the_singular(self):
        upload = SimpleUploadedFile("lines.txt", b"Uno.\n")
        response = self.client.post(
            reverse("admin:synthesis_sentenceset_import"),
            {"name": "single", "language": "es", "file": upload},
            follow=True,
        )
        self.assertContains(response, "Imported 1 sentence.")

    def test_opening_one_test_says_so_in_the_singular(self):
        test = annotation_models.ListeningTest.objects.get()
        response = self.client.post(
            reverse("admin:annotations_listeningtest_changelist"),
            {"action": "open_tests", "index": 0, "_selected_action": [test.pk]},
            follow=True,
        )
        self.assertContains(response, "Opened 1 test.")

    def test_the_import_page_shows_the_bad_line(self):
        upload = SimpleUploadedFile("lines.txt", b"One.\n\nThree.\n")
        response = self.client.post(
            reverse("admin:synthesis_sentenceset_import"), {"name": "gappy", "language": "en", "file": upload}
        )
        self.assertContains(response, "Line 2 is empty")
        self.assertFalse(SentenceSet.objects.filter(name="gappy").exists())


class QueueRunActionTests(TestCase):
    def test_the_sentence_set_action_opens_the_run_form_with_the_sets_chosen(self):
        self.client.force_login(make_admin())
        first = SentenceSet.objects.create(name="first")
        response = self.client.post(
            reverse("admin:synthesis_sentenceset_changelist"),
            {"action": "queue_run", "index": 0, "_selected_action": [first.pk]},
        )
        self.assertEqual(response.status_code, 302)
        form_page = self.client.get(response["Location"])
        self.assertRegex(form_page.content.decode(), rf'<input[^>]*value="{first.pk}"[^>]*checked')
        # Named as the synthesize command names runs, after the chosen sets and the default styles.
        self.assertEqual(form_page.context["form"]["name"].value(), "first × neutral,warm")


class LargeSentenceSetAdminTests(TestCase):
    def setUp(self):
        self.client.force_login(make_admin())
        lines = "".join(f"Sentence number {n}.\n" for n in range(1, 722))
        upload = SimpleUploadedFile("many.txt", lines.encode())
        self.client.post(
            reverse("admin:synthesis_sentenceset_import"), {"name": "many", "language": "en", "file": upload}
        )
        self.sentence_set = SentenceSet.objects.get(name="many")

    def test_a_set_too_large_for_one_form_can_still_be_saved_and_links_to_its_sentences(self):
        url = reverse("admin:synthesis_sentenceset_change", args=[self.sentence_set.pk])
        page = self.client.get(url)
        self.assertContains(page, "721 sentences")
        self.assertNotContains(page, "sentences-TOTAL_FORMS")
        response = self.client.post(
            url,
            {
                "name": "many",
                "description": "Renamed description.",
                "created_at_0": "2026-01-01",
                "created_at_1": "10:00:00",
            },
        )
        self.assertEqual(response.status_code, 302, response.context and response.context["errors"])
        self.sentence_set.refresh_from_db()
        self.assertEqual(self.sentence_set.description, "Renamed description.")
        self.assertEqual(self.sentence_set.sentences.count(), 721)
