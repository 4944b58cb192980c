"""Importing external samples (human references, other systems' output): a zip or folder plus a CSV manifest.

The manifest is a UTF-8 CSV named manifest.csv (or the only .csv file at the top level) with a header
row: file (required), system, text, style, origin (imported or reference), sentence_set and sentence
(the position of a sentence in that set, to link the clip to the sentence it says). Every file is
decoded and checked before anything is saved; an error names the manifest line. Archives are read
in memory and never extracted, and no manifest path may leave the archive or folder. An archive
with an entry that would unpack outside its folder, a symbolic link, a name twice, or more unpacked
bytes than SARAI_MAX_UPLOAD_BYTES allows (see synthesis.datasets.safe_zip_members) is refused whole.
"""

import csv
import io
import math
import posixpath
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import transaction

from annotations.models import new_token
from synthesis.datasets import ZIP_EXPANSION, safe_zip_members
from synthesis.engines import audio
from synthesis.importing import SentenceFileError, decode_utf8
from synthesis.models import Sample, Sentence, StylePreset

MANIFEST_NAME = "manifest.csv"
COLUMNS = {"file", "system", "text", "style", "origin", "sentence_set", "sentence"}
ORIGINS = {Sample.Origin.IMPORTED.value, Sample.Origin.REFERENCE.value}
DEFAULT_REFERENCE_SYSTEM = "human reference"


class SampleImportError(ValueError):
    """An archive, folder or manifest that cannot be imported; the message names the line."""


@dataclass(frozen=True)
class ManifestRow:
    line: int
    file: str
    system: str
    text: str
    style: str
    origin: str
    sentence: Sentence | None


@dataclass(frozen=True)
class _Decoded:
    row: ManifestRow
    wav: bytes
    duration_s: float
    sample_rate: int
    loudness_lufs: float


class _ZipSource:
    def __init__(self, data: bytes):
        try:
            self.archive = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, ValueError, EOFError) as exc:
            raise SampleImportError(f"The upload is not a readable zip archive: {exc}") from None
        limit = settings.SARAI_MAX_UPLOAD_BYTES * ZIP_EXPANSION
        self.members = safe_zip_members(self.archive, max_unpacked=limit, error=SampleImportError)

    def top_level_csvs(self) -> list[str]:
        return sorted(name for name in self.members if "/" not in name and name.lower().endswith(".csv"))

    def size(self, name: str) -> int | None:
        info = self.members.get(name)
        return None if info is None else info.file_size

    def read(self, name: str, limit: int) -> bytes:
        info = self.members[name]
        if info.file_size > limit:
            raise SampleImportError(f"{name!r} unpacks to more than {limit} bytes.")
        try:
            with self.archive.open(info) as handle:
                # Never more than the archive declares: the declared sizes are what was checked.
                data = handle.read(info.file_size + 1)
        except (
            zipfile.BadZipFile,
            zlib.error,
            RuntimeError,
            NotImplementedError,
            EOFError,
            ValueError,
        ) as exc:
            # Damaged (CRC/size mismatch, bad deflate stream), encrypted or unsupported members.
            raise SampleImportError(f"{name!r} cannot be read from the archive: {exc}") from None
        if len(data) != info.file_size:
            raise SampleImportError(f"{name!r} is not the size the archive declares; it may be damaged.")
        return data


class _FolderSource:
    def __init__(self, root: Path):
        self.root = root.resolve()
        if not self.root.is_dir():
            raise SampleImportError(f"{root} is not a folder.")

    def top_level_csvs(self) -> list[str]:
        return sorted(path.name for path in self.root.glob("*.csv") if path.is_file())

    def _path(self, name: str) -> Path | None:
        path = (self.root / name).resolve()
        # resolve() follows symbolic links: a link pointing outside the folder is refused too.
        return path if path.is_relative_to(self.root) and path.is_file() else None

    def size(self, name: str) -> int | None:
        path = self._path(name)
        return None if path is None else path.stat().st_size

    def read(self, name: str, limit: int) -> bytes:
        with self._path(name).open("rb") as handle:
            data = handle.read(limit + 1)
        if len(data) > limit:
            raise SampleImportError(f"{name!r} is larger than {limit} bytes.")
        return data


def import_samples(
    *,
    source: bytes | str | Path,
    system_label: str = "",
    origin: str = Sample.Origin.IMPORTED,
) -> list[Sample]:
    """Create one Sample per manifest line from a zip (bytes or path) or a folder; all or nothing."""
    if origin not in ORIGINS:
        raise SampleImportError(f"origin must be one of {', '.join(sorted(ORIGINS))}, not {origin!r}.")
    limit = settings.SARAI_MAX_UPLOAD_BYTES
    files = _open_source(source, limit)
    rows = parse_manifest(_read_manifest(files, limit), system_label=system_label, origin=origin)
    _check_files(files, rows, limit)
    decoded = [_decode(files, row, limit) for row in rows]
    return _save(decoded)


def _open_source(source: bytes | str | Path, limit: int):
    """Zip bytes, a zip file or a folder."""
    if not isinstance(source, bytes) and Path(source).is_dir():
        return _FolderSource(Path(source))
    size = len(source) if isinstance(source, bytes) else Path(source).stat().st_size
    if size > limit:
        raise SampleImportError(f"The archive is {size} bytes; the limit is {limit} bytes.")
    return _ZipSource(source if isinstance(source, bytes) else Path(source).read_bytes())


def _read_manifest(files, limit: int) -> str:
    candidates = files.top_level_csvs()
    name = MANIFEST_NAME if MANIFEST_NAME in candidates else None
    if name is None and len(candidates) == 1:
        name = candidates[0]
    if name is None:
        raise SampleImportError(
            f"No manifest: put a {MANIFEST_NAME} (a CSV with a 'file' column) at the top level."
        )
    try:
        return decode_utf8(files.read(name, limit))
    except SentenceFileError as exc:
        raise SampleImportError(f"{name}: {exc}") from None


def parse_manifest(
    text: str, *, system_label: str = "", origin: str = Sample.Origin.IMPORTED
) -> list[ManifestRow]:
    """Parse and check the manifest; raise SampleImportError naming the first bad line."""
    if "\x00" in text:
        raise SampleImportError("The manifest contains NUL bytes; it looks binary, not text.")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return _manifest_rows(reader, system_label, origin)
    except csv.Error as exc:  # e.g. a field over the csv module's limit of 131072 characters
        raise SampleImportError(f"Line {reader.line_num + 1}: {exc}.") from None


def _manifest_rows(reader: csv.DictReader, system_label: str, origin: str) -> list[ManifestRow]:
    header = {(name or "").strip().lower() for name in reader.fieldnames or []}
    if "file" not in header:
        raise SampleImportError("Line 1: the manifest header must have a 'file' column.")
    if header - COLUMNS:
        raise SampleImportError(f"Line 1: unknown manifest columns {', '.join(sorted(header - COLUMNS))}.")
    rows, seen = [], {}
    for raw in reader:
        if None in raw:
            raise SampleImportError(f"Line {reader.line_num} has more fields than the header.")
        row = _parse_row(reader.line_num, raw, system_label, origin)
        if row.file in seen:
            raise SampleImportError(
                f"Line {row.line}: {row.file!r} is listed already on line {seen[row.file]}."
            )
        seen[row.file] = row.line
        rows.append(row)
    if not rows:
        raise SampleImportError("The manifest lists no files.")
    return rows


def _parse_row(line: int, raw: dict, default_system: str, default_origin: str) -> ManifestRow:
    row = {(key or "").strip().lower(): (value or "").strip() for key, value in raw.items()}
    file = safe_member_name(row.get("file", ""), line)
    origin = row.get("origin") or default_origin
    if origin not in ORIGINS:
        raise SampleImportError(f"Line {line}: origin must be imported or reference, not {origin!r}.")
    system = row.get("system") or default_system
    if not system and origin == Sample.Origin.REFERENCE:
        system = DEFAULT_REFERENCE_SYSTEM
    if not system:
        raise SampleImportError(f"Line {line}: no system name (fill the 'system' column or give a default).")
    sentence = _sentence(line, row.get("sentence_set", ""), row.get("sentence", ""))
    text = row.get("text") or (sentence.text if sentence else "")
    return ManifestRow(line, file, system[:80], text, row.get("style", "")[:40], origin, sentence)


def safe_member_name(name: str, line: int) -> str:
    """A relative path inside the archive or folder; anything that could leave it is refused."""
    if not name:
        raise SampleImportError(f"Line {line}: the 'file' field is empty.")
    cleaned = posixpath.normpath(name.replace("\\", "/"))
    parts = cleaned.split("/")
    if cleaned.startswith("/") or ":" in parts[0] or ".." in parts or cleaned == ".":
        raise SampleImportError(f"Line {line}: {name!r} points outside the archive; use a relative path.")
    return cleaned


def _sentence(line: int, set_name: str, position: str) -> Sentence | None:
    if not set_name and not position:
        return None
    if not (set_name and position.isdigit()):
        raise SampleImportError(f"Line {line}: give both sentence_set and sentence (a line number).")
    sentence = Sentence.objects.filter(sentence_set__name=set_name, position=int(position)).first()
    if sentence is None:
        raise SampleImportError(f"Line {line}: sentence set {set_name!r} has no sentence {position}.")
    return sentence


def _check_files(files, rows: list[ManifestRow], limit: int) -> None:
    total = 0
    for row in rows:
        size = files.size(row.file)
        if size is None:
            raise SampleImportError(f"Line {row.line}: {row.file!r} is not in the archive or folder.")
        total += size
        # Checked before decoding: a zip bomb is refused by its declared sizes, unread.
        if total > limit:
            raise SampleImportError(f"Line {row.line}: the audio files add up to more than {limit} bytes.")


def _decode(files, row: ManifestRow, limit: int) -> _Decoded:
    try:
        data, sample_rate = audio.read_audio(files.read(row.file, limit))
    except audio.AudioDecodeError as exc:
        raise SampleImportError(f"Line {row.line}: {row.file!r}: {exc}") from None
    loudness = audio.integrated_loudness(data, sample_rate)
    if not math.isfinite(loudness):
        raise SampleImportError(f"Line {row.line}: {row.file!r} is silent.")
    # Stored as 16-bit mono WAV like synthesised samples; the original file's metadata is dropped.
    return _Decoded(row, audio.wav_bytes(data, sample_rate), len(data) / sample_rate, sample_rate, loudness)


def _save(decoded: list[_Decoded]) -> list[Sample]:
    styles = {style.name: style for style in StylePreset.objects.all()}
    samples = []
    try:
        for item in decoded:
            row = item.row
            sample = Sample(
                origin=row.origin,
                system_label=row.system,
                style_label=row.style,
                style=styles.get(row.style),
                sentence=row.sentence,
                text=row.text,
                source_name=row.file[:300],
                duration_s=item.duration_s,
                sample_rate=item.sample_rate,
                loudness_lufs=item.loudness_lufs,
            )
            sample.audio.save(f"{new_token()}.wav", ContentFile(item.wav), save=False)
            samples.append(sample)
        with transaction.atomic():
            return Sample.objects.bulk_create(samples)
    except BaseException:
        for sample in samples:
            sample.audio.delete(save=False)
        raise


def summary(samples: list[Sample]) -> str:
    """'Imported 2 samples (sys-a, sys-b)'."""
    systems = ", ".join(sorted({sample.system_label for sample in samples}))
    noun = "sample" if len(samples) == 1 else "samples"
    return f"Imported {len(samples)} {noun} ({systems})"


def report(samples: list[Sample], *, limit: int) -> str:
    """The summary and the id and file name of each new sample, the first limit of them."""
    named = ", ".join(f"id {sample.pk} {sample.source_name}" for sample in samples[:limit])
    more = f" and {len(samples) - limit} more" if len(samples) > limit else ""
    return f"{summary(samples)}: {named}{more}."
