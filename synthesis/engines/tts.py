"""Text to speech: Piper (neural VITS on onnxruntime) and espeak-ng (formant synthesis via ctypes)."""

import ctypes
import functools
import json
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from synthesis.engines import models

if TYPE_CHECKING:
    from piper import PiperVoice

PIPER = "piper"
ESPEAK = "espeak-ng"
BACKENDS = (PIPER, ESPEAK)

# espeak-ng's C API constants (speak_lib.h).
_AUDIO_OUTPUT_SYNCHRONOUS = 2  # retrieval through the callback, espeak_Synth returns when done
_INITIALIZE_DONT_EXIT = 0x8000  # without it a missing data directory calls exit() on the process
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE = 1, 2, 3, 4
_EE_OK = 0
ESPEAK_DEFAULT_RATE = 175  # words per minute at length_scale 1.0
ESPEAK_MIN_RATE, ESPEAK_MAX_RATE = 80, 450

# espeak-ng keeps its voice, parameters and callback in C globals: one synthesis at a time.
_ESPEAK_LOCK = threading.Lock()
_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


@dataclass
class TTSResult:
    """Synthesised audio and the wall time it took."""

    audio: np.ndarray  # float32 mono in [-1, 1]
    sample_rate: int
    seconds: float  # processing wall time (time.perf_counter), loading excluded


@functools.lru_cache(maxsize=8)
def load_piper(model_path: str, config_path: str, threads: int) -> "PiperVoice":
    """Load a Piper voice once per process with an onnxruntime session limited to `threads`."""
    # Imported here so that importing this module (e.g. from the web process) stays cheap.
    import onnxruntime
    from piper import PiperVoice
    from piper.config import PiperConfig

    # PiperVoice.load builds its session with default options, so the voice is assembled from its
    # public dataclass fields instead, the same way load() does it.
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    with open(config_path, encoding="utf-8") as handle:
        config = PiperConfig.from_dict(json.load(handle))
    session = onnxruntime.InferenceSession(
        model_path, sess_options=options, providers=["CPUExecutionProvider"]
    )
    return PiperVoice(session=session, config=config)


def synthesize_piper(voice: "PiperVoice", text: str, style: dict) -> TTSResult:
    """Synthesise text with a Piper voice; style keys the voice does not use are ignored."""
    from piper import SynthesisConfig

    if not text.strip():
        raise ValueError("cannot synthesise empty text")
    config = SynthesisConfig(
        length_scale=style.get("length_scale"),
        noise_scale=style.get("noise_scale"),
        noise_w_scale=style.get("noise_w_scale"),
        volume=float(style.get("volume", 1.0)),
        speaker_id=style.get("speaker_id"),
    )
    started = time.perf_counter()
    chunks = [chunk.audio_float_array for chunk in voice.synthesize(text, syn_config=config)]
    seconds = time.perf_counter() - started
    if not chunks:
        raise ValueError(f"Piper produced no audio for the text {text!r}")
    audio = np.concatenate(chunks).astype(np.float32, copy=False)
    return TTSResult(audio=audio, sample_rate=voice.config.sample_rate, seconds=seconds)


class EspeakEngine:
    """The espeak-ng shared library from espeakng_loader, initialised for in-memory synthesis."""

    def __init__(self, library_path: str, data_path: str) -> None:
        self._lib = ctypes.CDLL(library_path)
        self._declare_signatures()
        self.sample_rate = self._lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), _INITIALIZE_DONT_EXIT
        )
        if self.sample_rate <= 0:
            raise RuntimeError(f"espeak-ng failed to initialise with data directory {data_path}")
        self._chunks: list[np.ndarray] = []
        # The ctypes callback object must outlive the library's pointer to it.
        self._callback = _SYNTH_CALLBACK(self._collect)
        self._lib.espeak_SetSynthCallback(self._callback)

    def _declare_signatures(self) -> None:
        """Give ctypes the C signatures so arguments are converted and checked."""
        lib = self._lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.POINTER(ctypes.c_uint),
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int

    def _collect(self, wav: "ctypes._Pointer", num_samples: int, events: int | None) -> int:
        """Synth callback: copy each block of int16 samples; returning 0 lets synthesis go on."""
        if wav and num_samples > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(num_samples,)).copy())
        return 0

    def speak(self, text: str, voice_name: str, parameters: dict[int, int]) -> np.ndarray:
        """Synthesise text with a voice and parameters; return float32 audio."""
        with _ESPEAK_LOCK:
            if self._lib.espeak_SetVoiceByName(voice_name.encode()) != _EE_OK:
                raise ValueError(
                    f"espeak-ng has no voice {voice_name!r} (use a language code like 'en', 'es')"
                )
            for parameter, value in parameters.items():
                self._lib.espeak_SetParameter(parameter, value, 0)
            self._chunks = []
            encoded = text.encode("utf-8")
            status = self._lib.espeak_Synth(
                encoded, len(encoded) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            chunks, self._chunks = self._chunks, []
        if status != _EE_OK:
            raise RuntimeError(f"espeak-ng failed to synthesise (error {status})")
        if not chunks:
            raise ValueError(f"espeak-ng produced no audio for the text {text!r}")
        return np.concatenate(chunks).astype(np.float32) / 32768.0


@functools.lru_cache(maxsize=1)
def load_espeak() -> EspeakEngine:
    """Load and initialise espeak-ng once per process."""
    import espeakng_loader

    return EspeakEngine(espeakng_loader.get_library_path(), espeakng_loader.get_data_path())


def espeak_parameters(style: dict) -> dict[int, int]:
    """Map a style to espeak-ng rate (words/min), pitch, range and volume."""
    length_scale = float(style.get("length_scale") or 1.0)
    rate = round(ESPEAK_DEFAULT_RATE / length_scale)
    return {
        _PARAM_RATE: min(max(rate, ESPEAK_MIN_RATE), ESPEAK_MAX_RATE),
        _PARAM_PITCH: min(max(int(style.get("espeak_pitch", 50)), 0), 99),
        _PARAM_RANGE: min(max(int(style.get("espeak_range", 50)), 0), 99),
        _PARAM_VOLUME: min(max(round(100 * float(style.get("volume", 1.0))), 0), 200),
    }


def synthesize_espeak(
    engine: EspeakEngine, text: str, language: str, style: dict, voice_name: str | None = None
) -> TTSResult:
    """Synthesise text with espeak-ng in a language (or an explicit espeak voice name such as 'es+f3')."""
    if not text.strip():
        raise ValueError("cannot synthesise empty text")
    # espeak-ng names voices in lower case ("en-us", "es-419").
    name = (voice_name or language).strip().lower()
    started = time.perf_counter()
    audio = engine.speak(text, name, espeak_parameters(style))
    seconds = time.perf_counter() - started
    return TTSResult(audio=audio, sample_rate=engine.sample_rate, seconds=seconds)


def synthesize(
    backend: str, voice: str, text: str, *, language: str, style: dict, threads: int = 1
) -> TTSResult:
    """Synthesise text with a backend ("piper" or "espeak-ng") and a voice, loading it once."""
    if backend == PIPER:
        model_path, config_path = models.resolve_piper_voice(voice)
        return synthesize_piper(load_piper(str(model_path), str(config_path), threads), text, style)
    if backend == ESPEAK:
        # For espeak-ng the voice is an espeak voice name; empty or "default" means the language's.
        voice_name = None if voice in ("", "default", ESPEAK) else voice
        return synthesize_espeak(load_espeak(), text, language, style, voice_name=voice_name)
    raise ValueError(f"unknown TTS backend {backend!r}: expected one of {', '.join(BACKENDS)}")
