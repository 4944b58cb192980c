"""The results of a MUSHRA test (ITU-R BS.1534-3): post-screening of assessors, then per condition the
mean score with a 95% t interval and paired Wilcoxon tests between conditions with Holm's correction.

Rows are annotations.multistimulus.mushra_judgements. Post-screening (BS.1534-3 §4.1.2, "Post-screening
of assessors") excludes a rater who scores the hidden reference below 90 on more than 15 % of their pages,
or the anchor above 90 on more than 15 %; at exactly 15 % a rater is kept. The standard states the anchor
rule for its mid-range anchor; this test's anchor is the 3.5 kHz low-pass, which a rule meant for a
better anchor judges all the more safely. The tests compare the conditions (not the reference or the
anchor) on per-rater means: a rater's scores on one page are relative to each other, so the rater,
not the single score, is the independent unit.
"""

from collections import defaultdict
from collections.abc import Collection
from itertools import combinations

import numpy as np

from annotations import multistimulus
from annotations.models import ListeningTest
from annotations.results import stats

REFERENCE_BELOW = 90  # BS.1534-3 §4.1.2: the hidden reference scored below 90 ...
ANCHOR_ABOVE = 90  # ... or the anchor above 90 ...
MAX_SHARE = 0.15  # ... on more than 15 % of the assessor's pages excludes the assessor.
ROLE_ORDER = {multistimulus.REFERENCE: 0, multistimulus.ANCHOR: 1, multistimulus.CONDITION: 2}
ROLE_LABELS = {
    multistimulus.REFERENCE: "hidden reference",
    multistimulus.ANCHOR: "anchor (3.5 kHz low-pass)",
    multistimulus.CONDITION: "",
}

CITATIONS = {
    "screening": "Post-screening of assessors, ITU-R BS.1534-3 (2015) §4.1.2: excluded when the hidden "
    f"reference is scored below {REFERENCE_BELOW} on more than {MAX_SHARE:.0%} of the pages, or the anchor "
    f"above {ANCHOR_ABOVE} on more than {MAX_SHARE:.0%}",
    "mean": "Mean score (0-100) over the kept raters' scores with a 95% interval t(0.975, n − 1) · s / √n, "
    "as ITU-R BS.1534-3 §9 reports it (Student 1908); every score taken as independent",
    "wilcoxon": "Wilcoxon signed-rank test (Wilcoxon 1945) of the per-rater mean scores of two conditions, "
    "over the kept raters who scored both; p Holm-adjusted across the pairs of conditions (Holm 1979)",
}


def post_screening(rows: list[dict]) -> dict[int, dict]:
    """Per evaluator id: pages with the reference and anchor, how many broke each rule, and the reasons."""
    pages: dict[int, dict[str, list[int]]] = defaultdict(lambda: {"reference": [], "anchor": []})
    for row in rows:
        if row["role"] in (multistimulus.REFERENCE, multistimulus.ANCHOR):
            pages[row["evaluator_id"]][row["role"]].append(row["score"])
    raters = {}
    for rater in {row["evaluator_id"] for row in rows}:
        reference, anchor = pages[rater]["reference"], pages[rater]["anchor"]
        low = sum(score < REFERENCE_BELOW for score in reference)
        high = sum(score > ANCHOR_ABOVE for score in anchor)
        reasons = []
        if reference and low / len(reference) > MAX_SHARE:
            reasons.append(f"hidden reference below {REFERENCE_BELOW} in {low} of {len(reference)} pages")
        if anchor and high / len(anchor) > MAX_SHARE:
            reasons.append(f"anchor above {ANCHOR_ABOVE} in {high} of {len(anchor)} pages")
        raters[rater] = {
            "reference_pages": len(reference),
            "reference_below": low,
            "anchor_pages": len(anchor),
            "anchor_above": high,
            "reasons": reasons,
            "excluded": bool(reasons),
        }
    return raters


def flag_codes(screened: dict) -> list[str]:
    """The screening flag codes (screening.FLAG_DESCRIPTIONS) of one rater's post_screening entry."""
    codes = []
    if screened["reference_pages"] and screened["reference_below"] / screened["reference_pages"] > MAX_SHARE:
        codes.append("bs1534_reference")
    if screened["anchor_pages"] and screened["anchor_above"] / screened["anchor_pages"] > MAX_SHARE:
        codes.append("bs1534_anchor")
    return codes


def condition_means(rows: list[dict]) -> list[dict]:
    """Per (role, condition): n, raters, mean and the 95% t interval; reference and anchor first."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        groups[(row["role"], *row["condition"])].append(row)
    result = []
    for (role, system, style), group in sorted(groups.items(), key=lambda i: (ROLE_ORDER[i[0][0]], i[0][1:])):
        summary = stats.mos_summary([row["score"] for row in group])
        half = summary["ci95_t"]
        label = f"{system} · {style or '–'}"
        result.append(
            {
                "role": role,
                "system": system,
                "style": style,
                "label": f"{ROLE_LABELS[role]}: {label}" if ROLE_LABELS[role] else label,
                "n": summary["n"],
                "raters": len({row["evaluator_id"] for row in group}),
                "mean": summary["mean"],
                "sd": summary["sd"],
                "low": summary["mean"] - half if half is not None else None,
                "high": summary["mean"] + half if half is not None else None,
            }
        )
    return result


def paired_tests(rows: list[dict]) -> list[dict]:
    """Wilcoxon on per-rater means of every pair of conditions (role "condition"), Holm-adjusted."""
    means: dict[tuple, dict[int, float]] = defaultdict(dict)
    scores: dict[tuple, list[int]] = defaultdict(list)
    for row in rows:
        if row["role"] == multistimulus.CONDITION:
            scores[(tuple(row["condition"]), row["evaluator_id"])].append(row["score"])
    for (condition, rater), values in scores.items():
        means[condition][rater] = float(np.mean(values))
    tests = []
    for a, b in combinations(sorted(means), 2):
        raters = sorted(set(means[a]) & set(means[b]))
        x, y = [means[b][r] for r in raters], [means[a][r] for r in raters]
        test = stats.wilcoxon_paired(x, y)
        test["mean_difference"] = float(np.mean(np.subtract(x, y))) if raters else None
        tests.append({"a": _label(a), "b": _label(b), **test})
    stats.holm_adjust(tests)
    return tests


def _label(condition: tuple) -> str:
    return f"{condition[0]} · {condition[1] or '–'}"


def summarise(rows: list[dict], *, excluded: Collection[int] = frozenset()) -> dict:
    """Post-screening, then the means and tests over the raters it kept (and not in `excluded`)."""
    screening = post_screening(rows)
    dropped = {rater for rater, result in screening.items() if result["excluded"]} | set(excluded)
    kept = [row for row in rows if row["evaluator_id"] not in dropped]
    return {
        "n_judgements": len(rows),
        "n_kept": len(kept),
        "raters": len(screening),
        "raters_excluded": len(dropped & set(screening)),
        "screening": {
            str(rater): {**result, "flags": flag_codes(result)} for rater, result in screening.items()
        },
        "conditions": condition_means(kept),
        "before": condition_means(rows),
        "tests": paired_tests(kept),
        "thresholds": {
            "reference_below": REFERENCE_BELOW,
            "anchor_above": ANCHOR_ABOVE,
            "max_share": MAX_SHARE,
        },
        "citations": CITATIONS,
    }


def mushra_results(
    test: ListeningTest, *, excluded: Collection[int] = frozenset(), rows: list[dict] | None = None
) -> dict:
    """Everything the dashboard, report and exports show of a MUSHRA test (plain JSON)."""
    rows = multistimulus.mushra_judgements(test) if rows is None else rows
    return {"method": test.method, **summarise(rows, excluded=excluded)}
