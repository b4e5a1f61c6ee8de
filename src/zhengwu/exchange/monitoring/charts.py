"""Small inline SVG charts for the monitoring pages (no JavaScript, nothing fetched from elsewhere).

Pages are served where there is no internet, and the CSP allows only the platform's own resources, so
charts are drawn on the server as SVG with presentation attributes (no inline styles, no scripts).
Every text is escaped; every mark has a ``<title>`` shown on hover, every chart an ``aria-label``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from zhengwu.exchange.monitoring.schemas import SeriesPoint

CALLS_COLOUR = "#2f6fb0"
ERRORS_COLOUR = "#c0392b"
GRID_COLOUR = "#d8dde3"
TEXT_COLOUR = "#555"
BEIJING = dt.timezone(dt.timedelta(hours=8))


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
    series: Sequence[SeriesPoint], bucket_seconds: int, *, width: int = 720, height: int = 200
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


def bar_chart(items: Sequence[tuple[str, float]], *, unit: str = "ms", width: int = 720) -> Markup:
    """Horizontal bars, one per labelled value (e.g. the slowest services by P95)."""
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
            f"<g><title>{escape(label)}：{value:.1f} {escape(unit)}</title>"
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end" font-size="11" fill="{TEXT_COLOUR}">'
            f"{escape(short)}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row - 6}" fill="{CALLS_COLOUR}" />'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" font-size="11" fill="{TEXT_COLOUR}">'
            f"{value:.1f} {escape(unit)}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
