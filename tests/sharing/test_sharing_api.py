"""The JSON API under /api/v1/sharing: flows, error shapes, permissions, OpenAPI."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import make_token
from sharing.sharing_helpers import World
from zhengwu.accounts.schemas import UserOut
from zhengwu.sharing.models import ShareRequest

BASE = "/api/v1/sharing"


def _auth(db: Session, user: UserOut) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(db, user)}"}


def _body(world: World, resource_code: str | None = None, **overrides: object) -> dict[str, object]:
    body: dict[str, object] = {
        "resource_code": resource_code or world.conditional.code,
        "elements": ["uscc", "org_name"],
        "purpose": "企业开办一件事联办",
        "legal_basis": "《优化营商环境条例》",
        "consumer_system": "一网通办平台",
        "valid_from": "2026-01-01",
        "valid_until": "2030-12-31",
    }
    body.update(overrides)
    return body


def test_request_approve_and_check_flow(client: TestClient, db: Session, world: World) -> None:
    consumer = _auth(db, world.c_admin)
    provider = _auth(db, world.p_admin)
    created = client.post(f"{BASE}/requests", json=_body(world), headers=consumer)
    assert created.status_code == 201, created.text
    req = created.json()
    assert req["status"] == "pending" and req["deadline_days"] == 10
    assert req["element_labels"] == {"uscc": "统一社会信用代码", "org_name": "单位名称"}

    mine = client.get(f"{BASE}/requests", params={"box": "mine"}, headers=consumer).json()
    assert [r["id"] for r in mine] == [req["id"]]
    to_me = client.get(
        f"{BASE}/requests", params={"box": "to_me", "status": "pending"}, headers=provider
    ).json()
    assert [r["id"] for r in to_me] == [req["id"]]

    approved = client.post(
        f"{BASE}/requests/{req['id']}/approve", json={"elements": ["uscc"]}, headers=provider
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["narrowed"] is True and approved.json()["approved_elements"] == ["uscc"]
    grant_id = approved.json()["grant_id"]

    check = client.post(
        f"{BASE}/grants/check",
        json={
            "consumer_department_id": world.consumer.id,
            "resource_id": world.conditional.id,
            "element_names": ["uscc", "org_name"],
            "purpose": "企业开办一件事联办",
        },
        headers=consumer,
    ).json()
    assert check["allowed"] is False and check["reason"] == "grant.element_not_granted"
    assert check["elements"] == ["uscc"] and check["missing"] == ["org_name"]

    users = client.get(
        f"{BASE}/resources/{world.conditional.code}/grants", headers=_auth(db, world.o_admin)
    ).json()
    assert [g["id"] for g in users] == [grant_id]

    history = client.get(f"{BASE}/requests/{req['id']}/history", headers=consumer).json()
    assert [h["action"] for h in history] == ["request.create", "request.approve_subset", "grant.create"]

    revoked = client.post(f"{BASE}/grants/{grant_id}/revoke", json={"reason": "停止使用"}, headers=provider)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert (
        client.get(f"{BASE}/grants", params={"box": "mine"}, headers=consumer).json()[0]["status"]
        == "revoked"
    )


def test_unconditional_request_is_granted_in_the_answer(
    client: TestClient, db: Session, world: World
) -> None:
    response = client.post(
        f"{BASE}/requests", json=_body(world, world.unconditional.code), headers=_auth(db, world.c_dev)
    )
    assert response.status_code == 201
    assert response.json()["status"] == "approved" and response.json()["auto_granted"] is True
    assert response.json()["grant_id"] is not None


def test_error_shapes(client: TestClient, db: Session, world: World) -> None:
    consumer = _auth(db, world.c_admin)
    missing = client.post(f"{BASE}/requests", json=_body(world, purpose="   "), headers=consumer)
    assert missing.status_code == 400
    error = missing.json()["error"]
    assert error["code"] == "request.invalid" and error["field"] == "purpose"
    assert set(error) >= {"code", "message", "message_en", "field"}

    empty = client.post(f"{BASE}/requests", json=_body(world, elements=[]), headers=consumer)
    assert empty.status_code == 400 and empty.json()["error"]["field"] == "elements"

    unknown = client.post(f"{BASE}/requests", json=_body(world, elements=["uscc", "bogus"]), headers=consumer)
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "sharing.element.unknown"
    assert unknown.json()["error"]["details"]["unknown"] == ["bogus"]

    reversed_ = client.post(
        f"{BASE}/requests",
        json=_body(world, valid_from="2030-01-01", valid_until="2029-01-01"),
        headers=consumer,
    )
    assert reversed_.status_code == 400 and reversed_.json()["error"]["field"] == "valid_until"

    bad_date = client.post(f"{BASE}/requests", json=_body(world, valid_until="2026-02-30"), headers=consumer)
    assert bad_date.status_code == 400 and bad_date.json()["error"]["field"] == "valid_until"

    huge = client.post(f"{BASE}/requests", json=_body(world, purpose="用" * 100_000), headers=consumer)
    assert huge.status_code == 400 and huge.json()["error"]["field"] == "purpose"

    none = client.post(f"{BASE}/requests", json=_body(world, world.unshared.code), headers=consumer)
    assert none.status_code == 409 and none.json()["error"]["code"] == "sharing.resource.not_shareable"

    draft = client.post(f"{BASE}/requests", json=_body(world, world.draft.code), headers=consumer)
    assert draft.status_code == 404 and draft.json()["error"]["field"] == "resource_code"

    not_json = client.post(
        f"{BASE}/requests", content=b"{not json", headers={**consumer, "Content-Type": "application/json"}
    )
    assert not_json.status_code == 400 and "error" in not_json.json()

    assert client.get(f"{BASE}/requests/999999", headers=consumer).status_code == 404
    assert db.scalar(select(ShareRequest.id)) is None


def test_refuse_requires_a_reason(client: TestClient, db: Session, world: World) -> None:
    req = client.post(f"{BASE}/requests", json=_body(world), headers=_auth(db, world.c_admin)).json()
    provider = _auth(db, world.p_admin)
    no_reason = client.post(f"{BASE}/requests/{req['id']}/refuse", json={"reason": ""}, headers=provider)
    assert no_reason.status_code == 400 and no_reason.json()["error"]["field"] == "reason"
    wider = client.post(
        f"{BASE}/requests/{req['id']}/approve",
        json={"elements": ["uscc", "registered_capital"]},
        headers=provider,
    )
    assert wider.status_code == 400 and wider.json()["error"]["code"] == "sharing.request.wider_than_asked"
    refused = client.post(
        f"{BASE}/requests/{req['id']}/refuse", json={"reason": "不符合共享条件"}, headers=provider
    )
    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    again = client.post(f"{BASE}/requests/{req['id']}/refuse", json={"reason": "x"}, headers=provider)
    assert again.status_code == 409 and again.json()["error"]["code"] == "sharing.request.not_pending"


def test_permissions(client: TestClient, db: Session, world: World) -> None:
    assert client.get(f"{BASE}/requests").status_code == 401
    req = client.post(f"{BASE}/requests", json=_body(world), headers=_auth(db, world.c_admin)).json()
    outsider = _auth(db, world.o_admin)
    assert client.get(f"{BASE}/requests/{req['id']}", headers=outsider).status_code == 403
    forbidden = client.post(f"{BASE}/requests/{req['id']}/approve", headers=outsider)
    assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "auth.forbidden"
    norole = _auth(db, world.c_norole)
    assert client.post(f"{BASE}/requests", json=_body(world), headers=norole).status_code == 403
    assert client.get(f"{BASE}/requests", headers=norole).status_code == 403
    assert client.get(f"{BASE}/requests", params={"box": "all"}, headers=outsider).status_code == 403
    assert client.get(f"{BASE}/requests", params={"box": "nonsense"}, headers=outsider).status_code == 400
    public = _auth(db, world.public)
    assert client.get(f"{BASE}/resources/{world.conditional.code}/grants", headers=public).status_code == 403
    # The platform sees everything.
    platform = _auth(db, world.platform)
    assert [
        r["id"] for r in client.get(f"{BASE}/requests", params={"box": "all"}, headers=platform).json()
    ] == [req["id"]]


def test_corrections_api(client: TestClient, db: Session, world: World) -> None:
    consumer = _auth(db, world.c_dev)
    body = {
        "resource_code": world.conditional.code,
        "element": "registered_capital",
        "record_key": "91330000MA2XXXXX0X",
        "value_seen": "100万元",
        "value_expected": "1000万元",
    }
    created = client.post(f"{BASE}/corrections", json=body, headers=consumer)
    assert created.status_code == 201, created.text
    cid = created.json()["id"]
    assert created.json()["element_label"] == "注册资本" and created.json()["deadline_days"] == 10
    provider = _auth(db, world.p_admin)
    bad = client.post(f"{BASE}/corrections/{cid}/answer", json={"outcome": "corrected"}, headers=provider)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "answer"
    wrong = client.post(
        f"{BASE}/corrections/{cid}/answer", json={"outcome": "maybe", "answer": "x"}, headers=provider
    )
    assert wrong.status_code == 400 and wrong.json()["error"]["field"] == "outcome"
    done = client.post(
        f"{BASE}/corrections/{cid}/answer",
        json={"outcome": "corrected", "answer": "已更正"},
        headers=provider,
    )
    assert done.status_code == 200 and done.json()["status"] == "corrected"
    listed = client.get(f"{BASE}/corrections", params={"box": "to_me"}, headers=provider).json()
    assert [c["id"] for c in listed] == [cid]
    history = client.get(f"{BASE}/corrections/{cid}/history", headers=consumer).json()
    assert [h["to_status"] for h in history] == ["open", "corrected"]
    assert client.get(f"{BASE}/corrections/{cid}", headers=_auth(db, world.o_admin)).status_code == 403


def test_stats_api(client: TestClient, db: Session, world: World) -> None:
    headers = _auth(db, world.c_admin)
    client.post(f"{BASE}/requests", json=_body(world), headers=headers)
    client.post(f"{BASE}/requests", json=_body(world, world.unconditional.code), headers=headers)
    stats = client.get(f"{BASE}/stats", headers=headers).json()
    provider = next(d for d in stats["departments"] if d["department_id"] == world.provider.id)
    assert provider["resources_published"] == 3  # conditional, unconditional, none (draft and withdrawn not)
    assert (provider["unconditional"], provider["conditional"], provider["none"]) == (1, 1, 1)
    assert provider["requests_received"] == 2 and provider["auto_granted"] == 1 and provider["pending"] == 1
    consumer = next(d for d in stats["departments"] if d["department_id"] == world.consumer.id)
    assert consumer["requests_made"] == 2
    # A period counts only what was submitted in it; published resources stay as of today.
    today = dt.date.fromisoformat(stats["today"])
    this_day = client.get(f"{BASE}/stats", params={"from": str(today), "to": str(today)}, headers=headers)
    assert this_day.json()["totals"]["requests_received"] == 2
    later = client.get(f"{BASE}/stats", params={"from": str(today + dt.timedelta(days=1))}, headers=headers)
    assert later.json()["period_from"] == str(today + dt.timedelta(days=1))
    provider = next(d for d in later.json()["departments"] if d["department_id"] == world.provider.id)
    assert provider["requests_received"] == 0 and provider["resources_published"] == 3
    backwards = client.get(
        f"{BASE}/stats", params={"from": "2026-03-01", "to": "2026-01-01"}, headers=headers
    )
    assert backwards.status_code == 400 and backwards.json()["error"]["field"] == "to"
    assert client.get(f"{BASE}/stats", params={"from": "2026-13-01"}, headers=headers).status_code == 400


def test_openapi_documents_the_sharing_api(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/sharing/requests",
        "/api/v1/sharing/requests/{request_id}/approve",
        "/api/v1/sharing/requests/{request_id}/refuse",
        "/api/v1/sharing/grants",
        "/api/v1/sharing/grants/{grant_id}/revoke",
        "/api/v1/sharing/grants/check",
        "/api/v1/sharing/corrections",
        "/api/v1/sharing/corrections/{correction_id}/answer",
        "/api/v1/sharing/stats",
    ):
        assert path in paths, path
    assert not any(p.startswith("/sharing") for p in paths)
