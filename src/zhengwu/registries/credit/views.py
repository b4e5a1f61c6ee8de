"""Pages of the credit registry under /registries/credit (Simplified Chinese).

Search (public: published records only), a subject's credit page (records, lists and the measures
attached, repair history for staff, "as of" for staff), the list catalog and a list's management page
for its issuing department, the repair form, the credit check of the one-stop-service window and the
credit report page with its signed JSON and PDF downloads, and the quality report and ingestion history
(error files to download) of records and list entries.

This router must be included before the registries' pages: ``/registries/{registry}`` would otherwise
take ``/registries/credit``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from zhengwu.errors import ValidationError
from zhengwu.registries.credit.lists import entry_add, entry_remove, list_catalog, list_entries, list_get
from zhengwu.registries.credit.models import (
    BATCH_LIST_ENTRIES,
    BATCH_RECORDS,
    LIST_TYPE_ZH,
    MEASURE_KIND_ZH,
    RECORD_KIND_ZH,
    STATUS_ZH,
    SUBJECT_TYPE_ZH,
    RecordKind,
    Status,
    SubjectType,
)
from zhengwu.registries.credit.pdf import credit_report_pdf
from zhengwu.registries.credit.quality import credit_quality
from zhengwu.registries.credit.report import credit_report_build, credit_report_sign, platform_key
from zhengwu.registries.credit.schemas import EntryIn, RepairIn
from zhengwu.registries.credit.services import (
    credit_check,
    is_staff,
    record_search,
    repair_apply,
    repair_target,
    subject_credit,
)
from zhengwu.registries.models import BATCH_STATUS_ZH, BatchStatus
from zhengwu.registries.services import READ_ROLES, batch_list, parse_as_of
from zhengwu.web.deps import AppSettings, CurrentActor, DbSession, SignedInActor, check_csrf
from zhengwu.web.nav import NavItem
from zhengwu.web.templating import render

router = APIRouter(include_in_schema=False)

NAV = [NavItem("信用信息", "/registries/credit", order=52)]


def _labels() -> dict[str, Any]:
    return {
        "kind_zh": {k.value: v for k, v in RECORD_KIND_ZH.items()},
        "status_zh": {k.value: v for k, v in STATUS_ZH.items()},
        "list_type_zh": {k.value: v for k, v in LIST_TYPE_ZH.items()},
        "measure_kind_zh": {k.value: v for k, v in MEASURE_KIND_ZH.items()},
        "subject_type_zh": {k.value: v for k, v in SUBJECT_TYPE_ZH.items()},
    }


@router.get("/registries/credit", response_class=HTMLResponse)
def credit_search_page(
    request: Request,
    db: DbSession,
    actor: CurrentActor,
    q: str | None = None,
    kind: RecordKind | None = None,
    page: int = 1,
) -> Response:
    result = record_search(db, actor=actor, q=q, kind=kind, page=page) if q and q.strip() else None
    return render(
        request,
        "credit/search.html",
        {
            **_labels(),
            "title": "社会信用信息库",
            "q": q or "",
            "kind": kind.value if kind else "",
            "result": result,
            "staff": is_staff(actor),
        },
    )


@router.get("/registries/credit/subjects/{subject_id}", response_class=HTMLResponse)
def credit_subject_page(
    request: Request, subject_id: str, db: DbSession, actor: CurrentActor, as_of: str | None = None
) -> Response:
    credit = subject_credit(db, actor=actor, subject_id=subject_id, as_of=parse_as_of(as_of))
    lists = {c.code: c for c in list_catalog(db, actor=actor)}
    return render(
        request,
        "credit/subject.html",
        {
            **_labels(),
            "title": f"{credit.subject_name or credit.subject_id} 信用信息",
            "credit": credit,
            "lists": lists,
            "key": subject_id.strip(),
            "as_of": as_of or "",
            "staff": is_staff(actor),
            "is_entity": credit.subject_type == SubjectType.ENTITY.value,
        },
    )


@router.get("/registries/credit/lists", response_class=HTMLResponse)
def credit_lists_page(request: Request, db: DbSession, actor: CurrentActor) -> Response:
    return render(
        request,
        "credit/lists.html",
        {**_labels(), "title": "红黑名单与联合奖惩措施", "lists": list_catalog(db, actor=actor)},
    )


def _list_page(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    code: str,
    *,
    flash: str | None = None,
    status_code: int = 200,
) -> Response:
    info = list_get(db, actor=actor, code=code)
    entries = list_entries(
        db, actor=actor, list_code=code, page=int(request.query_params.get("page", "1") or 1)
    )
    return render(
        request,
        "credit/list_manage.html",
        {
            **_labels(),
            "title": f"名单管理：{info.name}",
            "info": info,
            "entries": entries,
            "flash": flash,
            "flash_kind": "error",
            "today": dt.date.today().isoformat(),
            "active": Status.ACTIVE.value,
        },
        status_code=status_code,
    )


@router.get("/registries/credit/lists/{code}", response_class=HTMLResponse)
def credit_list_manage_page(request: Request, code: str, db: DbSession, actor: SignedInActor) -> Response:
    return _list_page(request, db, actor, code)


@router.post("/registries/credit/lists/{code}/entries")
def credit_entry_add_form(
    request: Request,
    code: str,
    db: DbSession,
    actor: SignedInActor,
    decision_number: Annotated[str, Form()] = "",
    subject_id: Annotated[str, Form()] = "",
    subject_name: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    basis: Annotated[str, Form()] = "",
    period_from: Annotated[str, Form()] = "",
    period_to: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        data = EntryIn(
            decision_number=decision_number[:128] or "-",
            subject_id=subject_id[:40] or "-",
            subject_name=subject_name[:200] or "-",
            reason=reason[:4000] or "-",
            basis=basis[:4000] or "-",
            period_from=_form_date(period_from, "period_from") or dt.date.today(),
            period_to=_form_date(period_to, "period_to"),
        )
        entry_add(db, actor=actor, list_code=code, data=data)
    except ValidationError as exc:
        return _list_page(request, db, actor, code, flash=exc.message, status_code=400)
    return RedirectResponse(f"/registries/credit/lists/{code}?done=added", status_code=303)


@router.post("/registries/credit/entries/{entry_id}/remove")
def credit_entry_remove_form(
    request: Request,
    entry_id: int,
    db: DbSession,
    actor: SignedInActor,
    list_code: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    entry_remove(db, actor=actor, entry_id=entry_id, reason=reason[:2000])
    safe = list_code if list_code.replace("-", "").replace("_", "").replace(".", "").isalnum() else ""
    return RedirectResponse(
        f"/registries/credit/lists/{safe}?done=removed" if safe else "/registries/credit/lists",
        status_code=303,
    )


def _form_date(value: str, field: str) -> dt.date | None:
    text = value.strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(
            f"日期“{text}”无效，应为 YYYY-MM-DD",
            message_en="invalid date",
            code="credit.form.date",
            field=field,
        ) from exc


@router.get("/registries/credit/repair", response_class=HTMLResponse)
def credit_repair_page(
    request: Request, db: DbSession, actor: SignedInActor, target_type: str = "record", target_id: int = 0
) -> Response:
    target, department = repair_target(db, target_type, target_id)
    return render(
        request,
        "credit/repair.html",
        {
            **_labels(),
            "title": "信用修复",
            "target": target,
            "target_type": target_type,
            "department": department,
            "today": dt.date.today().isoformat(),
            "flash": None,
        },
    )


@router.post("/registries/credit/repair")
def credit_repair_form(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    target_type: Annotated[str, Form()] = "",
    target_id: Annotated[int, Form()] = 0,
    decision_number: Annotated[str, Form()] = "",
    decision_date: Annotated[str, Form()] = "",
    rectification: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    target, _ = repair_target(db, target_type, target_id)
    day = _form_date(decision_date, "decision_date")
    if day is None or not decision_number.strip() or not rectification.strip():
        raise ValidationError(
            "请填写修复决定文书号、决定日期和整改情况",
            message_en="decision number, date and rectification are required",
            code="credit.repair.form",
        )
    repair_apply(
        db,
        actor=actor,
        data=RepairIn(
            target_type=target_type,
            target_id=target_id,
            decision_number=decision_number[:128],
            decision_date=day,
            rectification=rectification[:4000],
        ),
    )
    return RedirectResponse(f"/registries/credit/subjects/{target.subject_id}?done=repaired", status_code=303)


@router.get("/registries/credit/check", response_class=HTMLResponse)
def credit_check_page(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    subject_id: str | None = None,
    item_code: str | None = None,
) -> Response:
    result = None
    if subject_id and item_code:
        result = credit_check(db, actor=actor, subject_id=subject_id, item_code=item_code)
    return render(
        request,
        "credit/check.html",
        {
            **_labels(),
            "title": "信用核查",
            "subject_id": subject_id or "",
            "item_code": item_code or "",
            "result": result,
            "allowed": actor.has(*READ_ROLES),
        },
    )


@router.get("/registries/credit/entities/{uscc}/report", response_class=HTMLResponse)
def credit_report_page(
    request: Request, uscc: str, db: DbSession, actor: SignedInActor, settings: AppSettings
) -> Response:
    envelope = credit_report_sign(
        credit_report_build(db, actor=actor, uscc=uscc), platform_key(settings.data_dir)
    )
    return render(
        request,
        "credit/report.html",
        {
            **_labels(),
            "title": f"信用报告：{envelope['report']['subject']['name']}",
            "env": envelope,
            "uscc": uscc,
        },
    )


@router.get("/registries/credit/entities/{uscc}/report.json")
def credit_report_download(uscc: str, db: DbSession, actor: SignedInActor, settings: AppSettings) -> Response:
    envelope = credit_report_sign(
        credit_report_build(db, actor=actor, uscc=uscc), platform_key(settings.data_dir)
    )
    body = json.dumps(envelope, ensure_ascii=False, indent=2).encode("utf-8")
    name = f"credit-report-{envelope['report']['subject']['uscc']}.json"
    return Response(
        body,
        media_type="application/json; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/registries/credit/entities/{uscc}/report.pdf")
def credit_report_pdf_download(
    uscc: str, db: DbSession, actor: SignedInActor, settings: AppSettings
) -> Response:
    key = platform_key(settings.data_dir)
    envelope = credit_report_sign(credit_report_build(db, actor=actor, uscc=uscc), key)
    name = f"credit-report-{envelope['report']['subject']['uscc']}.pdf"
    return Response(
        credit_report_pdf(envelope, key),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


#: Labels of the fields the credit quality report names.
QUALITY_LABELS: dict[str, str] = {
    "decision_name": "决定名称",
    "amount_yuan": "罚没金额",
    "validity_from": "有效期自",
    "validity_to": "有效期至",
    "publication_to": "公示截止",
    "period_to": "名单有效期至",
}


@router.get("/registries/credit/quality", response_class=HTMLResponse)
def credit_quality_page(
    request: Request, db: DbSession, actor: SignedInActor, stale_days: int = 365
) -> Response:
    return render(
        request,
        "credit/quality.html",
        {
            "title": "社会信用信息库 数据质量",
            "quality": credit_quality(db, actor=actor, stale_days=stale_days),
            "labels": QUALITY_LABELS,
        },
    )


@router.get("/registries/credit/batches", response_class=HTMLResponse)
def credit_batches_page(request: Request, db: DbSession, actor: SignedInActor) -> Response:
    return render(
        request,
        "credit/batches.html",
        {
            "title": "社会信用信息库 入库记录",
            "records": batch_list(db, actor=actor, batch_names=(BATCH_RECORDS,)),
            "entries": batch_list(db, actor=actor, batch_names=(BATCH_LIST_ENTRIES,)),
            "status_zh": BATCH_STATUS_ZH,
            "rejected": BatchStatus.REJECTED.value,
        },
    )
