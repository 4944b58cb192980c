"""Exports for papers: tidy ratings CSV (streamed in constant memory), the per-condition summary as CSV
and JSON, per-sample measurements as CSV and a self-contained HTML report of a test.
"""

import csv
import io
from collections.abc import Iterable, Iterator

from django.http import StreamingHttpResponse
from django.template.loader import render_to_string
from django.utils import timezone

from annotations.models import ListeningTest
from annotations.results import charts, run_analysis, services
from annotations.services import screen_results
from synthesis import modes
from synthesis.engines import textnorm
from synthesis.engines.models import library_versions
from synthesis.models import Sample

# The Rating fields a ratings CSV carries as they are (imports.py reads the same ones back).
RATING_FIELDS = (
    "dimension",
    "score",
    "played_to_end",
    "play_count",
    "time_to_answer_ms",
    "first_fetch_at",
    "fetch_count",
    "received_at",
    "created_at",
)

RATING_COLUMNS = (
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
    "screening_flags",
    "screen_result",
    "screen_correct",
    "screen_attempts",
)
CHUNK_SIZE = 5_000
LIBRARIES = ("django", "numpy", "scipy", "statsmodels", "krippendorff", "jiwer", "pandas")


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value


def sample_key(sample_id: int, source_name: str) -> str:
    """How exports name a sample: its original file name if imported, else sample-<id>."""
    return source_name or f"sample-{sample_id}"


def _clip_info(test: ListeningTest) -> dict[int, tuple]:
    """sample id -> (key, system, style, sentence, clip kind, target score) for the test's clips."""
    rows = test.test_samples.values_list(
        "sample_id",
        "sample__source_name",
        "sample__system_label",
        "sample__style_label",
        "sample__sentence__text",
        "sample__text",
        "kind",
        "expected_score",
        "instructed_score",
    )
    return {
        sample: (sample_key(sample, source), system, style, sentence or text, kind, expected or instructed)
        for sample, source, system, style, sentence, text, kind, expected, instructed in rows
    }


def export_screening(test: ListeningTest, thresholds: services.Thresholds) -> services.Screening:
    """The screening the flags column shows; computed now if a large test has no stored one yet."""
    screening = services.current_screening(test, thresholds)
    return services.compute_screening(test, thresholds) if screening.source == "pending" else screening


def rating_rows(test: ListeningTest, screening: services.Screening) -> Iterator[list]:
    """One list per rating in the order they were given; memory does not grow with the number of ratings."""
    clips = _clip_info(test)
    pseudonyms = dict(test.evaluators.values_list("id", "pseudonym"))
    flags = {rater: ";".join(result.flags) for rater, result in screening.results.items()}
    screens = screen_results(test=test)
    values = services.test_ratings(test).order_by("created_at", "id")
    values = values.values_list("evaluator_id", "sample_id", *RATING_FIELDS)
    for row in values.iterator(CHUNK_SIZE):
        rater, sample, dimension, score, played, plays, answer_ms, first_fetch, fetches, received, at = row
        key, system, style, sentence, kind, target = clips.get(sample) or _outside_clip(sample)
        yield [
            test.name,
            pseudonyms[rater],
            key,
            system,
            style,
            sentence,
            kind,
            "" if target is None else target,
            dimension,
            score,
            "true" if played else "false",
            plays,
            "" if answer_ms is None else answer_ms,
            # Server timings of the answer; empty for ratings imported without them.
            first_fetch.isoformat() if first_fetch else "",
            "" if fetches is None else fetches,
            received.isoformat() if received else "",
            at.isoformat(),
            flags.get(rater, ""),
            screens[rater].result,
            screens[rater].correct_text,
            screens[rater].attempts,
        ]


def _outside_clip(sample_id: int) -> tuple:
    """A rated sample that is not a clip of the test (only possible for hand-made data)."""
    sample = Sample.objects.values("source_name", "system_label", "style_label", "text").get(pk=sample_id)
    key = sample_key(sample_id, sample["source_name"])
    return key, sample["system_label"], sample["style_label"], sample["text"], "test", None


def csv_lines(header: Iterable[str], rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(header)
    for row in rows:
        yield writer.writerow(row)


def _attachment(response, filename: str):
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def ratings_response(test: ListeningTest, thresholds: services.Thresholds) -> StreamingHttpResponse:
    rows = rating_rows(test, export_screening(test, thresholds))
    response = StreamingHttpResponse(csv_lines(RATING_COLUMNS, rows), content_type="text/csv; charset=utf-8")
    return _attachment(response, f"{test.name}-ratings.csv")


def write_ratings(test: ListeningTest, thresholds: services.Thresholds, out) -> int:
    """Write the tidy CSV to a text file opened with newline=""; returns the number of ratings."""
    lines = csv_lines(RATING_COLUMNS, rating_rows(test, export_screening(test, thresholds)))
    out.write(next(lines))
    count = 0
    for line in lines:
        out.write(line)
        count += 1
    return count


# --- the per-condition summary -----------------------------------------------------------------

SUMMARY_COLUMNS = (
    "test",
    "dimension",
    "system",
    "style",
    "screening",
    "n",
    "raters",
    "clips",
    "mos",
    "sd",
    "ci95_crowdmos",
    "ci95_t",
    "ci95_normal",
    "bootstrap_low",
    "bootstrap_high",
    "crowdmos_df",
    "headline_ci",
)


def _state(row: dict, state: str) -> dict:
    """One condition before or after screening, with every CI method side by side."""
    summary, boot = row[state], (row.get("bootstrap") or {}).get(state) or {}
    crowd = summary["crowdmos"]
    return {
        "n": summary["n"],
        "raters": summary["raters"],
        "clips": summary["items"],
        "mos": summary["mean"],
        "sd": summary["sd"],
        "ci95": {
            "crowdmos": crowd["ci95"],
            "t": summary["ci95_t"],
            "normal": summary["ci95_normal"],
            "bootstrap": [boot["low"], boot["high"]] if boot.get("low") is not None else None,
        },
        "crowdmos": {key: crowd[key] for key in ("df", "v_s", "v_w", "v_u", "ci95_default")},
        "bootstrap_replicates": boot.get("n_valid"),
        "distribution": summary["distribution"],
    }


def summary_rows(data: dict) -> list[list]:
    rows = []
    for row in data["conditions"]:
        for state in ("after", "before"):
            s = _state(row, state)
            boot = s["ci95"]["bootstrap"] or [None, None]
            rows.append(
                [data["test"].name, row["dimension"], row["system"], row["style"], state, s["n"], s["raters"]]
                + [s["clips"], s["mos"], s["sd"], s["ci95"]["crowdmos"], s["ci95"]["t"], s["ci95"]["normal"]]
                + [boot[0], boot[1], s["crowdmos"]["df"], data["headline_ci"]]
            )
    return rows


def summary_csv(data: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(SUMMARY_COLUMNS)
    writer.writerows([["" if v is None else v for v in row] for row in summary_rows(data)])
    return buffer.getvalue()


def summary_json(data: dict) -> dict:
    screening = data["screening"]
    return {
        "test": data["test"].name,
        "generated_at": timezone.now().isoformat(),
        "n_ratings": data["n_ratings"],
        "headline_ci": data["headline_ci"],
        "headline_reason": data["headline_reason"],
        "ci_methods": data["ci_methods"],
        "screening": {
            "thresholds": screening.thresholds.as_dict(),
            "min_overlap": screening.min_overlap,
            "source": screening.source,
            "main_dimension_votes_screened": screening.n_ratings,
            "excluded": [
                {"evaluator": row["pseudonym"], "flags": row["flags"], "reasons": row["reasons"]}
                for row in data["excluded"]
            ],
        },
        "headphone_screen": {
            "protocol": "Woods et al. 2017",
            **data["headphone_screen"],
            "raters": [
                {
                    "evaluator": row["pseudonym"],
                    "screen_result": row["screen"].result,
                    "screen_correct": row["screen"].correct_text,
                    "screen_attempts": row["screen"].attempts,
                }
                for row in data["raters"]
            ],
        },
        "conditions": [
            {
                "dimension": row["dimension"],
                "system": row["system"],
                "style": row["style"],
                "after": _state(row, "after"),
                "before": _state(row, "before"),
            }
            for row in data["conditions"]
        ],
    }


# --- per-sample measurements -------------------------------------------------------------------

# The numeric measurements of the one list (synthesis.modes.MEASUREMENTS), in its order.
MEASURED = tuple(m.name for m in modes.numeric_measurements())
MEASUREMENT_COLUMNS = (
    ("sample", "sample_id", "run", "system", "style", "sentence", "text", "recognized_text")
    + MEASURED
    + ("wer_normalisation", "human_mos", "human_votes", "created_at")
)


def measurement_rows(samples) -> Iterator[list]:
    """One row per sample; WER/CER as the pipeline measured them, with the normalisation they used."""
    fields = ("id", "source_name", "run_id", "system_label", "style_label", "sentence__text")
    fields += ("sentence__language", "text", "recognized_text", "created_at", *MEASURED)
    rows = list(samples.order_by("id").values(*fields))
    human = run_analysis.human_mos_by_sample([row["id"] for row in rows])
    for row in rows:
        mos, votes = human.get(row["id"], (None, 0))
        yield [
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
            "" if mos is None else mos,
            votes,
            row["created_at"].isoformat(),
        ]


def measurements_response(samples, filename: str) -> StreamingHttpResponse:
    lines = csv_lines(MEASUREMENT_COLUMNS, measurement_rows(samples))
    return _attachment(StreamingHttpResponse(lines, content_type="text/csv; charset=utf-8"), filename)


# --- the HTML report ---------------------------------------------------------------------------


def render_report(data: dict) -> str:
    """A single HTML file (inline CSS and SVG, no scripts, no external assets) for supplementary material."""
    context = {
        "r": data,
        "test": data["test"],
        "charts": charts.test_charts(data),
        "report": True,
        "generated_at": timezone.now(),
        "versions": library_versions(LIBRARIES),
    }
    return render_to_string("results/report.html", context)
