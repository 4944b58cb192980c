import io
import zipfile

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import TestCase
from django.urls import reverse

from annotations.models import Evaluator, ListeningTest, Scale
from synthesis.models import Sample, SynthesisRun
from tests.annotations.helpers import build_test, make_clip, make_samples
from tests.factories import make_admin, make_config, tone_wav


def make_run_with_samples(name: str = "run-a") -> tuple[SynthesisRun, list[Sample]]:
    run = SynthesisRun.objects.create(name=name, config=make_config(f"cfg-{name}"))
    samples = make_samples(set_name=f"set-{name}")
    Sample.objects.filter(pk__in=[s.pk for s in samples]).update(run=run, origin=Sample.Origin.SYNTHESIZED)
    return run, samples


class CreateTestPageTests(TestCase):
    def setUp(self):
        self.client.force_login(make_admin())
        self.run, self.samples = make_run_with_samples()
        self.reference = make_clip(system_label="human", origin=Sample.Origin.REFERENCE, freq=600)

    def form_data(self, **changes) -> dict:
        data = {
            "name": "mos-1",
            "runs": [self.run.pk],
            "scale": Scale.objects.get(name="acr-es").pk,
            "dimensions": "overall, clarity",
            "ratings_per_sample": 8,
            "samples_per_session": 4,
            "gold_per_session": 1,
            "traps_per_session": 1,
            "language": "es",
            "instructions": "Escuche con atención.",
        }
        data.update(changes)
        return data

    def test_a_researcher_creates_a_test_from_a_run_with_references_as_gold(self):
        url = reverse("annotations:test_new") + f"?run={self.run.pk}"
        self.assertContains(self.client.get(url), "New listening test")
        data = self.form_data(
            systems=["human"],
            references_as_gold="on",
            traps=f"{self.samples[0].pk}=2",
            training=str(self.samples[1].pk),
        )
        response = self.client.post(reverse("annotations:test_new"), data)
        test = ListeningTest.objects.get(name="mos-1")
        self.assertRedirects(response, reverse("annotations:test_detail", args=[test.pk]))
        kinds = dict(test.test_samples.values_list("sample_id", "kind"))
        self.assertEqual(kinds[self.reference.pk], "gold")
        self.assertEqual(kinds[self.samples[0].pk], "trap")
        self.assertEqual(kinds[self.samples[1].pk], "training")
        self.assertEqual(list(kinds.values()).count("test"), 4)
        self.assertEqual((test.language, test.dimensions, test.state), ("es", ["overall", "clarity"], "open"))

    def test_the_form_explains_bad_gold_and_trap_entries(self):
        response = self.client.post(reverse("annotations:test_new"), self.form_data(gold="12=9"))
        self.assertContains(response, "must be 1 to 5")
        response = self.client.post(reverse("annotations:test_new"), self.form_data(traps="999999=2"))
        self.assertContains(response, "No sample with id 999999")
        self.assertFalse(ListeningTest.objects.exists())

    def test_the_scale_must_speak_the_interface_language(self):
        data = self.form_data(scale=Scale.objects.get(name="acr-en").pk)
        response = self.client.post(reverse("annotations:test_new"), data)
        self.assertContains(
            response, "This scale&#x27;s labels are in &#x27;en&#x27;; choose one in &#x27;es&#x27;."
        )
        self.assertFalse(ListeningTest.objects.exists())

    def test_the_form_needs_samples_to_rate(self):
        response = self.client.post(reverse("annotations:test_new"), self.form_data(runs=[]))
        self.assertContains(response, "Choose at least one sample to rate")

    def test_the_test_page_creates_and_lists_invite_links(self):
        test = build_test(samples=make_samples(set_name="other"), allow_open_link=True)
        response = self.client.post(reverse("annotations:test_invite", args=[test.pk]), {"count": 3})
        self.assertRedirects(response, reverse("annotations:test_detail", args=[test.pk]))
        page = self.client.get(reverse("annotations:test_detail", args=[test.pk]))
        for evaluator in Evaluator.objects.filter(test=test):
            self.assertContains(page, f"http://testserver/t/i/{evaluator.token}/")
        self.assertContains(page, f"/t/o/{test.open_token}/?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}")
        self.assertEqual(Evaluator.objects.filter(test=test).count(), 3)

    def test_the_import_page_imports_a_zip_of_external_samples(self):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("manifest.csv", "file,text\nx.wav,Hi.\n")
            archive.writestr("x.wav", tone_wav())
        upload = SimpleUploadedFile("clips.zip", buffer.getvalue())
        response = self.client.post(
            reverse("annotations:sample_import"),
            {"archive": upload, "system_label": "vendor-tts", "origin": "imported"},
        )
        self.assertRedirects(response, reverse("annotations:test_new"))
        self.assertTrue(Sample.objects.filter(system_label="vendor-tts", origin="imported").exists())

    def test_the_import_page_shows_the_bad_manifest_line(self):
        upload = SimpleUploadedFile("clips.zip", b"PK-not-really")
        response = self.client.post(
            reverse("annotations:sample_import"), {"archive": upload, "origin": "imported"}
        )
        self.assertContains(response, "not a readable zip archive")

    def test_the_admin_lists_tests_with_a_link_to_create_one_and_shows_invite_links(self):
        test = build_test(samples=make_samples(set_name="other"))
        evaluator = Evaluator.objects.create(test=test, pseudonym="R001")
        changelist = self.client.get(reverse("admin:annotations_listeningtest_changelist"))
        self.assertContains(changelist, reverse("annotations:test_new"))
        evaluators = self.client.get(reverse("admin:annotations_evaluator_changelist"))
        self.assertContains(evaluators, f"/t/i/{evaluator.token}/")

    def test_the_admin_refuses_a_scale_without_five_labels(self):
        response = self.client.post(
            reverse("admin:annotations_scale_add"),
            {"name": "four", "title": "Four", "language": "en", "labels": '["a", "b", "c", "d"]'},
        )
        self.assertContains(response, "exactly five non-empty labels")
        self.assertFalse(Scale.objects.filter(name="four").exists())


class ResearcherPermissionTests(TestCase):
    def test_researcher_pages_need_a_login_and_the_permission(self):
        test = build_test()
        urls = [
            reverse("annotations:test_new"),
            reverse("annotations:test_detail", args=[test.pk]),
            reverse("annotations:sample_import"),
        ]
        for url in urls:
            self.assertIn("/admin/login/", self.client.get(url)["Location"])
        user = get_user_model().objects.create_user("viewer", password="pw-viewer-123")
        self.client.force_login(user)
        for url in urls:
            self.assertEqual(self.client.get(url).status_code, 403)
        user.user_permissions.add(Permission.objects.get(codename="add_listeningtest"))
        self.assertEqual(self.client.get(urls[0]).status_code, 200)


class CommandTests(TestCase):
    def test_create_test_and_invite_evaluators_print_what_a_researcher_needs(self):
        run, _ = make_run_with_samples()
        out = io.StringIO()
        call_command(
            "create_test",
            "--name",
            "cli",
            "--run",
            str(run.pk),
            "--samples-per-session",
            "4",
            "--open-link",
            stdout=out,
        )
        test = ListeningTest.objects.get(name="cli")
        self.assertIn("with 6 clips", out.getvalue())
        self.assertIn(f"/t/o/{test.open_token}/?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}", out.getvalue())
        out = io.StringIO()
        call_command(
            "invite_evaluators", "--test", "cli", "--count", "2", "--base-url", "https://x.org/", stdout=out
        )
        lines = out.getvalue().splitlines()
        tokens = Evaluator.objects.filter(test=test).order_by("pseudonym").values_list("pseudonym", "token")
        self.assertEqual(lines, [f"{name}\thttps://x.org/t/i/{token}/" for name, token in tokens])

    def test_create_test_explains_what_is_wrong(self):
        with self.assertRaisesMessage(CommandError, "No scale named 'nope'"):
            call_command("create_test", "--name", "x", "--scale", "nope")
        with self.assertRaisesMessage(CommandError, "Choose at least one sample"):
            call_command("create_test", "--name", "x", "--run", "999")
        with self.assertRaisesMessage(CommandError, "No sample with id 4242"):
            call_command("create_test", "--name", "x", "--gold", "4242=5")
        with self.assertRaisesMessage(CommandError, "No listening test named 'nope'"):
            call_command("invite_evaluators", "--test", "nope")
