"""The registry of test methods: a Method carries its behaviour, callers look it up by name and call it.

A method is one `register(Method(...))` call in its own module of this package, with its template:
how trials are built, the page, what an answer must hold, what its numbers are (the dashboard, the
background analysis, screening, progress, exports, the report, its per-clip score if it has one).
Services, views, the results pages and exports read the entry and never branch on a method's name,
as Django's password hashers are used. The fields up to `analyse` are required; every other one has a
default that fits a one-clip method whose answers are analysed by `analyse` alone (the defaults at the
end of this module). What methods share (sessions, screening, CrowdMOS, bootstrap, the tables of the
exports) lives outside this package and is called by the methods, never the other way round.
"""

import dataclasses
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Avg, Count
from django.utils import timezone

from annotations.models import ListeningTest, Rating, Scale, TestSample, Trial, TrialClip
from annotations.results import raters, stored, tables
from annotations.results import screening as screening_rules
from annotations.results.raters import Screening, Thresholds
from synthesis.models import Sample

# One trial as built: its clips in order, each with its role ("" when a trial has one clip).
TrialShape = list[tuple[TestSample, str]]
# sample id -> (mean score, votes) of one test's clips.
ClipScoreTable = dict[int, tuple[float, int]]
# The method a test takes when none is chosen (the model field's default).
DEFAULT_METHOD = "acr"


@dataclass(frozen=True)
class Answer:
    """One answer to store: the clip it is about, the dimension and the value on the test's scale, or
    (a method whose answer is typed, with score None) the text."""

    test_sample: TestSample
    dimension: str
    score: int | None
    text: str = ""


@dataclass(frozen=True)
class ClipScore:
    """What a method's absolute per-clip score is: the mean of one dimension's votes on a clip, on the
    test's scale, from the raters its screening keeps.

    `mos` says the score is a mean opinion score of absolute category ratings (ITU-T P.800/P.808): the
    quantity DNSMOS predicts and the design's MOS claims state. Other scores (a MUSHRA 0-100 score) are
    exported with their test and scale but never compared with a MOS.
    """

    name: str
    mos: bool
    # The dimension whose votes are averaged, from the test.
    dimension: Callable[[ListeningTest], str]


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


def check_on_scale(test: ListeningTest, scores: dict[str, object]) -> None:
    """ValueError naming the first answer that is missing or off the test's scale."""
    for name, score in scores.items():
        if not test.scale.contains(score):
            raise ValueError(
                f"{name}={score!r} is not on the scale {test.scale.name} "
                f"({test.scale.min_value} to {test.scale.max_value})"
            )


# --- the defaults of the results side: a method that analyses its answers itself ----------------


def own_dashboard(test: ListeningTest, thresholds: Thresholds, inline: bool | None) -> dict:
    """Screening, raters and the analysis of a test whose method analyses its answers itself.

    Computed on every update (one read of the answers); a rater its analysis excludes shows on the
    raters table with the reasons.
    """
    method = get_method(test.method)
    analysis = method.analyse(test)
    screening, votes = _own_screening(test, thresholds, analysis)
    rater_rows = raters.rater_rows(test, screening, votes)
    return {
        "thresholds": thresholds,
        "n_ratings": raters.ratings_version(test)[0],
        "inline": True,
        **raters.screening_context(test, screening, rater_rows),
        "analysis": analysis,
        "analysis_items": analysis_items(analysis),
        "screening_note": method.screening_note,
    }


def _own_screening(test: ListeningTest, thresholds: Thresholds, analysis: dict) -> tuple[Screening, dict]:
    """The screening an analysis brings ("screening": rater id -> {"reasons", "flags"}) and each rater's
    answers on test trials."""
    votes = dict(
        Rating.objects.originals()
        .filter(evaluator__test=test, dimension=test.rated_dimensions[0], trial__isnull=False)
        .order_by()
        .values("evaluator_id")
        .annotate(n=Count("id"))
        .values_list("evaluator_id", "n")
    )
    results = {
        int(rater): screening_rules.ScreeningResult(
            rater=int(rater),
            flags=tuple(data.get("flags", ())),
            reasons=tuple(data["reasons"]),
            n_test_votes=votes.get(int(rater), 0),
            variance=None,
            correlation=None,
        )
        for rater, data in analysis.get("screening", {}).items()
    }
    screening = Screening(
        results, thresholds, sum(votes.values()), "live", timezone.now(), test.min_rater_overlap
    )
    return screening, votes


def own_screening(test: ListeningTest, thresholds: Thresholds) -> Screening:
    return _own_screening(test, thresholds, get_method(test.method).analyse(test))[0]


def own_background(test: ListeningTest, thresholds: Thresholds) -> dict:
    """Computed inline on every page; stored too so the analysis record stays whole."""
    data = {"min_overlap": test.min_rater_overlap, "screening": {}, "screening_n_ratings": 0}
    data["method"] = get_method(test.method).analyse(test)
    return data


def analysis_items(analysis: dict) -> list[dict]:
    """A method's analysis as the generic section lists it: a figure per name, or a table for a list
    of rows (dicts), whose columns are the keys of its first row."""
    items = []
    for name, value in analysis.items():
        if isinstance(value, list) and value and all(isinstance(row, dict) for row in value):
            columns = list(value[0])
            rows = [[row.get(column) for column in columns] for row in value]
            items.append({"name": name, "columns": columns, "rows": rows})
        else:
            items.append({"name": name, "value": value})
    return items


def every_rating(test: ListeningTest, thresholds: Thresholds) -> tuple[tuple[str, ...], object]:
    """The tidy ratings CSV of a one-clip method: one row per rating, with its rater's flags."""
    return tables.RATING_COLUMNS, tables.rating_rows(test, get_method(test.method).screen(test, thresholds))


def analysis_summary_json(data: dict) -> dict:
    return tables.method_summary_json(data, data["analysis"])


def analysis_summary_rows(data: dict) -> tuple[tuple[str, ...], list[list]]:
    """The summary CSV of a method without a table of its own: the analysis in long form, one row per
    figure or table cell."""
    return tables.ANALYSIS_COLUMNS, tables.analysis_rows(data["test"], data["analysis_items"])


def no_charts(data: dict) -> dict:
    return {}


def live_or_stored(
    test: ListeningTest, thresholds: Thresholds, compute: Callable[[], Screening]
) -> Screening:
    """Screening computed now for tests up to the inline limit; above it the stored background one
    when it used these settings, else computed now: the exports, per-clip scores and claims never
    read a test whose screening is still pending."""
    if raters.ratings_version(test)[0] <= raters.inline_limit():
        return compute()
    screening = raters.stored_screening(test, stored.load_stored(test), thresholds)
    return compute() if screening.source == "pending" else screening


ALL_THRESHOLDS = tuple(f.name for f in dataclasses.fields(Thresholds))


@dataclass(frozen=True)
class Method:
    """A test method; see the module docstring."""

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
    # The method's analysis of a test's answers (plain JSON); the dashboard of a method without one
    # of its own shows it as it is.
    analyse: Callable[..., dict]
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
    # How the report describes the test's scale: every point with its label, unless the answer is a
    # slider (Scale.describe_continuous) or not a score at all.
    describe_scale: Callable[[Scale], str] = Scale.describe_points
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
    # The create page's settings that only some methods read, among them this one (CreateTestForm
    # field names): the page shows them under a heading naming those methods, its script hides them
    # while another method is chosen, and the form ignores them for other methods.
    form_fields: tuple[str, ...] = ()
    # What headings call the method ("ACR", "A/B"); empty: its name.
    short_title: str = ""

    # --- what its numbers are ---------------------------------------------------------------------
    # The absolute per-clip score its answers give, if any (ACR: a MOS; MUSHRA: a 0-100 score); pair
    # and transcription methods give none. Read per test, never pooled across tests or scales.
    clip_score: ClipScore | None = None
    # What one page of the test is called on the progress bars ("clips", "pairs", "pages") and how
    # its answers are counted; a page is done when ratings_per_sample raters answered it.
    progress_unit: str = "pages"
    progress_note: str = (
        "Counted per page (one answer by one rater each), on test pages only, before screening."
    )
    # The dashboard's data (test, thresholds, inline or None for "by the inline limit"): screening,
    # raters and the method's analysis; the facade adds the test, the method and the progress.
    dashboard: Callable[[ListeningTest, Thresholds, bool | None], dict] = own_dashboard
    # The background analysis stored for the test (plain JSON, "min_overlap" and "screening" in it).
    background: Callable[[ListeningTest, Thresholds], dict] = own_background
    # The screening the exports, per-clip scores and claims use.
    screen: Callable[[ListeningTest, Thresholds], Screening] = own_screening
    # Screening settings the method does not read (hidden on its dashboard's form).
    unused_thresholds: tuple[str, ...] = ALL_THRESHOLDS
    # The sections of the dashboard and the HTML report, in order (templates/results/_<name>.html);
    # "analysis" shows whatever analyse returns.
    sections: tuple[str, ...] = ("progress", "analysis", "method_raters")
    # The design part of the HTML report.
    report_design: str = "results/_design.html"
    # The tidy ratings CSV: (test, thresholds) -> (columns, rows).
    export_table: Callable[[ListeningTest, Thresholds], tuple] = every_rating
    # The summary CSV from the dashboard's data: (columns, rows); its rows match summary_json.
    summary_table: Callable[[dict], tuple] = analysis_summary_rows
    # The summary JSON from the dashboard's data.
    summary_json: Callable[[dict], dict] = analysis_summary_json
    # {name: svg} for the dashboard and the report.
    charts: Callable[[dict], dict] = no_charts
    # What the raters table says of screening when the analysis brings no thresholds of its own.
    screening_note: str = "No screening rule applies to these answers: every rater is kept."

    @property
    def short_name(self) -> str:
        return self.short_title or self.name

    def default_scale(self, language: str) -> str:
        return self.default_scales.get(language) or next(iter(self.default_scales.values()))

    def progress(self, test: ListeningTest, now: datetime | None = None) -> dict:
        """Answers collected against the target, counted as the test list counts them."""
        return raters.page_progress(test, unit=self.progress_unit, counted=self.progress_note, now=now)

    def clip_scores(self, test: ListeningTest, thresholds: Thresholds | None = None) -> ClipScoreTable:
        """sample id -> (mean, votes) of the test's test clips (conditions, not a hidden reference or an
        anchor) after its screening; {} for a method without a clip score."""
        if self.clip_score is None:
            return {}
        excluded = self.screen(test, thresholds or Thresholds()).excluded
        rows = (
            Rating.objects.originals()
            .filter(
                evaluator__test=test,
                dimension=self.clip_score.dimension(test),
                test_sample__test=test,
                test_sample__kind=TestSample.Kind.TEST,
                # A MUSHRA page's hidden reference and anchor are there to check the raters.
                test_sample__role=TestSample.Role.CONDITION,
                score__isnull=False,
            )
            .exclude(evaluator_id__in=excluded)
            .order_by()
            .values("sample_id")
            .annotate(mean=Avg("score"), n=Count("id"))
            .values_list("sample_id", "mean", "n")
        )
        return {sample: (float(mean), n) for sample, mean, n in rows}


METHODS: dict[str, Method] = {}


def register(method: Method) -> Method:
    METHODS[method.name] = method
    return method


def get_method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise LookupError(f"No test method named {name!r}; known: {', '.join(sorted(METHODS))}.") from None


def scoring_methods(*, mos: bool = False) -> list[str]:
    """Names of the methods whose answers give an absolute per-clip score (with mos: a MOS)."""
    return [m.name for m in METHODS.values() if m.clip_score and (m.clip_score.mos or not mos)]
