"""JSON API of catalog import and export under /api/v1/catalog.

``POST /import`` validates a file (XLSX, CSV or JSON) and, with ``apply=true``, applies it all or
nothing; a file with errors answers 400 ``catalog.import.invalid`` whose ``details.errors`` locate every
problem (sheet, row, column, reason). ``GET /export`` returns the catalog as a file; ``GET /dcat.ttl`` and
``GET /dcat.jsonld`` the published catalog as DCAT.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import Response

from zhengwu.catalog.transfer.export import catalog_export
from zhengwu.catalog.transfer.schemas import ExportFile, ImportReport
from zhengwu.catalog.transfer.services import DEFAULT_MAX_IMPORT_BYTES, catalog_import, import_issues_file
from zhengwu.errors import ValidationError
from zhengwu.web.deps import AppSettings, DbSession, SignedInActor

router = APIRouter(prefix="/api/v1/catalog", tags=["catalog"])

CHUNK = 1024 * 1024


async def read_limited(upload: UploadFile, max_bytes: int) -> bytes:
    """The uploaded file, read in chunks and refused as soon as it passes ``max_bytes``."""
    parts: list[bytes] = []
    size = 0
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise ValidationError(
                f"文件超过大小上限 {max_bytes // 1024 // 1024} MB，请拆分后分批导入",
                message_en="file too large",
                field="file",
                code="catalog.import.too_large",
            )
        parts.append(chunk)
    return b"".join(parts)


def file_response(export: ExportFile) -> Response:
    """A download with its (Chinese) file name spelled for every browser (RFC 6266 / 5987)."""
    ascii_name = "".join(c if (c.isascii() and c.isalnum()) or c in ".-_" else "_" for c in export.filename)
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(export.filename)}"
    return Response(
        export.content, media_type=export.media_type, headers={"Content-Disposition": disposition}
    )


def invalid(report: ImportReport) -> ValidationError:
    """The API error for an import with problems: every problem in ``details.errors``."""
    first = report.errors[0]
    where = "，".join(
        str(p) for p in (first.sheet, f"第 {first.row} 行" if first.row else None, first.column) if p
    )
    return ValidationError(
        f"导入文件有 {len(report.errors)} 处错误，没有导入任何条目。第一处：{where}：{first.reason}",
        message_en=f"the file has {len(report.errors)} errors; nothing was imported",
        code="catalog.import.invalid",
        field="file",
        errors=[e.model_dump() for e in report.errors],
        details={"warnings": [w.model_dump() for w in report.warnings], "items": len(report.items)},
    )


@router.post(
    "/import",
    response_model=ImportReport,
    summary="批量导入目录条目（XLSX/CSV/JSON，整体校验、全部成功或全部不导入）",
)
async def import_catalog(
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    file: Annotated[
        UploadFile, File(description="信息资源目录文件：.xlsx（信息资源、信息项两张表）、.csv 或 .json")
    ],
    apply: Annotated[bool, Form(description="true：无错误时写入；false：只校验、预览")] = False,
    department_id: Annotated[int | None, Form(description="导入到的部门（仅平台管理员）")] = None,
) -> ImportReport:
    data = await read_limited(file, DEFAULT_MAX_IMPORT_BYTES)
    report = catalog_import(
        db,
        actor=actor,
        data=data,
        filename=file.filename or "",
        max_bytes=DEFAULT_MAX_IMPORT_BYTES,
        department_id=department_id,
        apply=apply,
        zone=settings.zone,
    )
    if not report.ok:
        raise invalid(report)
    return report


@router.post("/import/errors", summary="导入文件的错误报告（XLSX 或 CSV 下载）", response_class=Response)
async def import_errors(
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    file: Annotated[UploadFile, File()],
    format: Annotated[Literal["xlsx", "csv"], Query()] = "xlsx",
    department_id: Annotated[int | None, Form()] = None,
) -> Response:
    data = await read_limited(file, DEFAULT_MAX_IMPORT_BYTES)
    report = catalog_import(
        db,
        actor=actor,
        data=data,
        filename=file.filename or "",
        department_id=department_id,
        zone=settings.zone,
    )
    return file_response(import_issues_file(report, format))


@router.get("/export", summary="导出目录（xlsx、csv、json、ttl、jsonld）", response_class=Response)
def export_catalog(
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    format: Annotated[Literal["xlsx", "csv", "json", "ttl", "jsonld"], Query()] = "xlsx",
    scope: Annotated[
        Literal["published", "department"],
        Query(description="published：全部已发布；department：本部门全部（含草稿）"),
    ] = "published",
    department_id: int | None = None,
    provider: Annotated[list[str] | None, Query(description="只导出这些提供部门（代码）的已发布资源")] = None,
) -> Response:
    export = catalog_export(
        db,
        actor=actor,
        fmt=format,
        scope=scope,
        department_id=department_id,
        provider_codes=provider,
        base_url=settings.effective_base_url,
    )
    return file_response(export)


@router.get("/dcat.ttl", summary="已发布目录的 DCAT（Turtle）", response_class=Response)
def dcat_turtle(db: DbSession, actor: SignedInActor, settings: AppSettings) -> Response:
    export = catalog_export(db, actor=actor, fmt="ttl", base_url=settings.effective_base_url)
    return Response(export.content, media_type=export.media_type)


@router.get("/dcat.jsonld", summary="已发布目录的 DCAT（JSON-LD）", response_class=Response)
def dcat_jsonld(db: DbSession, actor: SignedInActor, settings: AppSettings) -> Response:
    export = catalog_export(db, actor=actor, fmt="jsonld", base_url=settings.effective_base_url)
    return Response(export.content, media_type=export.media_type)
