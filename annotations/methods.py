"""One registry of test methods: how trials are built, the page, what an answer must hold, the analysis.

A new method is one `register(Method(...))` call and one template; services and views read the
entry and never branch on a method's name.
"""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from annotations.models import ListeningTest, Rating, TestSample, TrialClip
from annotations.results import stats

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
    # Shuffle a trial's clips per evaluator (A/B order); a one-clip trial has nothing to shuffle.
    shuffle_clips: bool = False
    # Seconds that must pass from the first audio fetch to an answer, from the trial's clip durations.
    listening_time: Callable[[list[float]], float] = longest_clip


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
