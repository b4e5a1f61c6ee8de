"""Pages of catalog entries: the resource page, versions and diffs, the editor, the review queue.

The public browse and search page ``/catalog`` belongs to catalog/search; this module serves
``/catalog/resources/{code}``, ``/catalog/manage`` and ``/catalog/review``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import Actor
from zhengwu.catalog import editor
from zhengwu.catalog.models import (
    Delivery,
    ElementType,
    OpenType,
    ResourceCategory,
    ResourceStatus,
    Secrecy,
    Sensitivity,
    ShareType,
    UpdateFrequency,
)
from zhengwu.catalog.schemas import (
    ELEMENT_LABELS_ZH,
    ENUM_LABELS_ZH,
    FIELD_LABELS_ZH,
    FORMAT_LABELS_ZH,
    ResourceCreate,
    ResourceOut,
    ResourceUpdate,
    label_zh,
)
from zhengwu.catalog.services import (
    editor_options,
    resource_allowed,
    resource_approve,
    resource_create,
    resource_delete_draft,
    resource_diff,
    resource_discard_revision,
    resource_get,
    resource_get_for_edit,
    resource_list_manage,
    resource_pending_diff,
    resource_reinstate,
    resource_reject,
    resource_revise,
    resource_submit,
    resource_update,
    resource_versions,
    resource_withdraw,
    review_queue,
)
from zhengwu.errors import PermissionDenied, ValidationError, ZhengwuError
from zhengwu.web.deps import AppSettings, DbSession, SignedInActor, check_csrf
from zhengwu.web.nav import NavItem
from zhengwu.web.templating import render

router = APIRouter(include_in_schema=False)

NAV = [
    NavItem("目录管理", "/catalog/manage", order=31, roles=frozenset({Role.DATA_ADMIN, Role.PLATFORM_ADMIN})),
    NavItem("目录审核", "/catalog/review", order=32, roles=frozenset({Role.REVIEWER, Role.PLATFORM_ADMIN})),
]

DONE_MESSAGES = {
    "created": "已创建草稿。信息资源代码已分配，之后不会改变。",
    "saved": "已保存。",
    "submitted": "已提交平台审核。审核期间不能修改。",
    "revised": "已开始修订。修订内容审核通过前，现行版本继续有效、对外可见。",
    "discarded": "已放弃修订，条目恢复为现行版本。",
    "withdrawn": "条目已撤销，不再出现在检索结果中。",
    "reinstate_requested": "已申请恢复，平台审核通过后条目以新版本重新发布。",
    "deleted": "草稿已删除。",
    "approved": "已审核通过并发布。",
    "rejected": "已退回提供部门。",
}

SENSITIVITY_TAG = {"public": "ok", "internal": "", "sensitive": "warn", "confidential": "bad"}
STATUS_TAG = {"draft": "", "submitted": "warn", "rejected": "bad", "published": "ok", "withdrawn": "bad"}


async def _form(request: Request) -> FormData:
    # The editor's element rows are dynamic (el-<row>-<field>), so the form is read whole.
    return await request.form()


PostedForm = Annotated[FormData, Depends(_form)]


def _choices() -> dict[str, Any]:
    """Options of every select of the editor, in the order the guideline lists them."""

    def opts(cls: type) -> list[tuple[str, str]]:
        return list(ENUM_LABELS_ZH[cls].items())

    return {
        "category": opts(ResourceCategory),
        "share_type": opts(ShareType),
        "open_type": opts(OpenType),
        "delivery": opts(Delivery),
        "update_frequency": opts(UpdateFrequency),
        "secrecy": opts(Secrecy),
        "data_type": opts(ElementType),
        "sensitivity": opts(Sensitivity),
        "format": list(FORMAT_LABELS_ZH.items()),
    }


def _common() -> dict[str, Any]:
    return {
        "zh": label_zh,
        "labels": FIELD_LABELS_ZH,
        "element_labels": ELEMENT_LABELS_ZH,
        "enum_labels": ENUM_LABELS_ZH,
        "format_labels": FORMAT_LABELS_ZH,
        "sensitivity_tag": SENSITIVITY_TAG,
        "status_tag": STATUS_TAG,
    }


def _value_zh(field: str, value: Any) -> str:
    """A snapshot value (plain JSON) shown to people: labels for enums, joined lists."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    if isinstance(value, bool):
        return "是" if value else "否"
    enum_of = {
        "category": ResourceCategory,
        "share_type": ShareType,
        "open_type": OpenType,
        "delivery": Delivery,
        "update_frequency": UpdateFrequency,
        "secrecy": Secrecy,
        "data_type": ElementType,
        "sensitivity": Sensitivity,
    }
    if field in enum_of:
        return ENUM_LABELS_ZH[enum_of[field]].get(str(value), str(value))
    if field == "format":
        return FORMAT_LABELS_ZH.get(str(value), str(value))
    return str(value)


# --- The resource page ------------------------------------------------------------------------------


def _resource_page(
    request: Request,
    db: DbSession,
    actor: Actor,
    code: str,
    *,
    working: bool = False,
    flash: str | None = None,
    flash_kind: str = "ok",
    status_code: int = 200,
) -> Response:
    resource = resource_get(db, actor=actor, code=code, working=working)
    allowed = resource_allowed(actor, resource)
    versions = resource_versions(db, actor=actor, code=code) if resource.published_version else []
    return render(
        request,
        "catalog/resource.html",
        {
            **_common(),
            "title": resource.name,
            "r": resource,
            "allowed": allowed,
            "versions": versions,
            "flash": flash,
            "flash_kind": flash_kind,
        },
        status_code=status_code,
    )


@router.get("/catalog/resources/{code}", response_class=HTMLResponse)
def resource_page(
    request: Request, db: DbSession, actor: SignedInActor, code: str, view: str = "", done: str = ""
) -> Response:
    return _resource_page(request, db, actor, code, working=view == "working", flash=DONE_MESSAGES.get(done))


@router.get("/catalog/resources/{code}/diff", response_class=HTMLResponse)
def diff_page(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    code: str,
) -> Response:
    # "from" is a Python keyword, so the two versions are read from the query string directly.
    params = request.query_params
    v_from, v_to = params.get("from", ""), params.get("to", "")
    if not v_from and not v_to:
        diff = resource_pending_diff(db, actor=actor, code=code)
    else:
        if not (v_from.isdigit() and v_to.isdigit()):
            raise ValidationError(
                "版本号须为正整数，如 ?from=1&to=2", message_en="from and to must be integers", field="from"
            )
        diff = resource_diff(db, actor=actor, code=code, v1=int(v_from), v2=int(v_to))
    resource = resource_get(db, actor=actor, code=code)
    versions = resource_versions(db, actor=actor, code=code)
    return render(
        request,
        "catalog/diff.html",
        {
            **_common(),
            "title": f"版本比较 · {resource.name}",
            "r": resource,
            "diff": diff,
            "versions": versions,
            "value_zh": _value_zh,
        },
    )


def _lifecycle(
    request: Request,
    db: DbSession,
    actor: Actor,
    code: str,
    csrf_token: str,
    action: str,
    run: Any,
) -> Response:
    check_csrf(request, csrf_token)
    try:
        run()
    except PermissionDenied:
        raise
    except ZhengwuError as exc:
        return _resource_page(
            request, db, actor, code, working=True, flash=exc.message, flash_kind="error", status_code=400
        )
    return RedirectResponse(f"/catalog/resources/{code}?done={action}", status_code=303)


@router.post("/catalog/resources/{code}/submit")
def resource_submit_post(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    code: str,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    return _lifecycle(
        request, db, actor, code, csrf_token, "submitted",
        lambda: resource_submit(db, actor=actor, code=code, zone=settings.zone),
    )  # fmt: skip


@router.post("/catalog/resources/{code}/revise")
def resource_revise_post(
    request: Request, db: DbSession, actor: SignedInActor, code: str, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(request, csrf_token)
    resource_revise(db, actor=actor, code=code)
    return RedirectResponse(f"/catalog/resources/{code}/edit?done=revised", status_code=303)


@router.post("/catalog/resources/{code}/discard-revision")
def resource_discard_post(
    request: Request, db: DbSession, actor: SignedInActor, code: str, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    return _lifecycle(
        request, db, actor, code, csrf_token, "discarded",
        lambda: resource_discard_revision(db, actor=actor, code=code),
    )  # fmt: skip


@router.post("/catalog/resources/{code}/withdraw")
def resource_withdraw_post(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    code: str,
    reason: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    return _lifecycle(
        request, db, actor, code, csrf_token, "withdrawn",
        lambda: resource_withdraw(db, actor=actor, code=code, reason=reason),
    )  # fmt: skip


@router.post("/catalog/resources/{code}/reinstate")
def resource_reinstate_post(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    code: str,
    reason: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    return _lifecycle(
        request, db, actor, code, csrf_token, "reinstate_requested",
        lambda: resource_reinstate(db, actor=actor, code=code, reason=reason),
    )  # fmt: skip


@router.post("/catalog/resources/{code}/delete")
def resource_delete_post(
    request: Request, db: DbSession, actor: SignedInActor, code: str, csrf_token: Annotated[str, Form()] = ""
) -> Response:
    check_csrf(request, csrf_token)
    resource_delete_draft(db, actor=actor, code=code)
    return RedirectResponse("/catalog/manage?done=deleted", status_code=303)


# --- The editor -------------------------------------------------------------------------------------


def _editor_page(
    request: Request,
    db: DbSession,
    actor: Actor,
    ef: editor.EditorForm,
    *,
    resource: ResourceOut | None,
    flash: str | None = None,
    flash_kind: str = "ok",
    status_code: int = 200,
) -> Response:
    options = editor_options(db, actor=actor)
    return render(
        request,
        "catalog/edit.html",
        {
            **_common(),
            "title": f"编辑 · {resource.name}" if resource else "新建目录条目",
            "r": resource,
            "ef": ef,
            "options": options,
            "choices": _choices(),
            "allowed": resource_allowed(actor, resource) if resource else None,
            "action": f"/catalog/resources/{resource.code}/edit" if resource else "/catalog/manage/new",
            "flash": flash,
            "flash_kind": flash_kind,
        },
        status_code=status_code,
    )


def _rows_action(form: FormData, ef: editor.EditorForm) -> bool:
    """Handle "添加更多行" and "导入粘贴内容": change the table only, save nothing. True if handled."""
    action = str(form.get("action", ""))
    if action == "more":
        ef.rows = editor.with_spare_rows(ef.rows, spare=editor.SPARE_ROWS + editor.MORE_ROWS)
        return True
    if action == "paste":
        pasted = editor.parse_paste(str(form.get("paste", "")))
        kept = [row for row in ef.rows if not editor._is_blank(row)]
        ef.rows = editor.with_spare_rows(kept + pasted)
        return True
    return False


@router.get("/catalog/manage/new", response_class=HTMLResponse)
def editor_new_page(request: Request, db: DbSession, actor: SignedInActor) -> Response:
    return _editor_page(request, db, actor, editor.form_new(actor.department_id), resource=None)


@router.post("/catalog/manage/new", response_class=HTMLResponse)
def editor_new_post(
    request: Request, db: DbSession, actor: SignedInActor, settings: AppSettings, form: PostedForm
) -> Response:
    check_csrf(request, str(form.get("csrf_token", "")))
    ef = editor.form_from_post(form)
    if _rows_action(form, ef):
        return _editor_page(request, db, actor, ef, resource=None)
    data, rows_of = editor.validate(ef, ResourceCreate, include_provider=True)
    if data is None:
        return _editor_page(request, db, actor, ef, resource=None, status_code=400)
    try:
        created = resource_create(db, actor=actor, data=data, zone=settings.zone)
    except PermissionDenied:
        raise
    except ZhengwuError as exc:
        editor.record_service_error(ef, exc, rows_of)
        return _editor_page(request, db, actor, ef, resource=None, status_code=400)
    if form.get("action") == "submit":
        return _submit_after_save(request, db, actor, settings.zone, created.code, ef, rows_of, "created")
    return RedirectResponse(f"/catalog/resources/{created.code}/edit?done=created", status_code=303)


def _submit_after_save(
    request: Request,
    db: DbSession,
    actor: Actor,
    zone: str,
    code: str,
    ef: editor.EditorForm,
    rows_of: list[int],
    saved: str,
) -> Response:
    # The save stands even if the entry is not complete enough to submit: the person keeps their work
    # and sees what is missing.
    try:
        resource_submit(db, actor=actor, code=code, zone=zone)
    except ZhengwuError as exc:
        resource = resource_get_for_edit(db, actor=actor, code=code)
        ef.row_version = str(resource.row_version)
        editor.record_service_error(ef, exc, rows_of)
        message = "已保存，但还不能提交审核：" + "；".join(m for _, m in ef.messages[:3])
        return _editor_page(request, db, actor, ef, resource=resource, flash=message, flash_kind="error")
    _ = saved
    return RedirectResponse(f"/catalog/resources/{code}?done=submitted", status_code=303)


@router.get("/catalog/resources/{code}/edit", response_class=HTMLResponse)
def editor_page(request: Request, db: DbSession, actor: SignedInActor, code: str, done: str = "") -> Response:
    resource = resource_get_for_edit(db, actor=actor, code=code)
    ef = editor.form_from_resource(resource)
    if not resource_allowed(actor, resource).edit:
        why = (
            "条目正在审核，审核完成前不能修改。"
            if resource.under_review
            else "已发布的条目请先在条目页点击“修订”，再修改。"
            if resource.status == ResourceStatus.PUBLISHED
            else "当前状态的条目不能修改。"
        )
        return _editor_page(request, db, actor, ef, resource=resource, flash=why, flash_kind="error")
    return _editor_page(request, db, actor, ef, resource=resource, flash=DONE_MESSAGES.get(done))


@router.post("/catalog/resources/{code}/edit", response_class=HTMLResponse)
def editor_post(
    request: Request, db: DbSession, actor: SignedInActor, settings: AppSettings, code: str, form: PostedForm
) -> Response:
    check_csrf(request, str(form.get("csrf_token", "")))
    resource = resource_get_for_edit(db, actor=actor, code=code)
    ef = editor.form_from_post(form)
    if _rows_action(form, ef):
        return _editor_page(request, db, actor, ef, resource=resource)
    data, rows_of = editor.validate(ef, ResourceUpdate, include_provider=False)
    if data is None:
        return _editor_page(request, db, actor, ef, resource=resource, status_code=400)
    try:
        resource_update(db, actor=actor, code=code, data=data, zone=settings.zone)
    except PermissionDenied:
        raise
    except ZhengwuError as exc:
        editor.record_service_error(ef, exc, rows_of)
        status = 409 if exc.code in ("catalog.stale", "catalog.not_editable") else 400
        return _editor_page(
            request,
            db,
            actor,
            ef,
            resource=resource_get_for_edit(db, actor=actor, code=code),
            status_code=status,
        )
    if form.get("action") == "submit":
        return _submit_after_save(request, db, actor, settings.zone, code, ef, rows_of, "saved")
    return RedirectResponse(f"/catalog/resources/{code}/edit?done=saved", status_code=303)


# --- Lists for editors and reviewers ----------------------------------------------------------------


@router.get("/catalog/manage", response_class=HTMLResponse)
def manage_page(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    department_id: str = "",
    status: str = "",
    done: str = "",
) -> Response:
    wanted = ResourceStatus(status) if status in ResourceStatus._value2member_map_ else None
    options = editor_options(db, actor=actor)
    dept = int(department_id) if department_id.isdigit() else actor.department_id
    if dept is None and options.departments:
        dept = options.departments[0][0]  # a platform admin of no department starts with the first one
    listing = resource_list_manage(db, actor=actor, department_id=dept, status=wanted)
    return render(
        request,
        "catalog/manage.html",
        {
            **_common(),
            "title": "目录管理",
            "listing": listing,
            "status": wanted.value if wanted else "",
            "statuses": list(ResourceStatus),
            "departments": options.departments,
            "flash": DONE_MESSAGES.get(done),
        },
    )


@router.get("/catalog/review", response_class=HTMLResponse)
def review_page(request: Request, db: DbSession, actor: SignedInActor, done: str = "") -> Response:
    queue = review_queue(db, actor=actor)
    return render(
        request,
        "catalog/review.html",
        {**_common(), "title": "目录审核", "queue": queue, "flash": DONE_MESSAGES.get(done)},
    )


def _review_item_page(
    request: Request,
    db: DbSession,
    actor: Actor,
    code: str,
    *,
    flash: str | None = None,
    status_code: int = 200,
    reason: str = "",
) -> Response:
    resource = resource_get(db, actor=actor, code=code, working=True)
    diff = resource_pending_diff(db, actor=actor, code=code)
    return render(
        request,
        "catalog/review_item.html",
        {
            **_common(),
            "title": f"审核 · {resource.name}",
            "r": resource,
            "diff": diff,
            "allowed": resource_allowed(actor, resource),
            "value_zh": _value_zh,
            "flash": flash,
            "flash_kind": "error" if flash else "ok",
            "reason": reason,
        },
        status_code=status_code,
    )


@router.get("/catalog/review/{code}", response_class=HTMLResponse)
def review_item_page(request: Request, db: DbSession, actor: SignedInActor, code: str) -> Response:
    review_queue(db, actor=actor)  # reviewers only: the same check as the queue
    return _review_item_page(request, db, actor, code)


@router.post("/catalog/review/{code}/approve")
def review_approve_post(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    settings: AppSettings,
    code: str,
    comment: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        resource_approve(db, actor=actor, code=code, comment=comment, zone=settings.zone)
    except PermissionDenied:
        raise
    except ZhengwuError as exc:
        return _review_item_page(request, db, actor, code, flash=exc.message, status_code=400)
    return RedirectResponse("/catalog/review?done=approved", status_code=303)


@router.post("/catalog/review/{code}/reject")
def review_reject_post(
    request: Request,
    db: DbSession,
    actor: SignedInActor,
    code: str,
    reason: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_csrf(request, csrf_token)
    try:
        resource_reject(db, actor=actor, code=code, reason=reason)
    except PermissionDenied:
        raise
    except ZhengwuError as exc:
        return _review_item_page(request, db, actor, code, flash=exc.message, status_code=400, reason=reason)
    return RedirectResponse("/catalog/review?done=rejected", status_code=303)
