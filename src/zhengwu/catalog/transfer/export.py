"""Export of the catalog: the departments' Excel layout, flat CSV, JSON, and DCAT (see ``dcat.py``).

Two scopes. ``published``: every published resource as it is in force (anyone signed in; optionally
one provider). ``department``: every entry of one department as its data administrators edit it, drafts
and open revisions included, the file they change and import back (an unchanged file imports as
“unchanged” row by row).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from typing import Any

from openpyxl import Workbook
from openpyxl.utils import get_column_letter
from sqlalchemy import and_, select
from sqlalchemy.orm import Session, selectinload

from zhengwu.accounts.models import Department
from zhengwu.accounts.permissions import Actor, require_authenticated, require_department_admin
from zhengwu.catalog.entries import snapshot_now
from zhengwu.catalog.models import (
    Delivery,
    ElementType,
    OpenType,
    Resource,
    ResourceCategory,
    ResourceStatus,
    ResourceVersion,
    Secrecy,
    Sensitivity,
    ShareType,
    UpdateFrequency,
)
from zhengwu.catalog.schemas import ENUM_LABELS_ZH, FORMAT_LABELS_ZH
from zhengwu.catalog.transfer.dcat import catalog_graph
from zhengwu.catalog.transfer.layout import (
    ELEMENT_COLUMNS,
    ELEMENTS_SHEET,
    FLAT_ELEMENT_COLUMNS,
    GUIDE_SHEET,
    RESOURCE_COLUMNS,
    RESOURCES_SHEET,
)
from zhengwu.catalog.transfer.schemas import ExportEntry, ExportFile
from zhengwu.catalog.transfer.writers import neutralise, xlsx_row
from zhengwu.errors import ValidationError

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MEDIA_TYPES = {
    "xlsx": XLSX_TYPE,
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
    "ttl": "text/turtle; charset=utf-8",
    "jsonld": "application/ld+json",
}
_ENUMS: dict[str, type] = {
    "category": ResourceCategory,
    "share_type": ShareType,
    "open_type": OpenType,
    "delivery": Delivery,
    "update_frequency": UpdateFrequency,
    "secrecy": Secrecy,
    "data_type": ElementType,
    "sensitivity": Sensitivity,
    "status": ResourceStatus,
}


def published_entries(db: Session, *, provider_codes: list[str] | None = None) -> Iterator[ExportEntry]:
    """Every published resource with the snapshot in force, by code."""
    query = (
        select(
            Resource.code,
            Resource.published_version,
            Resource.first_published_at,
            Resource.published_at,
            ResourceVersion.snapshot,
        )
        .join(
            ResourceVersion,
            and_(
                ResourceVersion.resource_id == Resource.id,
                ResourceVersion.version == Resource.published_version,
            ),
        )
        .where(Resource.status == ResourceStatus.PUBLISHED)
        .order_by(Resource.code)
    )
    if provider_codes:
        query = query.join(Department, Department.id == Resource.provider_id).where(
            Department.code.in_(provider_codes)
        )
    for code, version, first, when, snap in db.execute(query.execution_options(yield_per=500)):
        yield ExportEntry(code, "published", version, first, when, snap)


def department_entries(db: Session, department_id: int) -> Iterator[ExportEntry]:
    """Every entry of a department as its working copy (drafts and open revisions as edited)."""
    rows = db.scalars(
        select(Resource)
        .where(Resource.provider_id == department_id)
        .options(selectinload(Resource.elements))
        .order_by(Resource.code)
    )
    for r in rows:
        yield ExportEntry(
            r.code,
            r.status.value,
            r.published_version,
            r.first_published_at,
            r.published_at,
            snapshot_now(db, r),
        )


def _label(key: str, value: Any) -> Any:
    if value is None:
        return ""
    if key == "format":
        return FORMAT_LABELS_ZH.get(str(value), str(value))
    enum = _ENUMS.get(key)
    return ENUM_LABELS_ZH[enum].get(str(value), str(value)) if enum else value


def resource_cells(index: int, entry: ExportEntry) -> list[Any]:
    """The resources sheet row of an entry, in RESOURCE_COLUMNS order."""
    snap = entry.snapshot
    values: dict[str, Any] = {
        "row_key": index,
        "code": entry.code,
        "provider_name": snap.get("provider_name", ""),
        "provider_code": snap.get("provider_code", ""),
        "topic_code": snap.get("topic_code") or "",
        "open_flag": "否" if snap.get("open_type") == "closed" else "是",
        "related_codes": "；".join(snap.get("related_codes") or []),
        "keywords": "；".join(snap.get("keywords") or []),
        "status": _label("status", entry.status),
        "version": entry.version or "",
        "published_at": entry.published_at.date().isoformat() if entry.published_at else "",
    }
    out: list[Any] = []
    for column in RESOURCE_COLUMNS:
        if column.key in values:
            out.append(values[column.key])
        else:
            out.append(
                _label(column.key, snap.get(column.key))
                if column.kind == "enum"
                else snap.get(column.key, "")
            )
    return out


def element_cells(element: dict[str, Any]) -> list[Any]:
    """The element columns (without the link columns) of one element."""
    out: list[Any] = []
    for column in FLAT_ELEMENT_COLUMNS:
        key = column.key.removeprefix("el_")
        value = element.get(key)
        if column.kind == "bool":
            out.append("是" if value else "否")
        elif column.kind == "enum":
            out.append(_label(key, value))
        else:
            out.append("" if value is None else value)
    return out


def _xlsx(entries: Iterator[ExportEntry]) -> bytes:
    book = Workbook(write_only=True)
    resources = book.create_sheet(RESOURCES_SHEET)
    elements = book.create_sheet(ELEMENTS_SHEET)
    guide = book.create_sheet(GUIDE_SHEET)
    for sheet, columns in ((resources, RESOURCE_COLUMNS), (elements, ELEMENT_COLUMNS)):
        for i, column in enumerate(columns):
            sheet.column_dimensions[get_column_letter(i + 1)].width = column.width
        sheet.append([c.header + ("*" if c.required else "") for c in columns])
    for index, entry in enumerate(entries, start=1):
        resources.append(xlsx_row(resources, resource_cells(index, entry)))
        for element in entry.snapshot.get("elements") or []:
            elements.append(
                xlsx_row(
                    elements, [index, entry.code, entry.snapshot.get("name", ""), *element_cells(element)]
                )
            )
    guide.append(["工作表", "列", "说明"])
    for sheet_name, columns in ((RESOURCES_SHEET, RESOURCE_COLUMNS), (ELEMENTS_SHEET, ELEMENT_COLUMNS)):
        for column in columns:
            guide.append([sheet_name, column.header + ("（必填）" if column.required else ""), column.note])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _csv(entries: Iterator[ExportEntry]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.header for c in RESOURCE_COLUMNS] + [c.header for c in FLAT_ELEMENT_COLUMNS])
    empty = [""] * len(FLAT_ELEMENT_COLUMNS)
    for index, entry in enumerate(entries, start=1):
        base = [neutralise(v) for v in resource_cells(index, entry)]
        elements = entry.snapshot.get("elements") or []
        for element in elements or [None]:
            rest = [neutralise(v) for v in element_cells(element)] if element else empty
            writer.writerow(base + rest)
    # A BOM: Excel on Chinese Windows opens UTF-8 CSV correctly only with one.
    return buffer.getvalue().encode("utf-8-sig")


def _json(entries: Iterator[ExportEntry], scope: str) -> bytes:
    items = []
    for entry in entries:
        snap = dict(entry.snapshot)
        snap.pop("format_version", None)
        items.append(
            {
                "code": entry.code,
                "status": entry.status,
                "version": entry.version,
                "published_at": entry.published_at.isoformat() if entry.published_at else None,
                **snap,
            }
        )
    doc = {
        "format": "zhengwu.catalog/1",
        "scope": scope,
        "exported_at": dt.datetime.now(dt.UTC).isoformat(),
        "resources": items,
    }
    return json.dumps(doc, ensure_ascii=False, indent=1, default=str).encode("utf-8")


def catalog_export(
    db: Session,
    *,
    actor: Actor,
    fmt: str,
    scope: str = "published",
    department_id: int | None = None,
    provider_codes: list[str] | None = None,
    base_url: str = "http://localhost",
) -> ExportFile:
    """The catalog as a file: ``fmt`` xlsx, csv, json, ttl or jsonld; see the module for the scopes."""
    require_authenticated(actor)
    if fmt not in MEDIA_TYPES:
        raise ValidationError(
            "导出格式应为 xlsx、csv、json、ttl 或 jsonld", message_en="unknown format", field="format"
        )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
    if scope == "department":
        dept_id = department_id if department_id is not None else actor.department_id
        if dept_id is None:
            raise ValidationError("请选择部门", message_en="department_id is required", field="department_id")
        require_department_admin(actor, dept_id)
        dept = db.get(Department, dept_id)
        if dept is None:
            raise ValidationError("部门不存在", message_en="department not found", field="department_id")
        if fmt in ("ttl", "jsonld"):
            raise ValidationError(
                "DCAT 只导出已发布的资源", message_en="DCAT exports published entries only", field="format"
            )
        entries: Iterator[ExportEntry] = department_entries(db, dept_id)
        name = f"信息资源目录-{dept.code}-{stamp}"
    elif scope == "published":
        entries = published_entries(db, provider_codes=provider_codes)
        name = f"信息资源目录-{stamp}"
    else:
        raise ValidationError(
            "导出范围应为 published 或 department", message_en="unknown scope", field="scope"
        )
    if fmt == "xlsx":
        content = _xlsx(entries)
    elif fmt == "csv":
        content = _csv(entries)
    elif fmt == "json":
        content = _json(entries, scope)
    else:
        graph = catalog_graph(entries, base_url=base_url)
        content = graph.serialize(format="turtle" if fmt == "ttl" else "json-ld", encoding="utf-8")
    return ExportFile(filename=f"{name}.{fmt}", media_type=MEDIA_TYPES[fmt], content=content)
