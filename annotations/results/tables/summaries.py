"""The rows of the summary exports: per condition or per pair, the methods' own analyses, and the
pieces of the summary JSON. Plain functions of a dashboard's data; which of them a test gets is its
method's choice (annotations.methods), made in annotations.results.exports.
"""

import json
from collections.abc import Callable

from django.utils import timezone

from annotations.models import ListeningTest

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
