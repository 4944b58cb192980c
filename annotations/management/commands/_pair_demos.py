"""The pair demos of simulate_ratings: a CMOS and an A/B preference test made with create_test from the
ACR demo's test clips (every pair of conditions on each sentence), each simulated rater's session dealt
by the app's own assign (orders balanced per rater, A/B repeats placed as for a person), sessions of
PAIR_SESSION pairs. Every rater is simulated.

- CMOS: the answer (clip B relative to clip A) is round(d + ORDER_BIAS + noise) clipped to -3..+3,
  where d is the true difference of B over A, quality(B) - quality(A) plus a rater x pair effect
  ~ N(0, 0.3) and a sentence x pair effect ~ N(0, 0.3) (signed with the order), noise ~ N(0, 0.7);
  quality is the system's CMOS_SYSTEMS effect plus `--cmos-difference` (0.5) for warm. Orders being
  balanced, the bias towards the second clip cancels: the expected CMOS of warm over neutral is +0.4998
  (rounding moves it by 0.0002). One straight-liner (always "about the same") and one script (always
  "much better", at the server's minimum time) give screening something to catch.
- A/B: an answer is "no preference" with probability AB_TIE_RATE, otherwise B is chosen with the
  Bradley-Terry probability 1 / (1 + exp(strength(A) - strength(B))), strength being the system's
  AB_SYSTEMS effect plus logit(`--preference`) for warm: of the answers that choose a clip, 70 % choose
  warm over neutral of the same system. A rater answers a repeated pair as the first time with
  probability AB_STABILITY, otherwise afresh (each answer keeps the same distribution). One rater always
  answers A (caught by straight-lining and the repeat rule), one script answers at random at the
  server's minimum time.

Timings are like the ACR demo's: people hear both clips, replay one every other pair and answer one to
several seconds after the end; scripts answer a few milliseconds after the server's minimum. Sessions
begin and end as the ACR demo's do (_demo_sessions.py).
"""

import math
import random
from collections import Counter
from datetime import timedelta

import numpy as np
from django.db import transaction

from annotations import pairs
from annotations import services as test_services
from annotations.management.commands._demo_sessions import end_sessions, open_demo, start_session
from annotations.models import ListeningTest, Rating, TestSample
from synthesis.models import Sample

PAIR_SESSION = 30  # pairs per simulated session
CMOS_SYSTEMS = {"piper-joe-medium": 0.0, "espeak-ng-formant": -1.0}
ORDER_BIAS = 0.2  # towards the clip played second
CMOS_BAD = {"straight": 1, "script_same": 1}
AB_SYSTEMS = {"piper-joe-medium": 0.0, "espeak-ng-formant": -1.0}
AB_TIE_RATE = 0.1
AB_STABILITY = 0.9
AB_BAD = {"always_a": 1, "script_random": 1}
SCRIPTED = ("script_same", "script_random")


def remove_pair_demo(name: str) -> None:
    """Delete a pair demo test and, once the transaction commits, its playback copies."""
    test = ListeningTest.objects.filter(name=name).first()
    if test is None:
        return
    files = [file for file in test.test_samples.values_list("playback_audio", flat=True) if file]
    Rating.objects.filter(evaluator__test=test).delete()
    test.delete()
    transaction.on_commit(lambda: _delete_files(files))


def _delete_files(names: list[str]) -> None:
    storage = TestSample._meta.get_field("playback_audio").storage
    for name in names:
        storage.delete(name)


def create_demo_test(
    name: str, method: str, samples: list[Sample], raters: int, session: int, **options
) -> ListeningTest:
    """A closed demo test of the samples through create_test, sessions of `session` trials at most."""
    test = test_services.create_test(
        name=name,
        samples=samples,
        scale=None,
        method=method,
        samples_per_session=session,
        ratings_per_sample=raters,  # never full while the raters are dealt their sessions
        state=ListeningTest.State.CLOSED,
        **options,
    )
    ListeningTest.objects.filter(pk=test.pk).update(samples_per_session=min(session, test.trials.count()))
    test.refresh_from_db()
    return test


def make_cmos_demo(name: str, samples: list[Sample], rng, opts: dict) -> tuple[ListeningTest, int]:
    kinds = ["good"] * opts["raters"] + [kind for kind, count in CMOS_BAD.items() for _ in range(count)]
    description = (
        "Simulated raters (manage.py simulate_ratings): CMOS of warm over neutral "
        f"{opts['cmos_difference']:+g} planted, espeak-ng-formant {CMOS_SYSTEMS['espeak-ng-formant']:+g} "
        "below piper-joe-medium."
    )
    test = create_demo_test(name, "cmos", samples, len(kinds), PAIR_SESSION, description=description)
    quality = {
        condition: CMOS_SYSTEMS.get(condition[0], 0.0)
        + (opts["cmos_difference"] if condition[1] == "warm" else 0.0)
        for condition in {pairs.condition(sample) for sample in samples}
    }
    effects = _PairEffects(rng, sd=0.3)

    def answer(kind, rater, sentence, first, second, repeat, answered):
        if kind == "straight":
            return 0
        if kind == "script_same":
            return 3
        x, y = sorted((first, second))
        difference = quality[y] - quality[x] + effects.rater(rater, x, y) + effects.sentence(sentence, x, y)
        signed = difference if second == y else -difference
        return int(np.clip(np.rint(signed + ORDER_BIAS + rng.normal(0, 0.7)), -3, 3))

    return test, simulate_pairs(test, kinds, rng, answer)


def make_ab_demo(name: str, samples: list[Sample], rng, opts: dict) -> tuple[ListeningTest, int]:
    kinds = ["good"] * opts["raters"] + [kind for kind, count in AB_BAD.items() for _ in range(count)]
    description = (
        "Simulated raters (manage.py simulate_ratings): warm chosen over neutral in "
        f"{opts['preference']:.0%} of the answers choosing a clip, {AB_TIE_RATE:.0%} of answers "
        "'no preference'."
    )
    test = create_demo_test(name, "ab", samples, len(kinds), PAIR_SESSION, description=description)
    warm = math.log(opts["preference"] / (1 - opts["preference"]))
    strength = {
        condition: AB_SYSTEMS.get(condition[0], 0.0) + (warm if condition[1] == "warm" else 0.0)
        for condition in {pairs.condition(sample) for sample in samples}
    }

    def answer(kind, rater, sentence, first, second, repeat, answered):
        if kind == "always_a":
            return -1
        if kind == "script_random":
            return int(rng.choice([-1, 1]))
        if repeat and rng.random() < AB_STABILITY:
            # The same choice of clip as the first time, which was played in the other position.
            return -answered[repeat]
        if rng.random() < AB_TIE_RATE:
            return 0
        second_wins = rng.random() < 1 / (1 + math.exp(strength[first] - strength[second]))
        return 1 if second_wins else -1

    return test, simulate_pairs(test, kinds, rng, answer)


class _PairEffects:
    """Rater x pair and sentence x pair effects on a pair's true difference, drawn once each."""

    def __init__(self, rng, sd: float):
        self.rng, self.sd, self.drawn = rng, sd, {}

    def _draw(self, key) -> float:
        if key not in self.drawn:
            self.drawn[key] = self.rng.normal(0, self.sd)
        return self.drawn[key]

    def rater(self, rater: int, x, y) -> float:
        return self._draw(("rater", rater, x, y))

    def sentence(self, sentence: str, x, y) -> float:
        return self._draw(("sentence", sentence, x, y))


def simulate_pairs(test: ListeningTest, kinds: list[str], rng, answer) -> int:
    """One session per rater from the app's assign, every pair answered in order; returns the judgements.

    answer(kind, rater, sentence, first condition, second condition, repeated trial id or None,
    {trial id: answer given}) gives the score stored on the clip played second.
    """
    evaluators = test_services.invite_evaluators(test=test, count=len(kinds))
    timing_rng = rng.spawn(1)[0]
    ratings: list[Rating] = []
    dimension = test.rated_dimensions[0]
    ends = []
    open_demo(test)
    for number, (evaluator, kind) in enumerate(zip(evaluators, kinds, strict=True), start=1):
        assignments = test_services.assign(evaluator=evaluator, rng=random.Random(int(rng.integers(2**32))))
        clock, answered = start_session(evaluator, test, number), {}
        for assignment in assignments:
            clips = {clip.pk: clip.test_sample for clip in assignment.trial.trial_clips.all()}
            first, second = (clips[pk] for pk in assignment.clip_order)
            trial = assignment.trial
            score = answer(
                kind,
                evaluator.pk,
                first.sample.sentence_key,
                pairs.condition(first.sample),
                pairs.condition(second.sample),
                trial.repeat_of_id,
                answered,
            )
            answered[trial.pk] = score
            timing = _pair_timing(
                kind, [first.sample.duration_s, second.sample.duration_s], clock, timing_rng
            )
            ratings.append(
                Rating(
                    evaluator=evaluator,
                    sample_id=second.sample_id,
                    test_sample=second,
                    trial=trial,
                    dimension=dimension,
                    score=score,
                    played_to_end=True,
                    created_at=timing["received_at"],
                    **timing,
                )
            )
            clock = timing["received_at"] + _page_load(kind, timing_rng)
        ends.append((evaluator, ratings[-1].received_at))
    end_sessions(ends)
    Rating.objects.bulk_create(ratings, batch_size=2000)
    # The target is what every pair got, so the finished demo shows as complete.
    held = Counter(rating.trial_id for rating in ratings if rating.trial.repeat_of_id is None)
    ListeningTest.objects.filter(pk=test.pk).update(ratings_per_sample=min(held.values()))
    return len(ratings)


def _pair_timing(kind: str, durations: list[float], first_fetch_at, rng) -> dict:
    """Timings of one pair answer: both clips once, a person replaying one clip every other pair and
    answering one to several seconds after the end; a script a few milliseconds after the server's minimum."""
    if kind in SCRIPTED:
        replays, pause, reaction = 0, 0.0, rng.uniform(0.002, 0.015)
    else:
        replays, reaction = int(rng.random() < 0.5), rng.uniform(0.8, 4.0)
        pause = replays * (rng.choice(durations) + rng.uniform(0.3, 1.5))
    listened = sum(durations) + pause
    return {
        "play_count": 1 + replays,
        "fetch_count": len(durations) + replays,  # audio is served no-store: every play is a fetch
        "server_play_count": 1 + replays,
        "time_to_answer_ms": round(1000 * (listened - sum(durations) + reaction)),
        "first_fetch_at": first_fetch_at,
        "received_at": first_fetch_at + timedelta(seconds=listened + reaction),
    }


def _page_load(kind: str, rng) -> timedelta:
    """From one answer to the first fetch of the next pair's audio."""
    return timedelta(seconds=rng.uniform(0.005, 0.03) if kind in SCRIPTED else rng.uniform(0.4, 2.0))
