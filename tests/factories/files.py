"""The bytes of files tests upload or read back: WAV tones and noise, RIFF chunks, zip archives."""

import io
import zipfile
from functools import lru_cache

import numpy as np
import soundfile as sf


@lru_cache(maxsize=512)  # bytes: one copy per distinct tone serves every test
def tone_wav(
    seconds: float = 0.5, sample_rate: int = 16000, freq: float = 220.0, amplitude: float = 0.3
) -> bytes:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    buffer = io.BytesIO()
    sf.write(
        buffer,
        (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32),
        sample_rate,
        format="WAV",
        subtype="PCM_16",
    )
    return buffer.getvalue()


@lru_cache(maxsize=64)
def noise_wav(seconds: float = 1.0, sample_rate: int = 16000, amplitude: float = 0.2, seed: int = 0) -> bytes:
    """White noise: energy at every frequency up to the Nyquist rate, to measure a filter against."""
    noise = np.random.default_rng(seed).uniform(-amplitude, amplitude, int(seconds * sample_rate))
    buffer = io.BytesIO()
    sf.write(buffer, noise.astype(np.float32), sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def riff_chunks(data: bytes) -> list[bytes]:
    """The ids of a RIFF (WAV) file's chunks, in file order."""
    chunks, offset = [], 12
    while offset + 8 <= len(data):
        size = int.from_bytes(data[offset + 4 : offset + 8], "little")
        chunks.append(data[offset : offset + 4])
        offset += 8 + size + (size % 2)
    return chunks


def zip_bytes(files: dict[str, bytes | str]) -> bytes:
    """A zip archive holding files (name -> content)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()
