"""Statistics of comparison tests (issue 12): CMOS from CCR judgements, A/B preference shares and the
per-rater consistency on repeated pairs. Pure functions on plain rows, no Django.

Rows (build them with cmos_vote() and preference() from what the page stored):

- CmosVote(rater, sentence, x, y, first, corrected): one ITU-T P.800 Annex E CCR judgement. The page
  plays clip "A" (first), then clip "B" (second) and asks how the second compares with the first, -3
  "Much worse" .. +3 "Much better". The pair of conditions is put in canonical order, x sorting first;
  `first` is the condition played first; `corrected` is the score of y relative to x: +score when y
  was played second, -score when y was played first. CMOS(y vs x) is the mean corrected value, so
  positive means y is better. `vote.raw` gives the score as answered back (second relative to first).
- Preference(rater, sentence, x, y, first, winner): one A/B answer on the same canonical pair; the
  page's answer "A" (first clip), "B" (second clip) or "none" becomes winner x, y or None (a tie,
  "no preference").

Rows of one rater come in the order answered: for consistency, the first answer of a rater on a
(sentence, pair) is the reference and later answers on it are the repeats.
Intervals are at 95%; the headline CMOS interval is a two-way bootstrap over raters and sentences
(stats.bootstrap_ci), the headline share interval is Wilson's (stats.wilson_interval).
"""

from collections import defaultdict
from collections.abc import Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats as scipy_stats

from annotations.results import stats

ANSWERS = ("A", "B", "none")
CMOS_POINTS = range(-3, 4)
BOOTSTRAP_METHOD = (
    "two-way percentile bootstrap over raters and sentences (95%, {n_boot} resamples, seed {seed})"
)
T_METHOD = "t interval on the votes (95%); assumes independent votes"
WILCOXON_METHOD = "Wilcoxon signed-rank test of the per-rater mean corrected scores against 0, two-sided"
ORDER_TEST = "Welch two-sample t test (unequal variances), votes treated as independent"
SIGN_TEST = "exact two-sided binomial (sign) test of x wins vs y wins; 'no preference' answers excluded"
SHARE_METHOD = "Wilson score interval (95%), answers treated as independent"
# A rater with at least this many repeats who agrees with their own first answer on fewer than this
# share of them is flagged. 0.5 is what a rater answering at random without ties reaches on average.
CONSISTENCY_THRESHOLD = 0.5
CONSISTENCY_MIN_REPEATS = 2


@dataclass(frozen=True)
class CmosVote:
    """One CCR judgement of the canonical pair (x, y), corrected to the score of y relative to x."""

    rater: Hashable
    sentence: Hashable
    x: Hashable
    y: Hashable
    first: Hashable
    corrected: float

    @property
    def raw(self) -> float:
        """The score as answered: the second clip relative to the first."""
        return self.corrected if self.first == self.x else -self.corrected


@dataclass(frozen=True)
class Preference:
    """One A/B answer on the canonical pair (x, y): winner is x, y or None for 'no preference'."""

    rater: Hashable
    sentence: Hashable
    x: Hashable
    y: Hashable
    first: Hashable
    winner: Hashable | None


def canonical_pair(a: Hashable, b: Hashable) -> tuple[Hashable, Hashable]:
    """The pair of two different conditions in canonical order (x sorts first)."""
    if a == b:
        raise ValueError(f"a comparison needs two different conditions, got {a!r} twice")
    x, y = sorted((a, b))
    return x, y


def cmos_vote(
    *, rater: Hashable, sentence: Hashable, first: Hashable, second: Hashable, score: float
) -> CmosVote:
    """The stored CCR answer (score of the second clip relative to the first) as a corrected vote."""
    if score not in CMOS_POINTS:
        raise ValueError(f"a CCR score is a whole number from -3 to +3, got {score!r}")
    x, y = canonical_pair(first, second)
    corrected = score if second == y else -score
    return CmosVote(rater, sentence, x, y, first, float(corrected))


def preference(
    *, rater: Hashable, sentence: Hashable, first: Hashable, second: Hashable, answer: str
) -> Preference:
    """The stored A/B answer ("A" = first clip, "B" = second clip, "none") as a preference row."""
    if answer not in ANSWERS:
        raise ValueError(f"an A/B answer is one of {ANSWERS}, got {answer!r}")
    x, y = canonical_pair(first, second)
    winner = {"A": first, "B": second, "none": None}[answer]
    return Preference(rater, sentence, x, y, first, winner)


def _one_pair(
    rows: Sequence[CmosVote] | Sequence[Preference],
) -> tuple[Hashable, Hashable] | tuple[None, None]:
    pairs = {(row.x, row.y) for row in rows}
    if len(pairs) > 1:
        raise ValueError(f"rows of one pair of conditions expected, got {len(pairs)} pairs; use by_pair()")
    return next(iter(pairs)) if pairs else (None, None)


def by_pair(rows: Iterable[CmosVote] | Iterable[Preference]) -> dict[tuple[Hashable, Hashable], list]:
    """Rows grouped by their canonical pair of conditions, in the order given."""
    groups = defaultdict(list)
    for row in rows:
        groups[(row.x, row.y)].append(row)
    return dict(groups)


# --- CMOS -------------------------------------------------------------------------------------


def cmos_summary(votes: Sequence[CmosVote], *, n_boot: int = 2000, seed: int = 0) -> dict:
    """CMOS of y vs x with its two-way bootstrap CI (headline), t interval, Wilcoxon and order effect.

    The bootstrap draws raters and sentences independently with replacement and keeps every vote of
    the chosen rater x sentence cells, with their multiplicity (stats.bootstrap_ci); it needs at least
    two raters and two sentences. It errs wide when vote-level noise dominates the rater and sentence
    effects, as each resample counts that noise about three times over (Owen 2007, "The pigeonhole
    bootstrap"); manage.py check_coverage --method cmos measures by how much. "mean_raw" is the mean
    score as answered (second vs first clip): with orders balanced it measures the bias towards the
    second clip.
    """
    x, y = _one_pair(votes)
    corrected = np.array([vote.corrected for vote in votes], dtype=float)
    raters = [vote.rater for vote in votes]
    sentences = [vote.sentence for vote in votes]
    result = {"x": x, "y": y, "n": int(corrected.size), "raters": len(set(raters))}
    result.update(sentences=len(set(sentences)), mean=None, mean_raw=None)
    result.update(ci_low=None, ci_high=None, ci_reason=None, n_boot=n_boot, seed=seed)
    result["ci_method"] = BOOTSTRAP_METHOD.format(n_boot=n_boot, seed=seed)
    if corrected.size:
        result["mean"] = float(corrected.mean())
        result["mean_raw"] = float(np.mean([vote.raw for vote in votes]))
    if result["raters"] < 2 or result["sentences"] < 2:
        result["ci_reason"] = "the two-way bootstrap needs at least 2 raters and 2 sentences"
    else:
        boot = stats.bootstrap_ci(raters, sentences, corrected, n_boot=n_boot, seed=seed)
        result.update(ci_low=boot["low"], ci_high=boot["high"])
    result["t_interval"] = _t_interval(corrected)
    result["wilcoxon"] = _wilcoxon_of_rater_means(votes)
    result["order_effect"] = order_effect(votes)
    return result


def _t_interval(values: np.ndarray) -> dict:
    summary = stats.mos_summary(values)
    result = {"low": None, "high": None, "df": None, "method": T_METHOD}
    if summary["ci95_t"] is not None:
        half = summary["ci95_t"]
        result.update(low=summary["mean"] - half, high=summary["mean"] + half, df=summary["n"] - 1)
    return result


def rater_means(votes: Sequence[CmosVote]) -> dict[Hashable, float]:
    """Mean corrected score of each rater (in the order raters first appear)."""
    sums = defaultdict(lambda: [0.0, 0])
    for vote in votes:
        sums[vote.rater][0] += vote.corrected
        sums[vote.rater][1] += 1
    return {rater: total / count for rater, (total, count) in sums.items()}


def _wilcoxon_of_rater_means(votes: Sequence[CmosVote]) -> dict:
    # With 13 raters or fewer and tied means scipy runs the exact test over all 2**n sign flips
    # (up to about a second); above that, with ties, its normal approximation.
    means = np.array(list(rater_means(votes).values()), dtype=float)
    result = {"statistic": None, "p": None, "n": int(means.size), "reason": None, "method": WILCOXON_METHOD}
    if means.size < 2:
        result["reason"] = "fewer than 2 raters"
    elif np.all(means == 0):
        result["reason"] = "every rater's mean is 0: nothing to test"
    else:
        test = stats.wilcoxon_paired(means, np.zeros_like(means))
        result.update(statistic=test["statistic"], p=test["p"])
    return result


def order_effect(votes: Sequence[CmosVote]) -> dict:
    """Mean corrected score when x was played first vs when y was, their difference and a Welch t test.

    With a bias b towards whichever clip is played second, the x-first mean is CMOS + b and the
    y-first mean is CMOS - b, so the difference (x first minus y first) is 2b.
    """
    x_first = np.array([v.corrected for v in votes if v.first == v.x], dtype=float)
    y_first = np.array([v.corrected for v in votes if v.first == v.y], dtype=float)
    result = {"n_x_first": int(x_first.size), "n_y_first": int(y_first.size)}
    result.update(mean_x_first=float(x_first.mean()) if x_first.size else None)
    result.update(mean_y_first=float(y_first.mean()) if y_first.size else None)
    result.update(difference=None, low=None, high=None, statistic=None, df=None, p=None)
    result.update(reason=None, test=ORDER_TEST)
    if x_first.size and y_first.size:
        result["difference"] = result["mean_x_first"] - result["mean_y_first"]
    if x_first.size < 2 or y_first.size < 2:
        result["reason"] = "the test needs at least 2 votes in each order"
    elif np.ptp(x_first) == 0 and np.ptp(y_first) == 0:
        result["reason"] = "every vote in each order is the same: no variance to test against"
    else:
        test = scipy_stats.ttest_ind(x_first, y_first, equal_var=False)
        interval = test.confidence_interval(0.95)
        result.update(statistic=float(test.statistic), df=float(test.df), p=float(test.pvalue))
        result.update(low=float(interval.low), high=float(interval.high))
    return result


# --- A/B preference ---------------------------------------------------------------------------


def preference_summary(rows: Sequence[Preference]) -> dict:
    """Counts and shares of x, y and ties with Wilson intervals, and the sign test of x vs y wins.

    "shares" are among all answers, "decisive_shares" among answers that preferred one clip; the sign
    test leaves the 'no preference' answers out and they are reported separately ("ties").
    """
    x, y = _one_pair(rows)
    wins_x = sum(1 for row in rows if row.winner is not None and row.winner == row.x)
    wins_y = sum(1 for row in rows if row.winner is not None and row.winner == row.y)
    ties = sum(1 for row in rows if row.winner is None)
    if wins_x + wins_y + ties != len(rows):
        raise ValueError("a winner must be x, y or None")
    n, decisive = len(rows), wins_x + wins_y
    sign = stats.binomial_test(wins_x, decisive)
    return {
        "x": x,
        "y": y,
        "n": n,
        "wins_x": wins_x,
        "wins_y": wins_y,
        "ties": ties,
        "decisive": decisive,
        "shares": {
            "x": stats.wilson_interval(wins_x, n),
            "y": stats.wilson_interval(wins_y, n),
            "tie": stats.wilson_interval(ties, n),
        },
        "decisive_shares": {
            "x": stats.wilson_interval(wins_x, decisive),
            "y": stats.wilson_interval(wins_y, decisive),
        },
        "interval_method": SHARE_METHOD,
        "sign_test": {"n": decisive, "wins_x": wins_x, "wins_y": wins_y, "p": sign["p"], "test": SIGN_TEST},
    }


def repeat_consistency(rows: Iterable[Preference]) -> dict[Hashable, dict]:
    """Per rater: how many repeats they answered and on how many they chose as the first time.

    A repeat is a later answer of the same rater on the same sentence and pair (the page swaps its
    order); winners are conditions, so the swap is already undone. A tie agrees only with a tie.
    Raters without repeats are left out; "share" is consistent / repeats.
    """
    first_answer, counts = {}, {}
    for row in rows:
        key = (row.rater, row.sentence, row.x, row.y)
        if key not in first_answer:
            first_answer[key] = row.winner
            continue
        repeats, consistent = counts.get(row.rater, (0, 0))
        counts[row.rater] = (repeats + 1, consistent + int(row.winner == first_answer[key]))
    return {
        rater: {"repeats": repeats, "consistent": consistent, "share": consistent / repeats}
        for rater, (repeats, consistent) in counts.items()
    }


def inconsistent_raters(
    consistency: dict[Hashable, dict],
    *,
    threshold: float = CONSISTENCY_THRESHOLD,
    min_repeats: int = CONSISTENCY_MIN_REPEATS,
) -> list[Hashable]:
    """Raters with at least min_repeats repeats who agreed with themselves on less than threshold of them."""
    return [
        rater
        for rater, counts in consistency.items()
        if counts["repeats"] >= min_repeats and counts["share"] < threshold
    ]
