"""Read, write, resample and loudness-match mono audio held as float32 arrays in [-1, 1]."""

import io
import math
import warnings
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyloudnorm
import soundfile
import soxr
from scipy import signal

# BS.1770 measures loudness over 400 ms blocks; pyloudnorm refuses anything shorter.
LOUDNESS_BLOCK_SECONDS = 0.4
# Limiter: samples above the knee are bent smoothly towards the ceiling, never past it.
LIMITER_KNEE = 0.8
LIMITER_CEILING = 0.99
LOUDNESS_TOLERANCE_LU = 0.1
MAX_GAIN_PASSES = 4
# The MUSHRA anchor (ITU-R BS.1534): the reference low-passed at 3.5 kHz. A 16th-order Butterworth
# run forwards and backwards has no phase shift, is 6 dB down at the cut-off and more than 35 dB down
# at 4 kHz at sample rates up to 48 kHz (over 50 dB from 4.5 kHz).
ANCHOR_CUTOFF_HZ = 3500.0
LOW_PASS_ORDER = 16


class AudioDecodeError(Exception):
    """Audio could not be decoded, or decoded to something unusable."""


def read_audio(source: str | Path | bytes | BinaryIO) -> tuple[np.ndarray, int]:
    """Decode audio to float32 mono in [-1, 1], averaging channels; return (audio, sample_rate)."""
    if isinstance(source, (bytes, bytearray)):
        source = io.BytesIO(source)
    try:
        data, sample_rate = soundfile.read(source, dtype="float32", always_2d=True)
    except (soundfile.SoundFileError, RuntimeError, ValueError, TypeError, OSError) as error:
        raise AudioDecodeError(f"file is not readable audio: {error}") from error
    audio = data.mean(axis=1, dtype=np.float32)
    if audio.size == 0:
        raise AudioDecodeError("audio is empty")
    if not np.all(np.isfinite(audio)):
        raise AudioDecodeError("audio contains NaN or infinite samples")
    # Float WAV files may hold samples beyond full scale; everything downstream assumes [-1, 1].
    return np.clip(audio, -1.0, 1.0), int(sample_rate)


def resample(audio: np.ndarray, sr_from: int, sr_to: int) -> np.ndarray:
    """Resample mono audio with soxr's high-quality filter."""
    if sr_from <= 0 or sr_to <= 0:
        raise ValueError(f"sample rates must be positive, got {sr_from} -> {sr_to}")
    audio = np.asarray(audio, dtype=np.float32)
    if sr_from == sr_to:
        return audio.copy()
    return soxr.resample(audio, sr_from, sr_to, quality="HQ").astype(np.float32, copy=False)


def write_wav(target: str | Path | BinaryIO, audio: np.ndarray, sample_rate: int) -> None:
    """Write mono 16-bit PCM WAV with no metadata chunks."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio as a 1-D array, got shape {audio.shape}")
    # libsndfile wraps around instead of clipping when a float sample exceeds full scale.
    audio = np.clip(audio, -1.0, 1.0)
    soundfile.write(target, audio, sample_rate, subtype="PCM_16", format="WAV")


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """Return mono 16-bit PCM WAV file contents."""
    buffer = io.BytesIO()
    write_wav(buffer, audio, sample_rate)
    return buffer.getvalue()


def integrated_loudness(audio: np.ndarray, sample_rate: int) -> float:
    """Return ITU-R BS.1770 integrated loudness in LUFS; digital silence gives float('-inf')."""
    audio = np.asarray(audio, dtype=np.float64)
    if audio.size == 0:
        raise AudioDecodeError("audio is empty")
    block = int(math.ceil(LOUDNESS_BLOCK_SECONDS * sample_rate))
    if audio.size <= block:
        # Tiling keeps the clip's mean square (padding with silence would lower it), so a short
        # word measures as loud as it would sound repeated.
        audio = np.tile(audio, block // audio.size + 1)
    if not np.any(audio):
        # Silence has no loudness; -inf is the honest figure and callers must not gain-match it.
        return float("-inf")
    with warnings.catch_warnings():
        # Near-silent clips make every block fall under the -70 LUFS gate; numpy warns on log10(0).
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(pyloudnorm.Meter(sample_rate).integrated_loudness(audio))


def match_loudness(audio: np.ndarray, sample_rate: int, target_lufs: float) -> np.ndarray:
    """Gain audio to target_lufs, bending peaks under the ceiling with a soft limiter."""
    return loudness_matched(audio, sample_rate, target_lufs)[0]


def loudness_matched(audio: np.ndarray, sample_rate: int, target_lufs: float) -> tuple[np.ndarray, float]:
    """match_loudness's audio and its integrated loudness, measured once (the last gain pass's)."""
    # Scaling the whole clip down to keep peaks under full scale would miss the target, so peaks
    # are limited instead; the limiter only touches the rare samples above the knee, and make-up
    # gain passes bring the loudness back to within LOUDNESS_TOLERANCE_LU of the target.
    audio = np.asarray(audio, dtype=np.float32)
    loudness = integrated_loudness(audio, sample_rate)
    if not math.isfinite(loudness):
        raise AudioDecodeError("audio is silent: its loudness cannot be matched to a target")
    gain_db = target_lufs - loudness
    for _ in range(MAX_GAIN_PASSES):
        result = soft_limit(audio * np.float32(10 ** (gain_db / 20)))
        loudness = integrated_loudness(result, sample_rate)
        error_lu = target_lufs - loudness
        if abs(error_lu) <= LOUDNESS_TOLERANCE_LU:
            break
        gain_db += error_lu
    return result, loudness


def low_pass(audio: np.ndarray, sample_rate: int, cutoff_hz: float = ANCHOR_CUTOFF_HZ) -> np.ndarray:
    """Zero-phase low-pass of mono audio; unchanged when the cut-off is at or above the Nyquist rate."""
    audio = np.asarray(audio, dtype=np.float32)
    if cutoff_hz >= sample_rate / 2:
        return audio.copy()
    sos = signal.butter(LOW_PASS_ORDER, cutoff_hz, fs=sample_rate, output="sos")
    try:
        filtered = signal.sosfiltfilt(sos, audio.astype(np.float64))
    except ValueError as error:  # shorter than the filter's padding
        raise AudioDecodeError(f"audio of {audio.size} samples is too short to low-pass") from error
    return filtered.astype(np.float32)


def soft_limit(audio: np.ndarray, knee: float = LIMITER_KNEE, ceiling: float = LIMITER_CEILING) -> np.ndarray:
    """Leave samples under the knee alone and map larger ones smoothly into (knee, ceiling)."""
    magnitude = np.abs(audio)
    over = magnitude > knee
    if not np.any(over):
        return audio.astype(np.float32, copy=False)
    span = ceiling - knee
    # tanh has slope 1 at 0, so the curve joins the linear part without a kink (no added click).
    bent = knee + span * np.tanh((magnitude[over] - knee) / span)
    result = audio.astype(np.float32, copy=True)
    result[over] = np.sign(audio[over]) * bent
    return result


def read_compressed_audio(data: bytes) -> tuple[np.ndarray, int]:
    """Decode any file FFmpeg knows (MP3, AAC, Opus...) with PyAV to float32 mono; return (audio, rate)."""
    import av  # noqa: PLC0415 - PyAV is only needed for the formats libsndfile lacks

    try:
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.audio[0]
            resampler = av.AudioResampler(format="flt", layout="mono")
            chunks = [
                out.to_ndarray().reshape(-1)
                for frame in container.decode(stream)
                for out in resampler.resample(frame)
            ]
            chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
            sample_rate = stream.rate or stream.codec_context.sample_rate
    except (av.FFmpegError, IndexError, ValueError, OSError) as error:
        raise AudioDecodeError(f"file is not readable audio: {error}") from error
    audio = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if audio.size == 0:
        raise AudioDecodeError("audio is empty")
    if not np.all(np.isfinite(audio)):
        raise AudioDecodeError("audio contains NaN or infinite samples")
    return np.clip(audio, -1.0, 1.0), int(sample_rate)


def read_any_audio(data: bytes) -> tuple[np.ndarray, int]:
    """Decode WAV/FLAC/OGG with libsndfile, anything else (MP3...) with PyAV; raise AudioDecodeError."""
    try:
        return read_audio(data)
    except AudioDecodeError as error:
        if str(error) == "audio is empty" or "NaN" in str(error):
            raise
    return read_compressed_audio(data)


# Silence cut from the ends of a TTS chunk: quieter than this below the chunk's loudest frame (librosa's
# own default), with this much kept before the first sound and after the last so no onset is clipped.
TRIM_TOP_DB = 40.0
TRIM_KEEP_MS = 10.0


def trim_silence(audio: np.ndarray, sample_rate: int, *, start: bool = True, end: bool = True) -> np.ndarray:
    """The audio without its leading and/or trailing silence (librosa.effects.trim on frames of 512
    samples, hop 128), keeping TRIM_KEEP_MS beside the sound; all-silent audio comes back unchanged."""
    import librosa  # imported here: the web process never trims

    samples = np.asarray(audio, dtype=np.float32)
    if samples.size == 0 or not np.any(samples):
        return samples
    _, (first, last) = librosa.effects.trim(samples, top_db=TRIM_TOP_DB, frame_length=512, hop_length=128)
    keep = round(TRIM_KEEP_MS * sample_rate / 1000)
    begin = max(first - keep, 0) if start else 0
    stop = min(last + keep, samples.size) if end else samples.size
    return samples[begin:stop]
