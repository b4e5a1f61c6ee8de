"""A small inline SVG chart of the jobs of a source: created, updated and failed per job.

Drawn on the server with presentation attributes only (the CSP allows no scripts and no remote
resources), every text escaped, every bar with a ``<title>``, the chart with an ``aria-label``; axis,
colours and time zone are those of the shared charts (:mod:`zhengwu.web.charts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

from zhengwu.db import BEIJING
from zhengwu.opendata.harvest.schemas import JobOut
from zhengwu.web.charts import GRID_COLOUR, TEXT_COLOUR, nice_max

SERIES = (("created", "新增", "#2f8f4e"), ("updated", "更新", "#2f6fb0"), ("failed", "失败", "#c0392b"))


def jobs_chart(jobs: Sequence[JobOut], *, width: int = 720, height: int = 180) -> Markup:
    """Grouped columns, oldest job on the left; empty string when there is no job."""
    if not jobs:
        return Markup("")
    ordered = list(reversed(jobs))
    left, right, top, bottom = 40, 8, 24, 26
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = nice_max(max(max(j.created, j.updated, j.failed) for j in ordered) or 1)
    slot = plot_w / len(ordered)
    bar = max(min(slot * 0.8 / len(SERIES), 18.0), 1.0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" width="100%" '
        f'role="img" aria-label="每次采集新增、更新与失败的数据集数">'
    ]
    for i in range(3):
        value = peak * i / 2
        y = top + plot_h - plot_h * i / 2
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="{GRID_COLOUR}"/>'
        )
        parts.append(
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="{TEXT_COLOUR}">'
            f"{value:g}</text>"
        )
    for k, (_, label, colour) in enumerate(SERIES):
        x = left + k * 70
        parts.append(f'<rect x="{x}" y="6" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="15" font-size="11" fill="{TEXT_COLOUR}">{escape(label)}</text>')
    for n, job in enumerate(ordered):
        x0 = left + n * slot + (slot - bar * len(SERIES)) / 2
        when = job.started_at.astimezone(BEIJING).strftime("%m-%d %H:%M")
        for k, (key, label, colour) in enumerate(SERIES):
            value = int(getattr(job, key))
            h = plot_h * value / peak
            parts.append(
                f'<rect x="{x0 + k * bar:.1f}" y="{top + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour}"><title>{escape(f"任务 {job.id}（{when}）{label} {value}")}</title></rect>'
            )
        if len(ordered) <= 12 or n % max(1, len(ordered) // 12) == 0:
            parts.append(
                f'<text x="{left + n * slot + slot / 2:.1f}" y="{height - 8}" text-anchor="middle" '
                f'font-size="10" fill="{TEXT_COLOUR}">#{job.id}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above
