"""The modes over sentences × styles: synthesis (TTS, then an ASR round trip and DNSMOS) and
conversation (an audio prompt through STT, the LLM and TTS)."""

from django.conf import settings

from synthesis import modes
from synthesis.engines import audio, pipeline


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


# On a synthesis run the ASR round trip measures the audio after the synthesis; it is not one of its
# stages, so the item's total is the synthesis alone.
ROUND_TRIP_NOTE = (
    "Whisper transcribing the synthesised audio, to measure its WER: a measurement, not a stage."
)
SYNTHESIS_NAMES = {
    "total_ms": modes.Relabel(
        "Synthesis time",
        "The item's total, text to audio: the TTS stage alone, since the ASR round trip after it is a "
        "measurement, not a stage.",
    ),
    "stt_ms": modes.Relabel("ASR round trip", ROUND_TRIP_NOTE),
    "stt_rtf": modes.Relabel("ASR round trip", ROUND_TRIP_NOTE),
}
ROUND_TRIP = ("recognized_text", "wer", "cer", "dnsmos_p808", "dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl")
SYNTHESIS = modes.register(
    modes.RunMode(
        key=modes.DEFAULT_MODE,
        label="Synthesis (TTS, then ASR round-trip and DNSMOS)",
        run=run_synthesis_item,
        loads=("tts", "stt", "dnsmos"),
        records=("tts_ms", "tts_rtf", "total_ms", "stt_ms", "stt_rtf", *ROUND_TRIP, "loudness_lufs"),
        relabel=SYNTHESIS_NAMES,
    )
)
CONVERSATION = modes.register(
    modes.RunMode(
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
