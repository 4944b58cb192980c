"""Store a load run (each model alone, then all together; cold and warm; fresh processes) and print it."""

from django.core.management.base import BaseCommand, CommandError

from synthesis.engines import loadprobe
from synthesis.management.following import cell, start_and_follow
from synthesis.results import load
from synthesis.run_modes import load as load_mode

HEAD = ("component", "files MB", "cold ms", "warm ms", "1st inf cold", "1st inf warm")
HEAD += ("import ms", "import MB", "RSS load MB", "RSS added MB", "left MB")
ROW = "{:<34} {:>8} {:>8} {:>8} {:>12} {:>12} {:>9} {:>9} {:>11} {:>12} {:>8}"


class Command(BaseCommand):
    help = (
        "Time each model's cold and warm load and the memory it adds, each in a fresh process; print a table."
    )

    def add_arguments(self, parser):
        parser.add_argument("--config", default="piper-joe", help="Pipeline configuration name.")
        parser.add_argument(
            "--repeat", type=int, default=3, help="Processes per row and page-cache state (medians shown)."
        )
        parser.add_argument(
            "--in-process", action="store_true", help="Run here instead of in a Celery worker."
        )

    def handle(self, *args, **opts):
        try:
            plan = load_mode.load_plan(repeat=opts["repeat"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        run = start_and_follow(
            self,
            name=f"Load and memory × {opts['repeat']}",
            config_name=opts["config"],
            mode=load_mode.LOAD.key,
            plan=plan,
            in_process=opts["in_process"],
        )
        self.report(load.load_summary(run))
        for position, error in run.items.filter(error__gt="").values_list("iteration", "error"):
            self.stderr.write(f"Item {position} ({_entry_label(plan[position])}): {error}")

    def report(self, s: dict) -> None:
        self.stdout.write(
            f"\n{s['processes']} fresh processes ({s['repeats']} per row and page-cache state, medians) "
            f"on {s['cpu']} (threads: {s['threads']}); {s['contended']} contended."
        )
        self.stdout.write(ROW.format(*HEAD))
        for r in s["rows"]:
            cold, warm = r["cold"] or {}, r["warm"] or {}
            left = "n/a" if r["left_in_cache_mb"] is None else cell(r["left_in_cache_mb"], 1)
            times = [cold.get("load_ms"), warm.get("load_ms")]
            times += [cold.get("first_inference_ms"), warm.get("first_inference_ms")]
            cells = [cell(value, 1) for value in (r["file_mb"], *times)]
            cells += [
                cell(r["import_ms"], 0),
                *(cell(r[k], 1) for k in ("import_mb", "rss_load_mb", "rss_added_mb")),
            ]
            self.stdout.write(ROW.format(r["model"][:34], *cells, left))
        totals = [cell(s["total_cold_load_ms"], 1), cell(s["total_warm_load_ms"], 1)]
        self.stdout.write(
            ROW.format("Total (sum of the rows)", "", *totals, *[""] * 5, cell(s["sum_rss_added_mb"], 1), "")
        )
        self._together(s)
        for note in s["method_notes"]:
            self.stdout.write(f"- {note}")
        if not s["cache_checked"]:
            self.stdout.write(
                "- Page-cache residency not checked here: fincore (util-linux) is not installed."
            )
        if s["not_cold"]:
            self.stderr.write(
                f"Not cold: the page cache kept over 5 % of the files of {', '.join(s['not_cold'])}."
            )

    def _together(self, s: dict) -> None:
        t = s["together"]
        if t is None:
            return
        self.stdout.write(
            f"\nAll components in one process: load {cell(t['cold']['load_ms'], 1)} ms cold, "
            f"{cell(t['warm']['load_ms'], 1)} ms warm; RSS {cell(t['rss_start_mb'], 1)} MB at start, "
            f"{cell(t['rss_imported_mb'], 1)} MB after the imports, {cell(t['rss_end_mb'], 1)} MB "
            f"with every model loaded and used once ({cell(t['rss_end_mb'] / 1024, 2)} GB), "
            f"peak {cell(t['peak_rss_mb'], 1)} MB."
        )
        total = cell(s["total_cold_load_ms"], 1)
        self.stdout.write(
            f"Claims: total load {total} ms (the sum of the cold rows; design 813 ms), "
            f"RAM {cell(s['ram_total_mb'] / 1024, 2)} GB (design 1.34 GB).\n"
        )


def _entry_label(entry: dict) -> str:
    return f"{loadprobe.describe(entry['components'])}, {entry['cache']}"
