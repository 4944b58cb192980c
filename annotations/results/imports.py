"""Importing ratings collected elsewhere (e.g. with a crowd toolkit) in the tidy CSV layout of the exports.

Every line is parsed and checked before anything is saved; an error names the line. The import creates
a closed test with the sentences, samples (audio optional), clips and evaluators it needs, so export ->
import -> export gives identical rows.
"""

import csv
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime

import numpy as np
from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from annotations.models import Evaluator, ListeningTest, Rating, Scale, TestSample
from annotations.results import screening as screening_rules
from annotations.results.tables import FORMULA_STARTS, RATING_FIELDS
from synthesis.engines import audio
from synthesis.models import Sample, Sentence, SentenceSet, StylePreset

REQUIRED_COLUMNS = {"evaluator", "sample", "system", "dimension", "score"}
PLACEHOLDER_AUDIO = "samples/no-audio.wav"
# The longest text each column's database field holds.
TEXT_LIMITS = {"evaluator": 40, "sample": 300, "system": 80, "style": 40, "dimension": 40}
MAX_PLAYS = 32767  # Rating.play_count
MAX_COUNT = 2**31 - 1  # Rating.time_to_answer_ms, fetch_count and server_play_count


class RatingImportError(ValueError):
    """A ratings CSV that cannot be imported; the message names the line."""


def placeholder_audio() -> str:
    """The name of a shared empty WAV (0 frames) for samples imported without audio."""
    storage = Sample._meta.get_field("audio").storage
    if not storage.exists(PLACEHOLDER_AUDIO):
        storage.save(PLACEHOLDER_AUDIO, ContentFile(audio.wav_bytes(np.zeros(0, dtype=np.float32), 16000)))
    return PLACEHOLDER_AUDIO


def _parse_line(line: int, raw: dict, scale: Scale) -> dict:
    """One CSV row as typed values; missing optional columns get documented defaults."""
    try:
        _check_text(raw)
        score = scale.check_score(_whole_number(raw, "score"))
        kind = raw.get("clip_kind") or TestSample.Kind.TEST
        if kind not in screening_rules.KINDS:
            raise ValueError(f"clip_kind {kind!r} is not one of {', '.join(screening_rules.KINDS)}")
        target = _whole_number(raw, "clip_target_score", required=False)
        if kind != TestSample.Kind.TEST and target is None:
            raise ValueError(f"a {kind} clip needs clip_target_score")
        if target is not None:
            scale.check_score(target)
        created = _optional_time(raw.get("created_at")) or timezone.now()
        # Server timings travel with an exported file; ratings collected elsewhere have none.
        first_fetch, received = (_optional_time(raw.get(name)) for name in ("first_fetch_at", "received_at"))
        fetches = _whole_number(raw, "fetch_count", required=False, maximum=MAX_COUNT)
        played = (raw.get("played_to_end") or "true").strip().lower()
        if played not in {"true", "false", "1", "0"}:
            raise ValueError(f"played_to_end {played!r} is not true or false")
        plays = _whole_number(raw, "play_count", required=False, maximum=MAX_PLAYS)
        server_plays = _whole_number(raw, "server_play_count", required=False, maximum=MAX_COUNT)
        answer_ms = _whole_number(raw, "time_to_answer_ms", required=False, maximum=MAX_COUNT)
    except (KeyError, ValueError, TypeError) as exc:
        raise RatingImportError(f"Line {line}: {exc}") from None
    return {
        "line": line,
        "evaluator": raw["evaluator"],
        "clip": (raw["sample"], raw["system"], raw.get("style") or "", raw.get("sentence") or ""),
        "kind": kind,
        "target": target,
        "dimension": raw["dimension"],
        "score": score,
        "played_to_end": played in {"true", "1"},
        "play_count": 1 if plays is None else plays,
        "server_play_count": server_plays,
        "time_to_answer_ms": answer_ms,
        "first_fetch_at": first_fetch,
        "fetch_count": fetches,
        "received_at": received,
        "created_at": created,
    }


def _check_text(raw: dict) -> None:
    """Refuse what the database would refuse, before anything is saved: long or NUL-holding cells."""
    if None in raw:
        raise ValueError("more fields than the header; quote text containing commas")
    for column, cell in raw.items():
        if cell and "\x00" in cell:
            raise ValueError(f"{column} holds a NUL character")
    for column, longest in TEXT_LIMITS.items():
        if len(raw.get(column) or "") > longest:
            raise ValueError(f"{column} is longer than {longest} characters")
    if not raw.get("evaluator") or not raw.get("sample") or not raw.get("dimension"):
        raise ValueError("evaluator, sample and dimension must not be empty")


def _whole_number(raw: dict, column: str, *, required: bool = True, maximum: int | None = None) -> int | None:
    text = (raw.get(column) or "").strip()
    if not text:
        if required:
            raise ValueError(f"{column} is empty")
        return None
    # ASCII digits only: int() would also read other scripts' digits and "1_000".
    if not text.isascii() or not text.removeprefix("-").isdigit() or len(text) > 12:
        raise ValueError(f"{column} {text[:40]!r} is not a whole number")
    value = int(text)
    if maximum is not None and not 0 <= value <= maximum:
        raise ValueError(f"{column} {value} is not between 0 and {maximum}")
    return value


def _optional_time(text: str | None) -> datetime | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    moment = moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)
    try:
        # Stored in UTC: a time at the very edge of the calendar may have no UTC equivalent.
        moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"{text!r} is outside the years a database stores") from None
    return moment


def read_rating_rows(lines: Iterable[str], scale: Scale) -> list[dict]:
    """Parse and check a tidy ratings CSV (export_ratings layout) before anything is saved."""
    reader = csv.DictReader(lines)
    try:
        reader.fieldnames  # noqa: B018 - reads the header line, which may itself be malformed
    except csv.Error as exc:
        raise RatingImportError(f"Line 1: {exc}") from None
    missing = REQUIRED_COLUMNS - set(reader.fieldnames or ())
    if missing:
        raise RatingImportError(f"Missing column(s): {', '.join(sorted(missing))}.")
    rows, seen, kinds, tests = [], set(), {}, set()
    for line, raw in enumerate(_csv_rows(reader), start=2):
        row = _parse_line(line, raw, scale)
        tests.add(raw.get("test") or "")
        key = (row["evaluator"], row["clip"], row["dimension"])
        if key in seen:
            raise RatingImportError(f"Line {line}: a second rating of this sample by {row['evaluator']}.")
        if kinds.setdefault(row["clip"], (row["kind"], row["target"])) != (row["kind"], row["target"]):
            raise RatingImportError(
                f"Line {line}: sample {row['clip'][0]!r} has another clip kind or target."
            )
        seen.add(key)
        rows.append(row)
    if len(tests - {""}) > 1:
        raise RatingImportError(
            f"The file holds several tests ({', '.join(sorted(tests - {''}))}); split it."
        )
    if not rows:
        raise RatingImportError("The file holds no ratings.")
    return rows


def _csv_rows(reader: csv.DictReader) -> Iterable[dict]:
    try:
        for raw in reader:
            yield {column: _unguarded(cell) for column, cell in raw.items()}
    except csv.Error as exc:  # a field over the csv module's size limit, a stray quote in strict mode
        raise RatingImportError(f"Line {reader.line_num + 1}: {exc}") from None


def _unguarded(cell):
    """A cell as it was before the export guarded it against formula injection (exports.safe_cell)."""
    if isinstance(cell, str) and cell.startswith("'") and cell[1:2] and cell[1] in FORMULA_STARTS:
        return cell[1:]
    return cell


def import_ratings(*, name: str, lines: Iterable[str], scale: Scale, language: str = "en") -> ListeningTest:
    """Create a closed test with its sentences, samples (audio optional), clips, evaluators and ratings.

    Export -> import -> export gives the same rows: samples keep their export name in source_name.
    """
    if ListeningTest.objects.filter(name=name).exists():
        raise RatingImportError(f"A listening test named {name!r} exists already.")
    rows = read_rating_rows(lines, scale)
    with transaction.atomic():
        test = _create_test(name, scale, language, rows)
        clips = _import_clips(test, rows, language)
        evaluators = {
            pseudonym: Evaluator.objects.create(test=test, pseudonym=pseudonym)
            for pseudonym in dict.fromkeys(row["evaluator"] for row in rows)
        }
        fields = RATING_FIELDS
        Rating.objects.bulk_create(
            (
                Rating(
                    evaluator=evaluators[row["evaluator"]],
                    sample_id=clips[row["clip"]].sample_id,
                    test_sample=clips[row["clip"]],
                    **{field: row[field] for field in fields},
                )
                for row in rows
            ),
            batch_size=2000,
        )
    return test


def _create_test(name: str, scale: Scale, language: str, rows: list[dict]) -> ListeningTest:
    """A closed test; dimensions in order of first appearance (the first is the main one)."""
    dimensions = list(dict.fromkeys(row["dimension"] for row in rows))
    per_clip = Counter(row["clip"] for row in rows if row["dimension"] == dimensions[0])
    per_rater = Counter(row["evaluator"] for row in rows if row["dimension"] == dimensions[0])
    return ListeningTest.objects.create(
        name=name,
        scale=scale,
        language=language,
        dimensions=dimensions,
        ratings_per_sample=max(per_clip.values()),
        samples_per_session=max(per_rater.values()),
        state=ListeningTest.State.CLOSED,
        description="Ratings imported with import_ratings.",
    )


def _import_clips(test: ListeningTest, rows: list[dict], language: str) -> dict[tuple, TestSample]:
    """One sentence per distinct text; one sample and clip per distinct (sample, system, style, sentence)."""
    texts = list(dict.fromkeys(row["clip"][3] for row in rows if row["clip"][3]))
    sentence_set = SentenceSet.objects.create(
        name=_free_set_name(f"ratings-{test.name}"),
        description=f"Sentences of the imported test {test.name}.",
    )
    sentences = {
        text: Sentence.objects.create(sentence_set=sentence_set, position=i, text=text, language=language)
        for i, text in enumerate(texts, start=1)
    }
    styles = {style.name: style for style in StylePreset.objects.all()}
    targets = {row["clip"]: (row["kind"], row["target"]) for row in rows}
    clips = {}
    for clip, (kind, target) in targets.items():
        key, system, style, text = clip
        sample = Sample.objects.create(
            origin=Sample.Origin.IMPORTED,
            source_name=key,
            system_label=system,
            style_label=style,
            style=styles.get(style),
            sentence=sentences.get(text),
            text=text,
            audio=placeholder_audio(),
            duration_s=0.0,
            sample_rate=16000,
        )
        clips[clip] = TestSample.objects.create(
            test=test,
            sample=sample,
            kind=kind,
            expected_score=target if kind == TestSample.Kind.GOLD else None,
            instructed_score=target if kind == TestSample.Kind.TRAP else None,
        )
    return clips


def _free_set_name(base: str) -> str:
    name, number = base[:80], 1
    while SentenceSet.objects.filter(name=name).exists():
        number += 1
        name = f"{base[:74]}-{number}"
    return name
