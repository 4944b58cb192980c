"""Recording answers: the next trial of a session, one answer's ratings and artifact marks, the end."""

from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from annotations.methods import Answer, get_method
from annotations.models import (
    MARK_TOLERANCE_S,
    MAX_MARKS_PER_ANSWER,
    ArtifactMark,
    Assignment,
    Evaluator,
    ListeningTest,
    Rating,
    TestSample,
    TrialClip,
)
from annotations.services.errors import RatingRefused
from annotations.services.listening import _count_fetches, verify_listening


def current_clip(*, evaluator: Evaluator) -> tuple[Assignment | None, int, int]:
    """(the first unanswered assignment or None, trials answered, trials in the session)."""
    test = evaluator.test
    main = get_method(test.method).questions(test)[0]
    rated = Rating.objects.filter(evaluator=evaluator, trial=OuterRef("trial"), dimension=main)
    rows = list(
        evaluator.assignments.select_related("trial").annotate(rated=Exists(rated)).order_by("position")
    )
    done = sum(row.rated for row in rows)
    return next((row for row in rows if not row.rated), None), done, len(rows)


def submit_rating(
    *,
    evaluator: Evaluator,
    sample_token: str,
    scores: dict[str, object],
    played_to_end: bool,
    play_count: int,
    time_to_answer_ms: int | None,
    clip_tokens: Sequence[str] = (),
    marks: Sequence[tuple[float, float, str]] = (),
) -> list[Rating]:
    """Store one answer to a trial (every question) at once; a resent answer returns the stored ratings.

    sample_token is the token of the trial's first clip as shown; clip_tokens, when given, are all
    its clips' in the order shown. A clip in several trials of a session (a pair method's clip is
    paired with each other condition, a repeat holds its original's clips) is told apart by them.
    scores holds each question's value as the method's page posts it (an integer, a typed text, or
    one integer per clip in the order shown). Each score is checked against the test's scale by the
    method's validation, and the answer is refused unless this evaluator fetched every clip for it
    (a fetch counts for one answer) and had the time to hear them. marks, (start_s, end_s, label)
    each, are the moments where the evaluator heard a problem; they are checked against the clip
    and the test's labels and stored once, with the answer.
    """
    received_at = timezone.now()
    test = evaluator.test
    assignment = _assignment_for(evaluator, sample_token, clip_tokens)
    if assignment is None:
        raise RatingRefused("not_assigned", "this clip is not in the evaluator's session")
    clips = assignment.presented_clips()
    with transaction.atomic():
        _note_answer_arriving(evaluator, received_at)
        stored = list(Rating.objects.filter(evaluator=evaluator, trial=assignment.trial_id))
        if {rating.dimension for rating in stored} >= set(get_method(test.method).questions(test)):
            # First answer wins: a double click, a resend, or a copy of this answer that arrived at
            # the same time changes nothing, even once the test has closed.
            return stored
        if not test.accepts_ratings():
            raise RatingRefused("closed", "the test takes no ratings now")
        answers = _validate_answer(test, clips, scores, played_to_end)
        marks = check_marks(test=test, clips=[clip.test_sample for clip in clips], marks=marks)
        listening = verify_listening(
            evaluator=evaluator,
            method=get_method(test.method),
            clips=[clip.test_sample for clip in clips],
            received_at=received_at,
        )
        now = timezone.now()
        common = {
            "evaluator": evaluator,
            "trial_id": assignment.trial_id,
            "played_to_end": True,
            "play_count": _clamp(play_count, 1, 32767),
            "time_to_answer_ms": _clamp(time_to_answer_ms, 0, 2**31 - 1),
            **listening,
            "created_at": now,
        }
        # Under the evaluator's lock no other copy of this answer stores ratings now; one INSERT
        # stores those not stored yet (an answer half stored before is completed, not repeated).
        kept = {(rating.sample_id, rating.dimension): rating for rating in stored}
        keys = [(answer.test_sample.sample_id, answer.dimension) for answer in answers]
        new = [
            Rating(
                sample_id=answer.test_sample.sample_id,
                test_sample=answer.test_sample,
                dimension=answer.dimension,
                score=answer.score,
                transcript=answer.text,
                **common,
            )
            for key, answer in zip(keys, answers, strict=True)
            if key not in kept
        ]
        for rating in Rating.objects.bulk_create(new):
            kept[rating.sample_id, rating.dimension] = rating
        ratings = [kept[key] for key in keys]
        _store_marks_once(evaluator, assignment.trial_id, clips[0].test_sample, marks, now)
        _count_fetches(evaluator, [clip.test_sample for clip in clips], received_at)
        finish_if_done(evaluator=evaluator)
    return ratings


def check_marks(
    *, test: ListeningTest, clips: list[TestSample], marks: Sequence[tuple[float, float, str]]
) -> list[tuple[float, float, str]]:
    """The marks, each inside the clip and with one of the test's labels (or none); else RatingRefused."""
    if not marks:
        return []
    if not test.artifact_labels or len(clips) != 1:
        raise RatingRefused("bad_mark", "this test takes no artifact marks")
    if len(marks) > MAX_MARKS_PER_ANSWER:
        raise RatingRefused("bad_mark", f"{len(marks)} marks, at most {MAX_MARKS_PER_ANSWER} allowed")
    duration = clips[0].sample.duration_s or 0.0
    checked = []
    for start, end, label in marks:
        if not 0 <= start <= end <= duration + MARK_TOLERANCE_S:
            raise RatingRefused("bad_mark", f"mark {start}-{end} s is outside the clip (0-{duration:.2f} s)")
        if label and label not in test.artifact_labels:
            raise RatingRefused("bad_mark", f"label {label!r} is not one of the test's")
        checked.append((min(float(start), duration), min(float(end), duration), label))
    return checked


def _store_marks_once(
    evaluator: Evaluator,
    trial_id: int,
    clip: TestSample,
    marks: list[tuple[float, float, str]],
    now: datetime,
) -> None:
    # Called under the evaluator's lock (_lock_answers): one copy of an answer stores its marks.
    if not marks:
        return
    if ArtifactMark.objects.filter(evaluator=evaluator, trial_id=trial_id).exists():
        return
    ArtifactMark.objects.bulk_create(
        ArtifactMark(
            evaluator=evaluator,
            trial_id=trial_id,
            test_sample=clip,
            start_s=start,
            end_s=end,
            label=label,
            created_at=now,
        )
        for start, end, label in marks
    )


def _assignment_for(evaluator: Evaluator, sample_token: str, clip_tokens: Sequence[str]) -> Assignment | None:
    """The assignment whose clips were shown in the order clip_tokens gives, or (without them) the
    first unanswered one holding sample_token, else the first holding it (a resend)."""
    holding = list(
        evaluator.assignments.filter(trial__trial_clips__test_sample__token=sample_token)
        .select_related("trial")
        .distinct()
        .order_by("position")
    )
    if clip_tokens:
        wanted = list(clip_tokens)
        return next(
            (a for a in holding if [c.test_sample.token for c in a.presented_clips()] == wanted), None
        )
    if len(holding) < 2:
        return holding[0] if holding else None
    answered = set(Rating.objects.filter(evaluator=evaluator).values_list("trial_id", flat=True))
    return next((a for a in holding if a.trial_id not in answered), holding[0])


def finish_if_done(*, evaluator: Evaluator) -> bool:
    """Mark the session finished once every clip is rated; True if it is finished."""
    if evaluator.finished_at is not None:
        return True
    if current_clip(evaluator=evaluator)[0] is not None:
        return False
    now = timezone.now()
    if Evaluator.objects.filter(pk=evaluator.pk, finished_at__isnull=True).update(finished_at=now):
        evaluator.finished_at = now
    else:
        evaluator.refresh_from_db(fields=["finished_at"])  # another request finished it first
    return True


def _note_answer_arriving(evaluator: Evaluator, seen_at: datetime) -> None:
    """Take the evaluator's row lock for one answer by noting when they were last seen (an UPDATE
    locks the row on PostgreSQL; on SQLite the immediate transaction holds the write lock). Two
    copies of an answer, or two answers sharing a fetched clip, are then checked and stored one
    after the other: a fetch is never counted for two answers. A refused answer rolls it back."""
    Evaluator.objects.filter(pk=evaluator.pk).update(last_seen_at=seen_at)


def _lock_answers(evaluator: Evaluator) -> int:
    """Take the evaluator's row lock for one practice answer (as _note_answer_arriving does) and
    return the practice trials done."""
    return Evaluator.objects.select_for_update().values_list("training_done", flat=True).get(pk=evaluator.pk)


def _clamp(value: int | None, low: int, high: int) -> int | None:
    return None if value is None else min(max(int(value), low), high)


def _validate_answer(
    test: ListeningTest, clips: list[TrialClip], scores: dict[str, object], played_to_end: bool
) -> list[Answer]:
    """The method's answers for these scores, each score on the test's scale; RatingRefused otherwise."""
    if not played_to_end:
        raise RatingRefused("not_played", "the browser did not report the clip as played to the end")
    try:
        answers = get_method(test.method).validate(test, clips, scores)
        for answer in answers:
            if not answer.text:  # a typed answer has no score; every other answer has one
                test.scale.check_score(answer.score)
    except ValueError as exc:
        raise RatingRefused("bad_score", str(exc)) from None
    return answers
