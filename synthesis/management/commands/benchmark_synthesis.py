"""Synthesis throughput: a sentences × styles run on N worker processes against the same items alone."""

import os
import time
from collections import defaultdict

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from synthesis import services
from synthesis.engines import audio, bench, models, mos, pipeline, selftest
from synthesis.engines.settings import PipelineSettings
from synthesis.management.following import bench_set, run_on_workers
from synthesis.models import PipelineConfig, Status, StylePreset, SynthesisRun

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# Stages of a synthesis item with a stored time, then what is left of the item (claim to stored).
STAGES = (("TTS (Piper)", "tts_ms"), ("ASR round trip (Whisper)", "stt_ms"))
REST = "DNSMOS, loudness, WER, storing"


class Command(BaseCommand):
    help = (
        "Time a synthesis run on N worker processes and the same items one at a time in this process; "
        "print the scaling efficiency (sum alone ÷ (workers × wall)) and where the time goes."
    )

    def add_arguments(self, parser):
        parser.add_argument("--config", default="piper-joe", help="Pipeline configuration.")
        parser.add_argument("--sentences", type=int, default=100, help="Benchmark sentences in the run.")
        parser.add_argument("--styles", default="neutral,warm", help="Comma-separated style presets.")
        parser.add_argument("--workers", type=int, default=2, help="Celery worker processes for the run.")
        parser.add_argument(
            "--max-load",
            type=float,
            default=0.6,
            help="Wait before each measurement until the load is below.",
        )
        parser.add_argument("--load-wait", type=int, default=600, help="Longest wait for that load (s).")
        parser.add_argument(
            "--alone-run",
            type=int,
            help="Take the items alone from this earlier in-process run of the command instead of again.",
        )
        parser.add_argument(
            "--dnsmos-clips", type=int, default=10, help="Clips for the DNSMOS breakdown (0 skips)."
        )

    def handle(self, *args, **opts):
        db_config = PipelineConfig.objects.filter(name=opts["config"]).first()
        if db_config is None:
            raise CommandError(f"No pipeline configuration {opts['config']!r}; run `manage.py load_demo`.")
        names = [name.strip() for name in opts["styles"].split(",") if name.strip()]
        styles = list(StylePreset.objects.filter(name__in=names))
        if len(styles) != len(names):
            raise CommandError(f"Unknown style among {', '.join(names)}.")
        sentence_set = bench_set(opts["sentences"])
        config = PipelineSettings.from_snapshot(db_config.snapshot())
        self._header(db_config.name, config, opts["workers"])
        selftest.ensure_report(cache_dir=settings.SARAI_MODEL_CACHE)
        shape = f"{opts['sentences']}×{len(styles)}"
        wait = {"max_load": opts["max_load"], "timeout_s": opts["load_wait"]}

        load_run = bench.wait_for_quiet(**wait)
        run = services.start_run(
            name=f"throughput {shape} on {opts['workers']}",
            config=db_config,
            sentence_sets=[sentence_set],
            styles=styles,
        )
        queued_wall = run_on_workers(run, opts["workers"])

        if opts["alone_run"]:
            alone, load_alone = SynthesisRun.objects.get(pk=opts["alone_run"], in_process_by__gt=""), None
        else:
            load_alone = bench.wait_for_quiet(**wait)
            alone = services.start_run(
                name=f"throughput {shape} alone",
                config=db_config,
                sentence_sets=[sentence_set],
                styles=styles,
                in_process_by=services.worker_name(),
            )
            self._warm_up(config, sentence_set.sentences.first().text, styles[0].parameters())
            services.run_items_here(run=alone)
        self._report(run, alone, opts["workers"], queued_wall, load_run, load_alone)

        if opts["dnsmos_clips"]:
            load_parts = bench.wait_for_quiet(**wait)
            texts = list(sentence_set.sentences.order_by("position").values_list("text", flat=True))
            self._parts(config, texts[: opts["dnsmos_clips"]], styles[0].parameters(), load_parts)
        pipeline.release_models()

    def _header(self, name: str, config: PipelineSettings, workers: int) -> None:
        threads = ", ".join(f"{v}={os.environ.get(v, 'unset')}" for v in THREAD_VARIABLES)
        self.stdout.write(f"# benchmark_synthesis · {models.cpu_description()} · config {name}")
        self.stdout.write(
            f"Threads per model: TTS {config.tts_threads}, STT {config.stt_threads}, DNSMOS 1; "
            f"{threads}; {workers} worker processes."
        )

    def _warm_up(self, config: PipelineSettings, text: str, style: dict) -> None:
        """Models loaded and one untimed item, so the items alone pay no first-call costs."""
        cache = settings.SARAI_MODEL_CACHE
        pipeline.synthesize_item(text=text, language="en", style=style, config=config, cache_dir=cache)

    def _report(
        self, run: SynthesisRun, alone: SynthesisRun, workers: int, queued_wall: float, load_run, load_alone
    ) -> None:
        in_run, by_itself = _item_times(run), _item_times(alone)
        shared = sorted(set(in_run) & set(by_itself))
        if not shared:
            raise CommandError("No item finished in both runs.")
        rows = list(run.items.filter(status=Status.DONE).values("claimed_by", "started_at", "finished_at"))
        wall = (max(r["finished_at"] for r in rows) - min(r["started_at"] for r in rows)).total_seconds()
        sum_alone = sum(by_itself[key]["item"] for key in shared)
        speedup = sum_alone / wall
        self.stdout.write(
            f"\n## Run on {workers} worker processes (load {load_run:.2f} before) against the same items "
            f"alone in one process ({_alone_load(alone, load_alone)})\n"
        )
        self.stdout.write(
            f"{len(shared)} items; {run.done_count} done, {run.failed_count} failed in the run. Wall from "
            f"the first claim to the last sample {wall:.1f} s ({queued_wall:.1f} s from queueing, worker "
            f"start-up included); sum of the items alone {sum_alone:.1f} s; speed-up {speedup:.2f}; "
            f"scaling efficiency {speedup / workers:.3f} (sum alone ÷ ({workers} × wall))."
        )
        self.stdout.write("\n| stage | alone s (sum) | in run s (sum) | run ÷ alone |\n|---|---:|---:|---:|")
        for label, key in [*STAGES, (REST, "rest"), ("Item, claim to stored", "item")]:
            mine, theirs = (sum(times[k][key] for k in shared) for times in (by_itself, in_run))
            self.stdout.write(f"| {label} | {mine:.1f} | {theirs:.1f} | {theirs / mine:.3f} |")
        idle = _idle_between_items(rows)
        self.stdout.write(f"| Idle between a worker's items | – | {idle:.1f} | – |")
        self.stdout.write(
            f"\n{REST}: in the run it includes each worker's first item loading the models; "
            f"idle is summed over the {len({r['claimed_by'] for r in rows})} worker processes."
        )
        if load_alone is not None:
            self.stdout.write(f"Native thread pools of this process after the items: {_native_pools()}.")

    def _parts(self, config: PipelineSettings, texts: list[str], style: dict, load: float) -> None:
        """Each measurement after TTS timed alone on a few clips, DNSMOS split into its parts."""
        spoken = [pipeline.speak(text, language="en", style=style, config=config) for text in texts]
        scorer = pipeline.load_models(config, settings.SARAI_MODEL_CACHE, with_llm=False).dnsmos
        timed, clips = defaultdict(float), []
        for result in spoken:
            started = time.perf_counter()
            clips.append(audio.resample(result.audio, result.sample_rate, pipeline.STT_RATE))
            resampled = time.perf_counter()
            audio.integrated_loudness(result.audio, result.sample_rate)
            measured = time.perf_counter()
            mos.score_dnsmos(scorer, clips[-1])
            timed["resample"] += resampled - started
            timed["loudness"] += measured - resampled
            timed["dnsmos"] += time.perf_counter() - measured
        parts = bench.dnsmos_parts(scorer, clips)
        windows = parts.pop("windows")
        self.stdout.write(
            f"\n## Measurements after TTS, alone, {len(texts)} clips, {windows:.0f} DNSMOS windows "
            f"(load {load:.2f} before)\n"
        )
        self.stdout.write("| part | ms per item | ms per DNSMOS window |\n|---|---:|---:|")
        for label, key in (
            ("Resample to 16 kHz", "resample"),
            ("Loudness", "loudness"),
            ("DNSMOS", "dnsmos"),
        ):
            self.stdout.write(f"| {label} | {timed[key] / len(texts) * 1000:.1f} | |")
        for label, key in (
            ("DNSMOS features (log-mel)", "features"),
            ("DNSMOS P.808 model", "p808"),
            ("DNSMOS P.835 model", "p835"),
        ):
            seconds = parts[key]
            self.stdout.write(
                f"| {label} | {seconds / len(texts) * 1000:.1f} | {seconds / windows * 1000:.1f} |"
            )


def _item_times(run: SynthesisRun) -> dict[tuple[int, int], dict[str, float]]:
    """Each done item's seconds (claim to stored) and its stages, keyed by sentence and style."""
    rows = run.items.filter(status=Status.DONE).values(
        "sentence_id", "style_id", "started_at", "finished_at", "sample__tts_ms", "sample__stt_ms"
    )
    times = {}
    for row in rows:
        item = (row["finished_at"] - row["started_at"]).total_seconds()
        tts_s, stt_s = row["sample__tts_ms"] / 1000, row["sample__stt_ms"] / 1000
        times[(row["sentence_id"], row["style_id"])] = {
            "item": item,
            "tts_ms": tts_s,
            "stt_ms": stt_s,
            "rest": item - tts_s - stt_s,
        }
    return times


def _alone_load(alone: SynthesisRun, load: float | None) -> str:
    return f"load {load:.2f} before" if load is not None else f"run {alone.pk}, measured before"


def _native_pools() -> str:
    """The BLAS and OpenMP thread pools loaded in this process and their sizes (threadpoolctl)."""
    from threadpoolctl import threadpool_info

    return ", ".join(f"{pool['internal_api']} {pool['num_threads']}" for pool in threadpool_info())


def _idle_between_items(rows: list[dict]) -> float:
    """Seconds each worker process spent between finishing one item and claiming its next, summed."""
    by_worker = defaultdict(list)
    for row in rows:
        by_worker[row["claimed_by"]].append((row["started_at"], row["finished_at"]))
    idle = 0.0
    for spans in by_worker.values():
        spans.sort()
        idle += sum((b[0] - a[1]).total_seconds() for a, b in zip(spans, spans[1:], strict=False))
    return idle
