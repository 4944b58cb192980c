"""A demo test with simulated ratings whose truth is known, to see the dashboard recover it.

score = round(3.2 + system + style + rater offset + sentence effect + noise), clipped to 1..5, with
system-b 0.4 below system-a, warm `--difference` above neutral (main dimension only), rater offsets
~ N(0, 0.5), sentence effects ~ N(0, 0.5) and noise ~ N(0, 0.6). Four bad raters give screening
something to catch: two straight-liners, one who fails the trapping clip, one who answers at random.
"""

from datetime import timedelta

import numpy as np
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from annotations import results
from annotations.analysis import Thresholds
from annotations.models import Evaluator, ListeningTest, Rating, Scale, TestSample
from annotations.rating_import import placeholder_audio
from synthesis.models import Sample, Sentence, SentenceSet, StylePreset

NAME = "demo-simulated"
SYSTEMS = {"system-a": 0.0, "system-b": -0.4}
BAD = {"straight": 2, "trap": 1, "random": 1}
GOLD_SCORE, TRAP_SCORE = 5, 2


class Command(BaseCommand):
    help = "Create (or re-create) the test demo-simulated with raters of known bias and a known style effect."

    def add_arguments(self, parser):
        parser.add_argument("--raters", type=int, default=24, help="Good raters (4 bad ones are added).")
        parser.add_argument("--sentences", type=int, default=20)
        parser.add_argument("--systems", type=int, choices=(1, 2), default=2)
        parser.add_argument("--difference", type=float, default=0.3, help="True warm − neutral difference.")
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--no-analysis", action="store_true", help="Skip the background analysis.")
        parser.add_argument("--if-missing", action="store_true", help="Do nothing if the demo test exists.")

    def handle(self, *args, **opts):
        if opts["if_missing"] and ListeningTest.objects.filter(name=NAME).exists():
            self.stdout.write(f"Test {NAME} exists already.")
            return
        rng = np.random.default_rng(opts["seed"])
        with transaction.atomic():
            remove_demo()
            raters = opts["raters"] + sum(BAD.values())
            test, clips = create_demo_test(opts["sentences"], list(SYSTEMS)[: opts["systems"]], raters)
            ratings = simulate(test, clips, rng, good=opts["raters"], difference=opts["difference"])
        self.stdout.write(
            f"Created {NAME}: {ratings} ratings, {opts['raters']} good and {sum(BAD.values())} bad raters."
        )
        if opts["no_analysis"]:
            return
        data = results.run_background_analysis(test=test, thresholds=Thresholds())
        self.stdout.write(f"Background analysis: {data['seconds']:.1f} s.")
        self._report(results.test_results(test), opts["difference"])

    def _report(self, data: dict, difference: float) -> None:
        self.stdout.write(
            f"Excluded raters: {', '.join(row['pseudonym'] for row in data['excluded']) or 'none'}"
        )
        for comparison in data["comparisons"]:
            (sys_a, style_a), (sys_b, style_b) = comparison["a"], comparison["b"]
            if sys_a != sys_b:
                continue
            model = comparison["mixed_model"] or {}
            self.stdout.write(
                f"{sys_a}: {style_b} − {style_a} = {model.get('difference', float('nan')):+.3f} "
                f"[{model.get('ci_low', float('nan')):+.3f}, {model.get('ci_high', float('nan')):+.3f}] "
                f"(mixed model; true {difference:+.2f}); "
                f"per-rater Wilcoxon p = {comparison['by_rater']['p']:.2g}"
            )


def remove_demo() -> None:
    test = ListeningTest.objects.filter(name=NAME).first()
    if test is not None:
        sample_ids = list(test.test_samples.values_list("sample_id", flat=True))
        Rating.objects.filter(evaluator__test=test).delete()
        test.delete()
        Sample.objects.filter(pk__in=sample_ids).delete()
    SentenceSet.objects.filter(name=NAME).delete()


def create_demo_test(
    n_sentences: int, systems: list[str], raters: int
) -> tuple[ListeningTest, list[TestSample]]:
    sentence_set = SentenceSet.objects.create(name=NAME, description="Simulated listening test (no audio).")
    styles = {style: StylePreset.objects.filter(name=style).first() for style in ("neutral", "warm")}
    test = ListeningTest.objects.create(
        name=NAME,
        scale=Scale.objects.get(name="acr-en"),
        dimensions=["overall", "clarity"],
        ratings_per_sample=raters,  # every simulated rater hears every clip
        description="Simulated ratings with a known warm − neutral difference (manage.py simulate_ratings).",
        state=ListeningTest.State.CLOSED,
    )
    clips = []
    for position in range(1, n_sentences + 1):
        sentence = Sentence.objects.create(
            sentence_set=sentence_set, position=position, text=f"Simulated sentence number {position}."
        )
        for system in systems:
            for style, preset in styles.items():
                clips.append(_clip(test, TestSample.Kind.TEST, system, style, preset, sentence))
    clips.append(_clip(test, TestSample.Kind.GOLD, "reference", "neutral", styles["neutral"], None))
    clips.append(_clip(test, TestSample.Kind.TRAP, "trap", "neutral", styles["neutral"], None))
    return test, clips


def _clip(test, kind, system, style, preset, sentence) -> TestSample:
    sample = Sample.objects.create(
        origin=Sample.Origin.IMPORTED,
        system_label=system,
        style_label=style,
        style=preset,
        sentence=sentence,
        text=sentence.text if sentence else f"{kind} clip",
        audio=placeholder_audio(),
        duration_s=0.0,
        sample_rate=16000,
    )
    return TestSample.objects.create(
        test=test,
        sample=sample,
        kind=kind,
        expected_score=GOLD_SCORE if kind == TestSample.Kind.GOLD else None,
        instructed_score=TRAP_SCORE if kind == TestSample.Kind.TRAP else None,
    )


def simulate(test: ListeningTest, clips: list[TestSample], rng, *, good: int, difference: float) -> int:
    """Every rater rates every clip in both dimensions; returns the number of ratings."""
    kinds = ["good"] * good + [kind for kind, count in BAD.items() for _ in range(count)]
    sentence_effect = {clip.sample.sentence_id: rng.normal(0, 0.5) for clip in clips}
    start, ratings = timezone.now() - timedelta(days=1), []
    for number, kind in enumerate(kinds, start=1):
        evaluator = Evaluator.objects.create(
            test=test, pseudonym=f"R{number:03d}", consented_at=start, trained_at=start, finished_at=start
        )
        offset = rng.normal(0, 0.5)
        for position, clip in enumerate(rng.permutation(clips)):
            when = start + timedelta(minutes=number, seconds=10 * position)
            overall = _score(kind, clip, offset + sentence_effect[clip.sample.sentence_id], difference, rng)
            clarity = _score(kind, clip, offset + sentence_effect[clip.sample.sentence_id], 0.0, rng)
            for dimension, score in (("overall", overall), ("clarity", clarity)):
                ratings.append(
                    Rating(
                        evaluator=evaluator,
                        sample_id=clip.sample_id,
                        test_sample=clip,
                        dimension=dimension,
                        score=score,
                        played_to_end=True,
                        play_count=int(rng.integers(1, 3)),
                        time_to_answer_ms=int(rng.integers(800, 4000)),
                        created_at=when,
                    )
                )
    Rating.objects.bulk_create(ratings, batch_size=2000)
    return len(ratings)


def _score(kind: str, clip: TestSample, effects: float, difference: float, rng) -> int:
    if clip.kind == TestSample.Kind.TRAP:
        return 5 if kind == "trap" else TRAP_SCORE
    if clip.kind == TestSample.Kind.GOLD:
        return int(rng.integers(4, 6))
    if kind == "straight":
        return 4
    if kind == "random":
        return int(rng.integers(1, 6))
    sample = clip.sample
    latent = (
        3.2 + SYSTEMS.get(sample.system_label, 0.0) + (difference if sample.style_label == "warm" else 0.0)
    )
    return int(np.clip(np.rint(latent + effects + rng.normal(0, 0.6)), 1, 5))
