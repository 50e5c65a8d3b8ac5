"""Server-side SVG charts for the report pages and PDFs: bars by month or day, with threshold bands.

Plain SVG markup (no scripts, no external resources) so that WeasyPrint, e-mail clients and browsers
draw it the same way. Every text is escaped; the size is fixed in the viewBox and scales with the page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 28, 44
BAR_COLOUR = "#3b6ea8"
GRID_COLOUR = "#d9dee5"
TEXT_COLOUR = "#333"


@dataclass(frozen=True)
class Band:
    """A coloured background between two values (e.g. red below the 60 % involvement threshold)."""

    low: float
    high: float
    colour: str
    label: str = ""


def _nice_max(value: float) -> float:
    """The top of the axis: 1, 2, 2.5 or 5 times a power of ten, at or above ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power:
            return float(step * power)
    return float(10 * power)


def _fmt(value: float) -> str:
    if value >= 10000:
        return f"{value / 1000:.0f}k"
    if value == int(value):
        return f"{int(value)}"
    return f"{value:.1f}"


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    bands: Sequence[Band] = (),
    unit: str = "",
    colour: str = BAR_COLOUR,
) -> Markup:
    """Bars of ``values`` (None: no data, drawn as an empty slot with a dash) under ``title``."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    present = [v for v in values if v is not None]
    top = _nice_max(max([*present, *(b.low for b in bands if b.low > 0)], default=0.0))
    n = max(len(values), 1)
    slot = plot_w / n
    bar_w = max(slot * 0.7, 1.0)

    def y(v: float) -> float:
        return TOP + plot_h - min(v, top) / top * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" class="chart" role="img" '
        f'aria-label="{escape(title)}">',
        f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold" fill="{TEXT_COLOUR}">'
        f"{escape(title)}</text>",
    ]
    for band in bands:
        y1, y2 = y(min(band.high, top)), y(max(band.low, 0.0))
        if y2 > y1:
            parts.append(
                f'<rect x="{LEFT}" y="{y1:.1f}" width="{plot_w}" height="{y2 - y1:.1f}" '
                f'fill="{band.colour}" fill-opacity="0.18"/>'
            )
    for i in range(5):
        v = top * i / 4
        yy = y(v)
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="{GRID_COLOUR}"/>'
            f'<text x="{LEFT - 6}" y="{yy + 4:.1f}" font-size="10" text-anchor="end" '
            f'fill="{TEXT_COLOUR}">{escape(_fmt(v))}{escape(unit)}</text>'
        )
    every = max(1, math.ceil(n / 16))
    for i, (label, value) in enumerate(zip(labels, values, strict=False)):
        x = LEFT + i * slot + (slot - bar_w) / 2
        cx = LEFT + i * slot + slot / 2
        if value is None:
            parts.append(
                f'<text x="{cx:.1f}" y="{TOP + plot_h - 4:.1f}" font-size="10" text-anchor="middle" '
                f'fill="#999">–</text>'
            )
        else:
            yy = y(value)
            parts.append(
                f'<rect x="{x:.1f}" y="{yy:.1f}" width="{bar_w:.1f}" height="{TOP + plot_h - yy:.1f}" '
                f'fill="{colour}"><title>{escape(label)}: {escape(_fmt(value))}{escape(unit)}</title></rect>'
            )
            if n <= 16:
                parts.append(
                    f'<text x="{cx:.1f}" y="{yy - 3:.1f}" font-size="9" text-anchor="middle" '
                    f'fill="{TEXT_COLOUR}">{escape(_fmt(round(value, 1)))}</text>'
                )
        if i % every == 0:
            parts.append(
                f'<text x="{cx:.1f}" y="{HEIGHT - BOTTOM + 14:.1f}" font-size="10" text-anchor="middle" '
                f'fill="{TEXT_COLOUR}">{escape(label)}</text>'
            )
    parts.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" stroke="#888"/>'
    )
    legend_x = LEFT
    for band in bands:
        if band.label:
            parts.append(
                f'<rect x="{legend_x}" y="{HEIGHT - 16}" width="10" height="10" fill="{band.colour}" '
                f'fill-opacity="0.5"/><text x="{legend_x + 14}" y="{HEIGHT - 7}" font-size="10" '
                f'fill="{TEXT_COLOUR}">{escape(band.label)}</text>'
            )
            legend_x += 24 + 6 * len(band.label)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text above is escaped


INVOLVEMENT_BANDS = (
    Band(0, 60, "#d9342b", "< 60 % — ниже стандарта"),
    Band(60, 80, "#e0a800", "60–80 %"),
    Band(80, 150, "#2e9e44", "≥ 80 %"),
)
ACTIVITY_BANDS = (Band(0, 20, "#d9342b", "< 20 — ниже стандарта"),)
AVAILABILITY_BANDS = (Band(0, 95, "#d9342b", "< 95 %"),)
