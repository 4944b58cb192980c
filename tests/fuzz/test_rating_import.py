"""Rating CSVs with random columns and cells: a closed test holding every line, or RatingImportError
and nothing saved."""

import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from annotations import models as annotation_models
from annotations.models import Evaluator, ListeningTest, Rating, Scale
from annotations.results.imports import RatingImportError, import_ratings
from synthesis.models import Sample, Sentence, SentenceSet
from tests.fuzz import fuzz_settings
from tests.fuzz.archives import OwnMediaRoot, csv_line, media_files

# an import saved whole in one transaction or not at all: repeated on PostgreSQL + Redis
pytestmark = pytest.mark.backends

COLUMNS = [
    "test",
    "evaluator",
    "sample",
    "system",
    "style",
    "sentence",
    "clip_kind",
    "clip_target_score",
    "dimension",
    "score",
    "played_to_end",
    "play_count",
    "time_to_answer_ms",
    "first_fetch_at",
    "fetch_count",
    "received_at",
    "created_at",
]
ODD = [
    "",
    "1",
    "3",
    "5",
    "0",
    "-1",
    "NaN",
    "1e3",
    "٣",
    "9" * 30,
    "40000",
    "true",
    "maybe",
    "gold",
    "trap",
    "test",
    "2024-05-01T10:00:00",
    "2024-05-01T10:00:00+02:00",
    "9999-12-31T23:59:59-12:00",
    "0001-01-01T00:00:00+14:00",
    "x" * 400,
    "a\x00b",
    "z" * 200_000,
]
CELLS = st.one_of(st.sampled_from(ODD), st.text(max_size=20), st.integers(-(2**40), 2**40).map(str))
MODELS = (ListeningTest, Rating, Evaluator, annotation_models.TestSample, Sample, Sentence, SentenceSet)


@st.composite
def rating_csvs(draw) -> list[str]:
    """A header (mostly with the required columns) and lines of cells, valid ones among random ones."""
    header = draw(st.lists(st.sampled_from(COLUMNS), min_size=1, max_size=12, unique=True))
    if draw(st.integers(0, 4)):
        header = list(dict.fromkeys(["evaluator", "sample", "system", "dimension", "score", *header]))
    valid = {"evaluator": "R1", "sample": "s1", "system": "sys-a", "dimension": "overall", "score": "4"}
    lines = []
    for _ in range(draw(st.integers(0, 5))):
        cells = [valid.get(column, "") if draw(st.integers(0, 3)) else draw(CELLS) for column in header]
        lines.append(csv_line(cells[: draw(st.integers(len(cells) - 1, len(cells) + 1))]))
    return [csv_line(header), *lines]


class RatingImportFuzzTests(OwnMediaRoot, TestCase):
    @fuzz_settings(120)
    @given(lines=rating_csvs())
    def test_a_ratings_csv_is_imported_whole_or_refused_with_nothing_saved(self, lines):
        counts = [model.objects.count() for model in MODELS]
        files = media_files()
        scale = Scale.objects.get(name="acr-en")
        try:
            test = import_ratings(name="fuzzed", lines=[line + "\n" for line in lines], scale=scale)
        except RatingImportError as exc:
            event("refused")
            self.assertTrue(str(exc))
            self.assertEqual([model.objects.count() for model in MODELS], counts)
            self.assertEqual(media_files() - files, set())
            return
        event("imported")
        ratings = Rating.objects.filter(evaluator__test=test)
        self.assertEqual(ratings.count(), len(lines) - 1)
        for score in ratings.values_list("score", flat=True):
            self.assertTrue(scale.contains(score))
