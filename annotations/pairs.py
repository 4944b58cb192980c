"""Pair trials (CMOS and A/B): building them, balancing their order, repeats, and reading the answers back.

A condition is a sample's (system_label, style_label). For each sentence, every pair of distinct
conditions among the test clips is one trial of two clips with roles "X" (the condition that sorts
first) and "Y". An evaluator hears clip "A" first and clip "B" second (the Assignment's
clip_order), and one Rating per judgement is stored on the clip heard second, so the score read
relative to the pair is +score when that clip is Y and -score when it is X (`corrected`: Y
relative to X). `pair_judgements` is the contract the analysis reads.
"""

import random
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable

from annotations.models import ListeningTest, Rating, TestSample, Trial, TrialClip
from synthesis.models import Sample

X, Y = "X", "Y"
# Trials between a pair and its repeat, where the session is long enough.
MIN_REPEAT_GAP = 3
Condition = tuple[str, str]


def condition(sample: Sample) -> Condition:
    return (sample.system_label, sample.style_label)


def _by_sentence(items: Iterable, sample_of: Callable) -> dict[str, dict[Condition, list]]:
    """sentence key -> condition -> items, sentences in order of first appearance."""
    groups: dict[str, dict[Condition, list]] = {}
    for item in items:
        sample = sample_of(item)
        groups.setdefault(sample.sentence_key, {}).setdefault(condition(sample), []).append(item)
    return groups


def pair_trials(clips: list[TestSample]) -> list[list[tuple[TestSample, str]]]:
    """Every pair of distinct conditions on each sentence, as [(X clip, "X"), (Y clip, "Y")]."""
    trials = []
    for by_condition in _by_sentence(clips, lambda clip: clip.sample).values():
        ordered = sorted(by_condition)
        for i, first in enumerate(ordered):
            for second in ordered[i + 1 :]:
                trials.append([(by_condition[first][0], X), (by_condition[second][0], Y)])
    return trials


def check_pair_samples(samples: list[Sample], practice: list[Sample]) -> None:
    """ValueError naming the sentences that make no pair, or hold one condition twice."""
    groups = _by_sentence(samples, lambda sample: sample)
    doubled = [
        (items[0], cond)
        for by_condition in groups.values()
        for cond, items in by_condition.items()
        if len(items) > 1
    ]
    if doubled:
        sample, (system, style) = doubled[0]
        raise ValueError(
            f"{len({sample.sentence_key for sample, _ in doubled})} sentence(s) have more than one clip "
            "of the same condition, e.g. "
            f"{_sentence(sample)} by {system} in style {style or '–'}: a pair holds one clip per "
            "condition (system, style). Choose runs that do not repeat a system and style."
        )
    lonely = [
        next(iter(by_condition.values()))[0] for by_condition in groups.values() if len(by_condition) < 2
    ]
    if lonely:
        (system, style) = condition(lonely[0])
        raise ValueError(
            f"No pairs for {len(lonely)} of {len(groups)} sentence(s), e.g. {_sentence(lonely[0])}: "
            f"every clip of it is by {system} in style {style or '–'}. A pair is one sentence in two "
            "conditions (system, style); choose runs or systems that say each sentence in at least two."
        )
    if practice and not any(
        len(by_condition) > 1 for by_condition in _by_sentence(practice, lambda s: s).values()
    ):
        raise ValueError(
            "The practice clips make no pair: tick clips of one sentence in at least two conditions "
            "(system, style), or none to practise on spare test clips."
        )


def _sentence(sample: Sample) -> str:
    text = " ".join(sample.text.split())
    return f"“{text[:60]}…”" if len(text) > 60 else f"“{text}”" if text else f"sample {sample.pk}"


def _roles(trial: Trial) -> dict[str, TrialClip]:
    return {clip.role: clip for clip in trial.trial_clips.all()}


def balanced_orders(trials: list[Trial], rng: random.Random) -> dict[int, list[int]]:
    """Per trial id, its TrialClip ids in presentation order, balanced over one evaluator's session.

    For each pair of conditions, half of the evaluator's trials play X first and half Y first; of an
    odd count the extra one goes either way at random. Trials without X and Y keep their order.
    """
    groups: dict[tuple, list[Trial]] = defaultdict(list)
    orders = {}
    for trial in trials:
        roles = _roles(trial)
        if set(roles) != {X, Y}:
            orders[trial.pk] = [clip.pk for clip in trial.trial_clips.all()]
            continue
        key = (condition(roles[X].test_sample.sample), condition(roles[Y].test_sample.sample))
        groups[key].append(trial)
    for key in sorted(groups):  # a fixed order, so a seeded rng gives a reproducible session
        members = groups[key]
        rng.shuffle(members)
        half = len(members) // 2
        y_first = [False] * half + [True] * half + ([rng.random() < 0.5] if len(members) % 2 else [])
        for trial, flip in zip(members, y_first, strict=True):
            roles = _roles(trial)
            order = [roles[Y].pk, roles[X].pk] if flip else [roles[X].pk, roles[Y].pk]
            orders[trial.pk] = order
    return orders


def repeat_count(share: float, trials: int) -> int:
    """How many of a session's trials are repeated: share of them rounded half up, at least one when
    share is above 0 and the session has two trials or more."""
    if share <= 0 or trials < 2:
        return 0
    return min(trials, max(1, int(share * trials + 0.5)))


def place_repeats(
    keys: list[Hashable], count: int, rng: random.Random, gap: int = MIN_REPEAT_GAP
) -> list[tuple[int, bool]]:
    """A session of len(keys) trials with count of them repeated: (index of the trial, is a repeat).

    Each repeat comes after its trial with at least gap trials between them where the session is
    long enough (else at the end, never adjacent in a session of two or more) and, where it can,
    not next to a trial of the same key (sentence). The trials chosen are random among those
    followed by at least gap others, then the earliest.
    """
    n = len(keys)
    roomy = list(range(max(n - gap, 0)))  # trials followed by at least gap others
    rng.shuffle(roomy)
    rest = [i for i in range(n) if i not in set(roomy)]
    chosen = sorted((roomy + rest)[: min(count, n)])
    session: list[tuple[int, bool]] = [(i, False) for i in range(n)]
    for index in chosen:
        at = session.index((index, False))
        end = len(session)
        # Too close to the end for the full gap: last of all, which is never next to its trial
        # since the session's last trial is repeated only when every trial is.
        slots = list(range(at + gap + 1, end + 1)) or [end]
        calm = [slot for slot in slots if _no_equal_neighbour(session, slot, keys, keys[index])]
        session.insert(rng.choice(calm or slots), (index, True))
    return session


def _no_equal_neighbour(
    session: list[tuple[int, bool]], slot: int, keys: list[Hashable], key: Hashable
) -> bool:
    """Would an item of this key, inserted at slot, have neighbours of other keys only?"""
    return all(keys[i] != key for i, _ in session[max(slot - 1, 0) : slot + 1])


# -- reading the answers -------------------------------------------------------------------------


def pair_judgements(test: ListeningTest) -> list[dict]:
    """One row per stored pair judgement of the test, each rater's rows in the order answered.

    Keys: rating, rater (pseudonym), evaluator_id, sentence (sentence key), x and y (the conditions,
    (system, style)), first ("X" or "Y": the role played first, clip A), score (as answered: the
    second clip relative to the first), corrected (Y relative to X), trial (the trial answered),
    repeat_of (the trial it repeats, or None), original_trial (repeat_of, else trial),
    first_fetch_at, received_at, time_to_answer_ms.
    """
    roles: dict[tuple[int, int], str] = {}
    pairs: dict[int, dict[str, Condition]] = defaultdict(dict)
    sentences: dict[int, str] = {}
    clips = TrialClip.objects.filter(trial__test=test, trial__kind=TestSample.Kind.TEST).values_list(
        "trial_id",
        "test_sample_id",
        "role",
        "test_sample__sample_id",
        "test_sample__sample__sentence_id",
        "test_sample__sample__text",
        "test_sample__sample__system_label",
        "test_sample__sample__style_label",
    )
    for trial, clip, role, sample, sentence, text, system, style in clips:
        roles[(trial, clip)] = role
        pairs[trial][role] = (system, style)
        sentences[trial] = Sample.key_for(sample, sentence, text)
    ratings = (
        Rating.objects.filter(
            evaluator__test=test, dimension=test.rated_dimensions[0], trial_id__in=list(pairs)
        )
        .order_by("evaluator_id", "created_at", "id")
        .values_list(
            "id",
            "evaluator_id",
            "evaluator__pseudonym",
            "trial_id",
            "trial__repeat_of_id",
            "test_sample_id",
            "score",
            "first_fetch_at",
            "received_at",
            "time_to_answer_ms",
        )
    )
    rows = []
    for rating, evaluator, pseudonym, trial, repeat_of, clip, score, fetched, received, waited in ratings:
        second = roles.get((trial, clip))
        if second not in (X, Y) or set(pairs[trial]) != {X, Y}:
            continue
        rows.append(
            {
                "rating": rating,
                "rater": pseudonym,
                "evaluator_id": evaluator,
                "sentence": sentences[trial],
                "x": pairs[trial][X],
                "y": pairs[trial][Y],
                "first": X if second == Y else Y,
                "score": score,
                "corrected": score if second == Y else -score,
                "trial": trial,
                "repeat_of": repeat_of,
                "original_trial": repeat_of or trial,
                "first_fetch_at": fetched,
                "received_at": received,
                "time_to_answer_ms": waited,
            }
        )
    return rows


def consistency(rows: list[dict]) -> dict:
    """Repeated judgements and how many gave the same corrected answer as the rater's original."""
    originals = {
        (row["evaluator_id"], row["trial"]): row["corrected"] for row in rows if row["repeat_of"] is None
    }
    repeats = [row for row in rows if row["repeat_of"] is not None]
    same = sum(originals.get((row["evaluator_id"], row["repeat_of"])) == row["corrected"] for row in repeats)
    return {"repeats": len(repeats), "same_answer": same}


def practice_pairs(pool: list[TestSample], count: int, rng: random.Random) -> list[list[TestSample]]:
    """Up to count practice pairs, each on a sentence not yet chosen and from the least used
    conditions, in random order (A first or B first)."""
    shapes = [[clip for clip, _ in shape] for shape in pair_trials(pool)]
    rng.shuffle(shapes)
    chosen: list[list[TestSample]] = []
    while shapes and len(chosen) < count:
        sentences = {pair[0].sample.sentence_key for pair in chosen}
        used = Counter(condition(clip.sample) for pair in chosen for clip in pair)
        best = min(
            shapes,
            key=lambda pair: (
                pair[0].sample.sentence_key in sentences,
                sum(used[condition(clip.sample)] for clip in pair),
            ),
        )
        shapes.remove(best)
        chosen.append(best[::-1] if rng.random() < 0.5 else best)
    return chosen
