"""Who rated a test and whether their answers count: screening settings, screening, raters, progress.

Shared by every test method: a method passes what differs (its listening time per page, its pair
judgements) and never the other way round. Screening judges each evaluator on the test's main (first)
dimension and, when it flags them, drops all their votes in every dimension ("after screening").
"""

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Max, Min, Q, QuerySet
from django.utils import timezone

from annotations.headphone_screen import screen_results
from annotations.listening_check import guess_pass_probability
from annotations.models import ListeningTest, Rating, TestSample, Trial, TrialClip
from annotations.results import screening as screening_rules

DEFAULT_INLINE_LIMIT = 50_000


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """Screening settings; None turns a rule off. Why these defaults: results.views.ScreeningForm."""

    min_variance: float | None = 0.1
    min_correlation: float | None = 0.25
    gold_tolerance: float = 1.0
    # The timing rules, on the server's timings of each answer (screening.TimingRules).
    answer_margin_s: float | None = 0.5
    at_minimum_share: float = 0.8
    min_clips_without_replay: int | None = 40
    session_margin: float | None = 0.1

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    def timing_rules(self) -> screening_rules.TimingRules:
        return screening_rules.TimingRules(
            answer_margin_s=self.answer_margin_s,
            at_minimum_share=self.at_minimum_share,
            min_clips_without_replay=self.min_clips_without_replay,
            session_margin=self.session_margin,
        )

    @staticmethod
    def add_arguments(parser) -> None:
        """The screening options of the management commands ("off" turns a rule off)."""
        parser.add_argument("--min-variance", type=_number_or_off, default=0.1, help="Default 0.1; 'off'.")
        parser.add_argument(
            "--min-correlation", type=_number_or_off, default=0.25, help="Default 0.25; 'off'."
        )
        parser.add_argument("--gold-tolerance", type=float, default=1.0, help="Default 1.")
        parser.add_argument(
            "--answer-margin", type=_number_or_off, default=0.5, help="Seconds; default 0.5; 'off'."
        )
        parser.add_argument("--at-minimum-share", type=float, default=0.8, help="Default 0.8.")
        parser.add_argument(
            "--min-clips-without-replay", type=_integer_or_off, default=40, help="Default 40; 'off'."
        )
        parser.add_argument("--session-margin", type=_number_or_off, default=0.1, help="Default 0.1; 'off'.")

    @classmethod
    def from_options(cls, options: dict) -> "Thresholds":
        return cls(
            options["min_variance"],
            options["min_correlation"],
            options["gold_tolerance"],
            answer_margin_s=options["answer_margin"],
            at_minimum_share=options["at_minimum_share"],
            min_clips_without_replay=options["min_clips_without_replay"],
            session_margin=options["session_margin"],
        )


def _number_or_off(value: str) -> float | None:
    return None if value.lower() == "off" else float(value)


def _integer_or_off(value: str) -> int | None:
    return None if value.lower() == "off" else int(value)


@dataclasses.dataclass(frozen=True)
class Screening:
    """Screening of a test's evaluators (by id) and where it came from: live, background or pending."""

    results: dict
    thresholds: Thresholds
    n_ratings: int
    source: str
    computed_at: datetime | None = None
    min_overlap: int = 5  # the test's setting: shared clips the correlation rule needs

    @property
    def excluded(self) -> set[int]:
        return {rater for rater, result in self.results.items() if result.excluded}


def inline_limit() -> int:
    return int(getattr(settings, "SARAI_RESULTS_INLINE_LIMIT", DEFAULT_INLINE_LIMIT))


def test_ratings(test: ListeningTest) -> QuerySet:
    """Every rating of the test, unordered (ordering would cost a sort on large tests)."""
    return Rating.objects.filter(evaluator__test=test).order_by()


def clip_kinds(test: ListeningTest) -> dict[int, tuple[str, int | None]]:
    """sample id -> (clip kind, expected score for gold / instructed score for trapping clips)."""
    rows = test.test_samples.values_list("sample_id", "kind", "expected_score", "instructed_score")
    return {sample: (kind, expected or instructed) for sample, kind, expected, instructed in rows}


def scored_ratings(test: ListeningTest, kinds: dict | None = None) -> QuerySet:
    """Ratings of test clips only (gold and trapping clips never count towards MOS)."""
    kinds = clip_kinds(test) if kinds is None else kinds
    others = [sample for sample, (kind, _) in kinds.items() if kind != TestSample.Kind.TEST]
    ratings = test_ratings(test)
    return ratings.exclude(sample_id__in=others) if others else ratings


def ratings_version(test: ListeningTest) -> tuple[int, int]:
    """(number of ratings, highest rating id): changes whenever a rating is added or removed."""
    row = test_ratings(test).aggregate(n=Count("id"), last=Max("id"))
    return row["n"], row["last"] or 0


def compute_screening(
    test: ListeningTest,
    thresholds: Thresholds,
    *,
    listening_time: Callable[[list[float]], float],
    correlation: bool = True,
    extra_flags: dict | None = None,
) -> Screening:
    """screen_raters over the main-dimension votes of every clip kind, straight from the database.

    The method passes what differs: listening_time (seconds a page needs from its clip durations),
    whether the correlation rule applies (not to pair answers, see annotations.methods.paired) and
    flags of its own rules per rater (the A/B consistency on repeated pairs).
    """
    kinds = clip_kinds(test)
    gold = {s: target for s, (kind, target) in kinds.items() if kind == TestSample.Kind.GOLD}
    traps = {s: target for s, (kind, target) in kinds.items() if kind == TestSample.Kind.TRAP}
    values = test_ratings(test).filter(dimension=test.rated_dimensions[0])
    values = values.values_list("evaluator_id", "sample_id", "score", "played_to_end")
    rows = [
        (rater, sample, score, played, kinds[sample][0])
        for rater, sample, score, played in values.iterator(chunk_size=10_000)
        if kinds.get(sample, ("training",))[0] in screening_rules.KINDS
    ]
    screened = [sample for sample, (kind, _) in kinds.items() if kind in screening_rules.KINDS]
    results = screening_rules.screen_raters(
        rows,
        gold=gold,
        traps=traps,
        min_variance=thresholds.min_variance,
        min_correlation=thresholds.min_correlation if correlation else None,
        gold_tolerance=thresholds.gold_tolerance,
        min_overlap=test.min_rater_overlap,
        answers=screening_answers(test, screened, listening_time),
        timing=thresholds.timing_rules(),
        extra_flags=extra_flags or {},
    )
    return Screening(results, thresholds, len(rows), "live", timezone.now(), test.min_rater_overlap)


def screening_answers(
    test: ListeningTest, samples: list[int], listening_time: Callable[[list[float]], float]
) -> list[screening_rules.Answer]:
    """One Answer per answered trial (main dimension, these clips): server timings from one GROUP BY.

    Ratings without a trial were imported; they form one untimed answer per evaluator.
    """
    durations: dict[int, list[float]] = defaultdict(list)
    clips = TrialClip.objects.filter(trial__test=test).values_list(
        "trial_id", "test_sample__sample__duration_s"
    )
    for trial, duration in clips:
        durations[trial].append(duration)
    timings = (
        test_ratings(test)
        .filter(dimension=test.rated_dimensions[0], sample_id__in=samples)
        .values("evaluator_id", "trial_id")
        .annotate(
            first=Min("first_fetch_at"),
            received=Max("received_at"),
            fetches=Max("fetch_count"),
            plays=Max("server_play_count"),
        )
        .values_list("evaluator_id", "trial_id", "first", "received", "fetches", "plays")
    )
    return [
        screening_rules.Answer(
            rater=rater,
            imported=trial is None,
            clips=len(durations.get(trial, [])),
            listening_s=listening_time(durations[trial]) if trial in durations else 0.0,
            audio_s=sum(durations.get(trial, [])),
            first_fetch=first.timestamp() if first else None,
            received=received.timestamp() if received else None,
            fetch_count=fetches,
            plays=plays,
        )
        for rater, trial, first, received, fetches, plays in timings
    ]


def stored_screening(test: ListeningTest, stored: dict | None, thresholds: Thresholds) -> Screening:
    """The background analysis's screening if it used these settings, else a pending (empty) one."""
    overlap = test.min_rater_overlap
    if not stored or stored.get("thresholds") != thresholds.as_dict() or stored.get("min_overlap") != overlap:
        return Screening({}, thresholds, 0, "pending", min_overlap=overlap)
    results = {
        int(rater): screening_rules.ScreeningResult(
            rater=int(rater),
            flags=tuple(data["flags"]),
            reasons=tuple(data["reasons"]),
            n_test_votes=data["n_test_votes"],
            variance=data["variance"],
            correlation=data["correlation"],
            overlap=data["overlap"],
            notes=tuple(data.get("notes", ())),
            at_minimum=data.get("at_minimum"),
            session_ratio=data.get("session_ratio"),
        )
        for rater, data in stored["screening"].items()
    }
    computed_at = stored["computed_at"]
    return Screening(results, thresholds, stored["screening_n_ratings"], "background", computed_at, overlap)


def rater_table(test: ListeningTest, screening: Screening, main_raters: dict) -> list[dict]:
    """Every evaluator with their votes on test clips, screening numbers and flags; excluded first."""
    votes: dict[int, int] = defaultdict(int)
    for per_rater in main_raters.values():
        for rater, (n, _, _) in per_rater.items():
            votes[rater] += n
    return rater_rows(test, screening, votes)


def pair_rater_table(test: ListeningTest, screening: Screening) -> list[dict]:
    """rater_table of a pair test: "n_votes" counts judgements of pairs, "n_repeats" answers to repeats."""
    counts = list(
        Rating.objects.filter(evaluator__test=test, dimension=test.rated_dimensions[0], trial__isnull=False)
        .order_by()
        .values("evaluator_id")
        .annotate(n=Count("id"), repeats=Count("id", filter=Q(trial__repeat_of__isnull=False)))
        .values_list("evaluator_id", "n", "repeats")
    )
    repeats = {rater: r for rater, _, r in counts}
    rows = rater_rows(test, screening, {rater: n - r for rater, n, r in counts})
    for row in rows:
        row["n_repeats"] = repeats.get(row["id"], 0)
    return rows


def rater_rows(test: ListeningTest, screening: Screening, votes: dict[int, int]) -> list[dict]:
    rows = []
    screens = screen_results(test=test)
    for evaluator in test.evaluators.values("id", "pseudonym", "finished_at"):
        result = screening.results.get(evaluator["id"])
        screen = screens[evaluator["id"]]
        rows.append(
            {
                **evaluator,
                "n_votes": votes.get(evaluator["id"], 0),
                "screened": result is not None,
                "excluded": bool(result and result.excluded),
                "flags": list(result.flags) if result else [],
                "reasons": (list(result.reasons) if result else [])
                + _screen_reasons(screen, votes.get(evaluator["id"], 0)),
                "screen": screen,
                "variance": result.variance if result else None,
                "correlation": result.correlation if result else None,
                "overlap": result.overlap if result else None,
                "notes": list(result.notes) if result else [],
                "at_minimum": result.at_minimum if result else None,
                "session_ratio": result.session_ratio if result else None,
            }
        )
    return sorted(rows, key=lambda row: (not row["excluded"], row["pseudonym"]))


def _screen_reasons(screen, n_votes: int) -> list[str]:
    """What the headphone screen says of a rater, beside the rating rules (it never has votes to drop:
    a failed screen ends the session before any rating, and a missing one is only noted)."""
    if screen.result == "failed":
        return [f"failed the headphone screen ({screen.correct_text})"]
    if screen.result == "not_taken" and n_votes:
        return ["rated without taking the headphone screen"]
    return []


def screening_record(test: ListeningTest, screening: Screening) -> dict:
    """The screening as a background analysis stores it (stored_screening reads it back)."""
    return {
        "min_overlap": test.min_rater_overlap,
        "screening": {str(rater): result.as_dict() for rater, result in screening.results.items()},
        "screening_n_ratings": screening.n_ratings,
    }


def screening_context(test: ListeningTest, screening: Screening, rater_rows: list[dict]) -> dict:
    """What every dashboard shows of screening: the screening, the raters table, the headphone screen
    summary and the excluded raters."""
    return {
        "screening": screening,
        "raters": rater_rows,
        "headphone_screen": headphone_screen_summary(test, rater_rows),
        "excluded": [row for row in rater_rows if row["excluded"]],
    }


def headphone_screen_summary(test: ListeningTest, raters: list[dict]) -> dict:
    """Pass rate of the headphone screen among evaluators who finished an attempt, and its settings."""
    took = [row for row in raters if row["screen"].result in ("passed", "failed")]
    passed = sum(row["screen"].result == "passed" for row in took)
    return {
        "took": len(took),
        "passed": passed,
        "percent": round(100 * passed / len(took), 1) if took else None,
        "trials": test.screen_trials,
        "pass_mark": test.screen_pass_mark,
        "retry_allowed": test.screen_retry_allowed,
        # A guesser's chance of passing the screen as configured, and of passing its first attempt.
        "guess_pass_percent": round(
            100
            * guess_pass_probability(
                test.screen_trials, test.screen_pass_mark, retry_allowed=test.screen_retry_allowed
            ),
            1,
        ),
        "guess_attempt_percent": round(
            100 * guess_pass_probability(test.screen_trials, test.screen_pass_mark), 1
        ),
    }


def page_progress(test: ListeningTest, *, unit: str, counted: str, now: datetime | None = None) -> dict:
    """Answers collected against the target and evaluator activity, as the test list counts them
    (ListeningTest.objects.with_progress): a page (test trial; repeats of A/B pairs never count) is
    done when ratings_per_sample raters answered it; one answer is one rater's answer to one page
    however many ratings it stored (a MUSHRA page stores one per sample). A test imported without
    trials counts each test clip as a page and each imported rating of it as an answer."""
    trials = Trial.objects.filter(test=test, kind=TestSample.Kind.TEST, repeat_of__isnull=True)
    main = Rating.objects.originals().filter(evaluator__test=test, dimension=test.rated_dimensions[0])
    per_trial = (
        main.filter(trial__in=trials)
        .order_by()
        .values("trial_id")
        .annotate(n=Count("evaluator_id", distinct=True))
        .values_list("n", flat=True)
    )
    per_clip = (
        main.filter(trial__isnull=True, test_sample__test=test, test_sample__kind=TestSample.Kind.TEST)
        .order_by()
        .values("sample_id")
        .annotate(n=Count("evaluator_id", distinct=True))
        .values_list("n", flat=True)
    )
    units = trials.count() or test.test_samples.filter(kind=TestSample.Kind.TEST).count()
    per_unit = list(per_trial) + list(per_clip)
    evaluators = test.evaluators.aggregate(total=Count("id"), finished=Count("finished_at"))
    evaluators["active"] = test.evaluators.active(now).count()
    target = units * test.ratings_per_sample
    collected = sum(per_unit)
    return {
        "clips": units,
        "target": target,
        "collected": collected,
        "percent": round(100 * min(collected, target) / target, 1) if target else 0.0,
        "clips_complete": sum(n >= test.ratings_per_sample for n in per_unit),
        "evaluators": evaluators["total"],
        "finished": evaluators["finished"],
        "active": evaluators["active"],
        "idle": evaluators["total"] - evaluators["finished"] - evaluators["active"],
        "unit": unit,
        "counted": counted,
    }
