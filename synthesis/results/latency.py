"""Summaries of the iteration runs (latency, llm-speed) for the run page, the commands and the claims page.

Warm-up iterations are stored but never summarised. Percentiles are numpy's "linear" method
(type 7 of Hyndman & Fan, the default of numpy and R).
"""

import numpy as np

from synthesis.engines import iterations
from synthesis.models import SynthesisRun
from synthesis.results import charts, stats

PERCENTILE_METHOD = "linear"
PERCENTILE_NOTE = 'numpy.percentile, method "linear" (Hyndman & Fan type 7)'
# (figure, label, the raw library call's figure that is its floor)
LATENCY_STAGES = (
    ("stt_ms", "STT", "direct_stt_ms"),
    ("llm_ms", "LLM", "direct_llm_ms"),
    ("llm_first_token_ms", "LLM first token", None),
    ("tts_ms", "TTS", "direct_tts_ms"),
    ("first_audio_ms", "Time to first audio", None),
    ("perceived_first_audio_ms", "Perceived time to first audio", None),
    ("total_ms", "End to end", None),
)
RATES = (("stt_rtf", "STT RTF"), ("tts_rtf", "TTS RTF"), ("llm_tokens_per_s", "LLM tokens/s"))
# Streamed turns (engines/streaming.py): the clock starts at the true end of speech (the prompt's last
# voiced sample) unless the label says "decision" (the end-of-speech detector's). (figure, label, floor)
STREAMING_STAGES = (
    ("first_audio_ms", "Time to first audio", "floor_first_audio_ms"),
    ("perceived_first_audio_ms", "Perceived time to first audio", None),
    ("first_audio_from_decision_ms", "Time to first audio from the decision", None),
    ("perceived_first_audio_from_decision_ms", "Perceived, from the decision", None),
    ("end_detection_ms", "End-of-speech detection", None),
    ("stt_start_after_end_ms", "Final STT pass starts after", None),
    ("stt_tail_ms", "STT after the end of speech", "direct_stt_ms"),
    ("llm_to_first_clause_ms", "LLM to its first clause", "direct_llm_first_clause_ms"),
    ("tts_first_chunk_ms", "TTS of the first clause", "direct_tts_first_clause_ms"),
    ("waiting_for_decision_ms", "First chunk waiting for the decision", None),
    ("total_ms", "End of speech to last audio", None),
)
# Live turns without streaming (streaming.run_unstreamed_turn), on the same clocks: the baseline.
UNSTREAMED_STAGES = (
    ("first_audio_ms", "Time to first audio", None),
    ("perceived_first_audio_ms", "Perceived time to first audio", None),
    ("first_audio_from_decision_ms", "Time to first audio from the decision", None),
    ("end_detection_ms", "End-of-speech detection", None),
    ("stt_ms", "STT (whole prompt, 30 s window)", None),
    ("llm_ms", "LLM (whole reply)", None),
    ("tts_ms", "TTS (whole reply)", None),
    ("total_ms", "End of speech to last audio", None),
)
# The targets for the streamed time to first audio (from the true end of speech).
TARGET_RATIO_TO_UNSTREAMED = 0.5
TARGET_RATIO_TO_FLOOR = 1.2
TARGET_P50_MS = 500
TARGET_P99_MS = 700


def percentile_summary(values: list[float]) -> dict:
    """n, mean, P50, P90, P99 and max of some numbers; None figures when there are none."""
    if not values:
        return {"n": 0, "mean": None, "p50": None, "p90": None, "p99": None, "max": None}
    data = np.asarray(values, dtype=float)
    p50, p90, p99 = np.percentile(data, [50, 90, 99], method=PERCENTILE_METHOD)
    return {
        "n": len(data),
        "mean": float(data.mean()),
        "p50": float(p50),
        "p90": float(p90),
        "p99": float(p99),
        "max": float(data.max()),
    }


def _counted(run: SynthesisRun, kind: str) -> list[dict]:
    rows = run.iterations.filter(kind=kind, warmup=False).order_by("position")
    return list(rows.values("position", "label", "figures", "contended"))


def _provenance(run: SynthesisRun) -> dict:
    return {
        "run_id": run.pk,
        "run_name": run.name,
        "config": run.config_snapshot.get("system_label") or run.config.name,
        "models": {k: run.config_snapshot.get(k) for k in ("stt_model", "llm_model", "tts_voice")},
        "threads": run.config_snapshot.get("threads", ""),
        "cpu": run.cpu_description,
        "library_versions": run.library_versions,
        "finished_at": run.finished_at,
        "idle_wait_s": run.benchmark.get("idle_wait_s"),
        "percentile_method": PERCENTILE_NOTE,
    }


def _stage_rows(series: list[dict], stages: tuple) -> list[dict]:
    """Per (figure, label, floor figure): the percentile summary, the floor's median and their ratio."""
    rows = []
    for name, label, floor_name in stages:
        summary = percentile_summary([f[name] for f in series if f.get(name) is not None])
        floor = [f[floor_name] for f in series if floor_name and f.get(floor_name) is not None]
        floor_median = float(np.median(floor)) if floor else None
        ratio = summary["p50"] / floor_median if floor_median and summary["p50"] is not None else None
        rows.append({"name": name, "label": label, **summary, "floor_p50": floor_median, "ratio": ratio})
    return rows


def latency_summary(run: SynthesisRun) -> dict:
    """Per stage and end to end: mean/P50/P90/P99/max (ms), the raw-call floor and ratio; rates."""
    rows = _counted(run, iterations.LATENCY)
    series = [row["figures"] for row in rows]
    stages = _stage_rows(series, LATENCY_STAGES)
    rates = [
        {"name": name, "label": label, **percentile_summary([f[name] for f in series if name in f])}
        for name, label in RATES
    ]
    return {
        **_provenance(run),
        "iterations": len(rows),
        "warmups": run.iterations.filter(warmup=True).count(),
        "contended": run.iterations.filter(warmup=False, contended=True).count(),  # every kind of turn
        "stages": stages,
        "rates": rates,
    }


def _word_error_rate(series: list[dict]) -> float | None:
    """Word errors of STT on the spoken prompts over their reference words (the prompt texts)."""
    words = sum(f.get("prompt_words", 0) for f in series)
    return sum(f.get("prompt_word_errors", 0) for f in series) / words if words else None


def _prompt_errors(run: SynthesisRun, kind: str) -> dict:
    """(prompt, occurrence) -> (word errors, reference words) of a run's counted turns of one kind.

    A prompt is its recorded utterance when the run heard recorded prompts, else its text; the n-th
    turn on a prompt pairs with the other run's n-th turn on it.
    """
    plan = run.benchmark.get("plan", [])
    seen: dict = {}
    errors = {}
    for row in _counted(run, kind):
        entry = plan[row["position"]] if row["position"] < len(plan) else {}
        prompt = entry.get("utterance") or entry.get("prompt") or row["label"]
        occurrence = seen[prompt] = seen.get(prompt, -1) + 1
        figures = row["figures"]
        if "prompt_words" in figures:
            errors[(prompt, occurrence)] = (figures.get("prompt_word_errors", 0), figures["prompt_words"])
    return errors


def paired_prompt_wer(baseline: SynthesisRun, run: SynthesisRun, *, kind: str = iterations.STREAMING) -> dict:
    """WER of `run`'s turns' own transcripts minus `baseline`'s, over the prompts both heard, with a
    paired bootstrap CI (stats.paired_error_rate_difference): the quality a faster setting costs."""
    a, b = _prompt_errors(baseline, kind), _prompt_errors(run, kind)
    common = sorted(set(a) & set(b), key=str)
    if any(a[key][1] != b[key][1] for key in common):
        raise ValueError("the two runs' prompts have different reference texts")
    return stats.paired_error_rate_difference(
        [a[key][0] for key in common], [b[key][0] for key in common], [a[key][1] for key in common]
    )


def streaming_summary(run: SynthesisRun) -> dict | None:
    """Streamed turns: both clocks, where the time after the end of speech goes, the floor, the hit rate.

    Set against the same run's live turns without streaming (same microphone, detector, models and
    threads), and, for information, its plain turns, which are handed the whole prompt at the true
    end of speech with no detection at all. None without streamed or unstreamed turns.
    """
    rows = _counted(run, iterations.STREAMING)
    off_series = [row["figures"] for row in _counted(run, iterations.UNSTREAMED)]
    if not rows and not off_series:
        return None
    series = [row["figures"] for row in rows]
    stages = _stage_rows(series, STREAMING_STAGES)
    first_audio = stages[0]
    plain_series = [row["figures"] for row in _counted(run, iterations.LATENCY)]
    plain_p50 = percentile_summary([f["first_audio_ms"] for f in plain_series])["p50"]
    off_stages = _stage_rows(off_series, UNSTREAMED_STAGES)
    off_p50 = off_stages[0]["p50"]
    started = sum(f.get("speculations", 0) for f in series)
    wrong = sum(f.get("wrong_speculations", 0) for f in series)
    p50, p99, floor_p50 = first_audio["p50"], first_audio["p99"], first_audio["floor_p50"]
    config = run.config_snapshot
    return {
        **_provenance(run),
        "iterations": len(rows),
        "stages": stages,
        "unstreamed_iterations": len(off_series),
        "unstreamed_stages": off_stages,
        "unstreamed_first_audio_p50": off_p50,
        "ratio_to_unstreamed": p50 / off_p50 if p50 is not None and off_p50 else None,
        "plain_iterations": len(plain_series),
        "plain_first_audio_p50": plain_p50,
        "ratio_to_plain": p50 / plain_p50 if p50 is not None and plain_p50 else None,
        "ratio_to_floor": p50 / floor_p50 if p50 is not None and floor_p50 else None,
        "targets": {
            "ratio_to_unstreamed": TARGET_RATIO_TO_UNSTREAMED,
            "ratio_to_floor": TARGET_RATIO_TO_FLOOR,
            "p50_ms": TARGET_P50_MS,
            "p99_ms": TARGET_P99_MS,
        },
        "meets": {
            "ratio_to_unstreamed": None not in (p50, off_p50) and p50 <= TARGET_RATIO_TO_UNSTREAMED * off_p50,
            "ratio_to_floor": None not in (p50, floor_p50) and p50 <= TARGET_RATIO_TO_FLOOR * floor_p50,
            "p50_ms": p50 is not None and p50 <= TARGET_P50_MS,
            "p99_ms": p99 is not None and p99 <= TARGET_P99_MS,
        },
        "speculations": started,
        "wrong_speculations": wrong,
        "hit_rate": (started - wrong) / started if started else None,
        # Turns whose first clause reached TTS at the word limit, not at a punctuation boundary.
        "first_clauses_cut": sum(f.get("first_clause_cut", 0) for f in series),
        "wer_streamed": _word_error_rate(series),
        "wer_unstreamed": _word_error_rate(off_series),
        "wer_plain": _word_error_rate(plain_series),
        "settings": {
            key: config.get(key)
            for key in (
                "stream_chunk_ms",
                "vad_hangover_ms",
                "vad_threshold",
                "stream_speculate",
                "stream_speculate_after_ms",
                "stream_partial_interval_ms",
                "stt_window_s",
                "stt_window_fit",
                "stt_model_english",
                "tts_clause_min_words",
                "tts_first_clause_max_words",
                "tts_first_words",
                "tts_trim_silence",
                "llm_prefix_cache",
                "llm_partial_prefill",
                "stt_threads",
                "llm_threads",
                "llm_batch_threads",
                "tts_threads",
            )
        },
    }


def llm_summary(run: SynthesisRun) -> dict:
    """Per prompt latency, tokens and tokens/s; per context length latency and time to first token."""
    prompts = [
        {
            "prompt": row["label"],
            **{k: row["figures"].get(k) for k in ("llm_ms", "llm_tokens", "llm_tokens_per_s")},
        }
        for row in _counted(run, iterations.LLM_PROMPT)
    ]
    contexts = [
        {
            "prompt_tokens": row["figures"]["prompt_tokens"],
            "llm_ms": row["figures"]["llm_ms"],
            "llm_first_token_ms": row["figures"]["llm_first_token_ms"],
            "llm_tokens": row["figures"]["llm_tokens"],
        }
        for row in _counted(run, iterations.LLM_CONTEXT)
    ]
    tokens = sum(p["llm_tokens"] or 0 for p in prompts)
    seconds = sum(p["llm_ms"] or 0 for p in prompts) / 1000
    return {
        **_provenance(run),
        "n_ctx": iterations.LLM_CONTEXT_SIZE,
        "max_tokens": iterations.LLM_MAX_TOKENS,
        "warmup_prompt": iterations.LLM_WARMUP_PROMPT,
        "prompts": prompts,
        "latency": percentile_summary([p["llm_ms"] for p in prompts]),
        "mean_tokens": tokens / len(prompts) if prompts else None,
        "tokens_per_s": tokens / seconds if seconds else None,
        "contexts": contexts,
    }


def latency_claim_figures(run: SynthesisRun) -> dict:
    """What the claims page compares: STT+TTS per iteration (P50, P99) and the end-to-end mean, in ms."""
    series = [row["figures"] for row in _counted(run, iterations.LATENCY)]
    stt_tts = [
        f["stt_ms"] + f["tts_ms"]
        for f in series
        if f.get("stt_ms") is not None and f.get("tts_ms") is not None
    ]
    both = percentile_summary(stt_tts)
    total = percentile_summary([f["total_ms"] for f in series if f.get("total_ms") is not None])
    return {"stt_tts_p50_ms": both["p50"], "stt_tts_p99_ms": both["p99"], "e2e_mean_ms": total["mean"]}


def llm_claim_figures(run: SynthesisRun) -> dict:
    """What the claims page compares: mean latency per prompt of the design's plan and tokens/s."""
    summary = llm_summary(run)
    return {
        "latency_ms": summary["latency"]["mean"],
        "tokens_per_s": summary["tokens_per_s"],
        # The run loads the GGUF at the design's n_ctx whatever the configuration says.
        "settings": {"llm_context_size": summary["n_ctx"]},
    }


def latency_section(run: SynthesisRun) -> dict:
    """The latency run's results section: its summary, stage percentiles chart and streaming comparison."""
    s = latency_summary(run)
    chart = charts.percentile_chart(s["stages"], title="Latency per stage (counted iterations)")
    return {"s": s, "chart": chart, "streamed": streaming_summary(run)}


def llm_section(run: SynthesisRun) -> dict:
    """The LLM speed run's results section: its summary and latency against prompt length."""
    s = llm_summary(run)
    points = [(c["prompt_tokens"], c["llm_ms"], f"{c['prompt_tokens']} tokens") for c in s["contexts"]]
    top = max([p[1] for p in points] + [1])
    chart = charts.scatter_chart(
        points,
        title="LLM latency by prompt length",
        x_label="prompt tokens",
        y_label="ms",
        x_range=(0, s["n_ctx"]),
        y_range=(0, top * 1.1),
    )
    return {"s": s, "chart": chart}
