"""What speaking a clause's first words alone costs in quality: the same sentences spoken whole and as
first words + rest (streaming.speak_pieces), each heard back by Whisper and scored by DNSMOS, paired."""

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from scipy import stats as scipy_stats

from synthesis.engines import audio, models, mos, pipeline, streaming, stt, textnorm
from synthesis.engines.settings import PipelineSettings
from synthesis.models import PipelineConfig, SentenceSet
from synthesis.results import stats

SEED = 0
N_BOOT = 2000


class Command(BaseCommand):
    help = (
        "Speak each sentence whole and as its first N words + the rest (joined as a streamed turn plays "
        "them); print the paired round-trip WER difference and DNSMOS P.808 difference with 95 % CIs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--set", default="harvard-en-100", help="Sentence set (its sentences in order).")
        parser.add_argument("--config", default="piper-joe-fast", help="Pipeline configuration (voice, STT).")
        parser.add_argument("--first-words", type=int, default=3, help="Words synthesised alone first.")
        parser.add_argument("--limit", type=int, default=0, help="Only the first N sentences (0: all).")

    def handle(self, *args, **opts):
        sentence_set = SentenceSet.objects.filter(name=opts["set"]).first()
        config_row = PipelineConfig.objects.filter(name=opts["config"]).first()
        if sentence_set is None or config_row is None:
            raise CommandError(
                f"No sentence set {opts['set']!r} or no pipeline configuration {opts['config']!r}."
            )
        if opts["first_words"] < 1:
            raise CommandError("--first-words must be at least 1.")
        config = PipelineSettings.from_snapshot(config_row.snapshot())
        sentences = list(sentence_set.sentences.order_by("position").values_list("text", "language"))
        if opts["limit"]:
            sentences = sentences[: opts["limit"]]
        options = streaming.StreamingOptions(tts_first_words=opts["first_words"], tts_trim_silence=True)
        whisper = pipeline.load_stt(config, settings.SARAI_MODEL_CACHE)
        scorer = mos.load_dnsmos()
        rows = []
        for text, language in sentences:
            style = pipeline.NEUTRAL_PROMPT_STYLE
            whole = pipeline.speak(text, language=language, style=style, config=config)
            pieces = list(
                streaming.speak_pieces(
                    text, first=True, options=options, language=language, style=style, config=config
                )
            )
            if len(pieces) < 2:
                continue  # too short to split: nothing to compare
            joined = np.concatenate([samples for samples, _, _ in pieces])
            rows.append(
                {
                    "whole": self.score(whole.audio, whole.sample_rate, text, language, whisper, scorer),
                    "split": self.score(joined, whole.sample_rate, text, language, whisper, scorer),
                }
            )
        if not rows:
            raise CommandError("No sentence was long enough to split.")
        self.report(rows, opts, config)

    @staticmethod
    def score(samples, rate, text, language, whisper, scorer) -> dict:
        audio_16k = audio.resample(samples, rate, stt.SAMPLE_RATE)
        heard = stt.transcribe(whisper, audio_16k, language=language)
        errors = textnorm.utterance_errors(
            text, heard.text, method=textnorm.default_method(language), language=language
        )
        return {
            "errors": errors["ref_words"] - errors["hits"] + errors["insertions"],
            "words": errors["ref_words"],
            "p808": mos.score_dnsmos(scorer, audio_16k)["p808"],
        }

    def report(self, rows, opts, config) -> None:
        wer = stats.paired_error_rate_difference(
            [r["whole"]["errors"] for r in rows],
            [r["split"]["errors"] for r in rows],
            [r["whole"]["words"] for r in rows],
            n_boot=N_BOOT,
            seed=SEED,
        )
        differences = np.array([r["split"]["p808"] - r["whole"]["p808"] for r in rows])
        ci = scipy_stats.bootstrap(
            (differences,), np.mean, n_resamples=N_BOOT, method="percentile", random_state=SEED
        ).confidence_interval
        self.stdout.write(
            f"{len(rows)} sentences of {opts['set']}, voice {config.tts_voice}, first {opts['first_words']} "
            f"words alone then the rest, joined without Piper's pauses at the join; heard by "
            f"{config.stt_model} (30 s window); on {models.cpu_description()}."
        )
        self.stdout.write("| measure | whole | first words + rest | difference | 95 % CI |")
        self.stdout.write("|---|---:|---:|---:|---:|")
        self.stdout.write(
            f"| round-trip WER % | {100 * wer['rate_a']:.2f} | {100 * wer['rate_b']:.2f} | "
            f"{100 * wer['difference']:+.2f} | [{100 * wer['low']:+.2f}, {100 * wer['high']:+.2f}] |"
        )
        whole_p808 = np.mean([r["whole"]["p808"] for r in rows])
        self.stdout.write(
            f"| DNSMOS P.808 | {whole_p808:.3f} | {whole_p808 + differences.mean():.3f} | "
            f"{differences.mean():+.3f} | [{ci.low:+.3f}, {ci.high:+.3f}] |"
        )
        self.stdout.write(
            f"WER: {wer['method']}. DNSMOS: mean of the paired differences, percentile bootstrap "
            f"(scipy.stats.bootstrap, {N_BOOT} resamples, seed {SEED})."
        )
