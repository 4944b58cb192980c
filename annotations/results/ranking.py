"""Ranking many systems from pairwise judgements (issue 12): Bradley-Terry with ties (Davidson 1970),
percentile bootstrap intervals over raters, systems ranked by the lower bound of their interval.

Model: with strengths pi_i = exp(theta_i) and tie parameter nu >= 0,
P(i beats j) = pi_i / D, P(tie) = nu * sqrt(pi_i * pi_j) / D, D = pi_i + pi_j + nu * sqrt(pi_i * pi_j).
Given that the outcome is not a tie, i beats j with probability 1 / (1 + exp(-(theta_i - theta_j))),
the Bradley-Terry model; with nu = 0 it is Bradley-Terry. An even pair ties with probability nu / (2 + nu).

Scale: theta, the natural-log strength, centred so that its mean over the systems, each weighted by
its number of comparisons, is 0 (the plain mean when every system was compared as often);
theta_i - theta_j is the log-odds that i beats j when the outcome is not a tie. Only differences are
identified, so each interval is relative to that centre; weighting keeps a system with few comparisons
(whose strength swings widely between resamples) from dragging the centre, and with it every other
system's interval, around. The weights are the full data's and stay fixed in the bootstrap.

Fit: penalised maximum likelihood with scipy.optimize (L-BFGS-B) over theta and log(nu), the penalty
alpha * sum(theta**2) being the one choix.opt_pairwise adds (a Gaussian prior of variance 1 / (2 alpha)
on each theta). The default alpha = 0.01 (prior sd about 7) barely moves estimates backed by data, but
keeps a system that never wins, or never loses, at a finite strength, set by the penalty rather than
the data (such systems carry a note). choix has no tie model, so the likelihood is written out here
once for both cases; the tests check that without ties it gives choix's Bradley-Terry estimates.
With no tie in the data nu is 0 (its maximum-likelihood value) and is not fitted. The bootstrap fits
its resamples together by Newton's method on the same convex objective (_fit_batch), which reaches
the optimiser's fit of each resample to about 1e-7 in a hundredth of the time; a pair dashboard
recomputes the ranking on every update.

Input rows are comparisons.Preference rows (winner x, y or None for a tie). CMOS votes enter by
their sign (outcomes_from_cmos): y wins when the corrected score is positive, x when it is negative,
a 0 is a tie; the size of the score is not used.
Systems whose comparisons do not connect (two groups never compared with each other) have no common
scale: fit_davidson and rank_systems raise DisconnectedComparisons, naming the groups.
"""

from collections.abc import Hashable, Sequence

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from threadpoolctl import threadpool_limits

from annotations.results.comparisons import CmosVote, Preference

ALPHA = 0.01
MAX_NU = 1e6  # an all-tie data set would push nu to infinity
MAX_NEWTON_STEPS = 100
NEWTON_GTOL = 1e-9
MODEL = "Bradley-Terry with ties (Davidson 1970), penalised maximum likelihood (alpha {alpha})"
SCALE = (
    "log-strength, centred to a mean of 0 weighted by each system's comparisons; a difference is the "
    "log-odds of winning when not a tie"
)
BOOTSTRAP_METHOD = "percentile bootstrap over raters ({level:.0%}, {n_boot} resamples, seed {seed})"
RANK_RULE = "by the lower bound of the interval (highest first), then by the estimate"


class DisconnectedComparisons(ValueError):
    """The comparisons split the systems into groups never compared with each other."""

    def __init__(self, components: list[list[Hashable]]):
        self.components = components
        groups = " | ".join(", ".join(str(system) for system in group) for group in components)
        super().__init__(f"the comparisons do not connect all systems, so they share no scale: {groups}")


def outcomes_from_cmos(votes: Sequence[CmosVote]) -> list[Preference]:
    """CMOS votes as pairwise outcomes by their sign: y wins above 0, x below, a tie at 0."""
    return [
        Preference(
            v.rater,
            v.sentence,
            v.x,
            v.y,
            v.first,
            v.y if v.corrected > 0 else v.x if v.corrected < 0 else None,
        )
        for v in votes
    ]


def davidson_probabilities(theta_i: float, theta_j: float, nu: float) -> tuple[float, float, float]:
    """(P(i beats j), P(tie), P(j beats i)) under Davidson's model."""
    half = (theta_i - theta_j) / 2
    denominator = np.exp(half) + np.exp(-half) + nu
    return float(np.exp(half) / denominator), float(nu / denominator), float(np.exp(-half) / denominator)


# --- Counting ---------------------------------------------------------------------------------


class _Counts:
    """Outcomes per rater and unordered pair of systems i < j: (i wins, j wins, ties)."""

    def __init__(self, rows: Sequence[Preference]):
        if not rows:
            raise ValueError("no comparisons to fit")
        system_codes, self.systems = pd.factorize(
            pd.Series([s for row in rows for s in (row.x, row.y)], dtype=object), sort=True
        )
        rater_codes, raters = pd.factorize(pd.Series([row.rater for row in rows], dtype=object))
        self.k, self.raters = len(self.systems), len(raters)
        self.i, self.j = np.triu_indices(self.k, 1)
        pair_index = np.full((self.k, self.k), -1)
        pair_index[self.i, self.j] = np.arange(self.i.size)
        a, b = system_codes[0::2], system_codes[1::2]
        low, high = np.minimum(a, b), np.maximum(a, b)
        outcome = np.array([_outcome(row) for row in rows])
        # outcome 0: the lower-coded system won, 1: the higher one, 2: a tie.
        swapped = (outcome < 2) & (a > b)
        outcome[swapped] = 1 - outcome[swapped]
        self.per_rater = np.zeros((self.raters, self.i.size, 3))
        np.add.at(self.per_rater, (rater_codes, pair_index[low, high], outcome), 1)
        self.total = self.per_rater.sum(axis=0)
        per_system = np.bincount(self.i, self.total.sum(axis=1), self.k) + np.bincount(
            self.j, self.total.sum(axis=1), self.k
        )
        self.weights = per_system / per_system.sum()

    def centre(self, theta: np.ndarray) -> np.ndarray:
        """theta on the reported scale: minus its mean weighted by the systems' comparisons."""
        return theta - self.weights @ theta

    def components(self, counts: np.ndarray) -> list[list[Hashable]]:
        return self.components_of(counts.sum(axis=1) > 0)

    def components_of(self, compared: np.ndarray) -> list[list[Hashable]]:
        """The groups of systems connected by the pairs marked compared."""
        graph = coo_matrix(
            (np.ones(compared.sum()), (self.i[compared], self.j[compared])), shape=(self.k, self.k)
        )
        n, labels = connected_components(graph, directed=False)
        return [[self.systems[s] for s in np.flatnonzero(labels == c)] for c in range(n)]


def _outcome(row: Preference) -> int:
    """0 if x won, 1 if y won, 2 for a tie (x, y in canonical order)."""
    if row.winner is None:
        return 2
    if row.winner == row.x:
        return 0
    if row.winner == row.y:
        return 1
    raise ValueError(f"winner {row.winner!r} is neither {row.x!r} nor {row.y!r}")


# --- Fitting ----------------------------------------------------------------------------------


def _negative_log_likelihood(params, i, j, counts, alpha, with_ties):
    """Penalised negative log-likelihood of Davidson's model and its gradient.

    With d = (theta_i - theta_j) / 2: log P(i wins) = d - L, log P(j wins) = -d - L,
    log P(tie) = log nu - L, where L = log(2 cosh d + nu), computed stably as
    |d| + log(1 + exp(-2|d|) + nu exp(-|d|)).
    """
    k = params.size - int(with_ties)
    theta = params[:k]
    nu = np.exp(params[k]) if with_ties else 0.0
    wins_i, wins_j, ties = counts.T
    n = wins_i + wins_j + ties
    d = (theta[i] - theta[j]) / 2
    e1 = np.exp(-np.abs(d))
    denominator = 1 + e1**2 + nu * e1
    log_norm = np.abs(d) + np.log(denominator)
    value = np.sum(n * log_norm - (wins_i - wins_j) * d) + alpha * np.sum(theta**2)
    slope = n * np.sign(d) * (1 - e1**2) / denominator - (wins_i - wins_j)
    grad_theta = (np.bincount(i, slope, k) - np.bincount(j, slope, k)) / 2 + 2 * alpha * theta
    if not with_ties:
        return value, grad_theta
    value -= params[k] * ties.sum()
    grad_nu = np.sum(n * nu * e1 / denominator) - ties.sum()
    return value, np.append(grad_theta, grad_nu)


def _fit_counts(counts: np.ndarray, i, j, k: int, alpha: float, start: np.ndarray | None = None):
    """(theta, nu, converged, log-likelihood) from per-pair counts (i wins, j wins, ties)."""
    with_ties = counts[:, 2].sum() > 0
    x0 = np.zeros(k + int(with_ties)) if start is None else start[: k + int(with_ties)].copy()
    bounds = [(None, None)] * k + ([(None, np.log(MAX_NU))] if with_ties else [])
    fit = optimize.minimize(
        _negative_log_likelihood,
        x0,
        args=(i, j, counts, alpha, with_ties),
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": 1000, "ftol": 1e-12, "gtol": 1e-7},
    )
    theta = fit.x[:k].copy()
    nu = float(np.exp(fit.x[k])) if with_ties else 0.0
    log_likelihood = -(fit.fun - alpha * np.sum(fit.x[:k] ** 2))
    # L-BFGS-B can end "ABNORMAL" in the line search when already at the optimum to machine precision.
    converged = bool(fit.success) or float(np.max(np.abs(fit.jac))) < 1e-4
    return theta, nu, converged, float(log_likelihood)


def _fit_all(rows: Sequence[Preference], alpha: float) -> tuple[_Counts, np.ndarray, float, bool, float]:
    counts = _Counts(rows)
    components = counts.components(counts.total)
    if len(components) > 1:
        raise DisconnectedComparisons(components)
    with threadpool_limits(1):
        theta, nu, converged, log_likelihood = _fit_counts(counts.total, counts.i, counts.j, counts.k, alpha)
    return counts, theta, nu, converged, log_likelihood


def fit_davidson(rows: Sequence[Preference], *, alpha: float = ALPHA) -> dict:
    """Davidson's Bradley-Terry model with ties fitted to all rows: strengths (on SCALE) and nu."""
    counts, theta, nu, converged, log_likelihood = _fit_all(rows, alpha)
    return {
        "systems": list(counts.systems),
        "strengths": dict(zip(counts.systems, counts.centre(theta).tolist(), strict=True)),
        "tie_parameter": nu,
        "log_likelihood": log_likelihood,
        "converged": converged,
        "alpha": alpha,
        "model": MODEL.format(alpha=alpha),
        "scale": SCALE,
    }


# --- Bootstrap and ranking --------------------------------------------------------------------


def rank_systems(
    rows: Sequence[Preference],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = ALPHA,
    level: float = 0.95,
) -> dict:
    """Strengths with percentile bootstrap intervals over raters, ranked by the interval's lower bound.

    Each resample draws raters with replacement (all of a drawn rater's judgements, as often as the
    rater was drawn) and refits; resamples whose comparisons do not connect every system are dropped
    and counted ("n_boot" - "n_valid"). "systems" is in rank order.
    """
    counts, theta, nu, converged, _ = _fit_all(rows, alpha)
    thetas, nus = _bootstrap(counts, np.append(theta, np.log(max(nu, 1e-6))), n_boot, seed, alpha)
    tail = (1 - level) / 2
    lows, highs = _quantiles(thetas, tail)
    nu_low, nu_high = _quantiles(nus.reshape(-1, 1), tail)
    return {
        "systems": _system_rows(counts, counts.centre(theta), lows, highs),
        "tie_parameter": nu,
        "tie_parameter_low": nu_low[0],
        "tie_parameter_high": nu_high[0],
        "n_comparisons": int(counts.total.sum()),
        "n_ties": int(counts.total[:, 2].sum()),
        "raters": counts.raters,
        "converged": converged,
        "alpha": alpha,
        "level": level,
        "n_boot": n_boot,
        "n_valid": len(thetas),
        "seed": seed,
        "model": MODEL.format(alpha=alpha),
        "scale": SCALE,
        "method": BOOTSTRAP_METHOD.format(level=level, n_boot=n_boot, seed=seed),
        "rank_rule": RANK_RULE,
    }


def _bootstrap(counts: _Counts, start: np.ndarray, n_boot: int, seed: int, alpha: float):
    """Centred strengths (replicates x systems) and nu of each resample of raters connecting all systems."""
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(counts.raters, np.full(counts.raters, 1 / counts.raters), size=n_boot)
    resampled = np.einsum("br,rpc->bpc", draws.astype(float), counts.per_rater)
    # Resamples share a few patterns of compared pairs (mostly all of them): each is checked once.
    patterns, which = np.unique(resampled.sum(axis=2) > 0, axis=0, return_inverse=True)
    connected = np.array([len(counts.components_of(p)) == 1 for p in patterns], dtype=bool)[which.ravel()]
    resampled = resampled[connected]
    thetas, nus = np.zeros((len(resampled), counts.k)), np.zeros(len(resampled))
    # A replicate without a tie has nu = 0 (its maximum-likelihood value), as in the full fit.
    with_ties = resampled[:, :, 2].sum(axis=1) > 0
    for ties in (True, False):
        chosen = with_ties == ties
        if chosen.any():
            # The arrays are small: BLAS threads would only wait on each other.
            with threadpool_limits(1):
                thetas[chosen], nus[chosen] = _fit_batch(
                    resampled[chosen], counts, alpha, start, with_ties=ties
                )
    return thetas - (thetas @ counts.weights)[:, None], nus


def _fit_batch(batch: np.ndarray, counts: _Counts, alpha: float, start: np.ndarray, *, with_ties: bool):
    """The penalised fits of many count tables at once (replicates x pairs x outcomes): (theta, nu).

    Newton's method with a backtracking line search on the same objective as _fit_counts, which is
    convex (log-sum-exp of linear functions plus a ridge penalty), so it converges from any start; the
    bootstrap's thousand small fits run as a few array operations instead of a thousand optimiser calls.
    log(nu) stays at or below log(MAX_NU), the bound _fit_counts gives L-BFGS-B.
    """
    k = counts.k
    k_size = k + int(with_ties)
    incidence = np.zeros((counts.i.size, k))
    incidence[np.arange(counts.i.size), counts.i] = 0.5
    incidence[np.arange(counts.i.size), counts.j] = -0.5
    params = np.tile(start[:k_size], (len(batch), 1))
    ceiling = np.log(MAX_NU)
    value, grad, hess = _newton_terms(params, batch, incidence, alpha, with_ties)
    for _ in range(MAX_NEWTON_STEPS):
        # At the ceiling with the slope pointing past it, log(nu) is held there.
        pinned = (params[:, -1] >= ceiling) & (grad[:, -1] < 0) if with_ties else np.zeros(len(params), bool)
        if pinned.any():
            grad[pinned, -1] = 0.0
            hess[pinned, -1, :] = hess[pinned, :, -1] = 0.0
            hess[pinned, -1, -1] = 1.0
        active = np.max(np.abs(grad), axis=1) > NEWTON_GTOL
        if not active.any():
            break
        step = np.zeros_like(params)
        step[active] = -np.linalg.solve(hess[active], grad[active][..., None])[..., 0]
        slope = np.einsum("bp,bp->b", grad, step)
        scale = np.ones(len(params))
        for _ in range(40):
            trial = params + scale[:, None] * step
            if with_ties:
                trial[:, -1] = np.minimum(trial[:, -1], ceiling)
            trial_value = _newton_terms(trial, batch, incidence, alpha, with_ties, value_only=True)
            short = active & (trial_value > value + 1e-4 * scale * slope + 1e-12 * np.abs(value))
            if not short.any():
                break
            scale[short] /= 2
        params = trial
        value, grad, hess = _newton_terms(params, batch, incidence, alpha, with_ties)
    nus = np.exp(params[:, -1]) if with_ties else np.zeros(len(params))
    return params[:, :k], nus


def _newton_terms(params, batch, incidence, alpha, with_ties, value_only=False):
    """Objective of _negative_log_likelihood for each row of params, with its gradient and Hessian."""
    k = incidence.shape[1]
    theta = params[:, :k]
    phi = params[:, k] if with_ties else np.full(len(params), -np.inf)
    wins_i, wins_j, ties = batch[..., 0], batch[..., 1], batch[..., 2]
    n = wins_i + wins_j + ties
    d = theta @ incidence.T
    # L = log(e^d + e^-d + nu), computed from the largest term.
    top = np.maximum(np.abs(d), phi[:, None])
    terms = np.exp(d - top), np.exp(-d - top), np.exp(phi[:, None] - top)
    total = terms[0] + terms[1] + terms[2]
    log_norm = top + np.log(total)
    value = np.sum(n * log_norm - (wins_i - wins_j) * d, axis=1) + alpha * np.sum(theta**2, axis=1)
    if with_ties:
        value -= phi * ties.sum(axis=1)
    if value_only:
        return value
    p_i, p_j, p_tie = terms[0] / total, terms[1] / total, terms[2] / total
    slope = n * (p_i - p_j) - (wins_i - wins_j)
    grad_theta = slope @ incidence + 2 * alpha * theta
    curvature = n * (p_i + p_j - (p_i - p_j) ** 2)
    hess_theta = np.einsum("pk,bp,pl->bkl", incidence, curvature, incidence) + 2 * alpha * np.eye(k)
    if not with_ties:
        return value, grad_theta, hess_theta
    grad_phi = np.sum(n * p_tie, axis=1) - ties.sum(axis=1)
    cross = (-n * p_tie * (p_i - p_j)) @ incidence
    size = k + 1
    hess = np.zeros((len(params), size, size))
    hess[:, :k, :k] = hess_theta
    hess[:, :k, k] = hess[:, k, :k] = cross
    hess[:, k, k] = np.sum(n * p_tie * (1 - p_tie), axis=1)
    return value, np.column_stack([grad_theta, grad_phi]), hess


def _quantiles(samples: np.ndarray, tail: float) -> tuple[list, list]:
    if not len(samples):
        return [None] * samples.shape[1], [None] * samples.shape[1]
    low, high = np.quantile(samples, [tail, 1 - tail], axis=0)
    return low.tolist(), high.tolist()


def _system_rows(counts: _Counts, theta: np.ndarray, lows: list, highs: list) -> list[dict]:
    total = counts.total
    wins = np.bincount(counts.i, total[:, 0], counts.k) + np.bincount(counts.j, total[:, 1], counts.k)
    losses = np.bincount(counts.i, total[:, 1], counts.k) + np.bincount(counts.j, total[:, 0], counts.k)
    ties = np.bincount(counts.i, total[:, 2], counts.k) + np.bincount(counts.j, total[:, 2], counts.k)
    rows = []
    for s, system in enumerate(counts.systems):
        note = ""
        if wins[s] == 0 or losses[s] == 0:
            note = (
                f"never {'won' if wins[s] == 0 else 'lost'}: its strength is set by the penalty, not the data"
            )
        rows.append(
            {
                "system": system,
                "strength": float(theta[s]),
                "low": lows[s],
                "high": highs[s],
                "wins": int(wins[s]),
                "losses": int(losses[s]),
                "ties": int(ties[s]),
                "comparisons": int(wins[s] + losses[s] + ties[s]),
                "note": note,
            }
        )
    rows.sort(key=lambda row: (-np.inf if row["low"] is None else -row["low"], -row["strength"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows
