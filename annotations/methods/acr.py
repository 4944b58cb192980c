"""ACR: absolute category rating, one clip per page, a score per dimension (ITU-T P.800 / P.808).

Its numbers: MOS per condition and dimension with CrowdMOS, t, normal and two-way bootstrap
intervals, before and after screening (annotations.results.mos); paired comparisons of conditions;
agreement; mixed models in the background analysis. Each clip's MOS is its absolute per-clip score.
"""

from collections import defaultdict

import numpy as np

from annotations.methods.registry import (
    Answer,
    ClipScore,
    Method,
    TrialShape,
    check_on_scale,
    live_or_stored,
    register,
)
from annotations.models import ListeningTest, Rating, TestSample, TrialClip
from annotations.results import charts, mos, raters, stats, stored, tables
from annotations.results.raters import Screening, Thresholds


def mean_per_condition(test: ListeningTest) -> dict:
    """MOS-style summary of the main dimension per (system, style) condition, test clips only."""
    main = test.rated_dimensions[0]
    rows = Rating.objects.filter(
        evaluator__test=test, dimension=main, test_sample__kind=TestSample.Kind.TEST
    ).values_list("sample__system_label", "sample__style_label", "score")
    votes: dict[tuple[str, str], list[int]] = defaultdict(list)
    for system, style, score in rows:
        votes[(system, style)].append(score)
    return {
        "dimension": main,
        "scale": {"min": test.scale.min_value, "max": test.scale.max_value},
        "conditions": [
            {"system": system, "style": style, **stats.mos_summary(scores)}
            for (system, style), scores in sorted(votes.items())
        ],
    }


def one_clip_trials(clips: list[TestSample]) -> list[TrialShape]:
    """One page per clip."""
    return [[(clip, "")] for clip in clips]


def _validate(test: ListeningTest, clips: list[TrialClip], scores: dict[str, object]) -> list[Answer]:
    wanted = {dimension: scores.get(dimension) for dimension in test.rated_dimensions}
    check_on_scale(test, wanted)
    clip = clips[0].test_sample
    return [Answer(clip, dimension, score) for dimension, score in wanted.items()]


def _screen_now(test: ListeningTest, thresholds: Thresholds) -> Screening:
    return raters.compute_screening(test, thresholds, listening_time=ACR.listening_time)


def _screen(test: ListeningTest, thresholds: Thresholds) -> Screening:
    return live_or_stored(test, thresholds, lambda: _screen_now(test, thresholds))


def _dashboard(test: ListeningTest, thresholds: Thresholds, inline: bool | None) -> dict:
    """MOS tables, distributions, comparisons, screening and agreement, inline for tests up to the
    inline limit, else from the stored background analysis."""
    version = raters.ratings_version(test)
    inline = version[0] <= raters.inline_limit() if inline is None else inline
    saved = stored.load_stored(test)
    screening = _screen_now(test, thresholds) if inline else raters.stored_screening(test, saved, thresholds)
    excluded, main = screening.excluded, test.rated_dimensions[0]
    dimension_tables = mos.dimension_tables(test, excluded)
    heavy = mos.heavy_analyses(test, screening, saved, inline)
    conditions = mos.condition_rows(dimension_tables, excluded)
    comparisons = mos.paired_comparisons(dimension_tables[main], excluded, mos.sentence_keys(test))
    mos.attach_heavy(conditions, comparisons, heavy)
    rater_rows = raters.rater_table(test, screening, dimension_tables[main]["raters"])
    return {
        "thresholds": thresholds,
        "n_ratings": version[0],
        "inline": inline,
        **raters.screening_context(test, screening, rater_rows),
        "conditions": conditions,
        "comparisons": comparisons,
        "agreement": heavy["agreement"],
        "background": stored.background_status(test, saved, version, thresholds),
        "headline_ci": mos.HEADLINE_CI,
        "headline_reason": mos.HEADLINE_REASON,
        "ci_methods": mos.CI_METHODS,
    }


def _background(test: ListeningTest, thresholds: Thresholds) -> dict:
    """Screening, bootstrap, agreement and mixed models on every rating."""
    screening = _screen_now(test, thresholds)
    excluded, conditions = screening.excluded, mos.condition_of_clips(test)
    rows = mos.full_rows(test)
    main = rows.get(test.rated_dimensions[0], np.zeros((0, 3), dtype=np.int64))
    return {
        **raters.screening_record(test, screening),
        "bootstrap": mos.bootstrap_by_condition(rows, conditions, excluded),
        "agreement": mos.agreement(rows, excluded),
        "mixed_models": mos.mixed_models(main, conditions, mos.sentence_keys(test), excluded),
    }


ACR = register(
    Method(
        name="acr",
        title="Absolute category rating (one clip per page)",
        short_title="ACR",
        build_trials=one_clip_trials,
        template="annotations/rate.html",
        questions=lambda test: test.rated_dimensions,
        validate=_validate,
        analyse=mean_per_condition,
        form_fields=(
            "references_as_gold",
            "dimensions",
            "artifact_labels",
            "gold_per_session",
            "traps_per_session",
        ),
        clip_score=ClipScore(name="MOS", mos=True, dimension=lambda test: test.rated_dimensions[0]),
        progress_unit="test clips",
        progress_note="Counted on the main dimension and test clips only (one answer by one rater each), "
        "before screening.",
        dashboard=_dashboard,
        background=_background,
        screen=_screen,
        unused_thresholds=(),
        sections=(
            "progress",
            "mos",
            "dimensions",
            "distribution",
            "comparisons",
            "raters",
            "agreement",
            "background",
        ),
        summary_table=lambda data: (tables.SUMMARY_COLUMNS, tables.summary_rows(data)),
        summary_json=tables.mos_summary_json,
        charts=charts.mos_charts,
    )
)
