"""Pages of conditional opening: the button, sign-up, the form, the inbox, decisions, the key shown once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import csrf_of, login, make_user
from factories_opendata import Publisher, make_dataset, make_publisher
from opendata.access.access_helpers import PASSWORD, Conditional, make_conditional, resident_id
from zhengwu.accounts.models import Role, User
from zhengwu.opendata.access.models import AccessKey, Application


@pytest.fixture
def pub(db: Session) -> Publisher:
    return make_publisher(db, name="省市场监督管理局")


@pytest.fixture
def cond(db: Session, pub: Publisher, tmp_path: Path) -> Conditional:
    return make_conditional(db, pub, tmp_path, title="企业登记信息")


def _sign_up(client: TestClient, username: str, **fields: str) -> str:
    page = client.get("/opendata/register")
    assert page.status_code == 200 and "公民身份号码或统一社会信用代码" in page.text
    data = {
        "kind": "person",
        "username": username,
        "password": PASSWORD,
        "name": "王小明",
        "identifier": resident_id(11),
        "phone": "13700000000",
        "csrf_token": "",
    }
    data.update(fields)
    response = client.post("/opendata/register", data=data)
    return response.text if response.status_code != 303 else response.headers["location"]


def test_button_sign_up_apply_decide_and_key_once(
    client: TestClient, db: Session, pub: Publisher, cond: Conditional
) -> None:
    dataset_page = client.get(f"/opendata/datasets/{cond.name}")
    assert "申请使用" in dataset_page.text and "有条件开放" in dataset_page.text
    assert '<table class="preview' not in dataset_page.text  # no rows shown without a key
    assert f"datastore_search?resource_id={cond.resource_id}" in dataset_page.text
    assert "Authorization: &lt;访问密钥&gt;" in dataset_page.text
    open_one = make_dataset(db, pub)
    assert "申请使用" not in client.get(f"/opendata/datasets/{open_one['name']}").text

    bad = _sign_up(client, "xiaoming", identifier="330106199001011230")
    assert 'role="alert"' in bad and "校验码" in bad
    assert _sign_up(client, "xiaoming") == "/login?next=/opendata/access/mine"
    login(client, "xiaoming", PASSWORD)
    mine = client.get("/opendata/access/mine")
    assert "王小明" in mine.text and "3301" in mine.text and resident_id(11) not in mine.text

    form = client.get(f"/opendata/datasets/{cond.name}/apply")
    assert form.status_code == 200 and "提交申请" in form.text
    today = dt.date.today()
    fields = {
        "purpose": "研究",
        "use_start": today.isoformat(),
        "use_end": (today + dt.timedelta(days=30)).isoformat(),
        "contact_name": "王小明",
        "contact_phone": "13700000000",
        "contact_email": "",
        "csrf_token": csrf_of(form.text),
    }
    short = client.post(f"/opendata/datasets/{cond.name}/apply", data=fields)
    assert short.status_code == 400 and "purpose" in short.text
    fields["purpose"] = "用于研究区域企业登记的变化趋势，发表统计分析报告。"
    sent = client.post(f"/opendata/datasets/{cond.name}/apply", data=fields)
    assert sent.status_code == 303
    detail = client.get(sent.headers["location"])
    assert "待审核" in detail.text and "剩 10 个工作日" in detail.text
    app_id = db.scalar(select(Application.id).order_by(Application.id.desc()))
    client.post("/logout", data={"csrf_token": csrf_of(detail.text)})

    provider = db.scalar(select(User).where(User.department_id == pub.department.id))
    assert provider is not None
    login(client, provider.username)
    inbox = client.get("/opendata/access/inbox")
    assert "企业登记信息" in inbox.text and "王小明" in inbox.text and "剩 10 个工作日" in inbox.text
    decide = client.get(f"/opendata/access/applications/{app_id}")
    token = csrf_of(decide.text)
    refuse = client.post(
        f"/opendata/access/applications/{app_id}/refuse", data={"reason": "", "csrf_token": token}
    )
    assert refuse.status_code == 400 and "不予批准须说明理由" in refuse.text
    approve = client.post(
        f"/opendata/access/applications/{app_id}/approve",
        data={
            "conditions": "仅限统计分析",
            "valid_until": (today + dt.timedelta(days=30)).isoformat(),
            "rate_per_minute": "30",
            "daily_quota": "500",
            "csrf_token": token,
        },
    )
    assert approve.status_code == 303
    client.post("/logout", data={"csrf_token": token})

    login(client, "xiaoming", PASSWORD)
    approved_page = client.get(f"/opendata/access/applications/{app_id}")
    assert "已批准" in approved_page.text and "每分钟 30 次，每日 500 次" in approved_page.text
    issued = client.post(
        f"/opendata/access/applications/{app_id}/key", data={"csrf_token": csrf_of(approved_page.text)}
    )
    assert issued.status_code == 200 and "密钥只显示这一次" in issued.text
    key = db.scalar(select(AccessKey).where(AccessKey.application_id == app_id))
    assert key is not None and f"zwk_{key.prefix}_" in issued.text
    later = client.get(f"/opendata/access/applications/{app_id}")
    assert f"zwk_{key.prefix}_…" in later.text and "密钥只显示这一次" not in later.text


def test_pages_refuse_those_without_the_right(
    client: TestClient, db: Session, pub: Publisher, cond: Conditional
) -> None:
    assert client.get(f"/opendata/datasets/{cond.name}/apply").status_code == 303  # to sign-in
    make_user(db, roles=[Role.PUBLIC_USER], username="plainuser")
    login(client, "plainuser")
    page = client.get(f"/opendata/datasets/{cond.name}/apply")
    assert "须先以自然人或法人身份实名注册" in page.text
    assert client.get("/opendata/access/inbox").status_code == 403
