"""Speech to text with faster-whisper (CTranslate2 Whisper) on the CPU."""

import functools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from synthesis.engines import models

if TYPE_CHECKING:
    from faster_whisper import WhisperModel

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
    model: "WhisperModel", audio_16k: np.ndarray, *, language: str | None, beam_size: int = 1
) -> STTResult:
    """Transcribe 16 kHz mono audio; language None lets Whisper detect it."""
    language = base_language(language)
    if language and language != "en" and not model.model.is_multilingual:
        # faster-whisper would only log a warning and decode as English, producing nonsense.
        raise ValueError(f"this Whisper model is English-only and cannot transcribe language {language!r}")
    audio = np.asarray(audio_16k, dtype=np.float32)
    started = time.perf_counter()
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
