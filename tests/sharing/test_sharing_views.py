"""The Chinese pages under /sharing, driven through the real sign-in and forms."""

from __future__ import annotations

import datetime as dt
import re

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import csrf_of, login
from sharing.sharing_helpers import MONDAY_MORNING, World, request_in
from zhengwu.sharing.models import CorrectionRequest, Grant, RequestStatus, ShareRequest
from zhengwu.sharing.services import share_request_create, share_request_escalate_overdue

NASTY = '<script>alert("x")</script>'


def _form(client: TestClient, world: World, **overrides: object) -> dict[str, object]:
    page = client.get(f"/sharing/resources/{world.conditional.code}")
    data: dict[str, object] = {
        "csrf_token": csrf_of(page.text),
        "elements": ["uscc", "org_name"],
        "purpose": "企业开办联办",
        "legal_basis": "《优化营商环境条例》",
        "consumer_system": "一网通办平台",
        "valid_from": "2026-01-01",
        "valid_until": "2030-12-31",
    }
    data.update(overrides)
    return data


def test_request_form_to_approval(client: TestClient, db: Session, world: World) -> None:
    login(client, world.c_admin.username)
    page = client.get(f"/sharing/resources/{world.conditional.code}")
    assert page.status_code == 200
    assert "企业登记信息" in page.text and "有条件共享" in page.text
    assert 'name="elements" value="legal_rep_name"' in page.text and "法定代表人" in page.text
    posted = client.post(f"/sharing/resources/{world.conditional.code}/request", data=_form(client, world))
    assert posted.status_code == 303, posted.text
    request_id = int(posted.headers["location"].split("/")[-1].split("?")[0])
    detail = client.get(posted.headers["location"])
    assert "申请已提交" in detail.text and "剩 10 个工作日" in detail.text
    mine = client.get("/sharing/requests")
    assert f"#{request_id}" in mine.text and "待审批" in mine.text
    assert (
        client.get("/sharing/requests/to-me").status_code == 403
        or "没有待审批" in client.get("/sharing/requests/to-me").text
    )

    client.cookies.clear()
    login(client, world.p_admin.username)
    inbox = client.get("/sharing/requests/to-me")
    assert inbox.status_code == 200 and f"#{request_id}" in inbox.text
    assert 'type="checkbox" name="elements" value="uscc" checked' in inbox.text
    # Approve a narrower subset: untick "name".
    approved = client.post(
        f"/sharing/requests/{request_id}/approve?back=/sharing/requests/to-me",
        data={"csrf_token": csrf_of(inbox.text), "elements": ["uscc"]},
    )
    assert (
        approved.status_code == 303
        and approved.headers["location"] == "/sharing/requests/to-me?done=approved"
    )
    grant = db.scalar(select(Grant).where(Grant.request_id == request_id))
    assert grant is not None and grant.elements == ["uscc"]
    used = client.get(f"/sharing/resources/{world.conditional.code}")
    assert "测试人力资源和社会保障厅" in used.text and "统一社会信用代码" in used.text
    assert "这是本部门提供的资源" in used.text


def test_form_errors_name_the_field_and_keep_the_input(client: TestClient, db: Session, world: World) -> None:
    login(client, world.c_dev.username)
    code = world.conditional.code
    no_purpose = client.post(f"/sharing/resources/{code}/request", data=_form(client, world, purpose=" "))
    assert no_purpose.status_code == 400 and "请填写用途" in no_purpose.text
    assert "《优化营商环境条例》" in no_purpose.text  # what was typed stays
    no_elements = client.post(f"/sharing/resources/{code}/request", data=_form(client, world, elements=[]))
    assert no_elements.status_code == 400 and "请至少选择一个信息项" in no_elements.text
    reversed_ = client.post(
        f"/sharing/resources/{code}/request",
        data=_form(client, world, valid_from="2030-01-01", valid_until="2029-01-01"),
    )
    assert reversed_.status_code == 400 and "截止日期不能早于起始日期" in reversed_.text
    bad_date = client.post(
        f"/sharing/resources/{code}/request", data=_form(client, world, valid_until="明天")
    )
    assert bad_date.status_code == 400 and "有效期截止日期不是有效日期" in bad_date.text
    unknown = client.post(f"/sharing/resources/{code}/request", data=_form(client, world, elements=["x_y"]))
    assert unknown.status_code == 400 and "资源中没有以下信息项：x_y" in unknown.text
    huge = client.post(
        f"/sharing/resources/{code}/request", data=_form(client, world, legal_basis="法" * 20_000)
    )
    assert huge.status_code == 400 and "申请依据过长" in huge.text
    no_csrf = client.post(f"/sharing/resources/{code}/request", data=_form(client, world, csrf_token="wrong"))
    assert no_csrf.status_code == 403
    assert db.scalar(select(ShareRequest.id)) is None


def test_injection_is_stored_verbatim_and_rendered_escaped(
    client: TestClient, db: Session, world: World
) -> None:
    login(client, world.c_admin.username)
    posted = client.post(
        f"/sharing/resources/{world.conditional.code}/request",
        data=_form(client, world, purpose=NASTY, consumer_system="x'); DROP TABLE users; --"),
    )
    assert posted.status_code == 303
    row = db.scalar(select(ShareRequest))
    assert row is not None and row.purpose == NASTY
    page = client.get(posted.headers["location"])
    assert NASTY not in page.text and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    assert "x&#39;); DROP TABLE users; --" in page.text


def test_unconditional_resource_page_and_auto_grant(client: TestClient, db: Session, world: World) -> None:
    login(client, world.c_admin.username)
    page = client.get(f"/sharing/resources/{world.unconditional.code}")
    assert "无条件共享，申请即获授权" in page.text and "申请并获得授权" in page.text
    data = _form(client, world)
    posted = client.post(f"/sharing/resources/{world.unconditional.code}/request", data=data)
    assert posted.status_code == 303 and posted.headers["location"].endswith("?done=granted")
    detail = client.get(posted.headers["location"])
    assert "自动授权" in detail.text and "生成授权" in detail.text


def test_unshared_resource_has_no_form(client: TestClient, db: Session, world: World) -> None:
    login(client, world.c_admin.username)
    page = client.get(f"/sharing/resources/{world.unshared.code}")
    assert (
        "不予共享" in page.text
        and "《中华人民共和国个人信息保护法》第十三条" in page.text
        and 'name="purpose"' not in page.text
    )
    assert client.get(f"/sharing/resources/{world.draft.code}").status_code == 404


def test_refuse_form_needs_a_reason(client: TestClient, db: Session, world: World) -> None:
    req = share_request_create(db, actor=world.actor(db, world.c_admin), data=request_in(world.conditional))
    login(client, world.p_admin.username)
    page = client.get(f"/sharing/requests/{req.id}")
    assert page.status_code == 200 and "拒绝理由（必填）" in page.text
    empty = client.post(
        f"/sharing/requests/{req.id}/refuse", data={"csrf_token": csrf_of(page.text), "reason": ""}
    )
    assert empty.status_code == 400 and "请填写拒绝理由" in empty.text
    done = client.post(
        f"/sharing/requests/{req.id}/refuse",
        data={"csrf_token": csrf_of(page.text), "reason": "超出共享条件"},
    )
    assert done.status_code == 303
    assert db.get(ShareRequest, req.id).status == RequestStatus.REFUSED  # type: ignore[union-attr]


def test_pages_refuse_outsiders(client: TestClient, db: Session, world: World) -> None:
    req = share_request_create(db, actor=world.actor(db, world.c_admin), data=request_in(world.conditional))
    assert client.get("/sharing/requests").status_code == 303  # anonymous → sign in
    login(client, world.o_admin.username)
    assert client.get(f"/sharing/requests/{req.id}").status_code == 403
    page = client.get("/sharing/requests")
    forbidden = client.post(
        f"/sharing/requests/{req.id}/approve", data={"csrf_token": csrf_of(page.text), "elements": ["uscc"]}
    )
    assert forbidden.status_code == 403
    client.cookies.clear()
    login(client, world.c_norole.username)
    assert client.get("/sharing/requests").status_code == 403
    assert "共享申请" not in re.sub(r"<main.*", "", client.get("/").text, flags=re.S)
    client.cookies.clear()
    login(client, world.c_dev.username)
    assert client.get("/sharing/requests/to-me").status_code == 403  # developers do not answer
    assert client.get("/sharing/escalated").status_code == 403


def test_overdue_tags_and_platform_escalations(client: TestClient, db: Session, world: World) -> None:
    # Submitted on 2026-06-01: overdue since 2026-06-16, whatever today is (today is later).
    req = share_request_create(
        db, actor=world.actor(db, world.c_admin), data=request_in(world.conditional), now=MONDAY_MORNING
    )
    share_request_escalate_overdue(db, today=dt.date(2026, 6, 16))
    login(client, world.c_admin.username)
    mine = client.get("/sharing/requests")
    assert re.search(r'tag bad">逾期 \d+ 个工作日', mine.text) and "已督办" in mine.text
    client.cookies.clear()
    login(client, world.platform.username)
    page = client.get("/sharing/escalated")
    assert page.status_code == 200 and f"#{req.id}" in page.text


def test_grants_page_and_revoke(client: TestClient, db: Session, world: World) -> None:
    req = share_request_create(db, actor=world.actor(db, world.c_admin), data=request_in(world.unconditional))
    login(client, world.p_admin.username)
    page = client.get("/sharing/grants")
    assert page.status_code == 200 and "本部门给出的授权（1）" in page.text
    empty = client.post(
        f"/sharing/grants/{req.grant_id}/revoke", data={"csrf_token": csrf_of(page.text), "reason": ""}
    )
    assert empty.status_code == 400 and "请填写撤销理由" in empty.text
    done = client.post(
        f"/sharing/grants/{req.grant_id}/revoke",
        data={"csrf_token": csrf_of(page.text), "reason": "停止合作"},
    )
    assert done.status_code == 303
    assert "已撤销" in client.get("/sharing/grants").text


def test_correction_report_and_answer(client: TestClient, db: Session, world: World) -> None:
    login(client, world.c_admin.username)
    step1 = client.get("/sharing/corrections", params={"resource": world.conditional.code})
    assert step1.status_code == 200 and 'name="element"' in step1.text and "法定代表人" in step1.text
    base = {
        "csrf_token": csrf_of(step1.text),
        "resource_code": world.conditional.code,
        "element": "legal_rep_name",
        "record_key": "91330000MA2XXXXX0X",
        "value_seen": "张三",
        "value_expected": "",
    }
    missing = client.post("/sharing/corrections", data=base)
    assert missing.status_code == 400 and "请填写正确值" in missing.text
    posted = client.post("/sharing/corrections", data={**base, "value_expected": "李四"})
    assert posted.status_code == 303
    correction = db.scalar(select(CorrectionRequest))
    assert correction is not None and correction.value_expected == "李四"

    client.cookies.clear()
    login(client, world.p_admin.username)
    page = client.get("/sharing/corrections")
    assert "收到的校核（1）" in page.text and "剩 10 个工作日" in page.text
    no_outcome = client.post(
        f"/sharing/corrections/{correction.id}/answer", data={"csrf_token": csrf_of(page.text), "answer": "x"}
    )
    assert no_outcome.status_code == 400 and "请选择答复结果" in no_outcome.text
    done = client.post(
        f"/sharing/corrections/{correction.id}/answer",
        data={"csrf_token": csrf_of(page.text), "outcome": "not_an_error", "answer": "经核对档案无误"},
    )
    assert done.status_code == 303
    assert "经核无误" in client.get("/sharing/corrections").text


def test_stats_page(client: TestClient, db: Session, world: World) -> None:
    share_request_create(db, actor=world.actor(db, world.c_admin), data=request_in(world.conditional))
    login(client, world.public.username)  # any signed-in user
    page = client.get("/sharing/stats", params={"department": world.provider.id})
    assert page.status_code == 200
    assert "测试市场监督管理局" in page.text and 'class="bars"' in page.text
    assert "无条件共享" in page.text and "各部门已发布资源" in page.text
    assert client.get("/sharing/stats", params={"department": "abc"}).status_code == 200
    period = client.get("/sharing/stats", params={"from": "2026-01-01", "to": "2026-03-31"})
    assert period.status_code == 200 and 'value="2026-03-31"' in period.text
    bad = client.get("/sharing/stats", params={"from": "２０２６年"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text
