"""The run modes, one module each; importing this package registers them (synthesis.apps.ready).

Each module holds what its items run, its plan, and for a benchmark its results section and the
design's claims it measures with their reader. Adding a mode is a module here and a line below;
the order of the lines is the order of the run form's choices and of the claims page's rows.
"""

# isort: skip_file
from synthesis.run_modes import sentences
from synthesis.run_modes import stt_wer
from synthesis.run_modes import latency
from synthesis.run_modes import llm_speed
from synthesis.run_modes import load

__all__ = ["latency", "llm_speed", "load", "sentences", "stt_wer"]
