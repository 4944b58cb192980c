"""An evaluator's session: which trials they answer, in which order, with which repeats."""

import random
from collections import Counter
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, Prefetch
from django.utils import timezone

from annotations import pairs
from annotations.methods import get_method
from annotations.models import Assignment, Evaluator, ListeningTest, Rating, TestSample, Trial, TrialClip
from annotations.ordering import order_without_neighbours
from annotations.services.errors import SessionUnavailable


def assign(*, evaluator: Evaluator, rng: random.Random | None = None) -> list[Assignment]:
    """The evaluator's clips in order, built once: least-held test clips plus gold and trap clips."""
    existing = _assignments_of(evaluator)
    if existing:
        return existing
    rng = rng or random.SystemRandom()
    with transaction.atomic():
        # Locking the test row serialises concurrent joiners, so two of them never both take
        # the last slot of a sample that is one rating short of its target.
        test = ListeningTest.objects.select_for_update().get(pk=evaluator.test_id)
        if evaluator.assignments.exists():
            return _assignments_of(evaluator)
        method = get_method(test.method)
        trials = _choose_trials(test, rng)
        ordered = order_without_neighbours(trials, key=_trial_sentences, rng=rng)
        orders = method.order_clips(ordered, rng)
        session = _with_repeats(ordered, orders, method.repeat_share(test), rng)
        built = Assignment.objects.bulk_create(
            Assignment(evaluator=evaluator, trial=trial, position=position, clip_order=order)
            for position, (trial, order) in enumerate(session)
        )
        Evaluator.objects.filter(pk=evaluator.pk).update(last_seen_at=timezone.now())
    return built


def _with_clips(prefix: str = "") -> Prefetch:
    """Trials' clips with their samples, in one query."""
    return Prefetch(f"{prefix}trial_clips", queryset=TrialClip.objects.select_related("test_sample__sample"))


def _assignments_of(evaluator: Evaluator) -> list[Assignment]:
    return list(
        evaluator.assignments.select_related("trial")
        .prefetch_related(_with_clips("trial__"))
        .order_by("position")
    )


def _trial_sentences(trial: Trial) -> str:
    return "|".join(sorted({clip.test_sample.sample.sentence_key for clip in trial.trial_clips.all()}))


def _with_repeats(
    ordered: list[Trial], orders: dict[int, list[int]], share: float, rng: random.Random
) -> list[tuple[Trial, list[int]]]:
    """The session's (trial, clip order) with a share of its test trials asked again later, swapped.

    A repeat is a Trial of its own (repeat_of the original, the same clips and roles), so the one
    answer per evaluator and trial holds for it too.
    """
    tests = [trial for trial in ordered if trial.kind == TestSample.Kind.TEST]
    count = pairs.repeat_count(share, len(tests))
    if not count:
        return [(trial, orders[trial.pk]) for trial in ordered]
    keys = [_trial_sentences(trial) for trial in tests]
    placed = iter(pairs.place_repeats(keys, count, rng))
    session = []
    for trial in ordered:
        if trial.kind != TestSample.Kind.TEST:
            session.append((trial, orders[trial.pk]))
            continue
        index, is_repeat = next(placed)
        while is_repeat:  # repeats placed before this trial
            session.append(_repeat(tests[index], orders[tests[index].pk]))
            index, is_repeat = next(placed)
        session.append((trial, orders[trial.pk]))
    session.extend(_repeat(tests[index], orders[tests[index].pk]) for index, _ in placed)
    return session


def _repeat(trial: Trial, order: list[int]) -> tuple[Trial, list[int]]:
    """A new trial repeating this one, with its clips presented in the swapped order."""
    repeat = Trial.objects.create(test_id=trial.test_id, kind=trial.kind, repeat_of=trial)
    copies = {
        clip.pk: TrialClip.objects.create(
            trial=repeat, test_sample=clip.test_sample, role=clip.role, position=clip.position
        )
        for clip in trial.trial_clips.all()
    }
    return repeat, [copies[pk].pk for pk in reversed(order)]


def _choose_trials(test: ListeningTest, rng: random.Random) -> list[Trial]:
    """The session's trials: the least-held test trials, then gold and trap trials.

    The choice reads only ids and kinds; the chosen trials alone are loaded with their clips.
    """
    held = held_counts(test)
    by_kind: dict[str, list[int]] = {}
    originals = test.trials.filter(repeat_of__isnull=True).order_by("id")
    for trial_id, kind in originals.values_list("id", "kind"):
        by_kind.setdefault(kind, []).append(trial_id)

    def least_held(kind: str, count: int) -> list[int]:
        pool = sorted(by_kind.get(kind, []), key=lambda trial_id: (held[trial_id], rng.random()))
        return pool[:count]

    chosen = least_held(TestSample.Kind.TEST, test.samples_per_session)
    # Under-target clips come first; the session is topped up with the least-rated others so
    # every session has the same length. Only when no clip needs ratings is the test full.
    if not chosen or held[chosen[0]] >= test.ratings_per_sample:
        raise SessionUnavailable("full")
    chosen += least_held(TestSample.Kind.GOLD, test.gold_per_session)
    chosen += least_held(TestSample.Kind.TRAP, test.traps_per_session)
    loaded = Trial.objects.filter(pk__in=chosen).prefetch_related(_with_clips())
    by_id = {trial.pk: trial for trial in loaded}
    return [by_id[trial_id] for trial_id in chosen]


def held_counts(test: ListeningTest, now: datetime | None = None) -> Counter:
    """Per trial id: evaluators who answered it, or hold it in a session active recently.

    Repeated trials (A/B consistency) never count: they are extra answers, not the ones wanted.
    """
    rated = Rating.objects.filter(evaluator=OuterRef("evaluator"), trial=OuterRef("trial"))
    active = Evaluator.objects.active(now).filter(pk=OuterRef("evaluator"))
    rows = (
        Assignment.objects.filter(trial__test=test, trial__repeat_of__isnull=True)
        .filter(Exists(rated) | Exists(active))
        .values_list("trial_id", flat=True)
    )
    return Counter(rows)
