"""Rater screening: the ITU-T P.808 crowdsourcing toolkit's rules, CrowdMOS's correlation rule,
rules on the server's timings of each answer (bots that fetch and wait, careless raters) and, for A/B
tests, the consistency of a rater's answers on repeated pairs.

Pure functions on plain rows; annotations.services turns the result into exclusions.
"""

import dataclasses
from collections.abc import Hashable, Iterable, Mapping
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from annotations.results import comparisons

KINDS = ("test", "gold", "trap")

FLAG_DESCRIPTIONS = {
    "not_played_to_end": "did not play every clip to the end",
    "failed_trap": "answered a trapping clip with a score other than the one it asked for",
    "gold_off": "rated a gold clip further from its known score than the tolerance",
    "straight_lining": "gave (nearly) the same score to every clip",
    "low_correlation": "disagreed with the other raters on the same clips",
    "answers_at_minimum": "answered most clips at the least time the server allows",
    "never_replayed": "never replayed a clip (the server sent each clip once)",
    "session_at_audio_length": "finished the session in about the total audio length",
    "inconsistent_repeats": "chose differently than the first time on most repeated pairs",
    "bs1534_reference": "MUSHRA: scored the hidden reference below 90 on more than 15 % of the pages "
    "(ITU-R BS.1534-3 §4.1.2)",
    "bs1534_anchor": "MUSHRA: scored the anchor above 90 on more than 15 % of the pages "
    "(ITU-R BS.1534-3 §4.1.2)",
}
IMPORTED_NOTE = "no server timings: imported"
UNRECORDED_NOTE = "no server timings: rated before the server recorded them"


class Answer(NamedTuple):
    """One answered trial as the server saw it; times in seconds (POSIX), None where not recorded."""

    rater: Hashable
    imported: bool  # collected elsewhere: never has server timings
    clips: int  # clips in the trial
    listening_s: float  # the least time the server lets pass from first fetch to answer (the method's)
    audio_s: float  # total duration of the trial's clips
    first_fetch: float | None
    received: float | None
    fetch_count: int | None  # audio requests for the trial's clips before the answer
    # Most plays the server sent of any clip of the trial (models.count_plays); None: not counted.
    plays: int | None

    @property
    def timed(self) -> bool:
        return self.first_fetch is not None and self.received is not None and self.fetch_count is not None


@dataclasses.dataclass(frozen=True)
class ScreeningResult:
    """Outcome of screening one rater: flags (codes), reasons (sentences) and the numbers behind them."""

    rater: Hashable
    flags: tuple[str, ...]
    reasons: tuple[str, ...]
    n_test_votes: int
    variance: float | None
    correlation: float | None
    overlap: int | None = None  # test clips shared with another rater (None: correlation rule off)
    notes: tuple[str, ...] = ()  # said about the rater without excluding them (no server timings)
    at_minimum: float | None = None  # share of timed answers at the server's minimum (None: not judged)
    session_ratio: float | None = None  # session wall time / audio length (None: not judged)

    @property
    def excluded(self) -> bool:
        return bool(self.flags)

    def as_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data.update(
            flags=list(self.flags), reasons=list(self.reasons), notes=list(self.notes), excluded=self.excluded
        )
        return data


def screen_raters(
    ratings: Iterable[tuple[Hashable, Hashable, float, bool, str]],
    *,
    gold: Mapping[Hashable, float],
    traps: Mapping[Hashable, float],
    min_variance: float | None = 0.1,
    min_correlation: float | None = 0.25,
    gold_tolerance: float = 1,
    min_overlap: int = 5,
    answers: Iterable[Answer] = (),
    timing: "TimingRules | None" = None,
    extra_flags: Mapping[Hashable, list[tuple[str, str]]] | None = None,
) -> dict[Hashable, ScreeningResult]:
    """Screen each rater of rows (rater, item, score, played_to_end, kind), kind in KINDS.

    gold maps gold items to their expected score, traps maps trapping items to the score the
    clip instructs. A rater is excluded on any flag; None disables the variance or correlation rule.
    The correlation rule judges only raters sharing at least min_overlap test items with others.
    answers (one per answered trial) feed the timing rules; answers without server timings are
    noted, never judged on timing. extra_flags adds (code, reason) flags of other rules per rater
    (consistency_flags: repeated A/B pairs).
    """
    frame = pd.DataFrame(list(ratings), columns=["rater", "item", "score", "played_to_end", "kind"])
    frame = frame.astype({"score": float, "played_to_end": bool})
    _check_kinds(frame, gold, traps)
    test = frame[frame["kind"] == "test"]
    correlations = _correlations_with_others(test, min_overlap) if min_correlation is not None else {}
    timing = timing or TimingRules()
    by_rater: dict[Hashable, list[Answer]] = {}
    for answer in answers:
        by_rater.setdefault(answer.rater, []).append(answer)
    results = {}
    for rater, own in frame.groupby("rater", sort=False):
        votes = own.loc[own["kind"] == "test", "score"].to_numpy()
        # Sample variance (ddof=1), as the P.808 toolkit's statistics.variance; a single vote
        # says nothing about straight-lining, so fewer than 2 test votes are not judged.
        variance = float(np.var(votes, ddof=1)) if votes.size >= 2 else None
        r, overlap = correlations.get(rater, (None, 0 if min_correlation is not None else None))
        flags = _session_flags(own, gold, traps, gold_tolerance)
        flags += _consistency_flags(variance, r, min_variance, min_correlation)
        timed = screen_timings(by_rater.get(rater, []), timing)
        flags += timed.flags
        flags += list((extra_flags or {}).get(rater, ()))
        results[rater] = ScreeningResult(
            rater=rater,
            flags=tuple(code for code, _ in flags),
            reasons=tuple(reason for _, reason in flags),
            n_test_votes=int(votes.size),
            variance=variance,
            correlation=r,
            overlap=overlap,
            notes=timed.notes,
            at_minimum=timed.at_minimum,
            session_ratio=timed.session_ratio,
        )
    return results


def _check_kinds(
    frame: pd.DataFrame, gold: Mapping[Hashable, float], traps: Mapping[Hashable, float]
) -> None:
    """Refuse unknown clip kinds and gold/trap clips without an expected score."""
    unknown = set(frame["kind"]) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown clip kinds {sorted(map(str, unknown))}; expected {KINDS}")
    for kind, expected in (("gold", gold), ("trap", traps)):
        missing = set(frame.loc[frame["kind"] == kind, "item"]) - set(expected)
        if missing:
            raise ValueError(f"no expected score for {kind} items {sorted(map(str, missing))}")


def _session_flags(
    own: pd.DataFrame, gold: Mapping[Hashable, float], traps: Mapping[Hashable, float], gold_tolerance: float
) -> list[tuple[str, str]]:
    """The P.808 acceptance rules: every clip played to the end, traps right, gold within tolerance."""
    flags = []
    unplayed = int((~own["played_to_end"]).sum())
    if unplayed:
        flags.append(("not_played_to_end", f"did not play {unplayed} clip(s) to the end"))
    trap_rows = own[own["kind"] == "trap"]
    wrong = [
        (s, traps[i]) for i, s in zip(trap_rows["item"], trap_rows["score"], strict=True) if s != traps[i]
    ]
    if wrong:
        details = ", ".join(f"gave {s:g}, asked for {e:g}" for s, e in wrong)
        flags.append(("failed_trap", f"answered {len(wrong)} trapping clip(s) wrongly ({details})"))
    gold_rows = own[own["kind"] == "gold"]
    scored = zip(gold_rows["item"], gold_rows["score"], strict=True)
    off = [(s, gold[i]) for i, s in scored if abs(s - gold[i]) > gold_tolerance]
    if off:
        details = ", ".join(f"gave {s:g}, expected {e:g}" for s, e in off)
        flags.append(
            ("gold_off", f"rated {len(off)} gold clip(s) more than {gold_tolerance:g} off ({details})")
        )
    return flags


def _consistency_flags(
    variance: float | None, r: float | None, min_variance: float | None, min_correlation: float | None
) -> list[tuple[str, str]]:
    """Straight-lining (P.808 toolkit) and low correlation with the other raters (CrowdMOS)."""
    flags = []
    if min_variance is not None and variance is not None and variance < min_variance:
        flags.append(("straight_lining", f"votes barely vary (variance {variance:.2f} < {min_variance:g})"))
    if min_correlation is not None and r is not None and r < min_correlation:
        flags.append(
            ("low_correlation", f"votes disagree with the other raters (r = {r:.2f} < {min_correlation:g})")
        )
    return flags


def _correlations_with_others(
    test: pd.DataFrame, min_overlap: int
) -> dict[Hashable, tuple[float | None, int]]:
    """(Pearson r, shared items) of each rater's votes against the other raters' mean on the same items.

    r is None (not judged) with fewer than min_overlap shared items or when either side is constant:
    a correlation over two or three clips swings to ±1 by chance and would exclude honest raters.
    """
    cells = test.groupby(["rater", "item"], sort=False)["score"].agg(["sum", "count"]).reset_index()
    item_totals = cells.groupby("item", sort=False)[["sum", "count"]].transform("sum")
    others_count = (item_totals["count"] - cells["count"]).astype(float)
    cells["own"] = cells["sum"] / cells["count"]
    cells["others"] = (item_totals["sum"] - cells["sum"]) / others_count.where(others_count > 0)
    result: dict[Hashable, tuple[float | None, int]] = {}
    for rater, shared in cells.dropna(subset=["others"]).groupby("rater", sort=False):
        own, others = shared["own"].to_numpy(), shared["others"].to_numpy()
        if len(shared) < min_overlap or np.ptp(own) == 0 or np.ptp(others) == 0:
            result[rater] = (None, len(shared))
        else:
            result[rater] = (float(stats.pearsonr(own, others).statistic), len(shared))
    return result


# --- rules on the server's timings ------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TimingRules:
    """Thresholds of the timing rules; None turns a rule off. Why these defaults: see Thresholds."""

    answer_margin_s: float | None = 0.5
    at_minimum_share: float = 0.8
    min_clips_without_replay: int | None = 40
    session_margin: float | None = 0.1
    min_answers: int = 5  # fewer timed answers say nothing about a habit


@dataclasses.dataclass(frozen=True)
class TimingResult:
    flags: list[tuple[str, str]]
    notes: tuple[str, ...] = ()
    at_minimum: float | None = None
    session_ratio: float | None = None


def screen_timings(answers: list[Answer], rules: TimingRules) -> TimingResult:
    """The timing rules over one rater's answers; answers without server timings are only noted."""
    timed = [answer for answer in answers if answer.timed]
    notes = _timing_notes(answers, timed)
    if len(timed) < rules.min_answers:
        return TimingResult([], notes)
    flags, at_minimum = _at_minimum_flags(timed, rules)
    flags += _replay_flags(timed, rules)
    session_flags, ratio = _session_length_flags(timed, rules)
    return TimingResult(flags + session_flags, notes, at_minimum, ratio)


def _timing_notes(answers: list[Answer], timed: list[Answer]) -> tuple[str, ...]:
    untimed = [answer for answer in answers if not answer.timed]
    if not untimed:
        return ()
    note = IMPORTED_NOTE if all(answer.imported for answer in untimed) else UNRECORDED_NOTE
    if timed:
        note += f" ({len(untimed)} of {len(answers)} answers; the timing rules judged the rest)"
    return (note,)


def _at_minimum_flags(timed: list[Answer], rules: TimingRules) -> tuple[list[tuple[str, str]], float]:
    """Answers received within answer_margin_s of the listening time the server requires."""
    margins = np.array([a.received - a.first_fetch - a.listening_s for a in timed])
    share = float(np.mean(margins <= rules.answer_margin_s)) if rules.answer_margin_s is not None else None
    if share is None or share < rules.at_minimum_share:
        return [], share
    fast = int(np.sum(margins <= rules.answer_margin_s))
    reason = (
        f"answered {fast} of {len(timed)} trials within {rules.answer_margin_s:g} s of the least time the "
        f"server allows (median {float(np.median(margins)):.2f} s after it)"
    )
    return [("answers_at_minimum", reason)], share


def _replay_flags(timed: list[Answer], rules: TimingRules) -> list[tuple[str, str]]:
    """No replay anywhere: the server sent every clip once.

    The plays are the server's, counted from its requests as the play limit counts them (a browser's
    probe of the first bytes is not a replay), never what the page posts, which a script sets at
    will. An answer stored before the server counted plays is judged on its requests instead.
    """
    clips = sum(answer.clips for answer in timed)
    if rules.min_clips_without_replay is None or clips < rules.min_clips_without_replay:
        return []
    if any(_replayed(answer) for answer in timed):
        return []
    return [("never_replayed", f"never replayed a clip: the server sent each of {clips} clips once")]


def _replayed(answer: Answer) -> bool:
    if answer.plays is None:
        return answer.fetch_count > answer.clips
    return answer.plays > 1


def _session_length_flags(
    timed: list[Answer], rules: TimingRules
) -> tuple[list[tuple[str, str]], float | None]:
    """Wall time from the first fetch to the last answer against the audio it covers."""
    audio = sum(answer.audio_s for answer in timed)
    if audio <= 0:
        return [], None
    wall = max(answer.received for answer in timed) - min(answer.first_fetch for answer in timed)
    ratio = wall / audio
    if rules.session_margin is None or ratio > 1 + rules.session_margin:
        return [], ratio
    reason = (
        f"finished in {wall:.0f} s, {ratio:.2f}× the {audio:.0f} s of audio "
        f"(at most {1 + rules.session_margin:g}× is flagged)"
    )
    return [("session_at_audio_length", reason)], ratio


# --- consistency on repeated pairs (A/B) ------------------------------------------------------


def consistency_flags(consistency: Mapping[Hashable, dict]) -> dict[Hashable, list[tuple[str, str]]]:
    """The repeat rule as flags: raters comparisons.inconsistent_raters picks from the per-rater counts of
    comparisons.repeat_consistency, with the reason."""
    flags = {}
    for rater in comparisons.inconsistent_raters(consistency):
        counts = consistency[rater]
        reason = (
            f"chose as the first time on {counts['consistent']} of {counts['repeats']} repeated pairs "
            f"({counts['share']:.0%}, below {comparisons.CONSISTENCY_THRESHOLD:.0%})"
        )
        flags[rater] = [("inconsistent_repeats", reason)]
    return flags
