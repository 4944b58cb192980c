from django.apps import AppConfig


class SynthesisConfig(AppConfig):
    name = "synthesis"
    verbose_name = "Synthesis"

    def ready(self):
        # The run modes register themselves on import; they need the models, so not before now.
        from synthesis import run_modes  # noqa: F401
