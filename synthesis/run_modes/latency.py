"""Latency runs: timed conversation turns after warm-ups, serially in one process; the design's
STT+TTS and end-to-end claims read the latest run with plain turns.

"plain" hands each turn the whole prompt at once (the design's measurement, no end-of-speech
detection); "off" and "on" hear it live, chunk by chunk, without and with streaming; "both"
alternates off and on on the same input (the streaming comparison), "all" plain, off and on.
"""

import functools

import numpy as np
from django.conf import settings

from synthesis import modes
from synthesis.engines import iterations, pipeline, streaming, textnorm
from synthesis.models import SpeechDataset, Status, SynthesisRun, TimedIteration, Utterance
from synthesis.results import claims, latency, run_analysis
from synthesis.run_modes.sentences import CONVERSATION

KEY = "latency"

STREAMING_KINDS = {
    "plain": (iterations.LATENCY,),
    "off": (iterations.UNSTREAMED,),
    "on": (iterations.STREAMING,),
    "both": (iterations.UNSTREAMED, iterations.STREAMING),
    "all": (iterations.LATENCY, iterations.UNSTREAMED, iterations.STREAMING),
}
STREAMING_CHOICES = tuple(STREAMING_KINDS)


def latency_plan(
    *,
    count: int,
    warmup: int,
    prompts: list[tuple[str, str]] | list[dict] | None = None,
    streaming: str = "plain",
) -> list[dict]:
    """W warm-ups then `count` counted conversation turns, over the 2-second input or cycling over prompts.

    A prompt is a sentence (text, language), spoken by the configuration's voice in the worker, or
    a recorded one (`spoken_prompts`): every configuration then hears the very same samples. Each
    input is run once per kind of `streaming` (STREAMING_KINDS), one after the other, so every kind
    sees the same models, threads and machine.
    """
    if count < 1 or warmup < 0:
        raise ValueError("A latency run needs at least one iteration and no negative warm-up count.")
    if streaming not in STREAMING_KINDS:
        raise ValueError(f"streaming must be one of {', '.join(STREAMING_CHOICES)}, not {streaming!r}.")
    if prompts and isinstance(prompts[0], dict):
        inputs = list(prompts)
    elif prompts:
        inputs = [{"prompt": text, "language": language, "seconds": None} for text, language in prompts]
    else:
        inputs = [
            {"prompt": iterations.TWO_SECOND_PROMPT, "language": "en", "seconds": iterations.PROMPT_SECONDS}
        ]
    return [
        {"kind": kind, "warmup": index < warmup, **inputs[index % len(inputs)]}
        for index in range(warmup + count)
        for kind in STREAMING_KINDS[streaming]
    ]


def run_latency_item(item, *, on_stage: pipeline.StageCallback) -> iterations.IterationResult:
    """One conversation turn (plain, unstreamed or streamed) and the prompt words STT got wrong."""
    entry, language = modes.plan_entry(item), modes.plan_entry(item)["language"]
    config = pipeline.conversation_settings(item.run.pipeline_settings, language)
    if entry.get("utterance"):
        prompt = recorded_prompt(entry["utterance"])
    else:
        on_stage("prompt-tts")
        prompt = iterations.prompt_audio(
            entry["prompt"], language=language, config=config, seconds=entry["seconds"]
        )
    common = {
        "prompt_16k": prompt,
        "language": language,
        "style": pipeline.NEUTRAL_PROMPT_STYLE,
        "config": config,
        "cache_dir": settings.SARAI_MODEL_CACHE,
        "silence_dbfs": settings.SARAI_SILENCE_DBFS,
        "on_stage": on_stage,
    }
    if entry.get("kind") == iterations.STREAMING:
        options = streaming.StreamingOptions.from_config(config)
        result = iterations.streaming_iteration(**common, options=options)
    elif entry.get("kind") == iterations.UNSTREAMED:
        options = streaming.StreamingOptions.from_config(config)
        result = iterations.unstreamed_iteration(**common, options=options)
    else:
        result = iterations.latency_iteration(**common)
    # The 2-second input is cut or padded: its reference is what the prompt voice said, whole.
    errors = textnorm.utterance_errors(
        entry["prompt"], result.label, method=textnorm.default_method(language), language=language
    )
    result.figures.update(prompt_word_errors=errors["ref_words"] - errors["hits"] + errors["insertions"])
    result.figures.update(prompt_words=errors["ref_words"])
    return result


def spoken_prompts(dataset: SpeechDataset) -> list[dict]:
    """A speech dataset's utterances as latency prompts, in its order: recorded audio, its transcript."""
    return [
        {"utterance": pk, "prompt": transcript, "language": language, "seconds": None}
        for pk, transcript, language in dataset.utterances.order_by("position").values_list(
            "pk", "transcript", "language"
        )
    ]


@functools.lru_cache(maxsize=256)
def recorded_prompt(utterance_pk: int) -> np.ndarray:
    """A recorded prompt at 16 kHz, decoded once per process."""
    audio = Utterance.objects.get(pk=utterance_pk).audio_16k()
    audio.setflags(write=False)
    return audio


def latest_plain_run() -> SynthesisRun | None:
    """The newest finished latency run with counted plain turns (a live-turns-only run has none)."""
    plain = TimedIteration.objects.filter(kind=iterations.LATENCY, warmup=False).values("run_id")
    runs = SynthesisRun.objects.filter(mode=KEY, status=Status.DONE, pk__in=plain)
    return runs.select_related("config").order_by("-finished_at", "-pk").first()


def latest_summary() -> dict | None:
    """The latest finished latency run with plain turns, summarised; None if there is none."""
    run = latest_plain_run()
    return latency.latency_summary(run) if run else None


def claim_figures() -> tuple[SynthesisRun, dict] | None:
    """The design's latency claims are its plain turns: a run of live turns only does not replace them."""
    run = latest_plain_run()
    return None if run is None else (run, latency.latency_claim_figures(run))


def conversation_samples() -> tuple[SynthesisRun, list[dict]] | None:
    """The latest conversation run's samples after each worker's first (a provisional latency figure)."""
    run = claims.latest_done_run(CONVERSATION.key)
    if run is None:
        return None
    samples = run_analysis.run_samples(run)
    warmup = run_analysis.warmup_ids(samples)
    return run, [s for s in samples if s["id"] not in warmup]


DESIGN_PIPELINE = f"{claims.OMNI_LABEL}; {claims.LFM2_LABEL}"
LATENCY = modes.register(
    modes.RunMode(
        key=KEY,
        label="Latency benchmark (timed conversation turns after warm-ups, serial)",
        run=run_latency_item,
        loads=("tts", "stt", "llm"),
        records=(),
        items_from=modes.ITERATIONS,
        serial=True,
        stores=modes.ITERATION,
        plan=lambda: latency_plan(count=100, warmup=5),  # the design's 100 iterations on 2-second inputs
        results_template="results/_latency_run.html",
        results=latency.latency_section,
        claims=(
            claims.Claim(
                key="stt-tts-p50",
                text="STT+TTS P50 < 240 ms",
                target=claims.Target(240, "<"),
                unit="ms",
                design_models=claims.SPEECH,
                design_model=claims.OMNI_LABEL,
                design_setting="6-thread CPU",
                measure=claims.conversation_measure(claim_figures, conversation_samples, "stt_tts_p50"),
                design_hardware=claims.DESIGN_CPU,
            ),
            claims.Claim(
                key="stt-tts-p99",
                text="STT+TTS P99 < 320 ms",
                target=claims.Target(320, "<"),
                unit="ms",
                design_models=claims.SPEECH,
                design_model=claims.OMNI_LABEL,
                design_setting="6-thread CPU",
                measure=claims.conversation_measure(claim_figures, conversation_samples, "stt_tts_p99"),
                design_hardware=claims.DESIGN_CPU,
            ),
            claims.Claim(
                key="e2e",
                text="End to end ~1189 ms",
                target=claims.Target(1189, "~"),
                unit="ms",
                design_models=claims.PIPELINE,
                design_model=DESIGN_PIPELINE,
                design_setting="6-thread CPU",
                measure=claims.conversation_measure(claim_figures, conversation_samples, "e2e_mean"),
                design_settings=claims.LFM2_SETTING,
                design_hardware=claims.DESIGN_CPU,
                note=f"Holds within ±{claims.APPROX_TOLERANCE:.0%} of 1189 ms.",
            ),
            claims.Claim(
                key="e2e-original-target",
                text="End to end < 500 ms (the original target)",
                target=claims.Target(500, "<"),
                unit="ms",
                design_models=claims.PIPELINE,
                design_model=DESIGN_PIPELINE,
                design_setting="6-thread CPU",
                measure=claims.conversation_measure(claim_figures, conversation_samples, "e2e_mean"),
                design_settings=claims.LFM2_SETTING,
                design_hardware=claims.DESIGN_CPU,
            ),
        ),  # fmt: skip
        claim_figures=claim_figures,
    )
)
