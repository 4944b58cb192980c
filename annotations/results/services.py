"""What the results pages, exports and commands show about a test.

The fast path (annotations.analysis) runs on every request. The analyses that need every single
rating (screening, two-way bootstrap, Krippendorff's alpha) run inline for tests up to the inline
limit; the background analysis (annotations.tasks.analyse_test) computes them for any size, fits
the mixed models and stores the result as JSON under VAR_DIR/analysis/ with when it ran, how long
it took and how many ratings it covered.
"""

import json
import os
import time
from array import array
from collections import defaultdict
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db.models import Count, Max
from django.utils import timezone

from annotations.models import ListeningTest
from annotations.results import analysis, stats
from annotations.results.analysis import Thresholds

N_BOOT = 1000
# statsmodels fits crossed random effects with dense design matrices: rows x (raters + sentences)
# floats. Beyond this many cells (160 MB) the fit is skipped and the reason shown.
MIXED_MODEL_MAX_CELLS = 20_000_000
# A queued analysis blocks another request for the same test this long (the worker may be busy).
PENDING_FOR = timedelta(minutes=15)


# --- analyses on every rating ------------------------------------------------------------------


def full_rows(test: ListeningTest) -> dict[str, np.ndarray]:
    """dimension -> int64 array of (evaluator id, sample id, score), test clips only, compactly."""
    columns: dict[str, tuple[array, array, array]] = defaultdict(lambda: (array("q"), array("q"), array("q")))
    values = analysis.scored_ratings(test).values_list("dimension", "evaluator_id", "sample_id", "score")
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
            result[analysis.condition_key(dimension, *condition)] = {
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
    for a, b in analysis.comparison_pairs(ids):
        in_b = set(ids[b])
        pair = data[np.isin(data[:, 1], ids[a] + ids[b])]
        levels = len(np.unique(pair[:, 0])) + len({sentences[s] for s in np.unique(pair[:, 1]).tolist()})
        if len(pair) * levels > MIXED_MODEL_MAX_CELLS:
            result[analysis.pair_key(a, b)] = {
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
        result[analysis.pair_key(a, b)] = stats.compare_conditions(rows, "a", "b")["mixed_model"]
    return result


# --- the stored background analysis ------------------------------------------------------------


def analysis_path(test_id: int) -> Path:
    return Path(settings.VAR_DIR) / "analysis" / f"test-{test_id}.json"


def _pending_path(test_id: int) -> Path:
    return analysis_path(test_id).with_suffix(".pending")


def load_stored(test: ListeningTest) -> dict | None:
    """The stored background analysis of this very test (same id, name and creation time), if any."""
    try:
        data = json.loads(analysis_path(test.pk).read_text())
    except (OSError, ValueError):
        return None
    same = (data.get("test_id"), data.get("test_name"), data.get("test_created_at"))
    return data if same == (test.pk, test.name, test.created_at.isoformat()) else None


def is_pending(test_id: int) -> bool:
    try:
        queued = datetime.fromisoformat(_pending_path(test_id).read_text().strip())
    except (OSError, ValueError):
        return False
    return timezone.now() - queued < PENDING_FOR


def clear_pending(test_id: int) -> None:
    _pending_path(test_id).unlink(missing_ok=True)


def queue_analysis(*, test: ListeningTest, thresholds: Thresholds) -> bool:
    """Enqueue the background analysis once the transaction commits; False if one is already queued."""
    from annotations import tasks  # tasks import this module

    if is_pending(test.pk):
        return False
    path = _pending_path(test.pk)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(timezone.now().isoformat())
    tasks.analyse_test.delay_on_commit(test.pk, thresholds.as_dict())
    return True


def is_current(stored: dict | None, test: ListeningTest, thresholds: Thresholds) -> bool:
    """True if the stored analysis covers every rating of the test with these thresholds."""
    return bool(
        stored
        and stored["version"] == list(analysis.ratings_version(test))
        and stored["thresholds"] == thresholds.as_dict()
        and stored.get("min_overlap") == test.min_rater_overlap
    )


def run_background_analysis(*, test: ListeningTest, thresholds: Thresholds) -> dict:
    """Screening, bootstrap, agreement and mixed models on every rating; stored as JSON and returned."""
    started, version = time.perf_counter(), analysis.ratings_version(test)
    screening = analysis.compute_screening(test, thresholds)
    excluded, conditions = screening.excluded, analysis.condition_of_clips(test)
    rows = full_rows(test)
    main = rows.get(test.rated_dimensions[0], np.zeros((0, 3), dtype=np.int64))
    data = {
        "test_id": test.pk,
        "test_name": test.name,
        "test_created_at": test.created_at.isoformat(),
        "version": list(version),
        "n_ratings": version[0],
        "thresholds": thresholds.as_dict(),
        "min_overlap": test.min_rater_overlap,
        "screening": {str(rater): result.as_dict() for rater, result in screening.results.items()},
        "screening_n_ratings": screening.n_ratings,
        "bootstrap": bootstrap_by_condition(rows, conditions, excluded),
        "agreement": agreement(rows, excluded),
        "mixed_models": mixed_models(main, conditions, analysis.sentence_keys(test), excluded),
    }
    data["seconds"] = round(time.perf_counter() - started, 3)
    data["computed_at"] = timezone.now().isoformat()
    path = analysis_path(test.pk)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, default=str))
    os.replace(temporary, path)
    return data


# --- everything a page shows -------------------------------------------------------------------


def results_version(test: ListeningTest) -> str:
    """Changes when a rating arrives, an evaluator moves on or a background analysis lands."""
    n, last = analysis.ratings_version(test)
    evaluators = test.evaluators.aggregate(n=Count("id"), done=Count("finished_at"), seen=Max("last_seen_at"))
    seen = evaluators["seen"].timestamp() if evaluators["seen"] else 0
    path = analysis_path(test.pk)
    stored = path.stat().st_mtime if path.exists() else 0
    return f"{n}.{last}.{evaluators['n']}.{evaluators['done']}.{seen}.{stored}.{int(is_pending(test.pk))}"


def current_screening(test: ListeningTest, thresholds: Thresholds | None = None) -> analysis.Screening:
    """Screening computed now for tests up to the inline limit, else the stored background one."""
    thresholds = thresholds or Thresholds()
    if analysis.ratings_version(test)[0] <= analysis.inline_limit():
        return analysis.compute_screening(test, thresholds)
    return analysis.stored_screening(test, load_stored(test), thresholds)


def test_results(
    test: ListeningTest, thresholds: Thresholds | None = None, *, inline: bool | None = None
) -> dict:
    """MOS tables, distributions, comparisons, screening, agreement and progress of one test."""
    thresholds = thresholds or Thresholds()
    version = analysis.ratings_version(test)
    n_ratings = version[0]
    inline = n_ratings <= analysis.inline_limit() if inline is None else inline
    stored = load_stored(test)
    if inline:
        screening = analysis.compute_screening(test, thresholds)
    else:
        screening = analysis.stored_screening(test, stored, thresholds)
    excluded, main = screening.excluded, test.rated_dimensions[0]
    tables = analysis.dimension_tables(test, excluded)
    heavy = _heavy(test, screening, stored, inline)
    conditions = analysis.condition_rows(tables, excluded)
    comparisons = analysis.paired_comparisons(tables[main], excluded, analysis.sentence_keys(test))
    _attach_heavy(conditions, comparisons, heavy)
    main_counts = {s: c for per in tables[main]["items_before"].values() for s, c in per.items()}
    raters = analysis.rater_table(test, screening, tables[main]["raters"])
    return {
        "test": test,
        "thresholds": thresholds,
        "n_ratings": n_ratings,
        "inline": inline,
        "main_dimension": main,
        "dimensions": test.rated_dimensions,
        "progress": analysis.progress(test, main_counts),
        "screening": screening,
        "raters": raters,
        "excluded": [row for row in raters if row["excluded"]],
        "conditions": conditions,
        "comparisons": comparisons,
        "agreement": heavy["agreement"],
        "background": _background_status(test, stored, version, thresholds),
        "headline_ci": analysis.HEADLINE_CI,
        "headline_reason": analysis.HEADLINE_REASON,
        "ci_methods": analysis.CI_METHODS,
    }


def _heavy(test: ListeningTest, screening, stored: dict | None, inline: bool) -> dict:
    """Bootstrap and agreement (inline for small tests, else stored); mixed models always stored."""
    mixed = (stored or {}).get("mixed_models", {})
    if inline:
        rows = full_rows(test)
        conditions = analysis.condition_of_clips(test)
        return {
            "bootstrap": bootstrap_by_condition(rows, conditions, screening.excluded),
            "agreement": agreement(rows, screening.excluded),
            "mixed_models": mixed,
        }
    if screening.source != "background":
        return {"bootstrap": {}, "agreement": [], "mixed_models": {}}
    return {"bootstrap": stored["bootstrap"], "agreement": stored["agreement"], "mixed_models": mixed}


def _attach_heavy(conditions: list[dict], comparisons: list[dict], heavy: dict) -> None:
    """Bootstrap intervals onto the condition rows, mixed models (Holm-adjusted) onto the comparisons."""
    for row in conditions:
        row["bootstrap"] = heavy["bootstrap"].get(row["key"]) or {}
        row["states"] = [
            {"name": state, "summary": row[state], "bootstrap": row["bootstrap"].get(state)}
            for state in ("after", "before")
        ]
    for comparison in comparisons:
        comparison["mixed_model"] = heavy["mixed_models"].get(comparison["key"])
    analysis.holm_adjust([comparison["mixed_model"] for comparison in comparisons])


def _background_status(test: ListeningTest, stored: dict | None, version: tuple, thresholds) -> dict:
    if not stored:
        return {"available": False, "pending": is_pending(test.pk)}
    return {
        "available": True,
        "pending": is_pending(test.pk),
        "computed_at": datetime.fromisoformat(stored["computed_at"]),
        "seconds": stored["seconds"],
        "n_ratings": stored["n_ratings"],
        "stale": stored["version"] != list(version),
        "thresholds_match": stored["thresholds"] == thresholds.as_dict()
        and stored.get("min_overlap") == test.min_rater_overlap,
        "thresholds": stored["thresholds"],
    }
