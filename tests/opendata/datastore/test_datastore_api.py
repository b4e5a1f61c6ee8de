"""The CKAN datastore actions over HTTP (envelope, status codes) and streamed downloads."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from opendata.datastore.datastore_helpers import load_csv
from zhengwu.opendata.datastore.api import stream_db


@pytest.fixture
def ds_client(app: FastAPI, db: Session) -> Iterator[TestClient]:
    def _stream_db() -> Iterator[Session]:
        yield db

    app.dependency_overrides[stream_db] = _stream_db
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        yield client


def test_search_by_get_and_post(ds_client: TestClient, db: Session, tmp_path: Path) -> None:
    rid = load_csv(db, tmp_path).resource_id
    got = ds_client.get(
        "/api/3/action/datastore_search",
        params={
            "resource_id": rid,
            "filters": json.dumps({"城市": "杭州"}),
            "sort": "编号 desc",
            "limit": "2",
        },
    )
    assert got.status_code == 200
    body = got.json()
    assert body["success"] is True
    assert body["help"].endswith("/api/3/action/help_show?name=datastore_search")
    assert [r["编号"] for r in body["result"]["records"]] == [5, 3]
    assert body["result"]["total"] == 3
    posted = ds_client.post(
        "/api/3/action/datastore_search",
        json={"resource_id": rid, "q": "张", "fields": ["姓名"], "include_total": False},
    )
    assert posted.json()["result"]["records"] == [{"姓名": "张三"}]
    assert "total" not in posted.json()["result"]


def test_ckan_errors(ds_client: TestClient, db: Session, tmp_path: Path) -> None:
    rid = load_csv(db, tmp_path).resource_id
    bad = ds_client.post("/api/3/action/datastore_search", json={"resource_id": rid, "sort": "nope"})
    assert bad.status_code == 409
    error = bad.json()["error"]
    assert bad.json()["success"] is False
    assert error["__type"] == "Validation Error"
    assert error["sort"] == [error["message"]]
    missing = ds_client.get("/api/3/action/datastore_search", params={"resource_id": "no-such-resource"})
    assert missing.status_code == 404
    assert missing.json()["error"]["__type"] == "Not Found Error"
    no_id = ds_client.get("/api/3/action/datastore_search")
    assert no_id.status_code == 409
    assert "resource_id" in no_id.json()["error"]
    broken = ds_client.post(
        "/api/3/action/datastore_search", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert broken.status_code == 409
    bad_filters = ds_client.get(
        "/api/3/action/datastore_search", params={"resource_id": rid, "filters": "{oops"}
    )
    assert bad_filters.json()["error"]["__type"] == "Validation Error"
    bad_bool = ds_client.get(
        "/api/3/action/datastore_search", params={"resource_id": rid, "distinct": "maybe"}
    )
    assert bad_bool.status_code == 409


def test_search_sql_and_info(ds_client: TestClient, db: Session, tmp_path: Path) -> None:
    rid = load_csv(db, tmp_path).resource_id
    sql = f'SELECT COUNT(*) AS n FROM "{rid}"'  # noqa: S608 - the input under test
    ok = ds_client.get("/api/3/action/datastore_search_sql", params={"sql": sql})
    assert ok.json()["result"]["records"] == [{"n": 5}]
    refused = ds_client.post("/api/3/action/datastore_search_sql", json={"sql": "SELECT * FROM users"})
    assert refused.status_code == 409
    assert refused.json()["error"]["__type"] == "Validation Error"
    assert "sql" in refused.json()["error"]
    info = ds_client.post("/api/3/action/datastore_info", json={"id": rid})
    assert info.json()["result"]["meta"]["count"] == 5


def test_dump_streams_csv_with_bom(ds_client: TestClient, db: Session, tmp_path: Path) -> None:
    rid = load_csv(db, tmp_path).resource_id
    response = ds_client.get(f"/datastore/dump/{rid}")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"\xef\xbb\xbf")
    assert len(list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))) == 6
    as_json = ds_client.get(f"/datastore/dump/{rid}", params={"format": "json"})
    assert len(as_json.json()) == 5
    xlsx = ds_client.get(f"/datastore/dump/{rid}", params={"format": "xlsx"})
    assert xlsx.content.startswith(b"PK")
    not_spatial = ds_client.get(
        f"/datastore/dump/{rid}", params={"format": "geojson"}, headers={"accept": "application/json"}
    )
    assert not_spatial.status_code == 400
    unknown = ds_client.get("/datastore/dump/no-such-resource", headers={"accept": "application/json"})
    assert unknown.status_code == 404
