"""The admin's speech dataset import page (server folder or zip upload) and the utterance player."""

import io
import tempfile
import zipfile
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import TestCase, override_settings
from django.urls import reverse

from synthesis.models import SpeechDataset, Utterance
from tests.factories import make_admin, tone_wav, wer_run

LISTING = b"path\tsentence\tlocale\na.wav\thello there\ten\ngone.wav\tmissing clip\ten\n"


def zipped(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


class DatasetAdminTests(TestCase):
    def setUp(self):
        self.client.force_login(make_admin())
        self.url = reverse("admin:synthesis_speechdataset_import")

    def test_the_list_links_to_the_import_page(self):
        response = self.client.get(reverse("admin:synthesis_speechdataset_changelist"))

        self.assertContains(response, self.url)

    def test_a_server_folder_is_imported_and_the_skipped_line_is_shown(self):
        folder = tempfile.TemporaryDirectory()
        self.addCleanup(folder.cleanup)
        root = Path(folder.name)
        (root / "validated.tsv").write_bytes(LISTING)
        (root / "clips").mkdir()
        (root / "clips" / "a.wav").write_bytes(tone_wav())

        response = self.client.post(self.url, {"name": "cv-admin", "folder": str(root)}, follow=True)

        dataset = SpeechDataset.objects.get(name="cv-admin")
        self.assertEqual(dataset.utterances.count(), 1)
        self.assertContains(response, "line 3: gone.wav: file not found")
        self.assertContains(response, "<audio controls")

    def test_a_zip_with_a_top_folder_is_imported_like_a_folder(self):
        archive = zipped({"cv-es/validated.tsv": LISTING, "cv-es/clips/a.wav": tone_wav()})
        upload = SimpleUploadedFile("cv.zip", archive, content_type="application/zip")

        self.client.post(self.url, {"name": "cv-zip", "archive": upload})

        self.assertEqual(SpeechDataset.objects.get(name="cv-zip").utterances.get().source_name, "a.wav")

    @override_settings(SARAI_MAX_UPLOAD_BYTES=1000)
    def test_an_upload_over_the_limit_is_refused_with_the_sizes(self):
        upload = SimpleUploadedFile("cv.zip", zipped({"validated.tsv": LISTING, "clips/a.wav": tone_wav()}))

        response = self.client.post(self.url, {"name": "cv-big", "archive": upload})

        self.assertContains(response, "the limit is 1000 bytes")
        self.assertFalse(SpeechDataset.objects.exists())

    def test_an_import_without_a_good_row_shows_why_and_saves_nothing(self):
        upload = SimpleUploadedFile("cv.zip", zipped({"validated.tsv": LISTING}))

        response = self.client.post(self.url, {"name": "cv-none", "archive": upload})

        self.assertContains(response, "line 2: a.wav: file not found")
        self.assertFalse(SpeechDataset.objects.exists())
        self.assertFalse(Utterance.objects.exists())

    def test_the_form_asks_for_exactly_one_source(self):
        response = self.client.post(self.url, {"name": "cv-nothing"})

        self.assertContains(response, "Give either a server folder or a zip archive.")


class UtterancePlayerTests(TestCase):
    def test_the_admin_player_plays_an_utterance_through_the_app(self):
        run = wer_run(stt_model="/models/whisper-tiny.bin", errors=1)
        utterance = run.transcripts.first().utterance
        self.client.force_login(make_admin())
        page = self.client.get(reverse("admin:synthesis_utterance_change", args=[utterance.pk]))
        url = reverse("synthesis:utterance_audio", args=[utterance.pk])
        self.assertContains(page, f'src="{url}"')
        response = self.client.get(url)
        self.assertEqual(response.status_code, 200)
        with utterance.audio.open("rb") as handle:
            self.assertEqual(b"".join(response.streaming_content), handle.read())
