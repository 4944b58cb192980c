"""Benchmark the results pages: dashboard query time and export memory on a million ratings, and the
CMOS and A/B dashboard pages at the size of the demos.

Writes the ratings into the configured database under a separate test (bench-results), times the
queries behind the dashboard and streams the whole tidy CSV to /dev/null while measuring memory. Then
makes a CMOS and an A/B test of the pair demos' size (simulate_ratings' raters answering pairs of
tone clips) and times their dashboard pages through the whole request stack: the first view after
the ratings arrived and each later one. Deletes everything again unless --keep. The table goes to
docs/benchmarks.md ("## bench_results").
"""

import os
import statistics
import time
import tracemalloc
from pathlib import Path

import numpy as np
import psutil
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from annotations.management.commands import _pair_demos
from annotations.methods import get_method
from annotations.models import Evaluator, ListeningTest, Rating, Scale, TestSample
from annotations.results import mos, services, tables
from annotations.results.imports import placeholder_audio
from annotations.results.services import Thresholds
from synthesis.engines import audio
from synthesis.engines.models import cpu_description
from synthesis.models import Sample, Sentence, SentenceSet, StylePreset

NAME = "bench-results"
PAIR_SET = "bench-results-pairs"
PAIR_DEMOS = {
    "bench-results-cmos": ("CMOS", _pair_demos.make_cmos_demo),
    "bench-results-ab": ("A/B", _pair_demos.make_ab_demo),
}
# The pair demos' conditions: two systems in two styles, each clip a tone as long as a spoken sentence.
PAIR_SYSTEMS, PAIR_STYLES, PAIR_CLIP_S = ("piper-joe-medium", "espeak-ng-formant"), ("neutral", "warm"), 2.5
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
        parser.add_argument(
            "--pair-raters",
            type=int,
            default=24,
            help="Good raters of the CMOS and A/B tests (as the demos).",
        )
        parser.add_argument(
            "--pair-sentences",
            type=int,
            default=20,
            help="Sentences of the CMOS and A/B tests (as the demos).",
        )
        parser.add_argument(
            "--pairs-only",
            action="store_true",
            help="Time only the CMOS and A/B dashboard pages (no million ratings); implies --no-write.",
        )

    def handle(self, *args, **opts):
        if opts["samples"] % 4:
            raise CommandError("--samples must be a multiple of 4 (2 systems × 2 styles).")
        total = 0 if opts["pairs_only"] else opts["raters"] * opts["samples"]
        vendor = connection.vendor
        rows = [] if opts["pairs_only"] else self._million(opts, total, vendor)
        rows += self._pair_pages(opts)
        table = self._table(rows, total, vendor)
        self.stdout.write(table)
        if not (opts["no_write"] or opts["pairs_only"]):
            write_section(table)
            self.stdout.write(f"Updated {DOC}.")

    def _million(self, opts: dict, total: int, vendor: str) -> list[tuple[str, str, str]]:
        self.stdout.write(f"Writing {total:,} ratings into the {vendor} database ({NAME}); this is big.")
        remove_bench()
        try:
            test, seconds = create_bench(opts["raters"], opts["samples"])
            self.stdout.write(f"Inserted in {seconds:.1f} s.")
            return self._measure(test, opts["repeat"])
        finally:
            if not opts["keep"]:
                remove_bench()

    def _pair_pages(self, opts: dict) -> list[tuple[str, str, str]]:
        """The CMOS and A/B dashboard pages of tests the size of the pair demos, each timed through the
        whole request stack: the first view after their ratings arrived, then each later one."""
        remove_pair_bench()
        rows = []
        try:
            samples = create_pair_samples(opts["pair_sentences"])
            client = Client()
            client.force_login(get_user_model().objects.create_superuser(PAIR_SET, password=None))
            _get(client, reverse("results:index"))  # imports and templates loaded before any timing
            options = {"raters": opts["pair_raters"], "cmos_difference": 0.5, "preference": 0.7}
            for name, (title, make) in PAIR_DEMOS.items():
                with transaction.atomic():
                    test, judgements = make(name, samples, np.random.default_rng(1), options)
                url = reverse("results:test", args=[test.pk])
                first = _median(lambda url=url: _get(client, url), 1)
                later = _median(lambda url=url: _get(client, url), opts["repeat"])
                size = f"{judgements:,} judgements by {test.evaluators.count()} raters"
                rows.append((f"{title} dashboard page: first view after new ratings", f"{first:.3f} s", size))
                rows.append(
                    (
                        f"{title} dashboard page: each later view",
                        f"{later:.3f} s",
                        f"median of {opts['repeat']}",
                    )
                )
        finally:
            if not opts["keep"]:
                remove_pair_bench()
        return rows

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
        lines = [
            f"{HEADING}\n",
            f"`manage.py bench_results` · {timezone.now():%Y-%m-%d} · "
            f"{f'{total:,} ratings' if total else 'CMOS and A/B pages only'} · {vendor} · "
            f"{cpu_description()}\n",
            "| Measurement | Result | Note |",
            "|---|---:|---|",
            *(f"| {label} | {value} | {note} |" for label, value, note in rows),
            "",
            "Targets: MOS/CI table, distribution and progress under 1 s; export memory flat (< 100 MB).",
            "Screening, bootstrap, agreement and mixed models on tests this size come from the",
            "background analysis (annotations.tasks.analyse_test), timed above; the export reads",
            "its stored screening. The CMOS and A/B pages are timed on tests of the pair demos' size",
            "through Django's test client (middleware, view, templates, charts).\n",
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


def _get(client: Client, url: str) -> None:
    response = client.get(url)
    if response.status_code != 200:
        raise CommandError(f"{url} answered {response.status_code}")


def create_pair_samples(n_sentences: int) -> list[Sample]:
    """Every sentence in each pair demo condition, as tone clips of PAIR_CLIP_S seconds."""
    sentence_set = SentenceSet.objects.create(name=PAIR_SET, description="bench_results (deleted afterwards)")
    rate = 16000
    samples = []
    for position in range(1, n_sentences + 1):
        sentence = Sentence.objects.create(
            sentence_set=sentence_set, position=position, text=f"Bench sentence {position}."
        )
        for system in PAIR_SYSTEMS:
            for style in PAIR_STYLES:
                freq = 150.0 + 10 * len(samples)
                tone = 0.1 * np.sin(2 * np.pi * freq * np.arange(int(PAIR_CLIP_S * rate)) / rate)
                sample = Sample(
                    origin=Sample.Origin.IMPORTED,
                    system_label=system,
                    style=StylePreset.objects.filter(name=style).first(),
                    style_label=style,
                    sentence=sentence,
                    text=sentence.text,
                    duration_s=PAIR_CLIP_S,
                    sample_rate=rate,
                )
                sample.audio.save(f"{PAIR_SET}.wav", ContentFile(audio.wav_bytes(tone, rate)), save=False)
                sample.save()
                samples.append(sample)
    return samples


def remove_pair_bench() -> None:
    """The pair tests, their tone clips and files, and the user who viewed them."""
    with transaction.atomic():
        for name in PAIR_DEMOS:
            _pair_demos.remove_pair_demo(name)
        samples = Sample.objects.filter(sentence__sentence_set__name=PAIR_SET)
        files = [name for name in samples.values_list("audio", flat=True) if name]
        samples.delete()
        SentenceSet.objects.filter(name=PAIR_SET).delete()
        get_user_model().objects.filter(username=PAIR_SET).delete()
    storage = Sample._meta.get_field("audio").storage
    for name in files:
        storage.delete(name)


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
