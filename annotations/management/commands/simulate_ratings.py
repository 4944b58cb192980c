"""Demo tests with simulated ratings whose truth is known, to see the dashboards recover it: the ACR test
demo-simulated and, from the same clips, a CMOS test demo-simulated-cmos and an A/B preference test
demo-simulated-ab. Every rater of them is simulated; the names say so (annotations.demo.NAMES).

score = round(middle of the scale + 0.2 + system + style + rater offset + sentence effect + noise), clipped to
the scale (acr-en), with
espeak-ng-formant 0.4 below piper-joe-medium, warm `--difference` above neutral (main dimension only),
rater offsets ~ N(0, 0.5), sentence effects ~ N(0, 0.5) and noise ~ N(0, 0.6). Four careless raters give
screening something to catch: two straight-liners, one who fails the trapping clip, one who answers at
random. Two scripted raters fetch each clip and wait exactly its length before answering (one gives the
same score everywhere, one answers at random), as a bot beating server-verified listening would.

Every answer carries server timings like those the site records: people answer one to several seconds
after a clip ends and replay about every other clip; the scripts answer a few milliseconds after the
least time the server allows and never replay. Every session (consent, a passed headphone screen, the
answers, the end) lies after the test opened, a day before the command runs (_demo_sessions.py).

The clips are real speech from the bundled synthesisers (synthesis.demo), spoken when the command runs,
so they can be listened to and picked for new tests; the trapping clip says the answer it asks for.

The pair demos (CMOS and A/B, from the ACR demo's test clips) are simulated in _pair_demos.py, the MUSHRA
demo demo-simulated-mushra and the intelligibility demo demo-simulated-intelligibility in _method_demos.py.
"""

from datetime import timedelta

import numpy as np
from django.core.management.base import BaseCommand
from django.db import transaction
from django.template.defaultfilters import pluralize

from annotations import services as test_services
from annotations.demo import AB_NAME, CMOS_NAME, INTELLIGIBILITY_NAME, MUSHRA_NAME, NAME
from annotations.management.commands._demo_sessions import end_sessions, open_demo, start_session
from annotations.management.commands._method_demos import (
    make_intelligibility_demo,
    make_mushra_demo,
    remove_method_demo,
)
from annotations.management.commands._pair_demos import make_ab_demo, make_cmos_demo, remove_pair_demo
from annotations.models import Evaluator, ListeningTest, Rating, Scale, TestSample, Trial
from annotations.results import services
from annotations.results.imports import PLACEHOLDER_AUDIO
from annotations.results.services import Thresholds
from synthesis import demo
from synthesis.models import Sample, Sentence, SentenceSet, StylePreset

# Demo systems (synthesis.demo.DEMO_SYSTEMS) and their true effect on the score.
SYSTEMS = {"piper-joe-medium": 0.0, "espeak-ng-formant": -0.4}
STYLES = ("neutral", "warm")
BAD = {"straight": 2, "trap": 1, "random": 1, "script_same": 1, "script_random": 1}
SCRIPTED = ("script_same", "script_random")
SCALE = "acr-en"
GOLD_SYSTEM = "piper-joe-medium"
GOLD_TEXT = "The weather stays sunny and warm for the rest of the week."


class Command(BaseCommand):
    help = (
        "Create (or re-create) the demo tests demo-simulated (ACR), demo-simulated-cmos, demo-simulated-ab, "
        "demo-simulated-mushra and demo-simulated-intelligibility with simulated raters of known bias and "
        "known effects."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--raters",
            type=int,
            default=24,
            help="Good raters of each demo (ACR adds 4 careless and 2 scripted ones, CMOS and A/B 2 each).",
        )
        parser.add_argument("--sentences", type=int, default=20)
        parser.add_argument("--systems", type=int, choices=(1, 2), default=2)
        parser.add_argument("--difference", type=float, default=0.3, help="True warm − neutral difference.")
        parser.add_argument(
            "--cmos-difference", type=float, default=0.5, help="CMOS demo: true CMOS of warm over neutral."
        )
        parser.add_argument(
            "--preference",
            type=float,
            default=0.7,
            help="A/B demo: true share of warm over neutral among answers choosing a clip.",
        )
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument("--no-analysis", action="store_true", help="Skip the background analysis.")
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="Make only the demo tests that do not exist (an ACR demo of silent clips is replaced).",
        )

    def handle(self, *args, **opts):
        existing = ListeningTest.objects.filter(name=NAME).first()
        if opts["if_missing"] and existing is not None and not has_silent_clips(existing):
            self.stdout.write(f"Test {NAME} exists already.")
            source = existing
        else:
            if existing is not None and opts["if_missing"]:
                self.stdout.write(
                    f"Replacing {NAME}: its clips were silent placeholders from an older version."
                )
            source = self._acr_demo(opts)
        # Each pair demo draws from a stream of its own, so one can be made again without the other.
        pair_demos = ((CMOS_NAME, make_cmos_demo, _cmos_figure), (AB_NAME, make_ab_demo, _ab_figure))
        for stream, (name, make, figure) in enumerate(pair_demos, 1):
            if opts["if_missing"] and ListeningTest.objects.filter(name=name).exists():
                self.stdout.write(f"Test {name} exists already.")
                continue
            self._pair_demo(name, make, figure, source, np.random.default_rng([opts["seed"], stream]), opts)
        methods = ((MUSHRA_NAME, make_mushra_demo), (INTELLIGIBILITY_NAME, make_intelligibility_demo))
        for stream, (name, make) in enumerate(methods, 3):
            if opts["if_missing"] and ListeningTest.objects.filter(name=name).exists():
                self.stdout.write(f"Test {name} exists already.")
                continue
            self._method_demo(name, make, source, np.random.default_rng([opts["seed"], stream]), opts)

    def _acr_demo(self, opts: dict) -> ListeningTest:
        rng = np.random.default_rng(opts["seed"])
        systems = list(SYSTEMS)[: opts["systems"]]
        self.stdout.write(f"Speaking the demo clips with {' and '.join(systems)} (a few seconds)…")
        speech = speak_clips(opts["sentences"], systems)
        with transaction.atomic():
            remove_demo()
            raters = opts["raters"] + sum(BAD.values())
            test, clips = create_demo_test(opts["sentences"], systems, raters, speech)
            ratings = simulate(test, clips, rng, good=opts["raters"], difference=opts["difference"])
        bad = sum(BAD.values())
        self.stdout.write(
            f"Created {NAME}: {ratings} rating{pluralize(ratings)} of {len(clips)} spoken clips "
            f"({', '.join(systems)}), {opts['raters']} good and {bad} bad rater{pluralize(bad)}."
        )
        if not opts["no_analysis"]:
            data = services.run_background_analysis(test=test, thresholds=Thresholds())
            self.stdout.write(f"Background analysis: {data['seconds']:.1f} s.")
            self._report(services.test_results(test), opts["difference"])
        return test

    def _pair_demo(self, name: str, make, figure, source: ListeningTest, rng, opts: dict) -> None:
        samples = _test_clips(source)
        with transaction.atomic():
            remove_pair_demo(name)
            test, ratings = make(name, samples, rng, opts)
        raters, trials = test.evaluators.count(), test.trials.filter(repeat_of=None).count()
        self.stdout.write(
            f"Created {name}: {ratings} judgement{pluralize(ratings)} of {trials} pairs of {NAME}'s clips "
            f"by {raters} simulated raters ({opts['raters']} good)."
        )
        if not opts["no_analysis"]:
            self._pair_report(services.test_results(test), opts, figure)

    def _method_demo(self, name: str, make, source: ListeningTest, rng, opts: dict) -> None:
        samples = _test_clips(source)
        if name == MUSHRA_NAME and len({sample.system_label for sample in samples}) < 2:
            self.stdout.write(f"Skipping {name}: its reference and conditions need both demo systems.")
            return
        with transaction.atomic():
            remove_method_demo(name)
            test, ratings = make(name, samples, rng, opts)
        self.stdout.write(
            f"Created {name}: {ratings} answer{pluralize(ratings)} on {test.trials.count()} pages of "
            f"{NAME}'s clips by {test.evaluators.count()} simulated raters."
        )
        if not opts["no_analysis"]:
            data = services.test_results(test)
            self.stdout.write(
                f"  Excluded raters: {', '.join(row['pseudonym'] for row in data['excluded']) or 'none'}"
            )

    def _pair_report(self, data: dict, opts: dict, figure) -> None:
        self.stdout.write(
            f"  Excluded raters: {', '.join(row['pseudonym'] for row in data['excluded']) or 'none'}"
        )
        for pair in data["pairs"]["pairs"]:
            if pair["x"]["system"] != pair["y"]["system"]:
                continue
            shown, truth = figure(pair["after"], opts)
            self.stdout.write(f"  {pair['y_label']} over {pair['x_label']}: {shown}; true {truth}")
        ranked = data["pairs"]["ranking"]
        if ranked["available"]:
            self.stdout.write(
                "  Ranking: " + ", ".join(f"{row['rank']}. {row['label']}" for row in ranked["systems"])
            )

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


def _cmos_figure(s: dict, opts: dict) -> tuple[str, str]:
    interval = f"[{_signed(s['ci_low'])}, {_signed(s['ci_high'])}]"
    return f"CMOS {s['mean']:+.3f} {interval} (two-way bootstrap)", f"{opts['cmos_difference']:+.2f}"


def _ab_figure(s: dict, opts: dict) -> tuple[str, str]:
    share = s["decisive_shares"]["y"]
    interval = f"[{share['low']:.3f}, {share['high']:.3f}]"
    figure = f"chosen in {share['share']:.3f} {interval} of answers choosing a clip (Wilson)"
    return figure, f"{opts['preference']:.2f}"


def _test_clips(test: ListeningTest) -> list[Sample]:
    return list(
        Sample.objects.filter(test_samples__test=test, test_samples__kind=TestSample.Kind.TEST).order_by("pk")
    )


def has_silent_clips(test: ListeningTest) -> bool:
    """Older versions gave the demo empty placeholder WAVs, which cannot be played or picked."""
    return test.test_samples.filter(sample__duration_s=0).exists()


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.3f}"


def remove_demo() -> None:
    """Delete the demo tests (the pair and method demos first: they use the ACR demo's samples), the
    samples and, once the transaction commits, their audio files."""
    for name in (CMOS_NAME, AB_NAME):
        remove_pair_demo(name)
    for name in (MUSHRA_NAME, INTELLIGIBILITY_NAME):
        remove_method_demo(name)
    test = ListeningTest.objects.filter(name=NAME).first()
    if test is not None:
        samples = dict(Sample.objects.filter(test_samples__test=test).values_list("pk", "audio"))
        Rating.objects.filter(evaluator__test=test).delete()
        test.delete()
        Sample.objects.filter(pk__in=samples).delete()
        files = [name for name in samples.values() if name and name != PLACEHOLDER_AUDIO]
        transaction.on_commit(lambda: _delete_files(files))
    SentenceSet.objects.filter(name=NAME).delete()


def _delete_files(names: list[str]) -> None:
    storage = Sample._meta.get_field("audio").storage
    for name in names:
        storage.delete(name)


def sentence_text(position: int) -> str:
    return f"Simulated sentence number {position}."


def gold_score(scale: Scale) -> int:
    """What the gold clip (clean speech) deserves: the top of the scale."""
    return scale.max_value


def trap_score(scale: Scale) -> int:
    """What the trapping clip asks for: the second-lowest score, which nobody gives it by chance."""
    return scale.min_value + 1


def middle_score(scale: Scale) -> int:
    """The middle of the scale: what script_same answers on every clip, and the mean score's base."""
    return (scale.min_value + scale.max_value) // 2


def trap_text() -> str:
    scale = Scale.objects.get(name=SCALE)
    score = trap_score(scale)
    label = scale.labels[scale.index(score)]
    return f"This is an attention check. Please answer {score}, {label.lower()}."


def speak_clips(n_sentences: int, systems: list[str]) -> dict[tuple[str, str, str], demo.Speech]:
    """(system, style, text) -> speech for every clip, made before any transaction opens."""
    styles = {name: StylePreset.objects.filter(name=name).first() for name in STYLES}
    wanted = [
        (system, style, sentence_text(position))
        for position in range(1, n_sentences + 1)
        for system in systems
        for style in STYLES
    ]
    wanted += [(GOLD_SYSTEM, "neutral", GOLD_TEXT), (GOLD_SYSTEM, "neutral", trap_text())]
    return {
        (system, style, text): demo.speak(system=system, text=text, style=styles[style])
        for system, style, text in wanted
    }


def create_demo_test(
    n_sentences: int, systems: list[str], raters: int, speech: dict
) -> tuple[ListeningTest, list[TestSample]]:
    sentence_set = SentenceSet.objects.create(
        name=NAME, description="Sentences of the simulated listening test (spoken by the demo systems)."
    )
    styles = {style: StylePreset.objects.filter(name=style).first() for style in STYLES}
    test = ListeningTest.objects.create(
        name=NAME,
        scale=Scale.objects.get(name=SCALE),
        dimensions=["overall", "clarity"],
        ratings_per_sample=raters,  # every simulated rater hears every clip
        description="Simulated ratings with a known warm − neutral difference (manage.py simulate_ratings).",
        state=ListeningTest.State.CLOSED,
    )
    clips = []
    for position in range(1, n_sentences + 1):
        sentence = Sentence.objects.create(
            sentence_set=sentence_set, position=position, text=sentence_text(position)
        )
        for system in systems:
            for style, preset in styles.items():
                clips.append(
                    _clip(test, TestSample.Kind.TEST, system, style, preset, sentence.text, speech, sentence)
                )
    neutral = styles["neutral"]
    clips.append(_clip(test, TestSample.Kind.GOLD, GOLD_SYSTEM, "neutral", neutral, GOLD_TEXT, speech))
    clips.append(_clip(test, TestSample.Kind.TRAP, GOLD_SYSTEM, "neutral", neutral, trap_text(), speech))
    test_services.build_trials(test=test)
    return test, clips


def _clip(test, kind, system, style, preset, text, speech, sentence=None) -> TestSample:
    sample = demo.create_demo_sample(
        speech=speech[(system, style, text)],
        system=system,
        text=text,
        style=preset,
        style_label=style,
        sentence=sentence,
    )
    return TestSample.objects.create(
        test=test,
        sample=sample,
        kind=kind,
        expected_score=gold_score(test.scale) if kind == TestSample.Kind.GOLD else None,
        instructed_score=trap_score(test.scale) if kind == TestSample.Kind.TRAP else None,
    )


def simulate(test: ListeningTest, clips: list[TestSample], rng, *, good: int, difference: float) -> int:
    """Every rater rates every clip in both dimensions, trial after trial; returns the number of ratings.

    Timings come from a generator of their own: changing how they are drawn leaves the scores alone.
    """
    kinds = ["good"] * good + [kind for kind, count in BAD.items() for _ in range(count)]
    sentence_effect = {clip.sample.sentence_id: rng.normal(0, 0.5) for clip in clips}
    trials = dict(Trial.objects.filter(test=test).values_list("trial_clips__test_sample_id", "pk"))
    timing_rng = rng.spawn(1)[0]
    ratings: list[Rating] = []
    ends = []
    open_demo(test)
    for number, kind in enumerate(kinds, start=1):
        evaluator = Evaluator.objects.create(test=test, pseudonym=f"R{number:03d}")
        clock = start_session(evaluator, test, number)
        offset = rng.normal(0, 0.5)
        for clip in rng.permutation(clips):
            effects = offset + sentence_effect[clip.sample.sentence_id]
            overall = _score(kind, clip, effects, difference, rng, test.scale)
            clarity = _score(kind, clip, effects, 0.0, rng, test.scale)
            # A (plays, reaction) pair per dimension, drawn as the demo always has so that its seed
            # gives the same scores; the first pair times a person's answer.
            drawn = [(int(rng.integers(1, 3)), int(rng.integers(800, 4000)) / 1000) for _ in range(2)]
            timing = _timing(kind, clip.sample.duration_s, clock, drawn[0], timing_rng)
            for dimension, score in (("overall", overall), ("clarity", clarity)):
                ratings.append(
                    Rating(
                        evaluator=evaluator,
                        sample_id=clip.sample_id,
                        test_sample=clip,
                        trial_id=trials[clip.pk],
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
    return len(ratings)


def _timing(kind: str, duration_s: float, first_fetch_at, person: tuple[int, float], rng) -> dict:
    """Server and browser timings of one answer: a person (plays, seconds from the end of the last play
    to the click) reacts after the clip, a script answers a few milliseconds after the server's minimum."""
    if kind in SCRIPTED:
        plays, pause, reaction = 1, 0.0, rng.uniform(0.002, 0.015)
    else:
        plays, reaction = person
        pause = rng.uniform(0.3, 1.5) * (plays - 1)  # between the end of a play and the replay
    listened = duration_s * plays + pause
    return {
        "play_count": plays,
        "fetch_count": plays,  # audio is served no-store: every play is a fetch
        "server_play_count": plays,
        "time_to_answer_ms": round(1000 * (listened - duration_s + reaction)),
        "first_fetch_at": first_fetch_at,
        "received_at": first_fetch_at + timedelta(seconds=listened + reaction),
    }


def _page_load(kind: str, rng) -> timedelta:
    """From one answer to the first fetch of the next trial's audio."""
    return timedelta(seconds=rng.uniform(0.005, 0.03) if kind in SCRIPTED else rng.uniform(0.4, 2.0))


def _score(kind: str, clip: TestSample, effects: float, difference: float, rng, scale: Scale) -> int:
    lowest, top = scale.min_value, scale.max_value
    if kind == "script_same":
        return middle_score(scale)
    if kind == "script_random":
        return int(rng.integers(lowest, top + 1))
    if clip.kind == TestSample.Kind.TRAP:
        return top if kind == "trap" else trap_score(scale)
    if clip.kind == TestSample.Kind.GOLD:
        return int(rng.integers(top - 1, top + 1))  # the top score or the one below
    if kind == "straight":
        return top - 1
    if kind == "random":
        return int(rng.integers(lowest, top + 1))
    sample = clip.sample
    latent = (
        middle_score(scale)
        + 0.2
        + SYSTEMS.get(sample.system_label, 0.0)
        + (difference if sample.style_label == "warm" else 0.0)
    )
    return int(np.clip(np.rint(latent + effects + rng.normal(0, 0.6)), lowest, top))
