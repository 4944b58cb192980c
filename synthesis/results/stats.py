"""Statistics of pipeline measurements: WER and its intervals, percentiles, real-time factors, correlation.

Pure functions on numbers and strings (no ORM), shared by the run pages, the WER and latency
benchmarks and the listening-test results that set people's scores beside the machine's. Each is
checked against published reference values in tests/synthesis/results/test_stats.py.
"""

import math
from collections.abc import Sequence

import jiwer
import numpy as np
from scipy import stats

from synthesis.engines.textnorm import NORMALISATION_DESCRIPTIONS, normalize

# One percentile method everywhere (UI and exports name it); the other is for comparison only.
PERCENTILE_METHOD = "linear"
PERCENTILE_METHODS = {
    "linear": ("linear", "linear interpolation (numpy default, Hyndman & Fan type 7)"),
    "nearest_rank": ("inverted_cdf", "nearest rank (Hyndman & Fan type 1)"),
}


def _num(value: float | None) -> float | None:
    """A plain float, or None for NaN/None, so results serialise to JSON."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def correlation(x: Sequence[float], y: Sequence[float]) -> dict:
    """Pearson and Spearman correlation over the pairs where neither value is NaN."""
    x_arr, y_arr = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = ~(np.isnan(x_arr) | np.isnan(y_arr))
    x_arr, y_arr = x_arr[keep], y_arr[keep]
    n = int(x_arr.size)
    result = {"n": n, "pearson_r": None, "pearson_p": None, "spearman_rho": None, "spearman_p": None}
    # Fewer than 3 pairs or a constant side: no meaningful correlation.
    if n < 3 or np.ptp(x_arr) == 0 or np.ptp(y_arr) == 0:
        return result
    pearson = stats.pearsonr(x_arr, y_arr)
    spearman = stats.spearmanr(x_arr, y_arr)
    result.update(pearson_r=_num(pearson.statistic), pearson_p=_num(pearson.pvalue))
    result.update(spearman_rho=_num(spearman.statistic), spearman_p=_num(spearman.pvalue))
    return result


# --- WER --------------------------------------------------------------------------------------


def corpus_wer(
    references: Sequence[str], hypotheses: Sequence[str], *, method: str, language: str = "en"
) -> dict:
    """Corpus ("micro") WER = (S+D+I)/(H+S+D) summed over utterances, as jiwer 4, after normalisation.

    Empty references are allowed (jiwer 4): their insertions count in S+D+I but add nothing to
    the denominator; an utterance WER with an empty reference is its number of inserted words.
    """
    refs, hyps = _normalised_pairs(references, hypotheses, method, language)
    result = {
        "method": method,
        "method_description": NORMALISATION_DESCRIPTIONS[method],
        "n_utterances": len(refs),
    }
    if not refs:
        result.update(wer=None, cer=None, mer=None, wil=None, per_utterance_wer=[])
        result.update(substitutions=0, deletions=0, insertions=0, hits=0, ref_words=0)
        return result
    words = jiwer.process_words(refs, hyps)
    chars = jiwer.process_characters(refs, hyps)
    result.update(wer=float(words.wer), cer=float(chars.cer), mer=float(words.mer), wil=float(words.wil))
    result.update(substitutions=words.substitutions, deletions=words.deletions, insertions=words.insertions)
    result.update(hits=words.hits, ref_words=words.hits + words.substitutions + words.deletions)
    result["per_utterance_wer"] = [
        float(jiwer.process_words(r, h).wer) for r, h in zip(refs, hyps, strict=True)
    ]
    return result


def macro_wer(
    references: Sequence[str], hypotheses: Sequence[str], *, method: str, language: str = "en"
) -> float | None:
    """Mean of the per-utterance WERs (each utterance weighs the same, whatever its length)."""
    refs, hyps = _normalised_pairs(references, hypotheses, method, language)
    if not refs:
        return None
    return float(np.mean([jiwer.process_words(r, h).wer for r, h in zip(refs, hyps, strict=True)]))


def _normalised_pairs(
    references: Sequence[str], hypotheses: Sequence[str], method: str, language: str
) -> tuple[list[str], list[str]]:
    if len(references) != len(hypotheses):
        raise ValueError("references and hypotheses must have the same length")
    return [normalize(r, method, language) for r in references], [
        normalize(h, method, language) for h in hypotheses
    ]


BOOTSTRAP_METHOD = "percentile bootstrap over utterances (95%, {n_boot} resamples, seed {seed})"


def _ratio_of_sums(errors: np.ndarray, lengths: np.ndarray, index: np.ndarray) -> np.ndarray:
    """sum(errors)/sum(lengths) of each resample (a row of utterance indices); NaN with no words."""
    denominator = lengths[index].sum(axis=-1).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, errors[index].sum(axis=-1) / denominator, np.nan)


def _resamples(n: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def _percentile_ci(values: np.ndarray, confidence: float) -> tuple[float | None, float | None]:
    values = values[~np.isnan(values)]
    if values.size == 0:
        return None, None
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def error_rate_ci(
    errors: Sequence[int],
    lengths: Sequence[int],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict:
    """Corpus error rate sum(errors)/sum(lengths) with a percentile bootstrap CI over utterances.

    errors[i] = S+D+I and lengths[i] = H+S+D (words or characters) of utterance i, so the rate is
    jiwer 4's corpus ("micro") WER or CER. Utterances are resampled with replacement, whole.
    """
    e, n_words = np.asarray(errors, dtype=float), np.asarray(lengths, dtype=float)
    if e.shape != n_words.shape:
        raise ValueError("errors and lengths must have the same length")
    result = {"n": int(e.size), "n_boot": n_boot, "seed": seed, "confidence": confidence}
    result["method"] = BOOTSTRAP_METHOD.format(n_boot=n_boot, seed=seed)
    if e.size == 0 or n_words.sum() == 0:
        return result | {"rate": None, "low": None, "high": None}
    rate = float(e.sum() / n_words.sum())
    low, high = _percentile_ci(_ratio_of_sums(e, n_words, _resamples(e.size, n_boot, seed)), confidence)
    return result | {"rate": rate, "low": low, "high": high}


def paired_error_rate_difference(
    errors_a: Sequence[int],
    errors_b: Sequence[int],
    lengths: Sequence[int],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict:
    """Rate of B minus rate of A on the same utterances, with a paired percentile bootstrap CI.

    Each resample draws one set of utterance indices and uses it for both configurations, so
    the CI reflects the difference on the same speech, not two independent samples. A CI that
    excludes 0 means B's error rate differs from A's on this corpus.
    """
    a, b = np.asarray(errors_a, dtype=float), np.asarray(errors_b, dtype=float)
    n_words = np.asarray(lengths, dtype=float)
    if not a.shape == b.shape == n_words.shape:
        raise ValueError("both configurations must be scored on the same utterances")
    result = {"n": int(a.size), "n_boot": n_boot, "seed": seed, "confidence": confidence}
    result["method"] = "paired " + BOOTSTRAP_METHOD.format(n_boot=n_boot, seed=seed)
    if a.size == 0 or n_words.sum() == 0:
        return result | {"rate_a": None, "rate_b": None, "difference": None, "low": None, "high": None}
    rate_a, rate_b = float(a.sum() / n_words.sum()), float(b.sum() / n_words.sum())
    index = _resamples(a.size, n_boot, seed)
    diffs = _ratio_of_sums(b, n_words, index) - _ratio_of_sums(a, n_words, index)
    low, high = _percentile_ci(diffs, confidence)
    return result | {
        "rate_a": rate_a,
        "rate_b": rate_b,
        "difference": rate_b - rate_a,
        "low": low,
        "high": high,
    }


# --- Latency and distributions ----------------------------------------------------------------


def percentiles(values: Sequence[float], qs: Sequence[float], method: str = PERCENTILE_METHOD) -> list[float]:
    """Percentiles qs (0-100) of values with a named method from PERCENTILE_METHODS."""
    if method not in PERCENTILE_METHODS:
        raise ValueError(f"unknown percentile method {method!r}; expected one of {tuple(PERCENTILE_METHODS)}")
    numpy_method = PERCENTILE_METHODS[method][0]
    return [float(v) for v in np.percentile(np.asarray(values, dtype=float), qs, method=numpy_method)]


def latency_summary(values_ms: Sequence[float], *, warmup: int = 0) -> dict:
    """n, mean, p50/p90/p95/p99 and max of latencies after dropping the first `warmup` (cold starts)."""
    kept = np.asarray(values_ms, dtype=float)[warmup:]
    result = {"n": int(kept.size), "warmup_dropped": min(warmup, len(values_ms))}
    result["percentile_method"] = PERCENTILE_METHODS[PERCENTILE_METHOD][1]
    if kept.size == 0:
        result.update(mean=None, p50=None, p90=None, p95=None, p99=None, max=None)
        return result
    p50, p90, p95, p99 = percentiles(kept, [50, 90, 95, 99])
    result.update(mean=float(kept.mean()), p50=p50, p90=p90, p95=p95, p99=p99, max=float(kept.max()))
    return result


def rtf(processing_s: float, audio_s: float) -> float | None:
    """Real-time factor: processing time / audio duration (below 1 is faster than real time)."""
    if audio_s <= 0:
        return None
    return processing_s / audio_s
