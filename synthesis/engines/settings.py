"""A pipeline configuration as the engines read it: typed, frozen, built once from a run's snapshot.

A run freezes its configuration as the dict `PipelineConfig.snapshot()` returns
(`SynthesisRun.config_snapshot`); `PipelineSettings.from_snapshot` reads it. A key that a run stored
before the configuration had it takes the default below, the configuration model's own, so an older
run reads as it ran; keys it does not know (the "threads" summary a worker adds to the stored
snapshot, or a key of a newer version) are left out. Plain Python, no Django.
"""

from dataclasses import dataclass, fields
from typing import Any

from synthesis.engines.vad import MIN_HANGOVER_MS

MIN_CHUNK_MS = 10
MIN_CONTEXT_SIZE = 64
MAX_WINDOW_S = 30

# The smallest value of each number setting: the configuration model's check constraints, and 0 for
# the fields it stores as positive integers.
MINIMUMS = {
    "stt_threads": 1,
    "stt_beam_size": 1,
    "stt_window_s": 1,
    "llm_max_tokens": 1,
    "llm_temperature": 0,
    "llm_threads": 1,
    "llm_batch_threads": 0,
    "llm_context_size": MIN_CONTEXT_SIZE,
    "tts_threads": 1,
    "stream_chunk_ms": MIN_CHUNK_MS,
    "vad_hangover_ms": MIN_HANGOVER_MS,
    "stream_partial_interval_ms": 0,
    "tts_clause_min_words": 0,
    "tts_first_clause_max_words": 0,
    "tts_first_words": 0,
    "stream_speculate_after_ms": 0,
}


@dataclass(frozen=True)
class PipelineSettings:
    """Everything that determines a run's output: the PipelineConfig fields, with the model's defaults."""

    name: str = ""
    system_label: str = ""
    stt_backend: str = "faster-whisper"
    stt_model: str = "whisper-base"
    stt_compute_type: str = "int8"
    stt_threads: int = 1
    stt_beam_size: int = 1
    stt_model_english: str = ""  # Whisper model for English prompts; empty: stt_model for every language
    stt_window_s: int | None = None  # Whisper's encoder window for conversation prompts; None: its 30 s
    stt_window_fit: bool = False  # streaming: the window fitted to the audio heard, at most stt_window_s
    llm_backend: str = "llama-cpp"
    llm_model: str = "smollm2-135m"
    llm_system_prompt: str = "You are a friendly voice assistant. Answer in one or two short sentences."
    llm_max_tokens: int = 48
    llm_temperature: float = 0.0
    llm_threads: int = 1
    llm_batch_threads: int = 0  # threads for prompt evaluation; 0: llm_threads
    llm_context_size: int = 1024
    llm_seed: int = 1234
    tts_backend: str = "piper"
    tts_voice: str = "en_US-joe-medium"
    tts_threads: int = 1
    stream_chunk_ms: int = 160
    vad_hangover_ms: int = 240
    vad_threshold: float = 0.5
    stream_speculate: bool = True
    stream_partial_interval_ms: int = 0
    tts_clause_min_words: int = 3
    tts_first_clause_max_words: int = 0  # 0: the first clause ends only at a boundary
    llm_prefix_cache: bool = True
    stream_speculate_after_ms: int = 0  # streaming: the pause a speculation waits for; 0 = first silent frame
    llm_partial_prefill: bool = False  # streaming: the prompt evaluated on partial transcripts
    tts_first_words: int = 0  # streaming: the first clause's first N words synthesised alone; 0 = off
    tts_trim_silence: bool = False  # streaming: Piper's leading silence cut from the first chunk

    @classmethod
    def from_snapshot(cls, snapshot: dict) -> "PipelineSettings":
        """The settings a stored snapshot gives; defaults for the keys it lacks, unknown keys left out.

        A value of the wrong type or out of range raises ValueError naming its key.
        """
        known = {spec.name for spec in fields(cls)}
        return cls(**{key: value for key, value in snapshot.items() if key in known})

    def snapshot(self) -> dict:
        """The settings as the dict a run stores; from_snapshot reads it back unchanged."""
        return {spec.name: getattr(self, spec.name) for spec in fields(self)}

    def __post_init__(self) -> None:
        for spec in fields(self):
            value = getattr(self, spec.name)
            if spec.type is float and _is_integer(value):
                object.__setattr__(self, spec.name, float(value))
            else:
                accepts, description = _TYPES[spec.type]
                if not accepts(value):
                    raise ValueError(f"pipeline setting {spec.name} must be {description}, not {value!r}")
        for name, minimum in MINIMUMS.items():
            value = getattr(self, name)
            if value is not None and value < minimum:
                raise ValueError(f"pipeline setting {name} must be at least {minimum}, not {value!r}")
        if self.stt_window_s is not None and self.stt_window_s > MAX_WINDOW_S:
            raise ValueError(
                f"pipeline setting stt_window_s must be at most {MAX_WINDOW_S}, not {self.stt_window_s!r}"
            )
        if self.tts_first_clause_max_words and self.tts_first_clause_max_words < self.tts_clause_min_words:
            raise ValueError(
                "pipeline setting tts_first_clause_max_words must be 0 or at least tts_clause_min_words "
                f"({self.tts_clause_min_words}), not {self.tts_first_clause_max_words!r}"
            )


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# What each annotation of PipelineSettings accepts, and how an error names it.
_TYPES = {
    bool: (lambda value: isinstance(value, bool), "true or false"),
    int: (_is_integer, "an integer"),
    float: (lambda value: isinstance(value, float), "a number"),
    str: (lambda value: isinstance(value, str), "text"),
    int | None: (lambda value: value is None or _is_integer(value), "an integer or empty"),
}
