"""Audio for the demo's imported samples, spoken at load time by the bundled engines.

No installed package ships human speech, so the demo never pretends to have a human reference:
its "imported" systems are the bundled synthesisers under names that say what they are.
"""

from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.utils.text import slugify

from synthesis.engines import audio, tts
from synthesis.models import Sample, Sentence, StylePreset

# label -> (TTS backend, voice). The neural Piper voice sounds clearly better than the formant one.
DEMO_SYSTEMS = {
    "piper-joe-medium": (tts.PIPER, "en_US-joe-medium"),
    "espeak-ng-formant": (tts.ESPEAK, "default"),
}


@dataclass(frozen=True)
class Speech:
    wav: bytes  # 16-bit PCM WAV
    duration_s: float
    sample_rate: int


def speak(*, system: str, text: str, style: StylePreset | None, language: str = "en") -> Speech:
    """text spoken by a demo system in a style; call it outside any transaction (it runs inference)."""
    backend, voice = DEMO_SYSTEMS[system]
    parameters = style.parameters() if style else {}
    result = tts.synthesize(backend, voice, text, language=language, style=parameters)
    return Speech(
        wav=audio.wav_bytes(result.audio, result.sample_rate),
        duration_s=len(result.audio) / result.sample_rate,
        sample_rate=result.sample_rate,
    )


def create_demo_sample(
    *,
    speech: Speech,
    system: str,
    text: str,
    style: StylePreset | None,
    style_label: str,
    sentence: Sentence | None = None,
) -> Sample:
    """An imported sample of a demo system holding speech made by speak()."""
    sample = Sample(
        origin=Sample.Origin.IMPORTED,
        system_label=system,
        style=style,
        style_label=style_label,
        sentence=sentence,
        text=text,
        source_name=f"{system}-{style_label}-{slugify(text)}"[:300],
        duration_s=speech.duration_s,
        sample_rate=speech.sample_rate,
    )
    sample.audio.save(f"demo-{system}.wav", ContentFile(speech.wav), save=False)
    sample.save()
    return sample
