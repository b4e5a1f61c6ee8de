"""The home page: figures for everyone, account and audit figures for admins and auditors only."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import actor_of, login, make_user
from factories_opendata import make_dataset, make_publisher
from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import Actor
from zhengwu.home.services import platform_figures
from zhengwu.opendata.showcase.services import showcase_create, showcase_moderate


def test_public_sees_catalog_figures_but_no_account_figures(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "已发布信息资源" in page.text and "接入部门" in page.text
    assert "开放数据集" in page.text and "开放数据应用" in page.text
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


def test_open_data_figures_count_public_datasets_and_approved_showcases(db: Session) -> None:
    before = {f.label: f.value for f in platform_figures(db, actor=Actor.anonymous()).figures}
    pub = make_publisher(db)
    make_dataset(db, pub, name="open-one")
    make_dataset(db, pub, name="private-one", private=True)
    citizen = actor_of(db, make_user(db))
    reviewer = actor_of(db, make_user(db, roles=[Role.REVIEWER]))
    shown = showcase_create(db, actor=citizen, payload={"title": "应用一", "datasets": ["open-one"]})
    showcase_create(db, actor=citizen, payload={"title": "应用二"})  # waits for moderation
    showcase_moderate(db, actor=reviewer, ref=shown["name"], decision="approved")
    after = {f.label: f.value for f in platform_figures(db, actor=Actor.anonymous()).figures}
    assert after["开放数据集"] - before["开放数据集"] == 1
    assert after["开放数据应用"] - before["开放数据应用"] == 1
