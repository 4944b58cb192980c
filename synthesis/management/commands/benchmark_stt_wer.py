"""Run a speech dataset through one or more STT configurations and print corpus WER/CER with CIs."""

import statistics
import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import pluralize
from tqdm import tqdm

from synthesis import services
from synthesis.engines import bench, pipeline, selftest, stt
from synthesis.management.following import Unterminated, advance
from synthesis.models import PipelineConfig, SpeechDataset, SynthesisRun
from synthesis.results import wer
from synthesis.run_modes import stt_wer


class Command(BaseCommand):
    help = (
        "Store one STT WER run per configuration over a speech dataset (progress bar while it works), "
        "then print WER and CER with bootstrap 95% CIs, and the paired difference of two configurations."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dataset", required=True, help="Speech dataset name.")
        parser.add_argument(
            "--config",
            dest="configs",
            action="append",
            help="Pipeline configuration name; repeat to compare (default: piper-joe).",
        )
        parser.add_argument(
            "--floor",
            type=int,
            default=50,
            help="Time faster-whisper called directly on the first N utterances, the floor of the "
            "per-utterance cost (0: skip).",
        )
        parser.add_argument(
            "--in-process",
            action="store_true",
            help="Transcribe in this process instead of waiting for Celery workers.",
        )

    def handle(self, *args, **opts):
        dataset = SpeechDataset.objects.filter(name=opts["dataset"]).first()
        if dataset is None:
            raise CommandError(f"No speech dataset named {opts['dataset']!r}.")
        configs = [self._config(name) for name in opts["configs"] or ["piper-joe"]]
        runner = services.worker_name() if opts["in_process"] else ""
        if runner:
            for result in selftest.ensure_report(cache_dir=settings.SARAI_MODEL_CACHE)["results"]:
                if not result["ok"]:
                    self.stderr.write(f"Engine self-test failed: {result['message']}")
        runs = []
        for config in configs:
            try:
                run = services.start_run(
                    name=f"WER {dataset.name} · {config.name}"[:120],
                    config=config,
                    dataset=dataset,
                    mode=stt_wer.STT_WER.key,
                    in_process_by=runner,
                )
            except ValueError as exc:
                raise CommandError(str(exc)) from None
            self.stdout.write(
                f"Run {run.pk}: {config.name}, {run.total_count} utterance{pluralize(run.total_count)}."
            )
            self._run_here(run) if runner else self._follow(run)
            runs.append(run)
        self._report(runs)
        for run in runs:
            self._cost(run, opts["floor"])

    def _config(self, name: str) -> PipelineConfig:
        config = PipelineConfig.objects.filter(name=name).first()
        if config is None:
            raise CommandError(f"No pipeline configuration named {name!r}.")
        return config

    def _bar(self, run: SynthesisRun) -> tqdm:
        return tqdm(
            total=run.total_count, unit="utt", file=Unterminated(self.stdout), smoothing=0, mininterval=0
        )

    def _run_here(self, run: SynthesisRun) -> None:
        """Run every item in this process; the bar moves as each item ends."""
        with self._bar(run) as bar:
            services.run_items_here(run=run, after_each=lambda: advance(bar, run))

    def _follow(self, run: SynthesisRun) -> None:
        with self._bar(run) as bar:
            while not advance(bar, run):
                time.sleep(1)

    def _report(self, runs: list[SynthesisRun]) -> None:
        self.stdout.write(f"\nNormalisation: {wer.NORMALISATIONS[wer.DEFAULT]}.")
        self.stdout.write(
            f"CI: percentile bootstrap over utterances, {wer.N_BOOT} resamples, seed {wer.SEED}.\n"
        )
        columns = ("config", "model, encoder window", "utts", "WER [95% CI]", "CER [95% CI]", "mean RTF")
        self.stdout.write("{:<20} {:<32} {:>5} {:>26} {:>26} {:>9}".format(*columns))
        for run in runs:
            run.refresh_from_db()
            s = wer.summarise(wer.utterance_rows(run))
            failed = f"  ({run.failed_count} failed)" if run.failed_count else ""
            self.stdout.write(
                f"{run.config.name:<20.20} {run.stt_choice:<32.32} {s['n']:>5} "
                f"{_ci(s['wer']):>26} {_ci(s['cer']):>26} {figure(s['mean_rtf'], 3):>9}{failed}"
            )
        if len(runs) == 2:
            diff = wer.compare_runs(runs)["differences"][0]
            for label in ("wer", "cer"):
                d = diff[label]
                self.stdout.write(
                    f"Paired Δ{label.upper()} ({runs[1].config.name} − {runs[0].config.name}) "
                    f"on {d['n']} utterances: "
                    f"{figure(d['difference'])} [{figure(d['low'])}, {figure(d['high'])}]"
                )

    def _cost(self, run: SynthesisRun, floor: int) -> None:
        """Per-utterance cost against faster-whisper called directly on the same clips, and scaling.

        The direct calls run here, alone, after the run. A run on several worker processes shares
        the cores between them, so its per-utterance ratio includes that contention; its wall time
        is set against the summed direct calls instead (the scaling efficiency).
        """
        cost = wer.run_cost(run)
        if not cost["n"]:
            return
        self.stdout.write(
            f"\n{run.config.name}: {cost['n']} utterances in {cost['wall_s']:.1f} s of wall time on "
            f"{cost['workers']} worker process{pluralize(cost['workers'], 'es')}."
        )
        if floor <= 0:
            return
        items = run.items.filter(pk__in=cost["item_ms"]).select_related("utterance", "transcript")
        items = list(items.order_by("utterance__position")[:floor])
        direct = []
        for item in tqdm(items, unit="utt", file=Unterminated(self.stdout), mininterval=0):
            audio = item.utterance.audio_16k()
            # The model and window the run used for this clip's language (pipeline.transcribe_utterance).
            config = pipeline.conversation_settings(run.pipeline_settings, item.utterance.language)
            whisper = pipeline.load_stt(config, settings.SARAI_MODEL_CACHE)
            started = time.perf_counter()
            bench.direct_stt_pass(
                whisper,
                audio,
                stt.base_language(item.utterance.language),
                beam_size=config.stt_beam_size,
                window_s=config.stt_window_s,
            )
            direct.append((time.perf_counter() - started) * 1000)
        item_ms = [cost["item_ms"][item.pk] for item in items]
        ratios = [a / b for a, b in zip(item_ms, direct, strict=True)]
        self.stdout.write(
            f"First {len(items)} utterances: per-utterance cost (claim to stored) median "
            f"{statistics.median(item_ms):.1f} ms, the project's STT call "
            f"{statistics.median(item.transcript.stt_ms for item in items):.1f} ms; faster-whisper "
            f"called directly here, alone, {statistics.median(direct):.1f} ms. Ratio to the direct "
            f"call: median {statistics.median(ratios):.3f}, of the sums {sum(item_ms) / sum(direct):.3f}"
            + (
                " (in-process run: like for like)."
                if cost["workers"] == 1
                else " (the run's processes shared the cores: contention included)."
            )
        )
        direct_total = statistics.fmean(direct) / 1000 * cost["n"]
        speedup = direct_total / cost["wall_s"] if cost["wall_s"] else None
        if speedup is not None:
            self.stdout.write(
                f"Scaling: the direct calls would take {direct_total:.1f} s one after another "
                f"(their mean × {cost['n']}); the run took {cost['wall_s']:.1f} s on {cost['workers']} "
                f"process{pluralize(cost['workers'], 'es')}: speed-up {speedup:.2f}, efficiency "
                f"{speedup / cost['workers']:.2f} (speed-up / processes)."
            )


def figure(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _ci(result: dict) -> str:
    return f"{figure(result['rate'])} [{figure(result['low'])}, {figure(result['high'])}]"
