"""Speech datasets from random archives and listings: the good rows kept and every other row reported,
or DatasetImportError and nothing saved."""

from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from synthesis.datasets import DatasetImportError, import_dataset
from synthesis.models import SpeechDataset, Utterance
from tests.factories import noise_wav, tone_wav
from tests.fuzz import fuzz_settings
from tests.fuzz.archives import CONTENTS, ENTRIES, NAMES, OwnMediaRoot, media_files, zip_bytes

CELLS = st.one_of(
    st.text(max_size=20),
    st.sampled_from(
        [
            "",
            "es",
            "en-US",
            "not a locale",
            "x" * 20,
            "a.wav",
            "clips/a.wav",
            "Hola, mundo",
            '"q"',
            "x\ry",
            "w" * 140_000,
        ]
    ),
)
LOCALES = st.one_of(st.sampled_from(["es", "en-US", ""]), CELLS)
LISTINGS = ["validated.tsv", "test.tsv", "other.tsv", "list.csv", "data/validated.tsv", "data/list.csv"]


@st.composite
def dataset_archives(draw) -> bytes:
    """Two good clips (mostly), random entries, and a listing in Common Voice or CSV form."""
    members = draw(st.one_of(st.just([]), st.just([]), ENTRIES))  # hostile entries in one archive of three
    if draw(st.integers(0, 4)):
        members += [("a.wav", tone_wav(seconds=0.5), False), ("clips/b.wav", noise_wav(seconds=0.5), False)]
    listing = draw(st.sampled_from(LISTINGS))
    is_tsv = listing.endswith(".tsv")
    header = ["path", "sentence", "locale"] if is_tsv else ["file", "transcript", "language"]
    if not draw(st.integers(0, 3)):
        header = draw(st.lists(st.sampled_from([*header, "x", ""]), max_size=4))
    names = [name for name, _, _ in members] + ["a.wav", "b.wav"]
    good = [["a.wav", "Hola.", "es"], ["b.wav", "Buenos días.", "es-MX"]]
    rows = [row for row in good if draw(st.integers(0, 3))] + [
        [draw(st.one_of(st.sampled_from(names), NAMES)), draw(CELLS), draw(LOCALES)][: len(header) or 1]
        for _ in range(draw(st.integers(0, 3)))
    ]
    separator = "\t" if is_tsv else ","
    text = "\n".join(separator.join(cells) for cells in [header, *rows])
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "latin-1", "utf-16"]))
    members.append((listing, text.encode(encoding, errors="replace"), False))
    members += draw(st.lists(st.tuples(NAMES, CONTENTS, st.just(False)), max_size=1))
    return zip_bytes(draw(st.permutations(members)), stored=draw(st.booleans()))


class DatasetImportFuzzTests(OwnMediaRoot, TestCase):
    @fuzz_settings(50)
    @given(
        archive=st.one_of(dataset_archives(), st.binary(max_size=300)),
        language=st.sampled_from([None, "es", "not a language"]),
        limit=st.sampled_from([None, 1, 5]),
    )
    def test_an_archive_is_imported_or_refused_with_nothing_saved(self, archive, language, limit):
        before_files = media_files()
        try:
            dataset = import_dataset(name="fuzzed", archive=archive, language=language, limit=limit)
        except DatasetImportError as exc:
            event("refused")
            self.assertTrue(str(exc))
            self.assertFalse(SpeechDataset.objects.exists())
            self.assertFalse(Utterance.objects.exists())
            self.assertEqual(media_files(), before_files)
            return
        event("imported")
        utterances = list(dataset.utterances.all())
        self.assertEqual(len(utterances), dataset.import_report["imported"])
        self.assertEqual(
            dataset.import_report["rows"], len(utterances) + len(dataset.import_report["skipped"])
        ) if limit is None else self.assertLessEqual(len(utterances), limit)
        for utterance in utterances:
            self.assertTrue(utterance.audio.storage.exists(utterance.audio.name))
            self.assertTrue(utterance.transcript)
            self.assertGreater(utterance.duration_s, 0)
        # The rows are rolled back after the example; their files are removed here.
        for name in media_files() - before_files:
            utterances[0].audio.storage.delete(
                name.removeprefix(str(utterances[0].audio.storage.location) + "/")
            )
