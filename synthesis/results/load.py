"""Summary of a load run (cold and warm model loads, memory) for the run page, the command and the claims.

Every figure comes from a fresh child process (synthesis.engines.loadprobe); with several repeats
each cell is the median over its processes. The total load time is the sum of the per-component
cold loads, each in its own process, as the design's table adds its rows; the total memory is the
RSS of one process holding every model after one inference each, with the per-component sum beside it.
"""

import statistics

from synthesis.engines import loadprobe, pipeline
from synthesis.models import SynthesisRun
from synthesis.results import latency

GIB_PER_MIB = 1 / 1024
# A cold row whose files kept more of their pages than this after the drop is flagged as not cold.
STILL_CACHED_SHARE = 0.05

METHOD_NOTES = (
    "Each row is a new Python process per measurement (never a worker that has loaded the model "
    "before), run one after another with no other run's item running.",
    "Cold: the model files are written back (fdatasync) and dropped from the page cache with "
    "posix_fadvise(POSIX_FADV_DONTNEED) just before loading; no root needed, but the call is "
    "advisory: pages that another process maps (e.g. a running worker holding the model) stay. "
    "What stayed is measured with util-linux fincore where installed (“left in cache”). "
    "Only the model files are dropped, not the libraries' own files. "
    "Warm: the files are read through once before loading.",
    "Load: the project's own loader, timed with perf_counter after the libraries were imported "
    "(their import is timed and sized apart). First inference: one tiny call right after "
    "(TTS of “Hello there.”, STT of 1 s of tone, 4 LLM tokens, DNSMOS of 1 s of noise, whose "
    "librosa/numba set-up happens here); llama.cpp maps the GGUF, so pages its load did not read "
    "are read at first use.",
    "RSS (resident set size, psutil) counts the pages of the process in RAM, file pages it maps "
    "included. RSS added = the RSS after the first inference minus the RSS after the imports. "
    "MB = 2^20 bytes, GB = 2^30 bytes.",
    "Total load = the sum of the per-component cold loads (each in its own process). "
    "RAM total = the RSS of one process holding every model, each used once "
    "(Python, numpy and the project's engine modules included).",
)


def _median(values: list[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _for_cache(processes: list[dict], cache: str, component: str) -> dict | None:
    """Median load and first-inference times of a component over the processes of one cache state."""
    chosen = [p["loads"][component] for p in processes if p["cache"] == cache]
    if not chosen:
        return None
    return {
        "n": len(chosen),
        "load_ms": _median([c["load_ms"] for c in chosen]),
        "first_inference_ms": _median([c["first_inference_ms"] for c in chosen]),
    }


def component_row(component: str, processes: list[dict]) -> dict:
    """One component measured alone: cold and warm times, import cost, RSS added, page-cache check."""
    loads = [p["loads"][component] for p in processes]
    cold = [p for p in processes if p["cache"] == loadprobe.COLD]
    file_mb = _median([c["file_mb"] for c in loads])
    left = [p["resident_mb"] for p in cold if p.get("resident_mb") is not None]
    return {
        "component": component,
        "label": loadprobe.LABELS[component],
        "file_mb": file_mb,
        "cold": _for_cache(processes, loadprobe.COLD, component),
        "warm": _for_cache(processes, loadprobe.WARM, component),
        "import_ms": _median([p["import_ms"] for p in processes]),
        "import_mb": _median([p["rss_imported_mb"] - p["rss_start_mb"] for p in processes]),
        "rss_load_mb": _median([c["rss_load_mb"] for c in loads]),
        "rss_added_mb": _median([c["rss_load_mb"] + c["rss_inference_mb"] for c in loads]),
        "left_in_cache_mb": max(left) if left else None,
        "not_cold": bool(left) and bool(file_mb) and max(left) > STILL_CACHED_SHARE * file_mb,
    }


def _together(processes: list[dict]) -> dict | None:
    """Every component in one process: total load per cache state and the process's RSS."""
    if not processes:
        return None
    totals = {}
    for cache in loadprobe.PAGE_CACHE_STATES:
        chosen = [p for p in processes if p["cache"] == cache]
        totals[cache] = {"n": len(chosen), "load_ms": _median([p["load_ms"] for p in chosen])}
    return {
        **totals,
        "n": len(processes),
        "rss_start_mb": _median([p["rss_start_mb"] for p in processes]),
        "rss_imported_mb": _median([p["rss_imported_mb"] for p in processes]),
        "rss_end_mb": _median([p["rss_end_mb"] for p in processes]),
        "peak_rss_mb": _median([p["peak_rss_mb"] for p in processes]),
    }


def _sum(values: list[float | None]) -> float | None:
    return None if not values or None in values else sum(values)


def summarise(processes: list[dict]) -> dict:
    """Per-component rows, their sums and the all-in-one process, from the stored figures alone."""
    alone = {c: [p for p in processes if p["components"] == [c]] for c in pipeline.COMPONENTS}
    rows = [component_row(c, alone[c]) for c in pipeline.COMPONENTS if alone[c]]
    together = _together([p for p in processes if sorted(p["components"]) == sorted(pipeline.COMPONENTS)])
    complete = len(rows) == len(pipeline.COMPONENTS)

    def total(cache: str) -> float | None:
        return _sum([(r[cache] or {}).get("load_ms") for r in rows]) if complete else None

    return {
        "rows": rows,
        "together": together,
        "total_cold_load_ms": total(loadprobe.COLD),
        "total_warm_load_ms": total(loadprobe.WARM),
        "sum_rss_added_mb": _sum([r["rss_added_mb"] for r in rows]) if complete else None,
        "ram_total_mb": together["rss_end_mb"] if together else None,
        "not_cold": [r["label"] for r in rows if r["not_cold"]],
        "cache_checked": any(r["left_in_cache_mb"] is not None for r in rows),
    }


def load_summary(run: SynthesisRun) -> dict:
    """The run's load table with its provenance (hardware, threads, library versions) and method."""
    stored = run.iterations.filter(kind=loadprobe.KIND, warmup=False).order_by("position")
    rows = list(stored.values("figures", "contended"))
    summary = summarise([row["figures"] for row in rows])
    config = run.pipeline_settings if run.config_snapshot else None
    for row in summary["rows"]:
        row["model"] = loadprobe.component_label(row["component"], config) if config else row["label"]
    return {
        **latency._provenance(run),
        **summary,
        "processes": len(rows),
        "contended": sum(row["contended"] for row in rows),
        "repeats": max([c["n"] for r in summary["rows"] for c in (r["cold"], r["warm"]) if c] or [0]),
        "method_notes": METHOD_NOTES,
    }


def load_claim_figures(run: SynthesisRun) -> dict:
    """What the claims page compares: the total cold load (ms) and the RAM of everything loaded (GB)."""
    summary = summarise([row.figures for row in run.iterations.filter(kind=loadprobe.KIND, warmup=False)])
    ram = summary["ram_total_mb"]
    return {
        "total_ms": summary["total_cold_load_ms"],
        "ram_total_gb": None if ram is None else ram * GIB_PER_MIB,
    }


def load_section(run: SynthesisRun) -> dict:
    """The load run's results section."""
    return {"s": load_summary(run)}
