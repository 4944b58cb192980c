"""One registry of test methods: how trials are built, the page, what an answer must hold, the analysis.

A new method is one `register(Method(...))` call and one template; services and views read the
entry and never branch on a method's name.

Registered: "acr" (one clip per trial, a score per dimension), "cmos" (CCR, ITU-T P.800 Annex E)
and "ab" (A/B preference). The pair methods, whose rows annotations/pairs.py reads back:

- A trial is one sentence in two conditions (a condition is a sample's (system_label, style_label)):
  TrialClips with roles "X" (the condition that sorts first) and "Y". Every pair of distinct
  conditions on a sentence is one trial; no gold or trapping clips.
- Presentation order is the Assignment's clip_order: the first is clip "A" (played first), the
  second clip "B". Within one evaluator's session each pair of conditions is played X first and Y
  first equally often (an odd one out at random).
- One Rating per judgement, on the clip presented second (B): CMOS, dimension "cmos", -3..+3, how B
  compares with A; A/B, dimension "preference", -1 (A preferred), 0 (no preference, only where the
  test allows it), +1 (B preferred). Y relative to X is +score when the rated clip's role is "Y",
  else -score.
- A/B repeats: a share of each session's pairs (ListeningTest.repeat_share) is asked again later in
  the session in swapped order, as a Trial with repeat_of set (same clips and roles), built for that
  session only. Repeats never count towards the ratings target or the main statistics.
- Listening: both clips fetched whole and the sum of their durations passed since the first fetch.
"""

import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from annotations import pairs
from annotations.models import ListeningTest, Rating, Scale, TestSample, Trial, TrialClip
from annotations.results import stats
from synthesis.models import Sample

# One trial as built: its clips in order, each with its role ("" when a trial has one clip).
TrialShape = list[tuple[TestSample, str]]


@dataclass(frozen=True)
class Answer:
    """One score to store: the clip it is about, the dimension and the value on the test's scale."""

    test_sample: TestSample
    dimension: str
    score: int


def longest_clip(durations: list[float]) -> float:
    """A trial's listening time: its longest clip, the least anyone needs to hear every clip once."""
    return max(durations, default=0.0)


def every_clip(durations: list[float]) -> float:
    """A trial's listening time when its clips are heard one after the other: all of them."""
    return float(sum(durations))


def built_order(trials: list[Trial], rng: random.Random) -> dict[int, list[int]]:
    """Every trial's clips in the order they were built (a one-clip trial has nothing to order)."""
    return {trial.pk: [clip.pk for clip in trial.trial_clips.all()] for trial in trials}


def no_repeats(test: ListeningTest) -> float:
    return 0.0


def best_first(test: ListeningTest) -> list[tuple[int, str]]:
    """The scale's answers from the best down, as the ACR page lists them."""
    return list(reversed(test.scale.choices()))


def any_scale(scale: Scale) -> None:
    """Every scale fits."""


def any_samples(samples: list[Sample], practice: list[Sample]) -> None:
    """Every choice of clips makes trials."""


def varied_clips(clips: list[TestSample], count: int, rng: random.Random) -> list[TestSample]:
    """Up to count clips, each on a sentence not yet chosen and from the least used system and style.

    A sentence repeats only when there are fewer sentences than clips wanted.
    """
    pool = list(clips)
    rng.shuffle(pool)
    chosen: list[TestSample] = []
    while pool and len(chosen) < count:
        sentences = {clip.sample.sentence_key for clip in chosen}
        systems = Counter(clip.sample.system_label for clip in chosen)
        styles = Counter(clip.sample.style_label for clip in chosen)
        best = min(
            pool,
            key=lambda clip: (
                clip.sample.sentence_key in sentences,
                systems[clip.sample.system_label] + styles[clip.sample.style_label],
            ),
        )
        chosen.append(best)
        pool.remove(best)
    return chosen


def one_clip_practice(pool: list[TestSample], count: int, rng: random.Random) -> list[list[TestSample]]:
    return [[clip] for clip in varied_clips(pool, count, rng)]


@dataclass(frozen=True)
class Method:
    name: str
    title: str
    # The trials of one clip kind (test, gold or trap), built from that kind's clips.
    build_trials: Callable[[list[TestSample]], list[TrialShape]]
    template: str
    # The answer fields a page posts (as score-<name>); the first is the main one.
    questions: Callable[[ListeningTest], list[str]]
    # The scores to store for one answer; ValueError with a readable message when it is incomplete.
    validate: Callable[[ListeningTest, list[TrialClip], dict[str, int | None]], list[Answer]]
    analyse: Callable[[ListeningTest], dict]
    # Each trial's clips in the order one evaluator is presented them: {trial id: [TrialClip id, ...]},
    # for the trials of their session (prefetched trial_clips__test_sample__sample).
    order_clips: Callable[[list[Trial], random.Random], dict[int, list[int]]] = built_order
    # Seconds that must pass from the first audio fetch to an answer, from the trial's clip durations.
    listening_time: Callable[[list[float]], float] = longest_clip
    # Share of a session's trials asked again later in it, clips swapped, to measure consistency.
    repeat_share: Callable[[ListeningTest], float] = no_repeats
    # Practice trials from a pool of clips: up to count lists of clips in presentation order.
    practice: Callable[[list[TestSample], int, random.Random], list[list[TestSample]]] = one_clip_practice
    # The answers as the page lists them: (score, label).
    choices: Callable[[ListeningTest], list[tuple[int, str]]] = best_first
    # The scale a test takes when none is chosen, per interface language.
    default_scales: dict[str, str] = field(default_factory=lambda: {"en": "acr-en", "es": "acr-es"})
    # ValueError with a readable message when a scale's range cannot hold the method's answers.
    check_scale: Callable[[Scale], None] = any_scale
    # ValueError when the test clips (or the practice clips) make no trials, before audio is decoded.
    check_samples: Callable[[list[Sample], list[Sample]], None] = any_samples
    # The one question of a method that asks a fixed one (its Rating dimension); empty: the test's own.
    dimensions: tuple[str, ...] = ()
    # Gold and trapping clips check raters against a known score; a method without one refuses them.
    gold_and_traps: bool = True
    clips_per_trial: int = 1

    def default_scale(self, language: str) -> str:
        return self.default_scales.get(language) or next(iter(self.default_scales.values()))


METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    METHODS[method.name] = method
    return method


def get_method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise LookupError(f"No test method named {name!r}; known: {', '.join(sorted(METHODS))}.") from None


def check_on_scale(test: ListeningTest, scores: dict[str, int | None]) -> None:
    """ValueError naming the first answer that is missing or off the test's scale."""
    for name, score in scores.items():
        if not test.scale.contains(score):
            raise ValueError(
                f"{name}={score!r} is not on the scale {test.scale.name} "
                f"({test.scale.min_value} to {test.scale.max_value})"
            )


def mean_per_condition(test: ListeningTest) -> dict:
    """MOS-style summary of the main dimension per (system, style) condition, test clips only."""
    main = test.rated_dimensions[0]
    rows = Rating.objects.filter(
        evaluator__test=test, dimension=main, test_sample__kind=TestSample.Kind.TEST
    ).values_list("sample__system_label", "sample__style_label", "score")
    votes: dict[tuple[str, str], list[int]] = defaultdict(list)
    for system, style, score in rows:
        votes[(system, style)].append(score)
    return {
        "dimension": main,
        "scale": {"min": test.scale.min_value, "max": test.scale.max_value},
        "conditions": [
            {"system": system, "style": style, **stats.mos_summary(scores)}
            for (system, style), scores in sorted(votes.items())
        ],
    }


# -- ACR: absolute category rating, one clip per trial (ITU-T P.800 / P.808) --------------------


def _acr_trials(clips: list[TestSample]) -> list[TrialShape]:
    return [[(clip, "")] for clip in clips]


def _acr_validate(test: ListeningTest, clips: list[TrialClip], scores: dict[str, int | None]) -> list[Answer]:
    wanted = {dimension: scores.get(dimension) for dimension in test.rated_dimensions}
    check_on_scale(test, wanted)
    clip = clips[0].test_sample
    return [Answer(clip, dimension, score) for dimension, score in wanted.items()]


ACR = register(
    Method(
        name="acr",
        title="Absolute category rating (one clip per page)",
        build_trials=_acr_trials,
        template="annotations/rate.html",
        questions=lambda test: test.rated_dimensions,
        validate=_acr_validate,
        analyse=mean_per_condition,
    )
)


# -- CMOS and A/B preference: one sentence in two conditions per trial --------------------------


def _pair_answer(
    test: ListeningTest, clips: list[TrialClip], scores: dict[str, int | None], dimension: str
) -> Answer:
    """The one judgement of a pair, stored on the clip presented second (B)."""
    wanted = {dimension: scores.get(dimension)}
    check_on_scale(test, wanted)
    if len(clips) != 2:
        raise ValueError(f"a pair trial holds two clips, this one {len(clips)}")
    return Answer(clips[1].test_sample, dimension, wanted[dimension])


def _ab_validate(test: ListeningTest, clips: list[TrialClip], scores: dict[str, int | None]) -> list[Answer]:
    answer = _pair_answer(test, clips, scores, "preference")
    if answer.score == 0 and not test.allow_no_preference:
        raise ValueError("this test asks for a choice between A and B; 'no preference' is not an answer")
    return [answer]


def _centred_scale(scale: Scale) -> None:
    # Five points at least: a -1..+1 scale is a preference, not a comparison category rating.
    if not (scale.max_value >= 2 and scale.min_value == -scale.max_value):
        raise ValueError(
            f"The scale {scale.name} runs from {scale.min_value} to {scale.max_value}, but a CMOS answer "
            "rates the second sample against the first on a scale centred on 0, as ccr-en and ccr-es "
            "(-3 to +3) do."
        )


def _preference_scale(scale: Scale) -> None:
    if (scale.min_value, scale.max_value) != (-1, 1):
        raise ValueError(
            f"The scale {scale.name} runs from {scale.min_value} to {scale.max_value}, but an A/B answer "
            "is -1 (A), 0 (no preference) or +1 (B), as on ab-en and ab-es."
        )


def _ab_choices(test: ListeningTest) -> list[tuple[int, str]]:
    return [(value, label) for value, label in test.scale.choices() if value != 0 or test.allow_no_preference]


CMOS = register(
    Method(
        name="cmos",
        title="CMOS: comparison category rating of pairs (ITU-T P.800 Annex E)",
        build_trials=pairs.pair_trials,
        template="annotations/methods/cmos.html",
        questions=lambda test: ["cmos"],
        validate=lambda test, clips, scores: [_pair_answer(test, clips, scores, "cmos")],
        analyse=pairs.cmos_summary,
        order_clips=pairs.balanced_orders,
        listening_time=every_clip,
        practice=pairs.practice_pairs,
        choices=lambda test: test.scale.choices(),
        default_scales={"en": "ccr-en", "es": "ccr-es"},
        check_scale=_centred_scale,
        check_samples=pairs.check_pair_samples,
        dimensions=("cmos",),
        gold_and_traps=False,
        clips_per_trial=2,
    )
)

AB = register(
    Method(
        name="ab",
        title="A/B preference of pairs",
        build_trials=pairs.pair_trials,
        template="annotations/methods/ab.html",
        questions=lambda test: ["preference"],
        validate=_ab_validate,
        analyse=pairs.preference_summary,
        order_clips=pairs.balanced_orders,
        listening_time=every_clip,
        repeat_share=lambda test: test.repeat_share,
        practice=pairs.practice_pairs,
        choices=_ab_choices,
        default_scales={"en": "ab-en", "es": "ab-es"},
        check_scale=_preference_scale,
        check_samples=pairs.check_pair_samples,
        dimensions=("preference",),
        gold_and_traps=False,
        clips_per_trial=2,
    )
)
