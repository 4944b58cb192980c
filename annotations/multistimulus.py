"""MUSHRA-style multi-stimulus pages (ITU-R BS.1534): building them, ordering them, reading answers back.

The data contract the analysis reads (`mushra_judgements`):

- A condition is a sample's (system_label, style_label). A trial is one sentence with every
  condition of it among the test clips (TrialClip role "condition") and, when the test names a
  reference system (ListeningTest.reference_system), that system's sample of the sentence (role
  "reference": the hidden reference, shown as one more sample) and, with ListeningTest.with_anchor,
  the anchor (role "anchor"): the reference low-passed at 3.5 kHz when the test was created, a Sample
  of its own with system_label ANCHOR_SYSTEM, the reference's sentence, text and style. The clips'
  TestSample.role says "reference" or "anchor" too ("" for a condition). At most MAX_STIMULI a page.
- Each evaluator hears a trial's samples in an order of their own (Assignment.clip_order), named
  "Sample 1" to "Sample N" by their place only. The reference is also played labelled, under its
  TestSample.open_token; those requests are ClipFetch rows with labelled_reference set and count for
  nothing (not as hearing the hidden reference).
- One Rating per sample and answer: dimension "mushra", score 0..100 on the scale "mushra-en" or
  "mushra-es" (one label per score: its BS.1534 band, Bad 0-19, Poor 20-39, Fair 40-59, Good 60-79,
  Excellent 80-100). Every sample must be fetched whole and the longest one's duration must pass
  from the first fetch before an answer is stored.
"""

import random
from collections import defaultdict
from collections.abc import Callable, Iterable

from annotations.models import Assignment, ListeningTest, Rating, TestSample, Trial, TrialClip
from synthesis.models import Sample

DIMENSION = "mushra"
REFERENCE, ANCHOR, CONDITION = "reference", "anchor", "condition"
ANCHOR_SYSTEM = "anchor-lp3.5k"
# BS.1534 advises no more than 12 signals on a page, hidden reference and anchor included.
MAX_STIMULI = 12
MAX_CONDITIONS = MAX_STIMULI - 2
# A MUSHRA page is long: one practice page is enough to learn the sliders.
MAX_PRACTICE_PAGES = 1
Condition = tuple[str, str]


def condition(sample: Sample) -> Condition:
    return (sample.system_label, sample.style_label)


def _by_sentence(items: Iterable, sample_of: Callable) -> dict[str, list]:
    """sentence key -> items, sentences in order of first appearance."""
    groups: dict[str, list] = {}
    for item in items:
        groups.setdefault(sample_of(item).sentence_key, []).append(item)
    return groups


def _role_of(clip: TestSample) -> str:
    return {TestSample.Role.REFERENCE: REFERENCE, TestSample.Role.ANCHOR: ANCHOR}.get(clip.role, CONDITION)


def mushra_trials(clips: list[TestSample]) -> list[list[tuple[TestSample, str]]]:
    """One trial per sentence: its reference, its anchor, then its conditions in sorted order."""
    trials = []
    rank = {REFERENCE: 0, ANCHOR: 1, CONDITION: 2}
    for group in _by_sentence(clips, lambda clip: clip.sample).values():
        ordered = sorted(group, key=lambda clip: (rank[_role_of(clip)], condition(clip.sample)))
        trials.append([(clip, _role_of(clip)) for clip in ordered])
    return trials


def shuffled_orders(trials: list[Trial], rng: random.Random) -> dict[int, list[int]]:
    """Per trial id, its TrialClip ids in an order of this evaluator's own."""
    orders = {}
    for trial in trials:
        order = [clip.pk for clip in trial.trial_clips.all()]
        rng.shuffle(order)
        orders[trial.pk] = order
    return orders


def practice_pages(pool: list[TestSample], count: int, rng: random.Random) -> list[list[TestSample]]:
    """Up to one practice page: a sentence of the pool said in two conditions or more, shuffled."""
    groups = [
        group
        for group in _by_sentence(pool, lambda clip: clip.sample).values()
        if len({condition(clip.sample) for clip in group if _role_of(clip) == CONDITION}) > 1
    ]
    rng.shuffle(groups)
    pages = [list(group) for group in groups[: min(count, MAX_PRACTICE_PAGES)]]
    for page in pages:
        rng.shuffle(page)
    return pages


# -- checks when a test is created ---------------------------------------------------------------


def check_samples(samples: list[Sample], practice: list[Sample]) -> None:
    """ValueError naming the sentences that make no MUSHRA page: one condition, one twice, or too many.

    samples and practice are the conditions only (the reference system's samples left out).
    """
    groups = _by_sentence(samples, lambda sample: sample)
    for group in groups.values():
        conditions = [condition(sample) for sample in group]
        doubled = sorted({c for c in conditions if conditions.count(c) > 1})
        if doubled:
            system, style = doubled[0]
            raise ValueError(
                f"{_sentence(group[0])} has more than one clip by {system} in style {style or '–'}: a MUSHRA "
                "page holds one clip per condition (system, style). Choose runs that do not repeat a system "
                "and style."
            )
        if len(conditions) > MAX_CONDITIONS:
            raise ValueError(
                f"{_sentence(group[0])} is said in {len(conditions)} conditions; a MUSHRA page holds at most "
                f"{MAX_CONDITIONS} besides the reference and the anchor (ITU-R BS.1534 advises no more than "
                f"{MAX_STIMULI} samples a page). Choose fewer runs or systems."
            )
    lonely = [group[0] for group in groups.values() if len(group) < 2]
    if lonely:
        system, style = condition(lonely[0])
        raise ValueError(
            f"{len(lonely)} of {len(groups)} sentence(s) are said in one condition only, e.g. "
            f"{_sentence(lonely[0])} by {system} in style {style or '–'}. A MUSHRA page compares one "
            "sentence in at least two conditions (system, style), the reference not counted; choose runs "
            "or systems that say each sentence in at least two."
        )
    if practice and not any(len(group) > 1 for group in _by_sentence(practice, lambda s: s).values()):
        raise ValueError(
            "The practice clips make no MUSHRA page: tick clips of one sentence in at least two conditions "
            "(system, style), or none to practise on spare test clips."
        )


def pick_references(
    conditions: list[Sample], references: list[Sample], reference_system: str, *, required: bool = True
) -> list[Sample]:
    """The reference samples the pages need, one per sentence; ValueError for a sentence with two or,
    when required, for a sentence with none.

    References of sentences no condition says are left out: they would make no page. Practice pages
    (required=False) may go without a reference.
    """
    if not reference_system or not (conditions or required):
        return []
    if not references and required:
        raise ValueError(
            f"No chosen sample is by the reference system {reference_system!r}: choose the runs or imported "
            "system that hold it, or no reference system."
        )
    by_sentence = _by_sentence(references, lambda sample: sample)
    for group in by_sentence.values():
        if len(group) > 1:
            raise ValueError(
                f"The reference system {reference_system!r} has {len(group)} clips of {_sentence(group[0])}; "
                "a MUSHRA page holds one reference. Choose one of them (e.g. one style)."
            )
    needed = _by_sentence(conditions, lambda sample: sample)
    missing = [group[0] for key, group in needed.items() if key not in by_sentence]
    if missing and required:
        raise ValueError(
            f"The reference system {reference_system!r} has no clip of {len(missing)} of {len(needed)} "
            f"sentence(s), e.g. {_sentence(missing[0])}. Every page needs its reference: import the "
            "missing recordings, or choose no reference system."
        )
    return [group[0] for key, group in by_sentence.items() if key in needed]


def _sentence(sample: Sample) -> str:
    text = " ".join(sample.text.split())
    return f"“{text[:60]}…”" if len(text) > 60 else f"“{text}”" if text else f"sample {sample.pk}"


# -- reading the answers -------------------------------------------------------------------------


def mushra_judgements(test: ListeningTest) -> list[dict]:
    """One row per stored MUSHRA score of the test's test trials, each rater's in the order answered.

    Keys: rating, rater (pseudonym), evaluator_id, trial, sentence (sentence key), sample (Sample id),
    system, style, condition ((system, style); the anchor's system is ANCHOR_SYSTEM), role
    ("reference", "anchor" or "condition"), score (0..100), position (the sample's place on the
    rater's page, from 1: "Sample 1" ...), stimuli (samples on the page), first_fetch_at (the first
    fetch of any of the page's samples), received_at, time_to_answer_ms.
    """
    clips = TrialClip.objects.filter(trial__test=test, trial__kind=TestSample.Kind.TEST).values_list(
        "pk",
        "trial_id",
        "test_sample_id",
        "role",
        "test_sample__sample_id",
        "test_sample__sample__sentence_id",
        "test_sample__sample__text",
        "test_sample__sample__system_label",
        "test_sample__sample__style_label",
    )
    by_clip: dict[tuple[int, int], tuple[int, dict]] = {}
    sizes: dict[int, int] = defaultdict(int)
    for pk, trial, clip, role, sample, sentence, text, system, style in clips:
        sizes[trial] += 1
        by_clip[(trial, clip)] = (
            pk,
            {
                "sentence": Sample.key_for(sample, sentence, text),
                "sample": sample,
                "system": system,
                "style": style,
                "condition": (system, style),
                "role": role,
            },
        )
    places = _places(test)
    ratings = (
        Rating.objects.originals()
        .filter(evaluator__test=test, dimension=DIMENSION, trial_id__in=list(sizes))
        .order_by("evaluator_id", "created_at", "id")
        .values_list(
            "id",
            "evaluator_id",
            "evaluator__pseudonym",
            "trial_id",
            "test_sample_id",
            "score",
            "first_fetch_at",
            "received_at",
            "time_to_answer_ms",
        )
    )
    rows = []
    for rating, evaluator, pseudonym, trial, clip, score, fetched, received, waited in ratings:
        if (trial, clip) not in by_clip:
            continue
        trial_clip, stimulus = by_clip[(trial, clip)]
        rows.append(
            {
                "rating": rating,
                "rater": pseudonym,
                "evaluator_id": evaluator,
                "trial": trial,
                **stimulus,
                "score": score,
                "position": places.get((evaluator, trial), {}).get(trial_clip),
                "stimuli": sizes[trial],
                "first_fetch_at": fetched,
                "received_at": received,
                "time_to_answer_ms": waited,
            }
        )
    return rows


def _places(test: ListeningTest) -> dict[tuple[int, int], dict[int, int]]:
    """(evaluator id, trial id) -> TrialClip id -> its place on that evaluator's page, from 1."""
    rows = Assignment.objects.filter(evaluator__test=test).values_list(
        "evaluator_id", "trial_id", "clip_order"
    )
    return {(evaluator, trial): {pk: i for i, pk in enumerate(order, 1)} for evaluator, trial, order in rows}
