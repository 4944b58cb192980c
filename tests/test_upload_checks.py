"""Every upload path refuses what it must, with a message naming the problem, and saves nothing:
files over SARAI_MAX_UPLOAD_BYTES (an archive by what it unpacks to as well), files that do not
decode as audio, and archive entries that would leave their folder, are links, or come twice."""

import io
import zipfile

from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.forms import modelform_factory
from django.test import TestCase, override_settings
from django.urls import reverse

from annotations.importing import SampleImportError, import_samples
from annotations.models import ListeningTest, Scale
from annotations.results.imports import RatingImportError, import_ratings
from synthesis.datasets import DatasetImportError, import_dataset
from synthesis.forms import AudioUploadForm
from synthesis.importing import SentenceFileError
from synthesis.models import RunItem, Sample, Sentence, SentenceSet, SpeechDataset, Utterance
from synthesis.services import import_sentences
from tests.factories import make_admin, make_sentence_set, noise_wav, tone_wav
from tests.fuzz.archives import OwnMediaRoot, media_files

MANIFEST = "file,system\na.wav,sys-a\n"
LISTING = "path\tsentence\tlocale\na.wav\thola\tes\n"


def zipped(members: list[tuple[str, bytes | str]], *, links: tuple[str, ...] = ()) -> bytes:
    """A zip of the members in order (a name may repeat); names in links are symbolic-link entries."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if name in links:
                info.external_attr = 0o120777 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


def zip_bomb(listing_name: str, listing: str, clip_name: str) -> bytes:
    """A few kilobytes that unpack to 2 MB of zeros."""
    return zipped([(listing_name, listing), (clip_name, b"\0" * 2_000_000)])


class UploadCheckMixin(OwnMediaRoot):
    def assertNothingSaved(self):
        self.assertFalse(Sample.objects.exists())
        self.assertFalse(SpeechDataset.objects.exists())
        self.assertFalse(Utterance.objects.exists())
        self.assertEqual(media_files(), self.files_before)

    def setUp(self):
        self.files_before = media_files()


@override_settings(SARAI_MAX_UPLOAD_BYTES=100_000)
class SizeLimitTests(UploadCheckMixin, TestCase):
    def test_a_sample_archive_over_the_limit_is_refused_with_the_sizes(self):
        archive = zipped([("manifest.csv", MANIFEST), ("a.wav", noise_wav(seconds=4))])
        with self.assertRaisesMessage(SampleImportError, "the limit is 100000 bytes"):
            import_samples(source=archive)
        self.assertNothingSaved()

    def test_a_sample_archive_that_unpacks_past_the_limit_is_refused_before_it_is_read(self):
        with self.assertRaisesMessage(SampleImportError, "The archive unpacks to more than 400000 bytes"):
            import_samples(source=zip_bomb("manifest.csv", MANIFEST, "a.wav"))
        self.assertNothingSaved()

    def test_a_dataset_archive_that_unpacks_past_the_limit_is_refused_before_it_is_read(self):
        with self.assertRaisesMessage(DatasetImportError, "The archive unpacks to more than 400000 bytes"):
            import_dataset(name="bomb", archive=zip_bomb("validated.tsv", LISTING, "a.wav"))
        self.assertNothingSaved()

    def test_a_sentence_file_over_the_limit_is_refused_by_the_command_too(self):
        with self.assertRaisesMessage(SentenceFileError, "the limit is 100000 bytes"):
            import_sentences(name="big", data=b"Hello.\n" * 20_000, filename="big.txt")
        self.assertFalse(SentenceSet.objects.exists())

    def test_the_admin_and_management_pages_refuse_an_upload_over_the_limit(self):
        self.client.force_login(make_admin())
        big = b"x" * 100_001
        pages = [
            (reverse("admin:synthesis_sentenceset_import"), {"name": "s", "language": "en"}, "file"),
            (reverse("admin:synthesis_speechdataset_import"), {"name": "d"}, "archive"),
            (reverse("annotations:sample_import"), {"origin": "imported"}, "archive"),
        ]
        for url, data, field in pages:
            with self.subTest(url=url):
                upload = SimpleUploadedFile("big.zip", big)
                response = self.client.post(url, {**data, field: upload})
                self.assertContains(response, "The file is 100001 bytes; the limit is 100000 bytes.")
        self.assertNothingSaved()
        self.assertFalse(SentenceSet.objects.exists())


class AudioDecodeTests(UploadCheckMixin, TestCase):
    def test_a_sample_archive_with_a_file_that_is_not_audio_is_refused_naming_it(self):
        archive = zipped(
            [("manifest.csv", MANIFEST + "notes.wav,sys-a\n"), ("a.wav", tone_wav()), ("notes.wav", b"hello")]
        )
        with self.assertRaisesMessage(SampleImportError, "Line 3: 'notes.wav': file is not readable audio"):
            import_samples(source=archive)
        self.assertNothingSaved()

    def test_a_truncated_wav_in_a_sample_archive_is_refused_naming_it(self):
        archive = zipped([("manifest.csv", MANIFEST), ("a.wav", tone_wav()[:30])])
        with self.assertRaisesMessage(SampleImportError, "Line 2: 'a.wav'"):
            import_samples(source=archive)
        self.assertNothingSaved()

    def test_a_dataset_clip_that_is_not_audio_is_skipped_and_named_and_alone_saves_nothing(self):
        archive = zipped([("validated.tsv", LISTING), ("a.wav", b"RIFF but not a wave")])
        with self.assertRaisesMessage(DatasetImportError, "line 2: a.wav: file is not readable audio"):
            import_dataset(name="corrupt", archive=archive)
        self.assertNothingSaved()

    def test_a_reference_recording_or_spoken_prompt_that_is_not_audio_is_refused_naming_it(self):
        sentence = make_sentence_set().sentences.first()
        for model, fields, instance in (
            (Sentence, ["reference_audio"], sentence),
            (RunItem, ["prompt_audio"], RunItem(sentence=sentence)),
        ):
            with self.subTest(model=model.__name__):
                form_class = modelform_factory(model, form=AudioUploadForm, fields=fields)
                files = {fields[0]: SimpleUploadedFile("prompt.wav", b"not audio at all")}
                form = form_class({}, files, instance=instance)
                self.assertFalse(form.is_valid())
                self.assertIn("prompt.wav: file is not readable audio", form.errors[fields[0]][0])

    def test_the_admin_sentence_page_refuses_a_reference_recording_that_is_not_audio(self):
        sentence = make_sentence_set().sentences.first()
        self.client.force_login(make_admin())
        url = reverse("admin:synthesis_sentence_change", args=[sentence.pk])
        data = {
            "sentence_set": sentence.sentence_set_id,
            "position": sentence.position,
            "text": sentence.text,
            "language": sentence.language,
            "tags": "[]",
            "reference_audio": SimpleUploadedFile("ref.wav", b"not audio at all"),
        }
        response = self.client.post(url, data)
        self.assertContains(response, "ref.wav: file is not readable audio")
        sentence.refresh_from_db()
        self.assertFalse(sentence.reference_audio)

    def test_a_reference_recording_that_decodes_is_taken(self):
        sentence = make_sentence_set().sentences.first()
        form_class = modelform_factory(Sentence, form=AudioUploadForm, fields=["reference_audio"])
        form = form_class(
            {}, {"reference_audio": SimpleUploadedFile("ref.wav", tone_wav())}, instance=sentence
        )
        self.assertTrue(form.is_valid(), form.errors)
        form.save()
        sentence.refresh_from_db()
        self.assertEqual(sentence.reference_audio.read(), tone_wav())
        sentence.reference_audio.delete()


class ArchiveEntryTests(UploadCheckMixin, TestCase):
    """Each entry is refused in a sample archive and in a dataset archive, whether listed or not."""

    CASES = [
        ("../x.wav", "points outside the archive's folder"),
        ("/etc/x.wav", "points outside the archive's folder"),
        ("..\\x.wav", "points outside the archive's folder"),
        ("C:\\x.wav", "points outside the archive's folder"),
        ("clips/../../x.wav", "points outside the archive's folder"),
    ]

    def refuse_everywhere(self, members, message, *, links=()):
        archive = zipped([("manifest.csv", MANIFEST), ("a.wav", tone_wav()), *members], links=links)
        with self.assertRaisesMessage(SampleImportError, message):
            import_samples(source=archive)
        archive = zipped([("validated.tsv", LISTING), ("a.wav", tone_wav()), *members], links=links)
        with self.assertRaisesMessage(DatasetImportError, message):
            import_dataset(name="entries", archive=archive)
        self.assertNothingSaved()

    def test_entries_that_would_unpack_outside_the_folder_are_refused(self):
        for name, message in self.CASES:
            with self.subTest(name=name):
                self.refuse_everywhere([(name, tone_wav())], f"Refused: the entry {name!r} {message}")

    def test_an_entry_without_a_name_is_refused(self):
        self.refuse_everywhere([("\x00hidden.wav", tone_wav())], "an entry has no name")

    def test_a_symbolic_link_entry_is_refused(self):
        self.refuse_everywhere(
            [("b.wav", "/etc/passwd")], "the entry 'b.wav' is a symbolic link", links=("b.wav",)
        )

    def test_a_second_entry_of_the_same_name_is_refused(self):
        with self.assertWarns(UserWarning):  # zipfile itself warns when writing the duplicate
            self.refuse_everywhere(
                [("a.wav", tone_wav(freq=440))], "the entry 'a.wav' is in the archive twice"
            )

    def test_a_manifest_line_pointing_outside_the_archive_is_refused_naming_the_line(self):
        archive = zipped([("manifest.csv", MANIFEST + "..\\..\\x.wav,sys-a\n"), ("a.wav", tone_wav())])
        with self.assertRaisesMessage(
            SampleImportError, "Line 3: '..\\\\..\\\\x.wav' points outside the archive"
        ):
            import_samples(source=archive)
        self.assertNothingSaved()


class SentenceFileTests(TestCase):
    def test_a_language_that_is_not_a_language_code_is_refused_and_nothing_is_saved(self):
        for language in ("", "not a language", "x" * 40, "en\n"):
            with (
                self.subTest(language=language),
                self.assertRaisesMessage(SentenceFileError, "is not a language code"),
            ):
                import_sentences(name="s", data=b"Hello.\n", filename="s.txt", language=language)
        self.assertFalse(SentenceSet.objects.exists())

    def test_the_command_names_the_bad_language(self):
        with self.assertRaisesMessage(CommandError, "'english please' is not a language code"):
            call_command(
                "import_sentences", __file__, name="s", language="english please", stdout=io.StringIO()
            )


class MalformedFileTests(TestCase):
    """Files that once crashed an importer (found by tests/fuzz) are refused with the line named."""

    def test_a_sentence_csv_field_over_the_csv_limit_is_refused_naming_the_line(self):
        data = b"text\nHello.\n" + b"w" * 140_000 + b"\n"
        with self.assertRaisesMessage(SentenceFileError, "Line 3: field larger than field limit"):
            import_sentences(name="s", data=data, filename="s.csv")
        self.assertFalse(SentenceSet.objects.exists())

    def test_a_manifest_field_over_the_csv_limit_is_refused_naming_the_line(self):
        archive = zipped(
            [("manifest.csv", "file,system,text\na.wav,s," + "w" * 140_000), ("a.wav", tone_wav())]
        )
        with self.assertRaisesMessage(SampleImportError, "Line 2: field larger than field limit"):
            import_samples(source=archive)
        self.assertFalse(Sample.objects.exists())

    def test_a_dataset_row_with_a_line_break_inside_a_field_is_skipped_and_reported(self):
        listing = "file,transcript,language\na.wav,hola,es\na.wav,two\rlines,es\n"
        dataset = import_dataset(name="cr", archive=zipped([("list.csv", listing), ("a.wav", tone_wav())]))
        self.assertEqual(dataset.utterances.count(), 1)
        self.assertEqual(
            dataset.import_report["skipped"],
            [{"line": 3, "file": "", "reason": "a line break inside an unquoted field"}],
        )

    def test_rating_csv_numbers_and_times_a_database_cannot_hold_are_refused_naming_the_line(self):
        header = "evaluator,sample,system,dimension,score,play_count,created_at\n"
        cases = [
            (
                "R1,s1,sys,overall,4,99999999999,\n",
                "Line 2: play_count 99999999999 is not between 0 and 32767",
            ),
            ("R1,s1,sys,overall,4,-1,\n", "Line 2: play_count -1 is not between 0 and 32767"),
            ("R1,s1,sys,overall,٣,1,\n", "Line 2: score '٣' is not a whole number"),
            ("R1,s1,sys,overall,4,1,9999-12-31T23:59:59-12:00\n", "is outside the years a database stores"),
            ("R1,s1,sys," + "d" * 41 + ",4,1,\n", "Line 2: dimension is longer than 40 characters"),
            ("R1,s1,sys,overall,4,1,,extra\n", "Line 2: more fields than the header"),
        ]
        scale = Scale.objects.get(name="acr-en")
        for line, message in cases:
            with self.subTest(line=line[:40]), self.assertRaisesMessage(RatingImportError, message):
                import_ratings(name="imported", lines=io.StringIO(header + line), scale=scale)
        self.assertFalse(ListeningTest.objects.filter(name="imported").exists())
