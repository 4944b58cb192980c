"""Timed iterations for the latency and LLM-speed runs: plain Python over the engines, no Django.

Each function times one iteration with the models already loaded (loading is never timed) and
returns an IterationResult whose figures are milliseconds and counts keyed by name.
"""

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from synthesis.engines import audio, bench, llm, pipeline, streaming, stt, tts
from synthesis.engines.settings import PipelineSettings

LATENCY = "latency"  # plain: the whole prompt handed over at once, no end-of-speech detection
STREAMING = "streaming"  # streamed, live (streaming.run_streaming_turn)
UNSTREAMED = "unstreamed"  # live without streaming (streaming.run_unstreamed_turn): its baseline
LLM_PROMPT = "llm-prompt"
LLM_CONTEXT = "llm-context"

# The design's 2-second inputs: a fixed prompt spoken once by the configuration's voice, then cut or
# padded with silence to exactly this long.
TWO_SECOND_PROMPT = "What is the weather like today?"
PROMPT_SECONDS = 2.0

# The design's LLM measurement: a warm-up, then five Spanish prompts, n_ctx 512, 20 tokens.
LLM_WARMUP_PROMPT = "Hola, ¿cómo estás?"
LLM_PROMPTS = (
    "¿Qué es Python?",
    "Explica qué es un LLM",
    "¿Cómo funciona la IA?",
    "Define machine learning",
    "¿Qué es un transformer?",
)
LLM_CONTEXT_SIZE = 512
LLM_MAX_TOKENS = 20
CONTEXT_LENGTHS = (32, 64, 128, 256, 448)  # prompt tokens; 448 + 20 generated stay within 512


@dataclass
class IterationResult:
    kind: str
    label: str
    figures: dict = field(default_factory=dict)


def leading_silence_s(samples: np.ndarray, sample_rate: int, threshold_dbfs: float) -> float:
    """Seconds before the first sample whose magnitude reaches threshold_dbfs (full scale = 1.0)."""
    threshold = 10 ** (threshold_dbfs / 20)
    loud = np.flatnonzero(np.abs(np.asarray(samples, dtype=np.float64)) >= threshold)
    first = loud[0] if loud.size else len(samples)
    return first / sample_rate


def fit_to_length(samples: np.ndarray, sample_rate: int, seconds: float) -> np.ndarray:
    """Cut, or pad with trailing silence, to exactly `seconds`."""
    wanted = round(seconds * sample_rate)
    out = np.zeros(wanted, dtype=np.float32)
    out[: min(wanted, len(samples))] = samples[:wanted]
    return out


def spoken_prompt(text: str, *, language: str, config: PipelineSettings, seconds: float | None) -> np.ndarray:
    """A prompt spoken by the configuration's voice at 16 kHz, fitted to `seconds` when given."""
    spoken = pipeline.speak(text, language=language, style=pipeline.NEUTRAL_PROMPT_STYLE, config=config)
    audio_16k = audio.resample(spoken.audio, spoken.sample_rate, pipeline.STT_RATE)
    return fit_to_length(audio_16k, pipeline.STT_RATE, seconds) if seconds else audio_16k


@functools.lru_cache(maxsize=8)
def _cached_prompt(text: str, language: str, config: PipelineSettings, seconds: float | None) -> np.ndarray:
    return spoken_prompt(text, language=language, config=config, seconds=seconds)


def prompt_audio(text: str, *, language: str, config: PipelineSettings, seconds: float | None) -> np.ndarray:
    """spoken_prompt, made once per process: every iteration hears the very same samples."""
    return _cached_prompt(text, language, config, seconds)


def _conversation_models(config: PipelineSettings, cache_dir: Path) -> pipeline.LoadedModels:
    """TTS, STT and LLM of a configuration, loaded once per process (no DNSMOS: nothing is scored)."""
    pipeline._load_tts(config)
    whisper = pipeline.load_stt(config, cache_dir)
    return pipeline.LoadedModels(whisper=whisper, dnsmos=None, llm=pipeline.load_llm(config))


def _loaded_context(
    *, config: PipelineSettings, language: str, style: dict, cache_dir: Path, on_stage: pipeline.StageCallback
) -> pipeline.PipelineContext:
    """A turn's context with its configuration's conversation models loaded."""
    on_stage("load")
    loaded = _conversation_models(config, cache_dir)
    return pipeline.PipelineContext(
        config=config, language=language, style=style, loaded=loaded, on_stage=on_stage
    )


def latency_iteration(
    *,
    prompt_16k: np.ndarray,
    language: str,
    style: dict,
    config: PipelineSettings,
    cache_dir: Path,
    silence_dbfs: float,
    on_stage: pipeline.StageCallback,
) -> IterationResult:
    """One conversation turn (STT → streamed LLM → TTS), then the same library calls made directly."""
    context = _loaded_context(
        config=config, language=language, style=style, cache_dir=cache_dir, on_stage=on_stage
    )
    t = pipeline._run_conversation(prompt_16k, context=context)
    # The reply audio starts with the first chunk handed to playback, so its leading silence is that
    # chunk's (a first chunk that is silent throughout would count the next chunk's silence too).
    silence_ms = leading_silence_s(t["audio"], t["sample_rate"], silence_dbfs) * 1000
    figures = {
        name: t[name]
        for name in ("stt_ms", "llm_ms", "llm_first_token_ms", "tts_ms", "first_audio_ms", "total_ms")
    }
    figures.update(
        leading_silence_ms=silence_ms,
        perceived_first_audio_ms=t["first_audio_ms"] + silence_ms,
        stt_rtf=t["stt_ms"] / 1000 / (len(prompt_16k) / pipeline.STT_RATE),
        tts_rtf=t["tts_rtf"],
        llm_tokens=t["llm_tokens"],
        llm_tokens_per_s=t["llm_tokens_per_s"],
        reply_s=len(t["audio"]) / t["sample_rate"],
    )
    on_stage("direct")
    figures.update(_direct_floor(context, prompt_16k, t))
    return IterationResult(kind=LATENCY, label=t["prompt_text"][:300], figures=figures)


def _direct_floor(context: pipeline.PipelineContext, prompt_16k: np.ndarray, t: dict) -> dict:
    """The raw library calls on the same inputs (bench.py's direct calls), in ms."""
    config, loaded = context.config, context.loaded
    floor = {}
    started = time.perf_counter()
    bench.direct_stt_pass(
        loaded.whisper,
        prompt_16k,
        stt.base_language(context.language),
        beam_size=config.stt_beam_size,
        window_s=config.stt_window_s,
    )
    floor["direct_stt_ms"] = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    bench.direct_llm(loaded.llm, config, t["prompt_text"], config.llm_max_tokens, config.llm_temperature)
    floor["direct_llm_ms"] = (time.perf_counter() - started) * 1000
    if config.tts_backend == tts.PIPER:
        started = time.perf_counter()
        bench.direct_tts(config, t["reply"], context.style)
        floor["direct_tts_ms"] = (time.perf_counter() - started) * 1000
    return floor


def _live_turn(
    run_turn: Callable[..., dict],
    *,
    prompt_16k: np.ndarray,
    language: str,
    style: dict,
    config: PipelineSettings,
    options: streaming.StreamingOptions,
    cache_dir: Path,
    silence_dbfs: float,
    on_stage: pipeline.StageCallback,
) -> tuple:
    """A live turn (streaming.run_streaming_turn or run_unstreamed_turn) and the clocks both report.

    Times to first audio are given from the true end of speech (the last voiced prompt sample) and
    from the detector's decision; perceived adds the leading silence of the first audio handed over.
    """
    context = _loaded_context(
        config=config, language=language, style=style, cache_dir=cache_dir, on_stage=on_stage
    )
    t = run_turn(prompt_16k, context=context, options=options, silence_dbfs=silence_dbfs)
    silence_ms = leading_silence_s(t["audio"], t["sample_rate"], silence_dbfs) * 1000
    first_audio_ms = t["playback_ms"] - t["true_end_ms"]
    figures = {
        "first_audio_ms": first_audio_ms,
        "perceived_first_audio_ms": first_audio_ms + silence_ms,
        "first_audio_from_decision_ms": t["playback_ms"] - t["decision_ms"],
        "perceived_first_audio_from_decision_ms": t["playback_ms"] - t["decision_ms"] + silence_ms,
        "leading_silence_ms": silence_ms,
        "end_detection_ms": t["decision_ms"] - t["true_end_ms"],
        # Streamed with speculation, the final pass starts when the first silent frame's chunk has
        # arrived; otherwise at the decision.
        "stt_start_after_end_ms": t["stt_start_ms"] - t["true_end_ms"],
        "total_ms": t["total_ms"] - t["true_end_ms"],
        "llm_tokens": t["llm_tokens"],
        "reply_s": len(t["audio"]) / t["sample_rate"],
    }
    return context, t, figures


def streaming_iteration(
    *,
    prompt_16k: np.ndarray,
    language: str,
    style: dict,
    config: PipelineSettings,
    options: streaming.StreamingOptions,
    cache_dir: Path,
    silence_dbfs: float,
    on_stage: pipeline.StageCallback,
) -> IterationResult:
    """One streamed turn (streaming.run_streaming_turn), then its critical path's library calls made directly.

    The breakdown says where the time after the true end of speech went.
    """
    context, t, figures = _live_turn(
        streaming.run_streaming_turn,
        prompt_16k=prompt_16k,
        language=language,
        style=style,
        config=config,
        options=options,
        cache_dir=cache_dir,
        silence_dbfs=silence_dbfs,
        on_stage=on_stage,
    )
    figures.update(
        stt_tail_ms=t["stt_end_ms"] - max(t["true_end_ms"], t["stt_start_ms"]),
        llm_to_first_clause_ms=t["llm_to_first_clause_ms"],
        tts_first_chunk_ms=t["tts_first_clause_ms"],
        waiting_for_decision_ms=max(0.0, t["decision_ms"] - t["first_chunk_ready_ms"]),
        stt_ms=t["stt_pass_ms"],
        first_clause_cut=int(t["first_clause_cut"]),
        speculations=t["speculations"],
        wrong_speculations=t["wrong_speculations"],
        partial_passes=t["partial_passes"],
        partial_prefills=t["partial_prefills"],
        llm_prompt_tokens=t["llm_prompt_tokens"],
        stt_window_s=t["stt_window_s"],  # the encoder window of the final pass, fitted or set
        stt_audio_s=len(t["stt_audio"]) / streaming.SAMPLE_RATE,
    )
    on_stage("direct")
    figures.update(_streaming_floor(context, t, options))
    return IterationResult(kind=STREAMING, label=t["prompt_text"][:300], figures=figures)


def unstreamed_iteration(
    *,
    prompt_16k: np.ndarray,
    language: str,
    style: dict,
    config: PipelineSettings,
    options: streaming.StreamingOptions,
    cache_dir: Path,
    silence_dbfs: float,
    on_stage: pipeline.StageCallback,
) -> IterationResult:
    """One live turn without streaming (streaming.run_unstreamed_turn), on the streamed turn's clocks."""
    _, t, figures = _live_turn(
        streaming.run_unstreamed_turn,
        prompt_16k=prompt_16k,
        language=language,
        style=style,
        config=config,
        options=options,
        cache_dir=cache_dir,
        silence_dbfs=silence_dbfs,
        on_stage=on_stage,
    )
    figures.update(
        {name: t[name] for name in ("stt_ms", "llm_ms", "llm_first_token_ms", "tts_ms", "tts_rtf")},
        stt_rtf=t["stt_ms"] / 1000 / t["stt_audio_s"],
        llm_tokens_per_s=t["llm_tokens_per_s"],
    )
    return IterationResult(kind=UNSTREAMED, label=t["prompt_text"][:300], figures=figures)


def _streaming_floor(context: pipeline.PipelineContext, t: dict, options: streaming.StreamingOptions) -> dict:
    """The critical path's raw library calls on the turn's inputs, and the first audio they allow.

    After the true end the detector must first see silence (its first silent frame), then STT (with
    the turn's window), the LLM to its first clause (its whole prompt evaluated: a prompt prefilled on a
    partial transcript makes the turn faster than this) and TTS of the first chunk run one after the
    other; with speculation they start at that silent frame and the hang-over overlaps them, without it
    they start at the decision.
    """
    config, loaded, language, style = context.config, context.loaded, context.language, context.style
    floor = {}
    started = time.perf_counter()
    bench.direct_stt_pass(
        loaded.whisper,
        t["stt_audio"],
        stt.base_language(language),
        beam_size=config.stt_beam_size,
        window_s=options.stt_window(len(t["stt_audio"])),
    )
    floor["direct_stt_ms"] = (time.perf_counter() - started) * 1000
    streaming.prepare_llm(loaded.llm, config=config, options=options)
    started = time.perf_counter()
    _direct_first_clause(
        loaded.llm, config, t["prompt_text"], options.clause_min_words, options.first_clause_max_words
    )
    floor["direct_llm_first_clause_ms"] = (time.perf_counter() - started) * 1000
    # What the first chunk holds: the first clause, or its first words when they are spoken alone.
    first_chunk = streaming.first_words(t["first_clause"], options.tts_first_words)[0]
    started = time.perf_counter()
    if config.tts_backend == tts.PIPER:
        bench.direct_tts(config, first_chunk, style)
    else:
        pipeline.speak(first_chunk, language=language, style=style, config=config)
    floor["direct_tts_first_clause_ms"] = (time.perf_counter() - started) * 1000
    critical = sum(floor.values())
    start = t["first_silence_ms"] if options.speculate else t["decision_sample_ms"]
    ready = max(t["decision_sample_ms"], start + critical)
    floor["direct_critical_path_ms"] = critical
    floor["floor_first_audio_ms"] = ready - t["true_end_ms"]
    floor["floor_hangover_exposed_ms"] = max(0.0, t["decision_sample_ms"] - (start + critical))
    return floor


def _direct_first_clause(
    model, config: PipelineSettings, prompt: str, min_words: int, max_words: int = 0
) -> str:
    """llama-cpp-python's streamed chat completion, stopped at the reply's first clause."""
    messages = [
        {"role": "system", "content": config.llm_system_prompt},
        {"role": "user", "content": prompt},
    ]
    kwargs = {"max_tokens": config.llm_max_tokens, "temperature": config.llm_temperature}
    chunks = model.create_chat_completion(messages=messages, stream=True, seed=config.llm_seed, **kwargs)
    text = ""
    for chunk in chunks:
        text += chunk["choices"][0]["delta"].get("content") or ""
        clauses, _ = llm.split_clauses(text, min_words, max_words)
        if clauses:
            break
    chunks.close()
    return text


def benchmark_llm(config: PipelineSettings) -> "llm.Llama":
    """The configuration's GGUF at the design's n_ctx 512, loaded once per process."""
    return pipeline.load_llm(config, LLM_CONTEXT_SIZE)


def llm_prompt_iteration(
    *, prompt: str, config: PipelineSettings, on_stage: pipeline.StageCallback
) -> IterationResult:
    """One chat prompt from an empty context: latency, first token, tokens and tokens/s."""
    on_stage("load")
    model = benchmark_llm(config)
    model.reset()  # nothing of the previous prompt is reused from the KV cache
    on_stage("llm")
    result = llm.generate(
        model,
        system_prompt=config.llm_system_prompt,
        user_text=prompt,
        max_tokens=LLM_MAX_TOKENS,
        temperature=0.0,
        seed=config.llm_seed,
    )
    figures = {
        "llm_ms": result.seconds * 1000,
        "llm_first_token_ms": (result.first_token_seconds or 0) * 1000,
        "llm_tokens": result.tokens,
        "llm_tokens_per_s": result.tokens_per_s,
    }
    return IterationResult(kind=LLM_PROMPT, label=prompt, figures=figures)


def context_prompt(model, length: int) -> list[int]:
    """A prompt of exactly `length` tokens (BOS included): a Spanish sentence repeated and cut."""
    text = "La inteligencia artificial cambia la forma en que trabajamos y aprendemos. "
    tokens = model.tokenize(text.encode("utf-8"), add_bos=True)
    body = model.tokenize(text.encode("utf-8"), add_bos=False)
    while len(tokens) < length:
        tokens += body
    return tokens[:length]


def llm_context_iteration(
    *, length: int, config: PipelineSettings, on_stage: pipeline.StageCallback
) -> IterationResult:
    """A raw completion of a `length`-token prompt from an empty context: latency and time to first token."""
    on_stage("load")
    model = benchmark_llm(config)
    if length + LLM_MAX_TOKENS > model.n_ctx():
        raise ValueError(f"a {length}-token prompt and {LLM_MAX_TOKENS} tokens exceed n_ctx {model.n_ctx()}")
    prompt = context_prompt(model, length)
    model.reset()
    on_stage("llm")
    started, first, tokens = time.perf_counter(), None, 0
    for _chunk in model.create_completion(
        prompt, max_tokens=LLM_MAX_TOKENS, temperature=0.0, seed=config.llm_seed, stream=True
    ):
        first = first if first is not None else time.perf_counter() - started
        tokens += 1
    seconds = time.perf_counter() - started
    figures = {
        "prompt_tokens": length,
        "llm_ms": seconds * 1000,
        "llm_first_token_ms": (first or 0) * 1000,
        "llm_tokens": tokens,  # streamed chunks: about one token each on a plain completion
        "llm_tokens_per_s": tokens / seconds if seconds > 0 else 0.0,
    }
    return IterationResult(kind=LLM_CONTEXT, label=f"{length} tokens", figures=figures)
