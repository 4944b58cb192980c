"""How often end-of-speech detection cuts a speaker off: prompts with a pause inside, per hang-over."""

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from synthesis.engines import audio, iterations, pipeline, vad
from synthesis.engines.settings import PipelineSettings
from synthesis.models import PipelineConfig

# Two halves of one utterance; a speaker pauses between them (thinking, breathing) and goes on.
PROMPTS = (
    ("Could you tell me", "what the weather will be like tomorrow?"),
    ("I would like to book a table", "for two people at eight."),
    ("Set a timer", "for ten minutes please."),
    ("What is the capital", "of Australia?"),
    ("Remind me to call my sister", "when I get home."),
    ("How long does it take", "to boil an egg?"),
    ("Play some quiet music", "in the living room."),
    ("Can you explain", "how a rainbow forms?"),
    ("Turn off the lights", "in the kitchen and the hall."),
    ("What time does the pharmacy", "close on Sundays?"),
)
PAUSES_MS = (150, 250, 400, 600, 800)
HANGOVERS_MS = (200, 240, 300, 400, 600, 800, 1000)


class Command(BaseCommand):
    help = "Cut-off rate of the end-of-speech detector on spoken prompts with a pause inside, per hang-over."

    def add_arguments(self, parser):
        parser.add_argument(
            "--config", default="piper-joe", help="Configuration whose voice speaks the prompts."
        )
        parser.add_argument(
            "--threshold", type=float, default=0.5, help="Silero speech probability threshold."
        )

    def handle(self, *args, **opts):
        config = PipelineConfig.objects.filter(name=opts["config"]).first()
        if config is None:
            raise CommandError(f"No pipeline configuration named {opts['config']!r}.")
        voice = PipelineSettings.from_snapshot(config.snapshot())
        halves = [(self.speak(first, voice), self.speak(second, voice)) for first, second in PROMPTS]
        self.stdout.write(
            f"{len(PROMPTS)} prompts spoken by {voice.tts_voice}, each with a pause of P ms between "
            f"its halves; a cut-off is an end of speech declared before the prompt's last voiced sample "
            f"({settings.SARAI_SILENCE_DBFS:g} dBFS). Silero VAD v6, threshold {opts['threshold']}."
        )
        self.stdout.write("hang-over ms | " + " | ".join(f"pause {p} ms" for p in PAUSES_MS))
        for hangover in HANGOVERS_MS:
            cells = []
            for pause in PAUSES_MS:
                cut = 0
                for first, second in halves:
                    gap = np.zeros(round(pause * vad.SAMPLE_RATE / 1000), dtype=np.float32)
                    prompt = np.concatenate([first, gap, second])
                    end = vad.last_voiced_sample(prompt, vad.SAMPLE_RATE, settings.SARAI_SILENCE_DBFS)
                    cut += vad.cuts_off(
                        prompt, true_end=end, hangover_ms=hangover, threshold=opts["threshold"]
                    )
                cells.append(f"{cut}/{len(halves)}")
            self.stdout.write(f"{hangover:>12} | " + " | ".join(f"{cell:>12}" for cell in cells))

    def speak(self, text: str, config: PipelineSettings) -> np.ndarray:
        spoken = pipeline.speak(text, language="en", style=pipeline.NEUTRAL_PROMPT_STYLE, config=config)
        samples = audio.resample(spoken.audio, spoken.sample_rate, pipeline.STT_RATE)
        # Piper pads its output with silence: keep the voiced part, so the pause is exactly P ms.
        end = vad.last_voiced_sample(samples, vad.SAMPLE_RATE, settings.SARAI_SILENCE_DBFS)
        start = round(
            iterations.leading_silence_s(samples, vad.SAMPLE_RATE, settings.SARAI_SILENCE_DBFS)
            * vad.SAMPLE_RATE
        )
        return np.asarray(samples[start:end], dtype=np.float32)
