"""The design's claims, each next to what this project measured and a verdict.

One registry (CLAIMS): the claim as the design wrote it, its target, the design's own models,
setting and hardware, and a function that reads the latest measurement. A figure measured with
other models, another setting or other hardware is "not comparable", never "holds": the design's
STT and TTS were Qwen2.5/Qwen3-Omni in ONNX INT8 and its LLM LFM2-1.2B Q4_K_M, while this project
ships Whisper, Piper and SmolLM2. Simulated, demo and imported ratings never give a verdict.
"""

import dataclasses
import functools
from collections.abc import Callable
from datetime import datetime

import numpy as np
from django.urls import reverse

from annotations.management.commands.simulate_ratings import NAMES as DEMO_TEST_NAMES
from annotations.methods import scoring_methods
from annotations.models import ClipFetch, ListeningTest, Rating, Scale
from annotations.results import latency, load, run_analysis, services, stats, wer
from synthesis.models import Status, SynthesisRun

HOLDS = "holds"
DOES_NOT_HOLD = "does not hold"
NOT_MEASURED = "not measured"
NOT_COMPARABLE = "not comparable"
APPROX_TOLERANCE = 0.10  # "~1189 ms" holds within ±10 %
LATENCY_MODE, LLM_MODE, LOAD_MODE = "latency", "llm-speed", "load"
CONVERSATION_MODE = "conversation"
OMNI = ("qwen", "omni")
OMNI_LABEL = "Qwen2.5/Qwen3-Omni audio encoder/decoder and talker, ONNX INT8"
LFM2 = ("lfm2", "1.2b", "q4_k_m")
LFM2_LABEL = "LFM2-1.2B Q4_K_M (GGUF), n_ctx 512, 6 threads"
LFM2_SETTING = {"llm_context_size": 512, "llm_threads": 6}
DESIGN_CPU = "i7-1165G7"
SPANISH_VOICE_NOTE = (
    "No package ships a Spanish Piper voice: the demo speaks Spanish with espeak-ng, so Spanish TTS "
    "figures from the demo say nothing about the design's talker."
)
CROWDMOS = "CrowdMOS 95% CI (Ribeiro et al. 2011), after screening"
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


@dataclasses.dataclass(frozen=True)
class Claim:
    key: str
    text: str  # as the design wrote it
    target: Target
    unit: str
    design_models: dict[str, tuple[str, ...]]  # component -> words the model's name must contain
    design_model: str
    design_setting: str
    measure: Callable[["Sources"], Measurement | None]
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


# Readers for the benchmark runs built elsewhere: mode -> function(run) -> dict of figures, each a
# number or {"value", "low", "high"}. A done run whose mode has no reader is shown, not measured.
#   latency:   stt_tts_p50_ms, stt_tts_p99_ms, e2e_mean_ms
#   llm-speed: latency_ms (per prompt of 20 tokens, after the warm-up), tokens_per_s
#   load:      total_ms, ram_total_gb
BENCHMARK_READERS: dict[str, Callable[[SynthesisRun], dict]] = {
    "latency": latency.latency_claim_figures,
    "llm-speed": latency.llm_claim_figures,
    "load": load.load_claim_figures,
}


def benchmark_figures(mode: str) -> tuple[SynthesisRun, dict | None] | None:
    """(run, figures) of the latest done run of a benchmark mode; figures None until a reader is wired.

    The latency claims are the design's plain turns: a run of live turns only does not replace them.
    """
    run = latency.latest_plain_latency_run() if mode == "latency" else latest_done_run(mode)
    if run is None:
        return None
    reader = BENCHMARK_READERS.get(mode)
    return run, (reader(run) if reader else None)


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


class Sources:
    """Reads each source once per page: latest WER run, listening test, benchmark and conversation runs."""

    @functools.cached_property
    def spanish_wer(self) -> Measurement | None:
        runs = SynthesisRun.objects.filter(mode__in=wer.transcript_modes(), status=Status.DONE)
        run = runs.filter(dataset__language__istartswith="es").select_related("dataset", "config")
        run = run.order_by("-finished_at", "-created_at").first()
        if run is None:
            return None
        summary = wer.summarise(wer.utterance_rows(run))
        rate = summary["wer"]
        measured = Measurement(
            value=_percent(rate["rate"]), low=_percent(rate["low"]), high=_percent(rate["high"]),
            source=f"STT WER run {run.pk} on dataset {run.dataset.name} ({summary['n']} utterances)",
            **run_context(run, WER_METHOD),
        )  # fmt: skip
        if summary["n"] != 500 or "common voice" not in run.dataset.source.lower():
            measured.notes.append("the design used 500 Common Voice Spanish utterances")
        return measured

    @functools.cached_property
    def listening_test(self) -> tuple[ListeningTest | None, dict | None, list[str]]:
        """The newest complete test rated by real evaluators, its results, and why newer ones were skipped."""
        skipped = []
        # Only absolute ratings give a MOS; comparison and other methods are read elsewhere.
        for test in ListeningTest.objects.filter(method__in=scoring_methods(mos=True)).order_by(
            "-created_at"
        ):
            reason = not_real_reason(test)
            if reason:
                skipped.append(f"test {test.name}: {reason}")
                continue
            results = services.test_results(test)
            main = results["main_dimension"]
            # Complete = the test collected its target of ratings (every clip rated its number of
            # times). The MOS is
            # then computed from the raters who pass screening: excluded raters keep their slots
            # (new evaluators are not sent to replace them), so the after-screening count may fall
            # short of the target; the row says so rather than waiting for ratings that never come.
            collected, target = results["progress"]["collected"], results["progress"]["target"]
            if not target or collected < target:
                skipped.append(f"test {test.name}: {collected} of {target} ratings, not complete")
                continue
            kept = sum(row["after"]["n"] for row in results["conditions"] if row["dimension"] == main)
            if kept < collected:
                skipped.append(f"test {test.name}: {kept} of {collected} ratings kept after screening")
            return test, results, skipped
        return None, None, skipped

    def conversation(self) -> tuple[SynthesisRun, list[dict]] | None:
        run = latest_done_run(CONVERSATION_MODE)
        if run is None:
            return None
        samples = run_analysis.run_samples(run)
        warmup = run_analysis.warmup_ids(samples)
        return run, [s for s in samples if s["id"] not in warmup]


def _percent(rate: float | None) -> float | None:
    return None if rate is None else 100 * rate


def not_real_reason(test: ListeningTest) -> str:
    """Why a test's ratings are not from real evaluators rated in this app; "" when they are.

    The demo test's raters are simulated; imported ratings have no trial; an answer given in this
    app needs the server to have sent every clip (ClipFetch), which a script writing rows never has.
    """
    if test.name in DEMO_TEST_NAMES:
        return "simulated raters (manage.py simulate_ratings); never a verdict"
    ratings = Rating.objects.filter(evaluator__test=test)
    if not ratings.exists():
        return "no ratings yet"
    if ratings.filter(trial__isnull=True).exists():
        return "ratings imported from elsewhere (no trial in this app); never a verdict"
    heard = ClipFetch.objects.filter(evaluator__test=test).values("evaluator_id")
    if ratings.exclude(evaluator_id__in=heard).exists():
        return "ratings by evaluators the server never sent audio to (not rated through the app)"
    return ""


def mos_measure(dimension: str, style: str, design_words: tuple[str, ...] = OMNI):
    """A measure function: MOS of one dimension and style in the newest complete real test."""

    def measure(sources: Sources) -> Measurement | None:
        test, results, skipped = sources.listening_test
        if test is None:
            return Measurement(
                value=None, source="no complete listening test by real evaluators", notes=skipped
            )
        rows = [r for r in results["conditions"] if r["dimension"] == dimension and r["style"] == style]
        if not rows:
            return Measurement(value=None, source=f"test {test.name} rated no {dimension} × {style}")
        rows.sort(key=lambda r: (not all(w in r["system"].lower() for w in design_words), -r["after"]["n"]))
        row, crowd = rows[0], rows[0]["after"]["crowdmos"]
        ci = crowd["ci95"]
        last = Rating.objects.filter(evaluator__test=test).order_by("-created_at").first()
        measured = Measurement(
            value=crowd["mos"],
            low=None if ci is None else crowd["mos"] - ci,
            high=None if ci is None else crowd["mos"] + ci,
            source=f"listening test {test.name}: system {row['system']} ({crowd['raters']} raters × "
            f"{crowd['items']} clips)",
            url=reverse("results:test", args=[test.pk]),
            configuration=f"{test.name} ({test.scale.name})",
            models={"tts": row["system"]},
            measured_at=last.created_at if last else test.created_at,
            method=CROWDMOS,
            notes=skipped,
        )
        if len(rows) > 1:
            measured.notes.append("other systems in the test: " + ", ".join(r["system"] for r in rows[1:]))
        return measured

    return measure


def benchmark_measure(mode: str, figure: str, scale: float = 1.0, method: str = ""):
    """A measure function reading one figure of the latest benchmark run of `mode`."""

    def measure(sources: Sources) -> Measurement | None:
        found = benchmark_figures(mode)
        if found is None:
            return None
        run, figures = found
        context = run_context(run, method)
        # What the run itself fixed (e.g. the LLM benchmark's n_ctx) overrides its configuration.
        context["settings"] |= (figures or {}).get("settings", {})
        if figures is None or figures.get(figure) is None:
            return Measurement(
                value=None, source=f"{mode} run {run.pk}: its results are not read here yet", **context
            )
        value = figures[figure]
        value = value if isinstance(value, dict) else {"value": value}
        low, high = value.get("low"), value.get("high")
        return Measurement(
            value=value["value"] * scale,
            low=None if low is None else low * scale,
            high=None if high is None else high * scale,
            source=f"{mode} run {run.pk} ({run.name})",
            **context,
        )

    return measure


def conversation_measure(figure: str, benchmark_figure: str):
    """A latency benchmark figure when one exists, else a provisional one from a conversation run."""
    from_benchmark = benchmark_measure(LATENCY_MODE, benchmark_figure, method=PERCENTILES)

    def measure(sources: Sources) -> Measurement | None:
        measured = from_benchmark(sources)
        if measured is not None and measured.value is not None:
            return measured
        found = sources.conversation()
        if found is None:
            return measured
        run, samples = found
        value = _conversation_figure(samples, figure)
        provisional = Measurement(
            value=value,
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


# --- the registry ------------------------------------------------------------------------------

STT = {"stt": OMNI}
TTS = {"tts": OMNI}
SPEECH = {"stt": OMNI, "tts": OMNI}
LLM = {"llm": LFM2}
PIPELINE = {"stt": OMNI, "llm": LFM2, "tts": OMNI}
DIMENSIONS = ("clarity", "naturalness", "expressiveness", "artifacts")


def _acr_unit() -> str:
    """The design's MOS targets are on the ACR scale, whose range is the Scale model's default."""
    lowest, highest = (Scale._meta.get_field(name).default for name in ("min_value", "max_value"))
    return f"MOS ({lowest}–{highest})"


def _mos_claims() -> list[Claim]:
    unit = _acr_unit()
    claims = [
        Claim(
            key=f"tts-mos-{style}",
            text=f"TTS MOS ≥ {target} ({style}; 20 raters × 100 sentences)",
            target=Target(target, ">="),
            unit=unit,
            design_models=TTS,
            design_model=OMNI_LABEL,
            design_setting=f"talker, {style} style",
            measure=mos_measure("overall", style),
            note=SPANISH_VOICE_NOTE,
        )  # fmt: skip
        for style, target in (("neutral", 4.21), ("warm", 4.38))
    ]
    # The design tabled a MOS per dimension and style; its figures are not in this project's brief,
    # so each row shows the measurement and can only become a verdict once its target is entered.
    claims += [
        Claim(
            key=f"tts-mos-{dimension}-{style}",
            text=f"TTS MOS breakdown: {dimension} ({style})",
            target=Target(None, ">="),
            unit=unit,
            design_models=TTS,
            design_model=OMNI_LABEL,
            design_setting=f"talker, {style} style",
            measure=mos_measure(dimension, style),
        )  # fmt: skip
        for dimension in DIMENSIONS
        for style in ("neutral", "warm")
    ]
    return claims


CLAIMS: tuple[Claim, ...] = (
    Claim(
        key="stt-wer-es", text="STT WER (es) < 2.0 % (Common Voice, 500 utterances)", target=Target(2.0, "<"),
        unit="%", design_models=STT, design_model=OMNI_LABEL, design_setting="audio encoder, Spanish",
        measure=lambda sources: sources.spanish_wer,
    ),
    *_mos_claims(),
    Claim(
        key="stt-tts-p50", text="STT+TTS P50 < 240 ms", target=Target(240, "<"), unit="ms",
        design_models=SPEECH, design_model=OMNI_LABEL, design_setting="6-thread CPU",
        measure=conversation_measure("stt_tts_p50", "stt_tts_p50_ms"), design_hardware=DESIGN_CPU,
    ),
    Claim(
        key="stt-tts-p99", text="STT+TTS P99 < 320 ms", target=Target(320, "<"), unit="ms",
        design_models=SPEECH, design_model=OMNI_LABEL, design_setting="6-thread CPU",
        measure=conversation_measure("stt_tts_p99", "stt_tts_p99_ms"), design_hardware=DESIGN_CPU,
    ),
    Claim(
        key="e2e", text="End to end ~1189 ms", target=Target(1189, "~"), unit="ms",
        design_models=PIPELINE, design_model=f"{OMNI_LABEL}; {LFM2_LABEL}", design_setting="6-thread CPU",
        measure=conversation_measure("e2e_mean", "e2e_mean_ms"), design_settings=LFM2_SETTING,
        design_hardware=DESIGN_CPU, note=f"Holds within ±{APPROX_TOLERANCE:.0%} of 1189 ms.",
    ),
    Claim(
        key="e2e-original-target", text="End to end < 500 ms (the original target)", target=Target(500, "<"),
        unit="ms", design_models=PIPELINE, design_model=f"{OMNI_LABEL}; {LFM2_LABEL}",
        design_setting="6-thread CPU", measure=conversation_measure("e2e_mean", "e2e_mean_ms"),
        design_settings=LFM2_SETTING, design_hardware=DESIGN_CPU,
    ),
    Claim(
        key="load-total", text="Model load 813 ms total", target=Target(813, "<="), unit="ms",
        design_models=PIPELINE, design_model=f"{OMNI_LABEL}; {LFM2_LABEL}", design_setting="cold load",
        measure=benchmark_measure(LOAD_MODE, "total_ms"), design_hardware=DESIGN_CPU,
    ),
    Claim(
        key="ram-total", text="RAM 1.34 GB", target=Target(1.34, "<="), unit="GB",
        design_models=PIPELINE, design_model=f"{OMNI_LABEL}; {LFM2_LABEL}", design_setting="all loaded",
        measure=benchmark_measure(LOAD_MODE, "ram_total_gb"),
    ),
    Claim(
        key="llm-latency", text="LLM 904 ms / 20 tokens", target=Target(904, "<="), unit="ms",
        design_models=LLM, design_model=LFM2_LABEL, design_setting="n_ctx 512, 6 threads, max 20 tokens",
        measure=benchmark_measure(LLM_MODE, "latency_ms"), design_settings=LFM2_SETTING,
        design_hardware=DESIGN_CPU,
    ),
    Claim(
        key="llm-tokens-per-s", text="LLM 12.4 tok/s", target=Target(12.4, ">="), unit="tok/s",
        design_models=LLM, design_model=LFM2_LABEL, design_setting="n_ctx 512, 6 threads, max 20 tokens",
        measure=benchmark_measure(LLM_MODE, "tokens_per_s"), design_settings=LFM2_SETTING,
        design_hardware=DESIGN_CPU,
    ),
)  # fmt: skip


def claim_rows(sources: Sources | None = None) -> list[dict]:
    """Every claim with its latest measurement, verdict and the reasons for it."""
    sources = sources or Sources()
    rows = []
    for claim in CLAIMS:
        measured = claim.measure(sources)
        outcome, reasons = verdict(claim, measured)
        rows.append({"claim": claim, "measured": measured, "verdict": outcome, "reasons": reasons})
    return rows


def claims_json(rows: list[dict]) -> dict:
    """The claims table as plain JSON values."""
    return {
        "verdicts": [HOLDS, DOES_NOT_HOLD, NOT_MEASURED, NOT_COMPARABLE],
        "spanish_voice": SPANISH_VOICE_NOTE,
        "claims": [_row_json(row) for row in rows],
    }


def _row_json(row: dict) -> dict:
    claim, measured = row["claim"], row["measured"]
    data = {
        "key": claim.key,
        "claim": claim.text,
        "target": {"value": claim.target.value, "comparison": claim.target.comparison},
        "unit": claim.unit,
        "design_model": claim.design_model,
        "design_setting": claim.design_setting,
        "design_hardware": claim.design_hardware,
        "verdict": row["verdict"],
        "reasons": row["reasons"],
        "measured": None,
    }
    if measured is not None:
        data["measured"] = dataclasses.asdict(measured)
        data["measured"]["measured_at"] = measured.measured_at.isoformat() if measured.measured_at else None
    return data
