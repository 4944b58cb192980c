"""Queue a synthesis run from the terminal and follow its progress."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.template.defaultfilters import pluralize
from tqdm import tqdm

from synthesis import modes, services
from synthesis.engines import pipeline, selftest
from synthesis.management.following import Unterminated, advance, by_names
from synthesis.models import PipelineConfig, SentenceSet, StylePreset, SynthesisRun


class Command(BaseCommand):
    help = "Queue sentence set(s) × styles through the pipeline, then show a progress bar until the run ends."

    def add_arguments(self, parser):
        parser.add_argument(
            "--set", dest="sets", required=True, help="Sentence set name(s), comma-separated."
        )
        parser.add_argument("--styles", default="neutral,warm", help="Style names, comma-separated.")
        parser.add_argument("--config", default="piper-joe", help="Pipeline configuration name.")
        parser.add_argument("--mode", default=modes.DEFAULT_MODE, choices=list(modes.RUN_MODES))
        parser.add_argument("--name", default="", help="Run label (default: sets and styles).")
        parser.add_argument(
            "--in-process",
            action="store_true",
            help="Run the items in this process instead of waiting for Celery workers.",
        )
        parser.add_argument("--no-wait", action="store_true", help="Queue and return at once.")

    def handle(self, *args, **opts):
        sentence_sets = by_names(SentenceSet, opts["sets"])
        styles = by_names(StylePreset, opts["styles"])
        config = PipelineConfig.objects.filter(name=opts["config"]).first()
        if config is None:
            raise CommandError(f"No pipeline configuration named {opts['config']!r}.")
        name = opts["name"] or SynthesisRun.default_name(
            [s.name for s in sentence_sets], [s.name for s in styles]
        )
        abandoned = services.fail_abandoned_in_process_runs()
        if abandoned:
            self.stderr.write(f"Marked {abandoned} run(s) failed whose in-process command had died.")
        runner = services.worker_name() if opts["in_process"] else ""
        if runner:
            # A crashing engine would take this process down: test each engine in a child first.
            for result in selftest.ensure_report(cache_dir=settings.SARAI_MODEL_CACHE)["results"]:
                if not result["ok"]:
                    self.stderr.write(f"Engine self-test failed: {result['message']}")
        try:
            run = services.start_run(
                name=name,
                config=config,
                sentence_sets=sentence_sets,
                styles=styles,
                mode=opts["mode"],
                in_process_by=runner,
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Queued run {run.pk} ({run.total_count} item{pluralize(run.total_count)}).")
        if opts["in_process"]:
            self._run_here(run)
        elif not opts["no_wait"]:
            self._follow(run)
        run.refresh_from_db()
        self.stdout.write(
            f"Run {run.pk}: {run.get_status_display()}, {run.done_count} done, "
            f"{run.failed_count} failed of {run.total_count}."
        )
        for error in run.items.filter(status="failed").values_list("error", flat=True)[:5]:
            self.stdout.write(f"  failed: {error}")

    def _run_here(self, run: SynthesisRun) -> None:
        """Run every item in this process; the bar moves as each item ends."""
        try:
            with self._bar(run) as bar:
                services.run_items_here(run=run, after_each=lambda: advance(bar, run))
        finally:
            pipeline.release_models()  # llama-cpp-python's destructor fails if left to interpreter exit

    def _follow(self, run: SynthesisRun) -> None:
        """Watch the workers' progress until the run ends."""
        with self._bar(run) as bar:
            while not advance(bar, run):
                time.sleep(1)

    def _bar(self, run: SynthesisRun) -> tqdm:
        # smoothing=0: the rate is items finished since the bar appeared over the time since then,
        # not a moving average that the slow first item (model loading) would throw off.
        run.refresh_from_db()
        return tqdm(
            total=run.total_count,
            initial=run.done_count + run.failed_count,
            unit="item",
            file=Unterminated(self.stdout),
            smoothing=0,
            mininterval=0,
        )
