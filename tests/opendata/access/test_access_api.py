"""Conditional opening over HTTP: the JSON API, the CKAN datastore actions and the dumps with a key."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories_opendata import Publisher, make_dataset, make_publisher
from opendata.access.access_helpers import (
    PASSWORD,
    Conditional,
    application_data,
    approved,
    make_applicant,
    make_conditional,
    resident_id,
)
from opendata.datastore.datastore_helpers import load_csv
from zhengwu.accounts.models import User
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.services import token_create
from zhengwu.opendata.access.models import KeyUsage
from zhengwu.opendata.access.services import key_issue
from zhengwu.opendata.datastore.api import stream_db

SEARCH = "/api/3/action/datastore_search"
SQL = "/api/3/action/datastore_search_sql"
API = "/api/v1/opendata/access"


@pytest.fixture
def http(app: FastAPI, db: Session) -> Iterator[TestClient]:
    def _stream_db() -> Iterator[Session]:
        yield db

    app.dependency_overrides[stream_db] = _stream_db
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        yield client


@pytest.fixture
def pub(db: Session) -> Publisher:
    return make_publisher(db, name="省市场监督管理局")


@pytest.fixture
def cond(db: Session, pub: Publisher, tmp_path: Path) -> Conditional:
    return make_conditional(db, pub, tmp_path, title="企业登记信息")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _token_of(db: Session, actor: Actor) -> str:
    assert actor.user_id is not None
    return token_create(db, actor=Actor.system(), user_id=actor.user_id, name="tests").token


def test_whole_flow_over_the_json_api_then_ckan_and_dump_with_the_key(
    http: TestClient, db: Session, pub: Publisher, cond: Conditional
) -> None:
    signed = http.post(
        f"{API}/register",
        json={
            "kind": "person",
            "username": "wangwu",
            "password": PASSWORD,
            "name": "王五",
            "identifier": resident_id(42),
            "phone": "13900000000",
        },
    )
    assert signed.status_code == 201, signed.text
    assert signed.json()["identifier_masked"] == resident_id(42)[:6] + "********" + resident_id(42)[-4:]
    user = db.scalar(select(User).where(User.username == "wangwu"))
    assert user is not None
    applicant = {
        "Authorization": f"Bearer {token_create(db, actor=Actor.system(), user_id=user.id, name='t').token}"
    }
    provider = _bearer(pub.token)

    made = http.post(f"{API}/applications", json=application_data(cond.name), headers=applicant)
    assert made.status_code == 201, made.text
    app_id = made.json()["id"]
    inbox = http.get(f"{API}/inbox", headers=provider).json()
    assert [a["id"] for a in inbox] == [app_id]
    no_reason = http.post(f"{API}/applications/{app_id}/refuse", json={"reason": ""}, headers=provider)
    assert no_reason.status_code == 400 and no_reason.json()["error"]["field"] == "reason"
    until = (dt.date.today() + dt.timedelta(days=60)).isoformat()
    by_applicant = http.post(
        f"{API}/applications/{app_id}/approve", json={"valid_until": until}, headers=applicant
    )
    assert by_applicant.status_code == 403
    ok = http.post(
        f"{API}/applications/{app_id}/approve",
        json={"valid_until": until, "rate_per_minute": 100, "daily_quota": 50},
        headers=provider,
    )
    assert ok.status_code == 200 and ok.json()["status"] == "approved"
    issued = http.post(f"{API}/applications/{app_id}/key", headers=applicant)
    assert issued.status_code == 201
    key = issued.json()["key"]

    # The key reads the conditional dataset: CKAN's bare Authorization header, X-CKAN-API-Key, Bearer.
    got = http.get(
        SEARCH, params={"resource_id": cond.resource_id, "limit": "2"}, headers={"Authorization": key}
    )
    assert got.status_code == 200, got.text
    assert len(got.json()["result"]["records"]) == 2
    posted = http.post(
        SEARCH,
        json={"resource_id": cond.resource_id, "filters": {"城市": "杭州"}},
        headers={"X-CKAN-API-Key": key},
    )
    assert posted.json()["result"]["total"] == 3
    dump = http.get(f"/datastore/dump/{cond.resource_id}", params={"format": "csv"}, headers=_bearer(key))
    assert dump.status_code == 200
    rows = list(csv.reader(io.StringIO(dump.content.decode("utf-8-sig"))))
    assert len(rows) == 1 + 5

    usage = db.scalars(select(KeyUsage).order_by(KeyUsage.id)).all()
    assert [(u.action, u.rows, u.status) for u in usage] == [
        ("datastore_search", 2, 200),
        ("datastore_search", 3, 200),
        ("dump.csv", None, 200),
    ]
    assert usage[2].bytes == len(dump.content)
    days = http.get(f"{API}/applications/{app_id}/usage", headers=applicant).json()
    assert days[0]["calls"] == 3 and days[0]["rows"] == 5 and days[0]["bytes"] == len(dump.content)
    assert http.get(f"{API}/applications/{app_id}/usage", headers=provider).json() == days

    revoked = http.post(f"{API}/keys/{issued.json()['id']}/revoke", headers=provider)
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    after = http.get(SEARCH, params={"resource_id": cond.resource_id}, headers={"Authorization": key})
    assert after.status_code == 403
    assert after.json()["error"]["__type"] == "Authorization Error"
    assert "revoked" in after.json()["error"]["message"] and cond.name in after.json()["error"]["message"]


def test_anonymous_other_keys_and_wrong_keys_get_ckan_403(
    http: TestClient, db: Session, pub: Publisher, cond: Conditional, tmp_path: Path
) -> None:
    anonymous = http.get(SEARCH, params={"resource_id": cond.resource_id})
    assert anonymous.status_code == 403
    body = anonymous.json()
    assert body["success"] is False and body["error"]["__type"] == "Authorization Error"
    assert cond.name in body["error"]["message"] and cond.title in body["error"]["message_zh"]
    # The metadata stays public.
    shown = http.get("/api/3/action/package_show", params={"id": cond.name})
    assert shown.status_code == 200 and shown.json()["result"]["open_type"] == "conditional"
    page_dump = http.get(f"/datastore/dump/{cond.resource_id}", headers={"Accept": "text/html"})
    assert page_dump.status_code == 403 and "有条件开放" in page_dump.text

    other = make_conditional(db, pub, tmp_path, title="个体工商户登记信息")
    person = make_applicant(db)
    other_key = key_issue(db, actor=person, application_id=approved(db, pub, person, other.name).id).key
    elsewhere = http.get(
        SEARCH, params={"resource_id": cond.resource_id}, headers={"Authorization": other_key}
    )
    assert elsewhere.status_code == 403
    assert "another dataset" in elsewhere.json()["error"]["message"]
    assert cond.name in elsewhere.json()["error"]["message"]
    wrong = http.get(
        SEARCH, params={"resource_id": cond.resource_id}, headers={"Authorization": other_key[:-4] + "AAAA"}
    )
    assert wrong.status_code == 403 and wrong.json()["error"]["__type"] == "Authorization Error"
    # The open dataset next to it needs no key; the API token of a signed-in user does not open data.
    open_ds = make_dataset(db, pub)
    load_csv(db, tmp_path, resource_id=str(open_ds["resources"][0]["id"]))
    assert http.get(SEARCH, params={"resource_id": open_ds["resources"][0]["id"]}).status_code == 200
    token = _token_of(db, person)
    assert (
        http.get(SEARCH, params={"resource_id": cond.resource_id}, headers=_bearer(token)).status_code == 403
    )
    # The refused use of the other dataset's key is on record.
    refused = db.scalars(select(KeyUsage.status).where(KeyUsage.status == 403)).all()
    assert refused == [403]


def test_over_the_limit_answers_429_with_retry_after(
    http: TestClient, db: Session, pub: Publisher, cond: Conditional
) -> None:
    person = make_applicant(db)
    app = approved(db, pub, person, cond.name, rate=1, quota=100)
    key = key_issue(db, actor=person, application_id=app.id).key
    first = http.get(SEARCH, params={"resource_id": cond.resource_id}, headers={"Authorization": key})
    assert first.status_code == 200
    limited = http.get(SEARCH, params={"resource_id": cond.resource_id}, headers={"Authorization": key})
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.json()["success"] is False
    assert limited.json()["error"]["__type"] == "Rate Limit Error"
    assert "每分钟最多 1 次" in limited.json()["error"]["message_zh"]
    page = http.get(f"/datastore/dump/{cond.resource_id}", headers={**_bearer(key), "Accept": "text/html"})
    assert page.status_code == 429 and "Retry-After" in page.headers
    assert "请求过于频繁" in page.text
    statuses = db.scalars(select(KeyUsage.status).order_by(KeyUsage.id)).all()
    assert statuses == [200, 429, 429]


def test_daily_quota_answers_429_until_beijing_midnight(
    http: TestClient, db: Session, pub: Publisher, cond: Conditional
) -> None:
    person = make_applicant(db)
    app = approved(db, pub, person, cond.name, rate=100, quota=1)
    key = key_issue(db, actor=person, application_id=app.id).key
    assert http.get(f"/datastore/dump/{cond.resource_id}", headers=_bearer(key)).status_code == 200
    over = http.post(SEARCH, json={"resource_id": cond.resource_id}, headers={"Authorization": key})
    assert over.status_code == 429
    assert 1 <= int(over.headers["Retry-After"]) <= 86_400
    assert "今日调用次数已达上限" in over.json()["error"]["message_zh"]


def test_sql_never_reaches_a_conditional_table(
    http: TestClient, db: Session, pub: Publisher, cond: Conditional
) -> None:
    person = make_applicant(db)
    key = key_issue(db, actor=person, application_id=approved(db, pub, person, cond.name).id).key
    for headers in ({}, {"Authorization": key}, _bearer(pub.token)):
        sql = f'SELECT * FROM "{cond.resource_id}"'  # noqa: S608 - a fixed test query
        refused = http.post(SQL, json={"sql": sql}, headers=headers)
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["__type"] == "Validation Error"
        assert refused.json()["success"] is False


def test_json_api_bad_input(http: TestClient, db: Session, pub: Publisher, cond: Conditional) -> None:
    bad_id = http.post(
        f"{API}/register",
        json={
            "kind": "company",
            "username": "acme",
            "password": PASSWORD,
            "name": "某公司",
            "identifier": "91330100MA27XXXX0X",
            "phone": "13900000000",
        },
    )
    assert bad_id.status_code == 400 and bad_id.json()["error"]["field"] == "identifier"
    anonymous = http.post(f"{API}/applications", json=application_data(cond.name))
    assert anonymous.status_code == 401
    person = make_applicant(db)
    headers = _bearer(_token_of(db, person))
    short = http.post(
        f"{API}/applications", json=application_data(cond.name, purpose="看看"), headers=headers
    )
    assert short.status_code == 400 and short.json()["error"]["field"] == "purpose"
    missing = http.get(f"{API}/applications/999999", headers=headers)
    assert missing.status_code == 404
    key_of_refused = http.post(f"{API}/applications/999999/key", headers=headers)
    assert key_of_refused.status_code == 404
    assert http.get(f"{API}/inbox", headers=headers).status_code == 403
