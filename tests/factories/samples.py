"""Sentence sets, pipeline configs, styles, samples (tone clips or bare rows) and speech datasets."""

from django.core.files.base import ContentFile

from synthesis.models import (
    PipelineConfig,
    Sample,
    Sentence,
    SentenceSet,
    SpeechDataset,
    StylePreset,
    Utterance,
)
from tests.factories.files import tone_wav

SENTENCES = ("The cat sat on the mat.", "Rain is due later today.", "Please close the door.")


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
