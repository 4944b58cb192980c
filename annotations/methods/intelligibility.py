"""Intelligibility: one clip per page, the listener types what they heard (plays limited).

Its contract (transcripts, plays, scoring against the clip's text) is in annotations.intelligibility.
Its numbers: per condition the listeners' WER and CER with percentile bootstrap CIs beside the ASR's
on the same samples (annotations.results.intelligibility_results); no per-clip score on a scale.
"""

from django.utils.translation import gettext_lazy as _

from annotations import intelligibility
from annotations.methods.acr import one_clip_trials
from annotations.methods.registry import Answer, Method, register
from annotations.models import ListeningTest, Scale, TrialClip
from annotations.results import charts, intelligibility_results, tables

NOTE = (
    "Every clip listed is one page: the listener types what they heard, the clip's text being the "
    "reference it is scored against (so every clip needs one). Intelligibility tests take no gold or "
    "trapping clips; clips ticked for practice come first, and without any, spare clips are used."
)


def _transcript(test: ListeningTest, clips: list[TrialClip], scores: dict[str, object]) -> list[Answer]:
    text = intelligibility.clean_transcript(scores.get(intelligibility.DIMENSION))
    return [Answer(clips[0].test_sample, intelligibility.DIMENSION, None, text=text)]


def _one_point_scale(scale: Scale) -> None:
    if scale.min_value != scale.max_value:
        raise ValueError(
            f"The scale {scale.name} runs from {scale.min_value} to {scale.max_value}, but an "
            "intelligibility answer is typed text, not a score: choose transcription-en or "
            "transcription-es, whose title is the question asked."
        )


def _export_table(test: ListeningTest, thresholds):
    """One row per transcript with its errors against the clip's text."""
    return tables.INTELLIGIBILITY_COLUMNS, tables.intelligibility_rows(test)


INTELLIGIBILITY = register(
    Method(
        name="intelligibility",
        title="Intelligibility: type what you heard (plays limited)",
        short_title="intelligibility",
        build_trials=one_clip_trials,
        template="annotations/methods/intelligibility.html",
        questions=lambda test: [intelligibility.DIMENSION],
        validate=_transcript,
        analyse=intelligibility_results.intelligibility_results,
        choices=lambda test: [],
        describe_scale=lambda scale: "typed transcription, no scale points",
        default_scales={"en": "transcription-en", "es": "transcription-es"},
        check_scale=_one_point_scale,
        check_samples=intelligibility.check_samples,
        dimensions=(intelligibility.DIMENSION,),
        gold_and_traps=False,
        answer_kind="text",
        max_plays=intelligibility.DEFAULT_MAX_PLAYS,
        clip_note=NOTE,
        form_fields=("max_plays", "artifact_labels"),
        progress_unit="clips",
        progress_note="Counted per clip (one transcript by one rater each), on test clips only.",
        sections=("progress", "intelligibility", "method_raters"),
        export_table=_export_table,
        summary_table=tables.intelligibility_summary_table,
        charts=charts.intelligibility_charts,
        screening_note="No screening rule applies to transcripts: every rater is kept.",
        refusals={
            "bad_score": _("Please type what you heard (at most 500 characters)."),
            "not_played": _("Please listen to the clip to the end before sending what you heard."),
        },
    )
)
