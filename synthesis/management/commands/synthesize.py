"""Queue a synthesis run from the terminal and follow its progress."""

import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from synthesis import services
from synthesis.models import PipelineConfig, SentenceSet, StylePreset, SynthesisRun


class Command(BaseCommand):
    help = "Queue sentence set(s) × styles through the pipeline, then show a progress bar until the run ends."

    def add_arguments(self, parser):
        parser.add_argument(
            "--set", dest="sets", required=True, help="Sentence set name(s), comma-separated."
        )
        parser.add_argument("--styles", default="neutral,warm", help="Style names, comma-separated.")
        parser.add_argument("--config", default="piper-joe", help="Pipeline configuration name.")
        parser.add_argument("--mode", default="synthesis", choices=[m.value for m in SynthesisRun.Mode])
        parser.add_argument("--name", default="", help="Run label (default: sets and styles).")
        parser.add_argument(
            "--in-process",
            action="store_true",
            help="Run the items in this process instead of waiting for Celery workers.",
        )
        parser.add_argument("--no-wait", action="store_true", help="Queue and return at once.")

    def handle(self, *args, **opts):
        sentence_sets = _by_names(SentenceSet, opts["sets"])
        styles = _by_names(StylePreset, opts["styles"])
        config = PipelineConfig.objects.filter(name=opts["config"]).first()
        if config is None:
            raise CommandError(f"No pipeline configuration named {opts['config']!r}.")
        name = opts["name"] or f"{opts['sets']} × {opts['styles']}"
        try:
            run = services.start_run(
                name=name, config=config, sentence_sets=sentence_sets, styles=styles, mode=opts["mode"]
            )
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Queued run {run.pk} ({run.total_count} items).")
        if opts["in_process"]:
            for item_id in run.items.values_list("id", flat=True):
                item = services.claim_item(item_id=item_id, worker=services.worker_name())
                if item is not None:
                    services.execute_item(item=item)
        if not opts["no_wait"]:
            self._follow(run)
        run.refresh_from_db()
        self.stdout.write(
            f"Run {run.pk}: {run.get_status_display()}, {run.done_count} done, "
            f"{run.failed_count} failed of {run.total_count}."
        )
        for error in run.items.filter(status="failed").values_list("error", flat=True)[:5]:
            self.stdout.write(f"  failed: {error}")

    def _follow(self, run: SynthesisRun) -> None:
        with tqdm(total=run.total_count, unit="item", file=self.stdout) as bar:
            while True:
                run.refresh_from_db()
                bar.n = run.done_count + run.failed_count
                bar.set_postfix(failed=run.failed_count, refresh=False)
                bar.refresh()
                if run.is_finished:
                    return
                time.sleep(1)


def _by_names(model, names: str) -> list:
    wanted = [name.strip() for name in names.split(",") if name.strip()]
    found = {obj.name: obj for obj in model.objects.filter(name__in=wanted)}
    missing = [name for name in wanted if name not in found]
    if missing:
        raise CommandError(f"Unknown {model._meta.verbose_name} name(s): {', '.join(missing)}.")
    return [found[name] for name in wanted]
