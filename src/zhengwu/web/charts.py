"""Small inline SVG charts for every page (no JavaScript, nothing fetched from elsewhere).

Shared by the exchange's monitoring pages and the open data portal's usage statistics.

Pages are served where there is no internet, and the CSP allows only the platform's own resources, so
charts are drawn on the server as SVG with presentation attributes (no inline styles, no scripts).
Every text is escaped; every mark has a ``<title>`` shown on hover, every chart an ``aria-label``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape
from typing import Protocol

from markupsafe import Markup

from zhengwu.db import BEIJING

CALLS_COLOUR = "#2f6fb0"
ERRORS_COLOUR = "#c0392b"
GRID_COLOUR = "#d8dde3"
TEXT_COLOUR = "#555"
# Distinguishable for the common colour-vision deficiencies (Okabe-Ito), in drawing order.
SERIES_COLOURS = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#d55e00", "#56b4e9")


class CallsPoint(Protocol):
    """A bucket of :func:`calls_chart`: start, calls, errors, P95 (the exchange's ``SeriesPoint``)."""

    @property
    def start(self) -> dt.datetime: ...
    @property
    def calls(self) -> int: ...
    @property
    def errors(self) -> int: ...
    @property
    def p95_ms(self) -> float | None: ...


@dataclass(frozen=True)
class Series:
    """One line of :func:`line_chart`: its name (legend, hover text) and one value per label."""

    name: str
    values: Sequence[float]


def nice_max(value: float) -> float:
    """The axis maximum: the smallest 1, 2 or 5 times a power of ten not below ``value``."""
    if value <= 0:
        return 1.0
    scale = 1.0
    while scale * 10 <= value:
        scale *= 10
    for factor in (1, 2, 5, 10):
        if value <= factor * scale:
            return factor * scale
    return 10 * scale


def _time_label(start: dt.datetime, bucket_seconds: int) -> str:
    local = start.astimezone(BEIJING)
    return local.strftime("%m-%d" if bucket_seconds >= 86400 else "%m-%d %H:%M")


def calls_chart(
    series: Sequence[CallsPoint], bucket_seconds: int, *, width: int = 720, height: int = 200
) -> Markup:
    """Columns of calls per bucket with the errors of each bucket drawn over them in red."""
    left, right, top, bottom = 44, 8, 10, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = nice_max(max((p.calls for p in series), default=0))
    n = max(len(series), 1)
    slot = plot_w / n
    bar = max(slot * 0.8, 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="每个时段的调用量与错误数">'
    ]
    for i in range(5):
        value = peak * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{GRID_COLOUR}" />'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10" fill="{TEXT_COLOUR}">'
            f"{value:g}</text>"
        )
    for i, point in enumerate(series):
        x = left + i * slot + (slot - bar) / 2
        label = escape(_time_label(point.start, bucket_seconds))
        h_calls = plot_h * point.calls / peak
        h_errors = plot_h * point.errors / peak
        p95 = "—" if point.p95_ms is None else f"{point.p95_ms:.1f} ms"
        tip = f"{label}：调用 {point.calls}，错误 {point.errors}，P95 {p95}"
        parts.append(
            f'<g><title>{tip}</title><rect x="{x:.1f}" y="{top + plot_h - h_calls:.1f}" width="{bar:.1f}" '
            f'height="{h_calls:.1f}" fill="{CALLS_COLOUR}" />'
            f'<rect x="{x:.1f}" y="{top + plot_h - h_errors:.1f}" width="{bar:.1f}" height="{h_errors:.1f}" '
            f'fill="{ERRORS_COLOUR}" /></g>'
        )
    step = max(1, n // 6)
    for i in range(0, len(series), step):
        x = left + i * slot + slot / 2
        parts.append(
            f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle" font-size="10" fill="{TEXT_COLOUR}">'
            f"{escape(_time_label(series[i].start, bucket_seconds))}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def bar_chart(
    items: Sequence[tuple[str, float]], *, unit: str = "ms", width: int = 720, decimals: int = 1
) -> Markup:
    """Horizontal bars, one per labelled value (e.g. the slowest services by P95, counts with 0 decimals)."""
    row, label_w, right = 22, 260, 70
    height = max(row * len(items), row) + 4
    peak = nice_max(max((v for _, v in items), default=0.0))
    plot_w = width - label_w - right
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="按{escape(unit)}排序的条形图">'
    ]
    for i, (label, value) in enumerate(items):
        y = 2 + i * row
        w = plot_w * value / peak
        short = label if len(label) <= 36 else "…" + label[-35:]
        parts.append(
            f"<g><title>{escape(label)}：{value:.{decimals}f} {escape(unit)}</title>"
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="11" fill="{TEXT_COLOUR}">'
            f"{escape(short)}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{CALLS_COLOUR}" />'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" font-size="11" fill="{TEXT_COLOUR}">'
            f"{value:.{decimals}f} {escape(unit)}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def line_chart(
    labels: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    width: int = 720,
    height: int = 220,
) -> Markup:
    """Lines over shared x labels (e.g. days), one per series, with a legend and a dot per point.

    Every point is a ``<circle>`` carrying a ``<title>`` (label, series name, value), so a reader gets
    the exact figures on hover and a screen reader through ``aria-label`` and the titles.
    """
    left, right, top, bottom = 48, 8, 26, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = nice_max(max((v for s in series for v in s.values), default=0))
    n = max(len(labels), 1)
    step_x = plot_w / max(n - 1, 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}">'
    ]
    for i in range(5):
        value = peak * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{GRID_COLOUR}" />'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="10" fill="{TEXT_COLOUR}">'
            f"{value:g}</text>"
        )
    legend_x = left
    for k, line in enumerate(series):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        parts.append(
            f'<rect x="{legend_x}" y="6" width="10" height="10" fill="{colour}" />'
            f'<text x="{legend_x + 14}" y="15" font-size="11" fill="{TEXT_COLOUR}">{escape(line.name)}</text>'
        )
        legend_x += 28 + 12 * len(line.name)
    for k, line in enumerate(series):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        points = [
            (left + i * step_x, top + plot_h - plot_h * value / peak) for i, value in enumerate(line.values)
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(
            f'<g class="series" data-series="{escape(line.name)}">'
            f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2" />'
        )
        for (x, y), label, value in zip(points, labels, line.values, strict=False):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{colour}">'
                f"<title>{escape(label)} {escape(line.name)}：{value:g}</title></circle>"
            )
        parts.append("</g>")
    tick = max(1, n // 7)
    for i in range(0, len(labels), tick):
        parts.append(
            f'<text x="{left + i * step_x:.1f}" y="{height - 8}" text-anchor="middle" font-size="10" '
            f'fill="{TEXT_COLOUR}">{escape(labels[i])}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
