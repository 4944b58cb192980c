"""Sentence files of any bytes, in any encoding, as text or CSV: a set with every sentence, or
SentenceFileError and nothing saved."""

from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from synthesis.importing import SentenceFileError
from synthesis.models import Sentence, SentenceSet
from synthesis.services import import_sentences
from tests.fuzz import fuzz_settings

ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252", "utf-32"]
CELLS = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        [
            "en",
            "es-MX",
            "zh-Hant-TW",
            "",
            "x" * 20,
            "e n",
            "Hello, world",
            '"quoted"',
            "a|b;c",
            "w" * 140_000,
            "a\rb",
        ]
    ),
)


@st.composite
def csv_text(draw) -> str:
    header = draw(
        st.lists(
            st.sampled_from(["text", "language", "tags", "Text", " text ", "other", ""]),
            min_size=1,
            max_size=4,
        )
    )
    rows = draw(st.lists(st.lists(CELLS, min_size=0, max_size=5), max_size=8))
    quote = draw(st.booleans())

    def line(cells):
        return ",".join(f'"{c}"' if quote else c for c in cells)

    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    return newline.join([line(header), *(line(row) for row in rows)])


TEXTS = st.one_of(
    st.text(max_size=200),
    st.lists(st.one_of(st.text(max_size=40), st.just("# a comment"), st.just("")), max_size=10).map(
        "\n".join
    ),
    csv_text(),
)
FILES = st.one_of(
    st.binary(max_size=400),
    st.tuples(TEXTS, st.sampled_from(ENCODINGS)).map(lambda t: t[0].encode(t[1], errors="replace")),
)


class SentenceImportFuzzTests(TestCase):
    @fuzz_settings(150)
    @given(
        data=FILES,
        filename=st.sampled_from(["s.txt", "s.csv", "S.CSV", "noext"]),
        language=st.sampled_from(["en", "es-MX", "", "not a language", "x" * 40]),
    )
    def test_a_file_is_imported_whole_or_refused_with_a_message(self, data, filename, language):
        sets, sentences = SentenceSet.objects.count(), Sentence.objects.count()
        try:
            imported = import_sentences(name="fuzzed", data=data, filename=filename, language=language)
        except SentenceFileError as exc:
            self.assertTrue(str(exc))
            self.assertEqual((SentenceSet.objects.count(), Sentence.objects.count()), (sets, sentences))
            return
        rows = list(imported.sentences.values_list("text", "language"))
        self.assertTrue(rows)
        self.assertEqual(Sentence.objects.count(), sentences + len(rows))
        for text, language_code in rows:
            self.assertEqual(text, text.strip())
            self.assertTrue(text)
            self.assertLessEqual(len(language_code), 16)
            self.assertRegex(language_code, r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
