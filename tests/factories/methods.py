"""Listening tests of each method (A/B, CMOS, MUSHRA, intelligibility) and their answers."""

import random
from datetime import timedelta

import numpy as np
from django.utils import timezone

from annotations import services
from annotations.demo import NAME as ACR_DEMO_NAME
from annotations.management.commands import simulate_ratings
from annotations.models import ListeningTest, Rating
from synthesis import demo
from synthesis.models import Sample
from tests.factories.files import noise_wav, tone_wav
from tests.factories.listening import build_test, evaluator_at_rating, hear_all
from tests.factories.samples import make_sample, make_samples, make_sentence_set

THREE = ("The cat sat on the mat.", "Rain is due later today.", "Please close the door.")
TWELVE = tuple(f"Sentence number {n}." for n in range(1, 13))
MUSHRA_SENTENCES = ("One here.", "Two there.", "Three again.")
# The raters of rated_cmos_test(): each one's CMOS of warm over neutral on THREE, in order.
CMOS_VOTES = {"R001": [2, 1, 0], "R002": [1, 1, 2], "R003": [0, -1, 1]}


def ab_test(name: str = "ab-test", sentences=TWELVE, **options) -> ListeningTest:
    """Two systems in one style: one pair per sentence, sys-a is X and sys-b is Y."""
    samples = make_samples(
        sentences=sentences, styles=("neutral",), systems=("sys-a", "sys-b"), set_name=name
    )
    options.setdefault("samples_per_session", 10)
    return build_test(name, samples=samples, scale=None, method="ab", **options)


def mushra_samples(
    *,
    sentences=MUSHRA_SENTENCES,
    systems=("sys-a", "sys-b"),
    reference: str = "human",
    set_name: str = "set-m",
) -> list[Sample]:
    """Each sentence by every system (0.5 s tones) and by the reference (1 s of white noise)."""
    sentence_set = make_sentence_set(name=set_name, texts=sentences)
    samples = []
    for index, sentence in enumerate(sentence_set.sentences.all()):
        for system in systems:
            samples.append(make_sample(system_label=system, sentence=sentence, freq=200 + 40 * len(samples)))
        if reference:
            wav = noise_wav(seed=index)
            samples.append(
                make_sample(
                    system_label=reference, sentence=sentence, origin=Sample.Origin.REFERENCE, wav=wav
                )
            )
    return samples


def mushra_test(name: str = "mushra-test", samples=None, **options) -> ListeningTest:
    """A MUSHRA test of mushra_samples(): the human reference hidden on every page, with an anchor."""
    samples = mushra_samples(set_name=f"set-{name}") if samples is None else samples
    options.setdefault("reference_system", "human")
    options.setdefault("with_anchor", bool(options["reference_system"]))
    options.setdefault("samples_per_session", 3)
    return build_test(name, samples=samples, scale=None, method="mushra", **options)


def intelligibility_test(name: str = "intel-test", samples=None, **options) -> ListeningTest:
    """Three sentences in two styles: six clips, one page each."""
    samples = make_samples(set_name=f"set-{name}") if samples is None else samples
    options.setdefault("samples_per_session", 3)
    return build_test(name, samples=samples, scale=None, method="intelligibility", **options)


def warm_vs_neutral(name: str, method: str, sentences=THREE, **options) -> ListeningTest:
    """One system in two styles: one pair per sentence, neutral is X and warm is Y."""
    samples = make_samples(sentences=sentences, styles=("neutral", "warm"), set_name=f"set-{name}")
    options.setdefault("samples_per_session", len(sentences))
    options.setdefault("ratings_per_sample", 99)
    return build_test(name, samples=samples, scale=None, method=method, **options)


def judge(evaluator, answer) -> list[Rating]:
    """Answer the evaluator's whole session through the service; answer(first, second) gives the score
    of the second clip relative to the first, from the two samples as played."""
    ratings = []
    while (assignment := services.current_clip(evaluator=evaluator)[0]) is not None:
        clips = [clip.test_sample for clip in assignment.presented_clips()]
        hear_all(evaluator, clips)
        ratings += services.submit_rating(
            evaluator=evaluator,
            sample_token=clips[0].token,
            clip_tokens=[clip.token for clip in clips],
            scores={evaluator.test.rated_dimensions[0]: answer(clips[0].sample, clips[1].sample)},
            played_to_end=True,
            play_count=2,
            time_to_answer_ms=1500,
        )
    return ratings


def spread_in_time(test: ListeningTest) -> None:
    """Move each answer of the test to its own minute, heard in full and answered 2.5 s after the end, as a
    person would: the service records them within milliseconds, which the timing rules would flag."""
    start = timezone.now() - timedelta(days=1)
    for number, rating in enumerate(Rating.objects.filter(evaluator__test=test).order_by("pk")):
        fetched = start + timedelta(minutes=number)
        Rating.objects.filter(pk=rating.pk).update(
            first_fetch_at=fetched, received_at=fetched + timedelta(seconds=1 + 2.5), fetch_count=3
        )


def corrected_by_warmth(values: dict[str, int]):
    """An answer function: the rater's CMOS of warm over neutral on each sentence, as values says."""

    def answer(first, second) -> int:
        value = values[first.text]
        return value if second.style_label == "warm" else -value

    return answer


def prefer_warm_except(ties: tuple[str, ...] = (), against: tuple[str, ...] = ()):
    """An A/B answer function: warm, except no preference on `ties` and neutral on `against`."""

    def answer(first, second) -> int:
        if first.text in ties:
            return 0
        warm_wins = first.text not in against
        return 1 if (second.style_label == "warm") == warm_wins else -1

    return answer


def rated_cmos_test() -> ListeningTest:
    """A CMOS test of warm against neutral on THREE, judged by the raters of CMOS_VOTES."""
    test = warm_vs_neutral("cmos-small", "cmos")
    for number, values in enumerate(CMOS_VOTES.values()):
        judge(
            evaluator_at_rating(test, rng=random.Random(number)),
            corrected_by_warmth(dict(zip(THREE, values, strict=True))),
        )
    spread_in_time(test)
    return test


def rated_ab_test() -> ListeningTest:
    """Two raters who judge every pair: R001 prefers warm but for two ties and two sentences, R002 prefers
    neutral; each answers one repeat as the first time."""
    test = warm_vs_neutral("ab-small", "ab", sentences=TWELVE, samples_per_session=12)
    judge(evaluator_at_rating(test, rng=random.Random(1)), prefer_warm_except(TWELVE[:2], TWELVE[2:4]))
    judge(evaluator_at_rating(test, rng=random.Random(2)), prefer_warm_except(against=TWELVE))
    spread_in_time(test)
    return test


def fake_acr_demo(sentences: int = 20) -> ListeningTest:
    """An ACR test named as the demo, of tone clips by the demo's systems in its styles, in place of the
    spoken one (speaking needs the TTS models); the pair demos are made from its test clips."""
    texts = tuple(f"Simulated sentence number {n}." for n in range(1, sentences + 1))
    samples = make_samples(
        sentences=texts, systems=("piper-joe-medium", "espeak-ng-formant"), set_name=ACR_DEMO_NAME
    )
    return build_test(ACR_DEMO_NAME, samples=samples, scale="acr-en")


def simulated_acr_demo(sentences: int = 2, good: int = 4) -> ListeningTest:
    """The ACR demo as simulate_ratings makes it (gold and trapping clips, good, careless and scripted
    raters), with half-second tones in place of the spoken clips (speaking needs the TTS models)."""
    systems = list(simulate_ratings.SYSTEMS)
    texts = [simulate_ratings.sentence_text(n) for n in range(1, sentences + 1)]
    wanted = [
        (system, style, text) for text in texts for system in systems for style in simulate_ratings.STYLES
    ]
    wanted += [
        (simulate_ratings.GOLD_SYSTEM, "neutral", t)
        for t in (simulate_ratings.GOLD_TEXT, simulate_ratings.trap_text())
    ]
    speech = {
        key: demo.Speech(wav=tone_wav(seconds=0.5, freq=200 + 20 * n), duration_s=0.5, sample_rate=16000)
        for n, key in enumerate(wanted)
    }
    raters = good + sum(simulate_ratings.BAD.values())
    test, clips = simulate_ratings.create_demo_test(sentences, systems, raters, speech)
    simulate_ratings.simulate(test, clips, np.random.default_rng(1), good=good, difference=0.3)
    return test
