"""JSON API of the base registries under /api/v1/registries: lookup, history, search, verification (核验),
quality reports and the ingestion history.

Invalid identifiers answer 400 with the kernel's reason, unknown valid ones 404. Verification answers
``{"match": true|false}`` and nothing else.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import FileResponse

from zhengwu.registries.models import Registry
from zhengwu.registries.schemas import (
    BatchOut,
    EntityOut,
    EntityVerifyIn,
    Page,
    PersonOut,
    PersonVerifyIn,
    QualityReport,
    VerifyOut,
)
from zhengwu.registries.services import (
    History,
    batch_error_file,
    batch_list,
    entity_get,
    entity_history,
    entity_search,
    entity_verify,
    parse_as_of,
    person_get,
    person_history,
    person_search,
    person_verify,
    quality_report,
)
from zhengwu.registries.uploads import (
    MAX_UPLOAD_BYTES,
    progress_get,
    require_upload,
    save_upload,
    upload_chunks,
    upload_ingest,
)
from zhengwu.web.deps import AppSettings, CurrentActor, DbSession

router = APIRouter(prefix="/api/v1/registries", tags=["registries"])


def _history_json(history: History) -> dict[str, Any]:
    return {
        "versions": [v.model_dump(mode="json") for v in history.versions],
        "provenance": {k: v.model_dump(mode="json") for k, v in history.provenance.items()},
    }


@router.post("/population/verify", summary="人口核验：身份号码与姓名是否匹配一名在世人员")
def api_person_verify(body: PersonVerifyIn, db: DbSession, actor: CurrentActor) -> VerifyOut:
    return VerifyOut(match=person_verify(db, actor=actor, resident_id=body.resident_id, name=body.name))


@router.post("/entities/verify", summary="法人核验：统一社会信用代码与名称是否匹配一家存续单位")
def api_entity_verify(body: EntityVerifyIn, db: DbSession, actor: CurrentActor) -> VerifyOut:
    return VerifyOut(match=entity_verify(db, actor=actor, uscc=body.uscc, name=body.name))


@router.get("/population", summary="按姓名开头和地区查询人员（分页）")
def api_person_search(
    db: DbSession,
    actor: CurrentActor,
    name: str | None = None,
    region: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page:
    return person_search(db, actor=actor, name_prefix=name, region=region, page=page, per_page=per_page)


@router.get("/population/{resident_id}", summary="按公民身份号码查询（可指定时点 as_of）")
def api_person_get(
    resident_id: str, db: DbSession, actor: CurrentActor, as_of: str | None = None
) -> PersonOut:
    return person_get(db, actor=actor, resident_id=resident_id, as_of=parse_as_of(as_of))


@router.get("/population/{resident_id}/history", summary="人员的历史版本与来源")
def api_person_history(resident_id: str, db: DbSession, actor: CurrentActor) -> dict[str, Any]:
    return _history_json(person_history(db, actor=actor, resident_id=resident_id))


@router.get("/entities", summary="按名称开头和地区查询法人单位（分页）")
def api_entity_search(
    db: DbSession,
    actor: CurrentActor,
    name: str | None = None,
    region: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page:
    return entity_search(db, actor=actor, name_prefix=name, region=region, page=page, per_page=per_page)


@router.get("/entities/{uscc}", summary="按统一社会信用代码查询（可指定时点 as_of）")
def api_entity_get(uscc: str, db: DbSession, actor: CurrentActor, as_of: str | None = None) -> EntityOut:
    return entity_get(db, actor=actor, uscc=uscc, as_of=parse_as_of(as_of))


@router.get("/entities/{uscc}/history", summary="法人单位的历史版本与来源")
def api_entity_history(uscc: str, db: DbSession, actor: CurrentActor) -> dict[str, Any]:
    return _history_json(entity_history(db, actor=actor, uscc=uscc))


@router.get("/quality/{registry}", summary="数据质量报告")
def api_quality(
    registry: Registry, db: DbSession, actor: CurrentActor, stale_days: int = 365
) -> QualityReport:
    return quality_report(db, actor=actor, registry=registry, stale_days=stale_days)


@router.get("/batches", summary="入库批次历史")
def api_batches(db: DbSession, actor: CurrentActor, registry: Registry | None = None) -> list[BatchOut]:
    return batch_list(db, actor=actor, registry=registry)


@router.get("/batches/{batch_id}/errors", summary="下载批次错误文件（CSV）")
def api_batch_errors(batch_id: int, db: DbSession, actor: CurrentActor) -> FileResponse:
    path, name = batch_error_file(db, actor=actor, batch_id=batch_id)
    return FileResponse(path, media_type="text/csv; charset=utf-8", filename=name)


@router.post("/{registry}/batches", summary="上传文件入库（CSV/XLSX/Parquet，multipart）")
async def api_upload(
    registry: Registry,
    db: DbSession,
    actor: CurrentActor,
    settings: AppSettings,
    file: Annotated[UploadFile, File(description="入库文件：.csv、.xlsx 或 .parquet")],
    source: Annotated[str, Form(description="来源部门代码")],
    mode: Annotated[
        Literal["atomic", "partial"], Form(description="atomic：全部或全不；partial：部分入库")
    ] = "atomic",
    job: Annotated[
        str | None, Form(description="进度编号（可选，8–64 位字母、数字、-、_）：用于查询进度")
    ] = None,
) -> dict[str, Any]:
    require_upload(db, actor=actor, source=source)
    base = settings.data_dir / "registries"
    path = await save_upload(upload_chunks(file), file.filename or "", base / "uploads", MAX_UPLOAD_BYTES)
    result = upload_ingest(
        db,
        actor=actor,
        registry=registry.value,
        source=source,
        path=path,
        mode=mode,
        error_dir=base / "errors",
        job=job,
    )
    return result.to_dict()


@router.get("/uploads/{job}", summary="上传入库的进度（已读入行数、是否完成）")
def api_upload_progress(job: str, actor: CurrentActor) -> dict[str, Any]:
    return progress_get(actor=actor, job=job)
