"""The shared inline SVG charts: one point per value, escaped texts, an accessible name."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from zhengwu.web.charts import Series, bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_line_chart_draws_one_point_per_value_and_series() -> None:
    labels = [f"11-{d:02d}" for d in range(1, 31)]
    views = [d % 7 for d in range(30)]
    downloads = [d % 3 for d in range(30)]
    svg = str(line_chart(labels, [Series("浏览", views), Series("下<载>", downloads)], title="每日<使用>"))
    root = ET.fromstring(svg)  # noqa: S314 - our own output: it must be well-formed XML
    assert root.get("role") == "img" and root.get("aria-label") == "每日<使用>"
    groups = root.findall(f"{SVG}g")
    assert [g.get("data-series") for g in groups] == ["浏览", "下<载>"]
    for group, values in zip(groups, (views, downloads), strict=True):
        circles = group.findall(f"{SVG}circle")
        assert len(circles) == len(values)
        titles = [c.find(f"{SVG}title") for c in circles]
        assert [t.text for t in titles if t is not None][:2] == [
            f"11-01 {group.get('data-series')}：{values[0]}",
            f"11-02 {group.get('data-series')}：{values[1]}",
        ]
        points = group.find(f"{SVG}polyline")
        assert points is not None and len(points.get("points", "").split()) == len(values)
    assert "<载>" not in svg and "下&lt;载&gt;" in svg
    # The highest value sits on the top grid line's scale: peak 6 → axis 10, the 0 values at the bottom.
    ys = [float(c.get("cy", "0")) for c in groups[0].findall(f"{SVG}circle")]
    assert max(ys) == ys[0] and min(ys) == ys[6]


def test_line_chart_without_data_still_renders() -> None:
    svg = str(line_chart([], [Series("浏览", [])], title="空"))
    assert ET.fromstring(svg).get("aria-label") == "空"  # noqa: S314 - our own output
    assert "<circle" not in svg


def test_bar_chart_counts_without_decimals() -> None:
    svg = str(bar_chart([("公交客流", 12.0), ("出租车", 3.0)], unit="次", decimals=0))
    assert len(re.findall(r"<rect ", svg)) == 2
    assert "12 次" in svg and "12.0" not in svg
