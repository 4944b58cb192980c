"""The run modes, one module each; importing this package registers them (synthesis.apps.ready).

Each module holds what its items run, its plan, and for a benchmark its results section and the
design's claims it measures with their reader. Adding a mode is a module here and a line below.
"""

from synthesis.run_modes import latency, llm_speed, load, sentences, stt_wer

__all__ = ["latency", "llm_speed", "load", "sentences", "stt_wer"]
