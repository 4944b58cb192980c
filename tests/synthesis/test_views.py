from django.contrib.auth import get_user_model
from django.test import TestCase
from django.urls import reverse

from synthesis.models import PipelineConfig, RunItem, SentenceSet, Status, StylePreset, SynthesisRun
from tests.factories import make_admin, make_config, make_sample, make_sentence_set


class RunPagesTests(TestCase):
    def setUp(self):
        self.client.force_login(make_admin())
        self.sentence_set = make_sentence_set(texts=("One.", "Two."))
        self.config = make_config()

    def test_queueing_a_run_creates_items_for_each_sentence_and_style_and_enqueues_them(self):
        styles = StylePreset.objects.filter(name__in=["neutral", "warm"])
        with self.captureOnCommitCallbacks(execute=False) as callbacks:
            response = self.client.post(
                reverse("synthesis:run_new"),
                {
                    "name": "demo",
                    "mode": "synthesis",
                    "config": self.config.pk,
                    "sentence_sets": [self.sentence_set.pk],
                    "styles": [s.pk for s in styles],
                },
            )
        run = SynthesisRun.objects.get()
        self.assertRedirects(response, reverse("synthesis:run_detail", args=[run.pk]))
        self.assertEqual((run.total_count, run.items.count(), len(callbacks)), (4, 4, 4))
        self.assertEqual(run.config_snapshot["stt_model"], "whisper-base")
        self.assertEqual(set(run.style_snapshot), {"neutral", "warm"})

    def test_the_run_page_and_its_progress_feed_show_persisted_counts(self):
        run = SynthesisRun.objects.create(
            name="r", config=self.config, total_count=4, done_count=1, failed_count=1, status=Status.RUNNING
        )
        page = self.client.get(reverse("synthesis:run_detail", args=[run.pk]))
        self.assertContains(page, 'role="progressbar"')
        progress = self.client.get(reverse("synthesis:run_progress", args=[run.pk])).json()
        self.assertEqual((progress["done"], progress["failed"], progress["total"]), (1, 1, 4))
        self.assertFalse(progress["finished"])

    def test_the_samples_fragment_lists_samples_with_measurements_and_failed_items(self):
        run = SynthesisRun.objects.create(name="r", config=self.config, total_count=2)
        sentence = self.sentence_set.sentences.first()
        make_sample(sentence=sentence, run=run, wer=0.125, dnsmos_ovrl=3.21, tts_ms=150.0)
        RunItem.objects.create(
            run=run,
            sentence=sentence,
            style=StylePreset.objects.get(name="warm"),
            status=Status.FAILED,
            error="ModelFileError: voice /x.onnx not found",
        )
        page = self.client.get(reverse("synthesis:run_samples", args=[run.pk]))
        self.assertContains(page, "0.125")
        self.assertContains(page, "3.21")
        self.assertContains(page, "voice /x.onnx not found")
        self.assertContains(page, "<audio controls")

    def test_a_sample_plays_for_staff(self):
        sample = make_sample()
        response = self.client.get(reverse("synthesis:sample_audio", args=[sample.pk]))
        self.assertEqual(response["Content-Type"], "audio/wav")
        self.assertEqual(b"".join(response.streaming_content)[:4], b"RIFF")


class RunPagePermissionTests(TestCase):
    def test_a_user_without_permissions_cannot_see_or_queue_runs(self):
        user = get_user_model().objects.create_user("visitor", password="pw-visitor-1")
        self.client.force_login(user)
        self.assertEqual(self.client.get(reverse("synthesis:home")).status_code, 403)
        self.assertEqual(self.client.get(reverse("synthesis:run_new")).status_code, 403)

    def test_anonymous_visitors_are_sent_to_the_login_page(self):
        response = self.client.get(reverse("synthesis:home"))
        self.assertEqual(response.status_code, 302)
        self.assertTrue(response["Location"].startswith(reverse("login")))

    def test_an_empty_sentence_set_is_refused_with_a_message(self):
        self.client.force_login(make_admin())
        empty = SentenceSet.objects.create(name="empty")
        response = self.client.post(
            reverse("synthesis:run_new"),
            {
                "name": "x",
                "mode": "synthesis",
                "config": PipelineConfig.objects.create(name="c", system_label="c").pk,
                "sentence_sets": [empty.pk],
                "styles": [StylePreset.objects.get(name="neutral").pk],
            },
        )
        self.assertContains(response, "hold no sentences")
        self.assertFalse(SynthesisRun.objects.exists())
