"""The exchange demo seed: resources, grants, services with credentials, front nodes over SQLite files."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from conftest import TEST_SECRET
from zhengwu.demo.services import demo_organisation_seed
from zhengwu.exchange.credentials import credential_decrypt, credential_key
from zhengwu.exchange.demo import (
    LEGACY,
    LegacySpec,
    demo_node_apps,
    demo_node_token,
    exchange_demo_seed,
    legacy_rows,
)
from zhengwu.exchange.models import ExchangeService
from zhengwu.sharing.models import Grant, GrantStatus


def first_row(spec: LegacySpec) -> dict[str, object]:
    """The row a node lists first: the smallest primary key (the first element)."""
    key = str(spec.elements[0]["name_en"])
    return min(legacy_rows(spec), key=lambda r: str(r[key]))


def test_seed_once_then_refresh_and_nodes_need_their_token(db: Session, tmp_path: Path) -> None:
    demo_organisation_seed(db, province_code="330000")
    calls, first = exchange_demo_seed(
        db,
        province_code="330000",
        instance="CN-DEV",
        secret_key=TEST_SECRET,
        base_url="http://127.0.0.1:8000",
    )
    assert first and len(calls) == 2 and all(c.token.startswith("zw_") for c in calls)
    assert {c.caller for c in calls} == {"rs_admin", "scjg_admin"}
    grants = db.scalars(select(Grant).where(Grant.status == GrantStatus.ACTIVE)).all()
    assert {tuple(sorted(g.elements)) for g in grants} == {tuple(sorted(s.granted)) for s in LEGACY}
    services = db.scalars(select(ExchangeService)).all()
    assert len(services) == 2 and all(
        s.upstream_url.startswith("http://127.0.0.1:8000/demo-node/") for s in services
    )
    # A later start on another port with another secret: same rows, new address, re-encrypted token.
    again, first = exchange_demo_seed(
        db, province_code="330000", instance="CN-DEV", secret_key=TEST_SECRET + "2", base_url="http://h:9"
    )
    assert not first and {c.token for c in again}.isdisjoint({c.token for c in calls})
    assert len(db.scalars(select(ExchangeService)).all()) == 2
    for svc in db.scalars(select(ExchangeService)):
        assert svc.upstream_url.startswith("http://h:9/demo-node/") and svc.upstream_credential is not None
        plain = credential_decrypt(credential_key(TEST_SECRET + "2"), svc.id, svc.upstream_credential)
        assert plain in {demo_node_token(TEST_SECRET + "2", s) for s in LEGACY}
    apps = demo_node_apps(tmp_path, TEST_SECRET)
    assert set(apps) == {"/demo-node/scjg", "/demo-node/rs"}
    for spec in LEGACY:
        with TestClient(apps[f"/demo-node/{spec.dept.lower()}"]) as node:
            url = f"/services/{spec.service}/rows?limit=5"
            assert node.get(url).status_code == 401
            page = node.get(
                url, headers={"Authorization": f"Bearer {demo_node_token(TEST_SECRET, spec)}"}
            ).json()
            assert len(page["items"]) == 5 and page["items"][0] == {
                k: (str(v) if not isinstance(v, int | str) else v) for k, v in first_row(spec).items()
            }
    # The legacy databases are created once and reused.
    assert demo_node_apps(tmp_path, TEST_SECRET).keys() == apps.keys()
