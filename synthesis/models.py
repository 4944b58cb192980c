"""Sentences, voice styles, pipeline configurations, synthesis runs and the samples they produce."""

import numpy as np
from django.conf import settings
from django.db import models
from django.db.models import Count, F, Q
from django.utils import timezone

from synthesis import modes
from synthesis.engines import pipeline
from synthesis.engines.audio import read_any_audio, resample
from synthesis.engines.settings import PipelineSettings


class SentenceSet(models.Model):
    name = models.SlugField(max_length=80, unique=True, help_text="Short unique name, e.g. demo-en.")
    description = models.TextField(
        blank=True, help_text="What the sentences are for and where they come from."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Sentence(models.Model):
    sentence_set = models.ForeignKey(SentenceSet, on_delete=models.CASCADE, related_name="sentences")
    position = models.PositiveIntegerField(help_text="Line number in the imported file (1-based).")
    text = models.TextField(help_text="The text to synthesise; also the reference transcript for WER.")
    language = models.CharField(
        max_length=16, default="en", help_text="BCP 47 language code, e.g. en, es, en-US."
    )
    tags = models.JSONField(default=list, blank=True, help_text="Free labels such as question or long.")
    reference_audio = models.FileField(
        upload_to="reference/", blank=True, help_text="Optional human recording of this sentence."
    )

    class Meta:
        ordering = ["sentence_set", "position"]
        constraints = [
            models.UniqueConstraint(fields=["sentence_set", "position"], name="sentence_unique_position"),
            models.CheckConstraint(condition=~Q(text=""), name="sentence_text_not_empty"),
            models.CheckConstraint(condition=~Q(language=""), name="sentence_language_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.sentence_set.name}#{self.position}"


class StylePreset(models.Model):
    name = models.SlugField(max_length=40, unique=True, help_text="Style name, e.g. neutral or warm.")
    description = models.TextField(blank=True, help_text="What the style should sound like.")
    length_scale = models.FloatField(
        default=1.0, help_text="Piper phoneme duration factor; above 1 is slower."
    )
    noise_scale = models.FloatField(
        default=0.667, help_text="Piper generator noise; more gives livelier prosody."
    )
    noise_w_scale = models.FloatField(default=0.8, help_text="Piper duration noise; more gives freer rhythm.")
    volume = models.FloatField(default=1.0, help_text="Output gain applied by Piper (1 keeps the level).")
    speaker_id = models.PositiveIntegerField(
        null=True, blank=True, help_text="Speaker of a multi-speaker voice."
    )
    espeak_pitch = models.PositiveSmallIntegerField(default=50, help_text="espeak-ng base pitch, 0-99.")
    espeak_range = models.PositiveSmallIntegerField(default=50, help_text="espeak-ng pitch range, 0-99.")

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=Q(length_scale__gt=0), name="style_length_scale_positive"),
            models.CheckConstraint(condition=Q(noise_scale__gte=0), name="style_noise_scale_non_negative"),
            models.CheckConstraint(condition=Q(noise_w_scale__gte=0), name="style_noise_w_non_negative"),
            models.CheckConstraint(condition=Q(volume__gt=0), name="style_volume_positive"),
            models.CheckConstraint(condition=Q(espeak_pitch__lte=99), name="style_espeak_pitch_range"),
            models.CheckConstraint(condition=Q(espeak_range__lte=99), name="style_espeak_range_range"),
        ]

    def __str__(self) -> str:
        return self.name

    def parameters(self) -> dict:
        return {
            "length_scale": self.length_scale,
            "noise_scale": self.noise_scale,
            "noise_w_scale": self.noise_w_scale,
            "volume": self.volume,
            "speaker_id": self.speaker_id,
            "espeak_pitch": self.espeak_pitch,
            "espeak_range": self.espeak_range,
        }


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


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


def run_mode_choices() -> list[tuple[str, str]]:
    """The registered run modes (synthesis.modes), read when needed so a new mode needs no migration."""
    return modes.mode_choices()


class SynthesisRun(models.Model):
    name = models.CharField(max_length=120, help_text="Free label for this run.")
    mode = models.CharField(
        max_length=16,
        choices=run_mode_choices,
        default=modes.DEFAULT_MODE,
        help_text="What each item runs and measures; see synthesis.modes.",
    )
    config = models.ForeignKey(PipelineConfig, on_delete=models.PROTECT, related_name="runs")
    dataset = models.ForeignKey(
        "SpeechDataset",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="runs",
        help_text="Speech dataset whose utterances the items transcribe (STT WER runs).",
    )
    sentence_sets = models.ManyToManyField(SentenceSet, related_name="runs")
    styles = models.ManyToManyField(StylePreset, related_name="runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    total_count = models.PositiveIntegerField(default=0, help_text="Items in this run.")
    done_count = models.PositiveIntegerField(default=0, help_text="Items finished with a sample.")
    failed_count = models.PositiveIntegerField(default=0, help_text="Items that failed.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True, help_text="When the first item was claimed.")
    finished_at = models.DateTimeField(null=True, blank=True, help_text="When the last item ended.")
    error = models.TextField(blank=True, help_text="Why the run as a whole failed, if it did.")
    config_snapshot = models.JSONField(
        default=dict, blank=True, help_text="The configuration as it was at start."
    )
    style_snapshot = models.JSONField(
        default=dict, blank=True, help_text="Style parameters as they were at start."
    )
    library_versions = models.JSONField(
        default=dict, blank=True, help_text="Versions of the inference libraries."
    )
    model_files = models.JSONField(
        default=list, blank=True, help_text="Model files used: path, size, sha256."
    )
    cpu_description = models.CharField(max_length=300, blank=True, help_text="CPU model and core count.")
    in_process_by = models.CharField(
        max_length=200,
        blank=True,
        help_text="host:pid of the command running this run in its own process (synthesize --in-process); "
        "empty when Celery workers run it.",
    )
    benchmark = models.JSONField(
        default=dict,
        blank=True,
        help_text="Iteration runs (latency, llm-speed): the plan of items, and what the serial runner "
        "recorded (seconds waited for the machine to be idle, contention).",
    )

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(done_count__lte=models.F("total_count")), name="run_done_within_total"
            ),
            models.CheckConstraint(
                condition=Q(failed_count__lte=models.F("total_count")), name="run_failed_within_total"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_status_display()})"

    @property
    def system_label(self) -> str:
        return self.config_snapshot.get("system_label") or self.config.system_label

    @property
    def pipeline_settings(self) -> PipelineSettings:
        """The configuration frozen at start as the engines read it; keys added since take their defaults."""
        return PipelineSettings.from_snapshot(self.config_snapshot)

    @property
    def stt_choice(self) -> str:
        """The Whisper model and encoder window the clips of an STT WER run went through.

        Runs started before STT WER runs transcribed as the turns do (modes.STT_AS_TURNS) used
        stt_model with Whisper's 30 s window, whatever else their configuration held.
        """
        config = self.pipeline_settings
        if not (self.benchmark or {}).get(modes.STT_AS_TURNS):
            return f"{config.stt_model}, 30 s window"
        language = self.dataset.language if self.dataset_id else ""
        return pipeline.stt_choice(config, language)

    @property
    def is_finished(self) -> bool:
        return self.status in {Status.DONE, Status.FAILED, Status.CANCELLED}

    @staticmethod
    def default_name(set_names: list[str], style_names: list[str]) -> str:
        """What a run is called when nobody names it: 'demo-en × neutral,warm'."""
        return f"{','.join(set_names)} × {','.join(style_names)}"[:120]


class RunItemQuerySet(models.QuerySet):
    def status_counts(self) -> dict:
        rows = self.values("status").annotate(n=Count("id"))
        return {row["status"]: row["n"] for row in rows}


class RunItem(models.Model):
    run = models.ForeignKey(SynthesisRun, on_delete=models.CASCADE, related_name="items")
    sentence = models.ForeignKey(
        Sentence, null=True, blank=True, on_delete=models.PROTECT, related_name="run_items"
    )
    style = models.ForeignKey(
        StylePreset, null=True, blank=True, on_delete=models.PROTECT, related_name="run_items"
    )
    utterance = models.ForeignKey(
        "Utterance",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="run_items",
        help_text="STT WER runs: the recorded utterance this item transcribes (instead of a sentence).",
    )
    iteration = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Iteration runs: the item's 0-based position in the run's plan (SynthesisRun.benchmark).",
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0, help_text="How many times a worker claimed it.")
    claimed_by = models.CharField(max_length=200, blank=True, help_text="host:pid of the worker holding it.")
    lease_expires_at = models.DateTimeField(
        null=True, blank=True, help_text="After this a RUNNING item is free."
    )
    queued_at = models.DateTimeField(
        default=timezone.now, help_text="When its latest message was sent; a long wait means it was lost."
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Readable reason when the item failed.")
    stage = models.CharField(
        max_length=40,
        blank=True,
        help_text="Pipeline stage the item was last in (e.g. llm); names the stage when a worker dies.",
    )
    prompt_audio = models.FileField(
        upload_to="prompts/",
        blank=True,
        help_text="Conversation mode: the spoken prompt (uploaded or synthesised).",
    )

    objects = RunItemQuerySet.as_manager()

    class Meta:
        ordering = ["run", "id"]
        constraints = [
            models.UniqueConstraint(fields=["run", "sentence", "style"], name="run_item_unique"),
            models.UniqueConstraint(fields=["run", "utterance"], name="run_item_unique_utterance"),
            models.UniqueConstraint(fields=["run", "iteration"], name="run_item_unique_iteration"),
            models.CheckConstraint(
                condition=Q(sentence__isnull=False, style__isnull=False)
                | Q(utterance__isnull=False)
                | Q(iteration__isnull=False),
                name="run_item_has_input",
            ),
        ]

    def __str__(self) -> str:
        if self.utterance_id:
            return f"run {self.run_id} · {self.utterance}"
        if self.iteration is not None:
            return f"run {self.run_id} · iteration {self.iteration}"
        return f"run {self.run_id} · {self.sentence} · {self.style}"


class Sample(models.Model):
    class Origin(models.TextChoices):
        SYNTHESIZED = "synthesized", "Synthesised by a run"
        IMPORTED = "imported", "Imported system output"
        REFERENCE = "reference", "Human reference recording"

    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.SYNTHESIZED)
    run = models.ForeignKey(
        SynthesisRun, null=True, blank=True, on_delete=models.CASCADE, related_name="samples"
    )
    run_item = models.OneToOneField(
        RunItem,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sample",
        help_text="The item that produced it; one sample per item however often the item runs.",
    )
    sentence = models.ForeignKey(
        Sentence, null=True, blank=True, on_delete=models.PROTECT, related_name="samples"
    )
    style = models.ForeignKey(
        StylePreset, null=True, blank=True, on_delete=models.PROTECT, related_name="samples"
    )
    style_label = models.CharField(
        max_length=40, blank=True, help_text="Style name (kept for imported samples)."
    )
    system_label = models.CharField(max_length=80, db_index=True, help_text="System that produced the audio.")
    text = models.TextField(blank=True, help_text="What the audio says: the sentence, or the LLM reply.")
    source_name = models.CharField(
        max_length=300, blank=True, help_text="Original file name of an imported sample."
    )
    audio = models.FileField(upload_to="samples/%Y/%m/", help_text="16-bit PCM WAV as produced.")
    duration_s = models.FloatField(help_text="Audio duration in seconds.")
    sample_rate = models.PositiveIntegerField(help_text="Samples per second.")
    # Measurements (each listed once in synthesis.modes.MEASUREMENTS). Latencies are wall-clock
    # milliseconds measured in the worker.
    stt_ms = models.FloatField(null=True, blank=True, help_text="Speech-to-text time.")
    llm_ms = models.FloatField(null=True, blank=True, help_text="LLM generation time.")
    llm_first_token_ms = models.FloatField(null=True, blank=True, help_text="Time to the first LLM token.")
    tts_ms = models.FloatField(null=True, blank=True, help_text="Text-to-speech time.")
    total_ms = models.FloatField(null=True, blank=True, help_text="End-to-end time for the item.")
    first_audio_ms = models.FloatField(
        null=True, blank=True, help_text="Conversation: time to the first audio."
    )
    tts_rtf = models.FloatField(null=True, blank=True, help_text="TTS time / audio duration.")
    stt_rtf = models.FloatField(null=True, blank=True, help_text="STT time / audio duration.")
    llm_tokens = models.PositiveIntegerField(null=True, blank=True, help_text="Tokens generated.")
    llm_tokens_per_s = models.FloatField(null=True, blank=True)
    prompt_text = models.TextField(blank=True, help_text="Conversation: what STT heard in the prompt.")
    prompt_wer = models.FloatField(null=True, blank=True, help_text="Conversation: WER of STT on the prompt.")
    recognized_text = models.TextField(blank=True, help_text="ASR round-trip transcript of this sample.")
    wer = models.FloatField(null=True, blank=True, help_text="Word error rate of the round-trip transcript.")
    cer = models.FloatField(
        null=True, blank=True, help_text="Character error rate of the round-trip transcript."
    )
    dnsmos_p808 = models.FloatField(null=True, blank=True, help_text="DNSMOS P.808 predicted MOS.")
    dnsmos_sig = models.FloatField(null=True, blank=True, help_text="DNSMOS P.835 speech quality.")
    dnsmos_bak = models.FloatField(null=True, blank=True, help_text="DNSMOS P.835 background quality.")
    dnsmos_ovrl = models.FloatField(null=True, blank=True, help_text="DNSMOS P.835 overall quality.")
    loudness_lufs = models.FloatField(null=True, blank=True, help_text="Integrated loudness, ITU-R BS.1770.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(duration_s__gte=0), name="sample_duration_non_negative"),
            models.CheckConstraint(condition=Q(sample_rate__gt=0), name="sample_rate_positive"),
            models.CheckConstraint(
                condition=Q(wer__gte=0) | Q(wer__isnull=True), name="sample_wer_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(cer__gte=0) | Q(cer__isnull=True), name="sample_cer_non_negative"
            ),
            models.CheckConstraint(
                condition=Q(origin="synthesized") | Q(run_item__isnull=True),
                name="sample_imported_has_no_item",
            ),
        ]

    def __str__(self) -> str:
        return f"sample {self.pk} · {self.system_label} · {self.style_label or '-'}"

    @property
    def sentence_key(self) -> str:
        """Samples with the same key say the same sentence (in another style or by another system)."""
        return self.key_for(self.pk, self.sentence_id, self.text)

    @staticmethod
    def key_for(pk: int, sentence_id: int | None, text: str) -> str:
        """sentence_key from plain values, for callers that read them with values_list()."""
        if sentence_id:
            return f"sentence:{sentence_id}"
        if text.strip():
            return "text:" + " ".join(text.lower().split())
        return f"sample:{pk}"


def utterance_upload_to(instance: "Utterance", filename: str) -> str:
    """Name a clip after its content hash, so identical bytes share one stored file."""
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"datasets/{instance.sha256[:2]}/{instance.sha256}.{suffix}"


class SpeechDataset(models.Model):
    """Recorded utterances with reference transcripts, imported for WER benchmarks."""

    name = models.SlugField(max_length=80, unique=True, help_text="Short unique name, e.g. cv-es-test.")
    description = models.TextField(blank=True, help_text="Where the recordings come from and their licence.")
    language = models.CharField(
        max_length=16,
        default="es",
        help_text="BCP 47 language of utterances whose row names none, e.g. es, en.",
    )
    source = models.CharField(
        max_length=300,
        blank=True,
        help_text="What was imported, e.g. 'Common Voice TSV validated.tsv' or 'CSV manifest manifest.csv'.",
    )
    limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Size of the random subset kept; empty when the whole set was kept."
    )
    seed = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="Seed of the random subset (numpy default_rng); empty for the whole set.",
    )
    import_report = models.JSONField(
        default=dict,
        blank=True,
        help_text="Rows read, good and imported counts, and each skipped row as {line, file, reason}.",
    )
    created_at = models.DateTimeField(default=timezone.now, help_text="When the dataset was imported.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Utterance(models.Model):
    """One recorded clip of a speech dataset and what it says."""

    dataset = models.ForeignKey(SpeechDataset, on_delete=models.CASCADE, related_name="utterances")
    position = models.PositiveIntegerField(
        help_text="Line of this row in the source TSV or CSV (1 = header)."
    )
    source_name = models.CharField(max_length=300, help_text="Clip file name as listed in the source file.")
    transcript = models.TextField(help_text="Reference transcript, as written in the source file.")
    language = models.CharField(max_length=16, help_text="BCP 47 language code, e.g. es, en-US.")
    audio = models.FileField(
        upload_to=utterance_upload_to,
        max_length=200,
        help_text="The clip as imported, stored once per content hash (datasets/ab/<sha256>.<ext>).",
    )
    sha256 = models.CharField(max_length=64, db_index=True, help_text="SHA-256 of the clip's bytes.")
    duration_s = models.FloatField(help_text="Clip duration in seconds.")
    sample_rate = models.PositiveIntegerField(help_text="Sample rate of the stored file.")

    class Meta:
        ordering = ["dataset", "position"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "position"], name="utterance_unique_position"),
            models.CheckConstraint(condition=~Q(transcript=""), name="utterance_transcript_not_empty"),
            models.CheckConstraint(condition=Q(duration_s__gt=0), name="utterance_duration_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.dataset.name}#{self.position}"

    def audio_16k(self) -> np.ndarray:
        """The clip decoded to float32 mono at 16 kHz, as the STT engines take it."""
        with self.audio.open("rb") as handle:
            audio, sample_rate = read_any_audio(handle.read())
        return resample(audio, sample_rate, 16000)


class Transcript(models.Model):
    """What the STT heard on one utterance of an STT WER run, with its error counts (no audio made)."""

    run = models.ForeignKey(SynthesisRun, on_delete=models.CASCADE, related_name="transcripts")
    run_item = models.OneToOneField(
        RunItem,
        on_delete=models.CASCADE,
        related_name="transcript",
        help_text="The item that produced it; one transcript per item however often the item runs.",
    )
    utterance = models.ForeignKey(Utterance, on_delete=models.PROTECT, related_name="transcripts")
    language = models.CharField(max_length=16, help_text="Language the utterance was decoded in (its own).")
    reference = models.TextField(help_text="The utterance's reference transcript as written.")
    hypothesis = models.TextField(blank=True, help_text="What the STT model heard, as it wrote it.")
    normalisation = models.CharField(
        max_length=16, help_text="textnorm method the counts below were computed with (english, basic, none)."
    )
    reference_normalised = models.TextField(blank=True, help_text="Reference after the normalisation.")
    hypothesis_normalised = models.TextField(blank=True, help_text="Hypothesis after the normalisation.")
    duration_s = models.FloatField(help_text="Clip duration in seconds.")
    stt_ms = models.FloatField(help_text="Speech-to-text wall time, model loading excluded.")
    stt_rtf = models.FloatField(help_text="STT time / clip duration (below 1 is faster than real time).")
    hits = models.PositiveIntegerField(help_text="Reference words recognised correctly.")
    substitutions = models.PositiveIntegerField(help_text="Reference words recognised as another word.")
    deletions = models.PositiveIntegerField(help_text="Reference words missing from the hypothesis.")
    insertions = models.PositiveIntegerField(help_text="Hypothesis words with no reference word.")
    char_hits = models.PositiveIntegerField(help_text="Reference characters matched.")
    char_substitutions = models.PositiveIntegerField(help_text="Reference characters substituted.")
    char_deletions = models.PositiveIntegerField(help_text="Reference characters deleted.")
    char_insertions = models.PositiveIntegerField(help_text="Characters inserted.")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "utterance__position"]

    def __str__(self) -> str:
        return f"transcript {self.pk} · run {self.run_id} · {self.utterance}"

    @property
    def wer(self) -> float | None:
        """(S+D+I)/(H+S+D) of this utterance; None when the normalised reference is empty."""
        words = self.hits + self.substitutions + self.deletions
        return (self.substitutions + self.deletions + self.insertions) / words if words else None


class TimedIteration(models.Model):
    """One timed iteration of a latency or LLM-speed run: its stage times, no audio kept."""

    run = models.ForeignKey(SynthesisRun, on_delete=models.CASCADE, related_name="iterations")
    run_item = models.OneToOneField(
        RunItem,
        on_delete=models.CASCADE,
        related_name="timed_iteration",
        help_text="The item that produced it; one row per item however often the item runs.",
    )
    position = models.PositiveIntegerField(help_text="0-based position in the run's plan.")
    kind = models.CharField(
        max_length=16,
        help_text="What was timed: 'latency' (a conversation turn), 'llm-prompt' or 'llm-context'.",
    )
    label = models.CharField(max_length=300, blank=True, help_text="The prompt, or the context length.")
    warmup = models.BooleanField(
        default=False, help_text="A warm-up iteration: run, stored, but left out of every summary."
    )
    contended = models.BooleanField(
        default=False,
        help_text="An item of another run was RUNNING when this iteration ended: "
        "its times may hold contention.",
    )
    figures = models.JSONField(
        default=dict,
        help_text="Times in ms and counts, keyed by name (stt_ms, llm_ms, tts_ms, first_audio_ms, "
        "perceived_first_audio_ms, total_ms, direct_*_ms, llm_tokens, ...).",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["run", "position"]

    def __str__(self) -> str:
        return f"run {self.run_id} · {self.kind} {self.position}"
