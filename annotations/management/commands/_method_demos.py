"""The MUSHRA and intelligibility demos of simulate_ratings, made with create_test from the ACR demo's test
clips, each simulated rater's session dealt by the app's own assign. Every rater is simulated.

- MUSHRA: the demo has no human speech, so piper-joe-medium in the neutral style stands in for the
  reference (hidden on every page, and the source of the 3.5 kHz anchor); the conditions are
  espeak-ng-formant's neutral and warm clips. A score is round(MUSHRA_MEANS of the sample + rater offset
  ~ N(0, 4) + noise ~ N(0, 8)) clipped to 0..100; the hidden reference gets 95 + N(0, 2) with no rater
  offset, as a listener who recognises it would. Two careless raters give the BS.1534 post-screening
  something to exclude: one scores every sample at random, so the reference falls below 90 on most pages;
  one pushes every slider to the top, anchor included.
- Intelligibility: each transcript is the clip's text with every word replaced, with the condition's
  INTELLIGIBILITY_WER probability, by a word it does not sound like, so the expected corpus WER of a
  condition is its planted rate (substitutions only: the number of reference words stays the same).

Every sample heard is a ClipFetch row per play (the whole file in one request), as the audio view stores
it, so the results count plays and "heard" from the server's rows; the answers carry the timings the site
records: people hear every sample once, replay some, and answer seconds after the last play. Sessions
begin and end as the ACR demo's do (_demo_sessions.py).
"""

import random
from collections import Counter
from datetime import timedelta

from django.db import transaction

from annotations import intelligibility, multistimulus
from annotations import services as test_services
from annotations.management.commands._demo_sessions import end_sessions, open_demo, start_session
from annotations.management.commands._pair_demos import create_demo_test
from annotations.models import ClipFetch, ListeningTest, Rating, TestSample
from synthesis.models import Sample

MUSHRA_SESSION = 10  # pages per simulated session
MUSHRA_REFERENCE = ("piper-joe-medium", "neutral")
MUSHRA_MEANS = {
    multistimulus.REFERENCE: 95,
    multistimulus.ANCHOR: 25,
    ("espeak-ng-formant", "warm"): 70,
    ("espeak-ng-formant", "neutral"): 55,
}
MUSHRA_BAD = {"random": 1, "all_top": 1}
INTELLIGIBILITY_SESSION = 20  # clips per simulated session
INTELLIGIBILITY_WER = {
    ("piper-joe-medium", "neutral"): 0.05,
    ("piper-joe-medium", "warm"): 0.08,
    ("espeak-ng-formant", "neutral"): 0.12,
    ("espeak-ng-formant", "warm"): 0.15,
}
# Words a listener might type for a word misheard; none sounds like a word of the demo's sentences.
MISHEARD = ("river", "cable", "orange", "window", "garden", "pocket")


def remove_method_demo(name: str) -> None:
    """Delete a method demo test, its anchors' samples and, once the transaction commits, their files."""
    test = ListeningTest.objects.filter(name=name).first()
    if test is None:
        return
    anchors = dict(
        Sample.objects.filter(test_samples__test=test, test_samples__role=TestSample.Role.ANCHOR).values_list(
            "pk", "audio"
        )
    )
    files = [file for file in test.test_samples.values_list("playback_audio", flat=True) if file]
    Rating.objects.filter(evaluator__test=test).delete()
    test.delete()
    Sample.objects.filter(pk__in=anchors).delete()
    transaction.on_commit(lambda: _delete_files(files, [audio for audio in anchors.values() if audio]))


def _delete_files(playback: list[str], audio: list[str]) -> None:
    for field, names in (
        (TestSample._meta.get_field("playback_audio"), playback),
        (Sample._meta.get_field("audio"), audio),
    ):
        for name in names:
            field.storage.delete(name)


def mushra_samples(samples: list[Sample]) -> list[Sample]:
    """The reference system's reference-style clips and the other systems' clips: one reference a page."""
    system, style = MUSHRA_REFERENCE
    return [s for s in samples if s.system_label != system or s.style_label == style]


def make_mushra_demo(name: str, samples: list[Sample], rng, opts: dict) -> tuple[ListeningTest, int]:
    kinds = ["good"] * opts["raters"] + [kind for kind, count in MUSHRA_BAD.items() for _ in range(count)]
    means = ", ".join(
        f"{key if isinstance(key, str) else ' · '.join(key)} {mean}" for key, mean in MUSHRA_MEANS.items()
    )
    description = (
        f"Simulated raters (manage.py simulate_ratings). The demo has no human speech: {MUSHRA_REFERENCE[0]} "
        f"({MUSHRA_REFERENCE[1]}) stands in as the reference. Planted mean scores: {means}."
    )
    test = create_demo_test(
        name,
        "mushra",
        mushra_samples(samples),
        len(kinds),
        MUSHRA_SESSION,
        description=description,
        reference_system=MUSHRA_REFERENCE[0],
        with_anchor=True,
    )

    def answer(kind: str, offset: float, clip: TestSample, role: str) -> int:
        if kind == "random":
            return int(rng.integers(0, 101))
        if kind == "all_top":
            return 100
        if role == multistimulus.REFERENCE:
            return int(min(100, round(MUSHRA_MEANS[role] + rng.normal(0, 2))))
        mean = (
            MUSHRA_MEANS[role]
            if role == multistimulus.ANCHOR
            else MUSHRA_MEANS[multistimulus.condition(clip.sample)]
        )
        return int(min(100, max(0, round(mean + offset + rng.normal(0, 8)))))

    return test, _simulate(test, kinds, rng, answer, multistimulus.DIMENSION)


def make_intelligibility_demo(name: str, samples: list[Sample], rng, opts: dict) -> tuple[ListeningTest, int]:
    kinds = ["good"] * opts["raters"]
    rates = ", ".join(
        f"{system} · {style} {rate:.0%}" for (system, style), rate in INTELLIGIBILITY_WER.items()
    )
    description = f"Simulated raters (manage.py simulate_ratings): planted word error rates {rates}."
    test = create_demo_test(
        name, "intelligibility", samples, len(kinds), INTELLIGIBILITY_SESSION, description=description
    )

    def answer(kind: str, offset: float, clip: TestSample, role: str) -> str:
        rate = INTELLIGIBILITY_WER.get(multistimulus.condition(clip.sample), 0.1)
        words = [
            str(rng.choice(MISHEARD)) if rng.random() < rate else word for word in clip.sample.text.split()
        ]
        return " ".join(words)

    return test, _simulate(test, kinds, rng, answer, intelligibility.DIMENSION)


def _simulate(test: ListeningTest, kinds: list[str], rng, answer, dimension: str) -> int:
    """One session per rater from the app's assign, every page answered in order; returns the ratings.

    answer(kind, rater offset, clip, role) gives a score, or for intelligibility the transcript.
    """
    evaluators = test_services.invite_evaluators(test=test, count=len(kinds))
    timing_rng = rng.spawn(1)[0]
    ratings: list[Rating] = []
    fetches: list[ClipFetch] = []
    sizes: dict[int, int] = {}
    ends = []
    open_demo(test)
    for number, (evaluator, kind) in enumerate(zip(evaluators, kinds, strict=True), start=1):
        assignments = test_services.assign(evaluator=evaluator, rng=random.Random(int(rng.integers(2**32))))
        clock, offset = start_session(evaluator, test, number), rng.normal(0, 4)
        for assignment in assignments:
            clips = {clip.pk: clip for clip in assignment.trial.trial_clips.all()}
            page = (
                [clips[pk] for pk in assignment.clip_order] if assignment.clip_order else list(clips.values())
            )
            plays, timing = _page_timing(
                [clip.test_sample.sample.duration_s for clip in page], clock, timing_rng
            )
            for clip, played in zip(page, plays, strict=True):
                sample = clip.test_sample
                if sample.pk not in sizes:
                    sizes[sample.pk] = sample.playback_audio.size
                for at in played:
                    size = sizes[sample.pk]
                    fetches.append(
                        ClipFetch(
                            evaluator=evaluator,
                            test_sample=sample,
                            started_at=at,
                            bytes_from=0,
                            bytes_to=size - 1,
                            size=size,
                            complete=True,
                        )
                    )
                value = answer(kind, offset, sample, clip.role or multistimulus.CONDITION)
                ratings.append(
                    Rating(
                        evaluator=evaluator,
                        sample_id=sample.sample_id,
                        test_sample=sample,
                        trial=assignment.trial,
                        dimension=dimension,
                        score=None if isinstance(value, str) else value,
                        transcript=value if isinstance(value, str) else "",
                        played_to_end=True,
                        play_count=len(played),
                        created_at=timing["received_at"],
                        **timing,
                    )
                )
            clock = timing["received_at"] + timedelta(seconds=timing_rng.uniform(0.4, 2.0))
        ends.append((evaluator, ratings[-1].received_at))
    end_sessions(ends)
    ClipFetch.objects.bulk_create(fetches, batch_size=2000)
    Rating.objects.bulk_create(ratings, batch_size=2000)
    # The target is the raters every page got (one answer per rater and page, however many scores a
    # MUSHRA page holds), so the finished demo shows as complete.
    held = Counter(trial for trial, _ in {(rating.trial_id, rating.evaluator_id) for rating in ratings})
    ListeningTest.objects.filter(pk=test.pk).update(ratings_per_sample=min(held.values()))
    return len(ratings)


def _page_timing(durations: list[float], first_fetch_at, rng) -> tuple[list[list], dict]:
    """When each sample of a page was played (each play a fetch) and the answer's timings: every sample
    once in turn, one in three replayed after a pause, the answer two to ten seconds after the last play
    (slider moves or typing)."""
    clock, plays = first_fetch_at, []
    for duration in durations:
        played = [clock]
        clock += timedelta(seconds=duration + rng.uniform(0.3, 1.5))
        if rng.random() < 1 / 3:
            played.append(clock)
            clock += timedelta(seconds=duration + rng.uniform(0.3, 1.5))
        plays.append(played)
    received_at = clock + timedelta(seconds=rng.uniform(2.0, 10.0))
    return plays, {
        "fetch_count": sum(len(played) for played in plays),
        "server_play_count": max(len(played) for played in plays),
        "time_to_answer_ms": round(
            1000 * (received_at - plays[-1][-1]).total_seconds() - 1000 * durations[-1]
        ),
        "first_fetch_at": first_fetch_at,
        "received_at": received_at,
    }
