"""Benchmark the results pages on a million ratings: dashboard query time and export memory.

Writes the ratings into the configured database under a separate test (bench-results), times the
queries behind the dashboard and streams the whole tidy CSV to /dev/null while measuring memory,
then deletes everything again unless --keep. The table goes to docs/benchmarks.md ("## bench_results").
"""

import os
import statistics
import time
import tracemalloc
from pathlib import Path

import numpy as np
import psutil
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.utils import timezone

from annotations.methods import get_method
from annotations.models import Evaluator, ListeningTest, Rating, Scale, TestSample
from annotations.results import mos, services, tables
from annotations.results.imports import placeholder_audio
from annotations.results.services import Thresholds
from synthesis.models import Sample, Sentence, SentenceSet

NAME = "bench-results"
HEADING = "## bench_results"
DOC = Path(settings.BASE_DIR) / "docs" / "benchmarks.md"


class Command(BaseCommand):
    help = "Time the dashboard queries and export memory on --raters × --samples ratings (default 1,000,000)."

    def add_arguments(self, parser):
        parser.add_argument("--raters", type=int, default=2000)
        parser.add_argument(
            "--samples", type=int, default=500, help="Clips: 2 systems × 2 styles × samples/4 sentences."
        )
        parser.add_argument(
            "--repeat", type=int, default=5, help="Timed repetitions of each query (median shown)."
        )
        parser.add_argument(
            "--keep", action="store_true", help="Keep the bench test and its ratings afterwards."
        )
        parser.add_argument("--no-write", action="store_true", help=f"Do not update {DOC.name}.")

    def handle(self, *args, **opts):
        if opts["samples"] % 4:
            raise CommandError("--samples must be a multiple of 4 (2 systems × 2 styles).")
        total = opts["raters"] * opts["samples"]
        vendor = connection.vendor
        self.stdout.write(f"Writing {total:,} ratings into the {vendor} database ({NAME}); this is big.")
        remove_bench()
        try:
            test, seconds = create_bench(opts["raters"], opts["samples"])
            self.stdout.write(f"Inserted in {seconds:.1f} s.")
            rows = self._measure(test, opts["repeat"])
        finally:
            if not opts["keep"]:
                remove_bench()
        table = self._table(rows, total, vendor)
        self.stdout.write(table)
        if not opts["no_write"]:
            write_section(table)
            self.stdout.write(f"Updated {DOC}.")

    def _measure(self, test: ListeningTest, repeat: int) -> list[tuple[str, str, str]]:
        started = time.perf_counter()
        analysed = services.run_background_analysis(test=test, thresholds=Thresholds())
        background = time.perf_counter() - started
        excluded = services.current_screening(test).excluded

        def mos_table():
            return mos.condition_rows(mos.dimension_tables(test, excluded), excluded)

        timed = {
            "Version check (live feed, nothing changed)": lambda: services.results_version(test),
            "MOS/CI table + distribution (t, normal, CrowdMOS; before and after)": mos_table,
            "Progress (collected vs target, evaluators)": lambda: get_method(test.method).progress(test),
            "Whole dashboard data (adds Wilcoxon pairs, rater table)": lambda: services.test_results(test),
        }
        rows = [
            (label, f"{_median(call, repeat):.3f} s", f"median of {repeat}") for label, call in timed.items()
        ]
        screened = f"{analysed['screening_n_ratings']:,} votes screened, {len(excluded)} raters excluded"
        rows.append(
            (
                "Background analysis (screening, bootstrap, alpha, mixed models)",
                f"{background:.1f} s",
                screened,
            )
        )
        if any(model.get("difference") is None for model in analysed["mixed_models"].values()):
            note = f"above {mos.MIXED_MODEL_MAX_CELLS:,} design cells; the Wilcoxon tests stand in"
            rows.append(("Mixed models", "not fitted", note))
        return rows + self._export_memory(test)

    def _export_memory(self, test: ListeningTest) -> list[tuple[str, str, str]]:
        screening = services.current_screening(test, Thresholds())
        process = psutil.Process()
        with open(os.devnull, "w") as sink:
            before, peak_rss, count = process.memory_info().rss, 0, 0
            started = time.perf_counter()
            for count, line in enumerate(
                tables.csv_lines(tables.RATING_COLUMNS, tables.rating_rows(test, screening))
            ):
                sink.write(line)
                if count % 20_000 == 0:
                    peak_rss = max(peak_rss, process.memory_info().rss)
            seconds = time.perf_counter() - started
            tracemalloc.start()
            for line in tables.csv_lines(tables.RATING_COLUMNS, tables.rating_rows(test, screening)):
                sink.write(line)
            peak_traced = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        return [
            (
                "Export: stream all ratings as tidy CSV",
                f"{seconds:.1f} s",
                f"{count:,} rows, {count / seconds:,.0f} rows/s",
            ),
            ("Export: Python heap peak (tracemalloc)", f"{peak_traced / 2**20:.1f} MB", "while streaming"),
            (
                "Export: RSS growth while streaming (psutil)",
                f"{max(peak_rss - before, 0) / 2**20:.1f} MB",
                f"RSS {before / 2**20:.0f} MB before, {peak_rss / 2**20:.0f} MB at most (every 20k rows)",
            ),
        ]

    def _table(self, rows, total: int, vendor: str) -> str:
        cpu = f"{psutil.cpu_count(logical=True)} CPUs"
        lines = [
            f"{HEADING}\n",
            f"`manage.py bench_results` · {timezone.now():%Y-%m-%d} · {total:,} ratings · {vendor} · {cpu}\n",
            "| Measurement | Result | Note |",
            "|---|---:|---|",
            *(f"| {label} | {value} | {note} |" for label, value, note in rows),
            "",
            "Targets: MOS/CI table, distribution and progress under 1 s; export memory flat (< 100 MB).",
            "Screening, bootstrap, agreement and mixed models on tests this size come from the",
            "background analysis (annotations.tasks.analyse_test), timed above; the export reads",
            "its stored screening.\n",
        ]
        return "\n".join(lines)


def _median(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def create_bench(n_raters: int, n_samples: int) -> tuple[ListeningTest, float]:
    """The bench test: n_samples clips (2 systems × 2 styles), n_raters raters who rate every clip."""
    started = time.perf_counter()
    with transaction.atomic():
        sentence_set = SentenceSet.objects.create(name=NAME, description="bench_results (deleted afterwards)")
        sentences = Sentence.objects.bulk_create(
            Sentence(sentence_set=sentence_set, position=i + 1, text=f"Bench sentence {i + 1}.")
            for i in range(n_samples // 4)
        )
        audio_name = placeholder_audio()
        samples = Sample.objects.bulk_create(
            Sample(
                origin=Sample.Origin.IMPORTED,
                system_label=system,
                style_label=style,
                sentence=sentence,
                text=sentence.text,
                audio=audio_name,
                duration_s=0.0,
                sample_rate=16000,
            )
            for sentence in sentences
            for system in ("bench-a", "bench-b")
            for style in ("neutral", "warm")
        )
        test = ListeningTest.objects.create(
            name=NAME, scale=Scale.objects.get(name="acr-en"), dimensions=["overall"]
        )
        clips = TestSample.objects.bulk_create(TestSample(test=test, sample=sample) for sample in samples)
        evaluators = Evaluator.objects.bulk_create(
            Evaluator(test=test, pseudonym=f"B{i:05d}") for i in range(n_raters)
        )
        _insert_ratings(evaluators, clips, test.scale)
    return test, time.perf_counter() - started


def _insert_ratings(evaluators: list[Evaluator], clips: list[TestSample], scale: Scale) -> None:
    """Raw executemany, one rater at a time: model instances would cost minutes for a million rows."""
    rng = np.random.default_rng(0)
    middle = (scale.min_value + scale.max_value) // 2
    quality = rng.normal(0, 0.6, size=len(clips))
    now = timezone.now()
    table = Rating._meta.db_table
    sql = (
        f"INSERT INTO {table} (evaluator_id, sample_id, test_sample_id, dimension, score, played_to_end, "
        "play_count, time_to_answer_ms, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
    )
    with connection.cursor() as cursor:
        for number, evaluator in enumerate(evaluators):
            scores = np.clip(
                np.rint(middle + 0.2 + rng.normal(0, 0.5) + quality + rng.normal(0, 0.8, len(clips))),
                scale.min_value,
                scale.max_value,
            )
            if number % 50 == 0:
                scores[:] = middle  # one rater in fifty straight-lines, so screening has someone to exclude
            cursor.executemany(
                sql,
                [
                    (evaluator.pk, clip.sample_id, clip.pk, "overall", int(score), True, 1, 1500, now)
                    for clip, score in zip(clips, scores, strict=True)
                ],
            )


def remove_bench() -> None:
    test = ListeningTest.objects.filter(name=NAME).first()
    if test is not None:
        Rating.objects.filter(evaluator__test=test).delete()
        sample_ids = list(test.test_samples.values_list("sample_id", flat=True))
        test.delete()
        Sample.objects.filter(pk__in=sample_ids).delete()
    SentenceSet.objects.filter(name=NAME).delete()


def write_section(table: str, path: Path = DOC) -> None:
    """Replace (or append) the "## bench_results" section of docs/benchmarks.md, leaving the others."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    start = text.find(HEADING)
    if start == -1:
        text = text.rstrip("\n") + "\n\n" + table
    else:
        following = text.find("\n## ", start + len(HEADING))
        text = text[:start] + table + ("\n" + text[following + 1 :] if following != -1 else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip("\n") + "\n")
