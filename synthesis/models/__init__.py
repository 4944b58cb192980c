"""The synthesis side's tables, one module per concept: what is spoken (sentences.py), the pipeline
configurations (configs.py), speech datasets (datasets.py), runs and their items (runs.py) and what
items leave behind (outputs.py)."""

from synthesis.models.configs import (
    PipelineConfig,
)
from synthesis.models.datasets import (
    SpeechDataset,
    Utterance,
    utterance_upload_to,
)
from synthesis.models.outputs import (
    Sample,
    TimedIteration,
    Transcript,
)
from synthesis.models.runs import (
    RunItem,
    RunItemQuerySet,
    Status,
    SynthesisRun,
    run_mode_choices,
)
from synthesis.models.sentences import (
    Sentence,
    SentenceSet,
    StylePreset,
)

__all__ = [
    "PipelineConfig",
    "RunItem",
    "RunItemQuerySet",
    "Sample",
    "Sentence",
    "SentenceSet",
    "SpeechDataset",
    "Status",
    "StylePreset",
    "SynthesisRun",
    "TimedIteration",
    "Transcript",
    "Utterance",
    "run_mode_choices",
    "utterance_upload_to",
]
