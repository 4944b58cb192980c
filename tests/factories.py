"""Deterministic builders for test data, and the named personas of the tests."""

import io
from datetime import timedelta

import numpy as np
import soundfile as sf
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.utils import timezone

from annotations import services
from annotations.models import Evaluator, ListeningTest, Rating, Scale, TestSample
from synthesis.models import PipelineConfig, Sample, Sentence, SentenceSet, StylePreset


def make_admin(username: str = "ada-admin"):
    return get_user_model().objects.create_superuser(username=username, password="pw-admin-123")


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
    *, system_label: str = "sys-a", style_name: str = "neutral", sentence: Sentence | None = None, **fields
) -> Sample:
    sample = Sample(
        system_label=system_label,
        style=StylePreset.objects.filter(name=style_name).first(),
        style_label=style_name,
        sentence=sentence,
        text=sentence.text if sentence else "",
        duration_s=0.5,
        sample_rate=16000,
        origin=Sample.Origin.IMPORTED,
        **fields,
    )
    sample.audio.save("clip.wav", ContentFile(tone_wav()), save=False)
    sample.save()
    return sample


def make_test(name: str = "test-a", **fields) -> ListeningTest:
    fields.setdefault("scale", Scale.objects.get(name="acr-en"))
    fields.setdefault("dimensions", ["overall"])
    fields.setdefault("state", ListeningTest.State.OPEN)
    return ListeningTest.objects.create(name=name, **fields)


def make_evaluator(test: ListeningTest, pseudonym: str = "R001", **fields) -> Evaluator:
    return Evaluator.objects.create(test=test, pseudonym=pseudonym, **fields)


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
        size = clip.playback_audio.size
        started_at = timezone.now() - timedelta(seconds=clip.sample.duration_s)
        services.record_fetch(
            evaluator=evaluator,
            test_sample=clip,
            started_at=started_at,
            bytes_from=0,
            bytes_to=size - 1,
            size=size,
        )
