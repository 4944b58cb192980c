"""Run modes and sample measurements: the one registry and the one list that everything else reads.

A run mode says where its items come from, how they are scheduled, what one item runs, which
models it loads (so which engine self-tests must have passed), which measurements it records and,
for a benchmark, how its results are shown and which of the design's claims it measures. The modes
themselves live in synthesis/run_modes/, one module each, registered when the app is ready.
A measurement is a Sample field; MEASUREMENTS gives its label, unit and format once, for the run
page, the run dashboard, measurements.csv and the benchmark. Adding a measurement is one entry
here plus the Sample field; adding a mode is one module with one `register()` call (see
docs/architecture.md).
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.apps import apps

from synthesis.engines import pipeline

DEFAULT_MODE = "synthesis"  # a run started without a mode (synthesis.run_modes.sentences)

# Where a mode's items come from (services.ITEM_BUILDERS builds each).
SENTENCES_X_STYLES = "sentences×styles"
UTTERANCES = "utterances"  # one item per utterance of a speech dataset
ITERATIONS = "iterations"  # N timed iterations of the same work
ITEM_SOURCES = (SENTENCES_X_STYLES, UTTERANCES, ITERATIONS)

# What an item leaves behind (services.STORERS): a Sample with audio and MEASUREMENTS, or a
# Transcript (an STT result and its error counts, no audio).
SAMPLE = "sample"
TRANSCRIPT = "transcript"
ITERATION = "iteration"  # a TimedIteration: one iteration's stage times, no audio
RESULT_KINDS = (SAMPLE, TRANSCRIPT, ITERATION)


@dataclass(frozen=True)
class Measurement:
    """One per-sample measurement, stored in the Sample field of the same name."""

    name: str
    label: str
    unit: str = ""
    digits: int | None = 0  # decimals shown; None for a text measurement
    on_run_page: bool = True  # a column of the run page's samples table
    every_sample: bool = False  # recorded for every sample whatever the mode (the audio's own figures)
    note: str = ""  # what it means on a mode that renames it (RunMode.relabel); else the field's help_text

    @property
    def heading(self) -> str:
        """'TTS ms', 'TTS RTF', 'WER': the label with its unit."""
        return f"{self.label} {self.unit}".strip()

    @property
    def is_text(self) -> bool:
        return self.digits is None

    @property
    def help(self) -> str:
        """What it means: the Sample field's help_text, so it is written once (or the mode's note)."""
        if self.note:
            return self.note
        sample = apps.get_model("synthesis", "Sample")
        return str(sample._meta.get_field(self.name).help_text)

    @property
    def modes(self) -> tuple[str, ...]:
        """The keys of the run modes that record it."""
        return tuple(
            mode.key for mode in RUN_MODES.values() if self.name in {m.name for m in mode.measurements}
        )

    def format(self, value) -> str:
        if value is None:
            return ""
        return str(value) if self.is_text else f"{value:.{self.digits}f}"


# Latencies are wall-clock milliseconds measured in the worker; RTF is processing time / audio duration.
# The order is that of the page columns and of measurements.csv.
MEASUREMENTS = (
    Measurement("duration_s", "Duration", "s", 2, every_sample=True),
    Measurement("sample_rate", "Sample rate", "Hz", 0, on_run_page=False, every_sample=True),
    Measurement("prompt_text", "Heard prompt", digits=None),
    Measurement("stt_ms", "STT", "ms"),
    Measurement("llm_ms", "LLM", "ms"),
    Measurement("llm_first_token_ms", "LLM first token", "ms", on_run_page=False),
    Measurement("tts_ms", "TTS", "ms"),
    Measurement("first_audio_ms", "First audio", "ms"),
    Measurement("total_ms", "Total", "ms"),
    Measurement("tts_rtf", "TTS", "RTF", 3),
    Measurement("stt_rtf", "STT", "RTF", 3, on_run_page=False),
    Measurement("llm_tokens", "LLM tokens", on_run_page=False),
    Measurement("llm_tokens_per_s", "LLM", "tok/s", 1),
    Measurement("recognized_text", "Recognised text", digits=None),
    Measurement("wer", "WER", digits=3),
    Measurement("cer", "CER", digits=3),
    Measurement("dnsmos_p808", "DNSMOS P.808", digits=2),
    Measurement("dnsmos_sig", "DNSMOS SIG", digits=2, on_run_page=False),
    Measurement("dnsmos_bak", "DNSMOS BAK", digits=2, on_run_page=False),
    Measurement("dnsmos_ovrl", "DNSMOS OVRL", digits=2),
    Measurement("loudness_lufs", "Loudness", "LUFS", 1),
    Measurement("prompt_wer", "Prompt WER", digits=3, on_run_page=False),
)
MEASUREMENTS_BY_NAME = {m.name: m for m in MEASUREMENTS}


def numeric_measurements() -> tuple[Measurement, ...]:
    """The measurements that are numbers: the columns of measurements.csv, in order."""
    return tuple(m for m in MEASUREMENTS if not m.is_text)


def latency_measurements() -> tuple[Measurement, ...]:
    return tuple(m for m in MEASUREMENTS if m.unit == "ms")


def rtf_measurements() -> tuple[Measurement, ...]:
    return tuple(m for m in MEASUREMENTS if m.unit == "RTF")


@dataclass(frozen=True)
class Relabel:
    """What a run mode calls one of its measurements where the general label would mislead."""

    label: str
    note: str  # what the figure is on this mode's runs (the page's tooltip and its note)


# What one item runs: (claimed RunItem, on_stage=callback) -> the audio and its measurements, or
# for a TRANSCRIPT mode what STT heard.
ItemRunner = Callable[..., pipeline.ItemResult | pipeline.TranscriptResult]


@dataclass(frozen=True)
class RunMode:
    """What a run of this mode does; services.start_run and execute_item dispatch on it."""

    key: str  # stored in SynthesisRun.mode (at most 16 characters)
    label: str
    run: ItemRunner
    loads: tuple[str, ...]  # pipeline.COMPONENTS its items load; their engine self-tests must pass
    records: tuple[str, ...]  # measurement names, besides those recorded for every sample
    items_from: str = SENTENCES_X_STYLES
    serial: bool = False  # items one after another in one process, with nothing else running
    stores: str = SAMPLE  # one of RESULT_KINDS
    plan: Callable[[], list[dict]] | None = None  # ITERATIONS: the plan when the run is given none
    # ITERATION runs: the template of their results section and its context from the run
    # (synthesis.results.views.iteration_run_table).
    results_template: str = ""
    results: Callable[[Any], dict] | None = None
    # The design's claims its runs measure (synthesis.results.claims.Claim; the claims page lists
    # every registered mode's), and where they read their figures: the latest run fit to measure
    # them with its figures, each a number or {"value", "low", "high"}; None when no run is.
    claims: tuple = ()
    claim_figures: Callable[[], tuple[Any, dict] | None] | None = None
    # Measurements its runs name otherwise, by name: the run page, the run dashboard and the note on
    # measurements.csv (whose columns keep their names) all say it this way.
    relabel: dict[str, Relabel] = dataclasses.field(default_factory=dict, hash=False)

    def named(self, measurement: Measurement) -> Measurement:
        """The measurement as this mode's runs call it."""
        relabel = self.relabel.get(measurement.name)
        if relabel is None:
            return measurement
        return dataclasses.replace(measurement, label=relabel.label, note=relabel.note)

    @property
    def measurements(self) -> tuple[Measurement, ...]:
        """The Sample measurements it records, as it names them; none when its items store no Sample."""
        if self.stores != SAMPLE:
            return ()
        return tuple(self.named(m) for m in MEASUREMENTS if m.every_sample or m.name in self.records)

    @property
    def relabelled(self) -> tuple[Measurement, ...]:
        """The measurements it names otherwise, in the list's order."""
        return tuple(m for m in self.measurements if m.name in self.relabel)

    @property
    def page_columns(self) -> tuple[Measurement, ...]:
        return tuple(m for m in self.measurements if m.on_run_page)


RUN_MODES: dict[str, RunMode] = {}


def register(mode: RunMode) -> RunMode:
    """Add a mode to the registry after checking that everything it names exists."""
    unknown = [name for name in mode.records if name not in MEASUREMENTS_BY_NAME]
    if unknown:
        raise ValueError(f"run mode {mode.key!r} records unknown measurements: {', '.join(unknown)}")
    if set(mode.loads) - set(pipeline.COMPONENTS):
        raise ValueError(f"run mode {mode.key!r} loads unknown components: {mode.loads}")
    if mode.items_from not in ITEM_SOURCES:
        raise ValueError(f"run mode {mode.key!r} takes items from unknown {mode.items_from!r}")
    unrecorded = [name for name in mode.relabel if name not in {m.name for m in mode.measurements}]
    if unrecorded:
        raise ValueError(
            f"run mode {mode.key!r} renames measurements it does not record: {', '.join(unrecorded)}"
        )
    if mode.stores not in RESULT_KINDS or (mode.stores != SAMPLE and mode.records):
        raise ValueError(f"run mode {mode.key!r} stores {mode.stores!r}: records are Sample measurements")
    if mode.results_template and mode.results is None:
        raise ValueError(f"run mode {mode.key!r} names a results template but gives no results context")
    if mode.claims and mode.claim_figures is None:
        raise ValueError(f"run mode {mode.key!r} measures claims but gives no claim_figures reader")
    if mode.key in RUN_MODES or not 0 < len(mode.key) <= 16:
        raise ValueError(f"run mode key {mode.key!r} is taken or not 1-16 characters")
    RUN_MODES[mode.key] = mode
    return mode


def get_mode(key: str) -> RunMode:
    try:
        return RUN_MODES[key]
    except KeyError:
        raise ValueError(f"Unknown run mode {key!r}; known: {', '.join(RUN_MODES)}.") from None


def mode_choices() -> list[tuple[str, str]]:
    return [(mode.key, mode.label) for mode in RUN_MODES.values()]


def transcript_modes() -> list[str]:
    """The keys of the modes whose items store a Transcript (STT WER runs)."""
    return [mode.key for mode in RUN_MODES.values() if mode.stores == TRANSCRIPT]


def claiming_modes() -> list[RunMode]:
    """The modes that measure the design's claims, in the order they were registered."""
    return [mode for mode in RUN_MODES.values() if mode.claims]


# Recorded on STT WER runs that transcribe as the configuration's turns do (its English model, its
# window: pipeline.transcribe_utterance); earlier runs used stt_model with Whisper's 30 s window, and
# their items, if run again, still do.
STT_AS_TURNS = "stt_as_turns"


def plan_entry(item) -> dict:
    """An ITERATIONS item's entry of its run's plan (SynthesisRun.benchmark["plan"])."""
    return item.run.benchmark["plan"][item.iteration]
