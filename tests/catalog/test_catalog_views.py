"""Pages of catalog entries: resource page, editor, manage list, review queue, diffs, error handling."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import csrf_of, login, make_department, make_user
from factories_catalog import CATALOG_SYSTEM, make_resource, publish_revision
from zhengwu.accounts.models import Role
from zhengwu.catalog.editor import parse_paste
from zhengwu.catalog.models import Resource, ResourceStatus
from zhengwu.catalog.services import resource_get


@pytest.fixture
def org(db: Session) -> dict[str, Any]:
    a = make_department(db, name="甲部门")
    b = make_department(db, name="乙部门")
    return {
        "a": a,
        "b": b,
        "admin_a": make_user(db, roles=[Role.DATA_ADMIN], department_id=a.id).username,
        "admin_b": make_user(db, roles=[Role.DATA_ADMIN], department_id=b.id).username,
        "reviewer": make_user(db, roles=[Role.REVIEWER], department_id=b.id).username,
        "public": make_user(db, roles=[Role.PUBLIC_USER]).username,
    }


def _form(csrf: str, *, rows: list[dict[str, str]] | None = None, **values: str) -> dict[str, str]:
    """A filled-in editor form, as the browser would post it."""
    data = {
        "csrf_token": csrf,
        "name": "企业登记信息",
        "category": "departmental",
        "classification": "3-01-001-001",
        "topic_code": "",
        "summary": "辖区企业登记信息",
        "format": "database",
        "share_type": "conditional",
        "share_conditions": "用于监管",
        "share_basis": "",
        "delivery": "api",
        "open_type": "closed",
        "open_conditions": "",
        "update_frequency": "daily",
        "secrecy": "unclassified",
        "source_system": "登记系统",
        "related_codes": "",
        "keywords": "企业、登记",
        "action": "save",
    }
    data.update(values)
    rows = (
        rows
        if rows is not None
        else [
            {"name": "统一社会信用代码", "name_en": "uscc", "data_type": "string", "length": "18"},
            {"name": "企业名称", "name_en": "org_name", "data_type": "string", "length": "200"},
        ]
    )
    rows = [*rows, {"name": "", "name_en": ""}]  # a spare blank row, as the page always offers
    data["row_count"] = str(len(rows))
    for i, row in enumerate(rows):
        for key in ("name", "name_en", "data_type", "length", "sensitivity", "description"):
            data[f"el-{i}-{key}"] = row.get(
                key, {"data_type": "string", "sensitivity": "internal"}.get(key, "")
            )
        if row.get("identifies_person"):
            data[f"el-{i}-identifies_person"] = "1"
        if row.get("delete"):
            data[f"el-{i}-delete"] = "1"
    return data


def _new_form_csrf(client: TestClient) -> str:
    page = client.get("/catalog/manage/new")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def _row_version(page: str) -> str:
    match = re.search(r'name="row_version" value="(\d+)"', page)
    assert match, "the editor has no row_version field"
    return match.group(1)


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


# --- Editor ----------------------------------------------------------------------------------------


def test_create_an_entry_through_the_form(client: TestClient, db: Session, org: dict[str, Any]) -> None:
    login(client, org["admin_a"])
    csrf = _new_form_csrf(client)
    response = client.post("/catalog/manage/new", data=_form(csrf))
    assert response.status_code == 303, response.text
    code = response.headers["location"].split("/")[3]
    assert response.headers["location"] == f"/catalog/resources/{code}/edit?done=created"
    entry = resource_get(db, actor=CATALOG_SYSTEM, code=code)
    assert entry.provider_id == org["a"].id and entry.keywords == ["企业", "登记"]
    assert [e.name_en for e in entry.elements] == ["uscc", "org_name"]
    edit = client.get(response.headers["location"])
    assert "已创建草稿" in edit.text and 'value="uscc"' in edit.text


def test_form_errors_name_field_and_row_and_keep_what_was_typed(
    client: TestClient, db: Session, org: dict[str, Any]
) -> None:
    login(client, org["admin_a"])
    csrf = _new_form_csrf(client)
    rows = [
        {"name": "姓名", "name_en": "person_name"},
        {"name": "", "name_en": ""},  # a blank row in the middle is ignored
        {"name": "证件号码", "name_en": "Resident ID", "length": "abc"},
        {"name": "姓名2", "name_en": "person_name"},
    ]
    before = db.scalar(select(func.count()).select_from(Resource))
    response = client.post(
        "/catalog/manage/new", data=_form(csrf, rows=rows, name="户" * 201, classification="12-3")
    )
    assert response.status_code == 400
    text = _text(response.text)
    assert "信息资源名称：最多 200 个字（现有 201 个）" in text
    assert "资源分类（类-项-目-细目）：格式应为 类-项-目-细目" in text
    assert "第 3 行信息项的英文标识：只能用小写英文字母" in text
    assert "第 3 行信息项的长度：须为正整数" in text
    assert 'value="Resident ID"' in response.text and 'value="abc"' in response.text
    assert 'value="12-3"' in response.text
    assert db.scalar(select(func.count()).select_from(Resource)) == before
    # Fixed formats, but two rows share an English name: the service's error names the table rows.
    rows[2] = {"name": "证件号码", "name_en": "resident_id"}
    response = client.post("/catalog/manage/new", data=_form(csrf, rows=rows))
    assert response.status_code == 400
    assert "第 4 行信息项的英文标识：person_name 与第 1 行重复" in _text(response.text)
    assert 'id="el-3-name_en"' in response.text and "row-error" in response.text


def test_more_rows_and_pasted_rows_save_nothing(client: TestClient, db: Session, org: dict[str, Any]) -> None:
    login(client, org["admin_a"])
    csrf = _new_form_csrf(client)
    before = db.scalar(select(func.count()).select_from(Resource))
    more = client.post("/catalog/manage/new", data=_form(csrf, action="more"))
    assert more.status_code == 200
    assert 'name="row_count" value="10"' in more.text  # 2 typed rows + 3 spare + 5 more
    pasted = (
        "名称\t英文标识\t类型\t长度\t个人\t敏感\t说明\n"
        "公民身份号码\tresident_id\t字符型\t18\t是\t敏感\t18 位\n"
        "出生日期\tbirth_date\t日期型\t\t否\t内部\t"
    )
    response = client.post("/catalog/manage/new", data=_form(csrf, action="paste", paste=pasted))
    assert response.status_code == 200
    assert 'value="resident_id"' in response.text and 'value="birth_date"' in response.text
    assert 'value="uscc"' in response.text, "rows typed before the paste stay"
    assert db.scalar(select(func.count()).select_from(Resource)) == before


def test_parse_paste_accepts_excel_and_csv() -> None:
    rows = parse_paste("公民身份号码\tresident_id\t字符型\t18\t是\t敏感\t说明")
    assert rows[0]["data_type"] == "string" and rows[0]["identifies_person"] == "1"
    assert rows[0]["sensitivity"] == "sensitive" and rows[0]["description"] == "说明"
    csv_rows = parse_paste('名称,英文标识\n"地址, 含门牌",address,string,200')
    assert [(r["name"], r["name_en"], r["length"]) for r in csv_rows] == [("地址, 含门牌", "address", "200")]
    odd = parse_paste("金额\tamount\t货币型")
    assert odd[0]["data_type"] == "货币型", "unknown types stay as typed so the form can point at them"


def test_edit_with_a_stale_version_keeps_the_typed_text(
    client: TestClient, db: Session, org: dict[str, Any]
) -> None:
    entry = make_resource(db, provider_id=org["a"].id, published=False, name="原名称")
    login(client, org["admin_a"])
    page = client.get(f"/catalog/resources/{entry.code}/edit")
    csrf = csrf_of(page.text)
    assert f'name="row_version" value="{entry.row_version}"' in page.text
    first = client.post(
        f"/catalog/resources/{entry.code}/edit",
        data=_form(csrf, name="第一位的修改", row_version=str(entry.row_version)),
    )
    assert first.status_code == 303
    second = client.post(
        f"/catalog/resources/{entry.code}/edit",
        data=_form(csrf, name="第二位的修改", row_version=str(entry.row_version)),
    )
    assert second.status_code == 409
    assert "该条目已被他人修改" in _text(second.text) and 'value="第二位的修改"' in second.text
    assert resource_get(db, actor=CATALOG_SYSTEM, code=entry.code).name == "第一位的修改"


def test_save_and_submit_an_incomplete_entry_saves_and_explains(
    client: TestClient, db: Session, org: dict[str, Any]
) -> None:
    login(client, org["admin_a"])
    csrf = _new_form_csrf(client)
    response = client.post(
        "/catalog/manage/new",
        data=_form(csrf, rows=[], share_type="none", share_basis="", action="submit"),
    )
    assert response.status_code == 200
    text = _text(response.text)
    assert "已保存，但还不能提交审核" in text and "至少需要一个信息项" in text and "依据" in text
    code = re.search(r'action="/catalog/resources/([^/"]+)/edit"', response.text)
    assert code is not None
    assert resource_get(db, actor=CATALOG_SYSTEM, code=code.group(1)).status == ResourceStatus.DRAFT
    done = client.post(
        f"/catalog/resources/{code.group(1)}/edit",
        data=_form(csrf, share_basis="《某法》第八条", share_type="none", action="submit", row_version="1"),
    )
    assert done.status_code == 303 and done.headers["location"].endswith("?done=submitted")


def test_editor_refuses_other_departments_and_roles(
    client: TestClient, db: Session, org: dict[str, Any]
) -> None:
    entry = make_resource(db, provider_id=org["a"].id, published=False)
    login(client, org["admin_b"])
    assert client.get(f"/catalog/resources/{entry.code}/edit").status_code == 403
    assert client.get(f"/catalog/resources/{entry.code}").status_code == 403
    csrf = csrf_of(client.get("/catalog/manage").text)
    posted = client.post(f"/catalog/resources/{entry.code}/edit", data=_form(csrf, row_version="1"))
    assert posted.status_code == 403
    assert resource_get(db, actor=CATALOG_SYSTEM, code=entry.code).name == entry.name


@pytest.mark.parametrize("path", ["/catalog/manage", "/catalog/manage/new", "/catalog/review"])
def test_pages_need_the_role(client: TestClient, org: dict[str, Any], path: str) -> None:
    anonymous = client.get(path)
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith("/login")
    login(client, org["public"])
    refused = client.get(path)
    assert refused.status_code == 403 and "没有权限" in refused.text


def test_form_posts_need_the_csrf_token(client: TestClient, db: Session, org: dict[str, Any]) -> None:
    login(client, org["admin_a"])
    response = client.post("/catalog/manage/new", data=_form("forged"))
    assert response.status_code == 403
    published = make_resource(db, provider_id=org["a"].id)
    assert (
        client.post(f"/catalog/resources/{published.code}/withdraw", data={"reason": "x"}).status_code == 403
    )


# --- Resource page, lifecycle buttons, diff --------------------------------------------------------


def test_resource_page_shows_elements_tags_versions_and_escapes_text(
    client: TestClient, db: Session, org: dict[str, Any]
) -> None:
    name = "<script>alert('x')</script>'; DROP TABLE catalog_resources; --"
    entry = make_resource(db, provider_id=org["a"].id, name=name, elements=4)
    login(client, org["admin_b"])
    page = client.get(f"/catalog/resources/{entry.code}")
    assert page.status_code == 200
    assert "<script>alert" not in page.text and "&lt;script&gt;alert(" in page.text
    assert "法定代表人姓名" in page.text and "个人信息" in page.text and 'class="tag warn">敏感' in page.text
    assert f'href="/sharing/resources/{entry.code}"' in page.text and "使用情况与申请" in page.text
    assert "第 1 版" in page.text and "首次发布" in page.text
    assert f'action="/catalog/resources/{entry.code}/revise"' not in page.text
    assert f'action="/catalog/resources/{entry.code}/withdraw"' not in page.text


def test_owner_revises_submits_and_reviewer_approves_through_pages(
    client: TestClient, db: Session, org: dict[str, Any]
) -> None:
    entry = make_resource(db, provider_id=org["a"].id, name="原名称")
    login(client, org["admin_a"])
    page = client.get(f"/catalog/resources/{entry.code}")
    csrf = csrf_of(page.text)
    assert ">修订<" in page.text and "撤销" in page.text
    revised = client.post(f"/catalog/resources/{entry.code}/revise", data={"csrf_token": csrf})
    assert revised.headers["location"] == f"/catalog/resources/{entry.code}/edit?done=revised"
    edit = client.get(revised.headers["location"])
    assert "您在修订已发布的第 1 版" in edit.text
    saved = client.post(
        f"/catalog/resources/{entry.code}/edit",
        data=_form(csrf, name="修订后的名称", action="submit", row_version=_row_version(edit.text)),
    )
    assert saved.status_code == 303
    public_view = client.get(f"/catalog/resources/{entry.code}")
    assert "原名称" in public_view.text and "待审核的" in public_view.text

    client.cookies.clear()
    login(client, org["reviewer"])
    queue = client.get("/catalog/review")
    assert entry.code in queue.text and "修订（现行第 1 版）" in queue.text
    item = client.get(f"/catalog/review/{entry.code}")
    assert "与现行第 1 版相比的修改" in item.text and "修订后的名称" in item.text
    csrf = csrf_of(item.text)
    no_reason = client.post(f"/catalog/review/{entry.code}/reject", data={"csrf_token": csrf, "reason": ""})
    assert no_reason.status_code == 400 and "请填写退回原因" in no_reason.text
    approved = client.post(f"/catalog/review/{entry.code}/approve", data={"csrf_token": csrf, "comment": ""})
    assert approved.headers["location"] == "/catalog/review?done=approved"
    assert resource_get(db, actor=CATALOG_SYSTEM, code=entry.code).published_version == 2
    diff = client.get(f"/catalog/resources/{entry.code}/diff?from=1&to=2")
    assert diff.status_code == 200 and "原名称" in diff.text and "修订后的名称" in diff.text
    assert client.get(f"/catalog/resources/{entry.code}/diff?from=a&to=2").status_code == 400


def test_reject_with_a_reason_shows_it_to_the_provider(
    client: TestClient, db: Session, org: dict[str, Any]
) -> None:
    entry = make_resource(db, provider_id=org["a"].id, published=False, submitted=True)
    login(client, org["reviewer"])
    csrf = csrf_of(client.get(f"/catalog/review/{entry.code}").text)
    done = client.post(
        f"/catalog/review/{entry.code}/reject", data={"csrf_token": csrf, "reason": "摘要过于简单"}
    )
    assert done.status_code == 303
    client.cookies.clear()
    login(client, org["admin_a"])
    page = client.get(f"/catalog/resources/{entry.code}")
    assert "审核未通过，已退回：摘要过于简单" in page.text
    listing = client.get("/catalog/manage")
    assert "退回意见：摘要过于简单" in listing.text


def test_withdraw_needs_a_reason(client: TestClient, db: Session, org: dict[str, Any]) -> None:
    entry = make_resource(db, provider_id=org["a"].id)
    login(client, org["admin_a"])
    csrf = csrf_of(client.get(f"/catalog/resources/{entry.code}").text)
    refused = client.post(
        f"/catalog/resources/{entry.code}/withdraw", data={"csrf_token": csrf, "reason": " "}
    )
    assert refused.status_code == 400 and "请填写撤销原因" in refused.text
    assert resource_get(db, actor=CATALOG_SYSTEM, code=entry.code).status == ResourceStatus.PUBLISHED
    done = client.post(
        f"/catalog/resources/{entry.code}/withdraw", data={"csrf_token": csrf, "reason": "停止维护"}
    )
    assert done.headers["location"].endswith("?done=withdrawn")
    page = client.get(done.headers["location"])
    assert "已撤销" in page.text and "停止维护" in page.text
    # The owner may ask for the entry back; it returns to the review queue, not straight to the catalog.
    assert f'action="/catalog/resources/{entry.code}/reinstate"' in page.text
    asked = client.post(
        f"/catalog/resources/{entry.code}/reinstate", data={"csrf_token": csrf, "reason": "系统已恢复"}
    )
    assert asked.headers["location"].endswith("?done=reinstate_requested")
    assert "已申请恢复" in client.get(asked.headers["location"]).text
    assert resource_get(db, actor=CATALOG_SYSTEM, code=entry.code).status == ResourceStatus.SUBMITTED


def test_manage_page_lists_only_the_departments_entries(
    client: TestClient, db: Session, org: dict[str, Any]
) -> None:
    mine = make_resource(db, provider_id=org["a"].id, published=False, name="本部门草稿")
    theirs = make_resource(db, provider_id=org["b"].id, published=False, name="他部门草稿")
    login(client, org["admin_a"])
    page = client.get("/catalog/manage")
    assert mine.code in page.text and theirs.code not in page.text
    assert "草稿 1" in _text(page.text)
    assert client.get(f"/catalog/manage?department_id={org['b'].id}").status_code == 403
    nav = re.search(r'<nav class="main".*?</nav>', page.text, re.S)
    assert nav is not None and "目录管理" in nav.group(0) and "目录审核" not in nav.group(0)


def test_versions_list_links_to_diffs(client: TestClient, db: Session, org: dict[str, Any]) -> None:
    entry = make_resource(db, provider_id=org["a"].id)
    publish_revision(db, code=entry.code, name="第二版")
    publish_revision(db, code=entry.code, name="第三版")
    login(client, org["public"])
    page = client.get(f"/catalog/resources/{entry.code}")
    assert f"/catalog/resources/{entry.code}/diff?from=2&amp;to=3" in page.text
    assert 'name="from"' in page.text
    assert client.get(f"/catalog/resources/{entry.code}/diff?from=1&to=7").status_code == 404


def test_editor_explains_when_an_entry_cannot_be_edited(
    client: TestClient, db: Session, org: dict[str, Any]
) -> None:
    published = make_resource(db, provider_id=org["a"].id)
    submitted = make_resource(db, provider_id=org["a"].id, published=False, submitted=True)
    login(client, org["admin_a"])
    page = client.get(f"/catalog/resources/{published.code}/edit")
    assert "请先在条目页点击“修订”" in page.text and ">保存草稿<" not in page.text
    page = client.get(f"/catalog/resources/{submitted.code}/edit")
    assert "条目正在审核" in page.text
    csrf = csrf_of(page.text)
    posted = client.post(
        f"/catalog/resources/{submitted.code}/edit", data=_form(csrf, row_version=str(submitted.row_version))
    )
    assert posted.status_code == 409 and "条目正在审核，不能修改" in posted.text


def test_platform_admin_of_no_department_manages_any(
    client: TestClient, db: Session, org: dict[str, Any]
) -> None:
    admin = make_user(db, roles=[Role.PLATFORM_ADMIN])
    entry = make_resource(db, provider_id=org["b"].id, published=False)
    login(client, admin.username)
    first = client.get("/catalog/manage")
    assert first.status_code == 200 and "切换部门" in first.text
    chosen = client.get(f"/catalog/manage?department_id={org['b'].id}")
    assert entry.code in chosen.text
    nav = re.search(r'<nav class="main".*?</nav>', chosen.text, re.S)
    assert nav is not None and "目录管理" in nav.group(0) and "目录审核" in nav.group(0)
