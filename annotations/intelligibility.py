"""Intelligibility: one clip per page, the listener types what they heard, a limited number of plays.

The data contract the analysis reads (`transcriptions`):

- A trial is one clip (TrialClip role ""), as in ACR. The test's scale is a one-point scale
  ("transcription-en" or "transcription-es", 0 to 0) that holds the question and its language and
  no score; scored methods refuse such a scale.
- One Rating per answer: dimension "transcript", score NULL and transcript the text typed, trimmed,
  1 to MAX_TRANSCRIPT characters (a CheckConstraint allows a score or a transcript, never both, so
  code that reads the scores of scored methods never meets an empty one). The page never shows the
  sample's text, which is the reference the transcript is scored against.
- Plays: ListeningTest.max_plays (DEFAULT_MAX_PLAYS unless the test says otherwise; 0 for no limit),
  counted by the server from its ClipFetch rows, never by the page: a play is a run of requests that
  together send the whole file (models.count_plays), so a browser's probe of the first bytes and its
  request for the rest are one play. Once max_plays plays have been sent whole, or max_plays times
  the file's bytes in all (models.within_play_limit: ranges that stop short of the last byte never
  complete a play), the audio view refuses further requests for the clip by that evaluator (403)
  and the page disables its button.
  The page asks for the file afresh on every play (preload none, no-store), so each play the
  listener hears is a play the server sees.
- The normaliser's language is the sample's sentence's, else the test's.
"""

from collections import defaultdict

from annotations.models import ClipFetch, ListeningTest, Rating, TestSample, count_plays
from synthesis.models import Sample

DIMENSION = "transcript"
MAX_TRANSCRIPT = 500
DEFAULT_MAX_PLAYS = 2


def check_samples(samples: list[Sample], practice: list[Sample]) -> None:
    """ValueError naming the clips with no text to score a transcript against."""
    untexted = [sample for sample in [*samples, *practice] if not sample.text.strip()]
    if untexted:
        ids = ", ".join(str(sample.pk) for sample in untexted[:5])
        raise ValueError(
            f"{len(untexted)} clip(s) have no reference text (e.g. sample {ids}), so what a listener types "
            "could not be scored. Import them with a text column, or leave them out."
        )


def clean_transcript(text: object) -> str:
    """The transcript as stored: trimmed; ValueError when it is empty or too long."""
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        raise ValueError("the transcript is empty")
    if len(text) > MAX_TRANSCRIPT:
        raise ValueError(f"the transcript has {len(text)} characters; at most {MAX_TRANSCRIPT} are kept")
    return text


def transcriptions(test: ListeningTest) -> list[dict]:
    """One row per stored transcript of the test's test clips, each rater's in the order answered.

    Keys: rating, rater (pseudonym), evaluator_id, trial, test_sample (clip id), sample (Sample id),
    system, style, condition ((system, style)), sentence (sentence key), language (the normaliser's),
    reference (the sample's text), transcript (as typed, trimmed), plays (plays the server sent
    before the answer, models.count_plays), play_count (plays the page counted), asr_transcript,
    asr_wer and asr_cer (the sample's ASR round trip, when it has one), first_fetch_at, received_at,
    time_to_answer_ms.
    """
    ratings = (
        Rating.objects.originals()
        .filter(evaluator__test=test, dimension=DIMENSION, test_sample__kind=TestSample.Kind.TEST)
        .order_by("evaluator_id", "created_at", "id")
        .values(
            "id",
            "evaluator_id",
            "evaluator__pseudonym",
            "trial_id",
            "test_sample_id",
            "sample_id",
            "sample__system_label",
            "sample__style_label",
            "sample__sentence_id",
            "sample__sentence__language",
            "sample__text",
            "sample__recognized_text",
            "sample__wer",
            "sample__cer",
            "transcript",
            "play_count",
            "first_fetch_at",
            "received_at",
            "time_to_answer_ms",
        )
    )
    plays = _plays(test)
    return [
        {
            "rating": row["id"],
            "rater": row["evaluator__pseudonym"],
            "evaluator_id": row["evaluator_id"],
            "trial": row["trial_id"],
            "test_sample": row["test_sample_id"],
            "sample": row["sample_id"],
            "system": row["sample__system_label"],
            "style": row["sample__style_label"],
            "condition": (row["sample__system_label"], row["sample__style_label"]),
            "sentence": Sample.key_for(row["sample_id"], row["sample__sentence_id"], row["sample__text"]),
            "language": row["sample__sentence__language"] or test.language,
            "reference": row["sample__text"],
            "transcript": row["transcript"],
            "plays": plays(row["evaluator_id"], row["test_sample_id"], row["received_at"]),
            "play_count": row["play_count"],
            "asr_transcript": row["sample__recognized_text"],
            "asr_wer": row["sample__wer"],
            "asr_cer": row["sample__cer"],
            "first_fetch_at": row["first_fetch_at"],
            "received_at": row["received_at"],
            "time_to_answer_ms": row["time_to_answer_ms"],
        }
        for row in ratings
    ]


def _plays(test: ListeningTest):
    """A function (evaluator id, clip id, time) -> plays of that clip begun before that time."""
    fetches: dict[tuple[int, int], list[tuple]] = defaultdict(list)
    rows = (
        ClipFetch.objects.filter(evaluator__test=test, labelled_reference=False)
        .order_by("started_at", "id")
        .values_list("evaluator_id", "test_sample_id", "started_at", "bytes_from", "bytes_to", "size")
    )
    for evaluator, clip, started, first, last, size in rows:
        fetches[(evaluator, clip)].append((started, first, last, size))

    def plays(evaluator: int, clip: int, until) -> int:
        before = [row[1:] for row in fetches[(evaluator, clip)] if until is None or row[0] <= until]
        return count_plays(before)[0]

    return plays
