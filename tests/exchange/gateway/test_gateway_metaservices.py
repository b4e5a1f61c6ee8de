"""Metaservices (listClients, listMethods, allowedMethods, getOpenAPI), metrics, and the platform mount."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from gateway_env import INSTANCE, OPENAPI, Exchange
from zhengwu.app import create_app
from zhengwu.config import load_settings
from zhengwu.exchange.gateway.proxy import Gateway, GatewayConfig

SECRET = "test-secret-key-that-is-long-enough-0123456789"


@pytest.fixture
def client(exchange: Exchange) -> Iterator[TestClient]:
    gw = Gateway(exchange.database, GatewayConfig(instance=INSTANCE))
    with TestClient(gw) as test_client:
        yield test_client


def test_list_clients_is_snake_case_like_a_security_server(exchange: Exchange, client: TestClient) -> None:
    response = client.get("/listClients", headers={"Accept": "application/json"})
    assert response.status_code == 200
    members = response.json()["member"]
    ids = [m["id"] for m in members]
    assert {
        "member_class": "GOV",
        "member_code": exchange.provider_uscc,
        "subsystem_code": "FAREN",
        "object_type": "SUBSYSTEM",
        "xroad_instance": INSTANCE,
    } in ids
    assert any(i["object_type"] == "MEMBER" and "subsystem_code" not in i for i in ids)
    assert all(set(m) == {"id", "name"} for m in members)


def test_list_and_allowed_methods(exchange: Exchange, client: TestClient) -> None:
    listed = client.get(exchange.path("listMethods"), headers=exchange.headers())
    assert listed.status_code == 200, listed.text
    services = {s["service_code"]: s for s in listed.json()["service"]}
    assert set(services) == {"org", "open", "old", "quota", "revocable", "slow", "down", "internal"}
    org = services["org"]
    assert org["object_type"] == "SERVICE" and org["service_type"] == "OPENAPI"
    assert org["xroad_instance"] == INSTANCE and org["member_code"] == exchange.provider_uscc
    assert {"method": "GET", "path": "/org/*"} in org["endpoint_list"]
    assert {"method": "POST", "path": "/orgs"} in org["endpoint_list"]
    assert listed.headers["x-road-service"].endswith("/FAREN/listMethods")
    allowed = client.get(exchange.path("allowedMethods"), headers=exchange.headers())
    codes = {s["service_code"] for s in allowed.json()["service"]}
    # The expired grant (old) and the provider-internal service are not allowed to this caller.
    assert {"org", "open", "quota", "revocable", "slow", "down"} <= codes
    assert "old" not in codes and "internal" not in codes


def test_get_openapi(exchange: Exchange, client: TestClient) -> None:
    doc = client.get(exchange.path("getOpenAPI") + "?serviceCode=org", headers=exchange.headers())
    assert doc.status_code == 200 and doc.json() == OPENAPI
    none = client.get(exchange.path("getOpenAPI") + "?serviceCode=open", headers=exchange.headers())
    assert none.status_code == 404 and none.headers["x-road-error"] == "Client.UnknownService"
    for query in ("", "?serviceCode=org&serviceCode=open", "?serviceCode="):
        bad = client.get(exchange.path("getOpenAPI") + query, headers=exchange.headers())
        assert bad.status_code == 400 and "serviceCode" in bad.json()["message"]
    # Metaservices need an authenticated caller too.
    anonymous = client.get(exchange.path("listMethods"), headers={"X-Road-Client": exchange.client})
    assert anonymous.status_code == 401


def test_metrics_count_calls_and_errors(exchange: Exchange, client: TestClient) -> None:
    client.get(exchange.path("open", "/org/1"), headers=exchange.headers())
    client.get(exchange.path("org", "/org/1"), headers={"X-Road-Client": exchange.client})
    text = client.get("/metrics").text
    service = f"{INSTANCE}/GOV/{exchange.provider_uscc}/FAREN"
    assert (
        f'zhengwu_gateway_calls_total{{client="{exchange.client}",service="{service}/open",status="200"}}'
        in text
    )
    assert 'type="Client.InvalidCredentials"' in text
    assert "zhengwu_gateway_call_seconds_bucket" in text and "zhengwu_gateway_upstream_seconds" in text


def test_gateway_is_mounted_in_the_platform_app(exchange: Exchange, tmp_path: object) -> None:
    settings = load_settings(mode="test", secret_key=SECRET, data_dir=tmp_path, database_url=exchange.url)
    app = create_app(settings, database=exchange.database)
    with TestClient(app) as platform:
        answer = platform.get(exchange.path("open", "/org/1"), headers=exchange.headers())
        assert answer.status_code == 200, answer.text
        assert answer.headers["x-road-client"] == exchange.client
        assert platform.get("/listClients").json()["member"]
        assert "zhengwu_gateway_calls_total" in platform.get("/metrics").text
        # The platform's own API is untouched by the mount.
        assert platform.get("/healthz").json()["status"] == "ok"
