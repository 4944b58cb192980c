"""The results of the pair tests, CMOS (CCR, ITU-T P.800 Annex E) and A/B preference: the stored
judgements (annotations.pairs.pair_judgements) run through annotations.results.comparisons, per pair of
conditions, and annotations.results.ranking, every condition on one scale, into the one dict that the
dashboard, the report, the exports and the method registry's analyse read.

A condition is a sample's (system, style). Answers to repeated A/B pairs (Trial.repeat_of) feed the
per-rater consistency only; every other figure leaves them out. The evaluators in `excluded` (those
screening excluded) are left out of each pair's "after" figures, of the headline keys and of the
ranking; "before" keeps every rater. Without `excluded` (as the registry calls it) both are the same.
The result is plain JSON (conditions as {"system", "style"}), so the background analysis can store it.
"""

from collections.abc import Collection, Hashable

from annotations import pairs
from annotations.models import ListeningTest
from annotations.results import comparisons, ranking, stats
from annotations.results.comparisons import CmosVote, Preference

CMOS_BOOT = 2000  # two-way bootstrap replicates of each CMOS interval (comparisons' default)
RANK_BOOT = 1000  # resamples of raters behind each ranking interval
SEED = 0

# What each number is and where its method comes from; the pages print these next to the numbers.
CITATIONS = {
    "cmos": "CMOS: the mean comparison category rating (-3 to +3) of Y relative to X, each vote's sign "
    "corrected for which clip was played first (ITU-T P.800 Annex E, 1996)",
    "bootstrap": comparisons.BOOTSTRAP_METHOD.format(n_boot=CMOS_BOOT, seed=SEED)
    + "; raters and sentences both vary, so both are resampled (Owen 2007, “The pigeonhole bootstrap”, "
    "Ann. Appl. Stat. 1:386-411)",
    "t": comparisons.T_METHOD + " (Student 1908), shown as a check: votes by one rater or on one "
    "sentence are correlated, so it comes out too narrow when raters or sentences differ",
    "wilcoxon": comparisons.WILCOXON_METHOD + " (Wilcoxon 1945); p Holm-adjusted across the pairs of "
    "the test (Holm 1979)",
    "order": "Order effect: mean corrected score when X was played first minus when Y was; twice the bias "
    "towards the clip played second. " + comparisons.ORDER_TEST + " (Welch 1947)",
    "wilson": comparisons.SHARE_METHOD + " (Wilson 1927, J. Am. Stat. Assoc. 22:209-212)",
    "sign": comparisons.SIGN_TEST + " (Dixon & Mood 1946, J. Am. Stat. Assoc. 41:557-566); p "
    "Holm-adjusted across the pairs of the test (Holm 1979)",
    "consistency": "Consistency: a share of each session's pairs is asked again later in swapped order; a "
    f"rater with at least {comparisons.CONSISTENCY_MIN_REPEATS} repeats who chose as the first time on "
    f"fewer than {comparisons.CONSISTENCY_THRESHOLD:.0%} of them is flagged and excluded by screening "
    "(a rater answering at random without ties agrees on half of them on average)",
    "ranking": "Strengths from the Bradley-Terry model of paired comparisons (Bradley & Terry 1952, "
    "Biometrika 39:324-345) with ties as Davidson proposed (Davidson 1970, J. Am. Stat. Assoc. "
    f"65:317-328), fitted by penalised maximum likelihood (alpha {ranking.ALPHA}: a Gaussian prior of sd "
    "about 7 on each strength, which keeps a condition that never wins or never loses finite); 95% "
    f"intervals from a {ranking.BOOTSTRAP_METHOD.format(level=0.95, n_boot=RANK_BOOT, seed=SEED)} "
    "(Efron & Tibshirani 1993)",
}


def condition_label(condition: dict) -> str:
    return f"{condition['system']} · {condition['style'] or '–'}"


def _condition(condition: Hashable) -> dict:
    system, style = condition
    return {"system": system, "style": style}


def pair_key(x: dict, y: dict) -> str:
    return f"{x['system']}|{x['style']}|{y['system']}|{y['style']}"


def cmos_votes(rows: list[dict]) -> list[CmosVote]:
    """pair_judgements rows as corrected CCR votes, raters by evaluator id."""
    return [
        CmosVote(
            row["evaluator_id"],
            row["sentence"],
            row["x"],
            row["y"],
            row["x"] if row["first"] == pairs.X else row["y"],
            float(row["corrected"]),
        )
        for row in rows
    ]


def preferences(rows: list[dict]) -> list[Preference]:
    """pair_judgements rows as A/B outcomes: the corrected answer's sign picks Y (+), X (-) or a tie (0)."""
    return [
        Preference(
            row["evaluator_id"],
            row["sentence"],
            row["x"],
            row["y"],
            row["x"] if row["first"] == pairs.X else row["y"],
            row["y"] if row["corrected"] > 0 else row["x"] if row["corrected"] < 0 else None,
        )
        for row in rows
    ]


def _originals(rows: list[dict]) -> list[dict]:
    return [row for row in rows if row["repeat_of"] is None]


def _base(test: ListeningTest, rows: list[dict], kept: list[dict], excluded: Collection[int]) -> dict:
    originals = _originals(rows)
    return {
        "method": test.method,
        "dimension": test.rated_dimensions[0],
        "scale": {"min": test.scale.min_value, "max": test.scale.max_value},
        "n_judgements": len(originals),
        "n_kept": len(kept),
        "n_repeats": len(rows) - len(originals),
        "raters": len({row["evaluator_id"] for row in originals}),
        "raters_excluded": len({row["evaluator_id"] for row in originals} & set(excluded)),
        "consistency": pairs.consistency(rows),
        "citations": CITATIONS,
    }


# --- CMOS ---------------------------------------------------------------------------------------


def cmos_results(
    test: ListeningTest, *, excluded: Collection[int] = frozenset(), judgements: list[dict] | None = None
) -> dict:
    """Per pair of conditions the CMOS of Y over X with every interval and test, and the ranking.

    Each pair holds "n" and "cmos" (after screening) and the full summaries "after" and "before"
    (comparisons.cmos_summary: two-way bootstrap CI, t interval, Wilcoxon, order effect).
    """
    rows = pairs.pair_judgements(test) if judgements is None else judgements
    everyone = _originals(rows)
    kept = [row for row in everyone if row["evaluator_id"] not in excluded]
    before, after = comparisons.by_pair(cmos_votes(everyone)), comparisons.by_pair(cmos_votes(kept))
    results = []
    for key in sorted(before):
        summary_after = _cmos_summary(after.get(key, []), key)
        same = len(after.get(key, [])) == len(before[key])
        summary_before = summary_after if same else _cmos_summary(before[key], key)
        results.append(
            {
                **_pair_names(key),
                "n": summary_after["n"],
                "cmos": summary_after["mean"],
                "after": summary_after,
                "before": summary_before,
            }
        )
    stats.holm_adjust([result["after"]["wilcoxon"] for result in results])
    data = _base(test, rows, kept, excluded)
    data["pairs"] = results
    data["ranking"] = rank_conditions(ranking.outcomes_from_cmos(cmos_votes(kept)), everyone)
    data["ranking"]["outcomes"] = (
        "each CMOS vote enters by its sign: Y wins above 0, X below, a 0 is a tie; its size is not used"
    )
    return data


def _cmos_summary(votes: list[CmosVote], key: tuple) -> dict:
    summary = comparisons.cmos_summary(votes, n_boot=CMOS_BOOT, seed=SEED)
    return {**summary, "x": _condition(key[0]), "y": _condition(key[1])}


def _pair_names(key: tuple) -> dict:
    x, y = _condition(key[0]), _condition(key[1])
    return {
        "key": pair_key(x, y),
        "x": x,
        "y": y,
        "x_label": condition_label(x),
        "y_label": condition_label(y),
    }


# --- A/B preference -----------------------------------------------------------------------------


def ab_results(
    test: ListeningTest, *, excluded: Collection[int] = frozenset(), judgements: list[dict] | None = None
) -> dict:
    """Per pair of conditions the preference counts, Wilson shares and sign test; the per-rater
    consistency on repeated pairs; and the ranking.

    Each pair holds "n", "x_preferred", "y_preferred" and "ties" (after screening) and the full
    summaries "after" and "before" (comparisons.preference_summary).
    """
    rows = pairs.pair_judgements(test) if judgements is None else judgements
    everyone = _originals(rows)
    kept = [row for row in everyone if row["evaluator_id"] not in excluded]
    before, after = comparisons.by_pair(preferences(everyone)), comparisons.by_pair(preferences(kept))
    results = []
    for key in sorted(before):
        summary_after = _preference_summary(after.get(key, []), key)
        same = len(after.get(key, [])) == len(before[key])
        summary_before = summary_after if same else _preference_summary(before[key], key)
        results.append(
            {
                **_pair_names(key),
                "n": summary_after["n"],
                "x_preferred": summary_after["wins_x"],
                "y_preferred": summary_after["wins_y"],
                "ties": summary_after["ties"],
                "after": summary_after,
                "before": summary_before,
            }
        )
    stats.holm_adjust([result["after"]["sign_test"] for result in results])
    data = _base(test, rows, kept, excluded)
    data["pairs"] = results
    data["rater_consistency"] = rater_consistency(rows, excluded)
    data["ranking"] = rank_conditions(preferences(kept), everyone)
    data["ranking"]["outcomes"] = "each A/B answer is one outcome; 'no preference' is a tie"
    return data


def _preference_summary(rows: list[Preference], key: tuple) -> dict:
    return {**comparisons.preference_summary(rows), "x": _condition(key[0]), "y": _condition(key[1])}


def rater_consistency(rows: list[dict], excluded: Collection[int] = frozenset()) -> dict:
    """Per rater with repeats: repeats answered, how many chose as the first time, and the screening flag."""
    pseudonyms = {row["evaluator_id"]: row["rater"] for row in rows}
    counts = comparisons.repeat_consistency(preferences(rows))
    flagged = set(comparisons.inconsistent_raters(counts))
    raters = [
        {
            "rater": pseudonyms[rater],
            **count,
            "flagged": rater in flagged,
            "excluded": rater in excluded,
        }
        for rater, count in counts.items()
    ]
    raters.sort(key=lambda row: (not row["flagged"], row["rater"]))
    repeats = sum(row["repeats"] for row in raters)
    consistent = sum(row["consistent"] for row in raters)
    return {
        "raters": raters,
        "repeats": repeats,
        "consistent": consistent,
        "share": consistent / repeats if repeats else None,
        "flagged": len(flagged),
        "threshold": comparisons.CONSISTENCY_THRESHOLD,
        "min_repeats": comparisons.CONSISTENCY_MIN_REPEATS,
    }


def consistency_counts(rows: list[dict]) -> dict[int, dict]:
    """Per evaluator id: repeats and consistent answers (comparisons.repeat_consistency), for screening."""
    return comparisons.repeat_consistency(preferences(rows))


# --- ranking ------------------------------------------------------------------------------------


def rank_conditions(outcomes: list[Preference], everyone: list[dict]) -> dict:
    """Davidson's Bradley-Terry strengths of every condition with bootstrap intervals, ranked; or why not.

    everyone (the judgements before screening) names the conditions the test compared, so that one
    without a judgement left after screening is reported rather than silently dropped.
    """
    compared = sorted({condition for row in everyone for condition in (row["x"], row["y"])})
    result = {"available": False, "reason": "", "components": [], "systems": [], "unranked": []}
    if len(compared) < 2:
        result["reason"] = "a ranking needs judgements on at least two conditions"
        return result
    if not outcomes:
        result["reason"] = "no judgements left after screening"
        return result
    try:
        fitted = ranking.rank_systems(outcomes, n_boot=RANK_BOOT, seed=SEED)
    except ranking.DisconnectedComparisons as error:
        result["reason"] = (
            "the comparisons do not connect every condition (some groups were never compared with each "
            "other), so they share no scale and cannot be ranked together"
        )
        result["components"] = [[condition_label(_condition(c)) for c in group] for group in error.components]
        return result
    ranked = {row["system"] for row in fitted["systems"]}
    for row in fitted["systems"]:
        row["condition"] = _condition(row.pop("system"))
        row["label"] = condition_label(row["condition"])
    unranked = [condition_label(_condition(c)) for c in compared if c not in ranked]
    result.update(fitted, available=True, unranked=unranked)
    if fitted["raters"] < 2:
        result["reason"] = "one rater only: resampling raters cannot show how the strengths vary"
    return result
