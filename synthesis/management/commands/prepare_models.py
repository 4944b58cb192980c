"""Check the bundled default models and assemble the ones that ship in parts (Whisper base)."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from synthesis.engines import selftest
from synthesis.engines.models import ModelFileError, resolve_llm_model, resolve_piper_voice, resolve_stt_model


class Command(BaseCommand):
    help = (
        "Verify the default model files, assemble Whisper base into the model cache (once) and "
        "self-test every engine in a child process (cached per build and CPU)."
    )

    def handle(self, *args, **options):
        try:
            found = {
                "Whisper base (multilingual)": resolve_stt_model("whisper-base", settings.SARAI_MODEL_CACHE),
                "Whisper tiny.en": resolve_stt_model("whisper-tiny.en", settings.SARAI_MODEL_CACHE),
                "SmolLM2-135M-Instruct": resolve_llm_model("smollm2-135m"),
                "Piper en_US joe-medium": resolve_piper_voice("en_US-joe-medium")[0],
            }
        except ModelFileError as exc:
            raise CommandError(str(exc)) from None
        for label, path in found.items():
            self.stdout.write(f"{label:30} {path}")
        report = selftest.ensure_report(cache_dir=settings.SARAI_MODEL_CACHE)
        for result in report["results"]:
            if result["ok"]:
                self.stdout.write(f"Self-test ok: {result['label']} ({result['message']})")
            else:
                # Not fatal: the rest of the app works; items that need this engine fail with this message.
                self.stderr.write(f"Self-test FAILED: {result['message']}")
