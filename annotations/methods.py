"""One registry of test methods: how trials are built, the page, what an answer must hold, the analysis.

A new method is one `register(Method(...))` call, one template and its analysis function; services,
views, the results dashboard, report and exports read the entry and never branch on a method's name.

Registered: "acr" (one clip per trial, a score per dimension), "cmos" (CCR, ITU-T P.800 Annex E),
"ab" (A/B preference), "intelligibility" (one clip, the listener types what they heard, plays
limited; its contract is in annotations/intelligibility.py) and "mushra" (one sentence in every
condition on one page, hidden reference and anchor, 0-100 sliders, ITU-R BS.1534; its contract is in
annotations/multistimulus.py). The pair methods, whose rows annotations/pairs.py reads back:

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

from django.utils.translation import gettext_lazy as _

from annotations import intelligibility, multistimulus, pairs
from annotations.models import ListeningTest, Rating, Scale, TestSample, Trial, TrialClip
from annotations.results import intelligibility_results, mushra_results, pair_results, stats
from synthesis.models import Sample

# One trial as built: its clips in order, each with its role ("" when a trial has one clip).
TrialShape = list[tuple[TestSample, str]]


@dataclass(frozen=True)
class Answer:
    """One answer to store: the clip it is about, the dimension and the value on the test's scale, or
    (a method whose answer is typed, with score None) the text."""

    test_sample: TestSample
    dimension: str
    score: int | None
    text: str = ""


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


def scored_scale(scale: Scale) -> None:
    """Every scale of two points or more fits; a one-point scale holds no rating."""
    if scale.min_value == scale.max_value:
        raise ValueError(
            f"The scale {scale.name} has a single point ({scale.min_value}): it is for answers that are "
            "not scores (intelligibility), and holds no rating."
        )


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
    """A test method: the fields up to analyse are required, every other one has a default that fits
    a one-clip method, its answers analysed and shown by analyse alone."""

    name: str
    title: str
    # The trials of one clip kind (test, gold or trap), built from that kind's clips.
    build_trials: Callable[[list[TestSample]], list[TrialShape]]
    template: str
    # The answer fields a page posts (as score-<name>, or text-<name> for typed answers); the first
    # is the main one.
    questions: Callable[[ListeningTest], list[str]]
    # The answers to store for one answer posted, from the trial's clips in the order shown and the
    # value of each question (see answer_kind); ValueError with a readable message when incomplete.
    validate: Callable[[ListeningTest, list[TrialClip], dict[str, object]], list[Answer]]
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
    check_scale: Callable[[Scale], None] = scored_scale
    # ValueError when the test clips (or the practice clips) make no trials, before audio is decoded.
    check_samples: Callable[[list[Sample], list[Sample]], None] = any_samples
    # The one question of a method that asks a fixed one (its Rating dimension); empty: the test's own.
    dimensions: tuple[str, ...] = ()
    # Gold and trapping clips check raters against a known score; a method without one refuses them.
    gold_and_traps: bool = True
    # Clips on every page (0: it varies, as on a MUSHRA page); a page of two gets the pair messages.
    clips_per_trial: int = 1
    # What a page posts per question: "choice" (one integer), "text" (typed text, as text-<name>) or
    # "per_clip" (one integer per clip in the order shown, empty where none was given).
    answer_kind: str = "choice"
    # Plays of each clip an evaluator is allowed unless the test says otherwise, counted from the
    # server's fetches; 0: the method limits nothing, and its page may replay from the browser's copy.
    max_plays: int = 0
    # The method takes a reference system: its sample of each sentence is the reference, from which an
    # anchor may be made (MUSHRA).
    takes_reference: bool = False
    # Messages for refused answers (RatingRefused codes) where the method's page needs its own words.
    refusals: dict = field(default_factory=dict)
    # What the create page says of how the clips listed are used, for a method without gold clips.
    clip_note: str = ""
    # How the results side reads the answers: "own" (analyse(test) on every page, its own screening),
    # "pairs" (analyse(test, *, excluded, judgements) after the pair screening, inline or from the
    # background analysis) or "mos" (MOS per condition and dimension with screening and the background
    # analysis; analyse is a plain summary).
    results: str = "own"
    # The sections of the dashboard and the HTML report, in order (templates/results/_<name>.html);
    # "analysis" shows whatever analyse returns.
    sections: tuple[str, ...] = ("progress", "analysis", "method_raters")
    # The design part of the HTML report.
    report_design: str = "results/_design.html"
    # Dotted path of (test) -> (columns, rows) for the tidy ratings CSV; empty: one row per rating.
    export_rows: str = ""
    # Dotted path of (dashboard data) -> (columns, rows) for the summary CSV; empty: one row per
    # condition, dimension and screening state (MOS).
    summary_rows: str = ""
    # Dotted path of (dashboard data) -> {name: svg} for the dashboard and report charts; empty: none.
    charts: str = ""
    # What the raters table says of screening when the analysis brings no thresholds of its own.
    screening_note: str = "No screening rule applies to these answers: every rater is kept."

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


def check_on_scale(test: ListeningTest, scores: dict[str, object]) -> None:
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


def _acr_validate(test: ListeningTest, clips: list[TrialClip], scores: dict[str, object]) -> list[Answer]:
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
        results="mos",
        charts="annotations.results.charts.mos_charts",
        sections=(
            "progress",
            "mos",
            "dimensions",
            "distribution",
            "comparisons",
            "raters",
            "agreement",
            "background",
        ),
    )
)


# -- CMOS and A/B preference: one sentence in two conditions per trial --------------------------


PAIR_NOTE = (
    "Pairs are built from the clips listed: for each sentence, every two conditions (system, style) make "
    "one pair, heard in either order equally often by each evaluator. Every sentence needs clips in at "
    "least two conditions. Pair tests take no gold or trapping clips; clips ticked for practice make "
    "practice pairs (tick one sentence in two conditions), and without any, spare clips are used."
)


def _pair_answer(
    test: ListeningTest, clips: list[TrialClip], scores: dict[str, object], dimension: str
) -> Answer:
    """The one judgement of a pair, stored on the clip presented second (B)."""
    wanted = {dimension: scores.get(dimension)}
    check_on_scale(test, wanted)
    if len(clips) != 2:
        raise ValueError(f"a pair trial holds two clips, this one {len(clips)}")
    return Answer(clips[1].test_sample, dimension, wanted[dimension])


def _ab_validate(test: ListeningTest, clips: list[TrialClip], scores: dict[str, object]) -> list[Answer]:
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
        analyse=pair_results.cmos_results,
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
        clip_note=PAIR_NOTE,
        results="pairs",
        sections=("progress", "cmos", "ranking", "pair_raters", "pair_background"),
        report_design="results/_cmos_design.html",
        summary_rows="annotations.results.exports.cmos_summary_table",
        charts="annotations.results.charts.cmos_charts",
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
        analyse=pair_results.ab_results,
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
        clip_note=PAIR_NOTE,
        results="pairs",
        sections=("progress", "preference", "consistency", "ranking", "pair_raters", "pair_background"),
        report_design="results/_ab_design.html",
        summary_rows="annotations.results.exports.ab_summary_table",
        charts="annotations.results.charts.preference_charts",
    )
)


# -- Intelligibility: one clip, the listener types what they heard ------------------------------


TRANSCRIPTION_NOTE = (
    "Every clip listed is one page: the listener types what they heard, the clip's text being the "
    "reference it is scored against (so every clip needs one). Intelligibility tests take no gold or "
    "trapping clips; clips ticked for practice come first, and without any, spare clips are used."
)


def _transcript(test: ListeningTest, clips: list[TrialClip], scores: dict[str, object]) -> list[Answer]:
    text = intelligibility.clean_transcript(scores.get(intelligibility.DIMENSION))
    return [Answer(clips[0].test_sample, intelligibility.DIMENSION, None, text=text)]


def _one_point_scale(scale: Scale) -> None:
    if scale.min_value != scale.max_value:
        raise ValueError(
            f"The scale {scale.name} runs from {scale.min_value} to {scale.max_value}, but an "
            "intelligibility answer is typed text, not a score: choose transcription-en or "
            "transcription-es, whose title is the question asked."
        )


INTELLIGIBILITY = register(
    Method(
        name="intelligibility",
        title="Intelligibility: type what you heard (plays limited)",
        build_trials=_acr_trials,
        template="annotations/methods/intelligibility.html",
        questions=lambda test: [intelligibility.DIMENSION],
        validate=_transcript,
        analyse=intelligibility_results.intelligibility_results,
        choices=lambda test: [],
        default_scales={"en": "transcription-en", "es": "transcription-es"},
        check_scale=_one_point_scale,
        check_samples=intelligibility.check_samples,
        dimensions=(intelligibility.DIMENSION,),
        gold_and_traps=False,
        answer_kind="text",
        max_plays=intelligibility.DEFAULT_MAX_PLAYS,
        clip_note=TRANSCRIPTION_NOTE,
        sections=("progress", "intelligibility", "method_raters"),
        export_rows="annotations.results.exports.intelligibility_table",
        charts="annotations.results.charts.intelligibility_charts",
        screening_note="No screening rule applies to transcripts: every rater is kept.",
        refusals={
            "bad_score": _("Please type what you heard (at most 500 characters)."),
            "not_played": _("Please listen to the clip to the end before sending what you heard."),
        },
    )
)


# -- MUSHRA: one sentence in every condition on one page, 0-100 sliders (ITU-R BS.1534) ---------


MUSHRA_NOTE = (
    "Each sentence is one page holding its clip in every condition (system, style) listed, at most "
    f"{multistimulus.MAX_CONDITIONS}, and, with a reference system, that system's clip as the hidden "
    "reference and its low-passed copy as the anchor. Every sentence needs at least two conditions "
    "besides the reference. MUSHRA tests take no gold or trapping clips; clips ticked for practice make "
    "one practice page, and without any, a spare sentence is used."
)


def _mushra_validate(test: ListeningTest, clips: list[TrialClip], scores: dict[str, object]) -> list[Answer]:
    values = scores.get(multistimulus.DIMENSION)
    values = values if isinstance(values, list) else []
    if len(values) != len(clips):
        raise ValueError(
            f"a MUSHRA answer holds one score per sample: {len(clips)} wanted, {len(values)} sent"
        )
    unrated = [place for place, value in enumerate(values, 1) if value is None]
    if unrated:
        raise ValueError(f"sample(s) {', '.join(map(str, unrated))} have no score yet")
    check_on_scale(test, {f"sample {place}": value for place, value in enumerate(values, 1)})
    return [
        Answer(clip.test_sample, multistimulus.DIMENSION, value)
        for clip, value in zip(clips, values, strict=True)
    ]


def _hundred_points(scale: Scale) -> None:
    if (scale.min_value, scale.max_value) != (0, 100):
        raise ValueError(
            f"The scale {scale.name} runs from {scale.min_value} to {scale.max_value}, but a MUSHRA slider "
            "runs from 0 to 100 (ITU-R BS.1534), as on mushra-en and mushra-es."
        )


MUSHRA = register(
    Method(
        name="mushra",
        title="MUSHRA: every condition of a sentence on one page, 0-100 sliders (ITU-R BS.1534)",
        build_trials=multistimulus.mushra_trials,
        template="annotations/methods/mushra.html",
        questions=lambda test: [multistimulus.DIMENSION],
        validate=_mushra_validate,
        analyse=mushra_results.mushra_results,
        order_clips=multistimulus.shuffled_orders,
        practice=multistimulus.practice_pages,
        choices=lambda test: test.scale.choices(),
        default_scales={"en": "mushra-en", "es": "mushra-es"},
        check_scale=_hundred_points,
        check_samples=multistimulus.check_samples,
        dimensions=(multistimulus.DIMENSION,),
        gold_and_traps=False,
        clips_per_trial=0,
        answer_kind="per_clip",
        takes_reference=True,
        clip_note=MUSHRA_NOTE,
        sections=("progress", "mushra", "method_raters"),
        export_rows="annotations.results.exports.mushra_table",
        charts="annotations.results.charts.mushra_charts",
        refusals={
            "not_assigned": _("This page is not part of your session. Please reload the page."),
            "bad_score": _("Please rate every sample: move each slider to your score."),
            "not_played": _("Please listen to every sample to the end before going on."),
            "not_fetched": _(
                "Your browser has not loaded every sample from the server yet. "
                "Please play each of them again to the end, then go on."
            ),
            "too_soon": _(
                "Please listen to every sample in full before going on: play them again to the end, "
                "then send your scores."
            ),
        },
    )
)
