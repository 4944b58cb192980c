"""CMOS: comparison category rating of pairs (ITU-T P.800 Annex E).

A page is one sentence in two conditions (annotations.methods.paired); the answer is -3..+3, how the
second clip (B) compares with the first (A), stored as dimension "cmos" on B. Its numbers: CMOS per
pair of conditions, sign corrected for order, two-way bootstrap CI, t interval, Wilcoxon of per-rater
means and the order effect (annotations.results.pair_results), and a ranking.
"""

from annotations.methods import paired
from annotations.methods.registry import Method, register
from annotations.models import Scale
from annotations.results import charts, pair_results, tables


def _centred_scale(scale: Scale) -> None:
    # Five points at least: a -1..+1 scale is a preference, not a comparison category rating.
    if not (scale.max_value >= 2 and scale.min_value == -scale.max_value):
        raise ValueError(
            f"The scale {scale.name} runs from {scale.min_value} to {scale.max_value}, but a CMOS answer "
            "rates the second sample against the first on a scale centred on 0, as ccr-en and ccr-es "
            "(-3 to +3) do."
        )


def summary_table(data: dict) -> tuple[tuple[str, ...], list[list]]:
    """One row per pair of conditions and screening state, then one per ranked condition."""
    return tables.pair_summary_table(data, tables.CMOS_COLUMNS, tables.cmos_cells)


CMOS = register(
    Method(
        name="cmos",
        title="CMOS: comparison category rating of pairs (ITU-T P.800 Annex E)",
        short_title="CMOS",
        template="annotations/methods/cmos.html",
        questions=lambda test: ["cmos"],
        validate=lambda test, clips, scores: [paired.pair_answer(test, clips, scores, "cmos")],
        analyse=pair_results.cmos_results,
        choices=lambda test: test.scale.choices(),
        default_scales={"en": "ccr-en", "es": "ccr-es"},
        check_scale=_centred_scale,
        dimensions=("cmos",),
        sections=("progress", "cmos", "ranking", "pair_raters", "pair_background"),
        report_design="results/_cmos_design.html",
        summary_table=summary_table,
        charts=charts.cmos_charts,
        **paired.SHARED,
    )
)
