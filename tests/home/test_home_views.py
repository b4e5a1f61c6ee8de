"""The home page: figures for everyone, account and audit figures for admins and auditors only."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import login, make_user
from zhengwu.accounts.models import Role


def test_public_sees_catalog_figures_but_no_account_figures(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "已发布信息资源" in page.text and "接入部门" in page.text
    assert "审计记录" not in page.text and "用户角色分布" not in page.text


def test_citizen_sees_no_account_figures(client: TestClient, db: Session) -> None:
    make_user(db, username="citizen9", roles=[Role.PUBLIC_USER])
    login(client, "citizen9")
    assert "审计记录" not in client.get("/").text


def test_auditor_sees_account_and_audit_figures(client: TestClient, db: Session) -> None:
    make_user(db, username="auditor9", roles=[Role.AUDITOR])
    login(client, "auditor9")
    page = client.get("/").text
    assert "审计记录" in page and "用户角色分布" in page
