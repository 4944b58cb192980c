"""Results of a listening test: SQL aggregates and value lists in, annotations.stats numbers out.

A condition is the (system_label, style_label) of the rated sample, reported per rated dimension.
Only test clips count towards MOS; gold and trapping clips feed screening only. Screening judges
each evaluator on the test's main (first) dimension and, when it flags them, drops all their votes
in every dimension ("after screening").

The fast path (MOS with t, normal and CrowdMOS intervals, distributions, progress) is two GROUP BY
queries per dimension, whatever the number of ratings. Analyses that need every single rating
(screening, bootstrap, agreement) run inline for tests up to the inline limit and, for larger tests,
come from the stored background analysis (annotations.tasks), which also fits the mixed models.
"""

import dataclasses
import math
from collections import defaultdict
from datetime import datetime

import numpy as np
from django.conf import settings
from django.db.models import Case, CharField, Count, F, IntegerField, Max, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Concat
from django.utils import timezone
from scipy import stats as scipy_stats

from annotations.models import ListeningTest, Rating, TestSample
from annotations.results import screening as screening_rules
from annotations.results import stats
from annotations.services import IDLE_RELEASE

DEFAULT_INLINE_LIMIT = 50_000
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


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """Screening settings; None turns the variance or the correlation rule off."""

    min_variance: float | None = 0.1
    min_correlation: float | None = 0.25
    gold_tolerance: float = 1.0

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @staticmethod
    def add_arguments(parser) -> None:
        """The screening options of the management commands ("off" turns a rule off)."""
        parser.add_argument("--min-variance", type=_number_or_off, default=0.1, help="Default 0.1; 'off'.")
        parser.add_argument(
            "--min-correlation", type=_number_or_off, default=0.25, help="Default 0.25; 'off'."
        )
        parser.add_argument("--gold-tolerance", type=float, default=1.0, help="Default 1.")

    @classmethod
    def from_options(cls, options: dict) -> "Thresholds":
        return cls(options["min_variance"], options["min_correlation"], options["gold_tolerance"])


def _number_or_off(value: str) -> float | None:
    return None if value.lower() == "off" else float(value)


@dataclasses.dataclass(frozen=True)
class Screening:
    """Screening of a test's evaluators (by id) and where it came from: live, background or pending."""

    results: dict
    thresholds: Thresholds
    n_ratings: int
    source: str
    computed_at: datetime | None = None
    min_overlap: int = 5  # the test's setting: shared clips the correlation rule needs

    @property
    def excluded(self) -> set[int]:
        return {rater for rater, result in self.results.items() if result.excluded}


def inline_limit() -> int:
    return int(getattr(settings, "SARAI_RESULTS_INLINE_LIMIT", DEFAULT_INLINE_LIMIT))


def test_ratings(test: ListeningTest) -> QuerySet:
    """Every rating of the test, unordered (ordering would cost a sort on large tests)."""
    return Rating.objects.filter(evaluator__test=test).order_by()


def clip_kinds(test: ListeningTest) -> dict[int, tuple[str, int | None]]:
    """sample id -> (clip kind, expected score for gold / instructed score for trapping clips)."""
    rows = test.test_samples.values_list("sample_id", "kind", "expected_score", "instructed_score")
    return {sample: (kind, expected or instructed) for sample, kind, expected, instructed in rows}


def scored_ratings(test: ListeningTest, kinds: dict | None = None) -> QuerySet:
    """Ratings of test clips only (gold and trapping clips never count towards MOS)."""
    kinds = clip_kinds(test) if kinds is None else kinds
    others = [sample for sample, (kind, _) in kinds.items() if kind != TestSample.Kind.TEST]
    ratings = test_ratings(test)
    return ratings.exclude(sample_id__in=others) if others else ratings


def ratings_version(test: ListeningTest) -> tuple[int, int]:
    """(number of ratings, highest rating id): changes whenever a rating is added or removed."""
    row = test_ratings(test).aggregate(n=Count("id"), last=Max("id"))
    return row["n"], row["last"] or 0


# --- screening ---------------------------------------------------------------------------------


def compute_screening(test: ListeningTest, thresholds: Thresholds) -> Screening:
    """screen_raters over the main-dimension votes of every clip kind, straight from the database."""
    kinds = clip_kinds(test)
    gold = {s: target for s, (kind, target) in kinds.items() if kind == TestSample.Kind.GOLD}
    traps = {s: target for s, (kind, target) in kinds.items() if kind == TestSample.Kind.TRAP}
    values = test_ratings(test).filter(dimension=test.rated_dimensions[0])
    values = values.values_list("evaluator_id", "sample_id", "score", "played_to_end")
    rows = [
        (rater, sample, score, played, kinds[sample][0])
        for rater, sample, score, played in values.iterator(chunk_size=10_000)
        if kinds.get(sample, ("training",))[0] in screening_rules.KINDS
    ]
    results = screening_rules.screen_raters(
        rows,
        gold=gold,
        traps=traps,
        min_variance=thresholds.min_variance,
        min_correlation=thresholds.min_correlation,
        gold_tolerance=thresholds.gold_tolerance,
        min_overlap=test.min_rater_overlap,
    )
    return Screening(results, thresholds, len(rows), "live", timezone.now(), test.min_rater_overlap)


def stored_screening(test: ListeningTest, stored: dict | None, thresholds: Thresholds) -> Screening:
    """The background analysis's screening if it used these settings, else a pending (empty) one."""
    overlap = test.min_rater_overlap
    if not stored or stored.get("thresholds") != thresholds.as_dict() or stored.get("min_overlap") != overlap:
        return Screening({}, thresholds, 0, "pending", min_overlap=overlap)
    results = {
        int(rater): screening_rules.ScreeningResult(
            rater=int(rater),
            flags=tuple(data["flags"]),
            reasons=tuple(data["reasons"]),
            n_test_votes=data["n_test_votes"],
            variance=data["variance"],
            correlation=data["correlation"],
            overlap=data["overlap"],
        )
        for rater, data in stored["screening"].items()
    }
    computed_at = datetime.fromisoformat(stored["computed_at"])
    return Screening(results, thresholds, stored["screening_n_ratings"], "background", computed_at, overlap)


# --- CrowdMOS from sufficient statistics -------------------------------------------------------


def crowdmos_from_sums(raters: np.ndarray, items: np.ndarray) -> dict:
    """stats.crowdmos_ci from per-rater and per-item rows of (count, sum, sum of squares).

    The same model and numbers as crowdmos_ci_long (the tests check it), computed from two
    GROUP BY queries instead of the ratings matrix, so it stays fast on a million ratings.
    """
    raters = np.asarray(raters, dtype=float).reshape(-1, 3)
    items = np.asarray(items, dtype=float).reshape(-1, 3)
    total = int(items[:, 0].sum())
    df = min(len(raters), len(items)) - 1
    result = {"mos": None, "ci95": None, "ci95_default": None, "n": total, "df": df}
    result.update(raters=len(raters), items=len(items), v_s=None, v_w=None, v_u=None)
    if total == 0:
        return result
    mos = items[:, 1].sum() / total
    result["mos"] = float(mos)
    if total < 2:
        return result
    v_swu = max(items[:, 2].sum() / total - mos**2, 0.0)
    result["ci95_default"] = 1.96 * math.sqrt(v_swu) / math.sqrt(total)
    v_su, v_wu = _mean_population_variance(raters), _mean_population_variance(items)
    targets = [v_swu if math.isnan(v_su) else v_su, v_swu if math.isnan(v_wu) else v_wu, v_swu]
    solved = np.linalg.solve(np.array([[1, 0, 1], [0, 1, 1], [1, 1, 1]], dtype=float), targets)
    v_s, v_w, v_u = (float(x) for x in np.clip(solved, 0, None))
    var_mu = (v_s * np.sum(items[:, 0] ** 2) + v_w * np.sum(raters[:, 0] ** 2)) / total**2 + v_u / total
    if df >= 1:
        result["ci95"] = float(scipy_stats.t.ppf(0.975, df) * math.sqrt(var_mu))
    result.update(v_s=v_s, v_w=v_w, v_u=v_u)
    return result


def _mean_population_variance(rows: np.ndarray) -> float:
    """Mean of ss/n - (s/n)^2 over rows with n >= 2; NaN if there are none."""
    rows = rows[rows[:, 0] >= 2]
    if not len(rows):
        return math.nan
    means = rows[:, 1] / rows[:, 0]
    return float(np.mean(np.clip(rows[:, 2] / rows[:, 0] - means**2, 0, None)))


# --- MOS per condition (the fast path) ---------------------------------------------------------


def item_counts(ratings: QuerySet, dimension: str) -> dict[int, np.ndarray]:
    """sample id -> votes on scores 1..5 in one dimension (one GROUP BY)."""
    counts: dict[int, np.ndarray] = defaultdict(lambda: np.zeros(5, dtype=np.int64))
    rows = ratings.filter(dimension=dimension).values("sample_id", "score").annotate(n=Count("*"))
    for sample, score, n in rows.values_list("sample_id", "score", "n"):
        counts[sample][score - 1] += n
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


def _sums_of_counts(counts: np.ndarray) -> np.ndarray:
    """(count, sum, sum of squares) per row of score counts 1..5."""
    points = np.arange(1, 6)
    return np.column_stack([counts.sum(axis=1), counts @ points, counts @ points**2]).astype(float)


def summarise(counts: list[np.ndarray], raters: list[tuple]) -> dict:
    """n, MOS, SD, t/normal/CrowdMOS intervals and the score distribution of one condition."""
    matrix = np.array(counts, dtype=np.int64).reshape(-1, 5)
    matrix = matrix[matrix.sum(axis=1) > 0]
    distribution = matrix.sum(axis=0)
    # The five counts are the whole sample of votes, so mos_summary sees exactly the votes cast.
    result = stats.mos_summary(np.repeat(np.arange(1, 6), distribution))
    rater_rows = np.array([r for r in raters if r[0]], dtype=float).reshape(-1, 3)
    result["crowdmos"] = crowdmos_from_sums(rater_rows, _sums_of_counts(matrix))
    result.update(distribution=distribution.tolist(), raters=len(rater_rows), items=len(matrix))
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
        before = item_counts(scored, dimension)
        removed = item_counts(scored.filter(evaluator_id__in=excluded), dimension) if excluded else {}
        after = {s: before[s] - removed.get(s, 0) for s in before}
        tables[dimension] = {
            "items_before": _by_condition(before, conditions),
            "items_after": _by_condition(after, conditions),
            "raters": rater_sums(scored, dimension, conditions),
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
                    "before": summarise(
                        list(table["items_before"][condition].values()), list(raters.values())
                    ),
                    "after": summarise(list(table["items_after"].get(condition, {}).values()), kept),
                }
            )
    return rows


def condition_key(dimension: str, system: str, style: str) -> str:
    return f"{dimension}|{system}|{style}"


# --- progress and raters -----------------------------------------------------------------------


def progress(test: ListeningTest, main_counts: dict[int, np.ndarray], now: datetime | None = None) -> dict:
    """Ratings collected against the target (main dimension, test clips) and evaluator activity."""
    clips = test.test_samples.filter(kind=TestSample.Kind.TEST).count()
    per_clip = [int(row.sum()) for row in main_counts.values()]
    cutoff = (now or timezone.now()) - IDLE_RELEASE
    evaluators = test.evaluators.aggregate(
        total=Count("id"),
        finished=Count("id", filter=Q(finished_at__isnull=False)),
        active=Count("id", filter=Q(finished_at__isnull=True, last_seen_at__gte=cutoff)),
    )
    target = clips * test.ratings_per_sample
    collected = sum(per_clip)
    return {
        "clips": clips,
        "target": target,
        "collected": collected,
        "percent": round(100 * min(collected, target) / target, 1) if target else 0.0,
        "clips_complete": sum(n >= test.ratings_per_sample for n in per_clip),
        "evaluators": evaluators["total"],
        "finished": evaluators["finished"],
        "active": evaluators["active"],
        "idle": evaluators["total"] - evaluators["finished"] - evaluators["active"],
    }


def rater_table(test: ListeningTest, screening: Screening, main_raters: dict) -> list[dict]:
    """Every evaluator with their votes on test clips, screening numbers and flags; excluded first."""
    votes: dict[int, int] = defaultdict(int)
    for per_rater in main_raters.values():
        for rater, (n, _, _) in per_rater.items():
            votes[rater] += n
    rows = []
    for evaluator in test.evaluators.values("id", "pseudonym", "finished_at"):
        result = screening.results.get(evaluator["id"])
        rows.append(
            {
                **evaluator,
                "n_votes": votes.get(evaluator["id"], 0),
                "screened": result is not None,
                "excluded": bool(result and result.excluded),
                "flags": list(result.flags) if result else [],
                "reasons": list(result.reasons) if result else [],
                "variance": result.variance if result else None,
                "correlation": result.correlation if result else None,
                "overlap": result.overlap if result else None,
            }
        )
    return sorted(rows, key=lambda row: (not row["excluded"], row["pseudonym"]))


# --- paired comparisons (live part) ------------------------------------------------------------


def sentence_keys(test: ListeningTest) -> dict[int, str]:
    """Test clip sample id -> key of the sentence it says; clips sharing a key are paired."""
    rows = test.test_samples.filter(kind=TestSample.Kind.TEST)
    keys = {}
    for sample, sentence, text in rows.values_list("sample_id", "sample__sentence_id", "sample__text"):
        if sentence:
            keys[sample] = f"sentence:{sentence}"
        elif text.strip():
            keys[sample] = "text:" + " ".join(text.lower().split())
        else:
            keys[sample] = f"sample:{sample}"
    return keys


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
    by_sentence = {c: _sentence_means(items, sentences) for c, items in table["items_after"].items()}
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
        holm_adjust([result[family] for result in results])
    return results


def _sentence_means(items: dict[int, np.ndarray], sentences: dict[int, str]) -> dict[str, float]:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for sample, counts in items.items():
        if counts.sum():
            totals[sentences[sample]][0] += int(counts.sum())
            totals[sentences[sample]][1] += int(counts @ np.arange(1, 6))
    return {key: s / n for key, (n, s) in totals.items()}


def _paired(a: dict, b: dict) -> dict:
    units = sorted(set(a) & set(b), key=str)
    x, y = [b[unit] for unit in units], [a[unit] for unit in units]
    result = stats.wilcoxon_paired(x, y)
    result["mean_difference"] = float(np.mean(np.subtract(x, y))) if units else None
    return result


def holm_adjust(tests: list[dict]) -> None:
    """Add p_holm and reject_holm (alpha 0.05) to the tests that have a p-value, as one family."""
    tested = [test for test in tests if test and test.get("p") is not None]
    adjusted = stats.holm([test["p"] for test in tested])
    for test, p, reject in zip(tested, adjusted["p_adjusted"], adjusted["reject"], strict=True):
        test.update(p_holm=p, reject_holm=reject)
