"""What the pair methods (CMOS, A/B preference) share: one sentence in two conditions per page.

- A trial is one sentence in two conditions (a condition is a sample's (system_label, style_label)):
  TrialClips with roles "X" (the condition that sorts first) and "Y". Every pair of distinct
  conditions on a sentence is one trial; no gold or trapping clips (annotations.pairs builds them).
- Presentation order is the Assignment's clip_order: the first is clip "A" (played first), the
  second clip "B". Within one evaluator's session each pair of conditions is played X first and Y
  first equally often (an odd one out at random).
- One Rating per judgement, on the clip presented second (B). Y relative to X is +score when the
  rated clip's role is "Y", else -score.
- Listening: both clips fetched whole and the sum of their durations passed since the first fetch.

Their numbers: no per-clip score; per pair of conditions the method's analyse (pair_results), after a
screening without the correlation rule and, for A/B, with the consistency rule on repeated pairs.
The analysis is stored as an Analysis row: for tests up to the inline limit, the first view after
the ratings or the screening settings change computes and stores it, and later views read it; above
the limit it comes from the background analysis ("pairs" is None until there is one with these
screening settings).
"""

from annotations import pairs
from annotations.methods.registry import Answer, check_on_scale, every_clip, get_method, live_or_stored
from annotations.models import ListeningTest, TrialClip
from annotations.results import pair_results, raters, stored, tables
from annotations.results import screening as screening_rules
from annotations.results.raters import Screening, Thresholds

NOTE = (
    "Pairs are built from the clips listed: for each sentence, every two conditions (system, style) make "
    "one pair, heard in either order equally often by each evaluator. Every sentence needs clips in at "
    "least two conditions. Pair tests take no gold or trapping clips; clips ticked for practice make "
    "practice pairs (tick one sentence in two conditions), and without any, spare clips are used."
)
# Screening settings a pair test does not use: it has no gold clips, and the correlation rule needs
# every rater to score the same clips on one absolute scale (see raters.compute_screening).
UNUSED_THRESHOLDS = ("min_correlation", "gold_tolerance")
PROGRESS_NOTE = (
    "Counted per pair of clips (one judgement each), before screening; answers to repeated pairs, "
    "asked only to measure consistency, never count."
)


def pair_answer(
    test: ListeningTest, clips: list[TrialClip], scores: dict[str, object], dimension: str
) -> Answer:
    """The one judgement of a pair, stored on the clip presented second (B)."""
    wanted = {dimension: scores.get(dimension)}
    check_on_scale(test, wanted)
    if len(clips) != 2:
        raise ValueError(f"a pair trial holds two clips, this one {len(clips)}")
    return Answer(clips[1].test_sample, dimension, wanted[dimension])


def screen_now(
    test: ListeningTest, thresholds: Thresholds, judgements: list[dict] | None = None
) -> Screening:
    """The pair screening: the answers as given (the second clip relative to the first), without the
    correlation rule, and with the consistency rule on repeated pairs (A/B).

    A clip's raw answers change sign with the order it was played in and with the clip it was paired
    with, and the corrected answers of honest raters agree little when the pairs differ little, so the
    correlation rule would exclude them.
    """
    judgements = pairs.pair_judgements(test) if judgements is None else judgements
    consistency = screening_rules.consistency_flags(pair_results.consistency_counts(judgements))
    return raters.compute_screening(
        test, thresholds, listening_time=every_clip, correlation=False, extra_flags=consistency
    )


def screen(test: ListeningTest, thresholds: Thresholds) -> Screening:
    return live_or_stored(test, thresholds, lambda: screen_now(test, thresholds))


def dashboard(test: ListeningTest, thresholds: Thresholds, inline: bool | None) -> dict:
    """Screening, raters and the pair analysis of a CMOS or A/B test, read from the stored analysis.

    Up to the inline limit, a view that finds no stored analysis of the current ratings with these
    settings computes it (background) and stores it for the views after it; above the limit it comes
    from the background analysis only.
    """
    version = raters.ratings_version(test)
    inline = version[0] <= raters.inline_limit() if inline is None else inline
    saved = stored.load_stored(test)
    if inline and not stored.is_current(saved, version, thresholds, test.min_rater_overlap):
        saved = stored.store_computed(
            test=test, thresholds=thresholds, version=version, compute=lambda: background(test, thresholds)
        )
    screening = raters.stored_screening(test, saved, thresholds)
    analysis = saved.get("pairs") if screening.source == "background" else None
    rater_rows = raters.pair_rater_table(test, screening)
    return {
        "thresholds": thresholds,
        "n_ratings": version[0],
        "inline": inline,
        **raters.screening_context(test, screening, rater_rows),
        "pairs": analysis,
        "background": stored.background_status(test, saved, version, thresholds),
    }


def background(test: ListeningTest, thresholds: Thresholds) -> dict:
    judgements = pairs.pair_judgements(test)
    screening = screen_now(test, thresholds, judgements)
    analyse = get_method(test.method).analyse
    return {
        **raters.screening_record(test, screening),
        "pairs": analyse(test, excluded=screening.excluded, judgements=judgements),
    }


def export_table(test: ListeningTest, thresholds: Thresholds):
    """One row per judgement, with its rater's flags."""
    return tables.PAIR_RATING_COLUMNS, tables.pair_rating_rows(test, screen(test, thresholds))


def summary_json(data: dict) -> dict:
    return tables.method_summary_json(data, data["pairs"])


# The fields every pair method's Method sets alike.
SHARED = {
    "build_trials": pairs.pair_trials,
    "order_clips": pairs.balanced_orders,
    "listening_time": every_clip,
    "practice": pairs.practice_pairs,
    "check_samples": pairs.check_pair_samples,
    "gold_and_traps": False,
    "clips_per_trial": 2,
    "clip_note": NOTE,
    "progress_unit": "pairs",
    "progress_note": PROGRESS_NOTE,
    "dashboard": dashboard,
    "background": background,
    "screen": screen,
    "unused_thresholds": UNUSED_THRESHOLDS,
    "export_table": export_table,
    "summary_json": summary_json,
}
