"""Pages of the base registries under /registries (Simplified Chinese).

Per registry: a search page (name prefix and region, plus lookup by identifier with an optional
"as of" date), a record page with the current values, where each came from and the timeline of
versions, the data quality report, and the ingestion history with error files to download.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from zhengwu.accounts.models import Role
from zhengwu.identifiers import region_get
from zhengwu.registries.models import (
    BATCH_STATUS_ZH,
    ENTITY_FIELDS,
    PERSON_FIELDS,
    PERSON_STATUSES,
    REGISTRY_LABELS_ZH,
    RELATION_ROLES_ZH,
    SEX_ZH,
    BatchStatus,
    Registry,
)
from zhengwu.registries.services import (
    READ_ROLES,
    batch_error_file,
    batch_list,
    entity_get,
    entity_history,
    entity_search,
    parse_as_of,
    person_get,
    person_history,
    person_relations,
    person_search,
    quality_report,
)
from zhengwu.registries.uploads import (
    MAX_UPLOAD_BYTES,
    require_upload,
    save_upload,
    upload_chunks,
    upload_ingest,
)
from zhengwu.registries.validation import ETHNICITY_CODES
from zhengwu.web.deps import AppSettings, DbSession, SignedInActor, check_csrf
from zhengwu.web.nav import NavItem
from zhengwu.web.templating import render

router = APIRouter(include_in_schema=False)

NAV = [NavItem("基础库", "/registries", order=50, roles=frozenset(READ_ROLES))]

FIELD_LABELS: dict[str, str] = {
    "resident_id": "公民身份号码",
    "name": "名称/姓名",
    "former_names": "曾用名",
    "sex": "性别",
    "birth_date": "出生日期",
    "ethnicity": "民族",
    "nationality": "国籍",
    "household_region_code": "户籍地",
    "household_address": "户籍地址",
    "current_region_code": "现住地",
    "current_address": "现住址",
    "phone": "联系电话",
    "status": "状态",
    "status_date": "状态日期",
    "uscc": "统一社会信用代码",
    "entity_type": "单位类型",
    "registration_authority_code": "登记管理部门代码",
    "registration_authority": "登记机关",
    "org_code": "组织机构代码",
    "legal_representative_id": "法定代表人身份号码",
    "registered_capital": "注册资本",
    "currency": "币种",
    "established_date": "成立日期",
    "business_scope": "经营范围",
    "region_code": "住所所在地",
    "address": "住所",
}


def _region_name(code: str | None) -> str:
    if not code:
        return "—"
    region = region_get(code)
    return f"{region.full_name}（{code}）" if region else code


def _display(field: str, value: Any) -> str:
    """A stored value as a person reads it (codes decoded)."""
    if value is None or value == "" or value == []:
        return "—"
    if field == "sex":
        return SEX_ZH.get(str(value), str(value))
    if field == "ethnicity":
        return ETHNICITY_CODES.get(str(value), str(value))
    if field == "status":
        return PERSON_STATUSES.get(str(value), str(value))
    if field.endswith("region_code"):
        return _region_name(str(value))
    if isinstance(value, list):
        return "；".join(str(v) for v in value)
    if field == "registered_capital":
        return f"{int(value):,}"
    return str(value)


def _common(registry: Registry) -> dict[str, Any]:
    return {
        "registry": registry.value,
        "registry_label": REGISTRY_LABELS_ZH[registry],
        "labels": FIELD_LABELS,
        "display": _display,
        "status_zh": BATCH_STATUS_ZH,
        "Registry": Registry,
    }


@router.get("/registries")
def registries_home(actor: SignedInActor) -> Response:
    return RedirectResponse("/registries/population", status_code=303)


@router.get("/registries/{registry}", response_class=HTMLResponse)
def registry_search(
    request: Request,
    registry: Registry,
    db: DbSession,
    actor: SignedInActor,
    name: str | None = None,
    region: str | None = None,
    key: str | None = None,
    as_of: str | None = None,
    page: int = 1,
) -> Response:
    if key and key.strip():
        suffix = f"?as_of={as_of}" if as_of else ""
        return RedirectResponse(f"/registries/{registry.value}/{key.strip()}{suffix}", status_code=303)
    result = None
    if (name and name.strip()) or (region and region.strip()):
        search = person_search if registry is Registry.POPULATION else entity_search
        result = search(db, actor=actor, name_prefix=name, region=(region or "").strip() or None, page=page)
    return render(
        request,
        "registries/search.html",
        {
            **_common(registry),
            "title": REGISTRY_LABELS_ZH[registry],
            "result": result,
            "name": name or "",
            "region": region or "",
            "as_of": as_of or "",
        },
    )


@router.get("/registries/{registry}/quality", response_class=HTMLResponse)
def registry_quality(
    request: Request, registry: Registry, db: DbSession, actor: SignedInActor, stale_days: int = 365
) -> Response:
    report = quality_report(db, actor=actor, registry=registry, stale_days=stale_days)
    return render(
        request,
        "registries/quality.html",
        {
            **_common(registry),
            "title": f"{REGISTRY_LABELS_ZH[registry]} 数据质量",
            "report": report,
        },
    )


@router.get("/registries/{registry}/batches", response_class=HTMLResponse)
def registry_batches(request: Request, registry: Registry, db: DbSession, actor: SignedInActor) -> Response:
    batches = batch_list(db, actor=actor, registry=registry)
    return render(
        request,
        "registries/batches.html",
        {
            **_common(registry),
            "title": f"{REGISTRY_LABELS_ZH[registry]} 入库记录",
            "batches": batches,
            "rejected": BatchStatus.REJECTED.value,
            "may_upload": actor.has(Role.PLATFORM_ADMIN, Role.DATA_ADMIN),
            "job": secrets.token_urlsafe(12),
        },
    )


@router.post("/registries/{registry}/batches", response_class=HTMLResponse)
async def registry_upload(
    request: Request,
    registry: Registry,
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    file: Annotated[UploadFile, File()],
    source: Annotated[str, Form()],
    mode: Annotated[Literal["atomic", "partial"], Form()] = "atomic",
    csrf_token: Annotated[str, Form()] = "",
    job: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(request, csrf_token)
    require_upload(db, actor=actor, source=source.strip())
    base = settings.data_dir / "registries"
    path = await save_upload(upload_chunks(file), file.filename or "", base / "uploads", MAX_UPLOAD_BYTES)
    result = upload_ingest(
        db,
        actor=actor,
        registry=registry.value,
        source=source.strip(),
        path=path,
        mode=mode,
        error_dir=base / "errors",
        job=job,
    )
    return render(
        request,
        "registries/batches.html",
        {
            **_common(registry),
            "title": f"{REGISTRY_LABELS_ZH[registry]} 入库记录",
            "batches": batch_list(db, actor=actor, registry=registry),
            "rejected": BatchStatus.REJECTED.value,
            "may_upload": True,
            "result": result,
            "source": source,
            "job": secrets.token_urlsafe(12),
        },
    )


@router.get("/registries/batches/{batch_id}/errors")
def registry_batch_errors(batch_id: int, db: DbSession, actor: SignedInActor) -> Response:
    path, name = batch_error_file(db, actor=actor, batch_id=batch_id)
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=name)


@router.get("/registries/{registry}/{key}", response_class=HTMLResponse)
def registry_record(
    request: Request,
    registry: Registry,
    key: str,
    db: DbSession,
    actor: SignedInActor,
    as_of: str | None = None,
) -> Response:
    when = parse_as_of(as_of)
    if registry is Registry.POPULATION:
        record: Any = person_get(db, actor=actor, resident_id=key, as_of=when)
        history = person_history(db, actor=actor, resident_id=key)
        relations = person_relations(db, actor=actor, resident_id=key)
        fields = ["resident_id", *PERSON_FIELDS]
        title = record.name
    else:
        record = entity_get(db, actor=actor, uscc=key, as_of=when)
        history = entity_history(db, actor=actor, uscc=key)
        relations = None
        fields = ["uscc", *ENTITY_FIELDS]
        title = record.name
    values = record.model_dump()
    return render(
        request,
        "registries/record.html",
        {
            **_common(registry),
            "title": title,
            "record": record,
            "values": values,
            "fields": fields,
            "history": history,
            "relations": relations,
            "role_labels": RELATION_ROLES_ZH,
            "key": key,
            "as_of": as_of or "",
            "is_admin": actor.has(Role.PLATFORM_ADMIN),
        },
    )
