"""Practice before rating: the practice trials and their answers, checked like ratings but not stored."""

import random
from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone

from annotations.methods import get_method
from annotations.models import Evaluator, TestSample, TrialClip
from annotations.services.errors import RatingRefused
from annotations.services.invites import check_open
from annotations.services.listening import _count_fetches, verify_listening
from annotations.services.rating import _lock_answers, _validate_answer

MAX_TRAINING_CLIPS = 3
FALLBACK_TRAINING_CLIPS = 2


def training_trials(*, evaluator: Evaluator) -> list[list[TestSample]]:
    """The practice trials, each its clips in presentation order: from the test's training clips or,
    failing those, from test clips outside this evaluator's session, shaped by the test's method.

    Either way the practice trials say different sentences and, where the test has several systems
    or styles, come from different ones.
    """
    clips = evaluator.test.test_samples.select_related("sample").order_by("id")
    # A different draw per evaluator (stable across requests) so no one system anchors everyone's scale.
    rng = random.Random(evaluator.pk)
    practice = get_method(evaluator.test.method).practice
    training = list(clips.filter(kind=TestSample.Kind.TRAINING))
    if training:
        return practice(training, MAX_TRAINING_CLIPS, rng)
    assigned = TrialClip.objects.filter(trial__assignments__evaluator=evaluator).values("test_sample_id")
    spare = list(clips.filter(kind=TestSample.Kind.TEST).exclude(id__in=assigned))
    return practice(spare, FALLBACK_TRAINING_CLIPS, rng)


def training_clips(*, evaluator: Evaluator) -> list[TestSample]:
    """Every clip of the practice trials, in order."""
    return [clip for trial in training_trials(evaluator=evaluator) for clip in trial]


def answer_training(
    *,
    evaluator: Evaluator,
    sample_token: str,
    scores: dict[str, object],
    played_to_end: bool,
    clip_tokens: Sequence[str] = (),
) -> None:
    """Move past one practice trial; answers are checked like ratings, listening too, but not stored.

    sample_token is the token of the trial's first clip; clip_tokens, when given, are all its clips'
    in the order shown, which tells practice trials sharing a clip apart.
    """
    received_at = timezone.now()
    trials = training_trials(evaluator=evaluator)
    shown = [[clip.token for clip in trial] for trial in trials]
    position = _trial_with(shown, sample_token, clip_tokens, done=evaluator.training_done)
    if position is None:
        raise RatingRefused("not_assigned", "not a training clip of this session")
    if position < evaluator.training_done:
        return  # a resent answer
    check_open(evaluator.test)
    clips = trials[position]
    _validate_answer(evaluator.test, [TrialClip(test_sample=clip) for clip in clips], scores, played_to_end)
    with transaction.atomic():
        if position < _lock_answers(evaluator):
            return  # a copy of this answer that arrived at the same time was stored first
        verify_listening(
            evaluator=evaluator,
            method=get_method(evaluator.test.method),
            clips=clips,
            received_at=received_at,
        )
        done = position + 1
        Evaluator.objects.filter(pk=evaluator.pk).update(training_done=done)
        _count_fetches(evaluator, clips, received_at)
        now = timezone.now()
        trained = done >= len(trials) and bool(
            Evaluator.objects.filter(pk=evaluator.pk, trained_at__isnull=True).update(trained_at=now)
        )
    # Under the lock this request moved the evaluator on: their row now holds what it wrote.
    evaluator.training_done = done
    if trained:
        evaluator.trained_at = now


def _trial_with(
    shown: list[list[str]], sample_token: str, clip_tokens: Sequence[str], done: int
) -> int | None:
    """The index of the trial whose clips were shown in the order clip_tokens gives, or (without
    them) the first not yet done that holds sample_token, else the last done one (a resend)."""
    if clip_tokens:
        return next((i for i, tokens in enumerate(shown) if tokens == list(clip_tokens)), None)
    holding = [i for i, tokens in enumerate(shown) if sample_token in tokens]
    return next((i for i in holding if i >= done), holding[-1] if holding else None)


def skip_training_if_none(*, evaluator: Evaluator) -> None:
    """Tests without any clip to practise on go straight to rating."""
    if not evaluator.trained_at and not training_trials(evaluator=evaluator):
        Evaluator.objects.filter(pk=evaluator.pk).update(trained_at=timezone.now())
        evaluator.refresh_from_db()
