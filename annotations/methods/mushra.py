"""MUSHRA: one sentence in every condition on one page, 0-100 sliders (ITU-R BS.1534).

Its contract (pages, hidden reference and anchor) is in annotations.multistimulus. Its numbers: the
mean score per condition with its t interval and the Wilcoxon test of each pair of conditions, after
the BS.1534-3 post-screening of assessors (annotations.results.mushra_results). Each clip's mean score
is an absolute per-clip score on the 0-100 MUSHRA scale, never a MOS.
"""

from django.utils.translation import gettext_lazy as _

from annotations import multistimulus
from annotations.methods.registry import Answer, ClipScore, Method, check_on_scale, register
from annotations.models import ListeningTest, Scale, TrialClip
from annotations.results import charts, mushra_results, tables

NOTE = (
    "Each sentence is one page holding its clip in every condition (system, style) listed, at most "
    f"{multistimulus.MAX_CONDITIONS}, and, with a reference system, that system's clip as the hidden "
    "reference and its low-passed copy as the anchor. Every sentence needs at least two conditions "
    "besides the reference. MUSHRA tests take no gold or trapping clips; clips ticked for practice make "
    "one practice page, and without any, a spare sentence is used."
)


def _mushra_validate(test: ListeningTest, clips: list[TrialClip], scores: dict[str, object]) -> list[Answer]:
    values = scores.get(multistimulus.DIMENSION)
    values = values if isinstance(values, list) else []
    if len(values) != len(clips):
        raise ValueError(
            f"a MUSHRA answer holds one score per sample: {len(clips)} wanted, {len(values)} sent"
        )
    unrated = [place for place, value in enumerate(values, 1) if value is None]
    if unrated:
        raise ValueError(f"sample(s) {', '.join(map(str, unrated))} have no score yet")
    check_on_scale(test, {f"sample {place}": value for place, value in enumerate(values, 1)})
    return [
        Answer(clip.test_sample, multistimulus.DIMENSION, value)
        for clip, value in zip(clips, values, strict=True)
    ]


def _export_table(test: ListeningTest, thresholds):
    """One row per score with its role, place on the rater's page and BS.1534-3 post-screening."""
    return tables.MUSHRA_COLUMNS, tables.mushra_rows(test)


def _hundred_points(scale: Scale) -> None:
    if (scale.min_value, scale.max_value) != (0, 100):
        raise ValueError(
            f"The scale {scale.name} runs from {scale.min_value} to {scale.max_value}, but a MUSHRA slider "
            "runs from 0 to 100 (ITU-R BS.1534), as on mushra-en and mushra-es."
        )


MUSHRA = register(
    Method(
        name="mushra",
        title="MUSHRA: every condition of a sentence on one page, 0-100 sliders (ITU-R BS.1534)",
        short_title="MUSHRA",
        build_trials=multistimulus.mushra_trials,
        template="annotations/methods/mushra.html",
        questions=lambda test: [multistimulus.DIMENSION],
        validate=_mushra_validate,
        analyse=mushra_results.mushra_results,
        order_clips=multistimulus.shuffled_orders,
        practice=multistimulus.practice_pages,
        choices=lambda test: test.scale.choices(),
        describe_scale=Scale.describe_continuous,
        default_scales={"en": "mushra-en", "es": "mushra-es"},
        check_scale=_hundred_points,
        check_samples=multistimulus.check_samples,
        dimensions=(multistimulus.DIMENSION,),
        gold_and_traps=False,
        clips_per_trial=0,
        answer_kind="per_clip",
        takes_reference=True,
        clip_note=NOTE,
        form_fields=("reference_system", "with_anchor"),
        clip_score=ClipScore(name="MUSHRA score", mos=False, dimension=lambda test: multistimulus.DIMENSION),
        sections=("progress", "mushra", "method_raters"),
        export_table=_export_table,
        summary_table=tables.mushra_summary_table,
        charts=charts.mushra_charts,
        refusals={
            "not_assigned": _("This page is not part of your session. Please reload the page."),
            "bad_score": _("Please rate every sample: move each slider to your score."),
            "not_played": _("Please listen to every sample to the end before going on."),
            "not_fetched": _(
                "Your browser has not loaded every sample from the server yet. "
                "Please play each of them again to the end, then go on."
            ),
            "too_soon": _(
                "Please listen to every sample in full before going on: play them again to the end, "
                "then send your scores."
            ),
        },
    )
)
