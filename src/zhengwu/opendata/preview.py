"""What a dataset page shows of a tabular distribution: the first rows, a bar chart, the downloads.

Read through the datastore's own use cases with the visitor as the actor, so a table the visitor may
not read shows nothing. The chart is plain data (bars with their heights in per cent) that the page
draws as inline SVG: no JavaScript, readable by screen readers through its table fallback.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor
from zhengwu.errors import NotFound
from zhengwu.opendata.datastore.dump import LAT_NAMES, LON_NAMES, geometry_columns
from zhengwu.opendata.datastore.services import datastore_search
from zhengwu.opendata.tabular import dump_url

PREVIEW_ROWS: Final = 10
CHART_BARS: Final = 12
NUMERIC: Final = frozenset({"int", "numeric"})


@dataclass
class Bar:
    """One bar: its label, value and height as a share of the tallest (0-100)."""

    label: str
    value: float
    percent: float


@dataclass
class Chart:
    """A bar chart of one numeric column over the first rows, labelled by the first text column."""

    column: str
    label_column: str
    bars: list[Bar]


@dataclass
class Download:
    """A download button: its label and address."""

    label: str
    url: str


@dataclass
class Preview:
    """The preview of one tabular distribution."""

    resource_id: str
    name: str
    fields: list[str]
    records: list[dict[str, Any]]
    total: int
    chart: Chart | None
    downloads: list[Download] = field(default_factory=list)


def _chart(fields: list[dict[str, str]], records: list[dict[str, Any]]) -> Chart | None:
    skip = LON_NAMES | LAT_NAMES | {"_id"}
    numeric = next((f["id"] for f in fields if f["type"] in NUMERIC and f["id"].lower() not in skip), None)
    if numeric is None:
        return None
    label = next((f["id"] for f in fields if f["type"] not in NUMERIC and f["id"] != "_id"), "_id")
    values = [
        (str(r.get(label, "")), float(r[numeric]))
        for r in records[:CHART_BARS]
        if isinstance(r.get(numeric), int | float) and not isinstance(r.get(numeric), bool)
    ]
    if not values:
        return None
    top = max(abs(v) for _, v in values) or 1.0
    return Chart(
        column=numeric,
        label_column=label,
        bars=[Bar(label=t, value=v, percent=round(abs(v) / top * 100, 1)) for t, v in values],
    )


def resource_preview(
    db: Session, *, actor: Actor, resource: dict[str, Any], rows: int = PREVIEW_ROWS
) -> Preview | None:
    """The preview of a CKAN resource dict with ``datastore_active``; None if it has no readable table."""
    if not resource.get("datastore_active"):
        return None
    rid = str(resource["id"])
    try:
        found = datastore_search(db, actor=actor, resource_id=rid, limit=rows)
    except NotFound:
        return None
    fields = [f for f in found["fields"] if f["id"] != "_id"]
    base = dump_url(rid)
    downloads = [
        Download("CSV（UTF-8，Excel 可直接打开）", base + "?format=csv"),
        Download("XLSX", base + "?format=xlsx"),
        Download("JSON", base + "?format=json"),
    ]
    if geometry_columns(fields) is not None:
        downloads.append(Download("GeoJSON", base + "?format=geojson"))
    return Preview(
        resource_id=rid,
        name=str(resource.get("name") or rid),
        fields=[f["id"] for f in fields],
        records=found["records"],
        total=int(found.get("total") or 0),
        chart=_chart(fields, found["records"]),
        downloads=downloads,
    )
