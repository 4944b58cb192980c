"""MOS per condition and dimension: the fast path's GROUP BY tables, the paired comparisons of
conditions, and the analyses on every rating (two-way bootstrap, agreement, mixed models).

The fast path (MOS with t, normal and CrowdMOS intervals, distributions) is two GROUP BY queries per
dimension, whatever the number of ratings. Only test clips count towards MOS; gold and trapping clips
feed screening only. The numbers come from annotations.results.stats.
"""

from array import array
from collections import defaultdict

import numpy as np
from django.db.models import Case, CharField, Count, F, IntegerField, QuerySet, Sum, Value, When
from django.db.models.functions import Concat

from annotations.models import ListeningTest, Scale, TestSample
from annotations.results import stats
from annotations.results.raters import scored_ratings
from synthesis.models import Sample

HEADLINE_CI = "crowdmos"


CI_METHODS = {
    "crowdmos": "CrowdMOS (Ribeiro et al. 2011): t(0.975, min(raters, clips) − 1) · √Var(MOS) under "
    "score = MOS + rater effect + clip effect + error",
    "t": "t-based (ITU-T P.1401): t(0.975, n − 1) · s / √n, every vote taken as independent",
    "normal": "normal (P.808 toolkit): 1.96 · s / √n, every vote taken as independent",
    "bootstrap": "two-way bootstrap: raters and clips resampled independently, 1000 replicates, "
    "95% percentile interval (seed 0)",
}


HEADLINE_REASON = (
    "The headline interval is CrowdMOS (Ribeiro et al. 2011): votes by the same rater, and votes on the "
    "same clip, are correlated, and CrowdMOS is the closed-form interval that counts both the rater and "
    "the clip variance. The t and normal intervals treat every vote as independent and come out too "
    "narrow when raters differ; the two-way bootstrap accounts for both too and is shown as a check."
)


def item_counts(ratings: QuerySet, dimension: str, scale: Scale) -> dict[int, np.ndarray]:
    """sample id -> votes on each point of the scale in one dimension (one GROUP BY)."""
    counts: dict[int, np.ndarray] = defaultdict(lambda: np.zeros(scale.n_values, dtype=np.int64))
    rows = ratings.filter(dimension=dimension).values("sample_id", "score").annotate(n=Count("*"))
    for sample, score, n in rows.values_list("sample_id", "score", "n"):
        counts[sample][scale.index(score)] += n
    return counts


def rater_sums(
    ratings: QuerySet,
    dimension: str,
    conditions: dict[int, tuple],
    *,
    case_limits: tuple[int, int] = (12, 5000),
) -> dict[tuple, dict[int, tuple]]:
    """(system, style) -> evaluator id -> (count, sum, sum of squares) in one dimension (one GROUP BY).

    The condition is computed in SQL as a small integer from the clip ids rather than by joining the
    sample table and grouping on its two labels: sorting a million short keys is a third faster. Past
    case_limits (conditions, clips) one CASE branch per condition costs more than the join.
    """
    by_condition = defaultdict(list)
    for sample, condition in conditions.items():
        by_condition[condition].append(sample)
    if len(by_condition) > case_limits[0] or len(conditions) > case_limits[1]:
        index = Concat(
            F("sample__system_label"), Value("\x1f"), F("sample__style_label"), output_field=CharField()
        )
        lookup = {f"{system}\x1f{style}": (system, style) for system, style in by_condition}
    else:
        branches = (When(sample_id__in=ids, then=Value(k)) for k, ids in enumerate(by_condition.values()))
        index = Case(*branches, output_field=IntegerField())
        lookup = dict(enumerate(by_condition))
    rows = (
        ratings.filter(dimension=dimension)
        .annotate(condition=index)
        .values("condition", "evaluator_id")
        .annotate(n=Count("*"), s=Sum("score"), ss=Sum(F("score") * F("score")))
        .values_list("condition", "evaluator_id", "n", "s", "ss")
    )
    result: dict[tuple, dict[int, tuple]] = defaultdict(dict)
    for condition, rater, n, s, ss in rows:
        if condition in lookup:  # ratings of samples that are not test clips are left out
            result[lookup[condition]][rater] = (n, s, ss)
    return result


def condition_of_clips(test: ListeningTest) -> dict[int, tuple[str, str]]:
    """Test clips: sample id -> (system, style)."""
    rows = test.test_samples.filter(kind=TestSample.Kind.TEST)
    return {
        s: (sys, sty)
        for s, sys, sty in rows.values_list("sample_id", "sample__system_label", "sample__style_label")
    }


def dimension_tables(test: ListeningTest, excluded: set[int]) -> dict[str, dict]:
    """Per dimension: per-condition item counts and rater sums, before and after screening."""
    scored = scored_ratings(test)
    conditions = condition_of_clips(test)
    tables = {}
    for dimension in test.rated_dimensions:
        before = item_counts(scored, dimension, test.scale)
        removed = (
            item_counts(scored.filter(evaluator_id__in=excluded), dimension, test.scale) if excluded else {}
        )
        after = {s: before[s] - removed.get(s, 0) for s in before}
        tables[dimension] = {
            "items_before": _by_condition(before, conditions),
            "items_after": _by_condition(after, conditions),
            "raters": rater_sums(scored, dimension, conditions),
            "points": test.scale.values,
        }
    return tables


def _by_condition(counts: dict[int, np.ndarray], conditions: dict) -> dict[tuple, dict[int, np.ndarray]]:
    grouped: dict[tuple, dict[int, np.ndarray]] = defaultdict(dict)
    for sample, row in counts.items():
        if sample in conditions:
            grouped[conditions[sample]][sample] = row
    return grouped


def condition_rows(tables: dict[str, dict], excluded: set[int]) -> list[dict]:
    """One row per dimension x condition with its summary before and after screening."""
    rows = []
    for dimension, table in tables.items():
        for condition in sorted(table["items_before"]):
            raters = table["raters"].get(condition, {})
            kept = [sums for rater, sums in raters.items() if rater not in excluded]
            rows.append(
                {
                    "dimension": dimension,
                    "system": condition[0],
                    "style": condition[1],
                    "key": condition_key(dimension, *condition),
                    "before": stats.condition_summary(
                        list(table["items_before"][condition].values()),
                        list(raters.values()),
                        table["points"],
                    ),
                    "after": stats.condition_summary(
                        list(table["items_after"].get(condition, {}).values()), kept, table["points"]
                    ),
                }
            )
    return rows


def condition_key(dimension: str, system: str, style: str) -> str:
    return f"{dimension}|{system}|{style}"


def sentence_keys(test: ListeningTest) -> dict[int, str]:
    """Test clip sample id -> key of the sentence it says; clips sharing a key are paired."""
    rows = test.test_samples.filter(kind=TestSample.Kind.TEST)
    return {
        sample: Sample.key_for(sample, sentence, text)
        for sample, sentence, text in rows.values_list("sample_id", "sample__sentence_id", "sample__text")
    }


def comparison_pairs(conditions) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """Pairs of conditions differing in exactly one factor: two styles of a system, two systems in a style."""
    ordered = sorted(set(conditions))
    return [
        (a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :] if (a[0] == b[0]) != (a[1] == b[1])
    ]


def pair_key(a: tuple[str, str], b: tuple[str, str]) -> str:
    return f"{a[0]}|{a[1]}|{b[0]}|{b[1]}"


def paired_comparisons(table: dict, excluded: set[int], sentences: dict[int, str]) -> list[dict]:
    """B − A for each pair after screening: Wilcoxon on per-rater and on per-sentence means, Holm-adjusted."""
    raters = {
        condition: {rater: s / n for rater, (n, s, _) in per.items() if n and rater not in excluded}
        for condition, per in table["raters"].items()
    }
    by_sentence = {
        c: _sentence_means(items, sentences, table["points"]) for c, items in table["items_after"].items()
    }
    results = [
        {
            "key": pair_key(a, b),
            "a": a,
            "b": b,
            "by_rater": _paired(raters.get(a, {}), raters.get(b, {})),
            "by_sentence": _paired(by_sentence[a], by_sentence[b]),
        }
        for a, b in comparison_pairs(by_sentence)
    ]
    for family in ("by_rater", "by_sentence"):
        stats.holm_adjust([result[family] for result in results])
    return results


def _sentence_means(
    items: dict[int, np.ndarray], sentences: dict[int, str], points: list[int]
) -> dict[str, float]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for sample, counts in items.items():
        if counts.sum():
            totals[sentences[sample]][0] += int(counts.sum())
            totals[sentences[sample]][1] += int(counts @ np.asarray(points))
    return {key: s / n for key, (n, s) in totals.items()}


def _paired(a: dict, b: dict) -> dict:
    units = sorted(set(a) & set(b), key=str)
    x, y = [b[unit] for unit in units], [a[unit] for unit in units]
    result = stats.wilcoxon_paired(x, y)
    result["mean_difference"] = float(np.mean(np.subtract(x, y))) if units else None
    return result


N_BOOT = 1000


# statsmodels fits crossed random effects with dense design matrices: rows x (raters + sentences)
# floats. Beyond this many cells (160 MB) the fit is skipped and the reason shown.
MIXED_MODEL_MAX_CELLS = 20_000_000


def full_rows(test: ListeningTest) -> dict[str, np.ndarray]:
    """dimension -> int64 array of (evaluator id, sample id, score), test clips only, compactly."""
    columns: dict[str, tuple[array, array, array]] = defaultdict(lambda: (array("q"), array("q"), array("q")))
    values = scored_ratings(test).values_list("dimension", "evaluator_id", "sample_id", "score")
    for dimension, rater, sample, score in values.iterator(chunk_size=20_000):
        raters, samples, scores = columns[dimension]
        raters.append(rater)
        samples.append(sample)
        scores.append(score)
    return {
        dimension: np.column_stack([np.frombuffer(column, dtype=np.int64) for column in parts])
        for dimension, parts in columns.items()
    }


def _ids_by_condition(conditions: dict[int, tuple]) -> dict[tuple, list[int]]:
    grouped = defaultdict(list)
    for sample, condition in conditions.items():
        grouped[condition].append(sample)
    return grouped


def bootstrap_by_condition(rows: dict, conditions: dict, excluded: set[int], *, n_boot: int = N_BOOT) -> dict:
    """condition key -> two-way bootstrap CI before and after screening (seed 0, reproducible)."""
    result = {}
    for dimension, data in rows.items():
        kept = ~np.isin(data[:, 0], list(excluded))
        for condition, ids in _ids_by_condition(conditions).items():
            mask = np.isin(data[:, 1], ids)
            if not mask.any():
                continue
            result[condition_key(dimension, *condition)] = {
                label: stats.bootstrap_ci(data[m, 0], data[m, 1], data[m, 2], n_boot=n_boot, seed=0)
                for label, m in (("before", mask), ("after", mask & kept))
            }
    return result


def agreement(rows: dict, excluded: set[int]) -> list[dict]:
    """Krippendorff's alpha (ordinal and interval) per dimension, raters x clips, after screening."""
    result = []
    for dimension, data in rows.items():
        data = data[~np.isin(data[:, 0], list(excluded))]
        raters, r = np.unique(data[:, 0], return_inverse=True)
        units, u = np.unique(data[:, 1], return_inverse=True)
        matrix = np.full((len(raters), len(units)), np.nan)
        matrix[r, u] = data[:, 2]
        result.append(
            {
                "dimension": dimension,
                "raters": len(raters),
                "units": len(units),
                "n": len(data),
                "ordinal": stats.krippendorff_alpha(matrix, "ordinal") if len(data) else None,
                "interval": stats.krippendorff_alpha(matrix, "interval") if len(data) else None,
            }
        )
    return result


def mixed_models(data: np.ndarray, conditions: dict, sentences: dict, excluded: set[int]) -> dict:
    """pair key -> score ~ condition + (1|rater) + (1|sentence) on the main dimension, after screening."""
    data = data[~np.isin(data[:, 0], list(excluded))]
    ids = _ids_by_condition(conditions)
    result = {}
    for a, b in comparison_pairs(ids):
        in_b = set(ids[b])
        pair = data[np.isin(data[:, 1], ids[a] + ids[b])]
        levels = len(np.unique(pair[:, 0])) + len({sentences[s] for s in np.unique(pair[:, 1]).tolist()})
        if len(pair) * levels > MIXED_MODEL_MAX_CELLS:
            result[pair_key(a, b)] = {
                "difference": None,
                "p": None,
                "error": f"not fitted: {len(pair)} ratings × {levels} random-effect levels is more than "
                "statsmodels can hold as dense design matrices; the Wilcoxon tests above still apply",
            }
            continue
        rows = [
            (rater, sentences[sample], "b" if sample in in_b else "a", score)
            for rater, sample, score in pair.tolist()
        ]
        result[pair_key(a, b)] = stats.compare_conditions(rows, "a", "b")["mixed_model"]
    return result


def heavy_analyses(test: ListeningTest, screening, stored: dict | None, inline: bool) -> dict:
    """Bootstrap and agreement (inline for small tests, else stored); mixed models always stored."""
    mixed = (stored or {}).get("mixed_models", {})
    if inline:
        rows = full_rows(test)
        conditions = condition_of_clips(test)
        return {
            "bootstrap": bootstrap_by_condition(rows, conditions, screening.excluded),
            "agreement": agreement(rows, screening.excluded),
            "mixed_models": mixed,
        }
    if screening.source != "background":
        return {"bootstrap": {}, "agreement": [], "mixed_models": {}}
    return {"bootstrap": stored["bootstrap"], "agreement": stored["agreement"], "mixed_models": mixed}


def attach_heavy(conditions: list[dict], comparisons: list[dict], heavy: dict) -> None:
    """Bootstrap intervals onto the condition rows, mixed models (Holm-adjusted) onto the comparisons."""
    for row in conditions:
        row["bootstrap"] = heavy["bootstrap"].get(row["key"]) or {}
        row["states"] = [
            {"name": state, "summary": row[state], "bootstrap": row["bootstrap"].get(state)}
            for state in ("after", "before")
        ]
    for comparison in comparisons:
        comparison["mixed_model"] = heavy["mixed_models"].get(comparison["key"])
    stats.holm_adjust([comparison["mixed_model"] for comparison in comparisons])
