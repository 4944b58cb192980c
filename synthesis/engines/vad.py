"""Streaming end-of-speech detection with Silero VAD v6 (the model faster-whisper ships), no Django.

faster-whisper's SileroVADModel restarts its recurrent state on every call, which suits whole files;
a live stream needs the state (h, c) and the 64-sample context carried from one chunk to the next,
so StreamingVAD runs the same onnxruntime session frame by frame itself.
"""

from dataclasses import dataclass

import numpy as np

SAMPLE_RATE = 16000
FRAME = 512  # samples per Silero frame at 16 kHz (32 ms)
CONTEXT = 64  # samples of the previous frame the model sees in front of each frame
MIN_HANGOVER_MS = 200

SPEECH = "speech"  # speech started
PAUSE = "pause"  # the first silent frame after speech: the end may follow
RESUME = "resume"  # speech came back before the end was declared
END = "end"  # silence lasted the hang-over: end of speech declared


@dataclass(frozen=True)
class VADEvent:
    kind: str
    sample: int  # position in the stream: a frame's first sample, or for END the samples consumed


def vad_session():
    """faster-whisper's cached Silero v6 onnxruntime session (one thread, loaded once per process)."""
    from faster_whisper.vad import get_vad_model

    return get_vad_model().session


class StreamingVAD:
    """Feed chunks of 16 kHz audio as they arrive; each feed returns the events it caused.

    Start and stop follow Silero's get_speech_timestamps: speech starts at a frame whose probability
    reaches `threshold` and pauses at one below `neg_threshold` (threshold - 0.15 by default); the
    end is declared once the pause has lasted `hangover_ms` with no frame back above `threshold`.
    """

    def __init__(self, *, threshold: float = 0.5, neg_threshold: float | None = None, hangover_ms: int = 240):
        if hangover_ms < MIN_HANGOVER_MS:
            raise ValueError(f"the hang-over must be at least {MIN_HANGOVER_MS} ms, not {hangover_ms}")
        self.threshold = threshold
        self.neg_threshold = neg_threshold if neg_threshold is not None else max(threshold - 0.15, 0.01)
        self.hangover_samples = round(hangover_ms * SAMPLE_RATE / 1000)
        self._session = vad_session()
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)
        self.consumed = 0  # samples run through the model
        self.in_speech = False
        self.pause_start: int | None = None  # first silent frame of the current pause
        self.first_silence: int | None = None  # first silent frame of the pause that ended the speech
        self.decision: int | None = None  # samples consumed when the end was declared
        self.probabilities: list[float] = []

    def feed(self, chunk: np.ndarray) -> list[VADEvent]:
        """Run every whole frame now available; a partial frame waits for the next chunk."""
        self._pending = np.concatenate([self._pending, np.asarray(chunk, dtype=np.float32)])
        events = []
        while len(self._pending) >= FRAME and self.decision is None:
            frame, self._pending = self._pending[:FRAME], self._pending[FRAME:]
            start = self.consumed
            probability = self._probability(frame)
            self.consumed += FRAME
            events.extend(self._step(probability, start))
        return events

    def _probability(self, frame: np.ndarray) -> float:
        window = np.concatenate([self._context, frame])[np.newaxis, :]
        output, self._h, self._c = self._session.run(None, {"input": window, "h": self._h, "c": self._c})
        self._context = frame[-CONTEXT:]
        probability = float(np.asarray(output).reshape(-1)[0])
        self.probabilities.append(probability)
        return probability

    def _step(self, probability: float, start: int) -> list[VADEvent]:
        if probability >= self.threshold:
            if not self.in_speech:
                self.in_speech = True
                return [VADEvent(SPEECH, start)]
            if self.pause_start is not None:
                self.pause_start = None
                return [VADEvent(RESUME, start)]
            return []
        if not self.in_speech or probability >= self.neg_threshold:
            return []
        events = []
        if self.pause_start is None:
            self.pause_start = start
            events.append(VADEvent(PAUSE, start))
        if self.consumed - self.pause_start >= self.hangover_samples:
            self.first_silence, self.decision = self.pause_start, self.consumed
            self.in_speech = False
            events.append(VADEvent(END, self.consumed))
        return events


def last_voiced_sample(samples: np.ndarray, sample_rate: int, threshold_dbfs: float) -> int:
    """One past the last sample whose magnitude reaches threshold_dbfs: where the speech truly ends."""
    threshold = 10 ** (threshold_dbfs / 20)
    loud = np.flatnonzero(np.abs(np.asarray(samples, dtype=np.float64)) >= threshold)
    return int(loud[-1]) + 1 if loud.size else 0


def cuts_off(
    samples: np.ndarray, *, true_end: int, hangover_ms: int, threshold: float = 0.5, chunk: int = 2560
) -> bool:
    """Whether the detector declares the end of speech before its true end: a speaker cut off.

    The prompt is fed in chunks as a microphone would, followed by silence; the clock does not matter
    to the detector, so this runs as fast as the model does.
    """
    detector = StreamingVAD(threshold=threshold, hangover_ms=hangover_ms)
    stream = np.concatenate([np.asarray(samples, dtype=np.float32), np.zeros(SAMPLE_RATE, dtype=np.float32)])
    for start in range(0, len(stream), chunk):
        detector.feed(stream[start : start + chunk])
        if detector.decision is not None:
            break
    return detector.decision is not None and detector.decision < true_end
