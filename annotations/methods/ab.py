"""A/B preference of pairs.

A page is one sentence in two conditions (annotations.methods.paired); the answer is -1 (A preferred),
0 (no preference, only where the test allows it) or +1 (B preferred), stored as dimension
"preference" on the clip presented second. A share of each session's pairs (ListeningTest.repeat_share)
is asked again later in the session in swapped order, as a Trial with repeat_of set, built for that
session only; repeats never count towards the target or the main statistics, only towards each
rater's consistency. Its numbers: shares with Wilson CIs, the exact sign test with ties counted apart
(annotations.results.pair_results), and a ranking.
"""

from annotations.methods import paired
from annotations.methods.registry import Answer, Method, register
from annotations.models import ListeningTest, Scale, TrialClip
from annotations.results import charts, pair_results, tables


def _validate(test: ListeningTest, clips: list[TrialClip], scores: dict[str, object]) -> list[Answer]:
    answer = paired.pair_answer(test, clips, scores, "preference")
    if answer.score == 0 and not test.allow_no_preference:
        raise ValueError("this test asks for a choice between A and B; 'no preference' is not an answer")
    return [answer]


def _preference_scale(scale: Scale) -> None:
    if (scale.min_value, scale.max_value) != (-1, 1):
        raise ValueError(
            f"The scale {scale.name} runs from {scale.min_value} to {scale.max_value}, but an A/B answer "
            "is -1 (A), 0 (no preference) or +1 (B), as on ab-en and ab-es."
        )


def _choices(test: ListeningTest) -> list[tuple[int, str]]:
    return [(value, label) for value, label in test.scale.choices() if value != 0 or test.allow_no_preference]


def summary_table(data: dict) -> tuple[tuple[str, ...], list[list]]:
    """One row per pair of conditions and screening state, then one per ranked condition."""
    return tables.pair_summary_table(data, tables.AB_COLUMNS, tables.ab_cells)


AB = register(
    Method(
        name="ab",
        title="A/B preference of pairs",
        short_title="A/B",
        template="annotations/methods/ab.html",
        questions=lambda test: ["preference"],
        validate=_validate,
        analyse=pair_results.ab_results,
        form_fields=("repeat_share", "allow_no_preference"),
        repeat_share=lambda test: test.repeat_share,
        choices=_choices,
        default_scales={"en": "ab-en", "es": "ab-es"},
        check_scale=_preference_scale,
        dimensions=("preference",),
        sections=("progress", "preference", "consistency", "ranking", "pair_raters", "pair_background"),
        report_design="results/_ab_design.html",
        summary_table=summary_table,
        charts=charts.preference_charts,
        **paired.SHARED,
    )
)
