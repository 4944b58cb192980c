"""Sample archives with random entries and manifests: every listed clip saved, or SampleImportError
and nothing saved."""

from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from annotations.importing import SampleImportError, import_samples
from synthesis.models import Sample
from tests.factories import make_sentence_set, noise_wav, tone_wav
from tests.fuzz import fuzz_settings
from tests.fuzz.archives import CONTENTS, ENTRIES, NAMES, OwnMediaRoot, csv_line, media_files, zip_bytes

CELLS = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["", "imported", "reference", "neutral", "set-a", "1", "9", "a\x00b", "m" * 140_000]),
)
COLUMNS = st.lists(
    st.sampled_from(["file", "system", "text", "style", "origin", "sentence_set", "sentence", "other"]),
    min_size=1,
    max_size=5,
)


@st.composite
def archives(draw) -> bytes:
    """A zip of random entries and, mostly, a manifest naming some of them (and some that are not there)."""
    members = draw(ENTRIES)
    if draw(st.integers(0, 9)):
        header = draw(COLUMNS)
        rows = [
            [draw(st.one_of(st.sampled_from([name for name, _, _ in members] or ["a.wav"]), NAMES))]
            + [draw(CELLS) for _ in header[1:]]
            for _ in range(draw(st.integers(0, 4)))
        ]
        manifest = "\n".join(csv_line(cells) for cells in [header, *rows]).encode()
        members.append(
            (draw(st.sampled_from(["manifest.csv", "other.csv", "sub/manifest.csv"])), manifest, False)
        )
    return zip_bytes(members, stored=draw(st.booleans()))


@st.composite
def nearly_valid_archives(draw) -> bytes:
    """Two good clips and their manifest, plus up to two random entries and manifest lines."""
    members = [("a.wav", tone_wav(seconds=0.5), False), ("clips/b.wav", noise_wav(seconds=0.5), False)]
    rows = [["a.wav", "sys-a", "", ""], ["clips/b.wav", "sys-b", "neutral", ""]]
    extra = draw(st.lists(st.tuples(NAMES, CONTENTS, st.booleans()), max_size=2))
    members += extra
    rows += [[name, draw(CELLS), draw(CELLS), draw(CELLS)] for name, _, _ in extra if draw(st.booleans())]
    manifest = "\n".join(csv_line(cells) for cells in [["file", "system", "style", "origin"], *rows])
    members.append(("manifest.csv", manifest.encode(), False))
    return zip_bytes(draw(st.permutations(members)), stored=draw(st.booleans()))


class SampleImportFuzzTests(OwnMediaRoot, TestCase):
    @classmethod
    def setUpTestData(cls):
        make_sentence_set()

    @fuzz_settings(50)
    @given(
        archive=st.one_of(archives(), nearly_valid_archives(), st.binary(max_size=300)),
        system=st.sampled_from(["", "sys-a"]),
        origin=st.sampled_from(["imported", "reference"]),
    )
    def test_an_archive_is_imported_whole_or_refused_with_nothing_saved(self, archive, system, origin):
        before_rows, before_files = Sample.objects.count(), media_files()
        try:
            samples = import_samples(source=archive, system_label=system, origin=origin)
        except SampleImportError as exc:
            event("refused")
            self.assertTrue(str(exc))
            self.assertEqual(Sample.objects.count(), before_rows)
            self.assertEqual(media_files(), before_files)
            return
        event("imported")
        self.assertTrue(samples)
        self.assertEqual(Sample.objects.count(), before_rows + len(samples))
        new_files = media_files() - before_files
        self.assertEqual(len(new_files), len(samples))
        for sample in Sample.objects.filter(pk__in=[s.pk for s in samples]):
            self.assertTrue(sample.audio.storage.exists(sample.audio.name))
            self.assertGreater(sample.duration_s, 0)
            self.assertTrue(sample.system_label)
        # The rows are rolled back after the example; their files are removed here.
        for sample in samples:
            sample.audio.delete(save=False)
