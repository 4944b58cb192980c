"""Parsing sentence files: UTF-8 plain text (one sentence per line) or CSV with a header row.

In plain text, a line whose first non-blank character is # is a comment: shipped sentence files
name their source that way. Line numbers still count comment lines, so errors name the file line.
"""

import csv
import io
import re
from dataclasses import dataclass, field

from django.conf import settings

CSV_COLUMNS = {"text", "language", "tags"}
# A BCP 47-shaped tag: en, es, en-US, es-419, zh-Hant-TW.
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
MAX_LANGUAGE_LENGTH = 16  # Sentence.language


class SentenceFileError(ValueError):
    """A sentence file that cannot be imported; the message names the line."""


@dataclass(frozen=True)
class ParsedSentence:
    line: int
    text: str
    language: str
    tags: list[str] = field(default_factory=list)


def is_language_tag(language: str) -> bool:
    """A BCP 47-shaped code that fits Sentence.language."""
    return bool(LANGUAGE_TAG.fullmatch(language)) and len(language) <= MAX_LANGUAGE_LENGTH


def decode_utf8(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM); on failure name the first bad line."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise SentenceFileError(
                f"Line {number} is not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1}). "
                "Save the file as UTF-8 and import it again."
            ) from None
    raise SentenceFileError("The file is not valid UTF-8.")  # pragma: no cover - split covers every byte


def parse_sentence_file(data: bytes, *, filename: str, default_language: str) -> list[ParsedSentence]:
    """Parse a whole file; raise SentenceFileError naming the first bad line."""
    if len(data) > settings.SARAI_MAX_UPLOAD_BYTES:
        raise SentenceFileError(
            f"The file is {len(data)} bytes; the limit is {settings.SARAI_MAX_UPLOAD_BYTES} bytes."
        )
    # Checked here, not only per CSV row: a text file's sentences all take this language.
    if not is_language_tag(default_language):
        raise SentenceFileError(f"{default_language!r} is not a language code such as en or es-MX.")
    text = decode_utf8(data)
    if "\x00" in text:
        raise SentenceFileError("The file contains NUL bytes; it looks binary, not text.")
    if filename.lower().endswith(".csv"):
        sentences = _parse_csv(text, default_language)
    else:
        sentences = _parse_lines(text, default_language)
    if not sentences:
        raise SentenceFileError("The file holds no sentences.")
    return sentences


def _parse_lines(text: str, language: str) -> list[ParsedSentence]:
    # Only \n (and \r\n) end a line: str.splitlines() would also split on U+2028, NEL or form feed.
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()  # blank lines at the very end are harmless
    result = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            raise SentenceFileError(f"Line {number} is empty. Remove it or put a sentence on it.")
        if line.lstrip().startswith("#"):
            continue
        result.append(ParsedSentence(line=number, text=line.strip(), language=language))
    return result


def _parse_csv(text: str, default_language: str) -> list[ParsedSentence]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return _csv_sentences(reader, default_language)
    except csv.Error as exc:  # e.g. a field over the csv module's limit of 131072 characters
        raise SentenceFileError(f"Line {reader.line_num + 1}: {exc}.") from None


def _csv_sentences(reader: csv.DictReader, default_language: str) -> list[ParsedSentence]:
    header = {name.strip().lower() for name in (reader.fieldnames or [])}
    if "text" not in header:
        raise SentenceFileError(
            "Line 1: the CSV header must have a 'text' column (optional: language, tags)."
        )
    unknown = header - CSV_COLUMNS
    if unknown:
        raise SentenceFileError(f"Line 1: unknown CSV columns {', '.join(sorted(unknown))}.")
    result = []
    for row in reader:
        number = reader.line_num
        if None in row:
            raise SentenceFileError(
                f"Line {number} has more fields than the header; quote text containing commas."
            )
        row = {(key or "").strip().lower(): (value or "") for key, value in row.items()}
        sentence = row.get("text", "").strip()
        if not sentence:
            raise SentenceFileError(f"Line {number} has an empty 'text' field.")
        language = row.get("language", "").strip() or default_language
        if not is_language_tag(language):
            raise SentenceFileError(
                f"Line {number}: {language!r} is not a language code such as en or es-MX."
            )
        tags = [tag.strip() for tag in row.get("tags", "").replace("|", ";").split(";") if tag.strip()]
        result.append(ParsedSentence(line=number, text=sentence, language=language, tags=tags))
    return result
