"""Run a speech dataset through one or more STT configurations and print corpus WER/CER with CIs."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import pluralize
from tqdm import tqdm

from annotations.results import wer
from synthesis import modes, services
from synthesis.engines import selftest
from synthesis.management.commands.synthesize import _advance, _Unterminated
from synthesis.models import PipelineConfig, SpeechDataset, SynthesisRun


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
                    mode=modes.STT_WER.key,
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

    def _config(self, name: str) -> PipelineConfig:
        config = PipelineConfig.objects.filter(name=name).first()
        if config is None:
            raise CommandError(f"No pipeline configuration named {name!r}.")
        return config

    def _bar(self, run: SynthesisRun) -> tqdm:
        return tqdm(
            total=run.total_count, unit="utt", file=_Unterminated(self.stdout), smoothing=0, mininterval=0
        )

    def _run_here(self, run: SynthesisRun) -> None:
        """Run every item in this process; the bar moves as each item ends."""
        with self._bar(run) as bar:
            services.run_items_here(run=run, after_each=lambda: _advance(bar, run))

    def _follow(self, run: SynthesisRun) -> None:
        with self._bar(run) as bar:
            while not _advance(bar, run):
                time.sleep(1)

    def _report(self, runs: list[SynthesisRun]) -> None:
        self.stdout.write(f"\nNormalisation: {wer.NORMALISATIONS[wer.DEFAULT]}.")
        self.stdout.write(
            f"CI: percentile bootstrap over utterances, {wer.N_BOOT} resamples, seed {wer.SEED}.\n"
        )
        columns = ("config", "model", "utts", "WER [95% CI]", "CER [95% CI]", "mean RTF")
        self.stdout.write("{:<20} {:<22} {:>5} {:>26} {:>26} {:>9}".format(*columns))
        for run in runs:
            run.refresh_from_db()
            s = wer.summarise(wer.utterance_rows(run))
            failed = f"  ({run.failed_count} failed)" if run.failed_count else ""
            self.stdout.write(
                f"{run.config.name:<20.20} {run.config_snapshot['stt_model']:<22.22} {s['n']:>5} "
                f"{_ci(s['wer']):>26} {_ci(s['cer']):>26} {_num(s['mean_rtf'], 3):>9}{failed}"
            )
        if len(runs) == 2:
            diff = wer.compare_runs(runs)["differences"][0]
            for label in ("wer", "cer"):
                d = diff[label]
                self.stdout.write(
                    f"Paired Δ{label.upper()} ({runs[1].config.name} − {runs[0].config.name}) "
                    f"on {d['n']} utterances: "
                    f"{_num(d['difference'])} [{_num(d['low'])}, {_num(d['high'])}]"
                )


def _num(value: float | None, digits: int = 4) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _ci(result: dict) -> str:
    return f"{_num(result['rate'])} [{_num(result['low'])}, {_num(result['high'])}]"
