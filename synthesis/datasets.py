"""Importing speech datasets: a folder or zip in Common Voice layout, or with a CSV manifest.

Common Voice layout: a TSV (validated.tsv, else test.tsv, dev.tsv, train.tsv, else the only .tsv)
with a header naming at least `path` and `sentence`, optionally `locale`; the clips in a clips/
subfolder or beside the TSV. CSV manifest: a .csv with a header `file,transcript[,language]`.
Either may sit at the top level or inside one folder (as archives usually unpack). TSVs are read
as Common Voice writes them, tab-separated with no quoting; both files hold one row per line.

Every row is checked and a bad one (not UTF-8, missing file, undecodable, empty or silent audio,
empty transcript, no language) is skipped and listed in the report with its line; an import
without a good row is refused and saves nothing. Encoding is checked line by line, so a Latin-1
file loses exactly its lines with accented letters, each listed, with a hint to save it as UTF-8.
A zip with an entry that would unpack outside its folder, a symbolic link, a name twice, or more
unpacked bytes than ZIP_EXPANSION times SARAI_MAX_UPLOAD_BYTES is refused whole, before any read.

Subset (`limit`): the rows that pass the cheap checks are shuffled with
numpy.random.default_rng(seed).permutation; their audio is decoded in that order until `limit`
decode, and those are kept, sorted by line. The same files and seed give the same subset; without
a seed one is drawn and stored. Rows never reached are not decoded, so not reported.
"""

import csv
import hashlib
import io
import posixpath
import secrets
import zipfile
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from synthesis.engines import audio
from synthesis.importing import is_language_tag
from synthesis.models import SpeechDataset, Utterance, utterance_upload_to

TSV_PREFERENCE = ["validated.tsv", "test.tsv", "dev.tsv", "train.tsv"]
# Audio barely compresses, so an upload that unpacks to more than this many times its limit is a bomb.
ZIP_EXPANSION = 4
NOT_UTF8_HINT = (
    "Some lines are not valid UTF-8 (Latin-1 or Windows-1252, perhaps): save the file as UTF-8 "
    "and import it again to keep them."
)


class DatasetImportError(ValueError):
    """A folder, archive or listing that cannot be imported at all."""


@dataclass(frozen=True)
class Row:
    line: int
    file: str
    transcript: str
    language: str


@dataclass(frozen=True)
class Skipped:
    line: int
    file: str
    reason: str


@dataclass(frozen=True)
class Listing:
    name: str
    kind: str  # "Common Voice TSV" or "CSV manifest"
    rows: list[Row]
    skipped: list[Skipped]


def parse_listing(data: bytes, *, name: str, default_language: str | None) -> Listing:
    """Parse a TSV or CSV listing into good rows and skipped ones; raise only for a bad header."""
    is_tsv = name.lower().endswith(".tsv")
    lines = data.split(b"\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise DatasetImportError(f"{name} is empty.")
    try:
        header = [field.strip().lower() for field in _split(_decode_line(lines[0], 1, name), is_tsv)]
    except csv.Error as exc:
        raise DatasetImportError(f"{name} line 1 (the header): {exc}.") from None
    file_col, text_col = ("path", "sentence") if is_tsv else ("file", "transcript")
    for column in (file_col, text_col):
        if column not in header:
            raise DatasetImportError(f"{name} line 1: the header has no {column!r} column.")
    language_col = next((c for c in ("locale", "language") if c in header), None)
    if language_col is None and not default_language:
        raise DatasetImportError(f"{name} names no language per row: give the dataset's language.")
    rows, skipped = [], []
    for number, raw in enumerate(lines[1:], start=2):
        try:
            line = raw.decode("utf-8").removesuffix("\r")
        except UnicodeDecodeError as exc:
            reason = f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
            skipped.append(Skipped(number, "", reason))
            continue
        if not line.strip():
            skipped.append(Skipped(number, "", "empty line"))
            continue
        try:
            fields = _split(line, is_tsv)
        except csv.Error as exc:  # a lone carriage return, a field over the csv module's limit
            reason = "a line break inside an unquoted field" if "new-line" in str(exc) else str(exc)
            skipped.append(Skipped(number, "", reason))
            continue
        if len(fields) != len(header):
            skipped.append(Skipped(number, "", f"{len(fields)} fields where the header has {len(header)}"))
            continue
        cells = dict(zip(header, (field.strip() for field in fields), strict=True))
        result = _check_row(
            number, cells[file_col], cells[text_col], cells.get(language_col, ""), default_language
        )
        (skipped if isinstance(result, Skipped) else rows).append(result)
    kind = "Common Voice TSV" if is_tsv else "CSV manifest"
    return Listing(name=name, kind=kind, rows=rows, skipped=skipped)


def _decode_line(raw: bytes, number: int, name: str) -> str:
    try:
        return raw.decode("utf-8-sig").removesuffix("\r")
    except UnicodeDecodeError:
        raise DatasetImportError(f"{name} line {number} (the header) is not valid UTF-8.") from None


def _split(line: str, is_tsv: bool) -> list[str]:
    # Common Voice writes its TSVs without quoting: a quote mark in a sentence is just text.
    return line.split("\t") if is_tsv else next(csv.reader([line]))


def _check_row(number: int, file: str, transcript: str, language: str, default: str | None) -> Row | Skipped:
    if not file:
        return Skipped(number, "", "no file named")
    cleaned = posixpath.normpath(file.replace("\\", "/"))
    parts = cleaned.split("/")
    if cleaned.startswith("/") or ":" in parts[0] or ".." in parts:
        return Skipped(number, file, "the file name points outside the folder")
    if not transcript:
        return Skipped(number, file, "empty transcript")
    if "\x00" in file + transcript + language:
        return Skipped(number, file, "a NUL character (the file looks binary, not text)")
    language = language or default or ""
    if not language:
        return Skipped(number, file, "no language (empty locale and no default given)")
    if not is_language_tag(language):
        return Skipped(number, file, f"{language!r} is not a language code such as es or en-US")
    return Row(number, cleaned, transcript, language)


class _Folder:
    def __init__(self, root: Path):
        self.root = root.resolve()
        if not self.root.is_dir():
            raise DatasetImportError(f"{root} is not a folder.")

    def names(self) -> list[str]:
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.rglob("*") if p.is_file())

    def size(self, name: str) -> int | None:
        path = (self.root / name).resolve()
        # resolve() follows symbolic links: a link pointing outside the folder is refused too.
        return path.stat().st_size if path.is_relative_to(self.root) and path.is_file() else None

    def read(self, name: str) -> bytes:
        return (self.root / name).read_bytes()


def unsafe_entry(info: zipfile.ZipInfo, seen: set[str]) -> str | None:
    """Why an archive entry is refused, or None: one that would unpack outside the folder, a
    symbolic link, or a second entry of the same name (which one an unpacker keeps is a guess)."""
    name = info.filename
    if not name:
        return "an entry has no name"
    cleaned = posixpath.normpath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or ":" in name.split("/")[0] or ".." in cleaned.split("/"):
        return f"the entry {name!r} points outside the archive's folder"
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        return f"the entry {name!r} is a symbolic link"
    if cleaned in seen:
        return f"the entry {name!r} is in the archive twice"
    seen.add(cleaned)
    return None


def safe_zip_members(archive: zipfile.ZipFile, *, max_unpacked: int, error: type[Exception]) -> dict:
    """The archive's files by name, once every entry is checked; else error naming the entry.

    The sizes the archive declares are added up before anything is read: a zip bomb is refused
    unread, and each read then stops at the declared size.
    """
    members, seen, unpacked = {}, set(), 0
    for info in archive.infolist():
        reason = unsafe_entry(info, seen)
        if reason:
            raise error(f"Refused: {reason}; nothing was imported.")
        unpacked += info.file_size
        if unpacked > max_unpacked:
            raise error(f"The archive unpacks to more than {max_unpacked} bytes; nothing was imported.")
        if not info.is_dir():
            members[info.filename] = info
    return members


class _Zip:
    def __init__(self, data: bytes):
        try:
            self.archive = zipfile.ZipFile(io.BytesIO(data))
        except (zipfile.BadZipFile, ValueError, EOFError) as exc:
            raise DatasetImportError(f"The upload is not a readable zip archive: {exc}") from None
        limit = settings.SARAI_MAX_UPLOAD_BYTES * ZIP_EXPANSION
        self.members = safe_zip_members(self.archive, max_unpacked=limit, error=DatasetImportError)

    def names(self) -> list[str]:
        return sorted(self.members)

    def size(self, name: str) -> int | None:
        info = self.members.get(name)
        return None if info is None else info.file_size

    def read(self, name: str) -> bytes:
        info = self.members[name]
        with self.archive.open(info) as handle:
            data = handle.read(info.file_size + 1)
        if len(data) != info.file_size:
            raise zipfile.BadZipFile("the member is not the size the archive declares")
        return data


def find_listing(names: list[str]) -> str:
    """The listing to import: top level first, else inside the single folder that holds listings."""
    for depth in range(3):
        level = [n for n in names if n.count("/") == depth and n.lower().endswith((".tsv", ".csv"))]
        folders = {posixpath.dirname(n) for n in level}
        if len(folders) > 1:
            raise DatasetImportError(
                f"Listings in several folders ({', '.join(sorted(folders))}): import one."
            )
        by_base = {posixpath.basename(n).lower(): n for n in level}
        for preferred in TSV_PREFERENCE:
            if preferred in by_base:
                return by_base[preferred]
        if len(level) == 1:
            return level[0]
        if level:
            raise DatasetImportError(
                f"Several listings ({', '.join(sorted(level))}) and none called {', '.join(TSV_PREFERENCE)}."
            )
    raise DatasetImportError("No listing found: a Common Voice .tsv (path, sentence) or a .csv manifest.")


@dataclass(frozen=True)
class _Clip:
    row: Row
    stored_name: str
    sha256: str
    duration_s: float
    sample_rate: int


def import_dataset(
    *,
    name: str,
    folder: str | Path | None = None,
    archive: bytes | None = None,
    limit: int | None = None,
    seed: int | None = None,
    language: str | None = None,
    description: str = "",
) -> SpeechDataset:
    """Import a folder (or zip bytes) as a dataset; bad rows are skipped and listed in its report."""
    if SpeechDataset.objects.filter(name=name).exists():
        raise DatasetImportError(f"A speech dataset named {name!r} exists already.")
    if limit is not None and limit < 1:
        raise DatasetImportError("The subset size must be at least 1.")
    if seed is not None and limit is None:
        raise DatasetImportError("A seed only chooses a subset: give the subset size too.")
    source = _open(folder, archive)
    listing_name = find_listing(source.names())
    listing = parse_listing(_read_listing(source, listing_name), name=listing_name, default_language=language)
    found, skipped = _locate_clips(source, listing)
    if limit is not None and seed is None:
        seed = secrets.randbits(32)
    order = np.random.default_rng(seed).permutation(len(found)) if limit is not None else range(len(found))
    new_files: list[str] = []
    try:
        clips = _decode_clips(
            source, [found[i] for i in order], limit, skipped, new_files, archive is not None
        )
        if not clips:
            raise DatasetImportError(_refusal(listing, skipped))
        clips.sort(key=lambda clip: clip.row.line)
        report = _report(listing, skipped, imported=len(clips))
        with transaction.atomic():
            dataset = SpeechDataset.objects.create(
                name=name,
                description=description,
                language=language or Counter(c.row.language for c in clips).most_common(1)[0][0],
                source=f"{listing.kind} {listing.name}",
                limit=limit,
                seed=seed,
                import_report=report,
            )
            Utterance.objects.bulk_create(_utterance(dataset, clip) for clip in clips)
    except BaseException:
        for stored in new_files:
            default_storage.delete(stored)
        raise
    return dataset


def _open(folder: str | Path | None, archive: bytes | None) -> "_Folder | _Zip":
    if (folder is None) == (archive is None):
        raise DatasetImportError("Give either a folder or a zip archive.")
    if archive is None:
        return _Folder(Path(folder))
    if len(archive) > settings.SARAI_MAX_UPLOAD_BYTES:
        raise DatasetImportError(
            f"The archive is {len(archive)} bytes; the limit is {settings.SARAI_MAX_UPLOAD_BYTES} bytes."
        )
    return _Zip(archive)


def _read_listing(source, name: str) -> bytes:
    if source.size(name) > settings.SARAI_MAX_UPLOAD_BYTES:
        raise DatasetImportError(f"{name} is larger than {settings.SARAI_MAX_UPLOAD_BYTES} bytes.")
    return source.read(name)


def _locate_clips(source, listing: Listing) -> tuple[list[tuple[Row, str]], list[Skipped]]:
    """Pair each row with its clip (clips/ first, then beside the listing); list rows without one."""
    base = posixpath.dirname(listing.name)
    found, skipped = [], list(listing.skipped)
    for row in listing.rows:
        paths = [posixpath.join(base, "clips", row.file), posixpath.join(base, row.file)]
        path = next((p for p in paths if source.size(p) is not None), None)
        if path is None:
            skipped.append(
                Skipped(row.line, row.file, "file not found (looked in clips/ and beside the listing)")
            )
        else:
            found.append((row, path))
    return found, skipped


def _decode_clips(source, ordered, limit, skipped, new_files, from_zip: bool) -> list[_Clip]:
    clips: list[_Clip] = []
    stored: dict[str, str] = {}
    unpacked, max_unpacked = 0, settings.SARAI_MAX_UPLOAD_BYTES * ZIP_EXPANSION
    for row, path in ordered:
        if limit is not None and len(clips) >= limit:
            break
        size = source.size(path)
        unpacked += size
        if from_zip and unpacked > max_unpacked:
            raise DatasetImportError(f"The archive unpacks to more than {max_unpacked} bytes.")
        if size > settings.SARAI_MAX_UPLOAD_BYTES:
            skipped.append(
                Skipped(row.line, row.file, f"larger than {settings.SARAI_MAX_UPLOAD_BYTES} bytes")
            )
            continue
        try:
            data = source.read(path)
            samples, sample_rate = audio.read_any_audio(data)
        except (audio.AudioDecodeError, zipfile.BadZipFile, zlib.error, RuntimeError, OSError) as exc:
            skipped.append(Skipped(row.line, row.file, str(exc)))
            continue
        if not np.any(samples):
            skipped.append(Skipped(row.line, row.file, "audio is silent (every sample is zero)"))
            continue
        digest = hashlib.sha256(data).hexdigest()
        if digest not in stored:
            stored[digest] = _store(digest, path, data, new_files)
        clips.append(_Clip(row, stored[digest], digest, len(samples) / sample_rate, sample_rate))
    return clips


def _store(digest: str, path: str, data: bytes, new_files: list[str]) -> str:
    """The stored name for these bytes: an existing utterance's file, or a new one named by the hash."""
    existing = Utterance.objects.filter(sha256=digest).values_list("audio", flat=True).first()
    if existing:
        return existing
    name = utterance_upload_to(Utterance(sha256=digest), posixpath.basename(path))
    if default_storage.exists(name):
        return name
    saved = default_storage.save(name, ContentFile(data))
    new_files.append(saved)
    return saved


def _utterance(dataset: SpeechDataset, clip: _Clip) -> Utterance:
    return Utterance(
        dataset=dataset,
        position=clip.row.line,
        source_name=clip.row.file[:300],
        transcript=clip.row.transcript,
        language=clip.row.language,
        audio=clip.stored_name,
        sha256=clip.sha256,
        duration_s=clip.duration_s,
        sample_rate=clip.sample_rate,
    )


def _report(listing: Listing, skipped: list[Skipped], *, imported: int) -> dict:
    skipped = sorted(skipped, key=lambda s: s.line)
    report = {
        "listing": listing.name,
        "rows": len(listing.rows) + len(listing.skipped),
        "imported": imported,
        "skipped": [{"line": s.line, "file": s.file, "reason": s.reason} for s in skipped],
    }
    if any(s.reason.startswith("not valid UTF-8") for s in skipped):
        report["hint"] = NOT_UTF8_HINT
    return report


def _refusal(listing: Listing, skipped: list[Skipped]) -> str:
    lines = "; ".join(report_lines(_report(listing, skipped, imported=0))[1:])
    return f"{listing.name} has no usable row; nothing was imported. {lines}"


def report_lines(report: dict) -> list[str]:
    """The import report as text: a summary line, then one line per skipped row, then any hint."""
    skipped = report["skipped"]
    lines = [
        f"Imported {report['imported']} of {report['rows']} rows of {report['listing']}; "
        f"skipped {len(skipped)}."
    ]
    lines += [f"line {s['line']}: {s['file'] + ': ' if s['file'] else ''}{s['reason']}" for s in skipped]
    if report.get("hint"):
        lines.append(report["hint"])
    return lines
