"""Charts of the dashboard: inline SVG, no JavaScript, built on mbuzz's small chart module.

`bars` and `grouped_bars` come from `mbuzz.charts` (the one copy, shared with the demo report); the
daily column chart for usage is added here. Every chart has a title for screen
readers and sits next to a table with the same numbers.
"""

from __future__ import annotations

from datetime import date
from html import escape

from markupsafe import Markup

from mbuzz import charts as base

PALETTE = base.PALETTE


def bars(
    labels: list[str],
    values: list[float],
    title: str,
    fmt: str = "{:,.2f}",
    errors: list[tuple[float, float] | None] | None = None,
) -> Markup:
    return Markup(base.bars(labels, values, title, fmt=fmt, errors=errors))


def grouped_bars(categories: list[str], series: dict[str, list[float]], title: str) -> Markup:
    return Markup(base.grouped_bars(categories, series, title))


def lines(periods: list[str], series: dict[str, list[float]], title: str) -> Markup:
    return Markup(base.lines(periods, series, title))


def daily_columns(
    days: list[date], series: dict[str, list[int]], title: str, width: int = 720, height: int = 220
) -> Markup:
    """Stacked columns, one per day, one colour per series, with a legend and value tooltips."""
    totals = [sum(values[i] for values in series.values()) for i in range(len(days))]
    peak = max(totals, default=0) or 1
    left, bottom, top = 44, 24, 26
    plot_w, plot_h = width - left - 10, height - bottom - top
    step = plot_w / max(len(days), 1)
    col_w = max(step * 0.8, 1)
    out = [
        f'<svg role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" width="100%" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
    ]
    for i, name in enumerate(series):
        x = left + i * 90
        out.append(
            f'<rect x="{x}" y="6" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>'
            f'<text x="{x + 14}" y="15">{escape(name)}</text>'
        )
    out.append(
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak:,}</text>'
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>'
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#999"/>'
    )
    label_every = max(len(days) // 6, 1)
    for d, day in enumerate(days):
        x = left + d * step + (step - col_w) / 2
        y = top + plot_h
        for s, (name, values) in enumerate(series.items()):
            h = plot_h * values[d] / peak
            if h <= 0:
                continue
            y -= h
            out.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{col_w:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[s % len(PALETTE)]}"><title>{day.isoformat()} · {escape(name)}: '
                f"{values[d]:,}</title></rect>"
            )
        if d % label_every == 0:
            out.append(
                f'<text x="{x + col_w / 2:.1f}" y="{height - 6}" text-anchor="middle">{day.strftime("%b %d")}</text>'
            )
    out.append("</svg>")
    return Markup("".join(out))
