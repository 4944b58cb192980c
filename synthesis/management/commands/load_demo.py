"""Load the demo data: English and Spanish sentence sets and two pipeline configurations."""

from django.core.management.base import BaseCommand
from django.template.defaultfilters import pluralize

from synthesis.models import PipelineConfig, SentenceSet
from synthesis.services import import_sentences

DEMO_EN = """text,language,tags
The library opens at nine and closes after the evening lecture.,en,statement
Could you move my dentist appointment to Thursday afternoon?,en,question
Seven hikers crossed the river before the storm reached the valley.,en,statement;numbers
Please remind me to water the tomatoes when I get home.,en,request
The quarterly report shows a small rise in solar energy sales.,en,statement
"Honestly, that was the kindest thing anyone has done for me this year.",en,emotional
"""

DEMO_ES = """text,language,tags
La biblioteca abre a las nueve y cierra después de la última clase.,es,statement
¿Puedes cambiar mi cita con el dentista al jueves por la tarde?,es,question
Siete excursionistas cruzaron el río antes de que llegara la tormenta.,es,statement;numbers
Recuérdame regar los tomates cuando llegue a casa.,es,request
"""

CONFIGS = [
    {
        "name": "piper-joe",
        "system_label": "Piper joe-medium",
        "description": "Default stack: Piper en_US joe-medium, Whisper base int8, SmolLM2-135M Q4_1.",
        "tts_backend": PipelineConfig.TTSBackend.PIPER,
        "tts_voice": "en_US-joe-medium",
    },
    {
        "name": "piper-joe-fast",
        "system_label": "Piper joe (medium), fast conversation",
        "description": "piper-joe for conversation latency: a 10-second Whisper encoder window (a fraction "
        "of the 30-second window's cost; its word error rate on the prompts is in docs/benchmarks.md), "
        "100 ms microphone chunks, and the reply's first clause sent to TTS after at most 8 words.",
        "tts_backend": PipelineConfig.TTSBackend.PIPER,
        "tts_voice": "en_US-joe-medium",
        "stt_window_s": 10,
        "stream_chunk_ms": 100,
        "tts_first_clause_max_words": 8,
    },
    {
        "name": "piper-joe-fastest",
        "system_label": "Piper joe (medium), fastest conversation",
        "description": "piper-joe-fast with every stage of the critical path made smaller: Whisper's window "
        "fitted to the audio heard (its length and 4 s, at most 10 s), 32 ms microphone chunks, the first "
        "clause cut at 4 words and its first 2 words synthesised alone with Piper's lead-in cut. Its "
        "latency and paired word error against piper-joe-fast are in docs/benchmarks.md (issue 27).",
        "tts_backend": PipelineConfig.TTSBackend.PIPER,
        "tts_voice": "en_US-joe-medium",
        "stt_window_s": 10,
        "stt_window_fit": True,
        "stream_chunk_ms": 32,
        "tts_first_clause_max_words": 4,
        "tts_first_words": 2,
        "tts_trim_silence": True,
    },
    {
        "name": "piper-joe-fast-tiny",
        "system_label": "Piper joe (medium), fast conversation, Whisper tiny.en",
        "description": "piper-joe-fast with Whisper tiny.en for English prompts: about half the STT time "
        "for about two points more word error on the prompts (docs/benchmarks.md).",
        "tts_backend": PipelineConfig.TTSBackend.PIPER,
        "tts_voice": "en_US-joe-medium",
        "stt_window_s": 10,
        "stream_chunk_ms": 100,
        "tts_first_clause_max_words": 8,
        "stt_model_english": "whisper-tiny.en",
    },
    {
        "name": "espeak",
        "system_label": "espeak-ng",
        "description": "Formant synthesis with espeak-ng, for contrast and for Spanish; same STT and LLM.",
        "tts_backend": PipelineConfig.TTSBackend.ESPEAK,
        "tts_voice": "default",
    },
]


class Command(BaseCommand):
    help = "Create the demo sentence sets (English, Spanish) and pipeline configurations; safe to re-run."

    def handle(self, *args, **options):
        for name, text, description in [
            ("demo-en", DEMO_EN, "Six everyday English sentences: statements, a question, a request."),
            ("demo-es", DEMO_ES, "Cuatro frases cotidianas en español."),
        ]:
            if SentenceSet.objects.filter(name=name).exists():
                self.stdout.write(f"Sentence set {name} exists already.")
                continue
            sentence_set = import_sentences(
                name=name, data=text.encode(), filename=f"{name}.csv", description=description
            )
            count = sentence_set.sentences.count()
            self.stdout.write(f"Created sentence set {name} ({count} sentence{pluralize(count)}).")
        for config in CONFIGS:
            _, created = PipelineConfig.objects.get_or_create(name=config["name"], defaults=config)
            self.stdout.write(f"{'Created' if created else 'Kept'} pipeline configuration {config['name']}.")
