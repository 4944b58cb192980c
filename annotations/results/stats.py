"""Statistics for listening tests: pure functions on numbers, lists and numpy arrays.

Callers pass plain values (from `values_list`), never querysets, and get dicts of floats
(None where a value is undefined) that serialise to JSON as they are. Each function is
checked against published reference values in tests/annotations/results/test_stats.py.
Rater screening lives in annotations.results.screening.
"""

import math
import warnings
from collections.abc import Hashable, Sequence

import krippendorff
import numpy as np
import pandas as pd
import statsmodels.formula.api as smf
from scipy import sparse, stats
from statsmodels.stats.proportion import proportion_confint

ALPHA_LEVELS = ("nominal", "ordinal", "interval", "ratio")


def _num(value: float | None) -> float | None:
    """A plain float, or None for NaN/None, so results serialise to JSON."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _codes(labels: Sequence[Hashable]) -> tuple[np.ndarray, int]:
    """Integer codes 0..k-1 for any hashable labels, and k."""
    codes, uniques = pd.factorize(pd.Series(list(labels), dtype=object))
    return codes, len(uniques)


# --- MOS and confidence intervals -------------------------------------------------------------


def mos_summary(votes: Sequence[float]) -> dict:
    """n, mean, sd (ddof=1) and 95% CI half-widths: normal (P.808 toolkit) and t-based (P.1401)."""
    v = np.asarray(votes, dtype=float)
    n = int(v.size)
    if n < 2:
        return {
            "n": n,
            "mean": _num(v.mean()) if n else None,
            "sd": None,
            "ci95_normal": None,
            "ci95_t": None,
        }
    sd = float(v.std(ddof=1))
    return {
        "n": n,
        "mean": float(v.mean()),
        "sd": sd,
        "ci95_normal": 1.96 * sd / math.sqrt(n),
        "ci95_t": float(stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n),
    }


def crowdmos_ci(matrix: Sequence[Sequence[float]] | np.ndarray) -> dict:
    """MOS and 95% CI of a raters x items matrix (NaN = missing) under CrowdMOS (Ribeiro et al. 2011).

    Model Z_ij = mu + x_i (rater) + y_j (item) + e_ij, as in the `mean-opinion-score`
    package whose README example this reproduces: v_su = mean over raters (>= 2 ratings) of
    each rater's population variance (rater fixed, items vary: v_s + v_u), v_wu = the same
    over items (v_w + v_u), v_swu = population variance of all ratings; solve for
    v_s, v_w, v_u, clip at 0; Var(mu) = v_s*sum(M_j^2)/T^2 + v_w*sum(N_i^2)/T^2 + v_u/T.
    Half-width t(0.975, min(raters, items) - 1)*sqrt(Var(mu)), the shape counting all-missing
    rows and columns; below one degree of freedom "df" and "ci95" are None. "ci95_default" is
    1.96*sigma(ddof=0)/sqrt(T), treating ratings as independent.
    """
    z = np.asarray(matrix, dtype=float)
    return crowdmos_from_sums(_row_sums(z), _row_sums(z.T))


def _row_sums(z: np.ndarray) -> np.ndarray:
    """(count, sum, sum of squares) of each row of a matrix with NaN for missing values."""
    return np.column_stack([(~np.isnan(z)).sum(axis=1), np.nansum(z, axis=1), np.nansum(z**2, axis=1)])


def crowdmos_from_sums(raters: np.ndarray, items: np.ndarray) -> dict:
    """crowdmos_ci from per-rater and per-item rows of (count, sum, sum of squares).

    The one CrowdMOS solve: the results pages feed it two GROUP BY queries instead of the ratings
    matrix, so it stays fast on a million ratings. Rows with a count of 0 are all-missing raters or
    items; they count in the degrees of freedom, as in the published example.
    """
    raters = np.asarray(raters, dtype=float).reshape(-1, 3)
    items = np.asarray(items, dtype=float).reshape(-1, 3)
    total = int(items[:, 0].sum())
    # A t quantile needs at least one degree of freedom: with fewer than two raters or items it is
    # undefined (None), and so is the interval.
    df = min(len(raters), len(items)) - 1
    df = df if df >= 1 else None
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
    # Without a rater who rated >= 2 items, v_su is undefined and v_w cannot be told from v_u
    # (and likewise for items); using v_swu there solves to v_w = 0 with v_u taking its share,
    # which leaves Var(mu) unchanged because then every N_i is 1 (resp. every M_j).
    v_su, v_wu = _mean_population_variance(raters), _mean_population_variance(items)
    targets = [v_swu if math.isnan(v_su) else v_su, v_swu if math.isnan(v_wu) else v_wu, v_swu]
    solved = np.linalg.solve(np.array([[1, 0, 1], [0, 1, 1], [1, 1, 1]], dtype=float), targets)
    v_s, v_w, v_u = (float(x) for x in np.clip(solved, 0, None))
    var_mu = (v_s * np.sum(items[:, 0] ** 2) + v_w * np.sum(raters[:, 0] ** 2)) / total**2 + v_u / total
    if df is not None:
        result["ci95"] = float(stats.t.ppf(0.975, df) * math.sqrt(var_mu))
    result.update(v_s=v_s, v_w=v_w, v_u=v_u)
    return result


def _mean_population_variance(rows: np.ndarray) -> float:
    """Mean of ss/n - (s/n)^2 over rows with n >= 2; NaN if there are none."""
    rows = rows[rows[:, 0] >= 2]
    if not len(rows):
        return math.nan
    means = rows[:, 1] / rows[:, 0]
    return float(np.mean(np.clip(rows[:, 2] / rows[:, 0] - means**2, 0, None)))


def _sums_of_counts(counts: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(count, sum, sum of squares) per row of score counts on the scale's points."""
    return np.column_stack([counts.sum(axis=1), counts @ points, counts @ points**2]).astype(float)


def condition_summary(counts: list[np.ndarray], raters: list[tuple], points: Sequence[int]) -> dict:
    """n, MOS, SD, t/normal/CrowdMOS intervals and the score distribution of one condition.

    counts: one row of votes per clip, one column per point of the scale (its values, lowest first);
    raters: (count, sum, sum of squares) per rater.
    """
    points = np.asarray(points)
    matrix = np.array(counts, dtype=np.int64).reshape(-1, len(points))
    matrix = matrix[matrix.sum(axis=1) > 0]
    distribution = matrix.sum(axis=0)
    # The counts are the whole sample of votes, so mos_summary sees exactly the votes cast.
    result = mos_summary(np.repeat(points, distribution))
    rater_rows = np.array([r for r in raters if r[0]], dtype=float).reshape(-1, 3)
    result["crowdmos"] = crowdmos_from_sums(rater_rows, _sums_of_counts(matrix, points))
    result.update(distribution=distribution.tolist(), raters=len(rater_rows), items=len(matrix))
    return result


def bootstrap_ci(
    raters: Sequence[Hashable],
    items: Sequence[Hashable],
    scores: Sequence[float],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict:
    """Percentile CI of the mean from a two-way bootstrap resampling raters and items independently.

    Each replicate draws raters and items with replacement and takes the mean of every rating
    in the crossed resample, a rating counting (times its rater was drawn) x (times its item was
    drawn). Replicates whose resample holds no rating are dropped ("n_valid").
    """
    s = np.asarray(scores, dtype=float)
    result = {"mean": None, "low": None, "high": None, "level": level, "n_boot": n_boot, "n_valid": 0}
    if s.size == 0:
        return result
    r, n_r = _codes(raters)
    i, n_i = _codes(items)
    # Sum and count of ratings per (rater, item) cell; sparse so large, thin designs stay cheap.
    sums = sparse.csr_matrix((s, (r, i)), shape=(n_r, n_i))
    counts = sparse.csr_matrix((np.ones_like(s), (r, i)), shape=(n_r, n_i))
    rng = np.random.default_rng(seed)
    # Drawing n of n with replacement = a multinomial count of how often each one is drawn.
    w_r = rng.multinomial(n_r, np.full(n_r, 1 / n_r), size=n_boot).astype(float)
    w_i = rng.multinomial(n_i, np.full(n_i, 1 / n_i), size=n_boot).astype(float)
    numerator = ((sums.T @ w_r.T).T * w_i).sum(axis=1)
    denominator = ((counts.T @ w_r.T).T * w_i).sum(axis=1)
    valid = denominator > 0
    means = numerator[valid] / denominator[valid]
    tail = (1 - level) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    result.update(mean=float(s.mean()), low=float(low), high=float(high), n_valid=int(valid.sum()))
    return result


# --- Proportions ------------------------------------------------------------------------------
# Checked against Newcombe (1998) and scipy's and R's examples in test_comparison_stats.py.


def wilson_interval(successes: int, n: int, *, level: float = 0.95) -> dict:
    """A share with its Wilson score interval (Wilson 1927; statsmodels' proportion_confint, no continuity
    correction); None values when n is 0."""
    result = {"successes": int(successes), "n": int(n), "share": None, "low": None, "high": None}
    result["level"] = level
    if n == 0:
        return result
    low, high = proportion_confint(successes, n, alpha=1 - level, method="wilson")
    return result | {"share": successes / n, "low": float(low), "high": float(high)}


def binomial_test(successes: int, n: int, *, p: float = 0.5, alternative: str = "two-sided") -> dict:
    """Exact binomial test of a success probability p (scipy.stats.binomtest); p None when n is 0.

    With p = 0.5 on the decisive answers of a pair comparison it is the sign test.
    """
    result = {"successes": int(successes), "n": int(n), "null": p, "alternative": alternative, "p": None}
    if n == 0:
        return result
    return result | {"p": float(stats.binomtest(int(successes), int(n), p, alternative=alternative).pvalue)}


# --- Hypothesis tests -------------------------------------------------------------------------


def wilcoxon_paired(x: Sequence[float], y: Sequence[float], alternative: str = "two-sided") -> dict:
    """Wilcoxon signed-rank test of x - y (scipy picks the exact distribution when n is small, no ties)."""
    x_arr, y_arr = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    n = int(x_arr.size)
    if n == 0 or np.all(x_arr == y_arr):
        # No non-zero difference: nothing to test (scipy would warn and divide by zero).
        return {"statistic": None, "p": None, "n": n, "alternative": alternative}
    result = stats.wilcoxon(x_arr, y_arr, alternative=alternative)
    return {"statistic": _num(result.statistic), "p": _num(result.pvalue), "n": n, "alternative": alternative}


def holm(pvalues: Sequence[float], alpha: float = 0.05) -> dict:
    """Holm-Bonferroni step-down correction (Holm 1979): reject flags and adjusted p, in the input order.

    Written out rather than taken from statsmodels' multipletests(method="holm"), which calls
    gc.collect() on every use (about 0.1 s per call in a web process). The tests check both agree.
    """
    p = np.asarray(pvalues, dtype=float)
    if p.size == 0:
        return {"reject": [], "p_adjusted": [], "alpha": alpha}
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate(p[order] * np.arange(p.size, 0, -1))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(stepped, 1.0)
    return {"reject": [bool(v) for v in adjusted <= alpha], "p_adjusted": adjusted.tolist(), "alpha": alpha}


def holm_adjust(tests: list[dict]) -> None:
    """Add p_holm and reject_holm (alpha 0.05) to the tests that have a p-value, as one family."""
    tested = [test for test in tests if test and test.get("p") is not None]
    adjusted = holm([test["p"] for test in tested])
    for test, p, reject in zip(tested, adjusted["p_adjusted"], adjusted["reject"], strict=True):
        test.update(p_holm=p, reject_holm=reject)


def compare_conditions(
    rows: Sequence[tuple[Hashable, Hashable, Hashable, float]], a: Hashable, b: Hashable
) -> dict:
    """Compare conditions a and b rated on the same sentences; rows are (rater, sentence, condition, score).

    Three views of B - A: Wilcoxon on per-rater means (raters who rated both), Wilcoxon on
    per-sentence means (sentences rated in both) and a crossed random-effects model
    score ~ condition + (1|rater) + (1|sentence). Wilcoxon statistics are for B - A.
    """
    frame = pd.DataFrame(list(rows), columns=["rater", "sentence", "condition", "score"])
    frame = frame[frame["condition"].isin([a, b])].astype({"score": float})
    scores_a = frame.loc[frame["condition"] == a, "score"]
    scores_b = frame.loc[frame["condition"] == b, "score"]
    return {
        "n_a": int(scores_a.size),
        "n_b": int(scores_b.size),
        "mean_a": _num(scores_a.mean()),
        "mean_b": _num(scores_b.mean()),
        "by_rater": _paired_means(frame, "rater", a, b),
        "by_sentence": _paired_means(frame, "sentence", a, b),
        "mixed_model": _mixed_model_difference(frame, b),
    }


def _paired_means(frame: pd.DataFrame, unit: str, a: Hashable, b: Hashable) -> dict:
    """Wilcoxon of per-unit mean B vs mean A over the units that have both."""
    means = frame.groupby([unit, "condition"], sort=False)["score"].mean().unstack("condition")
    if a in means.columns and b in means.columns:
        both = means[[a, b]].dropna()
    else:
        both = pd.DataFrame(columns=[a, b], dtype=float)
    result = wilcoxon_paired(both[b].to_numpy(), both[a].to_numpy())
    result["mean_difference"] = _num((both[b] - both[a]).mean()) if len(both) else None
    return result


def _mixed_model_difference(frame: pd.DataFrame, b: Hashable) -> dict:
    """B - A from a REML fit of score ~ is_b with crossed rater and sentence variance components."""
    result = {"difference": None, "ci_low": None, "ci_high": None, "p": None, "converged": False}
    result.update(rater_var=None, sentence_var=None, residual_var=None, error=None, warnings=[])
    data = pd.DataFrame(
        {
            "score": frame["score"].to_numpy(),
            "is_b": (frame["condition"] == b).to_numpy(dtype=float),
            "rater": _codes(frame["rater"])[0],
            "sentence": _codes(frame["sentence"])[0],
            "group": 0,
        }
    )
    if data["is_b"].nunique() < 2:
        result["error"] = "both conditions need ratings"
        return result
    # statsmodels fits crossed effects as variance components inside one all-encompassing group.
    components = {"rater": "0 + C(rater)", "sentence": "0 + C(sentence)"}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            model = smf.mixedlm("score ~ is_b", data, groups="group", re_formula="0", vc_formula=components)
            # The default (bfgs) stalls on some plain balanced designs; lbfgs converges on them,
            # and the derivative-free methods are tried only if it does not.
            fit = model.fit(reml=True, method=["lbfgs", "powell", "nm"])
    except Exception as exc:  # statsmodels raises many types (LinAlgError, ValueError, ...) on bad designs
        result["error"] = f"{type(exc).__name__}: {exc}"
        return result
    low, high = fit.conf_int().loc["is_b"]
    result.update(difference=_num(fit.params["is_b"]), ci_low=_num(low), ci_high=_num(high))
    result.update(p=_num(fit.pvalues["is_b"]), converged=bool(fit.converged), residual_var=_num(fit.scale))
    result.update(rater_var=_num(fit.vcomp[0]), sentence_var=_num(fit.vcomp[1]))
    result["warnings"] = sorted({str(w.message) for w in caught})
    return result


# --- Agreement and correlation ----------------------------------------------------------------


def krippendorff_alpha(matrix: Sequence[Sequence[float]] | np.ndarray, level: str) -> float | None:
    """Krippendorff's alpha of a raters x units matrix (NaN = missing); None when undefined."""
    if level not in ALPHA_LEVELS:
        raise ValueError(f"unknown level {level!r}; expected one of {ALPHA_LEVELS}")
    data = np.asarray(matrix, dtype=float)
    try:
        return _num(krippendorff.alpha(reliability_data=data, level_of_measurement=level))
    except ValueError:
        # The package refuses data with a single distinct value or no pairable unit.
        return None


def distribution(scores: Sequence[float], points: Sequence[int]) -> list[int]:
    """How many scores fell on each point of the rating scale (its values, lowest first)."""
    s, low, high = np.asarray(scores, dtype=float), points[0], points[-1]
    if s.size and (np.any(s != np.round(s)) or s.min() < low or s.max() > high):
        raise ValueError(f"scores must be whole numbers from {low} to {high}")
    return np.bincount(s.astype(int) - low, minlength=len(points)).tolist()
