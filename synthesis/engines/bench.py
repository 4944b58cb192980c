"""Stage timings through the project next to the same library calls made directly, same inputs.

Both sides use the same loaded model objects and run interleaved (project, direct, project, …)
so that cache and CPU-frequency effects fall on both alike; each figure is a median.
"""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from synthesis.engines import audio, llm, models, mos, pipeline, stt, textnorm, tts
from synthesis.engines.settings import PipelineSettings


@dataclass
class StageTiming:
    stage: str
    project_s: float
    direct_s: float
    extra: str = ""

    @property
    def ratio(self) -> float:
        return self.project_s / self.direct_s if self.direct_s else float("nan")


def _interleaved(
    project: Callable[[], object], direct: Callable[[], object], repeat: int
) -> tuple[float, float]:
    project(), direct()  # one untimed call each: first-call costs are not what is compared
    mine, theirs = [], []
    for _ in range(repeat):
        for func, bucket in ((project, mine), (direct, theirs)):
            started = time.perf_counter()
            func()
            bucket.append(time.perf_counter() - started)
    return statistics.median(mine), statistics.median(theirs)


def _piper(config: PipelineSettings, style: dict):
    """The loaded Piper voice and the library's own SynthesisConfig for a style."""
    from piper import SynthesisConfig

    model_path, config_path = models.resolve_piper_voice(config.tts_voice)
    voice = tts.load_piper(str(model_path), str(config_path), config.tts_threads)
    keys = ("length_scale", "noise_scale", "noise_w_scale", "volume")
    return voice, SynthesisConfig(**{key: style[key] for key in keys})


def direct_tts(config: PipelineSettings, text: str, style: dict) -> np.ndarray:
    """Piper called directly on a loaded voice: the floor of the project's TTS stage."""
    voice, syn = _piper(config, style)
    return np.concatenate([c.audio_float_array for c in voice.synthesize(text, syn_config=syn)])


def direct_stt(whisper, audio_16k: np.ndarray, language: str = "en", beam_size: int = 1) -> str:
    """faster-whisper called directly: the floor of the project's STT stage."""
    segments, _ = whisper.transcribe(
        audio_16k, language=language, beam_size=beam_size, vad_filter=False, condition_on_previous_text=False
    )
    return " ".join(s.text.strip() for s in segments)


def direct_stt_pass(
    whisper, audio_16k: np.ndarray, language: str | None, *, beam_size: int = 1, window_s: int | None = None
) -> str:
    """The floor of one STT pass of a configuration: faster-whisper directly, or with a shorter window
    the project's own feature, encoder and decoder calls (stt.short_window_text: WhisperModel.transcribe
    pads every window to 30 s whatever its chunk_length, so there is no library call to set against it).
    """
    if window_s:
        return stt.short_window_text(
            whisper, audio_16k, language=language or "en", beam_size=beam_size, seconds=window_s
        )
    return direct_stt(whisper, audio_16k, language or "en", beam_size)


def direct_llm(
    model, config: PipelineSettings, prompt: str, max_tokens: int, temperature: float = 0.0
) -> str:
    """llama-cpp-python's streamed chat completion called directly: the floor of the LLM stage."""
    messages = [
        {"role": "system", "content": config.llm_system_prompt},
        {"role": "user", "content": prompt},
    ]
    kwargs = {"max_tokens": max_tokens, "temperature": temperature, "seed": config.llm_seed}
    return "".join(
        c["choices"][0]["delta"].get("content") or ""
        for c in model.create_chat_completion(messages=messages, stream=True, **kwargs)
    )


def time_tts(
    config: PipelineSettings, text: str, style: dict, repeat: int
) -> tuple[StageTiming, np.ndarray, int]:

    def direct():
        return direct_tts(config, text, style)

    mine, theirs = _interleaved(
        lambda: pipeline.speak(text, language="en", style=style, config=config), direct, repeat
    )
    result = pipeline.speak(text, language="en", style=style, config=config)
    seconds = len(result.audio) / result.sample_rate
    timing = StageTiming("TTS (Piper)", mine, theirs, f"RTF {mine / seconds:.3f} ({seconds:.2f} s audio)")
    return timing, result.audio, result.sample_rate


def time_stt(whisper, audio_16k: np.ndarray, repeat: int) -> StageTiming:
    def direct():
        return direct_stt(whisper, audio_16k)

    mine, theirs = _interleaved(lambda: stt.transcribe(whisper, audio_16k, language="en"), direct, repeat)
    seconds = len(audio_16k) / pipeline.STT_RATE
    return StageTiming("STT (faster-whisper)", mine, theirs, f"RTF {mine / seconds:.3f}")


def time_llm(model, config: PipelineSettings, prompt: str, max_tokens: int, repeat: int) -> StageTiming:
    kwargs = {"max_tokens": max_tokens, "temperature": 0.0, "seed": config.llm_seed}

    def direct():
        return direct_llm(model, config, prompt, max_tokens)

    def project():
        return llm.generate(model, system_prompt=config.llm_system_prompt, user_text=prompt, **kwargs)

    mine, theirs = _interleaved(project, direct, repeat)
    result = project()
    return StageTiming(
        "LLM (llama.cpp)", mine, theirs, f"{result.tokens} tokens, {result.tokens / mine:.1f} tokens/s"
    )


def time_dnsmos(scorer, audio_16k: np.ndarray, repeat: int) -> StageTiming:
    mine, theirs = _interleaved(
        lambda: mos.score_dnsmos(scorer, audio_16k), lambda: scorer(audio_16k, mos.SAMPLE_RATE, False), repeat
    )
    return StageTiming("DNSMOS", mine, theirs)


def time_item(
    config: PipelineSettings,
    loaded: pipeline.LoadedModels,
    text: str,
    style: dict,
    cache_dir: Path,
    repeat: int,
) -> StageTiming:
    """A whole synthesis-mode item: TTS, resample, ASR round trip, WER, DNSMOS, loudness."""
    import jiwer
    import pyloudnorm
    import soxr

    voice, syn = _piper(config, style)
    meter = pyloudnorm.Meter(voice.config.sample_rate)

    def direct():
        wav = np.concatenate([c.audio_float_array for c in voice.synthesize(text, syn_config=syn)])
        wav_16k = soxr.resample(wav, voice.config.sample_rate, pipeline.STT_RATE)
        segments, _ = loaded.whisper.transcribe(
            wav_16k, language="en", beam_size=1, vad_filter=False, condition_on_previous_text=False
        )
        heard = " ".join(s.text.strip() for s in segments)
        norm = textnorm.normalize
        jiwer.process_words(norm(text, "english"), norm(heard, "english") or "")
        loaded.dnsmos(np.clip(wav_16k, -1, 1), mos.SAMPLE_RATE, False)
        return meter.integrated_loudness(wav)

    def project():
        return pipeline.synthesize_item(
            text=text, language="en", style=style, config=config, cache_dir=cache_dir
        )

    mine, theirs = _interleaved(project, direct, repeat)
    return StageTiming("Synthesis item (all measurements)", mine, theirs)


def stage_table(
    config: PipelineSettings,
    cache_dir: Path,
    *,
    text: str,
    prompt: str,
    style: dict,
    repeat: int,
    llm_tokens: int,
) -> list[StageTiming]:
    """Load every default model once, then time each stage both ways."""
    loaded = pipeline.load_models(config, cache_dir, with_llm=True)
    tts_timing, wav, rate = time_tts(config, text, style, repeat)
    # Clipped once here so that the direct DNSMOS call accepts the same input as the project's.
    wav_16k = np.clip(audio.resample(wav, rate, pipeline.STT_RATE), -1.0, 1.0)
    return [
        tts_timing,
        time_stt(loaded.whisper, wav_16k, repeat),
        time_llm(loaded.llm, config, prompt, llm_tokens, repeat),
        time_dnsmos(loaded.dnsmos, wav_16k, repeat),
        time_item(config, loaded, text, style, cache_dir, repeat),
    ]


def conversation_latency(
    config: PipelineSettings,
    cache_dir: Path,
    *,
    prompts: list[str],
    style: dict,
    iterations: int,
    warmup: int,
    measurements: list[str],
) -> dict[str, list[float]]:
    """The named conversation latencies (ms) over many iterations, warm-up iterations dropped."""
    spoken = {
        p: pipeline.speak(p, language="en", style=pipeline.NEUTRAL_PROMPT_STYLE, config=config)
        for p in prompts
    }
    series: dict[str, list[float]] = {name: [] for name in measurements}
    for index in range(warmup + iterations):
        prompt = prompts[index % len(prompts)]
        result = pipeline.converse_item(
            prompt_text=prompt,
            prompt_audio=(spoken[prompt].audio, spoken[prompt].sample_rate),
            language="en",
            style=style,
            config=config,
            cache_dir=cache_dir,
        )
        if index >= warmup:
            for key, values in series.items():
                values.append(result.measurements[key])
    return series


def load_timings(config: PipelineSettings, cache_dir: Path) -> list[StageTiming]:
    """Model loads through the project loaders against the library constructors: the project's overhead.

    In this process, so the libraries are imported and the files cached: cold loads and the memory
    each model adds are measured in fresh processes by loadprobe (`manage.py benchmark_load`).
    """
    from faster_whisper import WhisperModel
    from llama_cpp import Llama
    from piper import PiperVoice

    voice, voice_json = (str(p) for p in models.resolve_piper_voice(config.tts_voice))
    whisper_dir = str(models.resolve_stt_model(config.stt_model, cache_dir))
    gguf = str(models.resolve_llm_model(config.llm_model))
    pairs = [
        (
            "Load Piper voice",
            lambda: tts.load_piper.__wrapped__(voice, voice_json, 1),
            lambda: PiperVoice.load(voice, voice_json),
        ),
        (
            "Load Whisper",
            lambda: stt.load_whisper.__wrapped__(whisper_dir, "int8", 1),
            lambda: WhisperModel(whisper_dir, device="cpu", compute_type="int8", cpu_threads=1),
        ),
        (
            "Load LLM",
            lambda: llm.load_llm.__wrapped__(gguf, config.llm_context_size, 1, 1234),
            lambda: Llama(
                model_path=gguf, n_ctx=config.llm_context_size, n_threads=1, seed=1234, verbose=False
            ),
        ),
    ]
    return [StageTiming(name, *_interleaved(mine, theirs, 3)) for name, mine, theirs in pairs]


def load_average() -> float:
    """The one-minute load average (/proc/loadavg)."""
    with open("/proc/loadavg", encoding="utf-8") as handle:
        return float(handle.read().split()[0])


def wait_for_quiet(max_load: float, *, poll_s: float = 20, timeout_s: float = 600, sleep=time.sleep) -> float:
    """Wait until the one-minute load is below `max_load` (at most `timeout_s`); return the last load."""
    waited = 0.0
    load = load_average()
    while load >= max_load and waited < timeout_s:
        sleep(poll_s)
        waited += poll_s
        load = load_average()
    return load


def dnsmos_parts(scorer, clips_16k: list[np.ndarray]) -> dict[str, float]:
    """Seconds spent in each part of DNSMOS over the clips, windowed as speechmos.DNSMOS.__call__ does.

    Features are the P.808 log-mel spectrogram of each 9.01 s window (the P.835 model takes raw audio).
    """
    from speechmos.dnsmos import INPUT_LENGTH

    parts = {"windows": 0.0, "features": 0.0, "p808": 0.0, "p835": 0.0}
    length = int(INPUT_LENGTH * mos.SAMPLE_RATE)
    for clip in clips_16k:
        tiled = np.clip(np.asarray(clip, dtype=np.float32), -1.0, 1.0)
        while len(tiled) < length:
            tiled = np.append(tiled, tiled)
        hops = int(np.floor(len(tiled) / mos.SAMPLE_RATE) - INPUT_LENGTH) + 1
        for index in range(hops):
            segment = tiled[index * mos.SAMPLE_RATE : index * mos.SAMPLE_RATE + length]
            if len(segment) < length:
                continue
            parts["windows"] += 1
            started = time.perf_counter()
            features = scorer.audio_melspec(audio=segment[:-160]).astype("float32")[np.newaxis]
            lapped = time.perf_counter()
            scorer.p808_onnx_sess.run(None, {"input_1": features})
            between = time.perf_counter()
            scorer.onnx_sess.run(None, {"input_1": segment.astype("float32")[np.newaxis]})
            ended = time.perf_counter()
            parts["features"] += lapped - started
            parts["p808"] += between - lapped
            parts["p835"] += ended - between
    return parts
