"""Server-rendered inline SVG charts for the admin dashboard (no JavaScript, no CDN: works offline).

Each chart is ``<svg class="chart" data-chart="<kind>" role="img">`` with a ``<title>`` and a ``<desc>``
listing its values, values written as text labels on the chart, and a ``<title>`` tooltip on each mark.
All text passes through :func:`django.utils.html.escape`; the result is marked safe for templates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    colour: str


@dataclass(frozen=True)
class Segment:
    label: str
    value: int
    colour: str


@dataclass(frozen=True)
class StackedRow:
    label: str
    segments: Sequence[Segment]
    note: str = ""  # text right of the bar, e.g. the connect rate


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    values: Sequence[int]


def _nice_step(value: float) -> int:
    """The smallest of 1, 2, 5 × 10^n that is ≥ value."""
    step = 1
    while True:
        for factor in (1, 2, 5):
            if value <= step * factor:
                return step * factor
        step *= 10


def _axis(value: float) -> tuple[int, int]:
    """(axis maximum, tick step) for counts: whole-number ticks, at most 4 intervals, maximum ≥ value."""
    if value <= 0:
        return 1, 1
    step = _nice_step(math.ceil(value / 4))
    return step * math.ceil(value / step), step


def _open(kind: str, title: str, desc: str, width: int, height: int) -> list[str]:
    ident = f"chart-{escape(kind)}"
    return [
        f'<svg class="chart" data-chart="{escape(kind)}" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'aria-labelledby="{ident}-title {ident}-desc">',
        f'<title id="{ident}-title">{escape(title)}</title>',
        f'<desc id="{ident}-desc">{escape(desc)}</desc>',
    ]


def _close(parts: list[str]) -> SafeString:
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every interpolated text above is escaped


def _empty(parts: list[str], width: int, height: int, message: str) -> None:
    parts.append(
        f'<text class="chart-empty" x="{width / 2:.0f}" y="{height / 2:.0f}" text-anchor="middle">'
        f"{escape(message)}</text>"
    )


def bar_chart(*, kind: str, title: str, bars: Sequence[Bar], empty: str = "") -> SafeString:
    """Vertical bars with their value above each bar and the label below."""
    width, height = 520, 240
    left, right, top, bottom = 36, 12, 24, 36
    desc = "; ".join(f"{bar.label}: {bar.value}" for bar in bars)
    parts = _open(kind, title, desc, width, height)
    plot_h = height - top - bottom
    top_value, tick = _axis(max((bar.value for bar in bars), default=0))
    _y_axis(parts, left, width - right, top, plot_h, top_value, tick)
    if not bars or all(bar.value == 0 for bar in bars):
        if empty:
            _empty(parts, width, height - bottom, empty)
    slot = (width - left - right) / max(len(bars), 1)
    bar_w = min(56.0, slot * 0.6)
    for i, bar in enumerate(bars):
        x = left + slot * i + (slot - bar_w) / 2
        h = plot_h * bar.value / top_value
        y = top + plot_h - h
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
            f'fill="{escape(bar.colour)}"><title>{escape(bar.label)}: {bar.value}</title></rect>'
        )
        parts.append(
            f'<text class="value" x="{x + bar_w / 2:.1f}" y="{y - 4:.1f}" text-anchor="middle">{bar.value}</text>'
        )
        parts.append(
            f'<text class="label" x="{x + bar_w / 2:.1f}" y="{height - bottom + 16:.1f}" '
            f'text-anchor="middle">{escape(bar.label)}</text>'
        )
    return _close(parts)


def _y_axis(parts: list[str], x0: float, x1: float, top: float, plot_h: float, top_value: int, tick: int) -> None:
    for value in range(0, top_value + 1, tick):
        y = top + plot_h - plot_h * value / top_value
        parts.append(f'<line class="grid" x1="{x0}" x2="{x1}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{x0 - 4}" y="{y + 4:.1f}" text-anchor="end">{value}</text>')


def stacked_bar_chart(
    *, kind: str, title: str, rows: Sequence[StackedRow], legend: Sequence[Segment], empty: str = ""
) -> SafeString:
    """One horizontal 100 % bar per row, split into segments (count written inside when it fits), the row's
    label on the left and its note (e.g. connect rate) on the right; a legend on top."""
    width = 720
    label_w, note_w, row_h, legend_h = 170, 110, 26, 28
    height = legend_h + max(len(rows), 1) * row_h + 8
    bar_x, bar_w = label_w, width - label_w - note_w
    desc = " | ".join(
        f"{row.label}: " + ", ".join(f"{seg.label} {seg.value}" for seg in row.segments) + (f", {row.note}" if row.note else "")
        for row in rows
    )
    parts = _open(kind, title, desc, width, height)
    x = 0.0
    for item in legend:
        parts.append(f'<rect class="legend" x="{x:.0f}" y="6" width="12" height="12" fill="{escape(item.colour)}"/>')
        parts.append(f'<text class="legend" x="{x + 16:.0f}" y="16">{escape(item.label)}</text>')
        x += 16 + 14 * len(item.label) + 18
    if not rows:
        _empty(parts, width, legend_h + row_h / 2 + 4, empty)
    for i, row in enumerate(rows):
        y = legend_h + i * row_h
        total = sum(seg.value for seg in row.segments)
        parts.append(
            f'<text class="label" x="{label_w - 8}" y="{y + 16}" text-anchor="end">{escape(_clip(row.label, 12))}'
            f"<title>{escape(row.label)}</title></text>"
        )
        if total == 0:
            parts.append(f'<rect class="bar-empty" x="{bar_x}" y="{y + 3}" width="{bar_w}" height="{row_h - 6}"/>')
        offset = float(bar_x)
        for seg in row.segments:
            if not seg.value:
                continue
            w = bar_w * seg.value / total
            parts.append(
                f'<rect class="bar" x="{offset:.1f}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" '
                f'fill="{escape(seg.colour)}"><title>{escape(row.label)} · {escape(seg.label)}: {seg.value}</title></rect>'
            )
            if w >= 9 * len(str(seg.value)) + 4:
                parts.append(
                    f'<text class="value inside" x="{offset + w / 2:.1f}" y="{y + 17}" text-anchor="middle">'
                    f"{seg.value}</text>"
                )
            offset += w
        if row.note:
            parts.append(f'<text class="note" x="{bar_x + bar_w + 8}" y="{y + 17}">{escape(row.note)}</text>')
    return _close(parts)


def _clip(text: str, length: int) -> str:
    return text if len(text) <= length else text[: length - 1] + "…"


def line_chart(
    *, kind: str, title: str, x_labels: Sequence[str], series: Sequence[Series], label_every: int = 5
) -> SafeString:
    """Lines over the x labels (e.g. days), a legend, the y axis, a dot with a tooltip per value and the
    last value of each series written at the line's end; x labels every ``label_every`` points."""
    width, height = 720, 280
    left, right, top, bottom = 40, 56, 30, 36
    desc = " | ".join(
        f"{s.label}: " + ", ".join(f"{x} {v}" for x, v in zip(x_labels, s.values, strict=False) if v) for s in series
    )
    parts = _open(kind, title, desc, width, height)
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value, tick = _axis(max((v for s in series for v in s.values), default=0))
    _y_axis(parts, left, left + plot_w, top, plot_h, top_value, tick)
    x = float(left)
    for s in series:
        parts.append(f'<rect class="legend" x="{x:.0f}" y="4" width="12" height="12" fill="{escape(s.colour)}"/>')
        parts.append(f'<text class="legend" x="{x + 16:.0f}" y="14">{escape(s.label)}</text>')
        x += 16 + 14 * len(s.label) + 18
    count = len(x_labels)
    step = plot_w / max(count - 1, 1)

    def point(i: int, value: int) -> tuple[float, float]:
        return left + step * i, top + plot_h - plot_h * value / top_value

    for i, label in enumerate(x_labels):
        if i % label_every == 0 or i == count - 1:
            px, _y = point(i, 0)
            parts.append(
                f'<text class="label" x="{px:.1f}" y="{height - bottom + 16}" text-anchor="middle">{escape(label)}</text>'
            )
    for s in series:
        coords = [point(i, v) for i, v in enumerate(s.values)]
        if coords:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in coords)
            parts.append(f'<polyline class="line" fill="none" stroke="{escape(s.colour)}" points="{path}"/>')
        for (px, py), label, value in zip(coords, x_labels, s.values, strict=False):
            parts.append(
                f'<circle class="dot" cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{escape(s.colour)}">'
                f"<title>{escape(label)} · {escape(s.label)}: {value}</title></circle>"
            )
        if coords:
            px, py = coords[-1]
            parts.append(f'<text class="value" x="{px + 6:.1f}" y="{py + 4:.1f}">{s.values[-1]}</text>')
    return _close(parts)
