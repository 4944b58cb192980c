"""The listening tests' SVG charts: MOS bars, score distributions, forest plots, rankings, per method.

Drawn with the kit of synthesis.results.charts (frame, text measure, empty chart), so every label is
escaped and every mark carries a <title> with its exact numbers.
"""

import math
from collections.abc import Callable, Sequence
from html import escape

from synthesis.results.charts import (
    BAR,
    GRID,
    INK,
    LABEL_CHARS,
    clip,
    empty_chart,
    fit,
    fmt,
    pt,
    scatter_chart,
    svg,
    text_width,
    ticks,
)
from synthesis.results.charts import run_charts as pipeline_run_charts

# Lowest (bad) to highest (excellent) score: a diverging palette that survives greyscale printing;
# scales with another number of points take evenly spaced colours along it.
SCORE_COLOURS = ("#b2182b", "#ef8a62", "#d9d9d9", "#67a9cf", "#2166ac")
DNSMOS_RANGE = (1.0, 5.0)


def mos_chart(
    bars: Sequence[dict], *, title: str, y_min: float | None = None, y_max: float | None = None
) -> str:
    """Vertical bars of MOS with CI whiskers; bars are dicts of label, mos, low and high (or None).

    y_min and y_max are the lowest and highest score of the test's scale; without a scale the bars
    start at zero (or the whole number below the lowest value) and the axis reaches past the highest.
    """
    bars = [bar for bar in bars if bar.get("mos") is not None]
    if not bars:
        return empty_chart(f"{title}: no ratings yet")
    if y_min is None or y_max is None:
        ends = [
            value
            for bar in bars
            for value in (bar["mos"], bar.get("low"), bar.get("high"))
            if value is not None
        ]
        y_min = min(0, math.floor(min(ends))) if y_min is None else y_min
        y_max = math.floor(max(ends)) + 1 if y_max is None else y_max
    labels = [[clip(part, LABEL_CHARS) for part in str(bar["label"]).split("\n")[:2]] for bar in bars]
    widest = max(text_width(part) for parts in labels for part in parts)
    left, top, plot_h, step = 36, 24, 180, max(84, widest + 12)
    width, height = left + step * len(bars) + 16, top + plot_h + 48
    width = fit(width, left, title, bold=True)

    def y(value: float) -> float:
        value = min(max(value, y_min), y_max)
        return top + plot_h * (1 - (value - y_min) / (y_max - y_min))

    body = [f'<text x="{left}" y="14" fill="{INK}" font-weight="600">{escape(title)}</text>']
    for tick in range(int(y_min), int(y_max) + 1):
        body.append(
            f'<line x1="{left}" x2="{pt(width - 8)}" y1="{pt(y(tick))}" y2="{pt(y(tick))}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{pt(y(tick) + 4)}" text-anchor="end" fill="{INK}">{tick}</text>'
        )
    for index, (bar, parts) in enumerate(zip(bars, labels, strict=True)):
        x = left + step * index + (step - 56) / 2
        body.append(_mos_bar(bar, x, y, y_min))
        for line, part in enumerate(parts):
            body.append(
                f'<text x="{pt(x + 28)}" y="{pt(top + plot_h + 16 + 13 * line)}" text-anchor="middle" '
                f'fill="{INK}">{escape(part)}</text>'
            )
    return svg(width, height, title, body)


def _mos_bar(bar: dict, x: float, y, y_min: float) -> str:
    tip = f"{bar['label']}: MOS {fmt(bar['mos'])}, 95% CI {fmt(bar.get('low'))}–{fmt(bar.get('high'))}"
    parts = [
        f"<g><title>{escape(tip)}</title>"
        f'<rect x="{pt(x)}" y="{pt(y(bar["mos"]))}" width="56" '
        f'height="{pt(y(y_min) - y(bar["mos"]))}" fill="{BAR}"/>'
    ]
    if bar.get("low") is not None and bar.get("high") is not None:
        mid, low, high = x + 28, y(bar["low"]), y(bar["high"])
        parts.append(
            f'<path d="M{pt(mid)} {pt(low)}V{pt(high)}'
            f'M{pt(mid - 8)} {pt(low)}h16M{pt(mid - 8)} {pt(high)}h16" '
            f'stroke="{INK}" stroke-width="1.5" fill="none"/>'
        )
    parts.append(
        f'<text x="{pt(x + 28)}" y="{pt(y(y_min) - 6)}" text-anchor="middle" fill="#fff">'
        f"{fmt(bar['mos'])}</text></g>"
    )
    return "".join(parts)


def score_colours(n: int) -> list[str]:
    """n colours from the diverging palette, lowest score first."""
    if n == len(SCORE_COLOURS):
        return list(SCORE_COLOURS)
    rgb = [tuple(int(c[i : i + 2], 16) for i in (1, 3, 5)) for c in SCORE_COLOURS]
    colours = []
    for k in range(n):
        position = (len(rgb) - 1) * k / max(n - 1, 1)
        low, frac = int(position), position - int(position)
        high = min(low + 1, len(rgb) - 1)
        mixed = (round(a + (b - a) * frac) for a, b in zip(rgb[low], rgb[high], strict=True))
        colours.append("#" + "".join(f"{v:02x}" for v in mixed))
    return colours


def distribution_chart(rows: Sequence[dict], *, title: str, points: Sequence[int]) -> str:
    """Horizontal 100% stacked bars of the scores; rows are dicts of label and counts (one per point)."""
    rows = [row for row in rows if sum(row["counts"])]
    if not rows:
        return empty_chart(f"{title}: no ratings yet")
    labels = [clip(str(row["label"]), 2 * LABEL_CHARS) for row in rows]
    left, top, bar_w, step = max(150, max(map(text_width, labels)) + 14), 40, 380, 26
    width, height = left + bar_w + 16, top + step * len(rows) + 8
    width = fit(width, 8, title, bold=True)
    body = [f'<text x="8" y="14" fill="{INK}" font-weight="600">{escape(title)}</text>']
    colours = score_colours(len(points))
    # A long scale (0-100) keeps only its ends and middle in the legend.
    legend = list(zip(points, colours, strict=True))
    if len(legend) > 11:
        legend = [legend[0], legend[len(legend) // 2], legend[-1]]
    for index, (score, colour) in enumerate(legend):
        x = left + index * 56
        body.append(
            f'<rect x="{pt(x)}" y="20" width="10" height="10" fill="{colour}"/>'
            f'<text x="{pt(x + 14)}" y="29" fill="{INK}">{score}</text>'
        )
    for index, (row, label) in enumerate(zip(rows, labels, strict=True)):
        y, total, x = top + step * index, sum(row["counts"]), float(left)
        body.append(
            f'<text x="{pt(left - 6)}" y="{y + 14}" text-anchor="end" fill="{INK}">{escape(label)}</text>'
        )
        for score, count, colour in zip(points, row["counts"], colours, strict=True):
            w = bar_w * count / total
            tip = f"{row['label']}: score {score} × {count} ({100 * count / total:.1f}%)"
            body.append(
                f'<rect x="{pt(x)}" y="{y}" width="{pt(w)}" height="18" fill="{colour}">'
                f"<title>{escape(tip)}</title></rect>"
            )
            x += w
    return svg(width, height, title, body)


def forest_chart(
    rows: Sequence[dict], *, title: str, x_label: str, reference: float | None = None, digits: int = 2
) -> str:
    """One line per row: a point at the estimate and a horizontal interval from low to high, in the order
    given; rows are dicts of label, estimate, low and high (None without an interval) and an optional
    note for the tooltip. A dashed vertical line marks the reference value (no difference)."""
    rows = [row for row in rows if row.get("estimate") is not None]
    if not rows:
        return empty_chart(f"{title}: nothing to show yet")
    labels = [clip(str(row["label"]), 3 * LABEL_CHARS) for row in rows]
    left, top, plot_w, step = max(120, max(map(text_width, labels)) + 14), 28, 360, 26
    width, height = left + plot_w + 24, top + step * len(rows) + 40
    width = fit(fit(width, 8, title, bold=True), left, x_label)
    values = [row[key] for row in rows for key in ("estimate", "low", "high") if row.get(key) is not None]
    values += [] if reference is None else [reference]
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or 1.0
    low, high = low - pad, high + pad

    def x(value: float) -> float:
        return left + plot_w * (value - low) / (high - low)

    body = [f'<text x="8" y="14" fill="{INK}" font-weight="600">{escape(title)}</text>']
    axis_y = top + step * len(rows)
    for tick in ticks(low, high):
        body.append(
            f'<line x1="{pt(x(tick))}" x2="{pt(x(tick))}" y1="{top - 4}" y2="{axis_y}" stroke="{GRID}"/>'
            f'<text x="{pt(x(tick))}" y="{axis_y + 14}" text-anchor="middle" fill="{INK}">{tick:g}</text>'
        )
    if reference is not None:
        body.append(
            f'<line x1="{pt(x(reference))}" x2="{pt(x(reference))}" y1="{top - 4}" y2="{axis_y}" '
            f'stroke="{INK}" stroke-dasharray="4 3"/>'
        )
    for index, (row, label) in enumerate(zip(rows, labels, strict=True)):
        body.append(_forest_row(row, label, top + step * index + 12, x, left, digits))
    body.append(
        f'<text x="{pt(left + plot_w / 2)}" y="{axis_y + 32}" text-anchor="middle" fill="{INK}">'
        f"{escape(x_label)}</text>"
    )
    return svg(width, height, title, body)


def _forest_row(row: dict, label: str, y: float, x, left: float, digits: int) -> str:
    has_interval = row.get("low") is not None and row.get("high") is not None
    interval = f"95% CI {fmt(row['low'], digits)} to {fmt(row['high'], digits)}" if has_interval else "no CI"
    tip = f"{row['label']}: {fmt(row['estimate'], digits)}, {interval}"
    tip += f" ({row['note']})" if row.get("note") else ""
    parts = [
        f"<g><title>{escape(tip)}</title>",
        f'<text x="{pt(left - 6)}" y="{pt(y + 4)}" text-anchor="end" fill="{INK}">{escape(label)}</text>',
    ]
    if has_interval:
        a, b = x(row["low"]), x(row["high"])
        parts.append(
            f'<path d="M{pt(a)} {pt(y)}H{pt(b)}M{pt(a)} {pt(y - 5)}v10M{pt(b)} {pt(y - 5)}v10" '
            f'stroke="{BAR}" stroke-width="2" fill="none"/>'
        )
    parts.append(f'<circle cx="{pt(x(row["estimate"]))}" cy="{pt(y)}" r="4.5" fill="{INK}"/></g>')
    return "".join(parts)


# --- the charts of a results page --------------------------------------------------------------


def test_charts(data: dict, method_charts: Callable[[dict], dict]) -> dict:
    """The charts of the test's dashboard: its method's own (method_charts: its Method's charts); with
    artifact marks, "artifacts" pairs each top clip's row with its density strip."""
    charts = method_charts(data)
    if "artifacts" in data:
        top = data["artifacts"]["top"]
        charts["artifacts"] = [(row, density_strip(row, bin_s=data["artifacts"]["bin_s"])) for row in top]
    return charts


def density_strip(row: dict, *, bin_s: float, width: float = 320, height: float = 28) -> str:
    """One clip's agreement over time: a bar per bin as tall as the share of its listeners who marked it."""
    counts, listeners = row["density"], max(row["listeners"], row["markers"], 1)
    label = (
        f"Marks over time: at most {row['peak']} of {listeners} listeners agree, "
        f"at {row['peak_start_s']:.1f}-{row['peak_end_s']:.1f} s"
    )
    step = width / max(len(counts), 1)
    body = [f'<rect x="0" y="0" width="{pt(width)}" height="{pt(height)}" fill="none" stroke="{GRID}"/>']
    for index, count in enumerate(counts):
        if not count:
            continue
        bar = height * count / listeners
        start = index * bin_s
        body.append(
            f'<rect x="{pt(index * step)}" y="{pt(height - bar)}" width="{pt(max(step, 1))}" '
            f'height="{pt(bar)}" fill="{BAR}"><title>{start:.1f}-{start + bin_s:.1f} s: {count} of '
            f"{listeners} listeners</title></rect>"
        )
    return svg(width, height, label, body)


def ranking_chart(ranked: dict) -> str:
    """The forest plot of a pair_results ranking: strengths in rank order with their bootstrap CIs."""
    title = "Ranking: Bradley-Terry strength with ties (Davidson), 95% bootstrap CI over raters"
    if not ranked.get("available"):
        return empty_chart(f"Ranking: {ranked.get('reason') or 'not available'}")
    rows = [
        {
            "label": f"{row['rank']}. {row['label']}",
            "estimate": row["strength"],
            "low": row["low"],
            "high": row["high"],
            "note": row["note"],
        }
        for row in ranked["systems"]
    ]
    return forest_chart(
        rows, title=title, x_label="log-strength (0: the mean, weighted by comparisons)", reference=0
    )


def cmos_charts(data: dict) -> dict[str, str]:
    analysis = data["pairs"]
    if analysis is None:
        return {}
    rows = [
        {
            "label": f"{pair['y_label']} vs {pair['x_label']}",
            "estimate": pair["after"]["mean"],
            "low": pair["after"]["ci_low"],
            "high": pair["after"]["ci_high"],
            "note": f"n = {pair['after']['n']}",
        }
        for pair in analysis["pairs"]
    ]
    return {
        "cmos": forest_chart(
            rows,
            title="CMOS of Y over X after screening, 95% two-way bootstrap CI",
            x_label="CMOS (-3 to +3); above 0: Y is better",
            reference=0,
        ),
        "ranking": ranking_chart(analysis["ranking"]),
    }


def preference_charts(data: dict) -> dict[str, str]:
    analysis = data["pairs"]
    if analysis is None:
        return {}
    rows = []
    for pair in analysis["pairs"]:
        share = pair["after"]["decisive_shares"]["y"]
        rows.append(
            {
                "label": f"{pair['y_label']} over {pair['x_label']}",
                "estimate": share["share"],
                "low": share["low"],
                "high": share["high"],
                "note": f"{share['successes']} of {share['n']} answers choosing a clip",
            }
        )
    return {
        "preference": forest_chart(
            rows,
            title="Share preferring Y among answers choosing a clip, after screening, Wilson 95% CI",
            x_label="share preferring Y (0.5: no preference either way)",
            reference=0.5,
        ),
        "ranking": ranking_chart(analysis["ranking"]),
    }


def mos_charts(data: dict) -> dict[str, str]:
    """The MOS and distribution charts of annotations.results.test_results (main dimension)."""
    main = data["main_dimension"]
    rows = [row for row in data["conditions"] if row["dimension"] == main]
    bars = []
    for row in rows:
        mos, half = row["after"]["mean"], row["after"]["crowdmos"]["ci95"]
        low, high = (mos - half, mos + half) if mos is not None and half is not None else (None, None)
        bars.append({"label": f"{row['system']}\n{row['style']}", "mos": mos, "low": low, "high": high})
    return {
        "mos": mos_chart(
            bars,
            title=f"MOS ({main}) after screening, 95% CrowdMOS CI",
            y_min=data["scale_values"][0],
            y_max=data["scale_values"][-1],
        ),
        "distribution": distribution_chart(
            [
                {"label": f"{row['system']} · {row['style']}", "counts": row["after"]["distribution"]}
                for row in rows
            ],
            title=f"Scores per condition ({main}, after screening)",
            points=data["scale_values"],
        ),
    }


def mushra_charts(data: dict) -> dict[str, str]:
    """Mean MUSHRA score per condition (hidden reference and anchor included) with its 95% t interval."""
    rows = [
        {
            "label": c["label"],
            "estimate": c["mean"],
            "low": c["low"],
            "high": c["high"],
            "note": f"n = {c['n']}",
        }
        for c in data["analysis"]["conditions"]
    ]
    chart = forest_chart(
        rows,
        title="MUSHRA mean score after post-screening, 95% t interval (ITU-R BS.1534-3)",
        x_label="score (0 bad to 100 excellent)",
        digits=1,
    )
    return {"mushra": chart}


def intelligibility_charts(data: dict) -> dict[str, str]:
    """Human WER per condition with its bootstrap CI, beside the ASR round trip's."""
    rows = []
    for c in data["analysis"]["conditions"]:
        for who, key in (("listeners", "wer"), ("ASR", "asr_wer")):
            rate = c[key]
            row = {"label": f"{c['label']} ({who})", "estimate": rate["rate"], "low": rate["low"]}
            rows.append(row | {"high": rate["high"], "note": f"n = {rate['n']}"})
    chart = forest_chart(
        rows, title="WER per condition: listeners and ASR, 95% bootstrap CI", x_label="word error rate"
    )
    return {"intelligibility": chart}


def run_charts(data: dict) -> dict:
    """The pipeline's run charts (WER histograms, latency percentiles) and the DNSMOS vs human MOS scatter."""
    return {
        **pipeline_run_charts(data),
        # One scatter per listening test, beside its block of numbers (runs.dnsmos_vs_human).
        "dnsmos": [
            (
                block,
                scatter_chart(
                    block["points"],
                    title=f"DNSMOS P.808 vs human MOS in {block['test']}, per sample",
                    x_label="DNSMOS P.808",
                    y_label=f"Human MOS ({block['dimension']}, {block['scale']})",
                    # DNSMOS P.808 predicts an ACR MOS on 1-5; the human axis spans the test's scale.
                    x_range=DNSMOS_RANGE,
                    y_range=block["scale_range"],
                ),
            )
            for block in data["dnsmos"]["tests"]
        ],
    }
