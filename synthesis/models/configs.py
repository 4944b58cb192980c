"""Pipeline configurations: the models and settings a run's items go through."""

from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class PipelineConfig(models.Model):
    class TTSBackend(models.TextChoices):
        PIPER = "piper", "Piper (VITS on onnxruntime)"
        ESPEAK = "espeak-ng", "espeak-ng (formant)"

    class STTBackend(models.TextChoices):
        FASTER_WHISPER = "faster-whisper", "faster-whisper (CTranslate2)"

    class LLMBackend(models.TextChoices):
        LLAMA_CPP = "llama-cpp", "llama.cpp (GGUF)"

    name = models.SlugField(max_length=80, unique=True, help_text="Unique name of this configuration.")
    system_label = models.CharField(
        max_length=80,
        help_text="Name of the system under test, as shown to researchers (never to evaluators).",
    )
    description = models.TextField(blank=True)
    stt_backend = models.CharField(
        max_length=32, choices=STTBackend.choices, default=STTBackend.FASTER_WHISPER
    )
    stt_model = models.CharField(
        max_length=500,
        default="whisper-base",
        help_text="Bundled 'whisper-base' or 'whisper-tiny.en', or a CTranslate2 Whisper directory.",
    )
    stt_compute_type = models.CharField(max_length=16, default="int8", help_text="CTranslate2 compute type.")
    stt_threads = models.PositiveSmallIntegerField(default=1, help_text="CPU threads per STT model.")
    stt_beam_size = models.PositiveSmallIntegerField(default=1, help_text="Beam size; 1 is greedy decoding.")
    stt_model_english = models.CharField(
        max_length=500,
        blank=True,
        default="",
        help_text="Whisper model for English prompts of conversations, e.g. the bundled 'whisper-tiny.en'; "
        "empty: stt_model for every language.",
    )
    stt_window_s = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Whisper encoder window in seconds for conversation prompts (e.g. 10); empty: Whisper's "
        "30 s. Audio longer than the window is cut into consecutive windows.",
    )
    stt_window_fit = models.BooleanField(
        default=False,
        help_text="Streaming: fit Whisper's encoder window to the audio heard (whole seconds, at most the "
        "window above or 30 s); the encoder's cost grows with its window, not with the audio.",
    )
    llm_backend = models.CharField(max_length=32, choices=LLMBackend.choices, default=LLMBackend.LLAMA_CPP)
    llm_model = models.CharField(
        max_length=500,
        default="smollm2-135m",
        help_text="Bundled 'smollm2-135m' or a path to any GGUF file.",
    )
    llm_system_prompt = models.TextField(
        default="You are a friendly voice assistant. Answer in one or two short sentences.",
        help_text="System message of the chat prompt.",
    )
    llm_max_tokens = models.PositiveIntegerField(default=48, help_text="Maximum tokens generated per reply.")
    llm_temperature = models.FloatField(default=0.0, help_text="Sampling temperature; 0 is deterministic.")
    llm_threads = models.PositiveSmallIntegerField(default=1, help_text="CPU threads for llama.cpp.")
    llm_batch_threads = models.PositiveSmallIntegerField(
        default=0,
        help_text="CPU threads for llama.cpp's prompt evaluation (n_threads_batch); 0 = the same as "
        "llm_threads. Nothing else runs while the prompt is read; token generation overlaps TTS.",
    )
    llm_context_size = models.PositiveIntegerField(default=1024, help_text="Context window in tokens.")
    llm_seed = models.IntegerField(default=1234, help_text="Sampling seed, for repeatable replies.")
    tts_backend = models.CharField(max_length=32, choices=TTSBackend.choices, default=TTSBackend.PIPER)
    tts_voice = models.CharField(
        max_length=500,
        default="en_US-joe-medium",
        help_text="Bundled 'en_US-joe-medium', a path to a Piper .onnx voice, or an espeak-ng voice name.",
    )
    tts_threads = models.PositiveSmallIntegerField(default=1, help_text="onnxruntime intra-op threads.")
    # Streaming conversation (latency runs with streaming on): synthesis/engines/streaming.py.
    stream_chunk_ms = models.PositiveSmallIntegerField(
        default=160,
        help_text="Streaming: audio per microphone chunk, in ms (100-200 as a microphone delivers).",
    )
    vad_hangover_ms = models.PositiveSmallIntegerField(
        default=240,
        help_text="Streaming: silence after speech before its end is declared, in ms (at least 200).",
    )
    vad_threshold = models.FloatField(
        default=0.5, help_text="Streaming: Silero VAD speech probability; pauses are 0.15 below it."
    )
    stream_speculate = models.BooleanField(
        default=True,
        help_text="Streaming: start STT, the LLM and TTS at the first silent frame, before the end of "
        "speech is declared (discarded if speech resumes).",
    )
    stream_partial_interval_ms = models.PositiveIntegerField(
        default=0,
        help_text="Streaming: transcribe the audio so far this often while speech goes on; 0 is off.",
    )
    tts_clause_min_words = models.PositiveSmallIntegerField(
        default=3, help_text="Streaming: words a clause of the reply needs before it goes to TTS."
    )
    tts_first_clause_max_words = models.PositiveSmallIntegerField(
        default=0,
        help_text="Streaming: the reply's first clause goes to TTS after this many words even without a "
        "punctuation boundary (a prosody break for a shorter wait); 0 = only at a boundary.",
    )
    llm_prefix_cache = models.BooleanField(
        default=True,
        help_text="Keep the system prompt's tokens in llama.cpp's KV cache between replies; off evaluates "
        "it again for every reply.",
    )
    stream_speculate_after_ms = models.PositiveSmallIntegerField(
        default=0,
        help_text="Streaming: start the speculative STT → LLM → TTS only once a pause has lasted this long "
        "(0 = at its first silent frame); a short gap between words then starts no pass that must be thrown "
        "away while it still takes a core.",
    )
    llm_partial_prefill = models.BooleanField(
        default=False,
        help_text="Streaming: evaluate the chat prompt on each partial transcript while the person still "
        "speaks (needs partial passes), so after the end only the transcript's new tail is evaluated.",
    )
    tts_first_words = models.PositiveSmallIntegerField(
        default=0,
        help_text="Streaming: synthesise the first clause's first N words alone and play them while the "
        "rest of the clause is synthesised; 0 = the clause whole.",
    )
    tts_trim_silence = models.BooleanField(
        default=False,
        help_text="Streaming: cut the silence Piper puts before the first chunk (and at the join of the "
        "first words and the rest), so the first audio handed over is speech.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(stt_threads__gte=1), name="config_stt_threads_min"),
            models.CheckConstraint(condition=Q(llm_threads__gte=1), name="config_llm_threads_min"),
            models.CheckConstraint(condition=Q(tts_threads__gte=1), name="config_tts_threads_min"),
            models.CheckConstraint(condition=Q(stt_beam_size__gte=1), name="config_beam_size_min"),
            models.CheckConstraint(condition=Q(vad_hangover_ms__gte=200), name="config_hangover_min"),
            models.CheckConstraint(condition=Q(stream_chunk_ms__gte=10), name="config_chunk_min"),
            models.CheckConstraint(
                condition=Q(tts_first_clause_max_words=0)
                | Q(tts_first_clause_max_words__gte=F("tts_clause_min_words")),
                name="config_first_clause_max_words",
            ),
            models.CheckConstraint(
                condition=Q(stt_window_s__isnull=True) | Q(stt_window_s__gte=1, stt_window_s__lte=30),
                name="config_stt_window_range",
            ),
            models.CheckConstraint(condition=Q(llm_max_tokens__gte=1), name="config_max_tokens_min"),
            models.CheckConstraint(condition=Q(llm_context_size__gte=64), name="config_context_min"),
            models.CheckConstraint(
                condition=Q(llm_temperature__gte=0), name="config_temperature_non_negative"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def snapshot(self) -> dict:
        """Everything that determines the output, frozen into a run when it starts."""
        fields = [f.name for f in self._meta.fields if f.name not in {"id", "created_at", "description"}]
        return {name: getattr(self, name) for name in fields}
