"""Listening tests, their evaluators, and the server's record of the clips it sent them."""

from datetime import timedelta

from django.utils import timezone

from annotations import services
from annotations.models import Evaluator, ListeningTest, Scale, TestSample
from synthesis.models import Sample
from tests.factories.samples import make_sample_row, make_samples, make_sentence_set


def make_test(name: str = "test-a", **fields) -> ListeningTest:
    fields.setdefault("scale", Scale.objects.get(name="acr-en"))
    fields.setdefault("dimensions", ["overall"])
    fields.setdefault("state", ListeningTest.State.OPEN)
    return ListeningTest.objects.create(name=name, **fields)


def build_test(
    name: str = "mos-test", *, samples: list[Sample] | None = None, scale: str | None = "acr-en", **options
) -> ListeningTest:
    """A test through create_test; scale=None takes the method's default for the language."""
    samples = make_samples() if samples is None else samples
    options.setdefault("ratings_per_sample", 2)
    options.setdefault("samples_per_session", 4)
    chosen = Scale.objects.get(name=scale) if scale else None
    return services.create_test(name=name, samples=samples, scale=chosen, **options)


def build_design(
    name: str = "design",
    *,
    systems=("sys-a",),
    styles=("neutral", "warm"),
    sentences: int = 3,
    dimensions=("overall",),
) -> tuple[ListeningTest, dict]:
    """A test whose test clips are every system x style x sentence; clips[(system, style, i)] -> clip."""
    sentence_set = make_sentence_set(
        name=f"set-{name}", texts=tuple(f"Sentence {i}." for i in range(sentences))
    )
    test = ListeningTest.objects.create(
        name=name, scale=Scale.objects.get(name="acr-en"), dimensions=list(dimensions), ratings_per_sample=2
    )
    clips = {}
    for i, sentence in enumerate(sentence_set.sentences.order_by("position")):
        for system in systems:
            for style_name in styles:
                clips[(system, style_name, i)] = TestSample.objects.create(
                    test=test, sample=make_sample_row(system, style_name, sentence)
                )
    return test, clips


def make_evaluator(test: ListeningTest, pseudonym: str = "R001", **fields) -> Evaluator:
    return Evaluator.objects.create(test=test, pseudonym=pseudonym, **fields)


def evaluator_at_rating(test: ListeningTest, rng=None) -> Evaluator:
    """An evaluator whose session is assigned, past consent, screen and practice (those have their tests)."""
    evaluator = services.invite_evaluators(test=test, count=1)[0]
    services.assign(evaluator=evaluator, rng=rng)
    now = timezone.now()
    Evaluator.objects.filter(pk=evaluator.pk).update(consented_at=now, checked_at=now, trained_at=now)
    evaluator.refresh_from_db()
    return evaluator


def add_to_test(test: ListeningTest, sample: Sample, **fields) -> TestSample:
    return TestSample.objects.create(test=test, sample=sample, **fields)


def heard(evaluator: Evaluator, *clips: TestSample) -> None:
    """Note that the server sent each clip whole, as long ago as the clip lasts.

    For tests about something else than verified listening, which call the rating services
    directly; tests/annotations/test_verified_listening.py fetches over HTTP and really waits.
    """
    for clip in clips:
        fetch_whole(evaluator, clip, started_at=timezone.now() - timedelta(seconds=clip.sample.duration_s))


def hear_all(evaluator: Evaluator, clips, *, seconds: float | None = None) -> None:
    """Note that the server sent each clip whole, the first fetch seconds ago (default: every clip's
    duration one after the other, as a pair page needs); for tests that call the services directly."""
    clips = list(clips)
    seconds = sum(clip.sample.duration_s for clip in clips) if seconds is None else seconds
    started_at = timezone.now() - timedelta(seconds=seconds)
    for clip in clips:
        fetch_whole(evaluator, clip, started_at=started_at)


def fetch_whole(evaluator: Evaluator, clip: TestSample, *, started_at) -> None:
    """The server's record of one request that sent the clip's whole playback file."""
    size = clip.playback_audio.size
    services.record_fetch(
        evaluator=evaluator,
        test_sample=clip,
        started_at=started_at,
        bytes_from=0,
        bytes_to=size - 1,
        size=size,
    )


def ensure_default_scales(model=Scale):
    """The scales migration 0002 creates, made again (a TransactionTestCase empties every table after
    each test, the migrations' rows too); model may be a migration state's Scale. Returns acr-en."""
    from importlib import import_module

    for scale in import_module("annotations.migrations.0002_default_scales").SCALES:
        model.objects.get_or_create(name=scale["name"], defaults=scale)
    return model.objects.get(name="acr-en")
