"""Pages of the sharing workflow under /sharing (Simplified Chinese).

我的申请 (/sharing/requests), 待我审批 (/sharing/requests/to-me), a request's page with its history,
the resource page with its consumers and the request form (/sharing/resources/{code}), grants, correction
requests, the platform's escalations and the statistics per department (/sharing/stats).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department, Role
from zhengwu.accounts.permissions import Actor, require_authenticated
from zhengwu.catalog.models import Resource, ResourceStatus, ShareType
from zhengwu.catalog.models import label_zh as catalog_label_zh
from zhengwu.errors import PermissionDenied, ValidationError, ZhengwuError
from zhengwu.sharing.api import correction_deadline
from zhengwu.sharing.calendar import beijing_today, calendar_covers
from zhengwu.sharing.common import DEPARTMENT_STAFF, published_elements, resource_by_code
from zhengwu.sharing.corrections import (
    correction_answer,
    correction_create,
    correction_list,
)
from zhengwu.sharing.grants import grant_list, grant_list_for_resource, grant_revoke
from zhengwu.sharing.models import SHARE_TYPE_ZH, CorrectionStatus, RequestStatus
from zhengwu.sharing.schemas import (
    CorrectionAnswerIn,
    CorrectionIn,
    ShareRequestIn,
)
from zhengwu.sharing.services import (
    share_request_approve,
    share_request_create,
    share_request_get,
    share_request_history,
    share_request_list,
    share_request_refuse,
    share_request_withdraw,
)
from zhengwu.sharing.stats import bars, share_type_mix, sharing_stats
from zhengwu.web.deps import AppSettings, DbSession, SignedInActor, check_csrf
from zhengwu.web.forms import optional_int
from zhengwu.web.nav import NavItem
from zhengwu.web.templating import render

router = APIRouter(include_in_schema=False)

NAV = [
    NavItem(
        "共享申请",
        "/sharing/requests",
        order=40,
        roles=frozenset({Role.DATA_ADMIN, Role.DEVELOPER, Role.PLATFORM_ADMIN}),
    ),
    NavItem("统计", "/sharing/stats", order=90, signed_in=True),
]

M = TypeVar("M", bound=BaseModel)

FIELD_LABELS = {
    "resource_code": "资源",
    "elements": "信息项",
    "element": "信息项",
    "purpose": "用途",
    "legal_basis": "申请依据",
    "consumer_system": "使用系统",
    "valid_from": "有效期起始日期",
    "valid_until": "有效期截止日期",
    "consumer_department_id": "申请部门",
    "record_key": "记录标识",
    "value_seen": "现有值",
    "value_expected": "正确值",
    "evidence": "依据材料",
    "outcome": "答复结果",
    "answer": "答复说明",
    "reason": "理由",
}


def sharing_form(model: type[M], data: Mapping[str, object]) -> M:
    """Validate a form; the first problem becomes a Chinese message naming the field."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        err = exc.errors()[0]
        field = str(err["loc"][0]) if err["loc"] else ""
        label = FIELD_LABELS.get(field, field)
        kind = err["type"]
        if kind in ("missing", "string_too_short") or (kind == "too_short" and field != "elements"):
            message = f"请填写{label}"
        elif kind == "too_short":
            message = "请至少选择一个信息项"
        elif kind in ("string_too_long", "too_long"):
            limit = (err.get("ctx") or {}).get("max_length")
            message = f"{label}过长" + (f"（最多 {limit} 个字符）" if limit else "")
        elif kind.startswith("date"):
            message = f"{label}不是有效日期（格式 2026-01-31）"
        else:
            message = f"{label}填写有误"
        raise ValidationError(
            message,
            message_en=f"invalid {field}: {err['msg']}",
            field=field or None,
            errors=[{"field": ".".join(str(p) for p in e["loc"]), "reason": e["msg"]} for e in exc.errors()],
        ) from exc


def _tabs(actor: Actor) -> list[tuple[str, str]]:
    tabs = [("/sharing/requests", "我的申请")]
    if actor.has(Role.DATA_ADMIN, Role.PLATFORM_ADMIN):
        tabs.append(("/sharing/requests/to-me", "待我审批"))
    tabs += [("/sharing/grants", "授权"), ("/sharing/corrections", "数据校核")]
    if actor.has(Role.PLATFORM_ADMIN):
        tabs.append(("/sharing/escalated", "平台督办"))
    tabs.append(("/sharing/stats", "统计"))
    return tabs


def _page(
    request: Request, actor: Actor, template: str, ctx: dict[str, Any], *, status_code: int = 200
) -> Response:
    ctx.setdefault("tabs", _tabs(actor))
    ctx.setdefault("today", beijing_today())
    ctx.setdefault("catalog_label", catalog_label_zh)
    ctx.setdefault("SHARE_TYPE_ZH", SHARE_TYPE_ZH)
    return render(request, template, ctx, status_code=status_code)


def _flash(request: Request) -> dict[str, str]:
    done = request.query_params.get("done", "")
    messages = {
        "created": "申请已提交",
        "granted": "无条件共享资源，申请已自动获得授权",
        "approved": "已批准，授权已生成",
        "refused": "已拒绝该申请",
        "withdrawn": "申请已撤回",
        "revoked": "授权已撤销",
        "reported": "校核申请已提交，提供部门将在期限内答复",
        "answered": "校核已答复",
    }
    return {"flash": messages[done]} if done in messages else {}


@router.get("/sharing")
def sharing_home() -> Response:
    return RedirectResponse("/sharing/requests", status_code=303)


# --- Requests ---------------------------------------------------------------------------------------


@router.get("/sharing/requests", response_class=HTMLResponse)
def my_requests(request: Request, db: DbSession, actor: SignedInActor) -> Response:
    rows = share_request_list(db, actor=actor, box="mine")
    return _page(
        request,
        actor,
        "sharing/requests.html",
        {"title": "我的申请", "rows": rows, "box": "mine", **_flash(request)},
    )


@router.get("/sharing/requests/to-me", response_class=HTMLResponse)
def requests_to_me(request: Request, db: DbSession, actor: SignedInActor) -> Response:
    rows = share_request_list(db, actor=actor, box="to_me")
    pending = sorted((r for r in rows if r.status == RequestStatus.PENDING), key=lambda r: (r.due_on, r.id))
    done = [r for r in rows if r.status != RequestStatus.PENDING]
    return _page(
        request,
        actor,
        "sharing/to_me.html",
        {"title": "待我审批", "pending": pending, "done": done, **_flash(request)},
    )


@router.get("/sharing/escalated", response_class=HTMLResponse)
def escalated(request: Request, db: DbSession, actor: SignedInActor) -> Response:
    rows = share_request_list(db, actor=actor, box="escalated")
    corrections = [c for c in correction_list(db, actor=actor, box="all") if c.escalated_at and c.overdue]
    return _page(
        request,
        actor,
        "sharing/escalated.html",
        {"title": "平台督办", "rows": rows, "corrections": corrections},
    )


def _request_page(
    request: Request,
    db: Session,
    actor: Actor,
    request_id: int,
    *,
    flash: dict[str, str],
    status_code: int = 200,
) -> Response:
    row = share_request_get(db, actor=actor, request_id=request_id)
    history = share_request_history(db, actor=actor, request_id=request_id)
    can_answer = row.status == RequestStatus.PENDING and (
        actor.has(Role.PLATFORM_ADMIN)
        or (actor.has(Role.DATA_ADMIN) and actor.department_id == row.provider_id)
    )
    can_withdraw = row.status == RequestStatus.PENDING and (
        actor.has(Role.PLATFORM_ADMIN)
        or (actor.has(*DEPARTMENT_STAFF) and actor.department_id == row.consumer_id)
    )
    return _page(
        request,
        actor,
        "sharing/request.html",
        {
            "title": f"共享申请 #{row.id}",
            "r": row,
            "history": history,
            "can_answer": can_answer,
            "can_withdraw": can_withdraw,
            **flash,
        },
        status_code=status_code,
    )


@router.get("/sharing/requests/{request_id}", response_class=HTMLResponse)
def request_page(request: Request, db: DbSession, actor: SignedInActor, request_id: int) -> Response:
    return _request_page(request, db, actor, request_id, flash=_flash(request))


def _back(request: Request, default: str) -> str:
    # Answer forms sit on two pages; go back to the one the form came from (same-site paths only).
    target = request.query_params.get("back", "")
    return target if target.startswith("/sharing/") and not target.startswith("//") else default


@router.post("/sharing/requests/{request_id}/approve")
def request_approve(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    request_id: int,
    elements: Annotated[list[str] | None, Form()] = None,
    comment: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        if not elements:
            raise ValidationError(
                "请至少勾选一个批准的信息项；如不同意，请填写理由后拒绝",
                message_en="select at least one element",
                field="elements",
            )
        share_request_approve(
            db, actor=actor, request_id=request_id, elements=list(elements), comment=comment[:5000]
        )
    except ValidationError as exc:
        return _request_page(
            request,
            db,
            actor,
            request_id,
            flash={"flash": exc.message, "flash_kind": "error"},
            status_code=400,
        )
    return RedirectResponse(
        _back(request, f"/sharing/requests/{request_id}") + "?done=approved", status_code=303
    )


@router.post("/sharing/requests/{request_id}/refuse")
def request_refuse(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    request_id: int,
    reason: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        share_request_refuse(db, actor=actor, request_id=request_id, reason=reason)
    except ValidationError as exc:
        return _request_page(
            request,
            db,
            actor,
            request_id,
            flash={"flash": exc.message, "flash_kind": "error"},
            status_code=400,
        )
    return RedirectResponse(
        _back(request, f"/sharing/requests/{request_id}") + "?done=refused", status_code=303
    )


@router.post("/sharing/requests/{request_id}/withdraw")
def request_withdraw(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    request_id: int,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    share_request_withdraw(db, actor=actor, request_id=request_id)
    return RedirectResponse(f"/sharing/requests/{request_id}?done=withdrawn", status_code=303)


# --- Resource page: who uses it, and the request form ------------------------------------------------


def _can_request(actor: Actor) -> bool:
    return actor.has(Role.PLATFORM_ADMIN) or (
        actor.department_id is not None and actor.has(*DEPARTMENT_STAFF)
    )


def _resource_page(
    request: Request,
    db: Session,
    actor: Actor,
    code: str,
    *,
    form: dict[str, Any] | None = None,
    flash: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    require_authenticated(actor)
    resource = resource_by_code(db, code, field="code")
    grants = grant_list_for_resource(db, actor=actor, resource_id=resource.id)
    elements = published_elements(db, resource)
    provider = db.get(Department, resource.provider_id)
    today = beijing_today()
    departments: list[tuple[int, str]] = []
    if actor.has(Role.PLATFORM_ADMIN):
        departments = [
            (int(i), str(n))
            for i, n in db.execute(
                select(Department.id, Department.name)
                .where(Department.is_active.is_(True), Department.id != resource.provider_id)
                .order_by(Department.code)
            )
        ]
    form = form or {
        "elements": [],
        "purpose": "",
        "legal_basis": "",
        "consumer_system": "",
        "valid_from": today.isoformat(),
        "valid_until": today.replace(year=today.year + 1).isoformat()
        if not (today.month == 2 and today.day == 29)
        else dt.date(today.year + 1, 2, 28).isoformat(),
        "consumer_department_id": "",
    }
    requestable = (
        resource.status == ResourceStatus.PUBLISHED
        and resource.share_type != ShareType.NONE
        and _can_request(actor)
        and (actor.has(Role.PLATFORM_ADMIN) or actor.department_id != resource.provider_id)
    )
    return _page(
        request,
        actor,
        "sharing/resource.html",
        {
            "title": resource.name,
            "res": resource,
            "provider_name": provider.name if provider else "",
            "elements": elements,
            "grants": grants,
            "form": form,
            "requestable": requestable,
            "departments": departments,
            "is_provider": actor.department_id == resource.provider_id,
            **(flash or {}),
        },
        status_code=status_code,
    )


@router.get("/sharing/resources/{code}", response_class=HTMLResponse)
def resource_page(request: Request, db: DbSession, actor: SignedInActor, code: str) -> Response:
    return _resource_page(request, db, actor, code)


@router.post("/sharing/resources/{code}/request", response_class=HTMLResponse)
def resource_request(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    code: str,
    elements: Annotated[list[str] | None, Form()] = None,
    purpose: Annotated[str, Form()] = "",
    legal_basis: Annotated[str, Form()] = "",
    consumer_system: Annotated[str, Form()] = "",
    valid_from: Annotated[str, Form()] = "",
    valid_until: Annotated[str, Form()] = "",
    consumer_department_id: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    form = {
        "elements": elements or [],
        "purpose": purpose,
        "legal_basis": legal_basis,
        "consumer_system": consumer_system,
        "valid_from": valid_from,
        "valid_until": valid_until,
        "consumer_department_id": consumer_department_id,
    }
    try:
        data = sharing_form(
            ShareRequestIn,
            {
                "resource_code": code,
                "elements": elements or [],
                "purpose": purpose,
                "legal_basis": legal_basis,
                "consumer_system": consumer_system,
                "valid_from": valid_from.strip(),
                "valid_until": valid_until.strip(),
                "consumer_department_id": optional_int(consumer_department_id),
            },
        )
        out = share_request_create(
            db, actor=actor, data=data, deadline_working_days=settings.share_request_deadline_working_days
        )
    except ZhengwuError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        return _resource_page(
            request,
            db,
            actor,
            code,
            form=form,
            flash={"flash": exc.message, "flash_kind": "error", "error_field": exc.field or ""},
            status_code=400,
        )
    done = "granted" if out.auto_granted else "created"
    return RedirectResponse(f"/sharing/requests/{out.id}?done={done}", status_code=303)


# --- Grants -----------------------------------------------------------------------------------------


@router.get("/sharing/grants", response_class=HTMLResponse)
def grants_page(request: Request, db: DbSession, actor: SignedInActor) -> Response:
    if actor.has(Role.PLATFORM_ADMIN) and request.query_params.get("box") == "all":
        held, given, all_grants = [], [], grant_list(db, actor=actor, box="all")
    else:
        held = grant_list(db, actor=actor, box="mine")
        given = grant_list(db, actor=actor, box="given")
        all_grants = []
    can_revoke = actor.has(Role.DATA_ADMIN, Role.PLATFORM_ADMIN)
    return _page(
        request,
        actor,
        "sharing/grants.html",
        {
            "title": "授权",
            "held": held,
            "given": given,
            "all_grants": all_grants,
            "can_revoke": can_revoke,
            **_flash(request),
        },
    )


@router.post("/sharing/grants/{grant_id}/revoke")
def grant_revoke_post(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    grant_id: int,
    reason: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        grant_revoke(db, actor=actor, grant_id=grant_id, reason=reason)
    except ValidationError as exc:
        held = grant_list(db, actor=actor, box="mine") if actor.department_id else []
        given = grant_list(db, actor=actor, box="given") if actor.department_id else []
        return _page(
            request,
            actor,
            "sharing/grants.html",
            {
                "title": "授权",
                "held": held,
                "given": given,
                "all_grants": [],
                "can_revoke": True,
                "flash": exc.message,
                "flash_kind": "error",
            },
            status_code=400,
        )
    return RedirectResponse("/sharing/grants?done=revoked", status_code=303)


# --- Corrections ------------------------------------------------------------------------------------


def _corrections_page(
    request: Request,
    db: Session,
    actor: Actor,
    *,
    form: dict[str, Any] | None = None,
    flash: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    if actor.has(Role.PLATFORM_ADMIN) and actor.department_id is None:
        mine, to_me = [], correction_list(db, actor=actor, box="all")
    else:
        mine = correction_list(db, actor=actor, box="mine")
        to_me = correction_list(db, actor=actor, box="to_me")
    form = form or {"resource_code": request.query_params.get("resource", "")}
    chosen: Resource | None = None
    elements: list[Any] = []
    code = str(form.get("resource_code") or "").strip()
    if code:
        chosen = db.scalar(
            select(Resource).where(Resource.code == code, Resource.status == ResourceStatus.PUBLISHED)
        )
        if chosen is not None:
            elements = published_elements(db, chosen)
    return _page(
        request,
        actor,
        "sharing/corrections.html",
        {
            "title": "数据校核",
            "mine": mine,
            "to_me": to_me,
            "form": form,
            "chosen": chosen,
            "elements": elements,
            "can_answer": actor.has(Role.DATA_ADMIN, Role.PLATFORM_ADMIN),
            **(flash or {}),
        },
        status_code=status_code,
    )


@router.get("/sharing/corrections", response_class=HTMLResponse)
def corrections_page(request: Request, db: DbSession, actor: SignedInActor) -> Response:
    return _corrections_page(request, db, actor, flash=_flash(request))


@router.post("/sharing/corrections", response_class=HTMLResponse)
def corrections_create(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    resource_code: Annotated[str, Form()] = "",
    element: Annotated[str, Form()] = "",
    record_key: Annotated[str, Form()] = "",
    value_seen: Annotated[str, Form()] = "",
    value_expected: Annotated[str, Form()] = "",
    evidence: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    form = {
        "resource_code": resource_code,
        "element": element,
        "record_key": record_key,
        "value_seen": value_seen,
        "value_expected": value_expected,
        "evidence": evidence,
    }
    try:
        data = sharing_form(CorrectionIn, form)
        correction_create(db, actor=actor, data=data, deadline_working_days=correction_deadline(settings))
    except ZhengwuError as exc:
        if isinstance(exc, PermissionDenied):
            raise
        return _corrections_page(
            request,
            db,
            actor,
            form=form,
            flash={"flash": exc.message, "flash_kind": "error"},
            status_code=400,
        )
    return RedirectResponse("/sharing/corrections?done=reported", status_code=303)


@router.post("/sharing/corrections/{correction_id}/answer", response_class=HTMLResponse)
def corrections_answer(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    correction_id: int,
    outcome: Annotated[str, Form()] = "",
    answer: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        if outcome not in (CorrectionStatus.CORRECTED.value, CorrectionStatus.NOT_AN_ERROR.value):
            raise ValidationError(
                "请选择答复结果：已更正或经核无误", message_en="choose an outcome", field="outcome"
            )
        data = sharing_form(CorrectionAnswerIn, {"outcome": outcome, "answer": answer})
        correction_answer(db, actor=actor, correction_id=correction_id, data=data)
    except ValidationError as exc:
        return _corrections_page(
            request, db, actor, flash={"flash": exc.message, "flash_kind": "error"}, status_code=400
        )
    return RedirectResponse("/sharing/corrections?done=answered", status_code=303)


# --- Statistics -------------------------------------------------------------------------------------


def _query_date(value: str | None, field: str) -> dt.date | None:
    if not value or not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(
            "日期格式应为 YYYY-MM-DD", message_en="dates are YYYY-MM-DD", code="invalid_date", field=field
        ) from None


@router.get("/sharing/stats", response_class=HTMLResponse)
def stats_page(request: Request, db: DbSession, actor: SignedInActor) -> Response:
    stats = sharing_stats(
        db,
        actor=actor,
        period_from=_query_date(request.query_params.get("from"), "from"),
        period_to=_query_date(request.query_params.get("to"), "to"),
    )
    wanted = optional_int(request.query_params.get("department")) or actor.department_id
    selected = next((d for d in stats.departments if d.department_id == wanted), None)
    focus = selected or stats.totals
    return _page(
        request,
        actor,
        "sharing/stats.html",
        {
            "title": "共享统计",
            "stats": stats,
            "focus": focus,
            "focus_mix": share_type_mix(focus),
            "answer_bars": bars(
                [
                    ("按时答复", focus.answered_on_time),
                    ("超期答复", focus.answered_late),
                    ("待审批", focus.pending),
                    ("其中逾期", focus.overdue),
                ]
            ),
            "selected_id": selected.department_id if selected else None,
            "calendar_known": calendar_covers(stats.today),
        },
    )
