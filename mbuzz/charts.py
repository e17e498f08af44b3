"""Small SVG charts for reports: no JavaScript, no build step, readable in any browser.

The one copy: the demo's HTML report (mbuzz/demo/run.py) and the dashboard
(ingest_api/dashboard/charts.py) both draw with these."""

from __future__ import annotations

from html import escape

PALETTE = [
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#bab0ac",
    "#17becf",
    "#393b79",
]


def grouped_bars(
    categories: list[str], series: dict[str, list[float]], title: str, width: int = 900, bar_height: int = 6
) -> str:
    """Horizontal grouped bar chart: one group per category, one bar per series."""
    names = list(series)
    peak = max((v for values in series.values() for v in values), default=0) or 1
    label_w, legend_h, gap = 150, 22 * ((len(names) + 3) // 4), 10
    group_h = bar_height * len(names) + gap
    height = legend_h + 30 + group_h * len(categories)
    plot_w = width - label_w - 70
    out = [
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
    ]
    for i, name in enumerate(names):
        x, y = 10 + (i % 4) * 200, 14 + (i // 4) * 22
        out.append(
            f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{x + 18}" y="{y}">{escape(name)}</text>'
        )
    for c, category in enumerate(categories):
        y0 = legend_h + 20 + c * group_h
        out.append(f'<text x="{label_w - 8}" y="{y0 + group_h / 2}" text-anchor="end">{escape(category)}</text>')
        for s, name in enumerate(names):
            value = series[name][c]
            w = plot_w * value / peak
            y = y0 + s * bar_height
            out.append(
                f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_height - 1}" '
                f'fill="{PALETTE[s % len(PALETTE)]}"><title>{escape(name)} · {escape(category)}: {value:,.1f}</title></rect>'
            )
    out.append("</svg>")
    return "".join(out)


def bars(
    labels: list[str],
    values: list[float],
    title: str,
    width: int = 700,
    fmt: str = "{:,.1f}",
    errors: list[tuple[float, float] | None] | None = None,
) -> str:
    """Simple horizontal bars with value labels; `errors` (lower, upper) per bar draws its
    interval as an error bar (None: that bar has none)."""
    errors = errors or [None] * len(values)
    peak = max([*values, *(e[1] for e in errors if e)], default=0) or 1
    label_w, row_h = 220, 22
    height = row_h * len(labels) + 10
    plot_w = width - label_w - (190 if any(errors) else 90)
    out = [
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="12">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(zip(labels, values)):
        y = 5 + i * row_h
        w = max(plot_w * value / peak, 0)
        text = fmt.format(value)
        whisker, right = "", w
        if errors[i]:
            lo, hi = (max(plot_w * e / peak, 0) for e in errors[i])
            text += f" ({fmt.format(errors[i][0])}–{fmt.format(errors[i][1])})"
            whisker = (
                f'<g class="error-bar" stroke="#222" stroke-width="1.2"><title>95% interval: '
                f"{escape(fmt.format(errors[i][0]))} to {escape(fmt.format(errors[i][1]))}</title>"
                f'<line x1="{label_w + lo:.1f}" y1="{y + 10.5}" x2="{label_w + hi:.1f}" y2="{y + 10.5}"/>'
                f'<line x1="{label_w + lo:.1f}" y1="{y + 6}" x2="{label_w + lo:.1f}" y2="{y + 15}"/>'
                f'<line x1="{label_w + hi:.1f}" y1="{y + 6}" x2="{label_w + hi:.1f}" y2="{y + 15}"/></g>'
            )
            right = max(w, hi)
        out.append(
            f'<text x="{label_w - 8}" y="{y + 14}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="15" fill="{PALETTE[0]}"/>{whisker}'
            f'<text x="{label_w + right + 6}" y="{y + 14}">{escape(text)}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def lines(
    periods: list[str],
    series: dict[str, list[float]],
    title: str,
    width: int = 900,
    height: int = 260,
    fmt: str = "{:,.1f}",
) -> str:
    """A line chart: one line per series over the periods (x), a legend, value tooltips on the points."""
    names = list(series)
    peak = max((v for values in series.values() for v in values), default=0) or 1
    legend_h = 22 * ((len(names) + 3) // 4)
    left, right, top, bottom = 60, 20, legend_h + 16, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(periods) - 1, 1)
    out = [
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="12" class="line-chart">',
        f"<title>{escape(title)}</title>",
    ]
    for i, name in enumerate(names):
        x, y = 10 + (i % 4) * 200, 14 + (i // 4) * 22
        out.append(
            f'<rect x="{x}" y="{y - 10}" width="12" height="12" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{x + 18}" y="{y}">{escape(name)}</text>'
        )
    for frac in (0, 0.5, 1):
        y = top + plot_h * (1 - frac)
        out.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{escape(fmt.format(peak * frac))}</text>'
        )
    ticks = max(1, len(periods) // 8)
    for p, period in enumerate(periods):
        last = p == len(periods) - 1 and (ticks == 1 or p % ticks >= ticks / 2)  # no overlap with the tick before
        if p % ticks == 0 or last:
            out.append(
                f'<text x="{left + p * step:.1f}" y="{height - 12}" text-anchor="middle">{escape(period)}</text>'
            )
    for s, name in enumerate(names):
        colour = PALETTE[s % len(PALETTE)]
        points = [(left + p * step, top + plot_h * (1 - v / peak)) for p, v in enumerate(series[name])]
        out.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" data-series="{escape(name)}" points="'
            + " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            + '"/>'
        )
        for (x, y), period, value in zip(points, periods, series[name]):
            out.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"><title>{escape(name)} · '
                f"{escape(period)}: {escape(fmt.format(value))}</title></circle>"
            )
    out.append("</svg>")
    return "".join(out)
