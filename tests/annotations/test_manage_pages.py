import io
import zipfile

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import TestCase
from django.urls import reverse

from annotations.models import Evaluator, ListeningTest, Scale
from synthesis.models import Sample
from tests.factories import build_test, make_admin, make_run_with_samples, make_samples, tone_wav

# progress counted in SQL (JSON key lookups, casts, subqueries): repeated on PostgreSQL + Redis
pytestmark = pytest.mark.backends

PROLIFIC = "https://app.prolific.com/submissions/complete?cc=WALK123"


class ManagePagesTests(TestCase):
    def setUp(self):
        self.client.force_login(make_admin())

    def test_the_test_page_creates_and_lists_invite_links(self):
        test = build_test(samples=make_samples(set_name="other"), allow_open_link=True)
        response = self.client.post(reverse("annotations:test_invite", args=[test.pk]), {"count": 3})
        self.assertRedirects(response, reverse("annotations:test_detail", args=[test.pk]))
        page = self.client.get(reverse("annotations:test_detail", args=[test.pk]))
        for evaluator in Evaluator.objects.filter(test=test):
            self.assertContains(page, f"http://testserver/t/i/{evaluator.token}/")
        self.assertContains(page, f"/t/o/{test.open_token}/?PROLIFIC_PID={{{{%PROLIFIC_PID%}}}}")
        self.assertEqual(Evaluator.objects.filter(test=test).count(), 3)

    def test_the_import_page_names_the_new_ids_and_files_and_lists_the_clips_to_pick_from(self):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("manifest.csv", "file,text\nx.wav,Hi.\ny.wav,Bye.\n")
            archive.writestr("x.wav", tone_wav())
            archive.writestr("y.wav", tone_wav(freq=330))
        upload = SimpleUploadedFile("clips.zip", buffer.getvalue())
        response = self.client.post(
            reverse("annotations:sample_import"),
            {"archive": upload, "system_label": "vendor-tts", "origin": "imported"},
            follow=True,
        )
        self.assertRedirects(response, reverse("annotations:test_new") + "?system=vendor-tts")
        x, y = Sample.objects.filter(system_label="vendor-tts", origin="imported").order_by("source_name")
        self.assertContains(response, f"Imported 2 samples (vendor-tts): id {x.pk} x.wav, id {y.pk} y.wav.")
        for sample in (x, y):
            self.assertContains(response, f'name="gold" value="{sample.pk}"')
            self.assertContains(response, reverse("synthesis:sample_audio", args=[sample.pk]))

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

    def test_the_admin_and_the_test_page_show_the_platforms_completion_code_and_url(self):
        test = build_test(
            samples=make_samples(set_name="other"), platform_code="WALK123", completion_url=PROLIFIC
        )
        change = self.client.get(reverse("admin:annotations_listeningtest_change", args=[test.pk]))
        self.assertContains(change, 'name="platform_code"')
        self.assertContains(change, 'name="completion_url"')
        self.assertContains(change, "The finish page sends evaluators there by itself.")
        page = self.client.get(reverse("annotations:test_detail", args=[test.pk]))
        self.assertContains(page, "evaluators see the code <code>WALK123</code>")
        self.assertContains(page, f"are sent to <code>{PROLIFIC}</code>")

    def test_the_admin_refuses_a_scale_without_one_label_per_score(self):
        response = self.client.post(
            reverse("admin:annotations_scale_add"),
            {
                "name": "four",
                "title": "Four",
                "language": "en",
                "min_value": 1,
                "max_value": 5,
                "labels": '["a", "b", "c", "d"]',
            },
        )
        self.assertContains(response, "Give exactly 5 labels, one per score from 1 to 5; got 4.")
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
            self.assertTrue(self.client.get(url)["Location"].startswith(reverse("login")), url)
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

    def test_create_test_takes_clip_roles_by_id_and_the_platforms_completion_code_and_url(self):
        run, samples = make_run_with_samples()
        arguments = f"--name crowd --run {run.pk} --gold {samples[0].pk}=5 --trap {samples[1].pk}=2"
        arguments += f" --training {samples[2].pk} --platform-code WALK123 --completion-url {PROLIFIC}"
        call_command("create_test", *arguments.split(), stdout=io.StringIO())
        test = ListeningTest.objects.get(name="crowd")
        self.assertEqual((test.platform_code, test.completion_url), ("WALK123", PROLIFIC))
        kinds = dict(test.test_samples.values_list("sample_id", "kind"))
        self.assertEqual([kinds[s.pk] for s in samples[:4]], ["gold", "trap", "training", "test"])
        arguments = f"--name old-flag --run {run.pk} --redirect-url {PROLIFIC}"
        call_command("create_test", *arguments.split(), stdout=io.StringIO())
        self.assertEqual(ListeningTest.objects.get(name="old-flag").completion_url, PROLIFIC)

    def test_create_test_refuses_a_completion_url_that_names_another_code_or_is_no_url(self):
        run, _ = make_run_with_samples()
        arguments = f"--name x --run {run.pk} --platform-code X9 --completion-url {PROLIFIC}"
        with self.assertRaisesMessage(
            CommandError, "carries the code 'WALK123' but the platform code is 'X9'"
        ):
            call_command("create_test", *arguments.split())
        with self.assertRaisesMessage(CommandError, "'prolific' is not a URL"):
            call_command("create_test", *f"--name x --run {run.pk} --completion-url prolific".split())
        self.assertFalse(ListeningTest.objects.exists())

    def test_create_test_explains_what_is_wrong(self):
        with self.assertRaisesMessage(CommandError, "No scale named 'nope'"):
            call_command("create_test", "--name", "x", "--scale", "nope")
        with self.assertRaisesMessage(CommandError, "Choose at least one sample"):
            call_command("create_test", "--name", "x", "--run", "999")
        with self.assertRaisesMessage(CommandError, "No sample with id 4242"):
            call_command("create_test", "--name", "x", "--gold", "4242=5")
        with self.assertRaisesMessage(CommandError, "No listening test named 'nope'"):
            call_command("invite_evaluators", "--test", "nope")


class PairCommandTests(TestCase):
    def setUp(self):
        self.run, self.samples = make_run_with_samples()

    def create(self, *arguments: str) -> str:
        out = io.StringIO()
        call_command("create_test", "--name", "pairs", "--run", str(self.run.pk), *arguments, stdout=out)
        return out.getvalue()

    def test_create_test_builds_cmos_pairs_on_the_ccr_scale_of_the_language(self):
        output = self.create("--method", "cmos", "--language", "es")
        self.assertIn("(id", output)
        self.assertIn("cmos) with 6 clips in 3 trials.", output)
        test = ListeningTest.objects.get(name="pairs")
        self.assertEqual((test.method, test.scale.name, test.dimensions), ("cmos", "ccr-es", ["cmos"]))

    def test_create_test_takes_the_ab_repeat_share_and_a_forced_choice(self):
        self.create("--method", "ab", "--repeat-share", "0.2", "--forced-choice")
        test = ListeningTest.objects.get(name="pairs")
        self.assertEqual(
            (test.scale.name, test.repeat_share, test.allow_no_preference), ("ab-en", 0.2, False)
        )

    def test_create_test_explains_what_a_pair_test_cannot_take(self):
        with self.assertRaisesMessage(CommandError, "The scale acr-en runs from 1 to 5, but a CMOS answer"):
            self.create("--method", "cmos", "--scale", "acr-en")
        with self.assertRaisesMessage(CommandError, "tests take no gold or trapping clips"):
            self.create("--method", "ab", "--gold", f"{self.samples[0].pk}=1")
        with self.assertRaisesMessage(CommandError, "--repeat-share 1.5 is not a share from 0 to 1"):
            self.create("--method", "ab", "--repeat-share", "1.5")
        self.assertFalse(ListeningTest.objects.exists())
