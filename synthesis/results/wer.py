"""Numbers for STT WER runs: corpus WER/CER with bootstrap CIs, per-utterance errors, alignments, comparisons.

Errors are recomputed from each transcript's stored raw texts with the chosen normalisation, so
any run can be read with any of them; the statistics come from synthesis.results.stats.
"""

import jiwer
import numpy as np

from synthesis import modes
from synthesis.engines import textnorm
from synthesis.models import Status, SynthesisRun, Transcript
from synthesis.results import stats

# "" = each utterance gets textnorm.default_method(its language), as the Whisper paper does.
DEFAULT = ""
NORMALISATIONS = {
    DEFAULT: "Whisper English normaliser for English, basic normaliser for other languages",
    "english": "Whisper English normaliser (English utterances; basic for others)",
    "basic": "Whisper basic normaliser",
    "none": "None (text as written)",
}
N_BOOT = 1000
SEED = 0
FIELDS = ("id", "utterance_id", "utterance__position", "utterance__source_name", "language")
FIELDS += ("reference", "hypothesis", "duration_s", "stt_ms", "stt_rtf")


def wer_runs() -> list[SynthesisRun]:
    """Every STT WER run, newest first, with its dataset and configuration."""
    runs = SynthesisRun.objects.filter(mode__in=modes.transcript_modes()).select_related("dataset", "config")
    return list(runs.order_by("-created_at"))


def utterance_rows(run: SynthesisRun, method: str = DEFAULT) -> list[dict]:
    """One dict per transcript of the run (utterance order) with its errors under `method`."""
    rows = list(run.transcripts.order_by("utterance__position").values(*FIELDS))
    for row in rows:
        chosen = method or textnorm.default_method(row["language"])
        errors = textnorm.utterance_errors(
            row["reference"], row["hypothesis"], method=chosen, language=row["language"]
        )
        row.update(errors)
        row["word_errors"] = errors["substitutions"] + errors["deletions"] + errors["insertions"]
        row["char_errors"] = (
            errors["char_substitutions"] + errors["char_deletions"] + errors["char_insertions"]
        )
        row["wer"] = row["wer"] if row["ref_words"] else None
    return rows


def summarise(rows: list[dict], *, n_boot: int = N_BOOT, seed: int = SEED) -> dict:
    """Corpus WER and CER with their bootstrap CIs, and the mean RTF, of utterance rows."""
    word = stats.error_rate_ci(
        [r["word_errors"] for r in rows], [r["ref_words"] for r in rows], n_boot=n_boot, seed=seed
    )
    char = stats.error_rate_ci(
        [r["char_errors"] for r in rows], [r["ref_chars"] for r in rows], n_boot=n_boot, seed=seed
    )
    rtfs = [r["stt_rtf"] for r in rows]
    return {
        "n": len(rows),
        "wer": word,
        "cer": char,
        "mean_rtf": float(np.mean(rtfs)) if rtfs else None,
        "stt_s": sum(r["stt_ms"] for r in rows) / 1000,
        "audio_s": sum(r["duration_s"] for r in rows),
        "methods_applied": sorted({r["method"] for r in rows}),
    }


def run_wer(run: SynthesisRun, *, method: str = DEFAULT, n_boot: int = N_BOOT, seed: int = SEED) -> dict:
    """Everything the WER run page shows, under one normalisation."""
    rows = utterance_rows(run, method)
    summary = summarise(rows, n_boot=n_boot, seed=seed)
    return {
        "run": run,
        "rows": rows,
        "summary": summary,
        "method": method,
        "method_label": NORMALISATIONS[method],
        "descriptions": {m: textnorm.NORMALISATION_DESCRIPTIONS[m] for m in summary["methods_applied"]},
        "normalisations": NORMALISATIONS,
    }


def alignment(transcript: Transcript, method: str = DEFAULT) -> dict:
    """jiwer's word alignment of one transcript: chunks of equal, substitute, delete and insert."""
    chosen = method or textnorm.default_method(transcript.language)
    reference = textnorm.normalize(transcript.reference, chosen, transcript.language)
    hypothesis = textnorm.normalize(transcript.hypothesis, chosen, transcript.language)
    output = jiwer.process_words(reference, hypothesis)
    ref_words, hyp_words = output.references[0], output.hypotheses[0]
    chunks = [
        {
            "type": chunk.type,
            "ref": " ".join(ref_words[chunk.ref_start_idx : chunk.ref_end_idx]),
            "hyp": " ".join(hyp_words[chunk.hyp_start_idx : chunk.hyp_end_idx]),
        }
        for chunk in output.alignments[0]
    ]
    counts = {k: getattr(output, k) for k in ("hits", "substitutions", "deletions", "insertions")}
    return {"chunks": chunks, "reference": reference, "hypothesis": hypothesis, "counts": counts}


def compare_runs(
    runs: list[SynthesisRun], *, method: str = DEFAULT, n_boot: int = N_BOOT, seed: int = SEED
) -> dict:
    """Runs on the same dataset side by side; each against the first on the utterances both have."""
    if len(runs) < 2:
        raise ValueError("Choose at least two STT WER runs to compare.")
    datasets = {run.dataset_id for run in runs}
    if len(datasets) != 1 or None in datasets:
        raise ValueError("Only STT WER runs on the same speech dataset can be compared.")
    rows = {run.pk: {r["utterance_id"]: r for r in utterance_rows(run, method)} for run in runs}
    baseline = runs[0]
    columns, differences = [], []
    for run in runs:
        columns.append(
            {"run": run, "summary": summarise(list(rows[run.pk].values()), n_boot=n_boot, seed=seed)}
        )
    for run in runs[1:]:
        shared = sorted(set(rows[baseline.pk]) & set(rows[run.pk]))
        a, b = [rows[baseline.pk][u] for u in shared], [rows[run.pk][u] for u in shared]
        word = stats.paired_error_rate_difference(
            [r["word_errors"] for r in a], [r["word_errors"] for r in b], [r["ref_words"] for r in a],
            n_boot=n_boot, seed=seed,
        )  # fmt: skip
        char = stats.paired_error_rate_difference(
            [r["char_errors"] for r in a], [r["char_errors"] for r in b], [r["ref_chars"] for r in a],
            n_boot=n_boot, seed=seed,
        )  # fmt: skip
        differences.append({"run": run, "wer": word, "cer": char})
    return {
        "baseline": baseline,
        "columns": columns,
        "differences": differences,
        "method": method,
        "method_label": NORMALISATIONS[method],
        "n_boot": n_boot,
        "seed": seed,
    }


def run_cost(run: SynthesisRun) -> dict:
    """What a WER run cost: per-utterance wall time (claim to stored), its STT share, and the run's wall.

    The run's wall is from the first item's start to the last item's end; `workers` counts the
    worker processes that stored an item.
    """
    items = run.items.filter(status=Status.DONE, transcript__isnull=False)
    rows = list(items.values("id", "started_at", "finished_at", "claimed_by", "transcript__stt_ms"))
    if not rows:
        return {"n": 0, "item_ms": {}, "stt_ms_total": 0.0, "wall_s": None, "workers": 0}
    item_ms = {r["id"]: (r["finished_at"] - r["started_at"]).total_seconds() * 1000 for r in rows}
    wall = (max(r["finished_at"] for r in rows) - min(r["started_at"] for r in rows)).total_seconds()
    workers = len({r["claimed_by"] for r in rows})
    stt_total = sum(r["transcript__stt_ms"] for r in rows)
    return {
        "n": len(rows),
        "item_ms": item_ms,
        "stt_ms_total": stt_total,
        "wall_s": wall,
        "workers": workers,
    }
