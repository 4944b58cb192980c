"""Server-side SVG charts: small pure functions from numbers to an SVG string (no JavaScript, no CDN).

Every label is escaped here, so callers may mark the result safe. Colours come from one palette
readable in greyscale print; each mark carries a <title> with its exact numbers.
"""

import math
from collections.abc import Callable, Sequence
from html import escape

# Lowest (bad) to highest (excellent) score: a diverging palette that survives greyscale printing;
# scales with another number of points take evenly spaced colours along it.
SCORE_COLOURS = ("#b2182b", "#ef8a62", "#d9d9d9", "#67a9cf", "#2166ac")
DNSMOS_RANGE = (1.0, 5.0)
BAR = "#4a78b0"
INK = "#1d1d1f"
GRID = "#d0d4da"
FONT_SIZE = 11
FONT = f'font-family="system-ui, sans-serif" font-size="{FONT_SIZE}"'
# Average advance of a character in font-size units, on the wide side for system-ui, so that a
# title or label measured with it fits in the box drawn for it.
CHAR_WIDTH, BOLD_CHAR_WIDTH = 0.62, 0.68
# Charts fill their column (width 100%, height from the viewBox) up to this many times their
# viewBox size: 11-unit text then reads at up to about 18 px on a wide screen.
MAX_SCALE = 1.6
LABEL_CHARS = 24  # longer labels under bars are cut with an ellipsis


def _n(value: float) -> str:
    """A coordinate with one decimal, without trailing zeros."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def text_width(text: str, *, bold: bool = False) -> float:
    """An upper estimate of the width of text at the charts' font size, in viewBox units."""
    return len(text) * FONT_SIZE * (BOLD_CHAR_WIDTH if bold else CHAR_WIDTH)


def _fit(width: float, x: float, text: str, *, bold: bool = False) -> float:
    """The chart width needed so that text starting at x still fits, with a small margin."""
    return max(width, x + text_width(text, bold=bold) + 8)


def _clip(text: str, limit: int) -> str:
    """A label cut to limit characters with an ellipsis; the mark's <title> keeps the full text."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg(width: float, height: float, label: str, body: list[str]) -> str:
    """Responsive: as wide as its container up to MAX_SCALE × the viewBox, keeping its aspect ratio."""
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_n(width)} {_n(height)}" '
        f'width="100%" style="max-width: {_n(width * MAX_SCALE)}px; height: auto" '
        f'preserveAspectRatio="xMidYMid meet" role="img" aria-label="{escape(label)}" {FONT}>'
    )
    return head + f"<title>{escape(label)}</title>" + "".join(body) + "</svg>"


def _fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def empty_chart(message: str, width: int = 360) -> str:
    width = _fit(width, 8, message)
    return _svg(width, 40, message, [f'<text x="8" y="24" fill="{INK}">{escape(message)}</text>'])


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
    labels = [[_clip(part, LABEL_CHARS) for part in str(bar["label"]).split("\n")[:2]] for bar in bars]
    widest = max(text_width(part) for parts in labels for part in parts)
    left, top, plot_h, step = 36, 24, 180, max(84, widest + 12)
    width, height = left + step * len(bars) + 16, top + plot_h + 48
    width = _fit(width, left, title, bold=True)

    def y(value: float) -> float:
        value = min(max(value, y_min), y_max)
        return top + plot_h * (1 - (value - y_min) / (y_max - y_min))

    body = [f'<text x="{left}" y="14" fill="{INK}" font-weight="600">{escape(title)}</text>']
    for tick in range(int(y_min), int(y_max) + 1):
        body.append(
            f'<line x1="{left}" x2="{_n(width - 8)}" y1="{_n(y(tick))}" y2="{_n(y(tick))}" stroke="{GRID}"/>'
            f'<text x="{left - 6}" y="{_n(y(tick) + 4)}" text-anchor="end" fill="{INK}">{tick}</text>'
        )
    for index, (bar, parts) in enumerate(zip(bars, labels, strict=True)):
        x = left + step * index + (step - 56) / 2
        body.append(_mos_bar(bar, x, y, y_min))
        for line, part in enumerate(parts):
            body.append(
                f'<text x="{_n(x + 28)}" y="{_n(top + plot_h + 16 + 13 * line)}" text-anchor="middle" '
                f'fill="{INK}">{escape(part)}</text>'
            )
    return _svg(width, height, title, body)


def _mos_bar(bar: dict, x: float, y, y_min: float) -> str:
    tip = f"{bar['label']}: MOS {_fmt(bar['mos'])}, 95% CI {_fmt(bar.get('low'))}–{_fmt(bar.get('high'))}"
    parts = [
        f"<g><title>{escape(tip)}</title>"
        f'<rect x="{_n(x)}" y="{_n(y(bar["mos"]))}" width="56" '
        f'height="{_n(y(y_min) - y(bar["mos"]))}" fill="{BAR}"/>'
    ]
    if bar.get("low") is not None and bar.get("high") is not None:
        mid, low, high = x + 28, y(bar["low"]), y(bar["high"])
        parts.append(
            f'<path d="M{_n(mid)} {_n(low)}V{_n(high)}'
            f'M{_n(mid - 8)} {_n(low)}h16M{_n(mid - 8)} {_n(high)}h16" '
            f'stroke="{INK}" stroke-width="1.5" fill="none"/>'
        )
    parts.append(
        f'<text x="{_n(x + 28)}" y="{_n(y(y_min) - 6)}" text-anchor="middle" fill="#fff">'
        f"{_fmt(bar['mos'])}</text></g>"
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
    labels = [_clip(str(row["label"]), 2 * LABEL_CHARS) for row in rows]
    left, top, bar_w, step = max(150, max(map(text_width, labels)) + 14), 40, 380, 26
    width, height = left + bar_w + 16, top + step * len(rows) + 8
    width = _fit(width, 8, title, bold=True)
    body = [f'<text x="8" y="14" fill="{INK}" font-weight="600">{escape(title)}</text>']
    colours = score_colours(len(points))
    # A long scale (0-100) keeps only its ends and middle in the legend.
    legend = list(zip(points, colours, strict=True))
    if len(legend) > 11:
        legend = [legend[0], legend[len(legend) // 2], legend[-1]]
    for index, (score, colour) in enumerate(legend):
        x = left + index * 56
        body.append(
            f'<rect x="{_n(x)}" y="20" width="10" height="10" fill="{colour}"/>'
            f'<text x="{_n(x + 14)}" y="29" fill="{INK}">{score}</text>'
        )
    for index, (row, label) in enumerate(zip(rows, labels, strict=True)):
        y, total, x = top + step * index, sum(row["counts"]), float(left)
        body.append(
            f'<text x="{_n(left - 6)}" y="{y + 14}" text-anchor="end" fill="{INK}">{escape(label)}</text>'
        )
        for score, count, colour in zip(points, row["counts"], colours, strict=True):
            w = bar_w * count / total
            tip = f"{row['label']}: score {score} × {count} ({100 * count / total:.1f}%)"
            body.append(
                f'<rect x="{_n(x)}" y="{y}" width="{_n(w)}" height="18" fill="{colour}">'
                f"<title>{escape(tip)}</title></rect>"
            )
            x += w
    return _svg(width, height, title, body)


def scatter_chart(
    points: Sequence[tuple[float, float, str]],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_range: tuple[float, float],
    y_range: tuple[float, float],
) -> str:
    """Points (x, y, label) in a square plot with a y = x diagonal when both axes share a range."""
    points = [p for p in points if p[0] is not None and p[1] is not None]
    if not points:
        return empty_chart(f"{title}: no points yet")
    left, top, size = 44, 24, 240
    (x0, x1), (y0, y1) = x_range, y_range
    width = _fit(
        _fit(left + size + 16, left, title, bold=True), left + size / 2 - text_width(x_label) / 2, x_label
    )

    def px(v: float) -> float:
        return left + size * (min(max(v, x0), x1) - x0) / (x1 - x0)

    def py(v: float) -> float:
        return top + size * (1 - (min(max(v, y0), y1) - y0) / (y1 - y0))

    body = [f'<text x="{left}" y="14" fill="{INK}" font-weight="600">{escape(title)}</text>']
    body += _scatter_axes(px, py, x_range, y_range, (left, top, size), x_label, y_label)
    for x, y, label in points:
        tip = f"{label}: {x:.2f}, {y:.2f}"
        body.append(
            f'<circle cx="{_n(px(x))}" cy="{_n(py(y))}" r="4" fill="{BAR}" fill-opacity=".7">'
            f"<title>{escape(tip)}</title></circle>"
        )
    return _svg(width, top + size + 40, title, body)


def _scatter_axes(px, py, x_range, y_range, box, x_label: str, y_label: str) -> list[str]:
    (x0, x1), (y0, y1), (left, top, size) = x_range, y_range, box
    parts = [f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="{GRID}"/>']
    if x_range == y_range:
        parts.append(
            f'<line x1="{px(x0)}" y1="{py(y0)}" x2="{px(x1)}" y2="{py(y1)}" '
            f'stroke="{GRID}" stroke-dasharray="4 3"/>'
        )
    for v in (x0, (x0 + x1) / 2, x1):
        parts.append(f'<text x="{_n(px(v))}" y="{top + size + 14}" text-anchor="middle">{v:g}</text>')
    for v in (y0, (y0 + y1) / 2, y1):
        parts.append(f'<text x="{left - 6}" y="{_n(py(v) + 4)}" text-anchor="end">{v:g}</text>')
    parts.append(
        f'<text x="{left + size / 2}" y="{top + size + 30}" text-anchor="middle">{escape(x_label)}</text>'
        f'<text transform="translate(12 {top + size / 2}) rotate(-90)" text-anchor="middle">'
        f"{escape(y_label)}</text>"
    )
    return parts


def histogram_chart(counts: Sequence[int], edges: Sequence[float], *, title: str, x_label: str) -> str:
    """Bars of counts between consecutive edges (len(edges) == len(counts) + 1)."""
    if not sum(counts):
        return empty_chart(f"{title}: no values yet")
    left, top, plot_h, bar_w = 36, 36, 140, 34
    width, height = left + bar_w * len(counts) + 16, top + plot_h + 40
    width = _fit(_fit(width, left, title, bold=True), left, x_label)
    peak = max(counts)
    body = [f'<text x="{left}" y="14" fill="{INK}" font-weight="600">{escape(title)}</text>']
    for index, count in enumerate(counts):
        h = plot_h * count / peak
        x = left + bar_w * index
        tip = f"{edges[index]:g}–{edges[index + 1]:g}: {count}"
        body.append(
            f'<rect x="{x + 2}" y="{_n(top + plot_h - h)}" width="{bar_w - 4}" height="{_n(h)}" fill="{BAR}">'
            f"<title>{escape(tip)}</title></rect>"
            f'<text x="{x + bar_w / 2}" y="{_n(top + plot_h - h - 3)}" text-anchor="middle">{count}</text>'
            f'<text x="{x}" y="{top + plot_h + 14}" text-anchor="middle">{edges[index]:g}</text>'
        )
    body.append(
        f'<text x="{left + bar_w * len(counts)}" y="{top + plot_h + 14}" text-anchor="middle">'
        f"{edges[-1]:g}</text>"
        f'<text x="{left}" y="{top + plot_h + 32}">{escape(x_label)}</text>'
    )
    return _svg(width, height, title, body)


def percentile_chart(rows: Sequence[dict], *, title: str, unit: str = "ms") -> str:
    """One line per row from P50 to P99 with marks at P50 (dot), P90 and P99 (ticks) and max (cross)."""
    rows = [row for row in rows if row.get("p50") is not None]
    if not rows:
        return empty_chart(f"{title}: no values yet")
    labels = [_clip(str(row["label"]), 2 * LABEL_CHARS) for row in rows]
    legend = f"dot P50 · ticks P90, P99 · cross max ({unit})"
    left, top, plot_w, step = max(120, max(map(text_width, labels)) + 14), 40, 360, 28
    width, height = left + plot_w + 24, top + step * len(rows) + 24
    width = _fit(_fit(width, 8, title, bold=True), 8, legend)
    top_value = max(row["max"] for row in rows) or 1

    def x(value: float) -> float:
        return left + plot_w * value / top_value

    body = [
        f'<text x="8" y="14" fill="{INK}" font-weight="600">{escape(title)}</text>',
        f'<text x="8" y="30" fill="{INK}">{escape(legend)}</text>',
    ]
    for index, (row, label) in enumerate(zip(rows, labels, strict=True)):
        y = top + step * index + 10
        tip = (
            f"{row['label']}: P50 {row['p50']:.1f}, P90 {row['p90']:.1f}, P99 {row['p99']:.1f}, "
            f"max {row['max']:.1f} {unit}"
        )
        body.append(
            f"<g><title>{escape(tip)}</title>"
            f'<text x="{_n(left - 6)}" y="{y + 4}" text-anchor="end">{escape(label)}</text>'
            f'<line x1="{_n(x(row["p50"]))}" x2="{_n(x(row["p99"]))}" y1="{y}" y2="{y}" '
            f'stroke="{BAR}" stroke-width="3"/>'
            f'<circle cx="{_n(x(row["p50"]))}" cy="{y}" r="4" fill="{BAR}"/>'
            f'<path d="M{_n(x(row["p90"]))} {y - 6}v12M{_n(x(row["p99"]))} {y - 6}v12" stroke="{INK}"/>'
            f'<path d="M{_n(x(row["max"]) - 4)} {y - 4}l8 8m0 -8l-8 8" stroke="{INK}"/></g>'
        )
    axis_y = top + step * len(rows) + 4
    body.append(
        f'<text x="{_n(left)}" y="{axis_y + 12}">0</text><text x="{_n(left + plot_w)}" y="{axis_y + 12}" '
        f'text-anchor="end">{top_value:.0f} {escape(unit)}</text>'
    )
    return _svg(width, height, title, body)


def _ticks(low: float, high: float) -> list[float]:
    """Four to seven round tick values within low..high."""
    raw = (high - low) / 6
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [round(first + k * step, 10) for k in range(int((high - first) / step + 1e-9) + 1)]


def forest_chart(
    rows: Sequence[dict], *, title: str, x_label: str, reference: float | None = None, digits: int = 2
) -> str:
    """One line per row: a point at the estimate and a horizontal interval from low to high, in the order
    given; rows are dicts of label, estimate, low and high (None without an interval) and an optional
    note for the tooltip. A dashed vertical line marks the reference value (no difference)."""
    rows = [row for row in rows if row.get("estimate") is not None]
    if not rows:
        return empty_chart(f"{title}: nothing to show yet")
    labels = [_clip(str(row["label"]), 3 * LABEL_CHARS) for row in rows]
    left, top, plot_w, step = max(120, max(map(text_width, labels)) + 14), 28, 360, 26
    width, height = left + plot_w + 24, top + step * len(rows) + 40
    width = _fit(_fit(width, 8, title, bold=True), left, x_label)
    values = [row[key] for row in rows for key in ("estimate", "low", "high") if row.get(key) is not None]
    values += [] if reference is None else [reference]
    low, high = min(values), max(values)
    pad = (high - low) * 0.08 or 1.0
    low, high = low - pad, high + pad

    def x(value: float) -> float:
        return left + plot_w * (value - low) / (high - low)

    body = [f'<text x="8" y="14" fill="{INK}" font-weight="600">{escape(title)}</text>']
    axis_y = top + step * len(rows)
    for tick in _ticks(low, high):
        body.append(
            f'<line x1="{_n(x(tick))}" x2="{_n(x(tick))}" y1="{top - 4}" y2="{axis_y}" stroke="{GRID}"/>'
            f'<text x="{_n(x(tick))}" y="{axis_y + 14}" text-anchor="middle" fill="{INK}">{tick:g}</text>'
        )
    if reference is not None:
        body.append(
            f'<line x1="{_n(x(reference))}" x2="{_n(x(reference))}" y1="{top - 4}" y2="{axis_y}" '
            f'stroke="{INK}" stroke-dasharray="4 3"/>'
        )
    for index, (row, label) in enumerate(zip(rows, labels, strict=True)):
        body.append(_forest_row(row, label, top + step * index + 12, x, left, digits))
    body.append(
        f'<text x="{_n(left + plot_w / 2)}" y="{axis_y + 32}" text-anchor="middle" fill="{INK}">'
        f"{escape(x_label)}</text>"
    )
    return _svg(width, height, title, body)


def _forest_row(row: dict, label: str, y: float, x, left: float, digits: int) -> str:
    has_interval = row.get("low") is not None and row.get("high") is not None
    interval = (
        f"95% CI {_fmt(row['low'], digits)} to {_fmt(row['high'], digits)}" if has_interval else "no CI"
    )
    tip = f"{row['label']}: {_fmt(row['estimate'], digits)}, {interval}"
    tip += f" ({row['note']})" if row.get("note") else ""
    parts = [
        f"<g><title>{escape(tip)}</title>",
        f'<text x="{_n(left - 6)}" y="{_n(y + 4)}" text-anchor="end" fill="{INK}">{escape(label)}</text>',
    ]
    if has_interval:
        a, b = x(row["low"]), x(row["high"])
        parts.append(
            f'<path d="M{_n(a)} {_n(y)}H{_n(b)}M{_n(a)} {_n(y - 5)}v10M{_n(b)} {_n(y - 5)}v10" '
            f'stroke="{BAR}" stroke-width="2" fill="none"/>'
        )
    parts.append(f'<circle cx="{_n(x(row["estimate"]))}" cy="{_n(y)}" r="4.5" fill="{INK}"/></g>')
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
    body = [f'<rect x="0" y="0" width="{_n(width)}" height="{_n(height)}" fill="none" stroke="{GRID}"/>']
    for index, count in enumerate(counts):
        if not count:
            continue
        bar = height * count / listeners
        start = index * bin_s
        body.append(
            f'<rect x="{_n(index * step)}" y="{_n(height - bar)}" width="{_n(max(step, 1))}" '
            f'height="{_n(bar)}" fill="{BAR}"><title>{start:.1f}-{start + bin_s:.1f} s: {count} of '
            f"{listeners} listeners</title></rect>"
        )
    return _svg(width, height, label, body)


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
    """WER histograms per style, the latency percentile plot and the DNSMOS vs human MOS scatter."""
    wer = {
        f"{row['style']} ({row['language']})": histogram_chart(
            row["histogram"],
            data["wer_edges"],
            title=f"Per-utterance WER, {row['style']} ({row['language']})",
            x_label="WER (values above 1 in the last bar)",
        )
        for row in data["wer"]
    }
    return {
        "wer": wer,
        "latency": percentile_chart(data["latency"], title="Latency per stage (warm-up excluded)"),
        # One scatter per listening test, beside its block of numbers (run_analysis.dnsmos_vs_human).
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
