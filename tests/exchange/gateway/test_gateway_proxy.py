"""The gateway end to end: a real upstream, a committed exchange, every call recorded in the log."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from starlette.testclient import TestClient

from factories import SYSTEM, make_token, make_user
from gateway_env import INSTANCE, PERSON, Exchange, LeanThread
from servers import free_port
from zhengwu.accounts.models import Department, Role
from zhengwu.db import utcnow
from zhengwu.exchange.gateway.proxy import Gateway, GatewayConfig
from zhengwu.exchange.gateway.services import Limits
from zhengwu.exchange.models import ExchangeLogRecord
from zhengwu.exchange.schemas import SubsystemIn
from zhengwu.exchange.services import subsystem_register
from zhengwu.exchange.verify import messagelog_verify
from zhengwu.sharing.models import Grant, GrantStatus

PURPOSE = "社保登记核验"


@pytest.fixture(params=["asgi", "lean"])
def gateway(exchange: Exchange, request: pytest.FixtureRequest) -> Iterator[tuple[httpx.Client, Gateway]]:
    """The gateway in process (Starlette's test client), or on its lean HTTP server over real sockets."""
    gw = Gateway(exchange.database, GatewayConfig(instance=INSTANCE, grant_ttl=5.0))
    if request.param == "asgi":
        with TestClient(gw, base_url="http://gateway") as client:
            yield client, gw
        return
    server = LeanThread(gw, free_port())
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=30) as client:
            yield client, gw
    finally:
        server.stop()


def record_of(exchange: Exchange, response: httpx.Response) -> ExchangeLogRecord:
    """The log record of a call, found by the X-Road-Id the client received."""
    xroad_id = response.headers["x-road-id"]
    with exchange.database.session() as db:
        rows = list(db.scalars(select(ExchangeLogRecord).where(ExchangeLogRecord.xroad_id == xroad_id)))
        assert len(rows) == 1, f"expected one record for {xroad_id}, found {len(rows)}"
        db.expunge(rows[0])
        return rows[0]


def refused(exchange: Exchange, response: httpx.Response, status: int, error_type: str) -> dict[str, Any]:
    """Check an X-Road error answer and its record; return the body."""
    assert response.status_code == status, response.text
    assert response.headers["x-road-error"] == error_type
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"type", "message", "detail"}
    assert body["type"] == error_type and body["detail"] == response.headers["x-road-id"]
    record = record_of(exchange, response)
    assert record.http_status == status and record.error_type == error_type
    assert "provider says no" not in response.text and PERSON["org_name"] not in response.text  # no data
    return body


def test_happy_path_filters_masks_and_records(
    exchange: Exchange, gateway: tuple[httpx.Client, Gateway]
) -> None:
    client, _ = gateway
    response = client.get(
        exchange.path("org", "/org/42"),
        headers=exchange.headers(
            **{
                # Unique per run: the exchange (and its log) is shared by both servers' runs of this test.
                "X-Road-Id": "call-1-" + exchange.url[-6:] + "-" + uuid.uuid4().hex[:8],
                "X-Road-UserId": "CN110105199001011234",
                "X-Road-Issue": "SB-2026-001",
            }
        ),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    # Only granted elements; the sensitive one masked; the unknown key removed.
    assert body == {"uscc": PERSON["uscc"], "org_name": PERSON["org_name"], "legal_rep_name": "欧**"}
    assert "x-road-error" not in response.headers
    assert response.headers["x-road-id"].startswith("call-1-")
    assert response.headers["x-road-client"] == exchange.client
    assert response.headers["x-road-service"] == f"{INSTANCE}/GOV/{exchange.provider_uscc}/FAREN/org"
    assert len(base64.b64decode(response.headers["x-road-request-hash"])) == 64
    assert response.headers["x-road-request-id"] != response.headers["x-road-id"]
    record = record_of(exchange, response)
    assert record.client_id == exchange.client and record.http_status == 200
    assert record.user_id == "CN110105199001011234" and record.issue == "SB-2026-001"
    assert record.response_size == len(response.content)


def test_envelopes_keep_paging_and_shape_every_item(
    exchange: Exchange, gateway: tuple[httpx.Client, Gateway]
) -> None:
    client, _ = gateway
    response = client.get(exchange.path("org", "/orgs"), headers=exchange.headers())
    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 2 and body["next_cursor"] is None
    assert all(set(item) == {"uscc", "org_name", "legal_rep_name"} for item in body["items"])


def test_elements_and_purpose_headers(exchange: Exchange, gateway: tuple[httpx.Client, Gateway]) -> None:
    client, _ = gateway
    ok = client.get(
        exchange.path("org", "/org/1"),
        headers=exchange.headers(
            **{
                "X-Zhengwu-Elements": "uscc",
                "X-Zhengwu-Purpose": httpx.URL("http://x/" + PURPOSE).raw_path.decode()[1:],
            }
        ),
    )
    assert ok.status_code == 200, ok.text
    assert ok.json() == {"uscc": PERSON["uscc"]}
    # The record says under which grant and for which declared purpose the data left.
    allowed = record_of(exchange, ok)
    assert allowed.grant_id == exchange.grant_id and allowed.purpose == PURPOSE
    not_granted = client.get(
        exchange.path("org", "/org/1"),
        headers=exchange.headers(**{"X-Zhengwu-Elements": "uscc,registered_capital"}),
    )
    body = refused(exchange, not_granted, 403, "Client.ElementNotGranted")
    assert "registered_capital" in body["message"]
    wrong_purpose = client.get(
        exchange.path("org", "/org/1"), headers=exchange.headers(**{"X-Zhengwu-Purpose": "marketing"})
    )
    refused(exchange, wrong_purpose, 403, "Client.PurposeMismatch")
    mismatch = record_of(exchange, wrong_purpose)
    # Refused, but checked against that grant: the record names it too.
    assert mismatch.purpose == "marketing" and mismatch.grant_id == exchange.grant_id


def test_unconditional_resource_is_open_to_any_member_but_masked(
    exchange: Exchange, gateway: tuple[httpx.Client, Gateway]
) -> None:
    client, _ = gateway
    headers = {
        "X-Road-Client": f"{INSTANCE}/GOV/{_other_uscc(exchange)}/OTHER",
        "Authorization": exchange.other_token,
    }
    response = client.get(exchange.path("open", "/org/7"), headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["legal_rep_name"] == "欧**" and "secret_note" not in body and "id" not in body
    assert body["registered_capital"] == PERSON["registered_capital"]
    # ... while a conditional resource without a grant is refused for the same caller.
    refused(exchange, client.get(exchange.path("org", "/org/7"), headers=headers), 403, "Client.AccessDenied")


def _other_uscc(exchange: Exchange) -> str:
    with exchange.database.session() as db:
        return str(db.scalar(select(Department.uscc).where(Department.name == "无关部门")))


def test_authentication_failures(exchange: Exchange, gateway: tuple[httpx.Client, Gateway]) -> None:
    client, _ = gateway
    path = exchange.path("org", "/org/1")
    unknown = client.get(
        path, headers={**exchange.headers(), "X-Road-Client": f"{INSTANCE}/GOV/{exchange.consumer_uscc}/NOPE"}
    )
    refused(exchange, unknown, 403, "Client.UnknownMember")
    bad = client.get(path, headers={**exchange.headers(), "Authorization": "Bearer zw_abc_def"})
    assert "auth.token_invalid" in refused(exchange, bad, 401, "Client.InvalidCredentials")["message"]
    missing = client.get(path, headers={"X-Road-Client": exchange.client})
    refused(exchange, missing, 401, "Client.InvalidCredentials")
    # A valid token of another department cannot speak for this subsystem.
    stolen = client.get(path, headers={**exchange.headers(), "Authorization": exchange.other_token})
    refused(exchange, stolen, 403, "Client.InvalidClient")


def test_expired_grant_quota_and_clear_elements(
    exchange: Exchange, gateway: tuple[httpx.Client, Gateway]
) -> None:
    client, _ = gateway
    refused(
        exchange,
        client.get(exchange.path("old", "/org/1"), headers=exchange.headers()),
        403,
        "Client.GrantExpired",
    )
    first = client.get(exchange.path("quota", "/org/1"), headers=exchange.headers())
    assert first.status_code == 200
    assert first.json() == {
        "uscc": PERSON["uscc"],
        "legal_rep_name": PERSON["legal_rep_name"],
    }  # in clear by policy
    assert client.get(exchange.path("quota", "/org/1"), headers=exchange.headers()).status_code == 200
    third = client.get(exchange.path("quota", "/org/1"), headers=exchange.headers())
    refused(exchange, third, 429, "Client.QuotaExceeded")
    assert int(third.headers["retry-after"]) >= 1


def test_rate_limit_answers_429_with_retry_after(exchange: Exchange) -> None:
    gw = Gateway(exchange.database, GatewayConfig(instance=INSTANCE, default_limits=Limits(0.5, 2, None)))
    with TestClient(gw) as client:
        answers = [client.get(exchange.path("open", "/org/1"), headers=exchange.headers()) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    refused(exchange, answers[2], 429, "Client.RateLimitExceeded")
    assert answers[2].headers["retry-after"] == "2"


def test_workers_sharing_the_limits_file_share_one_allowance(exchange: Exchange, tmp_path: Path) -> None:
    # Two gateways as two workers of one host (`zhengwu gateway --workers 2`): a burst of 2 in all.
    config = GatewayConfig(
        instance=INSTANCE, default_limits=Limits(0.01, 2, None), limits_path=tmp_path / "limits.bin"
    )
    first, second = Gateway(exchange.database, config), Gateway(exchange.database, config)
    with TestClient(first) as a, TestClient(second) as b:
        answers = [c.get(exchange.path("open", "/org/1"), headers=exchange.headers()) for c in (a, b, a, b)]
    assert [r.status_code for r in answers] == [200, 200, 429, 429]
    refused(exchange, answers[3], 429, "Client.RateLimitExceeded")


def test_revoked_grant_stops_after_the_cache_ttl(
    exchange: Exchange, gateway: tuple[httpx.Client, Gateway]
) -> None:
    client, gw = gateway
    path = exchange.path("revocable", "/org/1")
    assert client.get(path, headers=exchange.headers()).status_code == 200
    with exchange.database.session() as db:
        db.execute(
            update(Grant)
            .where(Grant.id == exchange.revocable_grant_id)
            .values(status=GrantStatus.REVOKED, revoked_at=utcnow())
        )
    # Within grant_ttl the cached decision may still serve; once it expires (cleared here) it is refused.
    gw._access.clear()
    try:
        refused(exchange, client.get(path, headers=exchange.headers()), 403, "Client.GrantRevoked")
    finally:  # the exchange is shared by both servers' runs of this test
        with exchange.database.session() as db:
            db.execute(
                update(Grant)
                .where(Grant.id == exchange.revocable_grant_id)
                .values(status=GrantStatus.ACTIVE, revoked_at=None)
            )


def test_upstream_down_slow_and_provider_errors(
    exchange: Exchange, gateway: tuple[httpx.Client, Gateway]
) -> None:
    client, _ = gateway
    down = refused(
        exchange,
        client.get(exchange.path("down", "/org/1"), headers=exchange.headers()),
        500,
        "Server.ServerProxy.NetworkError",
    )
    assert "reach" in down["message"]
    slow = client.get(exchange.path("slow", "/slow"), headers=exchange.headers())
    refused(exchange, slow, 500, "Server.ServerProxy.ServiceTimeout")
    record = record_of(exchange, slow)
    assert (
        record.finished_at - record.started_at
    ).total_seconds() < 2.5  # the 0.3 s timeout, not the 3 s upstream
    # A provider error passes through with its status and headers, but still shaped, and no X-Road-Error.
    passed = client.get(exchange.path("org", "/fail"), headers=exchange.headers())
    assert passed.status_code == 418 and passed.headers["x-provider"] == "yes"
    assert "x-road-error" not in passed.headers and passed.json() == {"error": "provider says no"}
    assert record_of(exchange, passed).http_status == 418
    # Non-JSON success cannot be filtered: refused rather than leaking ungranted elements.
    refused(
        exchange,
        client.get(exchange.path("org", "/text"), headers=exchange.headers()),
        500,
        "Server.ServerProxy.InvalidResponse",
    )


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/r1/CN-DEV/GOV", "part(s)"),
        ("/r1/OTHER/GOV/{p}/FAREN/org", "instance"),
        ("/r1/CN-DEV/XXX/{p}/FAREN/org", "member_class"),
        ("/r1/CN-DEV/GOV/91330000MA27XYZ12Y/FAREN/org", "USCC"),
        ("/r1/CN-DEV/GOV/{p}/FA%2FREN/org", "subsystem_code"),
        ("/r1/CN-DEV/GOV/{p}/FAREN/%E4%BD%A0", "service_code"),
        ("/r1/CN-DEV/GOV/{p}/FAREN/%FF", "UTF-8"),
        ("/r1/CN-DEV/GOV/{p}/FAREN/org/%2e%2e/admin", "dot segment"),
        ("/r1/CN-DEV/GOV/{p}/FAREN/org/a%2Fb", "encoded slash"),
        ("/r1/CN-DEV/GOV/{p}/FAREN/org/" + "a" * 2100, "2000"),
    ],
)
def test_malformed_paths_are_400_with_the_reason(
    exchange: Exchange, gateway: tuple[httpx.Client, Gateway], path: str, reason: str
) -> None:
    client, _ = gateway
    response = client.get(path.replace("{p}", exchange.provider_uscc), headers=exchange.headers())
    body = refused(exchange, response, 400, "Client.BadRequest")
    assert reason in body["message"]


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"X-Road-Client": None}, "mandatory"),
        ({"X-Road-Client": "CN-DEV/GOV/{c}"}, "4 parts"),
        ({"X-Road-Client": "CN-DEV/GOV/{c}/SHE BAO"}, "subsystem_code"),
        ({"X-Road-Client": "CN-DEV/GOV/%EF%BC%99%EF%BC%91/SHEBAO"}, "member_code"),  # full-width digits
        ({"X-Road-UserId": "a\x01b"}, "control"),
        ({"X-Road-Issue": "x" * 1001}, "longer"),
        ({"X-Zhengwu-Elements": ", ,"}, "no element"),
    ],
)
def test_malformed_headers_are_400_with_the_reason(
    exchange: Exchange, gateway: tuple[httpx.Client, Gateway], headers: dict[str, str | None], reason: str
) -> None:
    client, _ = gateway
    sent = exchange.headers()
    for name, value in headers.items():
        if value is None:
            sent.pop(name)
        else:
            sent[name] = value.replace("{c}", exchange.consumer_uscc)
    response = client.get(exchange.path("org", "/org/1"), headers=sent)
    if reason == "control" and not isinstance(client, TestClient):
        # Over a real connection the HTTP parser refuses a control character in a header (as uvicorn's
        # would): an X-Road-shaped 400 before the gateway, so no call and no record. In process it is the
        # gateway's own refusal, recorded.
        assert response.status_code == 400 and response.headers["x-road-error"] == "Client.BadRequest"
        assert response.headers["connection"] == "close" and PERSON["org_name"] not in response.text
        return
    body = refused(exchange, response, 400, "Client.BadRequest")
    assert reason in body["message"]


def test_duplicate_xroad_header_is_refused(exchange: Exchange, gateway: tuple[httpx.Client, Gateway]) -> None:
    client, _ = gateway
    raw = [
        (b"X-Road-Client", exchange.client.encode()),
        (b"X-Road-Client", exchange.client.encode()),
        (b"Authorization", exchange.token.encode()),
    ]
    response = client.get(exchange.path("org", "/org/1"), headers=raw)  # type: ignore[arg-type]
    assert "more than once" in refused(exchange, response, 400, "Client.BadRequest")["message"]


def test_request_forwarding_headers_body_query(
    exchange: Exchange, gateway: tuple[httpx.Client, Gateway]
) -> None:
    client, _ = gateway
    body = "查询 ￥100 \ufeff".encode("gbk", "replace")
    response = client.post(
        exchange.path("internal", "/echo/a/b%20c?x=1&x=2&q=%E4%BD%A0"),
        content=body,
        headers={
            **_provider_headers(exchange),
            "X-Custom": "kept",
            "Content-Type": "text/plain; charset=gbk",
        },
    )
    assert response.status_code == 200, response.text
    echoed = response.json()
    assert echoed["path"] == "/echo/a/b c" and echoed["query"] == "x=1&x=2&q=%E4%BD%A0"
    assert (
        echoed["headers"]["x-custom"] == "kept"
        and echoed["headers"]["content-type"] == "text/plain; charset=gbk"
    )
    assert "authorization" not in echoed["headers"]  # the gateway token never reaches the provider
    assert echoed["headers"]["x-road-id"] == response.headers["x-road-id"]
    record = record_of(exchange, response)
    assert record.request_size == len(body)
    assert record.request_hash != hashlib.sha256(body).hexdigest()  # SM3, not SHA-256


def _provider_headers(exchange: Exchange) -> dict[str, str]:
    """A service without a catalog resource is open only to its own department: call it as the provider."""
    with exchange.database.session() as db:
        dept = db.scalar(select(Department).where(Department.uscc == exchange.provider_uscc))
        assert dept is not None
        user = make_user(db, roles=[Role.DEVELOPER], department_id=dept.id)
        token = make_token(db, user)
        code = f"OWN{user.id}"
        subsystem_register(
            db,
            actor=SYSTEM,
            data=SubsystemIn(department_id=dept.id, code=code, name="自用"),
            instance=INSTANCE,
        )
    return {"X-Road-Client": f"{INSTANCE}/GOV/{exchange.provider_uscc}/{code}", "Authorization": token}


def test_internal_service_refused_to_other_departments(
    exchange: Exchange, gateway: tuple[httpx.Client, Gateway]
) -> None:
    client, _ = gateway
    refused(
        exchange,
        client.get(exchange.path("internal", "/echo/x"), headers=exchange.headers()),
        403,
        "Client.AccessDenied",
    )
    refused(
        exchange,
        client.get(exchange.path("nosuch", "/x"), headers=exchange.headers()),
        404,
        "Client.UnknownService",
    )


def test_every_call_is_recorded_and_the_log_verifies(
    exchange: Exchange, gateway: tuple[httpx.Client, Gateway]
) -> None:
    client, _ = gateway
    answers = [
        client.get(exchange.path("org", "/org/1"), headers=exchange.headers()),
        client.get(exchange.path("org", "/org/1"), headers={"X-Road-Client": exchange.client}),
        client.get("/r1/nonsense", headers=exchange.headers()),
    ]
    for answer in answers:
        record_of(exchange, answer)
    with exchange.database.session() as db:
        assert messagelog_verify(db).ok
