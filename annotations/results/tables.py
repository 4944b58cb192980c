"""The rows of the exports: tidy ratings of each kind of answer, summaries per condition or per pair,
and the pieces of the summary JSON. Plain functions of a test or of a dashboard's data; which of them
a test gets is its method's choice (annotations.methods), made in annotations.results.exports.
"""

import csv
import json
from collections.abc import Callable, Iterable, Iterator

from django.utils import timezone

from annotations import intelligibility, multistimulus, pairs
from annotations.headphone_screen import screen_results
from annotations.models import ListeningTest, TrialClip
from annotations.results import intelligibility_results, mushra_results
from annotations.results.raters import Screening, test_ratings
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


# A spreadsheet runs a cell starting with one of these as a formula ("CSV injection"): a sentence
# text or an imported file name must not become a live link or a call when a researcher opens an export.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value


def sample_key(sample_id: int, source_name: str) -> str:
    """How exports name a sample: its original file name if imported, else sample-<id>."""
    return source_name or f"sample-{sample_id}"


def clip_info(test: ListeningTest) -> dict[int, tuple]:
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


def rating_rows(test: ListeningTest, screening: Screening) -> Iterator[list]:
    """One list per rating in the order they were given; memory does not grow with the number of ratings."""
    clips = clip_info(test)
    pseudonyms = dict(test.evaluators.values_list("id", "pseudonym"))
    flags = {rater: ";".join(result.flags) for rater, result in screening.results.items()}
    screens = screen_results(test=test)
    values = test_ratings(test).order_by("created_at", "id")
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


def safe_cell(value):
    """value, or a text that a spreadsheet would run as a formula with a leading ' (shown as text).

    Numbers stay numbers: a CMOS score of -2, or "-0.5" as text, is written as it is.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


def csv_lines(header: Iterable[str], rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow([safe_cell(value) for value in header])
    for row in rows:
        yield writer.writerow([safe_cell(value) for value in row])


PAIR_RATING_COLUMNS = (
    "test",
    "evaluator",
    "sentence_key",
    "sentence",
    "sample_a",
    "system_a",
    "style_a",
    "sample_b",
    "system_b",
    "style_b",
    "order",
    "dimension",
    "answer",
    "answer_label",
    "system_x",
    "style_x",
    "system_y",
    "style_y",
    "answer_y_vs_x",
    "trial",
    "repeat_of",
    "first_fetch_at",
    "received_at",
    "time_to_answer_ms",
    "fetch_count",
    "played_to_end",
    "play_count",
    "created_at",
    "screening_flags",
    "excluded",
    "screen_result",
    "screen_correct",
    "screen_attempts",
)


def pair_rating_rows(test: ListeningTest, screening: Screening) -> Iterator[list]:
    """One list per judgement (pairs.pair_judgements, each rater's in the order answered).

    Clip A is the one played first, B the one played second (the answer rates B relative to A);
    X and Y are the pair's conditions in canonical order (X sorts first) and answer_y_vs_x is the
    answer read as Y relative to X. repeat_of names the trial a repeated pair repeats. Unlike the ACR
    rows these are built in memory, as the judgements are read whole to pair each answer with its clips.
    """
    clips = _pair_clips(test)
    extra = dict(
        (rating, rest)
        for rating, *rest in test_ratings(test)
        .filter(dimension=test.rated_dimensions[0], trial__isnull=False)
        .values_list("id", "fetch_count", "played_to_end", "play_count", "created_at")
        .iterator(CHUNK_SIZE)
    )
    labels = dict(test.scale.choices())
    flags = {rater: result.flags for rater, result in screening.results.items()}
    screens = screen_results(test=test)
    for row in pairs.pair_judgements(test):
        trial = row["original_trial"]
        first, second = (pairs.X, pairs.Y) if row["first"] == pairs.X else (pairs.Y, pairs.X)
        (key_a, text), (key_b, _) = clips[(trial, first)], clips[(trial, second)]
        a, b = row[first.lower()], row[second.lower()]
        fetches, played, plays, created = extra[row["rating"]]
        rater, screen = row["evaluator_id"], screens[row["evaluator_id"]]
        yield [
            test.name,
            row["rater"],
            row["sentence"],
            text,
            key_a,
            *a,
            key_b,
            *b,
            f"{row['first']}-first",
            test.rated_dimensions[0],
            row["score"],
            labels.get(row["score"], ""),
            *row["x"],
            *row["y"],
            row["corrected"],
            row["trial"],
            row["repeat_of"] or "",
            row["first_fetch_at"].isoformat() if row["first_fetch_at"] else "",
            row["received_at"].isoformat() if row["received_at"] else "",
            "" if row["time_to_answer_ms"] is None else row["time_to_answer_ms"],
            "" if fetches is None else fetches,
            "true" if played else "false",
            plays,
            created.isoformat(),
            ";".join(flags.get(rater, ())),
            "true" if rater in screening.excluded else "false",
            screen.result,
            screen.correct_text,
            screen.attempts,
        ]


def _pair_clips(test: ListeningTest) -> dict[tuple[int, str], tuple[str, str]]:
    """(trial id, role) -> (sample key, sentence text) for the test's pair trials."""
    rows = TrialClip.objects.filter(trial__test=test).values_list(
        "trial_id", "role", "test_sample__sample_id", "test_sample__sample__source_name"
    )
    texts = {
        sample: sentence or text
        for sample, sentence, text in test.test_samples.values_list(
            "sample_id", "sample__sentence__text", "sample__text"
        )
    }
    return {
        (trial, role): (sample_key(sample, source), texts[sample]) for trial, role, sample, source in rows
    }


INTELLIGIBILITY_COLUMNS = (
    "test", "evaluator", "trial", "sample", "system", "style", "sentence_key", "language", "reference",
    "transcript", "normaliser", "reference_normalised", "transcript_normalised", "word_errors", "ref_words",
    "wer", "char_errors", "ref_chars", "cer", "plays", "play_count", "asr_transcript", "first_fetch_at",
    "received_at", "time_to_answer_ms",
)  # fmt: skip


MUSHRA_COLUMNS = (
    "test", "evaluator", "trial", "sentence_key", "sample", "system", "style", "role", "score", "position",
    "stimuli", "first_fetch_at", "received_at", "time_to_answer_ms", "excluded", "exclusion_reason",
)  # fmt: skip


def _when(value) -> str:
    return value.isoformat() if value else ""


def _blank(value) -> object:
    return "" if value is None else value


def intelligibility_rows(test: ListeningTest) -> Iterator[list]:
    """One list per transcript with its normalised texts and errors (intelligibility_results.scored_rows)."""
    for row in intelligibility_results.scored_rows(intelligibility.transcriptions(test)):
        yield [
            test.name,
            row["rater"],
            row["trial"],
            row["sample"],
            row["system"],
            row["style"],
            row["sentence"],
            row["language"],
            row["reference"],
            row["transcript"],
            row["method"],
            row["reference_normalised"],
            row["transcript_normalised"],
            row["word_errors"],
            row["ref_words"],
            _blank(row["wer"]),
            row["char_errors"],
            row["ref_chars"],
            _blank(row["cer"]),
            row["plays"],
            row["play_count"],
            row["asr_transcript"] or "",
            _when(row["first_fetch_at"]),
            _when(row["received_at"]),
            _blank(row["time_to_answer_ms"]),
        ]


def mushra_rows(test: ListeningTest) -> Iterator[list]:
    """One list per score with its role, place on the rater's page and BS.1534-3 post-screening."""
    rows = multistimulus.mushra_judgements(test)
    screening = mushra_results.post_screening(rows)
    for row in rows:
        rater = screening[row["evaluator_id"]]
        yield [
            test.name,
            row["rater"],
            row["trial"],
            row["sentence"],
            row["sample"],
            row["system"],
            row["style"],
            row["role"],
            row["score"],
            _blank(row["position"]),
            row["stimuli"],
            _when(row["first_fetch_at"]),
            _when(row["received_at"]),
            _blank(row["time_to_answer_ms"]),
            "true" if rater["excluded"] else "false",
            "; ".join(rater["reasons"]),
        ]


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


def _screening_json(data: dict) -> dict:
    screening = data["screening"]
    return {
        "thresholds": screening.thresholds.as_dict(),
        "min_overlap": screening.min_overlap,
        "source": screening.source,
        "main_dimension_votes_screened": screening.n_ratings,
        "excluded": [
            {"evaluator": row["pseudonym"], "flags": row["flags"], "reasons": row["reasons"]}
            for row in data["excluded"]
        ],
    }


def _headphone_json(data: dict) -> dict:
    return {
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
    }


PAIR_COLUMNS = ("test", "method", "table", "screening", "system_x", "style_x", "system_y", "style_y", "n")


CMOS_COLUMNS = (
    "raters",
    "sentences",
    "cmos",
    "ci_low",
    "ci_high",
    "t_low",
    "t_high",
    "wilcoxon_raters",
    "wilcoxon_statistic",
    "wilcoxon_p",
    "wilcoxon_p_holm",
    "order_n_x_first",
    "order_n_y_first",
    "order_mean_x_first",
    "order_mean_y_first",
    "order_difference",
    "order_low",
    "order_high",
    "order_p",
)


AB_COLUMNS = (
    "x_preferred",
    "y_preferred",
    "no_preference",
    "share_y_decisive",
    "share_y_decisive_low",
    "share_y_decisive_high",
    "share_x",
    "share_x_low",
    "share_x_high",
    "share_y",
    "share_y_low",
    "share_y_high",
    "share_none",
    "share_none_low",
    "share_none_high",
    "sign_test_p",
    "sign_test_p_holm",
)


RANKING_COLUMNS = (
    "rank",
    "system",
    "style",
    "strength",
    "strength_low",
    "strength_high",
    "wins",
    "losses",
    "ties",
    "comparisons",
    "note",
)


def cmos_cells(s: dict) -> list:
    t, w, o = s["t_interval"], s["wilcoxon"], s["order_effect"]
    return [s["raters"], s["sentences"], s["mean"], s["ci_low"], s["ci_high"], t["low"], t["high"]] + [
        w["n"],
        w["statistic"],
        w["p"],
        w.get("p_holm"),
        o["n_x_first"],
        o["n_y_first"],
        o["mean_x_first"],
        o["mean_y_first"],
        o["difference"],
        o["low"],
        o["high"],
        o["p"],
    ]


def _share_cells(share: dict) -> list:
    return [share["share"], share["low"], share["high"]]


def ab_cells(s: dict) -> list:
    shares = s["shares"]
    return (
        [s["wins_x"], s["wins_y"], s["ties"], *_share_cells(s["decisive_shares"]["y"])]
        + _share_cells(shares["x"])
        + _share_cells(shares["y"])
        + _share_cells(shares["tie"])
        + [s["sign_test"]["p"], s["sign_test"].get("p_holm")]
    )


def pair_summary_table(
    data: dict, columns: tuple[str, ...], cells: Callable[[dict], list]
) -> tuple[tuple[str, ...], list[list]]:
    """Columns and rows of a pair test's summary CSV: one row per pair of conditions and screening
    state ("pair"), with the method's columns and cells, then one per ranked condition after screening
    ("ranking")."""
    test, analysis = data["test"], data["pairs"] or {"pairs": [], "ranking": {}}
    blank_pair, blank_ranking = [None] * len(columns), [None] * len(RANKING_COLUMNS)
    rows = []
    for pair in analysis["pairs"]:
        for state in ("after", "before"):
            summary = pair[state]
            x, y = pair["x"], pair["y"]
            head = [test.name, test.method, "pair", state, x["system"], x["style"], y["system"], y["style"]]
            rows.append(head + [summary["n"]] + cells(summary) + blank_ranking)
    for row in analysis["ranking"].get("systems", []):
        head = [test.name, test.method, "ranking", "after", None, None, None, None, row["comparisons"]]
        condition = row["condition"]
        ranked = [
            row["rank"],
            condition["system"],
            condition["style"],
            row["strength"],
            row["low"],
            row["high"],
        ]
        ranked += [row["wins"], row["losses"], row["ties"], row["comparisons"], row["note"]]
        rows.append(head + blank_pair + ranked)
    return PAIR_COLUMNS + columns + RANKING_COLUMNS, rows


def method_summary_json(data: dict, analysis: dict | None) -> dict:
    """Everything the dashboard of a pair test or of a method with its own analysis shows, with each
    method's citation; a pair test's "analysis" is None while a large test waits for its background
    analysis."""
    return {
        "test": data["test"].name,
        "method": data["method"],
        "method_title": data["method_title"],
        "generated_at": timezone.now().isoformat(),
        "n_ratings": data["n_ratings"],
        "progress": data["progress"],
        "screening": _screening_json(data),
        "headphone_screen": _headphone_json(data),
        "analysis": analysis,
    }


# --- the summaries of the methods that analyse their answers themselves --------------------------

ANALYSIS_COLUMNS = ("test", "method", "table", "row", "field", "value")


def analysis_rows(test: ListeningTest, items: list[dict]) -> list[list]:
    """An analysis in long form (a method without a summary table of its own): a figure per row, or
    one row per cell of a table, numbered from 1."""
    rows = []
    for item in items:
        if "columns" in item:
            for number, values in enumerate(item["rows"], 1):
                rows += [
                    [test.name, test.method, item["name"], number, column, _cell(value)]
                    for column, value in zip(item["columns"], values, strict=True)
                ]
        else:
            rows.append([test.name, test.method, item["name"], None, None, _cell(item["value"])])
    return rows


def _cell(value) -> object:
    """A figure as it is; a nested structure as compact JSON, so the CSV keeps what the JSON holds."""
    if isinstance(value, dict | list | tuple):
        return json.dumps(value, default=str, separators=(",", ":"))
    return value


MUSHRA_SUMMARY_COLUMNS = (
    "test",
    "method",
    "table",
    "screening",
    "role",
    "system",
    "style",
    "n",
    "raters",
    "mean",
    "sd",
    "t_low",
    "t_high",
    "a",
    "b",
    "wilcoxon_raters",
    "wilcoxon_statistic",
    "wilcoxon_p",
    "wilcoxon_p_holm",
    "mean_difference",
)


def mushra_summary_table(data: dict) -> tuple[tuple[str, ...], list[list]]:
    """A MUSHRA test's summary: mean score per condition (hidden reference and anchor included) after
    and before post-screening, then the Wilcoxon test of each pair of conditions after it."""
    test, analysis = data["test"], data["analysis"]
    rows = []
    for state, key in (("after", "conditions"), ("before", "before")):
        for c in analysis[key]:
            head = [test.name, test.method, "condition", state, c["role"], c["system"], c["style"]]
            rows.append(head + [c["n"], c["raters"], c["mean"], c["sd"], c["low"], c["high"]] + [None] * 7)
    for t in analysis["tests"]:
        head = [test.name, test.method, "paired test", "after"] + [None] * 9
        rows.append(
            head + [t["a"], t["b"], t["n"], t["statistic"], t["p"], t.get("p_holm"), t["mean_difference"]]
        )
    return MUSHRA_SUMMARY_COLUMNS, rows


INTELLIGIBILITY_SUMMARY_COLUMNS = (
    "test",
    "method",
    "system",
    "style",
    "n",
    "raters",
    "samples",
    "wer",
    "wer_low",
    "wer_high",
    "cer",
    "cer_low",
    "cer_high",
    "asr_samples",
    "asr_wer",
    "asr_wer_low",
    "asr_wer_high",
    "asr_cer",
    "asr_cer_low",
    "asr_cer_high",
    "pearson_r_human_asr",
    "spearman_rho_human_asr",
)


def intelligibility_summary_table(data: dict) -> tuple[tuple[str, ...], list[list]]:
    """An intelligibility test's summary: per condition the listeners' WER and CER (percentile
    bootstrap CIs over transcripts) beside the ASR's on the same samples."""
    test, rows = data["test"], []
    for c in data["analysis"]["conditions"]:
        rates = [
            c[key][part] for key in ("wer", "cer", "asr_wer", "asr_cer") for part in ("rate", "low", "high")
        ]
        head = [test.name, test.method, c["system"], c["style"], c["n"], c["raters"], c["samples"]]
        rows.append(head + rates[:6] + [c["asr_samples"]] + rates[6:] + _correlations(c["correlation"]))
    # The whole test: its transcripts and raters, and the per-sample correlation of human with ASR WER.
    analysis, blanks = data["analysis"], [None] * 14
    whole = [test.name, test.method, "(all conditions)", "", analysis["n_transcripts"], analysis["raters"]]
    rows.append(whole + blanks + _correlations(analysis["correlation"]))
    return INTELLIGIBILITY_SUMMARY_COLUMNS, rows


def _correlations(result: dict) -> list:
    return [result.get("pearson_r"), result.get("spearman_rho")]


def mos_summary_json(data: dict) -> dict:
    """Per condition and dimension the MOS before and after screening with every interval side by side."""
    return {
        "test": data["test"].name,
        "method": data["method"],
        "generated_at": timezone.now().isoformat(),
        "n_ratings": data["n_ratings"],
        "progress": data["progress"],
        "headline_ci": data["headline_ci"],
        "headline_reason": data["headline_reason"],
        "ci_methods": data["ci_methods"],
        "screening": _screening_json(data),
        "headphone_screen": _headphone_json(data),
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
