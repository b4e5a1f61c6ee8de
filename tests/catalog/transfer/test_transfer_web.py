"""Import and export over HTTP: the JSON API (token) and the pages (session, CSRF, roles)."""

from __future__ import annotations

import re
from types import SimpleNamespace

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import csrf_of, login, make_department, make_token, make_user
from factories_catalog import make_resource
from zhengwu.accounts.models import Role
from zhengwu.catalog.models import Resource

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _count(db: Session, dept: int) -> int:
    return int(db.scalar(select(func.count()).select_from(Resource).where(Resource.provider_id == dept)) or 0)


def _admin(db: Session) -> tuple[int, str, str]:
    dept = make_department(db, name="省公安厅")
    user = make_user(db, roles=[Role.DATA_ADMIN], department_id=dept.id)
    return dept.id, user.username, make_token(db, user)


def test_api_import_preview_apply_and_errors(client: TestClient, db: Session, files: SimpleNamespace) -> None:
    dept, _, token = _admin(db)
    headers = {"Authorization": f"Bearer {token}"}
    good = files.xlsx(
        [files.resource_row(1, "户籍人口基本信息")], [files.element_row(1, "姓名", "person_name")]
    )
    upload = {"file": ("目录.xlsx", good, XLSX)}
    preview = client.post("/api/v1/catalog/import", files=upload, headers=headers)
    assert preview.status_code == 200, preview.text
    assert preview.json()["created"] == 1 and preview.json()["applied"] is False
    assert _count(db, dept) == 0
    done = client.post("/api/v1/catalog/import", files=upload, data={"apply": "true"}, headers=headers)
    assert done.status_code == 200 and done.json()["applied"] is True
    assert _count(db, dept) == 1

    bad = files.xlsx([files.resource_row(1, "出生登记", 共享方式="飞鸽传书")], [])
    response = client.post(
        "/api/v1/catalog/import",
        files={"file": ("b.xlsx", bad, XLSX)},
        data={"apply": "true"},
        headers=headers,
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "catalog.import.invalid" and error["field"] == "file"
    assert error["details"]["errors"][0] == {
        "sheet": "信息资源",
        "row": 2,
        "column": "J 列（共享方式）",
        "level": "error",
        "reason": "“飞鸽传书”不是有效的共享方式，可选：接口、库表、文件",
    }
    assert _count(db, dept) == 1
    report = client.post(
        "/api/v1/catalog/import/errors?format=csv", files={"file": ("b.xlsx", bad, XLSX)}, headers=headers
    )
    assert report.status_code == 200 and "飞鸽传书" in report.content.decode("utf-8-sig")
    assert "filename*=UTF-8''" in report.headers["content-disposition"]


def test_api_import_needs_a_data_admin(client: TestClient, db: Session, files: SimpleNamespace) -> None:
    user = make_user(db)
    data = files.xlsx([files.resource_row(1, "户籍人口基本信息")], [])
    response = client.post(
        "/api/v1/catalog/import",
        files={"file": ("x.xlsx", data, XLSX)},
        headers={"Authorization": f"Bearer {make_token(db, user)}"},
    )
    assert response.status_code == 403
    assert client.post("/api/v1/catalog/import", files={"file": ("x.xlsx", data, XLSX)}).status_code == 401


def test_api_export_and_dcat(client: TestClient, db: Session) -> None:
    dept, _, token = _admin(db)
    make_resource(db, provider_id=dept, name="户籍人口基本信息")
    headers = {"Authorization": f"Bearer {token}"}
    xlsx = client.get("/api/v1/catalog/export?format=xlsx", headers=headers)
    assert xlsx.status_code == 200 and xlsx.headers["content-type"] == XLSX
    assert xlsx.content[:2] == b"PK"
    ttl = client.get("/api/v1/catalog/dcat.ttl", headers=headers)
    assert ttl.status_code == 200 and "dcat:Dataset" in ttl.text and "户籍人口基本信息" in ttl.text
    jsonld = client.get("/api/v1/catalog/export?format=jsonld", headers=headers)
    assert jsonld.headers["content-type"].startswith("application/ld+json")
    assert client.get("/api/v1/catalog/export?format=pdf", headers=headers).status_code == 400
    spec = client.get("/openapi.json").json()["paths"]
    assert {"/api/v1/catalog/import", "/api/v1/catalog/export", "/api/v1/catalog/dcat.ttl"} <= set(spec)


def test_import_page_preview_confirm_and_error_report(
    client: TestClient, db: Session, files: SimpleNamespace
) -> None:
    dept, username, _ = _admin(db)
    login(client, username)
    page = client.get("/catalog/import")
    assert page.status_code == 200 and "上传并校验" in page.text
    csrf = csrf_of(page.text)
    bad = files.xlsx([files.resource_row(1, "户籍人口基本信息", 更新周期="偶尔")], [])
    shown = client.post("/catalog/import", data={"csrf_token": csrf}, files={"file": ("b.xlsx", bad, XLSX)})
    assert shown.status_code == 400
    assert "“偶尔”不是有效的更新周期" in shown.text and "下载错误报告（Excel）" in shown.text
    token = re.search(r'name="token" value="([^"]+)"', shown.text)
    assert token
    report = client.post(
        "/catalog/import/errors", data={"csrf_token": csrf, "token": token.group(1), "format": "xlsx"}
    )
    assert report.status_code == 200 and report.content[:2] == b"PK"

    good = files.xlsx(
        [files.resource_row(1, "户籍人口基本信息")], [files.element_row(1, "姓名", "person_name")]
    )
    preview = client.post(
        "/catalog/import", data={"csrf_token": csrf}, files={"file": ("g.xlsx", good, XLSX)}
    )
    assert preview.status_code == 200 and "确认导入" in preview.text
    assert _count(db, dept) == 0
    token = re.search(r'name="token" value="([^"]+)"', preview.text)
    assert token
    done = client.post("/catalog/import/confirm", data={"csrf_token": csrf, "token": token.group(1)})
    assert done.status_code == 200 and "已导入" in done.text
    assert _count(db, dept) == 1
    again = client.post("/catalog/import/confirm", data={"csrf_token": csrf, "token": token.group(1)})
    assert again.status_code == 404
    forged = client.post("/catalog/import/confirm", data={"csrf_token": "wrong", "token": token.group(1)})
    assert forged.status_code == 403


def test_import_page_is_forbidden_without_the_role_and_export_page_lists_downloads(
    client: TestClient, db: Session
) -> None:
    user = make_user(db)
    login(client, user.username)
    assert client.get("/catalog/import").status_code == 403
    page = client.get("/catalog/export")
    assert page.status_code == 200
    assert "/catalog/export.ttl" in page.text and "本部门" not in page.text
    assert client.get("/catalog/export.jsonld").status_code == 200
    download = client.get("/catalog/export/download?format=csv")
    assert download.status_code == 200 and download.content.startswith(b"\xef\xbb\xbf")
