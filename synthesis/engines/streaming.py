"""One conversation turn streamed as a voice agent runs it: plain Python over the engines, no Django.

The prompt arrives in real time, chunk by chunk (`microphone`); Silero VAD (`vad.StreamingVAD`)
finds the end of speech. At the first silent frame after speech a speculative attempt starts in a
worker thread: Whisper on the audio so far, the LLM on that transcript, its first clause to TTS.
If speech resumes before the hang-over has passed, the attempt is discarded and counted; once the
end is declared, the running attempt is the answer and its first chunk plays as soon as it exists,
never before the end was declared.

Every time is in ms on one monotonic clock whose zero is the arrival of the first prompt sample,
so sample n of the prompt is heard at n / 16 ms and the detector's decisions compare with it.
"""

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from synthesis.engines import audio, llm, pipeline, stt, vad
from synthesis.engines.settings import PipelineSettings

SAMPLE_RATE = vad.SAMPLE_RATE


@dataclass(frozen=True)
class StreamingOptions:
    """The settings of a streamed turn; the defaults are the fast stack's."""

    chunk_ms: int = 160  # audio per microphone chunk
    hangover_ms: int = 240  # silence after speech before its end is declared (at least 200)
    vad_threshold: float = 0.5  # Silero speech probability; the pause threshold is 0.15 lower
    stt_chunk_length_s: int | None = None  # Whisper's encoder window; None is faster-whisper's 30 s
    partial_interval_ms: int = 0  # transcribe the audio so far this often while speech goes on; 0 = off
    speculate: bool = True  # start STT → LLM → TTS at the first silent frame, before the end is declared
    speculate_after_ms: int = 0  # ... or once the pause has lasted this long (a shorter gap starts nothing)
    clause_min_words: int = 3  # words a clause needs before it goes to TTS
    first_clause_max_words: int = (
        0  # the first clause is cut after this many words without a boundary; 0 = never
    )
    llm_prefix_cache: bool = True  # keep the system prompt in the KV cache; off resets it every reply
    stt_window_fit: bool = False  # the encoder window fitted to the audio heard, at most stt_chunk_length_s
    llm_partial_prefill: bool = False  # the chat prompt evaluated on each partial transcript
    tts_first_words: int = 0  # the first clause's first N words synthesised alone; 0 = the clause whole
    tts_trim_silence: bool = False  # the first chunk's leading silence cut
    trailing_silence_ms: int = 1000  # silence the microphone adds after the prompt, for the detector

    @classmethod
    def from_config(cls, config: PipelineSettings) -> "StreamingOptions":
        """The options a pipeline configuration sets (older runs' snapshots read with the defaults)."""
        return cls(
            chunk_ms=config.stream_chunk_ms,
            hangover_ms=config.vad_hangover_ms,
            vad_threshold=config.vad_threshold,
            stt_chunk_length_s=config.stt_window_s,
            partial_interval_ms=config.stream_partial_interval_ms,
            speculate=config.stream_speculate,
            speculate_after_ms=config.stream_speculate_after_ms,
            clause_min_words=config.tts_clause_min_words,
            first_clause_max_words=config.tts_first_clause_max_words,
            llm_prefix_cache=config.llm_prefix_cache,
            stt_window_fit=config.stt_window_fit,
            llm_partial_prefill=config.llm_partial_prefill,
            tts_first_words=config.tts_first_words,
            tts_trim_silence=config.tts_trim_silence,
        )

    def __post_init__(self) -> None:
        if self.hangover_ms < vad.MIN_HANGOVER_MS:
            raise ValueError(f"hangover_ms must be at least {vad.MIN_HANGOVER_MS}, not {self.hangover_ms}")
        if self.chunk_ms <= 0 or self.clause_min_words < 1 or self.partial_interval_ms < 0:
            raise ValueError("chunk_ms and clause_min_words must be positive, partial_interval_ms >= 0")
        if self.first_clause_max_words and self.first_clause_max_words < self.clause_min_words:
            raise ValueError("first_clause_max_words must be 0 or at least clause_min_words")
        if self.tts_first_words < 0:
            raise ValueError("tts_first_words must be 0 or more")

    def stt_window(self, samples: int) -> int | None:
        """The encoder window for a pass over `samples` of audio (None: faster-whisper's own 30 s)."""
        if self.stt_window_fit:
            return stt.fitted_window_s(samples, self.stt_chunk_length_s)
        return self.stt_chunk_length_s


class TurnClock:
    """Milliseconds since the turn's zero (time.perf_counter)."""

    def __init__(self) -> None:
        self.zero = time.perf_counter()

    def ms(self) -> float:
        return (time.perf_counter() - self.zero) * 1000


def sample_ms(sample: int) -> float:
    """When prompt sample n arrives, on the turn's clock."""
    return sample * 1000 / SAMPLE_RATE


def microphone(
    prompt_16k: np.ndarray, *, chunk_ms: int, trailing_silence_ms: int, clock: TurnClock
) -> tuple[queue.Queue, threading.Event]:
    """Hand the prompt, then trailing silence, to a queue chunk by chunk at wall-clock pace.

    A chunk is handed over once its last sample has been "recorded"; None ends the stream. Setting
    the returned event stops the feed early.
    """
    silence = np.zeros(round(trailing_silence_ms * SAMPLE_RATE / 1000), dtype=np.float32)
    samples = np.concatenate([np.asarray(prompt_16k, dtype=np.float32), silence])
    size = round(chunk_ms * SAMPLE_RATE / 1000)
    chunks: queue.Queue = queue.Queue()
    stop = threading.Event()

    def feed() -> None:
        for start in range(0, len(samples), size):
            chunk = samples[start : start + size]
            delay = sample_ms(start + len(chunk)) - clock.ms()
            if stop.wait(max(delay, 0) / 1000):
                break
            chunks.put(chunk)
        chunks.put(None)

    threading.Thread(target=feed, name="microphone", daemon=True).start()
    return chunks, stop


@dataclass
class _Reply:
    """What one attempt produced, with its times on the turn's clock."""

    times: dict = field(default_factory=dict)
    costs: dict = field(default_factory=dict)
    transcript: str = ""
    first_clause: str = ""
    chunks: list = field(default_factory=list)
    sample_rate: int = 0
    llm_result: llm.LLMResult | None = None
    prompt_tokens: int = 0
    first_clause_cut: bool = False
    error: Exception | None = None


class _Attempt:
    """STT on the audio so far, then the LLM clause by clause into TTS, in a worker thread.

    A cancelled attempt stops at its next check: the Whisper call cannot be interrupted (its result
    is dropped), the LLM is checked between tokens and TTS before each clause.
    """

    def __init__(self, audio_16k: np.ndarray, *, turn: "_Turn") -> None:
        self.audio = audio_16k
        self.turn = turn
        self.cancel = threading.Event()
        self.reply = _Reply()
        self.ready: queue.Queue = queue.Queue()  # each TTS chunk as soon as it exists, then None
        self.thread = threading.Thread(target=self._run, name="speculation", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            self._transcribe()
            if not self.cancel.is_set():
                with self.turn.llm_lock:
                    self._reply()
        except Exception as error:  # handed to the turn, which raises it if this attempt counts
            self.reply.error = error
        finally:
            self.ready.put(None)

    def _transcribe(self) -> None:
        turn, reply, context = self.turn, self.reply, self.turn.context
        reply.times["stt_start_ms"] = turn.clock.ms()
        window = turn.options.stt_window(len(self.audio))
        heard = stt.transcribe(
            context.loaded.whisper,
            self.audio,
            language=context.language,
            beam_size=context.config.stt_beam_size,
            chunk_length=window,
        )
        reply.costs["stt_window_s"] = window or 30
        reply.times["stt_end_ms"] = turn.clock.ms()
        reply.costs["stt_pass_ms"] = heard.seconds * 1000
        reply.transcript = heard.text
        if not heard.text.strip():
            raise ValueError("STT heard nothing in the prompt audio")

    def _reply(self) -> None:
        turn, reply, config = self.turn, self.reply, self.turn.context.config
        model = turn.context.loaded.llm
        if not turn.options.llm_prefix_cache:
            model.reset()
        evaluated = llm.prompt_tokens_evaluated(model)
        reply.times["llm_start_ms"] = turn.clock.ms()
        stream = llm.stream_reply(
            model,
            system_prompt=config.llm_system_prompt,
            user_text=reply.transcript,
            max_tokens=config.llm_max_tokens,
            temperature=config.llm_temperature,
            seed=config.llm_seed,
            clause_min_words=turn.options.clause_min_words,
            first_clause_max_words=turn.options.first_clause_max_words,
            cancel=self.cancel,
        )
        clauses = iter(stream)
        try:
            for clause in clauses:
                if self.cancel.is_set():
                    break
                self._speak(clause)
        finally:
            clauses.close()  # a cancelled stream releases llama.cpp before the next attempt uses it
        reply.llm_result = stream.result
        reply.first_clause_cut = stream.first_clause_cut
        reply.prompt_tokens = llm.prompt_tokens_evaluated(model) - evaluated

    def _speak(self, clause: str) -> None:
        turn, reply = self.turn, self.reply
        if not reply.first_clause:
            reply.first_clause = clause
            reply.times["llm_first_clause_ready_ms"] = turn.clock.ms()
            reply.costs["llm_to_first_clause_ms"] = (
                reply.times["llm_first_clause_ready_ms"] - reply.times["llm_start_ms"]
            )
        context = turn.context
        pieces = speak_pieces(
            clause,
            first=not reply.chunks,
            options=turn.options,
            language=context.language,
            style=context.style,
            config=context.config,
        )
        for samples, sample_rate, seconds in pieces:
            reply.chunks.append(samples)
            reply.sample_rate = sample_rate
            if len(reply.chunks) == 1:
                reply.times["first_chunk_ready_ms"] = turn.clock.ms()
                reply.costs["tts_first_clause_ms"] = seconds * 1000
            self.ready.put((samples, sample_rate))


def speak_pieces(
    clause: str,
    *,
    first: bool,
    options: StreamingOptions,
    language: str,
    style: dict,
    config: PipelineSettings,
) -> Iterator[tuple[np.ndarray, int, float]]:
    """A clause's audio as it is played: (samples, sample rate, synthesis seconds) per chunk.

    The reply's first clause is split into its first words and the rest (tts_first_words), each
    synthesised alone and joined without Piper's pauses at the join; with tts_trim_silence its first
    chunk starts with speech. Later clauses are synthesised whole, as they are.
    """
    pieces = first_words(clause, options.tts_first_words) if first else [clause]
    for index, piece in enumerate(pieces):
        spoken = pipeline.speak(piece, language=language, style=style, config=config)
        samples, last = spoken.audio, index == len(pieces) - 1
        lead = index > 0 or (first and options.tts_trim_silence)
        if lead or not last:
            samples = audio.trim_silence(samples, spoken.sample_rate, start=lead, end=not last)
        yield samples, spoken.sample_rate, spoken.seconds


def first_words(clause: str, count: int) -> list[str]:
    """The clause as its first `count` words and the rest, or whole when the rest would be under
    two words (or count is 0)."""
    words = clause.split()
    if not count or len(words) < count + 2:
        return [clause]
    return [" ".join(words[:count]), " ".join(words[count:])]


class _Partial:
    """A transcript of the audio so far while the person still speaks; with llm_partial_prefill the
    chat prompt is then evaluated on it, so the reply after the end evaluates only the new tail."""

    def __init__(self, audio_16k: np.ndarray, *, turn: "_Turn") -> None:
        self.text = ""
        self.prefilled = False
        self.thread = threading.Thread(target=self._run, args=(audio_16k, turn), name="partial", daemon=True)
        self.thread.start()

    def _run(self, audio_16k: np.ndarray, turn: "_Turn") -> None:
        context = turn.context
        heard = stt.transcribe(
            context.loaded.whisper,
            audio_16k,
            language=context.language,
            beam_size=context.config.stt_beam_size,
            chunk_length=turn.options.stt_window(len(audio_16k)),
        )
        self.text = heard.text
        if not turn.options.llm_partial_prefill or not self.text.strip() or turn.speculating.is_set():
            return
        # Never in the way of a reply: skipped when the model is busy.
        if turn.llm_lock.acquire(blocking=False):
            try:
                llm.prefill(context.loaded.llm, context.config.llm_system_prompt, self.text)
                self.prefilled = True
            finally:
                turn.llm_lock.release()


@dataclass
class _Turn:
    """The shared state of one turn: the models and settings (its context), the options and the clock."""

    context: pipeline.PipelineContext
    options: StreamingOptions
    clock: TurnClock
    llm_lock: threading.Lock = field(default_factory=threading.Lock)
    speculating: threading.Event = field(default_factory=threading.Event)  # an attempt is live


def prepare_llm(model: object, *, config: PipelineSettings, options: StreamingOptions) -> None:
    """Before a turn's clock starts: the system prompt in the KV cache, or nothing kept at all."""
    if options.llm_prefix_cache:
        llm.prime_system_prompt(model, config.llm_system_prompt)
    else:
        model.reset()


def _hear(
    prompt_16k: np.ndarray, *, context: pipeline.PipelineContext, options: StreamingOptions
) -> tuple[_Turn, dict]:
    """The LLM's cache made ready, then the turn started and its prompt heard until the end of speech
    is declared (_listen). The turn's clock starts after the cache is ready: its zero is the first
    prompt sample's arrival."""
    prepare_llm(context.loaded.llm, config=context.config, options=options)
    context.on_stage("stt")
    turn = _Turn(context=context, options=options, clock=TurnClock())
    return turn, _listen(prompt_16k, turn)


def run_streaming_turn(
    prompt_16k: np.ndarray,
    *,
    context: pipeline.PipelineContext,
    options: StreamingOptions,
    silence_dbfs: float = -40.0,
    playback: Callable[[np.ndarray, int], None] | None = None,
) -> dict:
    """One streamed turn from a 16 kHz prompt; times in ms from the first prompt sample's arrival.

    `playback` receives each reply chunk (audio, sample rate) once the end of speech is declared and
    the chunk exists, the first as early as both allow.
    """
    turn, listened = _hear(prompt_16k, context=context, options=options)
    final = listened["current"] or _Attempt(listened["received"], turn=turn)
    context.on_stage("tts")
    handed = []
    while (chunk := final.ready.get()) is not None:
        handed.append(turn.clock.ms())
        if playback is not None:
            playback(*chunk)
    final.thread.join()
    total_ms = turn.clock.ms()
    for attempt in listened["discarded"]:
        attempt.thread.join()  # their Whisper calls finish; nothing of theirs is used
    for partial in listened["partials"]:
        partial.thread.join()
    reply = final.reply
    if reply.error is not None:
        raise reply.error
    if not reply.chunks:
        raise ValueError("the LLM produced no text to speak")
    true_end_ms = sample_ms(vad.last_voiced_sample(prompt_16k, SAMPLE_RATE, silence_dbfs))
    times = {"true_end_ms": true_end_ms, **listened["times"], **reply.times}
    # Handed over by this thread once the decision is made: max(decision, first chunk ready), give or take
    # the thread switch.
    times["playback_ms"] = handed[0]
    times["total_ms"] = total_ms
    return {
        "audio": np.concatenate(reply.chunks),
        "sample_rate": reply.sample_rate,
        "first_chunk": reply.chunks[0],
        "prompt_text": reply.transcript,
        "stt_audio": final.audio,
        "reply": reply.llm_result.text if reply.llm_result else reply.first_clause,
        "first_clause": reply.first_clause,
        "first_clause_cut": reply.first_clause_cut,
        **times,
        **reply.costs,
        "speculations": listened["speculations"],
        "wrong_speculations": len(listened["discarded"]),
        "partial_passes": len(listened["partials"]),
        "partial_prefills": sum(partial.prefilled for partial in listened["partials"]),
        "end_forced": listened["end_forced"],
        "llm_prompt_tokens": reply.prompt_tokens,
        "llm_tokens": reply.llm_result.tokens if reply.llm_result else 0,
    }


@dataclass
class _Listening:
    """What the detector's events have started so far: the live speculation and the discarded ones."""

    turn: _Turn
    received: list = field(default_factory=list)
    current: _Attempt | None = None
    discarded: list = field(default_factory=list)
    partials: list = field(default_factory=list)
    speculations: int = 0
    times: dict = field(default_factory=dict)
    last_partial_ms: float = 0.0
    pending: bool = False  # a pause has begun and no attempt has started for it yet

    def handle(self, event: vad.VADEvent) -> None:
        if event.kind == vad.PAUSE and self.turn.options.speculate:
            self.times["pause_detected_ms"] = self.turn.clock.ms()
            self.pending = True
        elif event.kind == vad.RESUME:
            self.pending = False
            if self.current is not None:
                self.turn.speculating.clear()
                self.current.cancel.set()
                self.discarded.append(self.current)
                self.current = None

    def maybe_speculate(self, detector: vad.StreamingVAD) -> None:
        """Start the speculative attempt once the pending pause has lasted speculate_after_ms."""
        if not self.pending or detector.pause_start is None:
            return
        waited_ms = sample_ms(detector.consumed - detector.pause_start)
        if waited_ms + 1e-9 < self.turn.options.speculate_after_ms:
            return
        self.pending = False
        self.turn.speculating.set()
        self.current = _Attempt(np.concatenate(self.received), turn=self.turn)
        self.speculations += 1

    def maybe_partial(self, detector: vad.StreamingVAD) -> None:
        """Start a partial pass while speech goes on, one at a time, every partial_interval_ms."""
        interval = self.turn.options.partial_interval_ms
        if not interval or not detector.in_speech or detector.pause_start is not None:
            return
        if self.partials and self.partials[-1].thread.is_alive():
            return
        if self.turn.clock.ms() - self.last_partial_ms >= interval:
            self.last_partial_ms = self.turn.clock.ms()
            self.partials.append(_Partial(np.concatenate(self.received), turn=self.turn))


def _listen(prompt_16k: np.ndarray, turn: _Turn) -> dict:
    """Feed the detector in real time until the end is declared; the live speculation, if any, counts."""
    options, clock = turn.options, turn.clock
    detector = vad.StreamingVAD(threshold=options.vad_threshold, hangover_ms=options.hangover_ms)
    # Enough silence for the hang-over to pass whatever the settings, or the end would be forced.
    trailing_ms = max(options.trailing_silence_ms, options.hangover_ms + 4 * options.chunk_ms)
    chunks, stop = microphone(
        prompt_16k, chunk_ms=options.chunk_ms, trailing_silence_ms=trailing_ms, clock=clock
    )
    state = _Listening(turn)
    try:
        while (chunk := chunks.get()) is not None:
            state.received.append(chunk)
            for event in detector.feed(chunk):
                state.handle(event)
            state.maybe_speculate(detector)
            if detector.decision is not None:
                break
            state.maybe_partial(detector)
    finally:
        stop.set()
    times = {**state.times, "decision_ms": clock.ms()}
    # A feed that ends before the hang-over has passed ends the turn there (end_forced).
    end_forced = detector.decision is None
    consumed = detector.consumed if end_forced else detector.decision
    first_silence = detector.pause_start if end_forced else detector.first_silence
    times["decision_sample_ms"] = sample_ms(consumed)
    times["first_silence_ms"] = sample_ms(first_silence if first_silence is not None else consumed)
    return {
        "current": state.current,
        "received": np.concatenate(state.received),
        "discarded": state.discarded,
        "partials": state.partials,
        "speculations": state.speculations,
        "end_forced": end_forced,
        "times": times,
    }


def run_unstreamed_turn(
    prompt_16k: np.ndarray,
    *,
    context: pipeline.PipelineContext,
    options: StreamingOptions,
    silence_dbfs: float = -40.0,
) -> dict:
    """The same turn without streaming, as the pipeline ran before it: the baseline of the streamed one.

    The prompt arrives as in a streamed turn (same chunks, detector and hang-over: a live pipeline
    must also decide that speech has ended), but nothing starts before the decision: then Whisper
    on the whole prompt with faster-whisper's own 30 s window, the LLM's first full sentence to TTS,
    played once synthesised (pipeline._run_conversation). Times in ms from the first prompt sample.
    """
    options = replace(options, speculate=False, partial_interval_ms=0)
    turn, listened = _hear(prompt_16k, context=context, options=options)
    started_ms = turn.clock.ms()
    whole_window = replace(context, config=replace(context.config, stt_window_s=None))
    t = pipeline._run_conversation(listened["received"], context=whole_window)
    true_end_ms = sample_ms(vad.last_voiced_sample(prompt_16k, SAMPLE_RATE, silence_dbfs))
    return {
        **t,
        **listened["times"],
        "true_end_ms": true_end_ms,
        "stt_start_ms": started_ms,
        "playback_ms": started_ms + t["first_audio_ms"],
        "stt_audio_s": len(listened["received"]) / SAMPLE_RATE,  # the prompt and the silence heard after it
        "total_ms": started_ms + t["total_ms"],
        "end_forced": listened["end_forced"],
    }
