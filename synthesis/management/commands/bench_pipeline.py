"""Benchmark the pipeline: per-stage cost against direct library calls, worker memory, a full run."""

from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from synthesis import modes, services
from synthesis.engines import bench, loadprobe, models, pipeline
from synthesis.engines.settings import PipelineSettings
from synthesis.management.following import bench_set, run_on_workers
from synthesis.models import PipelineConfig, StylePreset
from synthesis.run_modes import sentences

TEXT = "The quarterly report shows a small rise in solar energy sales."
PROMPT = "What is a good way to start the morning?"
RSS_BUDGET = 1.5 * 1024**3
RUN_BUDGET_S = 180


class Command(BaseCommand):
    help = "Time each stage through the project and directly with the library; memory; a 100 × 2 run."

    def add_arguments(self, parser):
        parser.add_argument("--config", default="piper-joe", help="Pipeline configuration to benchmark.")
        parser.add_argument("--repeat", type=int, default=7, help="Timed calls per stage and side.")
        parser.add_argument("--llm-tokens", type=int, default=20, help="Tokens per LLM reply.")
        parser.add_argument("--iterations", type=int, default=100, help="Conversation latency iterations.")
        parser.add_argument("--warmup", type=int, default=3, help="Conversation iterations not counted.")
        parser.add_argument(
            "--run-sentences", type=int, default=100, help="Sentences in the timed run (0 skips)."
        )
        parser.add_argument("--workers", type=int, default=2, help="Worker processes for the timed run.")

    def handle(self, *args, **opts):
        db_config = PipelineConfig.objects.filter(name=opts["config"]).first()
        if db_config is None:
            raise CommandError(f"No pipeline configuration {opts['config']!r}; run `manage.py load_demo`.")
        config, cache = PipelineSettings.from_snapshot(db_config.snapshot()), settings.SARAI_MODEL_CACHE
        style = StylePreset.objects.get(name="neutral").parameters()
        self.stdout.write(f"# bench_pipeline · {models.cpu_description()} · config {db_config.name}\n")
        self.stdout.write(
            f"Libraries: {', '.join(f'{k} {v}' for k, v in models.library_versions().items())}\n"
        )
        stages = bench.stage_table(
            config,
            cache,
            text=TEXT,
            prompt=PROMPT,
            style=style,
            repeat=opts["repeat"],
            llm_tokens=opts["llm_tokens"],
        )
        self._table(
            f"Per-stage cost, median of {opts['repeat']} interleaved calls (target ratio ≤ 1.05)", stages
        )
        self._table(
            "Model loads, project against library (warm, median of 3)", bench.load_timings(config, cache)
        )
        self._latency(config, cache, style, opts["iterations"], opts["warmup"])
        self._memory(config, cache)
        pipeline.release_models()
        if opts["run_sentences"]:
            self._run(db_config, opts["run_sentences"], opts["workers"])

    def _table(self, title: str, rows: list[bench.StageTiming]) -> None:
        self.stdout.write(f"\n## {title}\n")
        self.stdout.write("| stage | project ms | direct ms | ratio | notes |\n|---|---:|---:|---:|---|")
        for row in rows:
            self.stdout.write(
                f"| {row.stage} | {row.project_s * 1000:.1f} | {row.direct_s * 1000:.1f} | "
                f"{row.ratio:.3f} | {row.extra} |"
            )

    def _latency(
        self, config: PipelineSettings, cache: Path, style: dict, iterations: int, warmup: int
    ) -> None:
        prompts = [PROMPT, "Can you suggest a name for a small grey cat?", "How do I keep basil fresh?"]
        latencies = [m for m in sentences.CONVERSATION.measurements if m in modes.latency_measurements()]
        series = bench.conversation_latency(
            config,
            cache,
            prompts=prompts,
            style=style,
            iterations=iterations,
            warmup=warmup,
            measurements=[m.name for m in latencies],
        )
        self.stdout.write(
            f"\n## Conversation latency, {iterations} iterations after {warmup} warm-up "
            "(ms; percentiles by linear interpolation, numpy default)\n"
        )
        self.stdout.write("| measure | mean | P50 | P90 | P99 | max |\n|---|---:|---:|---:|---:|---:|")
        for key, values in series.items():
            p50, p90, p99 = np.percentile(values, [50, 90, 99])
            self.stdout.write(
                f"| {key} | {np.mean(values):.0f} | {p50:.0f} | {p90:.0f} | {p99:.0f} | {max(values):.0f} |"
            )
        stt_tts = np.add(series["stt_ms"], series["tts_ms"])
        self.stdout.write(
            f"| stt_ms + tts_ms | {stt_tts.mean():.0f} | {np.percentile(stt_tts, 50):.0f} | "
            f"{np.percentile(stt_tts, 90):.0f} | {np.percentile(stt_tts, 99):.0f} | {stt_tts.max():.0f} |"
        )

    def _memory(self, config: PipelineSettings, cache: Path) -> None:
        try:
            figures = loadprobe.probe(
                components=list(pipeline.COMPONENTS), cache=loadprobe.WARM, config=config, cache_dir=cache
            )
        except (loadprobe.LoadProbeError, models.ModelFileError) as exc:
            raise CommandError(f"memory probe failed: {exc}") from None
        rss = figures["rss_end_mb"] * loadprobe.MIB
        verdict = "within" if rss < RSS_BUDGET else "OVER"
        self.stdout.write(
            f"\n## Worker memory\n\nResident set of one fresh process with every default model loaded "
            f"and used once: {rss / 1024**3:.2f} GB ({verdict} the 1.5 GB budget; "
            "per model, cold and warm: `manage.py benchmark_load`)."
        )

    def _run(self, config: PipelineConfig, count: int, workers: int) -> None:
        sentence_set = bench_set(count)
        styles = list(StylePreset.objects.filter(name__in=["neutral", "warm"]))
        run = services.start_run(
            name=f"bench {count}×{len(styles)}", config=config, sentence_sets=[sentence_set], styles=styles
        )
        wall = run_on_workers(run, workers)
        verdict = "within" if wall < RUN_BUDGET_S else "OVER"
        self.stdout.write(
            f"\n## Full run\n\n{run.total_count} items ({count} sentences × {len(styles)} styles, "
            f"TTS + ASR round trip + WER + DNSMOS + loudness) on {workers} worker processes: {wall:.0f} s "
            f"from queueing to the last sample, worker start-up and model loading included ({verdict} the "
            f"{RUN_BUDGET_S} s target); {run.done_count} done, {run.failed_count} failed; "
            f"{run.total_count / wall:.2f} items/s."
        )
