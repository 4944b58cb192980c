"""Exports for papers: tidy ratings CSV (streamed in constant memory), the per-condition summary as CSV
and JSON, per-sample measurements as CSV and a self-contained HTML report of a test.
"""

import csv
import io
from collections.abc import Iterator

from django.http import StreamingHttpResponse
from django.template.loader import render_to_string
from django.utils import timezone

from annotations.methods import get_method
from annotations.models import ArtifactMark, ListeningTest
from annotations.results import appendix, charts, services
from annotations.results.raters import Thresholds
from annotations.results.tables import clip_info, csv_lines, safe_cell, sample_key
from synthesis import modes
from synthesis.engines import textnorm
from synthesis.engines.models import library_versions

LIBRARIES = ("django", "numpy", "scipy", "statsmodels", "krippendorff", "jiwer", "pandas")


def _attachment(response, filename: str):
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def ratings_response(test: ListeningTest, thresholds: Thresholds) -> StreamingHttpResponse:
    columns, rows = get_method(test.method).export_table(test, thresholds)
    response = StreamingHttpResponse(csv_lines(columns, rows), content_type="text/csv; charset=utf-8")
    return _attachment(response, f"{test.name}-ratings.csv")


def write_ratings(test: ListeningTest, thresholds: Thresholds, out) -> int:
    """Write the tidy CSV to a text file opened with newline=""; returns the number of ratings."""
    lines = csv_lines(*get_method(test.method).export_table(test, thresholds))
    out.write(next(lines))
    count = 0
    for line in lines:
        out.write(line)
        count += 1
    return count


# --- the summary -------------------------------------------------------------------------------


def summary_csv(data: dict) -> str:
    """The summary as CSV, as the test's method lays it out; its rows hold what summary_json holds."""
    columns, rows = get_method(data["test"].method).summary_table(data)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([safe_cell(value) for value in columns])
    writer.writerows([["" if v is None else safe_cell(v) for v in row] for row in rows])
    return buffer.getvalue()


def summary_json(data: dict) -> dict:
    return get_method(data["test"].method).summary_json(data)


# --- per-sample measurements -------------------------------------------------------------------

# The numeric measurements of the one list (synthesis.modes.MEASUREMENTS), in its order, then the
# human score of the sample in one test whose method gives a per-clip score (one row per such test).
MEASURED = tuple(m.name for m in modes.numeric_measurements())
MEASUREMENT_COLUMNS = (
    ("sample", "sample_id", "run", "system", "style", "sentence", "text", "recognized_text")
    + MEASURED
    + ("wer_normalisation", "human_test", "human_method", "human_score_name", "human_scale")
    + ("human_scale_min", "human_scale_max", "human_dimension", "human_score", "human_votes", "created_at")
)
NO_HUMAN_SCORE = ("",) * 8 + (0,)


def measurement_rows(samples, human: dict[int, list[services.HumanScore]]) -> Iterator[list]:
    """One row per sample and human score (one with empty human columns when it has none); WER/CER as
    the pipeline measured them, with the normalisation they used."""
    fields = ("id", "source_name", "run_id", "system_label", "style_label", "sentence__text")
    fields += ("sentence__language", "text", "recognized_text", "created_at", *MEASURED)
    for row in samples.order_by("id").values(*fields).iterator():
        head = [
            sample_key(row["id"], row["source_name"]),
            row["id"],
            row["run_id"] or "",
            row["system_label"],
            row["style_label"],
            row["sentence__text"] or "",
            row["text"],
            row["recognized_text"],
            *("" if row[name] is None else row[name] for name in MEASURED),
            textnorm.default_method(row["sentence__language"] or "en"),
        ]
        for score in human.get(row["id"]) or [None]:
            cells = NO_HUMAN_SCORE if score is None else score.cells()
            yield [*head, *cells, row["created_at"].isoformat()]


def measurements_response(samples, human: dict, filename: str) -> StreamingHttpResponse:
    lines = csv_lines(MEASUREMENT_COLUMNS, measurement_rows(samples, human))
    return _attachment(StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8"), filename)


# --- artifact marks: one row per mark -------------------------------------------------------------

MARK_COLUMNS = ("rater", "sample", "system", "style", "sentence", "start_s", "end_s", "label", "created_at")


def marks_rows(test: ListeningTest) -> Iterator[list]:
    """The test's artifact marks in clip and time order, with the rater's pseudonym and the clip."""
    clips = clip_info(test)
    marks = ArtifactMark.objects.filter(test_sample__test=test).values_list(
        "evaluator__pseudonym", "test_sample__sample_id", "start_s", "end_s", "label", "created_at"
    )
    for rater, sample, start, end, label, created_at in marks.iterator():
        key, system, style, sentence, _, _ = clips[sample]
        yield [
            rater,
            key,
            system,
            style,
            sentence,
            f"{start:.3f}",
            f"{end:.3f}",
            label,
            created_at.isoformat(),
        ]


def marks_response(test: ListeningTest) -> StreamingHttpResponse:
    lines = csv_lines(MARK_COLUMNS, marks_rows(test))
    response = StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8")
    return _attachment(response, f"{test.name}-marks.csv")


# --- the HTML report ---------------------------------------------------------------------------


def render_report(data: dict) -> str:
    """A single HTML file (inline CSS and SVG, no scripts, no external assets) for supplementary material."""
    method = get_method(data["method"])
    context = {
        "r": data,
        "test": data["test"],
        "charts": charts.test_charts(data, method.charts),
        "sections": data["sections"],
        "design": method.report_design,
        "scale": method.describe_scale(data["test"].scale),
        "report": True,
        "generated_at": timezone.now(),
        "versions": library_versions(LIBRARIES),
        "appendix": appendix.reporting_appendix(data),
    }
    return render_to_string("results/report.html", context)
