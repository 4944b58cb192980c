"""Importing speech datasets: the report of bad rows, subsets from a seed, clips stored once, the command."""

import io
import tempfile
from pathlib import Path

import numpy as np
import pytest
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.test import TestCase

from synthesis.datasets import DatasetImportError, import_dataset, parse_listing
from synthesis.engines import audio, tts
from synthesis.models import SpeechDataset, Utterance
from tests.factories import tone_wav


def write_folder(root: Path, listing_name: str, listing: bytes, clips: dict[str, bytes], sub: str = "clips"):
    (root / listing_name).write_bytes(listing)
    for name, data in clips.items():
        path = root / sub / name if sub else root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def tsv(rows: list[tuple[str, str, str]]) -> bytes:
    header = "client_id\tpath\tsentence\tup_votes\tlocale\n"
    return (header + "".join(f"c\t{p}\t{s}\t2\t{loc}\n" for p, s, loc in rows)).encode()


def empty_wav() -> bytes:
    buffer = io.BytesIO()
    audio.write_wav(buffer, np.zeros(0, dtype=np.float32), 16000)
    return buffer.getvalue()


def mp3_bytes(samples: np.ndarray, sample_rate: int) -> bytes:
    """Encode mono float audio as MP3 with PyAV (FFmpeg's libmp3lame)."""
    import av

    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp3") as container:
        stream = container.add_stream("libmp3lame", rate=sample_rate, layout="mono")
        frame = av.AudioFrame.from_ndarray(
            samples.reshape(1, -1).astype(np.float32), format="flt", layout="mono"
        )
        frame.sample_rate = sample_rate
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


class FolderTestCase(TestCase):
    def setUp(self):
        folder = tempfile.TemporaryDirectory(prefix="sarai-dataset-")
        self.addCleanup(folder.cleanup)
        self.root = Path(folder.name)


@pytest.mark.backends  # a dataset saved whole in one transaction
class CommonVoiceImportTests(FolderTestCase):
    def test_it_imports_good_rows_and_lists_each_bad_row_with_its_line_and_reason(self):
        silent = audio.wav_bytes(np.zeros(8000, dtype=np.float32), 16000)
        rows = [
            ("a.wav", "hello there", "en"),  # line 2: good
            ("gone.wav", "nobody recorded this", "en"),  # line 3: missing file
            ("b.wav", "", "en"),  # line 4: empty transcript
            ("broken.mp3", "this is not audio", "en"),  # line 5: undecodable
            ("empty.wav", "no samples at all", "en"),  # line 6: empty audio
            ("silent.wav", "digital silence", "en"),  # line 7: silent
            ("c.wav", "good morning", "es"),  # line 8: good
        ]
        clips = {
            "a.wav": tone_wav(freq=220),
            "b.wav": tone_wav(freq=330),
            "broken.mp3": b"ID3 but then nothing that decodes" * 10,
            "empty.wav": empty_wav(),
            "silent.wav": silent,
            "c.wav": tone_wav(freq=440, sample_rate=22050),
        }
        write_folder(self.root, "validated.tsv", tsv(rows), clips)

        dataset = import_dataset(name="cv-en", folder=self.root)

        skipped = {(s["line"], s["file"]): s["reason"] for s in dataset.import_report["skipped"]}
        self.assertEqual(
            list(skipped),
            [(3, "gone.wav"), (4, "b.wav"), (5, "broken.mp3"), (6, "empty.wav"), (7, "silent.wav")],
        )
        self.assertIn("not found", skipped[(3, "gone.wav")])
        self.assertEqual(skipped[(4, "b.wav")], "empty transcript")
        self.assertIn("not readable audio", skipped[(5, "broken.mp3")])
        self.assertEqual(skipped[(6, "empty.wav")], "audio is empty")
        self.assertIn("silent", skipped[(7, "silent.wav")])
        self.assertEqual((dataset.import_report["rows"], dataset.import_report["imported"]), (7, 2))
        self.assertEqual(dataset.source, "Common Voice TSV validated.tsv")
        utterances = list(dataset.utterances.all())
        self.assertEqual(
            [(u.position, u.source_name, u.transcript, u.language) for u in utterances],
            [(2, "a.wav", "hello there", "en"), (8, "c.wav", "good morning", "es")],
        )
        self.assertEqual([u.sample_rate for u in utterances], [16000, 22050])
        self.assertAlmostEqual(utterances[1].duration_s, 0.5, places=3)

    def test_a_latin1_tsv_loses_exactly_its_accented_lines_each_listed_with_a_hint(self):
        text = (
            "path\tsentence\tlocale\n"
            "a.wav\tcomo estas\tes\n"
            "b.wav\tcanción de otoño\tes\n"  # ó is the 12th byte in Latin-1
            "c.wav\tbuenas noches\tes\n"
        )
        write_folder(
            self.root,
            "test.tsv",
            text.encode("latin-1"),
            {n: tone_wav(freq=f) for n, f in [("a.wav", 200), ("b.wav", 300), ("c.wav", 400)]},
        )

        dataset = import_dataset(name="cv-latin1", folder=self.root)

        self.assertEqual(
            dataset.import_report["skipped"],
            [{"line": 3, "file": "", "reason": "not valid UTF-8 (byte 0xf3 at column 12)"}],
        )
        self.assertIn("save the file as UTF-8", dataset.import_report["hint"])
        self.assertEqual(list(dataset.utterances.values_list("position", flat=True)), [2, 4])

    def test_validated_tsv_is_preferred_and_clips_may_sit_beside_it(self):
        write_folder(self.root, "validated.tsv", tsv([("a.wav", "one", "en")]), {"a.wav": tone_wav()}, sub="")
        write_folder(self.root, "train.tsv", tsv([("x.wav", "two", "en")]), {})

        dataset = import_dataset(name="cv-beside", folder=self.root)

        self.assertEqual(dataset.source, "Common Voice TSV validated.tsv")
        self.assertEqual(dataset.utterances.get().transcript, "one")

    def test_a_tsv_without_locale_needs_a_language_and_gives_it_to_every_row(self):
        write_folder(self.root, "dev.tsv", b"path\tsentence\na.wav\thola\n", {"a.wav": tone_wav()})

        with self.assertRaisesMessage(DatasetImportError, "give the dataset's language"):
            import_dataset(name="cv-nolang", folder=self.root)
        dataset = import_dataset(name="cv-nolang", folder=self.root, language="es")

        self.assertEqual((dataset.language, dataset.utterances.get().language), ("es", "es"))

    def test_an_import_with_no_good_row_is_refused_and_saves_nothing(self):
        rows = [("gone.wav", "missing", "en"), ("a.wav", "", "en")]
        write_folder(self.root, "validated.tsv", tsv(rows), {"a.wav": tone_wav()})

        with self.assertRaises(DatasetImportError) as raised:
            import_dataset(name="cv-bad", folder=self.root)

        self.assertIn("line 2: gone.wav: file not found", str(raised.exception))
        self.assertIn("line 3: a.wav: empty transcript", str(raised.exception))
        self.assertFalse(SpeechDataset.objects.exists())
        self.assertFalse(Utterance.objects.exists())


@pytest.mark.backends  # a dataset saved whole in one transaction
class SubsetAndStorageTests(FolderTestCase):
    def write_ten(self):
        rows = [(f"u{i}.wav", f"utterance {i}", "en") for i in range(10)]
        write_folder(
            self.root,
            "validated.tsv",
            tsv(rows),
            {f"u{i}.wav": tone_wav(freq=200 + 20 * i) for i in range(10)},
        )

    def test_a_subset_is_reproducible_from_its_seed_as_documented(self):
        self.write_ten()

        first = import_dataset(name="sub-a", folder=self.root, limit=4, seed=7)
        again = import_dataset(name="sub-b", folder=self.root, limit=4, seed=7)

        expected = sorted(int(i) + 2 for i in np.random.default_rng(7).permutation(10)[:4])
        self.assertEqual(list(first.utterances.values_list("position", flat=True)), expected)
        self.assertEqual(list(again.utterances.values_list("position", flat=True)), expected)
        self.assertEqual((first.limit, first.seed), (4, 7))

    def test_a_subset_without_a_seed_stores_the_seed_it_drew(self):
        self.write_ten()

        drawn = import_dataset(name="sub-drawn", folder=self.root, limit=3)
        replay = import_dataset(name="sub-replay", folder=self.root, limit=3, seed=drawn.seed)

        self.assertIsNotNone(drawn.seed)
        self.assertEqual(
            list(drawn.utterances.values_list("position", flat=True)),
            list(replay.utterances.values_list("position", flat=True)),
        )

    def test_a_subset_skips_undecodable_rows_and_still_reaches_its_size(self):
        self.write_ten()
        (self.root / "clips" / "u0.wav").write_bytes(b"garbage")
        (self.root / "clips" / "u1.wav").write_bytes(b"garbage")

        dataset = import_dataset(name="sub-full", folder=self.root, limit=8, seed=1)

        self.assertEqual(dataset.utterances.count(), 8)
        self.assertEqual([s["line"] for s in dataset.import_report["skipped"]], [2, 3])

    def test_identical_clips_are_stored_once_across_rows_and_datasets(self):
        same = tone_wav(freq=500)
        rows = [("a.wav", "one", "en"), ("b.wav", "two", "en")]
        write_folder(self.root, "validated.tsv", tsv(rows), {"a.wav": same, "b.wav": same})

        first = import_dataset(name="dup-a", folder=self.root)
        second = import_dataset(name="dup-b", folder=self.root)

        names = set(Utterance.objects.values_list("audio", flat=True))
        self.assertEqual(len(names), 1)
        self.assertEqual(Utterance.objects.count(), 4)
        stored = names.pop()
        self.assertTrue(default_storage.exists(stored))
        self.assertIn(first.utterances.first().sha256, stored)
        self.assertEqual(second.utterances.first().sha256, first.utterances.first().sha256)

    def test_audio_16k_is_float32_mono_at_16_khz(self):
        write_folder(
            self.root,
            "validated.tsv",
            tsv([("a.wav", "one", "en")]),
            {"a.wav": tone_wav(seconds=1.0, sample_rate=22050)},
        )
        utterance = import_dataset(name="rate", folder=self.root).utterances.get()

        samples = utterance.audio_16k()

        self.assertEqual(samples.dtype, np.float32)
        self.assertEqual(samples.ndim, 1)
        self.assertEqual(len(samples), 16000)


@pytest.mark.backends  # a dataset saved whole in one transaction
class ManifestTests(FolderTestCase):
    def test_a_csv_manifest_imports_files_with_their_languages(self):
        manifest = b'file,transcript,language\nen/a.wav,"hello, world",en\nes/b.wav,hola,\n'
        write_folder(
            self.root,
            "manifest.csv",
            manifest,
            {"en/a.wav": tone_wav(freq=250), "es/b.wav": tone_wav(freq=350)},
            sub="",
        )

        dataset = import_dataset(name="csv", folder=self.root, language="es")

        self.assertEqual(dataset.source, "CSV manifest manifest.csv")
        self.assertEqual(
            list(dataset.utterances.values_list("source_name", "transcript", "language")),
            [("en/a.wav", "hello, world", "en"), ("es/b.wav", "hola", "es")],
        )

    def test_a_path_leaving_the_folder_is_a_skipped_row(self):
        listing = parse_listing(
            b"file,transcript,language\n../secret.wav,x,en\n", name="m.csv", default_language=None
        )

        self.assertEqual(
            [(s.line, s.reason) for s in listing.skipped], [(2, "the file name points outside the folder")]
        )

    def test_a_header_without_the_transcript_column_is_refused(self):
        with self.assertRaisesMessage(
            DatasetImportError, "m.csv line 1: the header has no 'transcript' column"
        ):
            parse_listing(b"file,text\na.wav,x\n", name="m.csv", default_language="en")


@pytest.mark.backends  # a dataset saved whole in one transaction
class CommandTests(FolderTestCase):
    def test_the_command_prints_the_count_and_each_skipped_line(self):
        rows = [("a.wav", "one", "en"), ("gone.wav", "two", "en")]
        write_folder(self.root, "validated.tsv", tsv(rows), {"a.wav": tone_wav()})
        out = io.StringIO()

        call_command("import_dataset", str(self.root), "--name", "cmd", stdout=out)

        self.assertEqual(
            out.getvalue().splitlines(),
            [
                "Dataset cmd: Common Voice TSV validated.tsv.",
                "Imported 1 of 2 rows of validated.tsv; skipped 1.",
                "line 3: gone.wav: file not found (looked in clips/ and beside the listing)",
            ],
        )

    def test_the_command_fails_with_the_reason_when_nothing_is_usable(self):
        write_folder(self.root, "validated.tsv", tsv([("gone.wav", "two", "en")]), {})

        with self.assertRaisesMessage(CommandError, "line 2: gone.wav: file not found"):
            call_command("import_dataset", str(self.root), "--name", "cmd-bad", stdout=io.StringIO())


@pytest.mark.models
class SynthesisedSpeechTests(FolderTestCase):
    """A dataset of speech from the bundled voices, with known transcripts, in WAV and MP3."""

    def test_synthesised_english_and_spanish_speech_imports_with_every_bad_row_reported(self):
        english = tts.synthesize(
            "piper", "en_US-joe-medium", "The birch canoe slid on the smooth planks.", language="en", style={}
        )
        spanish = tts.synthesize("espeak-ng", "", "El perro come pan en la cocina.", language="es", style={})
        rows = [
            ("joe.wav", "The birch canoe slid on the smooth planks.", "en"),
            ("espeak.wav", "El perro come pan en la cocina.", "es"),
            ("joe.mp3", "The birch canoe slid on the smooth planks.", "en"),
            ("missing.mp3", "Nadie grabó esta frase.", "es"),
            ("broken.wav", "Esto no es audio.", "es"),
            ("espeak-copy.wav", "", "es"),
        ]
        clips = {
            "joe.wav": audio.wav_bytes(english.audio, english.sample_rate),
            "espeak.wav": audio.wav_bytes(spanish.audio, spanish.sample_rate),
            "joe.mp3": mp3_bytes(english.audio, english.sample_rate),
            "broken.wav": b"RIFF\x00\x00\x00\x00WAVEjunk",
            "espeak-copy.wav": audio.wav_bytes(spanish.audio, spanish.sample_rate),
        }
        write_folder(self.root, "validated.tsv", tsv(rows), clips)

        dataset = import_dataset(name="spoken", folder=self.root)

        report = [(s["line"], s["file"]) for s in dataset.import_report["skipped"]]
        self.assertEqual(report, [(5, "missing.mp3"), (6, "broken.wav"), (7, "espeak-copy.wav")])
        joe_wav, espeak_wav, joe_mp3 = dataset.utterances.all()
        self.assertEqual((joe_wav.language, espeak_wav.language), ("en", "es"))
        self.assertEqual(joe_mp3.audio.name.rsplit(".", 1)[1], "mp3")
        wav_16k, mp3_16k = joe_wav.audio_16k(), joe_mp3.audio_16k()
        # MP3 adds encoder delay and padding, a few tens of milliseconds at most.
        self.assertLess(abs(len(mp3_16k) - len(wav_16k)), 0.1 * 16000)
        self.assertAlmostEqual(joe_mp3.duration_s, joe_wav.duration_s, delta=0.1)
        self.assertGreater(espeak_wav.duration_s, 1.0)
