"""What an item leaves behind: a Sample (audio and measurements), a Transcript (an STT result and
its error counts) or a TimedIteration (one timed iteration of a benchmark)."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from synthesis.models.datasets import Utterance
from synthesis.models.runs import RunItem, SynthesisRun
from synthesis.models.sentences import Sentence, StylePreset


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
