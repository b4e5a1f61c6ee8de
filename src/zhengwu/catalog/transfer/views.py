"""Pages: ``/catalog/import`` (upload, preview, confirm) and ``/catalog/export`` (downloads).

An upload is validated at once and shown as a preview: what would be created, updated and left
unchanged, and every problem (downloadable as XLSX or CSV). The file is kept under the data directory
for a day, named by a random token tied to the uploading user, so that “confirm” applies exactly the
file that was previewed (validated again, all or nothing).
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from zhengwu.accounts.models import Department, Role
from zhengwu.accounts.permissions import Actor, require_roles
from zhengwu.catalog.entries import EDITOR_ROLES
from zhengwu.catalog.transfer.api import file_response, read_limited
from zhengwu.catalog.transfer.export import catalog_export
from zhengwu.catalog.transfer.layout import ELEMENT_COLUMNS, RESOURCE_COLUMNS
from zhengwu.catalog.transfer.schemas import ImportReport
from zhengwu.catalog.transfer.services import DEFAULT_MAX_IMPORT_BYTES, catalog_import, import_issues_file
from zhengwu.config import Settings
from zhengwu.errors import NotFound, ValidationError
from zhengwu.web.deps import AppSettings, DbSession, SignedInActor, check_csrf
from zhengwu.web.nav import NavItem
from zhengwu.web.templating import render

router = APIRouter(include_in_schema=False)

NAV = [
    NavItem("目录导入", "/catalog/import", order=33, roles=frozenset({Role.DATA_ADMIN, Role.PLATFORM_ADMIN})),
    NavItem("目录导出", "/catalog/export", order=34, signed_in=True),
]

UPLOAD_DIR = "catalog_imports"
UPLOAD_TTL_SECONDS = 24 * 3600
ACTIONS_ZH = {"create": "新建", "update": "更新", "unchanged": "无变化"}


def _uploads(settings: Settings) -> Path:
    path = settings.data_dir / UPLOAD_DIR
    path.mkdir(parents=True, exist_ok=True)
    return path


def _store(settings: Settings, actor: Actor, data: bytes, filename: str, department_id: int | None) -> str:
    folder = _uploads(settings)
    now = time.time()
    for old in folder.glob("*.json"):  # uploads nobody confirmed go after a day
        if now - old.stat().st_mtime > UPLOAD_TTL_SECONDS:
            old.unlink(missing_ok=True)
            old.with_suffix(".bin").unlink(missing_ok=True)
    token = secrets.token_urlsafe(18)
    (folder / f"{token}.bin").write_bytes(data)
    meta = {"user_id": actor.user_id, "filename": filename[:200], "department_id": department_id}
    (folder / f"{token}.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    return token


def _load(settings: Settings, actor: Actor, token: str) -> tuple[bytes, dict[str, Any]]:
    folder = _uploads(settings)
    if not token.replace("-", "").replace("_", "").isalnum() or len(token) > 64:
        raise NotFound("上传的文件不存在或已过期，请重新上传", message_en="upload not found", field="token")
    meta_path, data_path = folder / f"{token}.json", folder / f"{token}.bin"
    if not meta_path.exists() or not data_path.exists():
        raise NotFound("上传的文件不存在或已过期，请重新上传", message_en="upload not found", field="token")
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if meta.get("user_id") != actor.user_id:
        raise NotFound("上传的文件不存在或已过期，请重新上传", message_en="upload not found", field="token")
    return data_path.read_bytes(), meta


def _departments(db: DbSession, actor: Actor) -> list[tuple[int, str]]:
    if actor.has(Role.PLATFORM_ADMIN):
        return [(d.id, d.name) for d in db.scalars(select(Department).order_by(Department.code))]
    return []


def _page(
    request: Request, db: DbSession, actor: Actor, *, status_code: int = 200, **context: Any
) -> Response:
    return render(
        request,
        "catalog/transfer_import.html",
        {
            "title": "目录导入",
            "departments": _departments(db, actor),
            "max_mb": DEFAULT_MAX_IMPORT_BYTES // 1024 // 1024,
            "resource_columns": RESOURCE_COLUMNS,
            "element_columns": ELEMENT_COLUMNS,
            "actions_zh": ACTIONS_ZH,
            **context,
        },
        status_code=status_code,
    )


@router.get("/catalog/import", response_class=HTMLResponse)
def import_page(request: Request, db: DbSession, actor: SignedInActor) -> Response:
    require_roles(actor, *EDITOR_ROLES)
    return _page(request, db, actor)


@router.post("/catalog/import", response_class=HTMLResponse)
async def import_upload(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    file: Annotated[UploadFile | None, File()] = None,
    department_id: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    require_roles(actor, *EDITOR_ROLES)
    dept = int(department_id) if department_id.strip().isdigit() else None
    if file is None or not file.filename:
        return _page(request, db, actor, error="请选择要上传的文件", status_code=400)
    try:
        data = await read_limited(file, DEFAULT_MAX_IMPORT_BYTES)
        report = catalog_import(
            db,
            actor=actor,
            data=data,
            filename=file.filename,
            max_bytes=DEFAULT_MAX_IMPORT_BYTES,
            department_id=dept,
            zone=settings.zone,
        )
    except ValidationError as exc:
        return _page(request, db, actor, error=exc.message, status_code=400)
    token = _store(settings, actor, data, file.filename, dept)
    return _page(request, db, actor, report=report, token=token, status_code=200 if report.ok else 400)


@router.post("/catalog/import/confirm", response_class=HTMLResponse)
def import_confirm(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    token: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    require_roles(actor, *EDITOR_ROLES)
    data, meta = _load(settings, actor, token)
    report: ImportReport = catalog_import(
        db,
        actor=actor,
        data=data,
        filename=str(meta.get("filename") or ""),
        max_bytes=DEFAULT_MAX_IMPORT_BYTES,
        department_id=meta.get("department_id"),
        apply=True,
        zone=settings.zone,
    )
    if report.applied:
        folder = _uploads(settings)
        (folder / f"{token}.bin").unlink(missing_ok=True)
        (folder / f"{token}.json").unlink(missing_ok=True)
        return _page(request, db, actor, report=report, done=True)
    return _page(request, db, actor, report=report, token=token, status_code=400)


@router.post("/catalog/import/errors")
def import_errors_download(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    token: Annotated[str, Form()] = "",
    format: Annotated[str, Form()] = "xlsx",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    require_roles(actor, *EDITOR_ROLES)
    data, meta = _load(settings, actor, token)
    report = catalog_import(
        db,
        actor=actor,
        data=data,
        filename=str(meta.get("filename") or ""),
        max_bytes=DEFAULT_MAX_IMPORT_BYTES,
        department_id=meta.get("department_id"),
        zone=settings.zone,
    )
    return file_response(import_issues_file(report, "csv" if format == "csv" else "xlsx"))


@router.get("/catalog/export", response_class=HTMLResponse)
def export_page(request: Request, db: DbSession, actor: SignedInActor) -> Response:
    dept = db.get(Department, actor.department_id) if actor.department_id else None
    can_department = dept is not None and actor.has(Role.DATA_ADMIN, Role.PLATFORM_ADMIN)
    return render(
        request,
        "catalog/transfer_export.html",
        {"title": "目录导出", "department": dept if can_department else None},
    )


@router.get("/catalog/export/download")
def export_download(
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    format: str = "xlsx",
    scope: str = "published",
) -> Response:
    return file_response(
        catalog_export(db, actor=actor, fmt=format, scope=scope, base_url=settings.effective_base_url)
    )


@router.get("/catalog/export.ttl")
def export_turtle(db: DbSession, actor: SignedInActor, settings: AppSettings) -> Response:
    export = catalog_export(db, actor=actor, fmt="ttl", base_url=settings.effective_base_url)
    return Response(export.content, media_type=export.media_type)


@router.get("/catalog/export.jsonld")
def export_jsonld(db: DbSession, actor: SignedInActor, settings: AppSettings) -> Response:
    export = catalog_export(db, actor=actor, fmt="jsonld", base_url=settings.effective_base_url)
    return Response(export.content, media_type=export.media_type)
