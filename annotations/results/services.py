"""What the results pages, exports and commands show about a test.

A condition is the (system_label, style_label) of the rated sample, reported per rated dimension.
Only test clips count towards MOS; gold and trapping clips feed screening only. Screening judges
each evaluator on the test's main (first) dimension and, when it flags them, drops all their votes
in every dimension ("after screening").

The fast path (MOS with t, normal and CrowdMOS intervals, distributions, progress) is two GROUP BY
queries per dimension, whatever the number of ratings. Analyses that need every single rating
(screening, two-way bootstrap, Krippendorff's alpha) run inline for tests up to the inline limit;
the background analysis (annotations.tasks.analyse_test) computes them for any size, fits the
mixed models and stores the result with when it ran, how long it took and how many ratings it
covered. This module is the only one that enqueues the results tasks; the numbers come from
annotations.results.stats.

The test's method (annotations.methods) says which of three paths its results take (Method.results),
which sections show them and what the report and the ratings CSV hold. "mos" (ACR) is the path above.
"pairs" (CMOS and A/B preference) has no MOS per condition: the method's analyse gives the results per
pair of conditions and a ranking, after a screening without the correlation rule and, for A/B, with
the consistency rule on repeated pairs; the progress counts pairs. "own" (intelligibility, MUSHRA and
any method registered without another) runs the method's analyse on every page.
"""

import dataclasses
import json
import logging
import os
import time
from array import array
from collections import defaultdict
from datetime import datetime, timedelta

import numpy as np
from django.conf import settings
from django.db.models import Case, CharField, Count, F, IntegerField, Max, Min, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Concat
from django.utils import timezone

from annotations import methods, pairs
from annotations.listening_check import guess_pass_probability
from annotations.models import Analysis, ListeningTest, Rating, Scale, TestSample, Trial, TrialClip
from annotations.results import artifacts, mushra_results, pair_results, stats
from annotations.results import screening as screening_rules
from annotations.services import screen_results
from synthesis.models import Sample

logger = logging.getLogger(__name__)

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
# Screening settings a pair test does not use: it has no gold clips, and the correlation rule needs
# every rater to score the same clips on one absolute scale (see compute_screening).
PAIR_UNUSED_THRESHOLDS = ("min_correlation", "gold_tolerance")
HEADLINE_REASON = (
    "The headline interval is CrowdMOS (Ribeiro et al. 2011): votes by the same rater, and votes on the "
    "same clip, are correlated, and CrowdMOS is the closed-form interval that counts both the rater and "
    "the clip variance. The t and normal intervals treat every vote as independent and come out too "
    "narrow when raters differ; the two-way bootstrap accounts for both too and is shown as a check."
)


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """Screening settings; None turns a rule off. Why these defaults: results.views.ScreeningForm."""

    min_variance: float | None = 0.1
    min_correlation: float | None = 0.25
    gold_tolerance: float = 1.0
    # The timing rules, on the server's timings of each answer (screening.TimingRules).
    answer_margin_s: float | None = 0.5
    at_minimum_share: float = 0.8
    min_clips_without_replay: int | None = 40
    session_margin: float | None = 0.1

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def timing_rules(self) -> screening_rules.TimingRules:
        return screening_rules.TimingRules(
            answer_margin_s=self.answer_margin_s,
            at_minimum_share=self.at_minimum_share,
            min_clips_without_replay=self.min_clips_without_replay,
            session_margin=self.session_margin,
        )

    @staticmethod
    def add_arguments(parser) -> None:
        """The screening options of the management commands ("off" turns a rule off)."""
        parser.add_argument("--min-variance", type=_number_or_off, default=0.1, help="Default 0.1; 'off'.")
        parser.add_argument(
            "--min-correlation", type=_number_or_off, default=0.25, help="Default 0.25; 'off'."
        )
        parser.add_argument("--gold-tolerance", type=float, default=1.0, help="Default 1.")
        parser.add_argument(
            "--answer-margin", type=_number_or_off, default=0.5, help="Seconds; default 0.5; 'off'."
        )
        parser.add_argument("--at-minimum-share", type=float, default=0.8, help="Default 0.8.")
        parser.add_argument(
            "--min-clips-without-replay", type=_integer_or_off, default=40, help="Default 40; 'off'."
        )
        parser.add_argument("--session-margin", type=_number_or_off, default=0.1, help="Default 0.1; 'off'.")

    @classmethod
    def from_options(cls, options: dict) -> "Thresholds":
        return cls(
            options["min_variance"],
            options["min_correlation"],
            options["gold_tolerance"],
            answer_margin_s=options["answer_margin"],
            at_minimum_share=options["at_minimum_share"],
            min_clips_without_replay=options["min_clips_without_replay"],
            session_margin=options["session_margin"],
        )


def _number_or_off(value: str) -> float | None:
    return None if value.lower() == "off" else float(value)


def _integer_or_off(value: str) -> int | None:
    return None if value.lower() == "off" else int(value)


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


def is_pair_test(test: ListeningTest) -> bool:
    return methods.get_method(test.method).results == "pairs"


def sections(test: ListeningTest) -> tuple[str, ...]:
    """The dashboard's sections for the test's method and, where listeners could mark problems on a
    one-clip page, the artifact marks."""
    method = methods.get_method(test.method)
    if test.artifact_labels and method.clips_per_trial == 1:
        return (*method.sections, "artifacts")
    return method.sections


def report_design(test: ListeningTest) -> str:
    return methods.get_method(test.method).report_design


def unused_thresholds(test: ListeningTest) -> tuple[str, ...]:
    """Screening settings the method does not read: all for a method with its own screening."""
    kind = methods.get_method(test.method).results
    if kind == "own":
        return tuple(field.name for field in dataclasses.fields(Thresholds))
    return PAIR_UNUSED_THRESHOLDS if kind == "pairs" else ()


def compute_screening(
    test: ListeningTest, thresholds: Thresholds, *, judgements: list[dict] | None = None
) -> Screening:
    """screen_raters over the main-dimension votes of every clip kind, straight from the database.

    A pair test is screened on its answers as given (the second clip relative to the first) without the
    correlation rule: a clip's raw answers change sign with the order it was played in and with the
    clip it was paired with, and the corrected answers of honest raters agree little when the pairs
    differ little, so the rule would exclude them. Its repeated pairs (A/B) feed the consistency rule;
    judgements are its pairs.pair_judgements rows when the caller has them already.
    """
    pair_test = is_pair_test(test)
    extra_flags = {}
    if pair_test:
        judgements = pairs.pair_judgements(test) if judgements is None else judgements
        extra_flags = screening_rules.consistency_flags(pair_results.consistency_counts(judgements))
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
    screened = [sample for sample, (kind, _) in kinds.items() if kind in screening_rules.KINDS]
    results = screening_rules.screen_raters(
        rows,
        gold=gold,
        traps=traps,
        min_variance=thresholds.min_variance,
        min_correlation=None if pair_test else thresholds.min_correlation,
        gold_tolerance=thresholds.gold_tolerance,
        min_overlap=test.min_rater_overlap,
        answers=screening_answers(test, screened),
        timing=thresholds.timing_rules(),
        extra_flags=extra_flags,
    )
    return Screening(results, thresholds, len(rows), "live", timezone.now(), test.min_rater_overlap)


def screening_answers(test: ListeningTest, samples: list[int]) -> list[screening_rules.Answer]:
    """One Answer per answered trial (main dimension, these clips): server timings from one GROUP BY.

    Ratings without a trial were imported; they form one untimed answer per evaluator.
    """
    method = methods.get_method(test.method)
    durations: dict[int, list[float]] = defaultdict(list)
    clips = TrialClip.objects.filter(trial__test=test).values_list(
        "trial_id", "test_sample__sample__duration_s"
    )
    for trial, duration in clips:
        durations[trial].append(duration)
    timings = (
        test_ratings(test)
        .filter(dimension=test.rated_dimensions[0], sample_id__in=samples)
        .values("evaluator_id", "trial_id")
        .annotate(
            first=Min("first_fetch_at"),
            received=Max("received_at"),
            fetches=Max("fetch_count"),
            plays=Max("play_count"),
        )
        .values_list("evaluator_id", "trial_id", "first", "received", "fetches", "plays")
    )
    return [
        screening_rules.Answer(
            rater=rater,
            imported=trial is None,
            clips=len(durations.get(trial, [])),
            listening_s=method.listening_time(durations[trial]) if trial in durations else 0.0,
            audio_s=sum(durations.get(trial, [])),
            first_fetch=first.timestamp() if first else None,
            received=received.timestamp() if received else None,
            fetch_count=fetches,
            play_count=plays or 1,
        )
        for rater, trial, first, received, fetches, plays in timings
    ]


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
            notes=tuple(data.get("notes", ())),
            at_minimum=data.get("at_minimum"),
            session_ratio=data.get("session_ratio"),
        )
        for rater, data in stored["screening"].items()
    }
    computed_at = stored["computed_at"]
    return Screening(results, thresholds, stored["screening_n_ratings"], "background", computed_at, overlap)


# --- MOS per condition (the fast path) ---------------------------------------------------------


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


# --- progress and raters -----------------------------------------------------------------------


def progress(test: ListeningTest, main_counts: dict[int, np.ndarray], now: datetime | None = None) -> dict:
    """Ratings collected against the target (main dimension, test clips) and evaluator activity."""
    clips = test.test_samples.filter(kind=TestSample.Kind.TEST).count()
    per_clip = [int(row.sum()) for row in main_counts.values()]
    counted = (
        f"Counted on the main dimension ({test.rated_dimensions[0]}) and test clips only, before screening."
    )
    return _progress(test, clips, per_clip, now) | {"unit": "test clips", "counted": counted}


def pair_progress(test: ListeningTest, now: datetime | None = None) -> dict:
    """progress() of a pair test, per pair of clips: "clips" counts the pairs (trials), each wanting
    ratings_per_sample judgements; answers to repeated pairs never count (one GROUP BY)."""
    trials = Trial.objects.filter(test=test, kind=TestSample.Kind.TEST, repeat_of__isnull=True)
    per_trial = (
        Rating.objects.originals()
        .filter(evaluator__test=test, dimension=test.rated_dimensions[0], trial__in=trials)
        .order_by()
        .values("trial_id")
        .annotate(n=Count("id"))
        .values_list("n", flat=True)
    )
    counted = (
        "Counted per pair of clips (one judgement each), before screening; answers to repeated pairs, "
        "asked only to measure consistency, never count."
    )
    return _progress(test, trials.count(), list(per_trial), now) | {"unit": "pairs", "counted": counted}


def _progress(test: ListeningTest, units: int, per_unit: list[int], now: datetime | None) -> dict:
    evaluators = test.evaluators.aggregate(total=Count("id"), finished=Count("finished_at"))
    evaluators["active"] = test.evaluators.active(now).count()
    target = units * test.ratings_per_sample
    collected = sum(per_unit)
    return {
        "clips": units,
        "target": target,
        "collected": collected,
        "percent": round(100 * min(collected, target) / target, 1) if target else 0.0,
        "clips_complete": sum(n >= test.ratings_per_sample for n in per_unit),
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
    return _rater_rows(test, screening, votes)


def pair_rater_table(test: ListeningTest, screening: Screening) -> list[dict]:
    """rater_table of a pair test: "n_votes" counts judgements of pairs, "n_repeats" answers to repeats."""
    counts = list(
        Rating.objects.filter(evaluator__test=test, dimension=test.rated_dimensions[0], trial__isnull=False)
        .order_by()
        .values("evaluator_id")
        .annotate(n=Count("id"), repeats=Count("id", filter=Q(trial__repeat_of__isnull=False)))
        .values_list("evaluator_id", "n", "repeats")
    )
    repeats = {rater: r for rater, _, r in counts}
    rows = _rater_rows(test, screening, {rater: n - r for rater, n, r in counts})
    for row in rows:
        row["n_repeats"] = repeats.get(row["id"], 0)
    return rows


def _rater_rows(test: ListeningTest, screening: Screening, votes: dict[int, int]) -> list[dict]:
    rows = []
    screens = screen_results(test=test)
    for evaluator in test.evaluators.values("id", "pseudonym", "finished_at"):
        result = screening.results.get(evaluator["id"])
        screen = screens[evaluator["id"]]
        rows.append(
            {
                **evaluator,
                "n_votes": votes.get(evaluator["id"], 0),
                "screened": result is not None,
                "excluded": bool(result and result.excluded),
                "flags": list(result.flags) if result else [],
                "reasons": (list(result.reasons) if result else [])
                + _screen_reasons(screen, votes.get(evaluator["id"], 0)),
                "screen": screen,
                "variance": result.variance if result else None,
                "correlation": result.correlation if result else None,
                "overlap": result.overlap if result else None,
                "notes": list(result.notes) if result else [],
                "at_minimum": result.at_minimum if result else None,
                "session_ratio": result.session_ratio if result else None,
            }
        )
    return sorted(rows, key=lambda row: (not row["excluded"], row["pseudonym"]))


def _screen_reasons(screen, n_votes: int) -> list[str]:
    """What the headphone screen says of a rater, beside the rating rules (it never has votes to drop:
    a failed screen ends the session before any rating, and a missing one is only noted)."""
    if screen.result == "failed":
        return [f"failed the headphone screen ({screen.correct_text})"]
    if screen.result == "not_taken" and n_votes:
        return ["rated without taking the headphone screen"]
    return []


def headphone_screen_summary(test: ListeningTest, raters: list[dict]) -> dict:
    """Pass rate of the headphone screen among evaluators who finished an attempt, and its settings."""
    took = [row for row in raters if row["screen"].result in ("passed", "failed")]
    passed = sum(row["screen"].result == "passed" for row in took)
    return {
        "took": len(took),
        "passed": passed,
        "percent": round(100 * passed / len(took), 1) if took else None,
        "trials": test.screen_trials,
        "pass_mark": test.screen_pass_mark,
        "retry_allowed": test.screen_retry_allowed,
        "guess_pass_percent": round(
            100 * guess_pass_probability(test.screen_trials, test.screen_pass_mark), 1
        ),
    }


# --- paired comparisons (live part) ------------------------------------------------------------


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
# A queued analysis blocks another request for the same test this long (the worker may be busy).
PENDING_FOR = timedelta(minutes=15)
# A running analysis whose worker died is handed to another after this; longer than any analysis.
ANALYSIS_LEASE = timedelta(hours=1)


# --- analyses on every rating ------------------------------------------------------------------


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


# --- the stored background analysis ------------------------------------------------------------


def load_stored(test: ListeningTest) -> dict | None:
    """The latest finished background analysis of the test, as the pages read it; None if none."""
    row = test.analyses.filter(status=Analysis.Status.DONE).order_by("-finished_at", "-pk").first()
    if row is None:
        return None
    return {
        **row.result,
        "analysis_id": row.pk,
        "version": [row.n_ratings, row.last_rating_id],
        "n_ratings": row.n_ratings,
        "thresholds": row.thresholds,
        "min_overlap": row.min_overlap,
        "seconds": row.seconds,
        "computed_at": row.finished_at,
    }


def _pending(test_id: int, now: datetime | None = None) -> QuerySet:
    """Analyses of the test queued recently or running on a live lease."""
    now = now or timezone.now()
    return Analysis.objects.filter(
        Q(status=Analysis.Status.QUEUED, created_at__gte=now - PENDING_FOR)
        | Q(status=Analysis.Status.RUNNING, lease_expires_at__gte=now),
        test_id=test_id,
    )


def is_pending(test_id: int) -> bool:
    return _pending(test_id).exists()


def queue_analysis(*, test: ListeningTest, thresholds: Thresholds) -> Analysis | None:
    """Queue the background analysis, enqueued once the transaction commits; None if one is pending."""
    from annotations import tasks  # tasks import this module

    if is_pending(test.pk):
        return None
    analysis = Analysis.objects.create(
        test=test, thresholds=thresholds.as_dict(), min_overlap=test.min_rater_overlap
    )
    tasks.analyse_test.delay_on_commit(analysis.pk)
    return analysis


def claim_analysis(*, analysis_id: int, worker: str) -> Analysis | None:
    """Take a queued analysis (or one whose lease ran out) with one conditional UPDATE; None if taken."""
    now = timezone.now()
    claimable = Q(status=Analysis.Status.QUEUED) | Q(status=Analysis.Status.RUNNING, lease_expires_at__lt=now)
    claimed = Analysis.objects.filter(claimable, pk=analysis_id).update(
        status=Analysis.Status.RUNNING,
        claimed_by=worker,
        started_at=now,
        lease_expires_at=now + ANALYSIS_LEASE,
    )
    return Analysis.objects.select_related("test").get(pk=analysis_id) if claimed else None


def run_claimed_analysis(*, analysis: Analysis) -> None:
    """Compute a claimed analysis and store it (DONE), or store why it failed (FAILED)."""
    mine = Analysis.objects.filter(
        pk=analysis.pk, status=Analysis.Status.RUNNING, claimed_by=analysis.claimed_by
    )
    thresholds = Thresholds(**analysis.thresholds)
    try:
        data, version, seconds = compute_background_analysis(test=analysis.test, thresholds=thresholds)
    except Exception as error:
        logger.exception("background analysis %s failed", analysis.pk)
        mine.update(
            status=Analysis.Status.FAILED,
            error=repr(error)[:2000],
            finished_at=timezone.now(),
            lease_expires_at=None,
        )
        return
    finished = mine.update(
        status=Analysis.Status.DONE,
        result=data,
        seconds=seconds,
        n_ratings=version[0],
        last_rating_id=version[1],
        min_overlap=data["min_overlap"],
        finished_at=timezone.now(),
        lease_expires_at=None,
    )
    if finished:  # the earlier results of this test are superseded
        analysis.test.analyses.filter(status=Analysis.Status.DONE).exclude(pk=analysis.pk).delete()


def is_current(stored: dict | None, test: ListeningTest, thresholds: Thresholds) -> bool:
    """True if the stored analysis covers every rating of the test with these thresholds."""
    return bool(
        stored
        and stored["version"] == list(ratings_version(test))
        and stored["thresholds"] == thresholds.as_dict()
        and stored.get("min_overlap") == test.min_rater_overlap
    )


def compute_background_analysis(*, test: ListeningTest, thresholds: Thresholds) -> tuple[dict, tuple, float]:
    """Screening, bootstrap, agreement and mixed models on every rating: (result, version, seconds).

    For a pair test: screening and the pair analysis (pair_results) under "pairs".
    """
    started, version = time.perf_counter(), ratings_version(test)
    method = methods.get_method(test.method)
    if method.results == "pairs":
        data = _pair_background_analysis(test, thresholds)
        return json.loads(json.dumps(data, default=str)), version, round(time.perf_counter() - started, 3)
    if method.results == "own":
        # Computed inline on every page; stored too so the analysis record stays whole.
        data = {"min_overlap": test.min_rater_overlap, "screening": {}, "screening_n_ratings": 0}
        data["method"] = method.analyse(test)
        return json.loads(json.dumps(data, default=str)), version, round(time.perf_counter() - started, 3)
    screening = compute_screening(test, thresholds)
    excluded, conditions = screening.excluded, condition_of_clips(test)
    rows = full_rows(test)
    main = rows.get(test.rated_dimensions[0], np.zeros((0, 3), dtype=np.int64))
    data = {
        "min_overlap": test.min_rater_overlap,
        "screening": {str(rater): result.as_dict() for rater, result in screening.results.items()},
        "screening_n_ratings": screening.n_ratings,
        "bootstrap": bootstrap_by_condition(rows, conditions, excluded),
        "agreement": agreement(rows, excluded),
        "mixed_models": mixed_models(main, conditions, sentence_keys(test), excluded),
    }
    # JSON round trip: numpy scalars and tuples become what the database will hand back.
    return json.loads(json.dumps(data, default=str)), version, round(time.perf_counter() - started, 3)


def _pair_background_analysis(test: ListeningTest, thresholds: Thresholds) -> dict:
    judgements = pairs.pair_judgements(test)
    screening = compute_screening(test, thresholds, judgements=judgements)
    analyse = methods.get_method(test.method).analyse
    return {
        "min_overlap": test.min_rater_overlap,
        "screening": {str(rater): result.as_dict() for rater, result in screening.results.items()},
        "screening_n_ratings": screening.n_ratings,
        "pairs": analyse(test, excluded=screening.excluded, judgements=judgements),
    }


def run_background_analysis(*, test: ListeningTest, thresholds: Thresholds) -> dict:
    """Run the background analysis now in this process (commands, benchmarks); stored and returned."""
    analysis = Analysis.objects.create(
        test=test,
        thresholds=thresholds.as_dict(),
        min_overlap=test.min_rater_overlap,
        status=Analysis.Status.RUNNING,
        claimed_by=f"inline:{os.getpid()}",
        started_at=timezone.now(),
        lease_expires_at=timezone.now() + ANALYSIS_LEASE,
    )
    run_claimed_analysis(analysis=analysis)
    analysis.refresh_from_db()
    if analysis.status != Analysis.Status.DONE:
        raise RuntimeError(f"background analysis failed: {analysis.error}")
    return load_stored(test)


# --- everything a page shows -------------------------------------------------------------------


def results_version(test: ListeningTest) -> str:
    """Changes when a rating arrives, an evaluator moves on or a background analysis lands."""
    n, last = ratings_version(test)
    evaluators = test.evaluators.aggregate(n=Count("id"), done=Count("finished_at"), seen=Max("last_seen_at"))
    seen = evaluators["seen"].timestamp() if evaluators["seen"] else 0
    stored = test.analyses.filter(status=Analysis.Status.DONE).aggregate(last=Max("pk"))["last"] or 0
    return f"{n}.{last}.{evaluators['n']}.{evaluators['done']}.{seen}.{stored}.{int(is_pending(test.pk))}"


def current_screening(test: ListeningTest, thresholds: Thresholds | None = None) -> Screening:
    """Screening computed now for tests up to the inline limit, else the stored background one."""
    thresholds = thresholds or Thresholds()
    if ratings_version(test)[0] <= inline_limit():
        return compute_screening(test, thresholds)
    return stored_screening(test, load_stored(test), thresholds)


def test_results(
    test: ListeningTest, thresholds: Thresholds | None = None, *, inline: bool | None = None
) -> dict:
    """MOS tables, distributions, comparisons, screening, agreement and progress of one test.

    A pair test gets pair_test_results instead. "sections" lists the dashboard sections that show it;
    with "artifacts" among them, "artifacts" holds the marks' artifact_summary.
    """
    data = _method_results(test, thresholds or Thresholds(), inline=inline)
    if "artifacts" in data["sections"]:
        data["artifacts"] = artifacts.artifact_summary(test)
    return data


def _method_results(test: ListeningTest, thresholds: Thresholds, *, inline: bool | None) -> dict:
    kind = methods.get_method(test.method).results
    if kind == "pairs":
        return pair_test_results(test, thresholds, inline=inline)
    if kind == "own":
        return method_test_results(test, thresholds)
    version = ratings_version(test)
    n_ratings = version[0]
    inline = n_ratings <= inline_limit() if inline is None else inline
    stored = load_stored(test)
    screening = compute_screening(test, thresholds) if inline else stored_screening(test, stored, thresholds)
    excluded, main = screening.excluded, test.rated_dimensions[0]
    tables = dimension_tables(test, excluded)
    heavy = _heavy(test, screening, stored, inline)
    conditions = condition_rows(tables, excluded)
    comparisons = paired_comparisons(tables[main], excluded, sentence_keys(test))
    _attach_heavy(conditions, comparisons, heavy)
    main_counts = {s: c for per in tables[main]["items_before"].values() for s, c in per.items()}
    raters = rater_table(test, screening, tables[main]["raters"])
    return {
        "test": test,
        "thresholds": thresholds,
        "n_ratings": n_ratings,
        "inline": inline,
        "main_dimension": main,
        "scale_values": test.scale.values,
        "dimensions": test.rated_dimensions,
        "progress": progress(test, main_counts),
        "screening": screening,
        "raters": raters,
        "headphone_screen": headphone_screen_summary(test, raters),
        "excluded": [row for row in raters if row["excluded"]],
        "conditions": conditions,
        "comparisons": comparisons,
        "agreement": heavy["agreement"],
        "background": _background_status(test, stored, version, thresholds),
        "headline_ci": HEADLINE_CI,
        "headline_reason": HEADLINE_REASON,
        "ci_methods": CI_METHODS,
        "method": test.method,
        "sections": sections(test),
    }


def pair_test_results(test: ListeningTest, thresholds: Thresholds, *, inline: bool | None = None) -> dict:
    """Progress, screening, raters and the pair analysis (pair_results) of a CMOS or A/B test.

    Like the MOS path, the analysis runs on every update for tests up to the inline limit and comes
    from the stored background analysis above it ("pairs" is None until there is one with these
    screening settings).
    """
    version = ratings_version(test)
    inline = version[0] <= inline_limit() if inline is None else inline
    stored = load_stored(test)
    if inline:
        judgements = pairs.pair_judgements(test)
        screening = compute_screening(test, thresholds, judgements=judgements)
        analyse = methods.get_method(test.method).analyse
        analysis = analyse(test, excluded=screening.excluded, judgements=judgements)
    else:
        screening = stored_screening(test, stored, thresholds)
        analysis = stored.get("pairs") if screening.source == "background" else None
    raters = pair_rater_table(test, screening)
    return {
        "test": test,
        "method": test.method,
        "method_title": methods.get_method(test.method).title,
        "sections": sections(test),
        "thresholds": thresholds,
        "n_ratings": version[0],
        "inline": inline,
        "main_dimension": test.rated_dimensions[0],
        "scale_values": test.scale.values,
        "dimensions": test.rated_dimensions,
        "progress": pair_progress(test),
        "screening": screening,
        "raters": raters,
        "headphone_screen": headphone_screen_summary(test, raters),
        "excluded": [row for row in raters if row["excluded"]],
        "pairs": analysis,
        # A pair test has no MOS per condition; readers of MOS (the claims) find none here.
        "conditions": [],
        "background": _background_status(test, stored, version, thresholds),
    }


def method_test_results(test: ListeningTest, thresholds: Thresholds) -> dict:
    """Progress, the method's own screening, raters and analysis of a test whose method analyses its
    answers itself (intelligibility, MUSHRA, any method registered without a results path of its own).

    Computed on every update (one read of the answers); a MUSHRA rater excluded by BS.1534-3
    post-screening shows on the raters table with the reasons.
    """
    method = methods.get_method(test.method)
    analysis = method.analyse(test)
    votes = dict(
        Rating.objects.originals()
        .filter(evaluator__test=test, dimension=test.rated_dimensions[0], trial__isnull=False)
        .order_by()
        .values("evaluator_id")
        .annotate(n=Count("id"))
        .values_list("evaluator_id", "n")
    )
    results = {
        int(rater): screening_rules.ScreeningResult(
            rater=int(rater),
            flags=tuple(mushra_results.flag_codes(data)),
            reasons=tuple(data["reasons"]),
            n_test_votes=votes.get(int(rater), 0),
            variance=None,
            correlation=None,
        )
        for rater, data in analysis.get("screening", {}).items()
    }
    screening = Screening(
        results, thresholds, sum(votes.values()), "live", timezone.now(), test.min_rater_overlap
    )
    raters = _rater_rows(test, screening, votes)
    return {
        "test": test,
        "method": test.method,
        "method_title": method.title,
        "sections": sections(test),
        "thresholds": thresholds,
        "n_ratings": ratings_version(test)[0],
        "inline": True,
        "main_dimension": test.rated_dimensions[0],
        "scale_values": test.scale.values,
        "dimensions": test.rated_dimensions,
        "progress": trial_progress(test),
        "screening": screening,
        "raters": raters,
        "headphone_screen": headphone_screen_summary(test, raters),
        "excluded": [row for row in raters if row["excluded"]],
        "analysis": analysis,
        "analysis_items": analysis_items(analysis),
        "screening_note": method.screening_note,
        # No MOS per condition; readers of MOS (the claims) find none here.
        "conditions": [],
    }


def analysis_items(analysis: dict) -> list[dict]:
    """A method's analysis as the generic section lists it: a figure per name, or a table for a list
    of rows (dicts), whose columns are the keys of its first row."""
    items = []
    for name, value in analysis.items():
        if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
            columns = list(value[0])
            rows = [[row.get(column) for column in columns] for row in value]
            items.append({"name": name, "columns": columns, "rows": rows})
        else:
            items.append({"name": name, "value": value})
    return items


def trial_progress(test: ListeningTest, now: datetime | None = None) -> dict:
    """progress() per page: raters who answered each test trial (a MUSHRA page holds many scores)."""
    trials = Trial.objects.filter(test=test, kind=TestSample.Kind.TEST)
    per_trial = (
        Rating.objects.originals()
        .filter(evaluator__test=test, dimension=test.rated_dimensions[0], trial__in=trials)
        .order_by()
        .values("trial_id")
        .annotate(n=Count("evaluator_id", distinct=True))
        .values_list("n", flat=True)
    )
    counted = "Counted per page (one answer by one rater each), on test pages only, before screening."
    return _progress(test, trials.count(), list(per_trial), now) | {"unit": "pages", "counted": counted}


def _heavy(test: ListeningTest, screening, stored: dict | None, inline: bool) -> dict:
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
    stats.holm_adjust([comparison["mixed_model"] for comparison in comparisons])


def _background_status(test: ListeningTest, stored: dict | None, version: tuple, thresholds) -> dict:
    if not stored:
        return {"available": False, "pending": is_pending(test.pk)}
    return {
        "available": True,
        "pending": is_pending(test.pk),
        "computed_at": stored["computed_at"],
        "seconds": stored["seconds"],
        "n_ratings": stored["n_ratings"],
        "stale": stored["version"] != list(version),
        "thresholds_match": stored["thresholds"] == thresholds.as_dict()
        and stored.get("min_overlap") == test.min_rater_overlap,
        "thresholds": stored["thresholds"],
    }
