"""Reply generation with llama.cpp (any GGUF chat model), streamed sentence by sentence."""

import functools
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llama_cpp import Llama

# A sentence ends at . ! ? or … (plus closing quotes or brackets) followed by whitespace, or at a
# newline. Requiring the whitespace keeps "3.5" whole and means a sentence is only complete once
# the next token has started it off.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*\s+|\n+")
# A clause ends where a sentence does, at , ; : followed by whitespace, or at an em dash.
_CLAUSE_END = re.compile(r"(?:[.!?…]+[\"'”’)\]]*|[,;:])\s+|\s*—\s*|\n+")
# Primes the KV cache: any user text works, only the tokens before it are kept for later replies.
_PRIMING_USER_TEXT = "Hello."


@dataclass
class LLMResult:
    """A reply with its token count and timings."""

    text: str
    tokens: int
    seconds: float  # wall time to the last token, prompt included, time the consumer held it excluded
    first_token_seconds: float | None  # wall time to the first non-empty piece of text
    tokens_per_s: float  # tokens / seconds: end-to-end throughput, not the bare decode rate


@functools.lru_cache(maxsize=2)
def load_llm(
    model_path: str, n_ctx: int = 1024, n_threads: int = 1, seed: int = 1234, n_threads_batch: int = 0
) -> "Llama":
    """Load a GGUF model once per process; n_threads_batch (prompt evaluation) 0 is n_threads."""
    # Imported here so that importing this module (e.g. from the web process) stays cheap.
    from llama_cpp import Llama

    return Llama(
        model_path=model_path,
        n_ctx=n_ctx,
        n_threads=n_threads,
        n_threads_batch=n_threads_batch or n_threads,
        seed=seed,
        verbose=False,
    )


def split_sentences(buffer: str) -> tuple[list[str], str]:
    """Split complete sentences off the front of buffer; return them and the unfinished rest."""
    sentences = []
    start = 0
    for match in _SENTENCE_END.finditer(buffer):
        sentence = buffer[start : match.end()].strip()
        if sentence:
            sentences.append(sentence)
        start = match.end()
    return sentences, buffer[start:]


def split_clauses(buffer: str, min_words: int, max_words: int = 0) -> tuple[list[str], str]:
    """Split clauses of at least min_words words off the front of buffer; return them and the rest.

    A boundary that would close a shorter clause is skipped, so the clause runs on to the next one.
    With max_words, a clause still without a boundary is cut after that many words once they are
    complete (a word is complete when whitespace follows it).
    """
    clauses = []
    start = 0
    for match in _CLAUSE_END.finditer(buffer):
        clause = buffer[start : match.end()].strip()
        words = [word for word in clause.split() if any(c.isalnum() for c in word)]
        if len(words) >= min_words:
            clauses.append(clause)
            start = match.end()
    if max_words and not clauses:
        long = re.match(rf"\s*((?:\S+\s+){{{max_words}}})", buffer[start:])
        if long:
            clauses.append(long.group(1).strip())
            start += long.end()
    return clauses, buffer[start:]


def prompt_tokens_evaluated(llm: "Llama") -> int:
    """Prompt tokens the context has evaluated so far (llama.cpp's own counter), to see cache reuse."""
    import llama_cpp

    return llama_cpp.llama_perf_context(llm._ctx.ctx).n_p_eval


def prime_system_prompt(llm: "Llama", system_prompt: str) -> None:
    """Evaluate the chat prompt up to the user's text once, so later replies reuse it from the KV cache.

    llama-cpp-python keeps the previous call's tokens and re-evaluates only what follows the longest
    common prefix, unless the model is reset; a reply after this one evaluates its user turn only.
    """
    prefill(llm, system_prompt, _PRIMING_USER_TEXT)


def prefill(llm: "Llama", system_prompt: str, user_text: str) -> None:
    """Evaluate the chat prompt for `user_text` (and one token after it) into the KV cache.

    A reply whose user text starts the same way then evaluates only what follows the common prefix:
    on a partial transcript while the person speaks, the final one costs only its new tail.
    """
    messages = [{"role": "system", "content": system_prompt}, {"role": "user", "content": user_text}]
    llm.create_chat_completion(messages=messages, max_tokens=1, temperature=0.0)


class ReplyStream:
    """Iterate to receive the reply sentence by sentence; afterwards `.result` holds the totals."""

    def __init__(
        self,
        llm: "Llama",
        *,
        system_prompt: str,
        user_text: str,
        max_tokens: int,
        temperature: float,
        seed: int | None = None,
        clause_min_words: int | None = None,
        first_clause_max_words: int = 0,
        cancel: threading.Event | None = None,
    ) -> None:
        self._llm = llm
        self._messages = [
            {"role": "system", "content": system_prompt},
            {"role": "user", "content": user_text},
        ]
        self._max_tokens = max_tokens
        self._temperature = temperature
        self._seed = seed
        # With clause_min_words the reply is yielded clause by clause (split_clauses), not by sentence.
        self._clause_min_words = clause_min_words
        # The first clause is cut after this many words if no boundary came first (0: never cut).
        self._first_clause_max_words = first_clause_max_words
        # Checked between tokens: once set, generation stops and the stream ends, `cancelled` true.
        self._cancel = cancel
        self._started = False
        self.cancelled = False
        self.first_clause_cut = False  # the first clause ended at the word limit, not at punctuation
        self.result: LLMResult | None = None

    def __iter__(self) -> Iterator[str]:
        if self._started:
            raise RuntimeError("a ReplyStream can only be iterated once")
        self._started = True
        return self._sentences()

    def _pieces(self) -> Iterator[str]:
        """Yield the text pieces of the streamed chat completion (the GGUF's own chat template)."""
        chunks = self._llm.create_chat_completion(
            messages=self._messages,
            max_tokens=self._max_tokens,
            temperature=self._temperature,
            # Without a seed llama-cpp-python derives one from the previous call's, so a reply
            # depends on how many replies the process generated before it.
            seed=self._seed,
            stream=True,
        )
        for chunk in chunks:
            if self._cancel is not None and self._cancel.is_set():
                self.cancelled = True
                chunks.close()  # stops llama.cpp's generator: no further token is decoded
                return
            piece = chunk["choices"][0]["delta"].get("content")
            if piece:
                yield piece

    def _sentences(self) -> Iterator[str]:
        """Yield each sentence as soon as it is complete, then record the result."""
        started = time.perf_counter()
        # Time spent suspended at a yield belongs to the consumer (e.g. TTS of the previous
        # sentence), not to the model, so it is left out of the reply's seconds.
        paused = 0.0
        first_token_seconds = None
        text, buffer, yielded = "", "", False
        for piece in self._pieces():
            if first_token_seconds is None:
                first_token_seconds = time.perf_counter() - started - paused
            text += piece
            sentences, buffer = self._split(buffer + piece, first=not yielded)
            yielded = yielded or bool(sentences)
            for sentence in sentences:
                suspended = time.perf_counter()
                yield sentence
                paused += time.perf_counter() - suspended
        seconds = time.perf_counter() - started - paused
        self.result = self._make_result(text.strip(), seconds, first_token_seconds)
        if buffer.strip() and not self.cancelled:
            yield buffer.strip()

    def _split(self, buffer: str, *, first: bool) -> tuple[list[str], str]:
        if self._clause_min_words is None:
            return split_sentences(buffer)
        clauses, rest = split_clauses(buffer, self._clause_min_words)
        if first and not clauses and self._first_clause_max_words:
            clauses, rest = split_clauses(buffer, self._clause_min_words, self._first_clause_max_words)
            self.first_clause_cut = bool(clauses)
        return clauses, rest

    def _make_result(self, text: str, seconds: float, first_token_seconds: float | None) -> LLMResult:
        """Count the reply's tokens and build the result."""
        # Streamed chunks are not tokens one-to-one: llama-cpp-python merges tokens while it holds
        # back partial UTF-8 or a possible stop string. Re-tokenising the final text counts what was
        # generated (the end-of-turn token aside) far more closely.
        tokens = len(self._llm.tokenize(text.encode("utf-8"), add_bos=False)) if text else 0
        return LLMResult(
            text=text,
            tokens=tokens,
            seconds=seconds,
            first_token_seconds=first_token_seconds,
            tokens_per_s=tokens / seconds if seconds > 0 else 0.0,
        )


def stream_reply(
    llm: "Llama",
    *,
    system_prompt: str,
    user_text: str,
    max_tokens: int,
    temperature: float,
    seed: int | None = None,
    clause_min_words: int | None = None,
    first_clause_max_words: int = 0,
    cancel: threading.Event | None = None,
) -> ReplyStream:
    """Start a streamed reply; nothing runs until it is iterated."""
    return ReplyStream(
        llm,
        system_prompt=system_prompt,
        user_text=user_text,
        max_tokens=max_tokens,
        temperature=temperature,
        seed=seed,
        clause_min_words=clause_min_words,
        first_clause_max_words=first_clause_max_words,
        cancel=cancel,
    )


def generate(
    llm: "Llama",
    *,
    system_prompt: str,
    user_text: str,
    max_tokens: int,
    temperature: float,
    seed: int | None = None,
) -> LLMResult:
    """Generate a whole reply."""
    stream = stream_reply(
        llm,
        system_prompt=system_prompt,
        user_text=user_text,
        max_tokens=max_tokens,
        temperature=temperature,
        seed=seed,
    )
    for _ in stream:
        pass
    assert stream.result is not None
    return stream.result
