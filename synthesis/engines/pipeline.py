"""The speech pipeline as the project runs it: plain Python over the engines, no Django.

A configuration is a `PipelineSettings`, read once from the dict a run freezes
(`PipelineConfig.snapshot()`); a style is the dict of `StylePreset.parameters()`; what one item runs
with travels as a `PipelineContext`. Models are loaded before any clock starts, so latencies never
include loading; the first call of a process still pays one-off warm-up costs, which the benchmark
reports.
"""

import functools
import gc
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from synthesis.engines import audio, llm, models, mos, stt, textnorm, tts
from synthesis.engines.settings import PipelineSettings

STT_RATE = 16000
# What a run mode can load (modes.RunMode.loads); engines_for maps each to its self-test engine.
COMPONENTS = ("tts", "stt", "llm", "dnsmos")
NATIVE_BLAS_THREADS = 1

# Called with a stage name before each stage starts, so a crash can be traced to its stage; it may
# raise to stop the item between stages (a cancelled run).
StageCallback = Callable[[str], None]
STAGES = {
    "load": "model loading",
    "prompt-tts": "TTS of the spoken prompt",
    "decode": "decoding the recorded clip",
    "stt": "STT",
    "llm": "LLM reply",
    "tts": "TTS",
    "asr": "ASR round trip",
    "dnsmos": "DNSMOS",
}


def _no_stage(stage: str) -> None:
    return None


def engines_for(config: PipelineSettings, components: Iterable[str]) -> list[str]:
    """The self-test engine keys (selftest.ENGINES) of the components an item loads."""
    tts_key = "tts-piper" if config.tts_backend == tts.PIPER else "tts-espeak"
    return [tts_key if component == "tts" else component for component in components]


def stage_description(stage: str, config: PipelineSettings) -> str:
    """'the LLM reply stage (llama.cpp)': a stage with the engine that runs it."""
    engine = {
        "prompt-tts": config.tts_backend,
        "tts": config.tts_backend,
        "stt": "faster-whisper",
        "asr": "faster-whisper",
        "llm": "llama.cpp",
        "dnsmos": "onnxruntime",
    }.get(stage)
    if not stage:
        return "its set-up, before the first stage"
    label = STAGES.get(stage, stage)
    return f"the {label} stage ({engine})" if engine else f"the {label} stage"


@dataclass
class ItemResult:
    """Audio produced for one item and its measurements, keyed by Sample field names."""

    audio: np.ndarray
    sample_rate: int
    text: str
    measurements: dict = field(default_factory=dict)


@dataclass(frozen=True)
class LoadedModels:
    whisper: object
    dnsmos: object
    llm: object | None


@dataclass(frozen=True)
class PipelineContext:
    """What one item runs with: its settings, its language, the style of its speech, the loaded models
    and the callback told of each stage."""

    config: PipelineSettings
    language: str
    style: dict
    loaded: LoadedModels
    on_stage: StageCallback = _no_stage


@functools.cache
def limit_native_threads() -> None:
    """One BLAS thread in this process: numpy's OpenBLAS otherwise starts one per core.

    The models' thread counts come from the configuration; BLAS only multiplies the small matrices of
    feature extraction (DNSMOS's and Whisper's mel spectrograms), where a pool of its own per worker
    process competes with the other workers for the cores. Results are the same with one thread.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=NATIVE_BLAS_THREADS, user_api="blas")


def load_models(config: PipelineSettings, cache_dir: Path, *, with_llm: bool) -> LoadedModels:
    """Load (once per process) every model a configuration needs; ModelFileError names a bad file."""
    limit_native_threads()
    _load_tts(config)
    whisper = load_stt(config, cache_dir)
    scorer = mos.load_dnsmos()
    _warm_up_dnsmos(scorer)
    model = load_llm(config) if with_llm else None
    return LoadedModels(whisper=whisper, dnsmos=scorer, llm=model)


def load_llm(config: PipelineSettings, n_ctx: int | None = None) -> object:
    """The configuration's GGUF with its threads and seed (once per process); n_ctx defaults to its own."""
    gguf = models.resolve_llm_model(config.llm_model)
    return llm.load_llm(
        str(gguf),
        n_ctx or config.llm_context_size,
        config.llm_threads,
        config.llm_seed,
        config.llm_batch_threads,
    )


def release_models() -> None:
    """Drop the cached models now: llama-cpp-python's destructor fails if it runs at interpreter exit."""
    loaders = (tts.load_piper, stt.load_whisper, llm.load_llm, mos.load_dnsmos, _warm_up_dnsmos)
    if not any(loader.cache_info().currsize for loader in loaders):
        return  # nothing loaded: no full garbage collection either
    for loader in loaders:
        loader.cache_clear()
    gc.collect()


def model_files(config: PipelineSettings, cache_dir: Path, components: Iterable[str]) -> list[Path]:
    """Every model file the given components read under a configuration, for the run's provenance."""
    paths: list[Path] = []
    if "tts" in components and config.tts_backend == tts.PIPER:
        paths.extend(models.resolve_piper_voice(config.tts_voice))
    if "stt" in components:
        # The English prompts' model too, when the configuration names one (conversation_settings).
        for name in dict.fromkeys(filter(None, (config.stt_model, config.stt_model_english))):
            whisper_dir = models.resolve_stt_model(name, cache_dir)
            paths.extend(sorted(p for p in whisper_dir.iterdir() if p.is_file()))
    if "llm" in components:
        paths.append(models.resolve_llm_model(config.llm_model))
    if "dnsmos" in components:
        paths.extend(mos.model_paths())
    return paths


def _load_tts(config: PipelineSettings) -> None:
    if config.tts_backend == tts.PIPER:
        model_path, config_path = models.resolve_piper_voice(config.tts_voice)
        tts.load_piper(str(model_path), str(config_path), config.tts_threads)
    elif config.tts_backend == tts.ESPEAK:
        tts.load_espeak()
    else:
        raise ValueError(f"unknown TTS backend {config.tts_backend!r}")


@functools.cache
def _warm_up_dnsmos(scorer: object) -> None:
    mos.warm_up_dnsmos(scorer)


def speak(text: str, *, language: str, style: dict, config: PipelineSettings) -> tts.TTSResult:
    return tts.synthesize(
        config.tts_backend,
        config.tts_voice,
        text,
        language=language,
        style=style,
        threads=config.tts_threads,
    )


def measure(result: ItemResult, *, reference: str, context: PipelineContext) -> None:
    """ASR round trip with WER/CER against the reference, DNSMOS and loudness, added to measurements."""
    language, loaded = context.language, context.loaded
    audio_16k = audio.resample(result.audio, result.sample_rate, STT_RATE)
    context.on_stage("asr")
    heard = stt.transcribe(
        loaded.whisper, audio_16k, language=language, beam_size=context.config.stt_beam_size
    )
    method = textnorm.default_method(language)
    errors = textnorm.utterance_errors(reference, heard.text, method=method, language=language)
    context.on_stage("dnsmos")
    scores = mos.score_dnsmos(loaded.dnsmos, audio_16k)
    duration = len(result.audio) / result.sample_rate
    # In conversation mode stt_ms/stt_rtf already describe the prompt, the pipeline's own STT.
    result.measurements.setdefault("stt_ms", heard.seconds * 1000)
    result.measurements.setdefault("stt_rtf", heard.seconds / duration)
    result.measurements.update(
        recognized_text=heard.text,
        wer=errors["wer"],
        cer=errors["cer"],
        dnsmos_p808=scores["p808"],
        dnsmos_sig=scores["sig"],
        dnsmos_bak=scores["bak"],
        dnsmos_ovrl=scores["ovrl"],
        loudness_lufs=audio.integrated_loudness(result.audio, result.sample_rate),
        duration_s=duration,
    )


def synthesize_item(
    *,
    text: str,
    language: str,
    style: dict,
    config: PipelineSettings,
    cache_dir: Path,
    on_stage: StageCallback = _no_stage,
) -> ItemResult:
    """Synthesis mode: text → TTS in a style, then the round-trip measurements."""
    on_stage("load")
    loaded = load_models(config, cache_dir, with_llm=False)
    context = PipelineContext(config=config, language=language, style=style, loaded=loaded, on_stage=on_stage)
    on_stage("tts")
    spoken = speak(text, language=language, style=style, config=config)
    duration = len(spoken.audio) / spoken.sample_rate
    result = ItemResult(
        audio=spoken.audio,
        sample_rate=spoken.sample_rate,
        text=text,
        measurements={
            "tts_ms": spoken.seconds * 1000,
            "tts_rtf": spoken.seconds / duration,
            "total_ms": spoken.seconds * 1000,
        },
    )
    measure(result, reference=text, context=context)
    return result


def converse_item(
    *,
    prompt_text: str,
    prompt_audio: tuple[np.ndarray, int] | None,
    language: str,
    style: dict,
    config: PipelineSettings,
    cache_dir: Path,
    on_stage: StageCallback = _no_stage,
) -> ItemResult:
    """Conversation mode: spoken prompt → STT → LLM streamed sentence by sentence into TTS."""
    on_stage("load")
    loaded = load_models(config, cache_dir, with_llm=True)
    context = PipelineContext(config=config, language=language, style=style, loaded=loaded, on_stage=on_stage)
    if prompt_audio is None:
        on_stage("prompt-tts")
        spoken = speak(prompt_text, language=language, style=NEUTRAL_PROMPT_STYLE, config=config)
        prompt_audio = (spoken.audio, spoken.sample_rate)
    prompt_16k = audio.resample(prompt_audio[0], prompt_audio[1], STT_RATE)
    timings = _run_conversation(prompt_16k, context=context)
    errors = textnorm.utterance_errors(
        prompt_text, timings["prompt_text"], method=textnorm.default_method(language), language=language
    )
    timings["prompt_wer"] = errors["wer"]
    reply_audio = timings.pop("audio")
    result = ItemResult(
        audio=reply_audio,
        sample_rate=timings.pop("sample_rate"),
        text=timings.pop("reply"),
        measurements=timings,
    )
    measure(result, reference=result.text, context=context)
    return result


@dataclass
class TranscriptResult:
    """What STT heard on one recorded utterance, its timing and its errors against the reference."""

    hypothesis: str
    reference: str
    language: str
    duration_s: float
    stt_seconds: float
    errors: dict  # textnorm.utterance_errors() with the language's default normalisation


def conversation_settings(config: PipelineSettings, language: str) -> PipelineSettings:
    """A latency turn's configuration: its English Whisper model for English prompts.

    Only the turn's prompt is transcribed with it; the ASR round trip of stored samples keeps stt_model.
    """
    if config.stt_model_english and stt.base_language(language) == "en":
        return replace(config, stt_model=config.stt_model_english)
    return config


def stt_choice(config: PipelineSettings, language: str) -> str:
    """The Whisper model and encoder window a turn in `language` uses, e.g. "whisper-tiny.en, 10 s window"."""
    config = conversation_settings(config, language)
    return f"{config.stt_model}, {config.stt_window_s or 30} s window"


def load_stt(config: PipelineSettings, cache_dir: Path) -> object:
    """Load (once per process) only the STT model of a configuration."""
    limit_native_threads()
    whisper_dir = models.resolve_stt_model(config.stt_model, cache_dir)
    return stt.load_whisper(str(whisper_dir), config.stt_compute_type, config.stt_threads)


def transcribe_utterance(
    *,
    audio_16k: np.ndarray,
    reference: str,
    language: str,
    config: PipelineSettings,
    cache_dir: Path,
    on_stage: StageCallback = _no_stage,
) -> TranscriptResult:
    """STT WER mode: one recorded clip (16 kHz mono) through the configuration's STT as a conversation
    turn runs it: its English Whisper model for English clips and its encoder window (stt_window_s)."""
    config = conversation_settings(config, language)
    on_stage("load")
    whisper = load_stt(config, cache_dir)
    on_stage("stt")
    heard = stt.transcribe(
        whisper,
        audio_16k,
        language=language,
        beam_size=config.stt_beam_size,
        chunk_length=config.stt_window_s,
    )
    errors = textnorm.utterance_errors(
        reference, heard.text, method=textnorm.default_method(language), language=language
    )
    return TranscriptResult(
        hypothesis=heard.text,
        reference=reference,
        language=language,
        duration_s=len(audio_16k) / STT_RATE,
        stt_seconds=heard.seconds,
        errors=errors,
    )


NEUTRAL_PROMPT_STYLE = {"length_scale": 1.0, "noise_scale": 0.667, "noise_w_scale": 0.8, "volume": 1.0}


def _run_conversation(prompt_16k: np.ndarray, *, context: PipelineContext) -> dict:
    config, loaded = context.config, context.loaded
    # Time spent recording stages is not the models': it is left out of llm_ms.
    overhead = 0.0

    def mark(stage: str) -> None:
        nonlocal overhead
        before = time.perf_counter()
        context.on_stage(stage)
        overhead += time.perf_counter() - before

    if not config.llm_prefix_cache:
        loaded.llm.reset()  # the system prompt is evaluated again, as in a fresh context
    mark("stt")
    started = time.perf_counter()
    heard = stt.transcribe(
        loaded.whisper,
        prompt_16k,
        language=context.language,
        beam_size=config.stt_beam_size,
        chunk_length=config.stt_window_s,
    )
    if not heard.text.strip():
        raise ValueError("STT heard nothing in the prompt audio")
    stream = llm.stream_reply(
        loaded.llm,
        system_prompt=config.llm_system_prompt,
        user_text=heard.text,
        max_tokens=config.llm_max_tokens,
        temperature=config.llm_temperature,
        seed=config.llm_seed,
    )
    chunks, sample_rate, tts_seconds, first_audio = [], 0, 0.0, None
    mark("llm")
    for sentence in stream:
        mark("tts")
        spoken = speak(sentence, language=context.language, style=context.style, config=config)
        chunks.append(spoken.audio)
        sample_rate, tts_seconds = spoken.sample_rate, tts_seconds + spoken.seconds
        if first_audio is None:
            first_audio = time.perf_counter() - started - overhead
        mark("llm")
    total = time.perf_counter() - started - overhead
    reply = stream.result
    if not chunks:
        raise ValueError("the LLM produced no text to speak")
    reply_audio = np.concatenate(chunks)
    return {
        "audio": reply_audio,
        "sample_rate": sample_rate,
        "reply": reply.text,
        "prompt_text": heard.text,
        "stt_ms": heard.seconds * 1000,
        "tts_ms": tts_seconds * 1000,
        "tts_rtf": tts_seconds / (len(reply_audio) / sample_rate),
        # The stream's own time: the TTS calls made between its sentences, and the code that hands
        # each sentence over, are the consumer's (ReplyStream leaves out time suspended at a yield).
        "llm_ms": reply.seconds * 1000,
        "llm_first_token_ms": (reply.first_token_seconds or 0) * 1000,
        "llm_tokens": reply.tokens,
        "llm_tokens_per_s": reply.tokens_per_s,
        "first_audio_ms": first_audio * 1000,
        "total_ms": total * 1000,
    }
