"""Numbers for a run's results page: corpus WER/CER per style, latency and RTF per stage.

Samples are read as value dicts (a run has hundreds to thousands), never as model instances.
"""

from collections import defaultdict

import numpy as np
from django.db.models import Count

from synthesis import modes
from synthesis.engines import textnorm
from synthesis.models import Status, SynthesisRun
from synthesis.results import stats

# (Sample field, label) pairs from the one measurement list.
STAGES = tuple((m.name, m.label) for m in modes.latency_measurements())
RTFS = tuple((m.name, m.label) for m in modes.rtf_measurements())
WER_EDGES = [round(0.1 * i, 1) for i in range(11)]
WARMUP_RULE = (
    "The first item each worker process finished in this run is left out of latency and RTF: models are "
    "loaded before the clock starts, but a process's first call still pays one-off warm-up costs. "
    "Samples without a worker (imported) are all kept."
)
FIELDS = (
    "id",
    "style_label",
    "text",
    "recognized_text",
    "wer",
    "duration_s",
    "dnsmos_p808",
    "dnsmos_ovrl",
    "sentence__text",
    "sentence__language",
    "run_item__claimed_by",
    *(name for name, _ in STAGES),
    *(name for name, _ in RTFS),
)


def run_samples(run: SynthesisRun) -> list[dict]:
    """The run's samples in the order their items started."""
    return list(run.samples.order_by("run_item__started_at", "created_at", "id").values(*FIELDS))


def warmup_ids(samples: list[dict]) -> set[int]:
    """The first sample of each worker process (samples come in the order their items started)."""
    first: dict[str, int] = {}
    for sample in samples:
        worker = sample["run_item__claimed_by"]
        if worker and worker not in first:
            first[worker] = sample["id"]
    return set(first.values())


def wer_by_style(samples: list[dict], method: str | None = None) -> list[dict]:
    """Corpus WER/CER per style and language over the measured samples, normalisation named."""
    groups: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for sample in samples:
        if sample["wer"] is not None:
            language = (sample["sentence__language"] or "en").split("-")[0].lower()
            groups[(sample["style_label"], language)].append(sample)
    rows = []
    for (style, language), members in sorted(groups.items()):
        chosen = method or textnorm.default_method(language)
        references = [s["text"] or s["sentence__text"] or "" for s in members]
        hypotheses = [s["recognized_text"] for s in members]
        row = stats.corpus_wer(references, hypotheses, method=chosen, language=language)
        row["macro_wer"] = stats.macro_wer(references, hypotheses, method=chosen, language=language)
        clipped = np.minimum(row["per_utterance_wer"], 1.0)
        row["histogram"] = np.histogram(clipped, bins=WER_EDGES)[0].tolist()
        row.update(style=style, language=language)
        rows.append(row)
    return rows


def _summaries(samples: list[dict], fields, warmup: set[int]) -> list[dict]:
    rows = []
    for field, label in fields:
        measured = [s for s in samples if s[field] is not None]
        # Warm-up samples first, so latency_summary drops exactly them and reports how many.
        ordered = sorted(measured, key=lambda s: s["id"] not in warmup)
        dropped = sum(s["id"] in warmup for s in measured)
        summary = stats.latency_summary([s[field] for s in ordered], warmup=dropped)
        if measured:
            rows.append({"field": field, "label": label, **summary})
    return rows


def _named(fields, mode: modes.RunMode) -> tuple[tuple[str, str], ...]:
    """(field, label) pairs with the labels the run's mode gives them."""
    return tuple((name, mode.named(modes.MEASUREMENTS_BY_NAME[name]).label) for name, _ in fields)


def latency_table(samples: list[dict], warmup: set[int], mode: modes.RunMode) -> list[dict]:
    return _summaries(samples, _named(STAGES, mode), warmup)


def rtf_table(samples: list[dict], warmup: set[int], mode: modes.RunMode) -> dict:
    """Per-sample RTF summaries and the run's TTS RTF (total TTS time / total audio)."""
    kept = [s for s in samples if s["id"] not in warmup and s["tts_ms"] is not None]
    total = (
        stats.rtf(sum(s["tts_ms"] for s in kept) / 1000, sum(s["duration_s"] for s in kept)) if kept else None
    )
    return {"rows": _summaries(samples, _named(RTFS, mode), warmup), "tts_overall": total, "n": len(kept)}


def failures(run: SynthesisRun, limit: int = 5) -> list[dict]:
    """The run's distinct item errors, most frequent first: why a failed run has nothing to show."""
    rows = (
        run.items.filter(status=Status.FAILED).values("error").annotate(n=Count("id")).order_by("-n", "error")
    )
    return list(rows[:limit])


def run_results(run: SynthesisRun, *, method: str | None = None) -> dict:
    samples = run_samples(run)
    warmup = warmup_ids(samples)
    wer = wer_by_style(samples, method)
    mode = modes.get_mode(run.mode)
    return {
        "run": run,
        "n_samples": len(samples),
        "wer": wer,
        "wer_methods": {row["method"]: row["method_description"] for row in wer},
        "wer_edges": WER_EDGES,
        "method": method,
        "methods": textnorm.NORMALISATION_DESCRIPTIONS,
        "latency": latency_table(samples, warmup, mode),
        "rtf": rtf_table(samples, warmup, mode),
        "relabelled": mode.relabelled,
        "warmup_rule": WARMUP_RULE,
        "warmup_count": len(warmup),
        "percentile_method": stats.PERCENTILE_METHODS[stats.PERCENTILE_METHOD][1],
        "samples": samples,
        "failures": failures(run) if run.status == Status.FAILED else [],
    }
