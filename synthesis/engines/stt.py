"""Speech to text with faster-whisper (CTranslate2 Whisper) on the CPU."""

import functools
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from synthesis.engines import models

if TYPE_CHECKING:
    from faster_whisper import WhisperModel
    from faster_whisper.feature_extractor import FeatureExtractor

SAMPLE_RATE = 16000


@dataclass
class STTResult:
    """A transcript, the wall time it took and the language it was decoded in."""

    text: str
    seconds: float  # processing wall time (time.perf_counter), loading excluded
    language: str


@functools.lru_cache(maxsize=4)
def load_whisper(model_dir: str, compute_type: str = "int8", threads: int = 1) -> "WhisperModel":
    """Load a CTranslate2 Whisper directory once per process, never touching the hub."""
    # huggingface_hub reads HF_HUB_OFFLINE when first imported, so it is set before the import.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from faster_whisper import WhisperModel

    # A name instead of a directory would make faster-whisper download it; refuse that here.
    directory = models.check_ct2_whisper_dir(Path(model_dir))
    return WhisperModel(
        str(directory),
        device="cpu",
        compute_type=compute_type,
        cpu_threads=threads,
        num_workers=1,
        local_files_only=True,
    )


def base_language(language: str | None) -> str | None:
    """Reduce a language tag such as 'es-MX' to Whisper's base code 'es'."""
    if not language:
        return None
    return language.replace("_", "-").split("-")[0].lower()


def transcribe(
    model: "WhisperModel",
    audio_16k: np.ndarray,
    *,
    language: str | None,
    beam_size: int = 1,
    chunk_length: int | None = None,
) -> STTResult:
    """Transcribe 16 kHz mono audio; language None lets Whisper detect it.

    faster-whisper pads every pass to a 30-second window, so a pass costs a full encoder run
    whatever the audio's length; `chunk_length` (seconds) shortens that window (short_window_text).
    """
    language = base_language(language)
    if language and language != "en" and not model.model.is_multilingual:
        # faster-whisper would only log a warning and decode as English, producing nonsense.
        raise ValueError(f"this Whisper model is English-only and cannot transcribe language {language!r}")
    audio = np.asarray(audio_16k, dtype=np.float32)
    started = time.perf_counter()
    if chunk_length and (language or not model.model.is_multilingual):
        text = short_window_text(
            model, audio, language=language or "en", beam_size=beam_size, seconds=chunk_length
        )
        return STTResult(text=text, seconds=time.perf_counter() - started, language=language or "en")
    segments, info = model.transcribe(
        audio,
        language=language,
        beam_size=beam_size,
        vad_filter=False,
        condition_on_previous_text=False,
    )
    # transcribe() returns a lazy generator: decoding happens while it is consumed.
    text = " ".join(segment.text.strip() for segment in segments).strip()
    seconds = time.perf_counter() - started
    return STTResult(text=text, seconds=seconds, language=info.language)


# Silence a fitted window keeps after the audio. Whisper base decoding a window that ends soon after
# the speech repeats itself instead of ending (on 30 Harvard prompts, about 3 s each: WER 62 % with
# no margin, 37 % with 2 s, 23 % with 3 s, 12 % with 4 s against 12-14 % with a 10 s window;
# docs/benchmarks.md).
FIT_MARGIN_S = 4


def fitted_window_s(samples: int, cap_s: int | None) -> int:
    """The encoder window, in whole seconds, that holds `samples` of 16 kHz audio and FIT_MARGIN_S
    after it, at most `cap_s` (None: Whisper's 30 s). Longer audio is cut into consecutive windows
    (short_window_text)."""
    cap = cap_s or 30
    return max(1, min(math.ceil(samples / SAMPLE_RATE) + FIT_MARGIN_S, cap))


def window_starts(frames: int, window: int) -> range:
    """The first feature frame of each encoder window over `frames` frames: together they cover every
    frame but the extractor's one frame of padding at the end."""
    return range(0, max(frames - 1, 1), window)


@functools.lru_cache(maxsize=32)
def _window_features(model: "WhisperModel", seconds: int) -> "FeatureExtractor":
    """A feature extractor of the model's kind for a `seconds` window, apart from the model's own."""
    from faster_whisper.feature_extractor import FeatureExtractor

    return FeatureExtractor(**{**model.feat_kwargs, "chunk_length": seconds})


def short_window_text(
    model: "WhisperModel", audio_16k: np.ndarray, *, language: str, beam_size: int, seconds: int
) -> str:
    """Greedy or beam decoding of the audio in encoder windows of `seconds` instead of 30.

    WhisperModel.transcribe's own chunk_length only moves its seek step: every window is still
    padded to 3000 frames before the encoder (and the setting stays on the shared feature
    extractor). The encoder's cost grows with its input, so the windows here are padded to their
    own length; audio longer than a window is cut into consecutive windows.
    """
    from faster_whisper.tokenizer import Tokenizer
    from faster_whisper.transcribe import get_suppressed_tokens

    extractor = _window_features(model, seconds)
    features = extractor(audio_16k)
    frames = extractor.nb_max_frames
    tokenizer = Tokenizer(
        model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language=language
    )
    prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
    suppress = get_suppressed_tokens(tokenizer, [-1])
    texts = []
    for seek in window_starts(features.shape[-1], frames):
        window = features[:, seek : seek + frames]
        window = np.pad(window, ((0, 0), (0, frames - window.shape[-1])))
        result = model.model.generate(
            model.encode(window),
            [prompt],
            beam_size=beam_size,
            # Far above speech's 3-5 tokens a second: stops a window cut mid-word from looping.
            max_length=min(model.max_length, len(prompt) + 12 * seconds),
            suppress_blank=True,
            suppress_tokens=suppress,
        )[0]
        texts.append(tokenizer.decode(result.sequences_ids[0]).strip())
    return " ".join(text for text in texts if text)
