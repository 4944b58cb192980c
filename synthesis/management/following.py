"""What the run commands share: finding rows by name, starting a run and following it with a bar.

synthesize, the benchmark_* commands and the listening-test study command queue runs and then
either run their items in the command's own process (--in-process) or wait for the workers; each
shows one tqdm bar that moves with the run's persisted counts.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import pluralize
from tqdm import tqdm

from synthesis import services
from synthesis.engines import pipeline
from synthesis.models import PipelineConfig, SentenceSet, SynthesisRun

BENCH_SENTENCES = Path(settings.BASE_DIR) / "synthesis" / "fixtures" / "bench_sentences.txt"


class Unterminated:
    """A command's stdout for tqdm: Django ends every write with a newline, which breaks a bar
    that redraws its line after a carriage return."""

    def __init__(self, out) -> None:
        self.out = out

    def write(self, text: str) -> None:
        self.out.write(text, ending="")

    def flush(self) -> None:
        self.out.flush()


def advance(bar: tqdm, run: SynthesisRun) -> bool:
    """Move the bar to the run's persisted count with update(), which times the rate; True once it ended."""
    run.refresh_from_db()
    bar.set_postfix(failed=run.failed_count, refresh=False)
    bar.update(run.done_count + run.failed_count - bar.n)
    return run.is_finished


def by_names(model, names: str) -> list:
    """The rows of `model` named in a comma-separated list, in its order; CommandError names the unknown."""
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    found = {obj.name: obj for obj in model.objects.filter(name__in=wanted)}
    missing = [name for name in wanted if name not in found]
    if missing:
        raise CommandError(f"Unknown {model._meta.verbose_name} name(s): {', '.join(missing)}.")
    return [found[name] for name in wanted]


def start_and_follow(command: BaseCommand, *, name: str, config_name: str, mode: str, plan, in_process: bool):
    """Start a serial run, run it here (--in-process) or wait for a worker, with a moving progress bar."""
    config = PipelineConfig.objects.filter(name=config_name).first()
    if config is None:
        raise CommandError(f"No pipeline configuration named {config_name!r}.")
    runner = services.worker_name() if in_process else ""
    try:
        run = services.start_run(name=name, config=config, mode=mode, plan=plan, in_process_by=runner)
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    command.stdout.write(f"Run {run.pk}: {config.name}, {run.total_count} iterations (warm-ups included).")
    bar = tqdm(
        total=run.total_count, unit="it", file=Unterminated(command.stdout), smoothing=0, mininterval=0
    )
    with bar:
        if runner:
            services.run_serial(run_id=run.pk, worker=runner, after_item=lambda: advance(bar, run))
            pipeline.release_models()  # llama-cpp-python's destructor fails if left to interpreter exit
        else:
            while not advance(bar, run):
                time.sleep(1)
    run.refresh_from_db()
    if run.failed_count or run.error:
        command.stderr.write(f"{run.failed_count} failed. {run.error}")
    return run


def cell(value, digits: int) -> str:
    """A table cell: the value with `digits` decimals, or a dash when it was not measured."""
    return "–" if value is None else f"{value:.{digits}f}"


def ms(value) -> str:
    return cell(value, 1)


def run_on_workers(run: SynthesisRun, workers: int, timeout_s: float = 1800) -> float:
    """Start a Celery worker with `workers` pool processes, wait until the run ends, stop it; the wall s."""
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "sarai_eval",
            "worker",
            f"--concurrency={workers}",
            "--loglevel=WARNING",
        ],
        cwd=settings.BASE_DIR,
        env=os.environ.copy(),
        start_new_session=True,
    )
    started = time.monotonic()
    try:
        while not run.is_finished and time.monotonic() - started < timeout_s:
            time.sleep(0.2)
            run.refresh_from_db()
        return time.monotonic() - started
    finally:
        _stop(worker)


def _stop(worker: subprocess.Popen) -> None:
    # TERM to the main process only, so Celery shuts its pool down in order; then the whole group.
    worker.terminate()
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)


def bench_set(count: int) -> SentenceSet:
    """The benchmark sentence set of `count` sentences, imported from the bundled file the first time."""
    name = f"bench-{count}"
    existing = SentenceSet.objects.filter(name=name).first()
    if existing:
        return existing
    lines = BENCH_SENTENCES.read_text(encoding="utf-8").splitlines()[:count]
    if len(lines) < count:
        raise CommandError(f"{BENCH_SENTENCES} has only {len(lines)} sentence{pluralize(len(lines))}.")
    return services.import_sentences(
        name=name,
        data="\n".join(lines).encode(),
        filename=f"{name}.txt",
        description="Benchmark sentences composed for the pipeline benchmark.",
    )
