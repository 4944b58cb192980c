"""The results of an intelligibility test: human WER and CER per condition beside the ASR round trip's.

Each transcript (annotations.intelligibility.transcriptions) is scored against the sample's text with the
same Whisper normaliser (textnorm.default_method of the sentence's language) and the same corpus WER/CER
and percentile bootstrap (stats.error_rate_ci) as the STT WER runs (synthesis.results.wer). The human
figures resample transcripts, whole; the ASR figures resample the condition's samples, each with its one
ASR transcript, recomputed from the stored recognised text with the same normaliser (so the stored
Sample.wer, which may come from another normalisation, is not used). The correlation across samples pairs
each sample's human WER (over its transcripts pooled) with its ASR WER.
"""

from collections import defaultdict
from collections.abc import Collection

from annotations import intelligibility
from annotations.models import ListeningTest
from synthesis.engines import textnorm
from synthesis.results import stats

N_BOOT = 1000
SEED = 0
MIN_CORRELATION_SAMPLES = 3
# Why the ASR figures are empty when no sample has an ASR transcript: only a synthesis run transcribes
# the samples it makes (Sample.recognized_text); imported samples, the demos' among them, have none.
NO_ASR = "no ASR transcript of these samples (only samples made by a synthesis run carry one)"

CITATIONS = {
    "wer": "Corpus WER = (S + D + I) / (H + S + D) summed over transcripts, as jiwer 4 computes it, after "
    "both texts go through Whisper's normaliser (Radford et al. 2023, appendix C; English normaliser for "
    "English, basic for other languages), the same as the ASR figures of the STT WER runs",
    "cer": "Corpus CER: the same over characters",
    "bootstrap": stats.BOOTSTRAP_METHOD.format(n_boot=N_BOOT, seed=SEED).replace("utterances", "transcripts")
    + " (Efron & Tibshirani 1993); each transcript resampled whole. Transcripts by one rater or of one "
    "clip are correlated, so this interval is narrower than a two-way (raters × clips) one would be",
    "asr": "ASR round trip: the sample's stored ASR transcript (made by the synthesis run that made the "
    "sample; imported samples have none) scored against its text with the same normaliser and the same "
    "corpus WER; bootstrap over the condition's samples",
    "correlation": "Pearson's r and Spearman's ρ (scipy.stats) across samples between the sample's human "
    f"WER (its transcripts pooled) and its ASR WER; not computed below {MIN_CORRELATION_SAMPLES} samples",
}


def scored_rows(rows: list[dict]) -> list[dict]:
    """The transcription rows, each with its normalised texts and word and character errors."""
    scored = []
    for row in rows:
        errors = _errors(row["reference"], row["transcript"], row["language"])
        scored.append(
            {
                **row,
                "method": errors["method"],
                "reference_normalised": errors["reference_normalised"],
                "transcript_normalised": errors["hypothesis_normalised"],
                "word_errors": errors["word_errors"],
                "ref_words": errors["ref_words"],
                "char_errors": errors["char_errors"],
                "ref_chars": errors["ref_chars"],
                "wer": errors["wer"] if errors["ref_words"] else None,
                "cer": errors["cer"] if errors["ref_chars"] else None,
            }
        )
    return scored


def _errors(reference: str, hypothesis: str, language: str) -> dict:
    errors = textnorm.utterance_errors(
        reference, hypothesis, method=textnorm.default_method(language), language=language
    )
    errors["word_errors"] = errors["substitutions"] + errors["deletions"] + errors["insertions"]
    errors["char_errors"] = (
        errors["char_substitutions"] + errors["char_deletions"] + errors["char_insertions"]
    )
    return errors


def _rate(rows: list[dict], unit: str, *, n_boot: int, seed: int) -> dict:
    errors, lengths = f"{unit}_errors", f"ref_{unit}s"
    return stats.error_rate_ci(
        [r[errors] for r in rows], [r[lengths] for r in rows], n_boot=n_boot, seed=seed
    )


def asr_rows(rows: list[dict]) -> list[dict]:
    """One row per sample with an ASR transcript: its word and character errors under the same normaliser."""
    samples = {}
    for row in rows:
        if row["sample"] in samples or not (row.get("asr_transcript") or "").strip():
            continue
        errors = _errors(row["reference"], row["asr_transcript"], row["language"])
        samples[row["sample"]] = {
            "sample": row["sample"],
            "condition": row["condition"],
            "word_errors": errors["word_errors"],
            "ref_words": errors["ref_words"],
            "char_errors": errors["char_errors"],
            "ref_chars": errors["ref_chars"],
        }
    return list(samples.values())


def sample_correlation(scored: list[dict], asr: list[dict]) -> dict:
    """Per-sample human WER (transcripts pooled) against ASR WER: Pearson and Spearman, or why not."""
    pooled: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for row in scored:
        pooled[row["sample"]][0] += row["word_errors"]
        pooled[row["sample"]][1] += row["ref_words"]
    pairs = [
        (pooled[row["sample"]][0] / pooled[row["sample"]][1], row["word_errors"] / row["ref_words"])
        for row in asr
        if row["sample"] in pooled and pooled[row["sample"]][1] and row["ref_words"]
    ]
    result = stats.correlation([p[0] for p in pairs], [p[1] for p in pairs])
    result["reason"] = ""
    if not asr:
        result["reason"] = NO_ASR
    elif len(pairs) < MIN_CORRELATION_SAMPLES:
        result["reason"] = f"not enough samples ({len(pairs)} with both; at least {MIN_CORRELATION_SAMPLES})"
    elif result["pearson_r"] is None:
        result["reason"] = "one side is the same on every sample"
    return result


def summarise(
    rows: list[dict], *, excluded: Collection[int] = frozenset(), n_boot: int = N_BOOT, seed: int = SEED
) -> dict:
    """Per condition human WER/CER with CIs and the ASR WER/CER of the same samples; the correlation."""
    scored = [row for row in scored_rows(rows) if row["evaluator_id"] not in excluded]
    asr = asr_rows(scored)
    by_condition: dict[tuple, list[dict]] = defaultdict(list)
    for row in scored:
        by_condition[tuple(row["condition"])].append(row)
    conditions = []
    for (system, style), group in sorted(by_condition.items()):
        samples = {row["sample"] for row in group}
        asr_group = [row for row in asr if row["sample"] in samples]
        conditions.append(
            {
                "system": system,
                "style": style,
                "label": f"{system} · {style or '–'}",
                "n": len(group),
                "raters": len({row["evaluator_id"] for row in group}),
                "samples": len(samples),
                "wer": _rate(group, "word", n_boot=n_boot, seed=seed),
                "cer": _rate(group, "char", n_boot=n_boot, seed=seed),
                "asr_samples": len(asr_group),
                "asr_wer": _rate(asr_group, "word", n_boot=n_boot, seed=seed),
                "asr_cer": _rate(asr_group, "char", n_boot=n_boot, seed=seed),
                "correlation": sample_correlation(group, asr_group),
            }
        )
    return {
        "n_transcripts": len(scored),
        "raters": len({row["evaluator_id"] for row in scored}),
        "conditions": conditions,
        "correlation": sample_correlation(scored, asr),
        "methods_applied": sorted({row["method"] for row in scored}),
        "citations": CITATIONS,
    }


def intelligibility_results(
    test: ListeningTest, *, excluded: Collection[int] = frozenset(), rows: list[dict] | None = None
) -> dict:
    """Everything the dashboard, report and exports show of an intelligibility test (plain JSON)."""
    rows = intelligibility.transcriptions(test) if rows is None else rows
    data = summarise(rows, excluded=excluded)
    data["method"] = test.method
    data["descriptions"] = {m: textnorm.NORMALISATION_DESCRIPTIONS[m] for m in data["methods_applied"]}
    return data
