"""Load every default engine and run one tiny inference, each in a child process.

A native library built for another CPU dies with SIGILL instead of raising, and takes the process
with it: each check runs in a child so a crash is reported with the engine's name and the signal.
Results are cached per build and CPU (a JSON file in the model cache), so a worker pays the checks
once per machine and library build, not at every start.
"""

import functools
import hashlib
import importlib
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from synthesis.engines import models

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CHECK_TIMEOUT_S = 300
# The CPU features that decide whether a native build runs here.
CPU_FLAGS = ("sse4_2", "avx", "avx2", "fma", "f16c", "bmi2", "avx_vnni")
CPU_FLAG_PREFIXES = ("avx512", "amx")
REBUILD_LLM = "rebuild it for a portable instruction set with `make rebuild-llm`, then restart the worker"


@dataclass(frozen=True)
class Engine:
    """One engine the pipeline uses: what to call it, the check to run, what to do if it crashes."""

    key: str
    label: str
    target: str  # "module:function" run in the child; it loads the default model and infers once
    remedy: str


ENGINES = (
    Engine(
        "tts-piper",
        "the TTS engine (Piper on onnxruntime)",
        "synthesis.engines.selftest:check_piper",
        "reinstall onnxruntime and piper-tts with `make install`",
    ),
    Engine(
        "tts-espeak",
        "the TTS engine (espeak-ng)",
        "synthesis.engines.selftest:check_espeak",
        "reinstall espeakng-loader with `make install`",
    ),
    Engine(
        "stt",
        "the STT engine (faster-whisper on CTranslate2, Silero VAD)",
        "synthesis.engines.selftest:check_whisper",
        "reinstall ctranslate2 and faster-whisper with `make install`",
    ),
    Engine("llm", "the LLM engine (llama.cpp)", "synthesis.engines.selftest:check_llm", REBUILD_LLM),
    Engine(
        "dnsmos",
        "the MOS predictor (DNSMOS on onnxruntime)",
        "synthesis.engines.selftest:check_dnsmos",
        "reinstall onnxruntime and speechmos with `make install`",
    ),
)
ENGINES_BY_KEY = {engine.key: engine for engine in ENGINES}


@dataclass
class CheckResult:
    """The outcome of one engine's check."""

    engine: str
    label: str
    ok: bool
    seconds: float
    message: str  # what was checked, or what went wrong and what to do


def describe_exit(returncode: int) -> str:
    """'signal 4 (SIGILL, illegal instruction)' for a negative return code, 'exit code N' otherwise."""
    if returncode < 0:
        return describe_signal(-returncode)
    return f"exit code {returncode}"


def describe_signal(number: int) -> str:
    """Name a signal by number with its meaning, e.g. 'SIGILL (illegal instruction)'."""
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
    meaning = (signal.strsignal(number) or "").lower()
    return f"{name} ({meaning})" if meaning else name


def run_check(engine: Engine, *, cache_dir: Path, timeout: float = CHECK_TIMEOUT_S) -> CheckResult:
    """Run one engine's check in a child process and describe what happened."""
    started = time.perf_counter()
    env = {**os.environ, "SARAI_MODEL_CACHE": str(cache_dir), "HF_HUB_OFFLINE": "1"}
    try:
        child = subprocess.run(
            [sys.executable, "-m", "synthesis.engines.selftest", engine.target],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        message = f"{engine.label} did not finish its check within {timeout:.0f} s"
        return CheckResult(engine.key, engine.label, False, time.perf_counter() - started, message)
    seconds = time.perf_counter() - started
    if child.returncode == 0:
        detail = child.stdout.strip().splitlines()[-1] if child.stdout.strip() else "ok"
        return CheckResult(engine.key, engine.label, True, seconds, detail)
    if child.returncode < 0:
        message = f"{engine.label} crashed with {describe_signal(-child.returncode)}: {engine.remedy}"
    else:
        last = (child.stderr.strip().splitlines() or ["no output"])[-1]
        message = f"{engine.label} failed its check ({last}): {engine.remedy}"
    return CheckResult(engine.key, engine.label, False, seconds, message)


def run_all(*, cache_dir: Path, engines: tuple[Engine, ...] = ENGINES) -> list[CheckResult]:
    return [run_check(engine, cache_dir=cache_dir) for engine in engines]


def cpu_flags() -> list[str]:
    """The CPU features (from /proc/cpuinfo) that decide whether a native build runs here."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            line = next((line for line in handle if line.startswith(("flags", "Features"))), "")
    except OSError:
        return []
    flags = set(line.partition(":")[2].split())
    return sorted(f for f in flags if f in CPU_FLAGS or f.startswith(CPU_FLAG_PREFIXES))


def llama_build_flags() -> str:
    """The CMake flags llama-cpp-python was built with (written by scripts/build_llama.sh)."""
    try:
        spec = importlib.util.find_spec("llama_cpp")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        return "llama-cpp-python not installed"
    flags_file = Path(next(iter(spec.submodule_search_locations))) / "sarai-build-flags.txt"
    if not flags_file.is_file():
        return "unknown: not built by scripts/build_llama.sh (possibly -march=native)"
    return flags_file.read_text(encoding="utf-8").strip()


@functools.lru_cache(maxsize=1)
def build_key() -> str:
    """A key that changes when a library build, the Python or the CPU changes."""
    parts = [
        sys.executable,
        json.dumps(models.library_versions(), sort_keys=True),
        llama_build_flags(),
        models.cpu_description(),
        " ".join(cpu_flags()),
    ]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def report_path(cache_dir: Path) -> Path:
    return Path(cache_dir) / "selftest" / f"{build_key()}.json"


def cached_report(cache_dir: Path) -> dict | None:
    """The stored report for this build and CPU, or None if the checks have not run here."""
    try:
        return json.loads(report_path(cache_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def ensure_report(*, cache_dir: Path, force: bool = False, engines: tuple[Engine, ...] = ENGINES) -> dict:
    """Return the cached report for this build and CPU, running the checks first if there is none."""
    report = None if force else cached_report(cache_dir)
    if report is not None:
        return report
    results = run_all(cache_dir=cache_dir, engines=engines)
    report = {
        "key": build_key(),
        "cpu": models.cpu_description(),
        "cpu_flags": cpu_flags(),
        "llama_build_flags": llama_build_flags(),
        "results": [asdict(result) for result in results],
    }
    path = report_path(cache_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(f".{os.getpid()}.tmp")
    temp.write_text(json.dumps(report, indent=2), encoding="utf-8")
    os.replace(temp, path)
    return report


def failure_for(report: dict | None, engine_keys: list[str]) -> str | None:
    """The message of the first failed check among the engines an item needs, if any."""
    if not report:
        return None
    failed = {r["engine"]: r["message"] for r in report.get("results", []) if not r["ok"]}
    for key in engine_keys:
        if key in failed:
            return f"Engine self-test failed: {failed[key]}"
    return None


# The checks below run in the child process only.
def _cache_dir() -> Path:
    return Path(os.environ["SARAI_MODEL_CACHE"])


def check_piper() -> str:
    from synthesis.engines import tts

    result = tts.synthesize(tts.PIPER, models.JOE_VOICE_NAME, "Test.", language="en", style={}, threads=1)
    return f"{models.JOE_VOICE_NAME}: {len(result.audio) / result.sample_rate:.2f} s of audio"


def check_espeak() -> str:
    from synthesis.engines import tts

    result = tts.synthesize(tts.ESPEAK, "", "Prueba.", language="es", style={}, threads=1)
    return f"espeak-ng: {len(result.audio) / result.sample_rate:.2f} s of audio"


def check_whisper() -> str:
    import numpy as np

    from synthesis.engines import stt

    lines = []
    for name in (models.WHISPER_BASE_NAME, models.WHISPER_TINY_EN_NAME):
        model = stt.load_whisper(str(models.resolve_stt_model(name, _cache_dir())), "int8", 1)
        tone = 0.1 * np.sin(2 * np.pi * 220 * np.arange(stt.SAMPLE_RATE) / stt.SAMPLE_RATE)
        stt.transcribe(model, tone.astype(np.float32), language="en")
        lines.append(name)
    from synthesis.engines import vad

    vad.StreamingVAD().feed(np.zeros(stt.SAMPLE_RATE, dtype=np.float32))  # Silero VAD, streamed turns
    return ", ".join(lines) + ", Silero VAD: 1 s each"


def check_llm() -> str:
    from synthesis.engines import llm

    model = llm.load_llm(str(models.resolve_llm_model(models.SMOLLM2_NAME)), 256, 1, 1234)
    reply = llm.generate(
        model, system_prompt="Answer briefly.", user_text="Say hello.", max_tokens=4, temperature=0.0, seed=1
    )
    del model
    llm.load_llm.cache_clear()
    return f"{models.SMOLLM2_NAME}: {reply.tokens} tokens"


def check_dnsmos() -> str:
    import numpy as np

    from synthesis.engines import mos

    scorer = mos.load_dnsmos()
    noise = np.random.default_rng(0).normal(0, 0.05, 16000).astype(np.float32)
    scores = mos.score_dnsmos(scorer, noise)
    return f"DNSMOS: p808 {scores['p808']:.2f}"


def _main(target: str) -> None:
    module_name, _, function_name = target.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    print(function() or "ok", flush=True)


if __name__ == "__main__":
    _main(sys.argv[1])
