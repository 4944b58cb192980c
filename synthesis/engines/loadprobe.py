"""Cold and warm model loads and the memory each model adds, each measured in a fresh child process.

`probe()` starts `python -m synthesis.engines.loadprobe`, hands it a request on stdin and reads
its figures (JSON) from stdout; the child runs `measure()`. A fresh process is the only way to see
what one model costs on its own: a worker that has loaded it once keeps it (the loaders are
cached), and its memory never goes back. Plain Python, no Django.

In the child, for the requested components: import their libraries (timed, and the RSS they add,
apart from the models), find the model files, then either drop them from the page cache (cold:
fdatasync and posix_fadvise(POSIX_FADV_DONTNEED), no root needed) or read them through (warm),
then per component: load through the project's loader (timed), one tiny inference (timed), and
the resident set size (RSS) after each. DONTNEED is advisory: pages that another process maps
(a running worker holding the model) stay, so the residency left after the drop is measured with
util-linux's `fincore` where it is installed and stored beside the figures.
"""

import faulthandler
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from synthesis.engines import llm, models, mos, pipeline, selftest, stt
from synthesis.engines.settings import PipelineSettings

KIND = "load"  # the TimedIteration kind of every load measurement
COLD, WARM = "cold", "warm"
PAGE_CACHE_STATES = (COLD, WARM)
LABELS = {"tts": "TTS", "stt": "STT", "llm": "LLM", "dnsmos": "DNSMOS"}
PROBE_TIMEOUT_S = 600
MODEL_FILE_EXIT = 3  # the child's exit code for a missing or bad model file (its message on stderr)
MIB = 2**20
_CHUNK_BYTES = 4 * MIB


class LoadProbeError(Exception):
    """A load probe's child process failed, crashed or printed no result."""


def component_label(component: str, config: PipelineSettings) -> str:
    """'LLM smollm2-135m (n_ctx 1024)': the component and the model a configuration gives it."""
    if component == "tts":
        return f"TTS {config.tts_backend} {config.tts_voice}".strip()
    if component == "stt":
        return f"STT {config.stt_model} ({config.stt_compute_type})"
    if component == "llm":
        return f"LLM {config.llm_model} (n_ctx {config.llm_context_size})"
    return "DNSMOS P.835 + P.808 (speechmos)"


def describe(components: list[str]) -> str:
    """'TTS' for one component, 'all components in one process' for every one."""
    if set(components) == set(pipeline.COMPONENTS):
        return "all components in one process"
    return " + ".join(LABELS[c] for c in components)


# --- the parent's side ---------------------------------------------------------------------------


def probe(
    *,
    components: list[str],
    cache: str,
    config: PipelineSettings,
    cache_dir: Path,
    timeout: float = PROBE_TIMEOUT_S,
) -> dict:
    """Measure the components in a new child process; ModelFileError or LoadProbeError if it fails."""
    if cache not in PAGE_CACHE_STATES or not components or set(components) - set(pipeline.COMPONENTS):
        raise ValueError(f"cannot probe {components!r} with a {cache!r} page cache")
    request = {
        "components": list(components),
        "cache": cache,
        "config": config.snapshot(),
        "cache_dir": str(cache_dir),
    }
    what = f"{' + '.join(component_label(c, config) for c in components)} load probe ({cache} page cache)"
    try:
        child = subprocess.run(
            [sys.executable, "-m", "synthesis.engines.loadprobe"],
            input=json.dumps(request),
            cwd=selftest.PROJECT_ROOT,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise LoadProbeError(f"The {what} did not finish within {timeout:.0f} s.") from None
    if child.returncode == MODEL_FILE_EXIT:
        raise models.ModelFileError(_tail(child.stderr, lines=1))
    if child.returncode != 0:
        # An exception ends the stderr with its one line; a native crash with faulthandler's stack.
        tail = _tail(child.stderr, lines=5 if child.returncode < 0 else 1)
        raise LoadProbeError(
            f"The {what} ended with {selftest.describe_exit(child.returncode)}; its stderr ends: {tail}"
        )
    try:
        return json.loads(child.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise LoadProbeError(
            f"The {what} printed no result; its stderr ends: {_tail(child.stderr)}"
        ) from None


def _tail(text: str, lines: int = 5) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return " | ".join(kept)[-1500:] or "(nothing)"


# --- the child's side ----------------------------------------------------------------------------


def _libraries(component: str, config: PipelineSettings) -> tuple[str, ...]:
    """The modules a component's loader imports: imported first, so that loads are timed without them."""
    if component == "tts":
        return ("onnxruntime", "piper") if config.tts_backend == "piper" else ("espeakng_loader",)
    return {"stt": ("faster_whisper",), "llm": ("llama_cpp",), "dnsmos": ("onnxruntime", "speechmos.dnsmos")}[
        component
    ]


def _load(component: str, config: PipelineSettings, cache_dir: Path, files: list[Path]) -> object:
    """Load through the project's loader, as a worker does (the files are already resolved)."""
    if component == "tts":
        return pipeline._load_tts(config)
    if component == "stt":
        return pipeline.load_stt(config, cache_dir)
    if component == "llm":
        # The path found before the cache was dropped: resolving again would read its first page.
        return llm.load_llm(str(files[0]), config.llm_context_size, config.llm_threads, config.llm_seed)
    return mos.load_dnsmos()


def _first_inference(component: str, model: object, config: PipelineSettings) -> None:
    """One tiny inference, so the figures are those of a model in use (lazy set-up, touched pages)."""
    if component == "tts":
        pipeline.speak("Hello there.", language="en", style=pipeline.NEUTRAL_PROMPT_STYLE, config=config)
    elif component == "stt":
        tone = 0.1 * np.sin(2 * np.pi * 220 * np.arange(stt.SAMPLE_RATE) / stt.SAMPLE_RATE)
        stt.transcribe(model, tone.astype(np.float32), language="en", beam_size=config.stt_beam_size)
    elif component == "llm":
        llm.generate(
            model,
            system_prompt=config.llm_system_prompt,
            user_text="Say hello.",
            max_tokens=4,
            temperature=0.0,
            seed=config.llm_seed,
        )
    else:
        mos.warm_up_dnsmos(model)  # what the pipeline runs after loading DNSMOS: numba compiles here


def drop_from_page_cache(paths: list[Path]) -> None:
    """Ask the kernel to drop the files' cached pages (advisory: pages mapped elsewhere stay)."""
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fdatasync(fd)  # dirty pages (a model.bin just assembled) are never dropped
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def read_through(paths: list[Path]) -> None:
    """Read every byte once so that the files sit in the page cache."""
    for path in paths:
        with open(path, "rb") as handle:
            while handle.read(_CHUNK_BYTES):
                pass


def resident_bytes(paths: list[Path]) -> int | None:
    """Bytes of the files now in the page cache (util-linux fincore), None where it cannot be told."""
    fincore = shutil.which("fincore")
    if not fincore or not paths:
        return None
    out = subprocess.run(
        [fincore, "--bytes", "--noheadings", "--raw", "--output", "RES", *map(str, paths)],
        capture_output=True,
        text=True,
    )
    if out.returncode != 0:
        return None
    return sum(int(value) for value in out.stdout.split())


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _mib(size: float) -> float:
    return size / MIB


def measure(*, components: list[str], cache: str, config: PipelineSettings, cache_dir: Path) -> dict:
    """Import, prepare the page cache, then load and use each component in turn; sizes in MiB."""
    rss_start = _rss()
    started = time.perf_counter()
    for component in components:
        for name in _libraries(component, config):
            __import__(name)
    import_ms = (time.perf_counter() - started) * 1000
    rss_imported = _rss()
    files = {c: pipeline.model_files(config, cache_dir, [c]) for c in components}
    every_file = [path for c in components for path in files[c]]
    (drop_from_page_cache if cache == COLD else read_through)(every_file)
    resident = resident_bytes(every_file)
    loads = {}
    for component in components:
        before = _rss()
        started = time.perf_counter()
        model = _load(component, config, cache_dir, files[component])
        load_ms = (time.perf_counter() - started) * 1000
        loaded = _rss()
        started = time.perf_counter()
        _first_inference(component, model, config)
        loads[component] = {
            "load_ms": load_ms,
            "first_inference_ms": (time.perf_counter() - started) * 1000,
            "rss_load_mb": _mib(loaded - before),
            "rss_inference_mb": _mib(_rss() - loaded),
            "file_mb": _mib(sum(path.stat().st_size for path in files[component])),
        }
    return {
        "components": list(components),
        "cache": cache,
        "import_ms": import_ms,
        "load_ms": sum(entry["load_ms"] for entry in loads.values()),
        "rss_start_mb": _mib(rss_start),
        "rss_imported_mb": _mib(rss_imported),
        "rss_end_mb": _mib(_rss()),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
        "file_mb": _mib(sum(path.stat().st_size for path in every_file)),
        "resident_mb": None if resident is None else _mib(resident),
        "loads": loads,
    }


def _main() -> None:
    faulthandler.enable()  # a native crash prints the Python stack, which probe() passes on
    request = json.load(sys.stdin)
    try:
        figures = measure(
            components=request["components"],
            cache=request["cache"],
            config=PipelineSettings.from_snapshot(request["config"]),
            cache_dir=Path(request["cache_dir"]),
        )
    except models.ModelFileError as exc:
        print(str(exc), file=sys.stderr, flush=True)
        os._exit(MODEL_FILE_EXIT)
    except Exception:
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(1)
    print(json.dumps(figures), flush=True)
    # llama-cpp-python's destructor fails noisily during interpreter shutdown; nothing is left to clean.
    os._exit(0)


if __name__ == "__main__":
    _main()
