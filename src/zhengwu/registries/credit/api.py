"""JSON API of the credit registry under /api/v1/registries/credit.

Public reads (records search, subject page, list catalog) answer what is published; staff see more.
Invalid identifiers answer 400, unknown valid ones 404. The credit check is
``POST /api/v1/registries/credit/check`` with ``{"subject_id", "item_code", "on"?}``; the credit
report is an SM2-signed JSON envelope (see :mod:`zhengwu.registries.credit.report`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from zhengwu.crypto import sm2_public_key_from_private
from zhengwu.registries.credit.lists import (
    entry_add,
    entry_remove,
    list_catalog,
    list_create,
    list_entries,
    list_get,
    measure_create,
)
from zhengwu.registries.credit.models import ListType, RecordKind
from zhengwu.registries.credit.pdf import credit_report_pdf
from zhengwu.registries.credit.report import (
    credit_report_build,
    credit_report_sign,
    key_fingerprint,
    platform_key,
)
from zhengwu.registries.credit.schemas import (
    CheckIn,
    CheckOut,
    EntryIn,
    EntryOut,
    ListIn,
    ListOut,
    MeasureIn,
    MeasureOut,
    RecordOut,
    RepairIn,
    RepairOut,
    SubjectCredit,
)
from zhengwu.registries.credit.services import (
    credit_check,
    record_history,
    record_search,
    repair_apply,
    subject_credit,
)
from zhengwu.registries.schemas import Page
from zhengwu.registries.services import parse_as_of
from zhengwu.web.deps import AppSettings, CurrentActor, DbSession

router = APIRouter(prefix="/api/v1/registries/credit", tags=["credit"])


class RemoveIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


@router.get("/records", summary="双公示记录查询（按代码或名称开头；公众只见公示中的记录）")
def api_record_search(
    db: DbSession,
    actor: CurrentActor,
    q: str,
    kind: RecordKind | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page:
    return record_search(db, actor=actor, q=q, kind=kind, page=page, per_page=per_page)


@router.get("/records/{record_id}/history", summary="一条记录的历史版本（工作人员）")
def api_record_history(record_id: int, db: DbSession, actor: CurrentActor) -> list[RecordOut]:
    return record_history(db, actor=actor, record_id=record_id)


@router.get("/subjects/{subject_id}", summary="主体信用信息：记录、名单、修复（可指定时点 as_of）")
def api_subject(
    subject_id: str, db: DbSession, actor: CurrentActor, as_of: str | None = None
) -> SubjectCredit:
    return subject_credit(db, actor=actor, subject_id=subject_id, as_of=parse_as_of(as_of))


@router.post("/check", summary="信用核查：主体办理某事项时适用的联合奖惩措施")
def api_check(body: CheckIn, db: DbSession, actor: CurrentActor) -> CheckOut:
    return credit_check(db, actor=actor, subject_id=body.subject_id, item_code=body.item_code, on=body.on)


@router.get("/lists", summary="红黑名单及其联合奖惩措施")
def api_lists(db: DbSession, actor: CurrentActor, list_type: ListType | None = None) -> list[ListOut]:
    return list_catalog(db, actor=actor, list_type=list_type)


@router.post("/lists", summary="新建名单（认定部门）", status_code=201)
def api_list_create(body: ListIn, db: DbSession, actor: CurrentActor) -> ListOut:
    return list_create(db, actor=actor, data=body)


@router.get("/lists/{code}", summary="一个名单及其措施")
def api_list_get(code: str, db: DbSession, actor: CurrentActor) -> ListOut:
    return list_get(db, actor=actor, code=code)


@router.post("/lists/{code}/measures", summary="为名单添加联合奖惩措施", status_code=201)
def api_measure_create(code: str, body: MeasureIn, db: DbSession, actor: CurrentActor) -> MeasureOut:
    return measure_create(db, actor=actor, list_code=code, data=body)


@router.get("/lists/{code}/entries", summary="名单成员（认定部门管理）")
def api_list_entries(
    code: str, db: DbSession, actor: CurrentActor, status: str | None = None, page: int = 1
) -> Page:
    return list_entries(db, actor=actor, list_code=code, status=status, page=page)


@router.post("/lists/{code}/entries", summary="列入名单", status_code=201)
def api_entry_add(code: str, body: EntryIn, db: DbSession, actor: CurrentActor) -> EntryOut:
    return entry_add(db, actor=actor, list_code=code, data=body)


@router.post("/entries/{entry_id}/remove", summary="移出名单（保留历史）")
def api_entry_remove(entry_id: int, body: RemoveIn, db: DbSession, actor: CurrentActor) -> EntryOut:
    return entry_remove(db, actor=actor, entry_id=entry_id, reason=body.reason)


@router.post("/repairs", summary="信用修复：撤下公示，保留决定与历史", status_code=201)
def api_repair(body: RepairIn, db: DbSession, actor: CurrentActor) -> RepairOut:
    return repair_apply(db, actor=actor, data=body)


@router.get("/entities/{uscc}/report", summary="法人信用报告（SM2 签名的 JSON，分离式签名）")
def api_report(uscc: str, db: DbSession, actor: CurrentActor, settings: AppSettings) -> dict[str, Any]:
    report = credit_report_build(db, actor=actor, uscc=uscc)
    return credit_report_sign(report, platform_key(settings.data_dir))


@router.get("/entities/{uscc}/report.pdf", summary="法人信用报告（PDF，内嵌 SM2 签名报告并绑定页面）")
def api_report_pdf(uscc: str, db: DbSession, actor: CurrentActor, settings: AppSettings) -> Response:
    key = platform_key(settings.data_dir)
    envelope = credit_report_sign(credit_report_build(db, actor=actor, uscc=uscc), key)
    name = f"credit-report-{envelope['report']['subject']['uscc']}.pdf"
    return Response(
        credit_report_pdf(envelope, key),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/platform-key", summary="平台签名公钥及其指纹（离线验签用）")
def api_platform_key(settings: AppSettings) -> dict[str, str]:
    public_pem = sm2_public_key_from_private(platform_key(settings.data_dir))
    return {"public_pem": public_pem.decode("ascii"), "key_fingerprint": key_fingerprint(public_pem)}
