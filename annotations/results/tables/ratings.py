"""The rows of the ratings exports: one tidy row per answer of each kind (ratings, pair answers,
transcriptions, MUSHRA pages), streamed as CSV lines with spreadsheet formulas neutralised.
"""

import csv
from collections.abc import Iterable, Iterator

from annotations import intelligibility, multistimulus, pairs
from annotations.headphone_screen import screen_results
from annotations.models import ListeningTest, TrialClip
from annotations.results import intelligibility_results, mushra_results
from annotations.results.raters import Screening, test_ratings
from synthesis.models import Sample

# The Rating fields a ratings CSV carries as they are (imports.py reads the same ones back).
RATING_FIELDS = (
    "dimension",
    "score",
    "played_to_end",
    "play_count",
    "server_play_count",
    "time_to_answer_ms",
    "first_fetch_at",
    "fetch_count",
    "received_at",
    "created_at",
)


RATING_COLUMNS = (
    "test",
    "evaluator",
    "sample",
    "system",
    "style",
    "sentence",
    "clip_kind",
    "clip_target_score",
    "dimension",
    "score",
    "played_to_end",
    "play_count",
    "server_play_count",
    "time_to_answer_ms",
    "first_fetch_at",
    "fetch_count",
    "received_at",
    "created_at",
    "screening_flags",
    "screen_result",
    "screen_correct",
    "screen_attempts",
)


CHUNK_SIZE = 5_000


# A spreadsheet runs a cell starting with one of these as a formula ("CSV injection"): a sentence
# text or an imported file name must not become a live link or a call when a researcher opens an export.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    """A file-like object whose write returns the line, so csv.writer can feed a generator."""

    def write(self, value: str) -> str:
        return value


def sample_key(sample_id: int, source_name: str) -> str:
    """How exports name a sample: its original file name if imported, else sample-<id>."""
    return source_name or f"sample-{sample_id}"


def clip_info(test: ListeningTest) -> dict[int, tuple]:
    """sample id -> (key, system, style, sentence, clip kind, target score) for the test's clips."""
    rows = test.test_samples.values_list(
        "sample_id",
        "sample__source_name",
        "sample__system_label",
        "sample__style_label",
        "sample__sentence__text",
        "sample__text",
        "kind",
        "expected_score",
        "instructed_score",
    )
    return {
        sample: (sample_key(sample, source), system, style, sentence or text, kind, expected or instructed)
        for sample, source, system, style, sentence, text, kind, expected, instructed in rows
    }


def rating_rows(test: ListeningTest, screening: Screening) -> Iterator[list]:
    """One list per rating in the order they were given; memory does not grow with the number of ratings."""
    clips = clip_info(test)
    pseudonyms = dict(test.evaluators.values_list("id", "pseudonym"))
    flags = {rater: ";".join(result.flags) for rater, result in screening.results.items()}
    screens = screen_results(test=test)
    values = test_ratings(test).order_by("created_at", "id")
    values = values.values_list("evaluator_id", "sample_id", *RATING_FIELDS)
    for row in values.iterator(CHUNK_SIZE):
        (
            rater,
            sample,
            dimension,
            score,
            played,
            plays,
            server_plays,
            answer_ms,
            first_fetch,
            fetches,
            received,
            at,
        ) = row
        key, system, style, sentence, kind, target = clips.get(sample) or _outside_clip(sample)
        yield [
            test.name,
            pseudonyms[rater],
            key,
            system,
            style,
            sentence,
            kind,
            "" if target is None else target,
            dimension,
            score,
            "true" if played else "false",
            plays,
            # The server's count and timings of the answer; empty for ratings imported without them.
            "" if server_plays is None else server_plays,
            "" if answer_ms is None else answer_ms,
            first_fetch.isoformat() if first_fetch else "",
            "" if fetches is None else fetches,
            received.isoformat() if received else "",
            at.isoformat(),
            flags.get(rater, ""),
            screens[rater].result,
            screens[rater].correct_text,
            screens[rater].attempts,
        ]


def _outside_clip(sample_id: int) -> tuple:
    """A rated sample that is not a clip of the test (only possible for hand-made data)."""
    sample = Sample.objects.values("source_name", "system_label", "style_label", "text").get(pk=sample_id)
    key = sample_key(sample_id, sample["source_name"])
    return key, sample["system_label"], sample["style_label"], sample["text"], "test", None


def safe_cell(value):
    """value, or a text that a spreadsheet would run as a formula with a leading ' (shown as text).

    Numbers stay numbers: a CMOS score of -2, or "-0.5" as text, is written as it is.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    try:
        float(value)
    except ValueError:
        return "'" + value
    return value


def csv_lines(header: Iterable[str], rows: Iterable[list]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow([safe_cell(value) for value in header])
    for row in rows:
        yield writer.writerow([safe_cell(value) for value in row])


PAIR_RATING_COLUMNS = (
    "test",
    "evaluator",
    "sentence_key",
    "sentence",
    "sample_a",
    "system_a",
    "style_a",
    "sample_b",
    "system_b",
    "style_b",
    "order",
    "dimension",
    "answer",
    "answer_label",
    "system_x",
    "style_x",
    "system_y",
    "style_y",
    "answer_y_vs_x",
    "trial",
    "repeat_of",
    "first_fetch_at",
    "received_at",
    "time_to_answer_ms",
    "fetch_count",
    "played_to_end",
    "play_count",
    "server_play_count",
    "created_at",
    "screening_flags",
    "excluded",
    "screen_result",
    "screen_correct",
    "screen_attempts",
)


def pair_rating_rows(test: ListeningTest, screening: Screening) -> Iterator[list]:
    """One list per judgement (pairs.pair_judgements, each rater's in the order answered).

    Clip A is the one played first, B the one played second (the answer rates B relative to A);
    X and Y are the pair's conditions in canonical order (X sorts first) and answer_y_vs_x is the
    answer read as Y relative to X. repeat_of names the trial a repeated pair repeats. Unlike the ACR
    rows these are built in memory, as the judgements are read whole to pair each answer with its clips.
    """
    clips = _pair_clips(test)
    extra = dict(
        (rating, rest)
        for rating, *rest in test_ratings(test)
        .filter(dimension=test.rated_dimensions[0], trial__isnull=False)
        .values_list("id", "fetch_count", "played_to_end", "play_count", "server_play_count", "created_at")
        .iterator(CHUNK_SIZE)
    )
    labels = dict(test.scale.choices())
    flags = {rater: result.flags for rater, result in screening.results.items()}
    screens = screen_results(test=test)
    for row in pairs.pair_judgements(test):
        trial = row["original_trial"]
        first, second = (pairs.X, pairs.Y) if row["first"] == pairs.X else (pairs.Y, pairs.X)
        (key_a, text), (key_b, _) = clips[(trial, first)], clips[(trial, second)]
        a, b = row[first.lower()], row[second.lower()]
        fetches, played, plays, server_plays, created = extra[row["rating"]]
        rater, screen = row["evaluator_id"], screens[row["evaluator_id"]]
        yield [
            test.name,
            row["rater"],
            row["sentence"],
            text,
            key_a,
            *a,
            key_b,
            *b,
            f"{row['first']}-first",
            test.rated_dimensions[0],
            row["score"],
            labels.get(row["score"], ""),
            *row["x"],
            *row["y"],
            row["corrected"],
            row["trial"],
            row["repeat_of"] or "",
            row["first_fetch_at"].isoformat() if row["first_fetch_at"] else "",
            row["received_at"].isoformat() if row["received_at"] else "",
            "" if row["time_to_answer_ms"] is None else row["time_to_answer_ms"],
            "" if fetches is None else fetches,
            "true" if played else "false",
            plays,
            "" if server_plays is None else server_plays,
            created.isoformat(),
            ";".join(flags.get(rater, ())),
            "true" if rater in screening.excluded else "false",
            screen.result,
            screen.correct_text,
            screen.attempts,
        ]


def _pair_clips(test: ListeningTest) -> dict[tuple[int, str], tuple[str, str]]:
    """(trial id, role) -> (sample key, sentence text) for the test's pair trials."""
    rows = TrialClip.objects.filter(trial__test=test).values_list(
        "trial_id", "role", "test_sample__sample_id", "test_sample__sample__source_name"
    )
    texts = {
        sample: sentence or text
        for sample, sentence, text in test.test_samples.values_list(
            "sample_id", "sample__sentence__text", "sample__text"
        )
    }
    return {
        (trial, role): (sample_key(sample, source), texts[sample]) for trial, role, sample, source in rows
    }


INTELLIGIBILITY_COLUMNS = (
    "test", "evaluator", "trial", "sample", "system", "style", "sentence_key", "language", "reference",
    "transcript", "normaliser", "reference_normalised", "transcript_normalised", "word_errors", "ref_words",
    "wer", "char_errors", "ref_chars", "cer", "plays", "play_count", "asr_transcript", "first_fetch_at",
    "received_at", "time_to_answer_ms",
)  # fmt: skip


MUSHRA_COLUMNS = (
    "test", "evaluator", "trial", "sentence_key", "sample", "system", "style", "role", "score", "position",
    "stimuli", "first_fetch_at", "received_at", "time_to_answer_ms", "excluded", "exclusion_reason",
)  # fmt: skip


def _when(value) -> str:
    return value.isoformat() if value else ""


def _blank(value) -> object:
    return "" if value is None else value


def intelligibility_rows(test: ListeningTest) -> Iterator[list]:
    """One list per transcript with its normalised texts and errors (intelligibility_results.scored_rows)."""
    for row in intelligibility_results.scored_rows(intelligibility.transcriptions(test)):
        yield [
            test.name,
            row["rater"],
            row["trial"],
            row["sample"],
            row["system"],
            row["style"],
            row["sentence"],
            row["language"],
            row["reference"],
            row["transcript"],
            row["method"],
            row["reference_normalised"],
            row["transcript_normalised"],
            row["word_errors"],
            row["ref_words"],
            _blank(row["wer"]),
            row["char_errors"],
            row["ref_chars"],
            _blank(row["cer"]),
            row["plays"],
            row["play_count"],
            row["asr_transcript"] or "",
            _when(row["first_fetch_at"]),
            _when(row["received_at"]),
            _blank(row["time_to_answer_ms"]),
        ]


def mushra_rows(test: ListeningTest) -> Iterator[list]:
    """One list per score with its role, place on the rater's page and BS.1534-3 post-screening."""
    rows = multistimulus.mushra_judgements(test)
    screening = mushra_results.post_screening(rows)
    for row in rows:
        rater = screening[row["evaluator_id"]]
        yield [
            test.name,
            row["rater"],
            row["trial"],
            row["sentence"],
            row["sample"],
            row["system"],
            row["style"],
            row["role"],
            row["score"],
            _blank(row["position"]),
            row["stimuli"],
            _when(row["first_fetch_at"]),
            _when(row["received_at"]),
            _blank(row["time_to_answer_ms"]),
            "true" if rater["excluded"] else "false",
            "; ".join(rater["reasons"]),
        ]
