"""Run modes and sample measurements: the one registry and the one list that everything else reads.

A run mode says where its items come from, how they are scheduled, what one item runs, which
models it loads (so which engine self-tests must have passed) and which measurements it records.
A measurement is a Sample field; MEASUREMENTS gives its label, unit and format once, for the run
page, the run dashboard, measurements.csv and the benchmark. Adding a measurement is one entry
here plus the Sample field; adding a mode is one `register()` call (see docs/architecture.md).
"""

from collections.abc import Callable
from dataclasses import dataclass, replace

from django.conf import settings

from synthesis.engines import audio, iterations, loadprobe, pipeline, streaming, textnorm

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

    @property
    def heading(self) -> str:
        """'TTS ms', 'TTS RTF', 'WER': the label with its unit."""
        return f"{self.label} {self.unit}".strip()

    @property
    def is_text(self) -> bool:
        return self.digits is None

    @property
    def help(self) -> str:
        """What it means: the Sample field's help_text, so it is written once."""
        from synthesis.models import Sample

        return str(Sample._meta.get_field(self.name).help_text)

    @property
    def modes(self) -> tuple[str, ...]:
        """The keys of the run modes that record it."""
        return tuple(mode.key for mode in RUN_MODES.values() if self in mode.measurements)

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
    # ITERATION runs: the template of their results section (annotations.results.iteration_views).
    results_template: str = ""

    @property
    def measurements(self) -> tuple[Measurement, ...]:
        """The Sample measurements it records; none when its items store no Sample."""
        if self.stores != SAMPLE:
            return ()
        return tuple(m for m in MEASUREMENTS if m.every_sample or m.name in self.records)

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
    if mode.stores not in RESULT_KINDS or (mode.stores != SAMPLE and mode.records):
        raise ValueError(f"run mode {mode.key!r} stores {mode.stores!r}: records are Sample measurements")
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


def _pipeline_arguments(item, on_stage: pipeline.StageCallback) -> dict:
    run = item.run
    return {
        "language": item.sentence.language,
        "style": run.style_snapshot.get(item.style.name) or item.style.parameters(),
        "config": run.pipeline_settings,
        "cache_dir": settings.SARAI_MODEL_CACHE,
        "on_stage": on_stage,
    }


def run_synthesis_item(item, *, on_stage: pipeline.StageCallback) -> pipeline.ItemResult:
    return pipeline.synthesize_item(text=item.sentence.text, **_pipeline_arguments(item, on_stage))


def run_conversation_item(item, *, on_stage: pipeline.StageCallback) -> pipeline.ItemResult:
    sentence, prompt = item.sentence, None
    if sentence.reference_audio:
        with sentence.reference_audio.open("rb") as handle:
            prompt = audio.read_audio(handle)
    return pipeline.converse_item(
        prompt_text=sentence.text, prompt_audio=prompt, **_pipeline_arguments(item, on_stage)
    )


ROUND_TRIP = ("recognized_text", "wer", "cer", "dnsmos_p808", "dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl")
SYNTHESIS = register(
    RunMode(
        key="synthesis",
        label="Synthesis (TTS, then ASR round-trip and DNSMOS)",
        run=run_synthesis_item,
        loads=("tts", "stt", "dnsmos"),
        records=("tts_ms", "tts_rtf", "total_ms", "stt_ms", "stt_rtf", *ROUND_TRIP, "loudness_lufs"),
    )
)
CONVERSATION = register(
    RunMode(
        key="conversation",
        label="Conversation (audio prompt → STT → LLM → TTS)",
        run=run_conversation_item,
        loads=("tts", "stt", "dnsmos", "llm"),
        records=(
            *("prompt_text", "prompt_wer", "stt_ms", "stt_rtf", "llm_ms", "llm_first_token_ms"),
            *("llm_tokens", "llm_tokens_per_s", "tts_ms", "tts_rtf", "first_audio_ms", "total_ms"),
            *ROUND_TRIP,
            "loudness_lufs",
        ),
    )
)


# Recorded on STT WER runs that transcribe as the configuration's turns do (its English model, its
# window: pipeline.transcribe_utterance); earlier runs used stt_model with Whisper's 30 s window, and
# their items, if run again, still do.
STT_AS_TURNS = "stt_as_turns"


def run_stt_wer_item(item, *, on_stage: pipeline.StageCallback) -> pipeline.TranscriptResult:
    utterance, config = item.utterance, item.run.pipeline_settings
    if not item.run.benchmark.get(STT_AS_TURNS):
        config = replace(config, stt_model_english="", stt_window_s=None)
    on_stage("decode")
    return pipeline.transcribe_utterance(
        audio_16k=utterance.audio_16k(),
        reference=utterance.transcript,
        language=utterance.language,
        config=config,
        cache_dir=settings.SARAI_MODEL_CACHE,
        on_stage=on_stage,
    )


STT_WER = register(
    RunMode(
        key="stt-wer",
        label="STT WER benchmark (a speech dataset through one STT configuration)",
        run=run_stt_wer_item,
        loads=("stt",),
        records=(),
        items_from=UTTERANCES,
        stores=TRANSCRIPT,
    )
)


# Iteration runs: each item is one entry of the run's plan (SynthesisRun.benchmark["plan"]), run
# serially in one process (services.run_serial): warm for latency and LLM speed; the load run's
# items each start a fresh child process from there (engines/loadprobe.py).
# "plain" hands each turn the whole prompt at once (the design's measurement, no end-of-speech
# detection); "off" and "on" hear it live, chunk by chunk, without and with streaming; "both" alternates
# off and on on the same input (the streaming comparison), "all" plain, off and on.
STREAMING_KINDS = {
    "plain": (iterations.LATENCY,),
    "off": (iterations.UNSTREAMED,),
    "on": (iterations.STREAMING,),
    "both": (iterations.UNSTREAMED, iterations.STREAMING),
    "all": (iterations.LATENCY, iterations.UNSTREAMED, iterations.STREAMING),
}
STREAMING_CHOICES = tuple(STREAMING_KINDS)


def latency_plan(
    *, count: int, warmup: int, prompts: list[tuple[str, str]] | None = None, streaming: str = "plain"
) -> list[dict]:
    """W warm-ups then `count` counted conversation turns, over the 2-second input or cycling over prompts.

    Each input is run once per kind of `streaming` (STREAMING_KINDS), one after the other, so every
    kind sees the same models, threads and machine.
    """
    if count < 1 or warmup < 0:
        raise ValueError("A latency run needs at least one iteration and no negative warm-up count.")
    if streaming not in STREAMING_KINDS:
        raise ValueError(f"streaming must be one of {', '.join(STREAMING_CHOICES)}, not {streaming!r}.")
    if prompts:
        inputs = [{"prompt": text, "language": language, "seconds": None} for text, language in prompts]
    else:
        inputs = [
            {"prompt": iterations.TWO_SECOND_PROMPT, "language": "en", "seconds": iterations.PROMPT_SECONDS}
        ]
    return [
        {"kind": kind, "warmup": index < warmup, **inputs[index % len(inputs)]}
        for index in range(warmup + count)
        for kind in STREAMING_KINDS[streaming]
    ]


def llm_plan(
    *,
    prompts: tuple[str, ...] = iterations.LLM_PROMPTS,
    lengths: tuple[int, ...] = iterations.CONTEXT_LENGTHS,
) -> list[dict]:
    """The warm-up prompt, the prompt list, then one raw completion per context length."""
    plan = [{"kind": iterations.LLM_PROMPT, "warmup": True, "prompt": iterations.LLM_WARMUP_PROMPT}]
    plan += [{"kind": iterations.LLM_PROMPT, "warmup": False, "prompt": p} for p in prompts]
    plan += [{"kind": iterations.LLM_CONTEXT, "warmup": False, "length": n} for n in lengths]
    return plan


def plan_entry(item) -> dict:
    return item.run.benchmark["plan"][item.iteration]


def run_latency_item(item, *, on_stage: pipeline.StageCallback) -> iterations.IterationResult:
    """One conversation turn (plain, unstreamed or streamed) and the prompt words STT got wrong."""
    entry, language = plan_entry(item), plan_entry(item)["language"]
    config = pipeline.conversation_settings(item.run.pipeline_settings, language)
    on_stage("prompt-tts")
    prompt = iterations.prompt_audio(
        entry["prompt"], language=language, config=config, seconds=entry["seconds"]
    )
    common = {
        "prompt_16k": prompt,
        "language": language,
        "style": pipeline.NEUTRAL_PROMPT_STYLE,
        "config": config,
        "cache_dir": settings.SARAI_MODEL_CACHE,
        "silence_dbfs": settings.SARAI_SILENCE_DBFS,
        "on_stage": on_stage,
    }
    if entry.get("kind") == iterations.STREAMING:
        options = streaming.StreamingOptions.from_config(config)
        result = iterations.streaming_iteration(**common, options=options)
    elif entry.get("kind") == iterations.UNSTREAMED:
        options = streaming.StreamingOptions.from_config(config)
        result = iterations.unstreamed_iteration(**common, options=options)
    else:
        result = iterations.latency_iteration(**common)
    # The 2-second input is cut or padded: its reference is what the prompt voice said, whole.
    errors = textnorm.utterance_errors(
        entry["prompt"], result.label, method=textnorm.default_method(language), language=language
    )
    result.figures.update(prompt_word_errors=errors["ref_words"] - errors["hits"] + errors["insertions"])
    result.figures.update(prompt_words=errors["ref_words"])
    return result


def run_llm_speed_item(item, *, on_stage: pipeline.StageCallback) -> iterations.IterationResult:
    entry, config = plan_entry(item), item.run.pipeline_settings
    if entry["kind"] == iterations.LLM_CONTEXT:
        return iterations.llm_context_iteration(length=entry["length"], config=config, on_stage=on_stage)
    return iterations.llm_prompt_iteration(prompt=entry["prompt"], config=config, on_stage=on_stage)


LATENCY = register(
    RunMode(
        key="latency",
        label="Latency benchmark (timed conversation turns after warm-ups, serial)",
        run=run_latency_item,
        loads=("tts", "stt", "llm"),
        records=(),
        items_from=ITERATIONS,
        serial=True,
        stores=ITERATION,
        plan=lambda: latency_plan(count=100, warmup=5),  # the design's 100 iterations on 2-second inputs
        results_template="results/_latency_run.html",
    )
)
LLM_SPEED = register(
    RunMode(
        key="llm-speed",
        label="LLM benchmark (prompt list and context scaling, serial)",
        run=run_llm_speed_item,
        loads=("llm",),
        records=(),
        items_from=ITERATIONS,
        serial=True,
        stores=ITERATION,
        plan=llm_plan,
        results_template="results/_llm_run.html",
    )
)


def load_plan(*, repeat: int = 1) -> list[dict]:
    """Each component alone, cold then warm page cache, then all of them in one process; `repeat` times."""
    if repeat < 1:
        raise ValueError("A load run needs at least one repeat.")
    groups = [[component] for component in pipeline.COMPONENTS] + [list(pipeline.COMPONENTS)]
    return [
        {"kind": loadprobe.KIND, "warmup": False, "components": components, "cache": cache}
        for _ in range(repeat)
        for components in groups
        for cache in loadprobe.PAGE_CACHE_STATES
    ]


def run_load_item(item, *, on_stage: pipeline.StageCallback) -> iterations.IterationResult:
    """One plan entry measured in a fresh child process (loadprobe), never in this warm one."""
    entry = plan_entry(item)
    on_stage("load")
    figures = loadprobe.probe(
        components=entry["components"],
        cache=entry["cache"],
        config=item.run.pipeline_settings,
        cache_dir=settings.SARAI_MODEL_CACHE,
    )
    label = f"{loadprobe.describe(entry['components'])}, {entry['cache']} page cache"
    return iterations.IterationResult(kind=loadprobe.KIND, label=label, figures=figures)


LOAD = register(
    RunMode(
        key="load",
        label="Load and memory benchmark (each model in a fresh process, cold and warm, serial)",
        run=run_load_item,
        loads=pipeline.COMPONENTS,
        records=(),
        items_from=ITERATIONS,
        serial=True,
        stores=ITERATION,
        plan=lambda: load_plan(repeat=3),
        results_template="results/_load_run.html",
    )
)
