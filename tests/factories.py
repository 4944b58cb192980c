"""Deterministic builders for test data, and the named personas of the tests."""

import io
from datetime import timedelta

import numpy as np
import soundfile as sf
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.base import ContentFile
from django.utils import timezone

from annotations import services
from annotations.models import Evaluator, ListeningTest, Rating, Scale, TestSample
from annotations.roles import ADMINS, RESEARCHERS, setup_roles
from synthesis.models import (
    PipelineConfig,
    RunItem,
    Sample,
    Sentence,
    SentenceSet,
    SpeechDataset,
    Status,
    StylePreset,
    SynthesisRun,
    Utterance,
)

SENTENCES = ("The cat sat on the mat.", "Rain is due later today.", "Please close the door.")


def make_admin(username: str = "ada-admin"):
    return get_user_model().objects.create_superuser(username=username, password="pw-admin-123")


def make_user(username: str, group: str | None = None, **fields):
    """An account, in the role's group when one is given."""
    setup_roles()
    user = get_user_model().objects.create_user(username=username, password="pw-user-1234", **fields)
    if group:
        user.groups.add(Group.objects.get(name=group))
    return user


def make_researcher(username: str = "rita-researcher"):
    return make_user(username, RESEARCHERS)


def make_group_admin(username: str = "adam-admin"):
    """An admin by role (the admins group, staff) rather than a superuser."""
    return make_user(username, ADMINS, is_staff=True)


def make_sentence_set(
    name: str = "set-a", texts: tuple[str, ...] = ("Hello there.", "Good morning."), language: str = "en"
) -> SentenceSet:
    sentence_set = SentenceSet.objects.create(name=name)
    for position, text in enumerate(texts, start=1):
        Sentence.objects.create(sentence_set=sentence_set, position=position, text=text, language=language)
    return sentence_set


def make_config(name: str = "cfg", **fields) -> PipelineConfig:
    fields.setdefault("system_label", f"system {name}")
    return PipelineConfig.objects.create(name=name, **fields)


def style(name: str = "neutral") -> StylePreset:
    return StylePreset.objects.get(name=name)


def tone_wav(
    seconds: float = 0.5, sample_rate: int = 16000, freq: float = 220.0, amplitude: float = 0.3
) -> bytes:
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    buffer = io.BytesIO()
    sf.write(
        buffer,
        (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32),
        sample_rate,
        format="WAV",
        subtype="PCM_16",
    )
    return buffer.getvalue()


def noise_wav(seconds: float = 1.0, sample_rate: int = 16000, amplitude: float = 0.2, seed: int = 0) -> bytes:
    """White noise: energy at every frequency up to the Nyquist rate, to measure a filter against."""
    noise = np.random.default_rng(seed).uniform(-amplitude, amplitude, int(seconds * sample_rate))
    buffer = io.BytesIO()
    sf.write(buffer, noise.astype(np.float32), sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def make_sample(
    *,
    system_label: str = "sys-a",
    style_name: str = "neutral",
    sentence: Sentence | None = None,
    freq: float = 220.0,
    wav: bytes | None = None,
    **fields,
) -> Sample:
    """A sample whose audio is a short tone (frequency chosen per sample so clips differ), or wav."""
    fields.setdefault("origin", Sample.Origin.IMPORTED)
    sample = Sample(
        system_label=system_label,
        style=StylePreset.objects.filter(name=style_name).first(),
        style_label=style_name,
        sentence=sentence,
        text=sentence.text if sentence else "",
        duration_s=0.5,
        sample_rate=16000,
        **fields,
    )
    sample.audio.save("clip.wav", ContentFile(wav or tone_wav(seconds=0.5, freq=freq)), save=False)
    sample.save()
    return sample


def make_sample_row(system: str, style: str, sentence: Sentence | None = None, **fields) -> Sample:
    """A sample row without audio: the analyses read labels and measurements only."""
    fields.setdefault("origin", Sample.Origin.IMPORTED)
    return Sample.objects.create(
        system_label=system,
        style_label=style,
        style=StylePreset.objects.filter(name=style).first(),
        sentence=sentence,
        text=sentence.text if sentence else fields.pop("text", ""),
        audio="samples/none.wav",
        duration_s=fields.pop("duration_s", 1.0),
        sample_rate=16000,
        **fields,
    )


def make_samples(
    *,
    sentences: tuple[str, ...] = SENTENCES,
    styles=("neutral", "warm"),
    systems=("sys-a",),
    set_name="set-a",
) -> list[Sample]:
    """One sample per sentence x style x system, each sentence linked so neighbours can be checked."""
    sentence_set = make_sentence_set(name=set_name, texts=sentences)
    samples = []
    for sentence in sentence_set.sentences.all():
        for style_name in styles:
            for system_label in systems:
                freq = 200.0 + 40 * len(samples)
                samples.append(
                    make_sample(
                        system_label=system_label, style_name=style_name, sentence=sentence, freq=freq
                    )
                )
    return samples


def make_run_with_samples(name: str = "run-a") -> tuple[SynthesisRun, list[Sample]]:
    """A run holding six synthesised samples (three sentences in two styles)."""
    run = SynthesisRun.objects.create(name=name, config=make_config(f"cfg-{name}"))
    samples = make_samples(set_name=f"set-{name}")
    Sample.objects.filter(pk__in=[s.pk for s in samples]).update(run=run, origin=Sample.Origin.SYNTHESIZED)
    return run, samples


def make_run(queued: int, running: int, done: int = 0) -> SynthesisRun:
    """A run whose items are in the given states (no worker involved)."""
    total, number = queued + running + done, SynthesisRun.objects.count() + 1
    texts = tuple(f"Sentence {n}." for n in range(total))
    sentence_set = make_sentence_set(name=f"set-{number}", texts=texts)
    run = SynthesisRun.objects.create(
        name="long run", config=make_config(f"cfg-{number}"), status=Status.RUNNING, total_count=total
    )
    states = [Status.QUEUED] * queued + [Status.RUNNING] * running + [Status.DONE] * done
    neutral = StylePreset.objects.get(name="neutral")
    for sentence, status in zip(sentence_set.sentences.order_by("position"), states, strict=True):
        RunItem.objects.create(run=run, sentence=sentence, style=neutral, status=status, claimed_by="w:1")
    SynthesisRun.objects.filter(pk=run.pk).update(done_count=done)
    return run


def make_dataset(
    name: str = "tiny", texts: tuple[str, ...] = ("The cat sat down.", "Hello world."), wavs=None
) -> SpeechDataset:
    """A speech dataset with one utterance per text, its audio a one-second tone unless wavs are given."""
    dataset = SpeechDataset.objects.create(name=name, language="en")
    for position, text in enumerate(texts, start=2):
        data = wavs[position - 2] if wavs else tone_wav(seconds=1.0)
        utterance = Utterance(
            dataset=dataset, position=position, source_name=f"clip{position}.wav", transcript=text,
            language="en", sha256=f"{position:064x}", duration_s=1.0, sample_rate=16000,
        )  # fmt: skip
        utterance.audio.save(f"clip{position}.wav", ContentFile(data), save=False)
        utterance.save()
    return dataset


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


def rate(evaluator: Evaluator, sample: Sample, score: int, dimension: str = "overall", **fields) -> Rating:
    fields.setdefault("played_to_end", True)
    return Rating.objects.create(
        evaluator=evaluator, sample=sample, score=score, dimension=dimension, **fields
    )


def heard(evaluator: Evaluator, *clips: TestSample) -> None:
    """Note that the server sent each clip whole, as long ago as the clip lasts.

    For tests about something else than verified listening, which call the rating services
    directly; tests/annotations/test_verified_listening.py fetches over HTTP and really waits.
    """
    for clip in clips:
        fetch_whole(evaluator, clip, started_at=timezone.now() - timedelta(seconds=clip.sample.duration_s))


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
