import io
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from django.core.management import CommandError, call_command
from django.test import TestCase, override_settings

from annotations.importing import SampleImportError, import_samples
from synthesis.models import Sample
from tests.factories import make_sentence_set, tone_wav, zip_bytes

MANIFEST = (
    "file,system,text,origin\n"
    "clips/a.wav,other-tts,Hello there.,imported\n"
    "clips/b.wav,,Good morning.,reference\n"
)

# an import saved whole in one transaction or not at all: repeated on PostgreSQL + Redis
pytestmark = pytest.mark.backends


class ImportSamplesTests(TestCase):
    def archive(self, manifest: str = MANIFEST, **extra) -> bytes:
        files = {"manifest.csv": manifest, "clips/a.wav": tone_wav(), "clips/b.wav": tone_wav(freq=330)}
        files.update(extra)
        return zip_bytes(files)

    def assertRefused(self, source, message: str):
        with self.assertRaisesMessage(SampleImportError, message):
            import_samples(source=source)
        self.assertFalse(Sample.objects.exists())

    def test_a_zip_with_a_manifest_becomes_samples_of_their_systems(self):
        samples = import_samples(source=self.archive())
        rows = sorted((s.system_label, s.origin, s.text, s.source_name, s.sample_rate) for s in samples)
        self.assertEqual(
            rows,
            [
                ("human reference", "reference", "Good morning.", "clips/b.wav", 16000),
                ("other-tts", "imported", "Hello there.", "clips/a.wav", 16000),
            ],
        )
        self.assertAlmostEqual(samples[0].duration_s, 0.5, places=3)
        self.assertIsNotNone(samples[0].loudness_lufs)
        self.assertNotIn("a.wav", samples[0].audio.name)

    def test_a_clip_can_be_linked_to_the_sentence_it_says(self):
        sentence_set = make_sentence_set(name="prompts")
        manifest = "file,system,sentence_set,sentence\nclips/a.wav,rec,prompts,2\n"
        (sample,) = import_samples(source=self.archive(manifest))
        self.assertEqual(sample.sentence, sentence_set.sentences.get(position=2))
        self.assertEqual(sample.text, "Good morning.")

    def test_errors_name_the_manifest_line_and_nothing_is_imported(self):
        cases = [
            (
                "file,system\nclips/a.wav,x\nclips/missing.wav,x\n",
                "Line 3: 'clips/missing.wav' is not in the archive",
            ),
            (
                "file,system\nclips/a.wav,x\nclips/a.wav,x\n",
                "Line 3: 'clips/a.wav' is listed already on line 2",
            ),
            ("file,system\nclips/a.wav,\n", "Line 2: no system name"),
            ("file,system,origin\nclips/a.wav,x,robot\n", "Line 2: origin must be imported or reference"),
            ("file,system,speaker\nclips/a.wav,x,7\n", "Line 1: unknown manifest columns speaker"),
            ("name,system\n", "Line 1: the manifest header must have a 'file' column"),
            (
                "file,system,sentence_set,sentence\nclips/a.wav,x,nope,1\n",
                "Line 2: sentence set 'nope' has no sentence 1",
            ),
            ("file,system\nnotes.txt,x\n", "Line 2: 'notes.txt': file is not readable audio"),
        ]
        for manifest, message in cases:
            with self.subTest(message=message):
                self.assertRefused(self.archive(manifest, **{"notes.txt": "hello"}), message)

    def test_a_silent_clip_is_refused(self):
        buffer = io.BytesIO()
        sf.write(buffer, np.zeros(8000, dtype=np.float32), 16000, format="WAV", subtype="PCM_16")
        self.assertRefused(
            self.archive(**{"clips/a.wav": buffer.getvalue()}), "Line 2: 'clips/a.wav' is silent"
        )

    def test_paths_that_leave_the_archive_are_refused(self):
        for name in ("../etc/passwd", "/etc/passwd", "clips/../../x.wav", "C:/x.wav"):
            with self.subTest(name=name):
                self.assertRefused(self.archive(f"file,system\n{name},x\n"), "points outside the archive")

    def test_an_archive_with_a_member_named_with_dot_dot_is_refused(self):
        archive = zip_bytes({"manifest.csv": "file,system\nx.wav,s\n", "../x.wav": tone_wav()})
        self.assertRefused(archive, "Refused: the entry '../x.wav' points outside the archive's folder")

    @override_settings(SARAI_MAX_UPLOAD_BYTES=20_000)
    def test_archives_and_unpacked_audio_over_the_size_limit_are_refused(self):
        big = zip_bytes({"manifest.csv": "file,system\nbig.wav,s\n", "big.wav": tone_wav(seconds=2)})
        self.assertRefused(big, "the limit is 20000 bytes")
        # A small archive that unpacks to too much (a zip bomb) is refused by its declared sizes.
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("manifest.csv", "file,system\nzeros.wav,s\n")
            archive.writestr("zeros.wav", b"\0" * 500_000)
        self.assertRefused(buffer.getvalue(), "The archive unpacks to more than 80000 bytes")

    def test_a_damaged_member_is_refused_with_its_name(self):
        data = bytearray(self.archive())
        clip = tone_wav()
        start = bytes(data).index(clip[100:140])  # stored uncompressed: flip a byte of the audio
        data[start] ^= 0xFF
        self.assertRefused(bytes(data), "'clips/a.wav' cannot be read from the archive")

    def test_a_file_that_is_not_a_zip_is_refused(self):
        self.assertRefused(b"not a zip at all", "not a readable zip archive")

    def test_a_folder_imports_the_same_way_and_refuses_links_that_leave_it(self):
        with tempfile.TemporaryDirectory() as root, tempfile.TemporaryDirectory() as outside:
            folder = Path(root)
            (folder / "a.wav").write_bytes(tone_wav())
            (Path(outside) / "secret.wav").write_bytes(tone_wav())
            os.symlink(Path(outside) / "secret.wav", folder / "link.wav")
            (folder / "manifest.csv").write_text("file,system\nlink.wav,s\n")
            self.assertRefused(folder, "Line 2: 'link.wav' is not in the archive or folder")
            (folder / "manifest.csv").write_text("file,system\na.wav,s\n")
            self.assertEqual(len(import_samples(source=folder)), 1)

    def test_the_command_imports_a_folder_lists_the_new_ids_and_reports_errors_with_the_line(self):
        with tempfile.TemporaryDirectory() as root:
            folder = Path(root)
            (folder / "a.wav").write_bytes(tone_wav())
            (folder / "manifest.csv").write_text("file,text\na.wav,Hi.\n")
            out = io.StringIO()
            call_command("import_samples", str(folder), "--system", "their-tts", stdout=out)
            sample = Sample.objects.get(system_label="their-tts")
            self.assertEqual(
                out.getvalue().splitlines(),
                [
                    "Imported 1 sample (their-tts):",
                    "id\tsystem\tstyle\tfile",
                    f"{sample.pk}\ttheir-tts\t\ta.wav",
                ],
            )
            (folder / "manifest.csv").write_text("file\nb.wav\n")
            with self.assertRaisesMessage(CommandError, "Line 2: 'b.wav' is not in the archive"):
                call_command("import_samples", str(folder), "--system", "their-tts")
