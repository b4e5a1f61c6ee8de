"""The operational-data API under /api/v1/exchange/monitoring: numbers, scope, bad input."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import make_department, make_token, make_user
from factories_monitoring import Traffic, make_traffic
from zhengwu.accounts.models import Role

START = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
WINDOW = {"from": "2026-11-20T02:00:00Z", "to": "2026-11-20T03:00:00Z"}
BASE = "/api/v1/exchange/monitoring"


@pytest.fixture
def traffic(db: Session) -> Traffic:
    return make_traffic(db, START)


def _bearer(db: Session, roles: list[Role], department_id: int | None = None) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {make_token(db, make_user(db, roles=roles, department_id=department_id))}"
    }


def test_services_and_operational_data(client: TestClient, db: Session, traffic: Traffic) -> None:
    auth = _bearer(db, [Role.PLATFORM_ADMIN])
    body = client.get(f"{BASE}/services", params={**WINDOW, "sort": "slowest"}, headers=auth).json()
    assert body["totals"]["calls"] == 20 and body["services"][0]["service_id"] == traffic.slow
    assert body["window"]["bucket_seconds"] == 60
    data = client.get(
        f"{BASE}/operational-data", params={**WINDOW, "service_id": traffic.persons}, headers=auth
    )
    assert data.status_code == 200
    out = data.json()
    assert out["service"]["stats"]["calls"] == 12
    assert out["service"]["stats"]["latency_ms"]["p50"] == pytest.approx(4.0)
    assert [c["client_id"] for c in out["by_client"]] == [traffic.b_client]
    # A window given in Beijing time means the same instants.
    beijing = {"from": "2026-11-20T10:00:00+08:00", "to": "2026-11-20T11:00:00+08:00"}
    again = client.get(f"{BASE}/services", params=beijing, headers=auth).json()
    assert again["totals"] == body["totals"]


def test_department_and_errors_endpoints_respect_scope(
    client: TestClient, db: Session, traffic: Traffic
) -> None:
    b_admin = _bearer(db, [Role.DATA_ADMIN], traffic.b.id)
    own = client.get(f"{BASE}/departments/{traffic.b.id}", params=WINDOW, headers=b_admin).json()
    assert (own["incoming"]["calls"], own["outgoing"]["calls"]) == (0, 13)
    other = client.get(f"{BASE}/departments/{traffic.a.id}", params=WINDOW, headers=b_admin)
    assert other.status_code == 403
    errors = client.get(f"{BASE}/errors", params={**WINDOW, "limit": 10}, headers=b_admin).json()
    assert sum(errors["by_type"].values()) == 3
    auditor = _bearer(db, [Role.AUDITOR])
    assert sum(client.get(f"{BASE}/errors", params=WINDOW, headers=auditor).json()["by_type"].values()) == 4
    assert client.get(f"{BASE}/departments/999999", params=WINDOW, headers=auditor).status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"from": "yesterday"},
        {"from": "2026-11-20T03:00:00Z", "to": "2026-11-20T02:00:00Z"},
        {"from": "2024-01-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"},
        {"sort": "'; DROP TABLE exchange_log_records; --"},
    ],
)
def test_bad_windows_and_sorts_are_400(client: TestClient, db: Session, params: dict[str, str]) -> None:
    response = client.get(f"{BASE}/services", params=params, headers=_bearer(db, [Role.PLATFORM_ADMIN]))
    assert response.status_code == 400
    assert response.json()["error"]["code"]


def test_authentication_and_roles(client: TestClient, db: Session) -> None:
    assert client.get(f"{BASE}/services").status_code == 401
    developer = _bearer(db, [Role.DEVELOPER], make_department(db).id)
    assert client.get(f"{BASE}/services", headers=developer).status_code == 403
    missing = client.get(f"{BASE}/operational-data", headers=_bearer(db, [Role.AUDITOR]))
    assert missing.status_code == 400
