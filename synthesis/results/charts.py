"""Server-side SVG charts: small pure functions from numbers to an SVG string (no JavaScript, no CDN).

The drawing kit (frame, text measure, empty chart) and the charts of pipeline measurements: the
per-utterance WER histogram, latency percentiles, scatter plots. The listening tests' own charts
(annotations.results.charts) are drawn with the same kit. Every label is escaped here, so callers
may mark the result safe. Colours come from one palette readable in greyscale print; each mark
carries a <title> with its exact numbers.
"""

import math
from collections.abc import Sequence
from html import escape

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


def pt(value: float) -> str:
    """A coordinate with one decimal, without trailing zeros."""
    return f"{value:.1f}".rstrip("0").rstrip(".")


def text_width(text: str, *, bold: bool = False) -> float:
    """An upper estimate of the width of text at the charts' font size, in viewBox units."""
    return len(text) * FONT_SIZE * (BOLD_CHAR_WIDTH if bold else CHAR_WIDTH)


def fit(width: float, x: float, text: str, *, bold: bool = False) -> float:
    """The chart width needed so that text starting at x still fits, with a small margin."""
    return max(width, x + text_width(text, bold=bold) + 8)


def clip(text: str, limit: int) -> str:
    """A label cut to limit characters with an ellipsis; the mark's <title> keeps the full text."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def svg(width: float, height: float, label: str, body: list[str]) -> str:
    """Responsive: as wide as its container up to MAX_SCALE × the viewBox, keeping its aspect ratio."""
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {pt(width)} {pt(height)}" '
        f'width="100%" style="max-width: {pt(width * MAX_SCALE)}px; height: auto" '
        f'preserveAspectRatio="xMidYMid meet" role="img" aria-label="{escape(label)}" {FONT}>'
    )
    return head + f"<title>{escape(label)}</title>" + "".join(body) + "</svg>"


def fmt(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def empty_chart(message: str, width: int = 360) -> str:
    width = fit(width, 8, message)
    return svg(width, 40, message, [f'<text x="8" y="24" fill="{INK}">{escape(message)}</text>'])


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
    width = fit(
        fit(left + size + 16, left, title, bold=True), left + size / 2 - text_width(x_label) / 2, x_label
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
            f'<circle cx="{pt(px(x))}" cy="{pt(py(y))}" r="4" fill="{BAR}" fill-opacity=".7">'
            f"<title>{escape(tip)}</title></circle>"
        )
    return svg(width, top + size + 40, title, body)


def _scatter_axes(px, py, x_range, y_range, box, x_label: str, y_label: str) -> list[str]:
    (x0, x1), (y0, y1), (left, top, size) = x_range, y_range, box
    parts = [f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="{GRID}"/>']
    if x_range == y_range:
        parts.append(
            f'<line x1="{px(x0)}" y1="{py(y0)}" x2="{px(x1)}" y2="{py(y1)}" '
            f'stroke="{GRID}" stroke-dasharray="4 3"/>'
        )
    for v in (x0, (x0 + x1) / 2, x1):
        parts.append(f'<text x="{pt(px(v))}" y="{top + size + 14}" text-anchor="middle">{v:g}</text>')
    for v in (y0, (y0 + y1) / 2, y1):
        parts.append(f'<text x="{left - 6}" y="{pt(py(v) + 4)}" text-anchor="end">{v:g}</text>')
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
    width = fit(fit(width, left, title, bold=True), left, x_label)
    peak = max(counts)
    body = [f'<text x="{left}" y="14" fill="{INK}" font-weight="600">{escape(title)}</text>']
    for index, count in enumerate(counts):
        h = plot_h * count / peak
        x = left + bar_w * index
        tip = f"{edges[index]:g}–{edges[index + 1]:g}: {count}"
        body.append(
            f'<rect x="{x + 2}" y="{pt(top + plot_h - h)}" width="{bar_w - 4}" height="{pt(h)}" fill="{BAR}">'
            f"<title>{escape(tip)}</title></rect>"
            f'<text x="{x + bar_w / 2}" y="{pt(top + plot_h - h - 3)}" text-anchor="middle">{count}</text>'
            f'<text x="{x}" y="{top + plot_h + 14}" text-anchor="middle">{edges[index]:g}</text>'
        )
    body.append(
        f'<text x="{left + bar_w * len(counts)}" y="{top + plot_h + 14}" text-anchor="middle">'
        f"{edges[-1]:g}</text>"
        f'<text x="{left}" y="{top + plot_h + 32}">{escape(x_label)}</text>'
    )
    return svg(width, height, title, body)


def percentile_chart(rows: Sequence[dict], *, title: str, unit: str = "ms") -> str:
    """One line per row from P50 to P99 with marks at P50 (dot), P90 and P99 (ticks) and max (cross)."""
    rows = [row for row in rows if row.get("p50") is not None]
    if not rows:
        return empty_chart(f"{title}: no values yet")
    labels = [clip(str(row["label"]), 2 * LABEL_CHARS) for row in rows]
    legend = f"dot P50 · ticks P90, P99 · cross max ({unit})"
    left, top, plot_w, step = max(120, max(map(text_width, labels)) + 14), 40, 360, 28
    width, height = left + plot_w + 24, top + step * len(rows) + 24
    width = fit(fit(width, 8, title, bold=True), 8, legend)
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
            f'<text x="{pt(left - 6)}" y="{y + 4}" text-anchor="end">{escape(label)}</text>'
            f'<line x1="{pt(x(row["p50"]))}" x2="{pt(x(row["p99"]))}" y1="{y}" y2="{y}" '
            f'stroke="{BAR}" stroke-width="3"/>'
            f'<circle cx="{pt(x(row["p50"]))}" cy="{y}" r="4" fill="{BAR}"/>'
            f'<path d="M{pt(x(row["p90"]))} {y - 6}v12M{pt(x(row["p99"]))} {y - 6}v12" stroke="{INK}"/>'
            f'<path d="M{pt(x(row["max"]) - 4)} {y - 4}l8 8m0 -8l-8 8" stroke="{INK}"/></g>'
        )
    axis_y = top + step * len(rows) + 4
    body.append(
        f'<text x="{pt(left)}" y="{axis_y + 12}">0</text><text x="{pt(left + plot_w)}" y="{axis_y + 12}" '
        f'text-anchor="end">{top_value:.0f} {escape(unit)}</text>'
    )
    return svg(width, height, title, body)


def ticks(low: float, high: float) -> list[float]:
    """Four to seven round tick values within low..high."""
    raw = (high - low) / 6
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step - 1e-9) * step
    return [round(first + k * step, 10) for k in range(int((high - first) / step + 1e-9) + 1)]


def run_charts(data: dict) -> dict:
    """A run's WER histograms per style and its latency percentile plot (run_analysis.run_results)."""
    wer = {
        f"{row['style']} ({row['language']})": histogram_chart(
            row["histogram"],
            data["wer_edges"],
            title=f"Per-utterance WER, {row['style']} ({row['language']})",
            x_label="WER (values above 1 in the last bar)",
        )
        for row in data["wer"]
    }
    latency = percentile_chart(data["latency"], title="Latency per stage (warm-up excluded)")
    return {"wer": wer, "latency": latency}
