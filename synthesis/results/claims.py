"""The design's claims about the pipeline, each beside what this project measured and a verdict.

A claim is the design's sentence, its target, the design's own models, setting and hardware, and a
function that reads the latest measurement. The run modes that measure the pipeline carry their
claims (RunMode.claims) and the reader of their figures (RunMode.claim_figures); the claims page
(annotations.results.claims) lists them beside the listening tests' MOS claims. A figure measured
with other models, another setting or other hardware is "not comparable", never "holds": the
design's STT and TTS were Qwen2.5/Qwen3-Omni in ONNX INT8 and its LLM LFM2-1.2B Q4_K_M, while this
project ships Whisper, Piper and SmolLM2.
"""

import dataclasses
from collections.abc import Callable
from datetime import datetime

import numpy as np
from django.urls import reverse

from synthesis.models import Status, SynthesisRun
from synthesis.results import stats

HOLDS = "holds"
DOES_NOT_HOLD = "does not hold"
NOT_MEASURED = "not measured"
NOT_COMPARABLE = "not comparable"
VERDICTS = (HOLDS, DOES_NOT_HOLD, NOT_MEASURED, NOT_COMPARABLE)
APPROX_TOLERANCE = 0.10  # "~1189 ms" holds within ±10 %
OMNI = ("qwen", "omni")
OMNI_LABEL = "Qwen2.5/Qwen3-Omni audio encoder/decoder and talker, ONNX INT8"
LFM2 = ("lfm2", "1.2b", "q4_k_m")
LFM2_LABEL = "LFM2-1.2B Q4_K_M (GGUF), n_ctx 512, 6 threads"
LFM2_SETTING = {"llm_context_size": 512, "llm_threads": 6}
DESIGN_CPU = "i7-1165G7"
STT = {"stt": OMNI}
TTS = {"tts": OMNI}
SPEECH = {"stt": OMNI, "tts": OMNI}
LLM = {"llm": LFM2}
PIPELINE = {"stt": OMNI, "llm": LFM2, "tts": OMNI}
WER_METHOD = "corpus WER, Whisper normalisers; percentile bootstrap 95% CI over utterances (1000 resamples)"
PERCENTILES = "numpy percentile, linear interpolation (Hyndman & Fan type 7); no CI"


@dataclasses.dataclass(frozen=True)
class Target:
    value: float | None  # None: the design gave no figure
    comparison: str  # "<", "<=", ">=" or "~" (within APPROX_TOLERANCE)

    def __str__(self) -> str:
        return "no figure given" if self.value is None else f"{self.comparison} {self.value:g}"

    def met_by(self, value: float) -> bool:
        if self.comparison == "<":
            return value < self.value
        if self.comparison == "<=":
            return value <= self.value
        if self.comparison == ">=":
            return value >= self.value
        return abs(value - self.value) <= APPROX_TOLERANCE * self.value


@dataclasses.dataclass
class Measurement:
    """The latest measured value of a claim and where it comes from."""

    value: float | None
    source: str
    low: float | None = None
    high: float | None = None
    url: str = ""
    configuration: str = ""
    models: dict[str, str] = dataclasses.field(default_factory=dict)  # component -> model used
    settings: dict = dataclasses.field(default_factory=dict)
    hardware: str = ""
    measured_at: datetime | None = None
    method: str = ""
    not_a_benchmark: str = ""  # why this source can never give a verdict, e.g. a conversation run
    notes: list[str] = dataclasses.field(default_factory=list)


class Reads:
    """What one claims page has read: each source is read once per page, however many claims use it."""

    def __init__(self) -> None:
        self._found: dict = {}

    def once(self, read: Callable[[], object]):
        if read not in self._found:
            self._found[read] = read()
        return self._found[read]


@dataclasses.dataclass(frozen=True)
class Claim:
    key: str
    text: str  # as the design wrote it
    target: Target
    unit: str
    design_models: dict[str, tuple[str, ...]]  # component -> words the model's name must contain
    design_model: str
    design_setting: str
    measure: Callable[[Reads], Measurement | None]
    design_settings: dict = dataclasses.field(default_factory=dict)  # config field -> value
    design_hardware: str = ""  # words the CPU description must contain; "" = any
    note: str = ""


def differences(claim: Claim, measured: Measurement) -> list[str]:
    """Why the measured figure is not the design's: other model, setting, hardware or method."""
    found = []
    for component, words in claim.design_models.items():
        used = measured.models.get(component, "")
        if not used or not all(word in used.lower() for word in words):
            found.append(f"{component.upper()} model differs: {used or 'unknown'}")
    for field, value in claim.design_settings.items():
        if measured.settings.get(field) != value:
            found.append(f"setting differs: {field} = {measured.settings.get(field)} (design: {value})")
    if claim.design_hardware and claim.design_hardware.lower() not in measured.hardware.lower():
        found.append(f"hardware differs: {measured.hardware or 'unknown'} (design: {claim.design_hardware})")
    if measured.not_a_benchmark:
        found.append(measured.not_a_benchmark)
    return found


def verdict(claim: Claim, measured: Measurement | None) -> tuple[str, list[str]]:
    """(verdict, reasons): not measured, not comparable, holds or does not hold."""
    if measured is None or measured.value is None:
        return NOT_MEASURED, []
    found = differences(claim, measured)
    if found:
        return NOT_COMPARABLE, found
    if claim.target.value is None:
        return NOT_COMPARABLE, ["the design gives no figure for this claim"]
    return (HOLDS if claim.target.met_by(measured.value) else DOES_NOT_HOLD), []


# --- where measurements come from -------------------------------------------------------------


def latest_done_run(mode: str) -> SynthesisRun | None:
    """The newest finished run of a mode, or None."""
    runs = SynthesisRun.objects.filter(mode=mode, status=Status.DONE).select_related("config", "dataset")
    return runs.order_by("-finished_at", "-created_at").first()


def run_context(run: SynthesisRun, method: str = "") -> dict:
    """The configuration, models, setting, hardware and date of a run, for a Measurement."""
    snapshot = run.config_snapshot or {}
    return {
        "url": reverse("results:run", args=[run.pk]),
        "configuration": snapshot.get("name") or (run.config.name if run.config_id else ""),
        "models": {k: snapshot.get(f"{k}_model", "") for k in ("stt", "llm")} | {"tts": _tts(snapshot)},
        "settings": {k: snapshot.get(k) for k in ("llm_context_size", "llm_threads", "stt_threads")},
        "hardware": run.cpu_description,
        "measured_at": run.finished_at or run.created_at,
        "method": method,
    }


def _tts(snapshot: dict) -> str:
    return " ".join(filter(None, [snapshot.get("tts_backend", ""), snapshot.get("tts_voice", "")]))


FigureReader = Callable[[], tuple[SynthesisRun, dict | None] | None]


def benchmark_measure(read: FigureReader, figure: str, scale: float = 1.0, method: str = ""):
    """A measure function reading one figure of the run that `read` finds (a mode's claim_figures).

    Besides the figures, a reader may give "settings" the run itself fixed (they override its
    configuration's), and "source", "method" and "notes" that describe the measurement.
    """

    def measure(reads: Reads) -> Measurement | None:
        found = reads.once(read)
        if found is None:
            return None
        run, figures = found
        figures = figures or {}
        context = run_context(run, figures.get("method", method))
        context["settings"] |= figures.get("settings", {})
        source = figures.get("source") or f"{run.mode} run {run.pk} ({run.name})"
        if figures.get(figure) is None:
            return Measurement(value=None, source=f"{run.mode} run {run.pk}: not measured here", **context)
        value = figures[figure]
        value = value if isinstance(value, dict) else {"value": value}
        low, high = value.get("low"), value.get("high")
        return Measurement(
            value=value["value"] * scale,
            low=None if low is None else low * scale,
            high=None if high is None else high * scale,
            source=source,
            notes=list(figures.get("notes", [])),
            **context,
        )

    return measure


def conversation_measure(
    read: FigureReader,
    conversation_samples: Callable[[], tuple[SynthesisRun, list[dict]] | None],
    figure: str,
):
    """A latency benchmark figure (`read`, e.g. stt_tts_p50_ms) when one exists, else a provisional one
    (stt_tts_p50, stt_tts_p99 or e2e_mean) from the latest conversation run's counted samples."""
    from_benchmark = benchmark_measure(read, f"{figure}_ms", method=PERCENTILES)

    def measure(reads: Reads) -> Measurement | None:
        measured = from_benchmark(reads)
        if measured is not None and measured.value is not None:
            return measured
        found = reads.once(conversation_samples)
        if found is None:
            return measured
        run, samples = found
        provisional = Measurement(
            value=_conversation_figure(samples, figure),
            source=f"from conversation run {run.pk}, not a latency benchmark ({len(samples)} items)",
            not_a_benchmark="from a conversation run, not a latency benchmark (no fixed prompts or warm-up)",
            **run_context(run, PERCENTILES),
        )
        if measured is not None:
            provisional.notes.append(measured.source)
        return provisional

    return measure


def _conversation_figure(samples: list[dict], figure: str) -> float | None:
    if figure == "e2e_mean":
        values = [s["total_ms"] for s in samples if s["total_ms"] is not None]
        return float(np.mean(values)) if values else None
    values = [
        s["stt_ms"] + s["tts_ms"] for s in samples if s["stt_ms"] is not None and s["tts_ms"] is not None
    ]
    if not values:
        return None
    return stats.percentiles(values, [50 if figure == "stt_tts_p50" else 99])[0]


def percent(rate: float | None) -> float | None:
    return None if rate is None else 100 * rate
