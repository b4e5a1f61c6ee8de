"""The datastore's CKAN actions through the portal's action registry, uploads, and streamed downloads."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories_opendata import Publisher, make_dataset, make_publisher
from opendata.datastore.datastore_helpers import PEOPLE_CSV, load_csv
from zhengwu.opendata.datastore.api import stream_db

SEARCH = "/api/3/action/datastore_search"


@pytest.fixture
def ds_client(app: FastAPI, db: Session) -> Iterator[TestClient]:
    def _stream_db() -> Iterator[Session]:
        yield db

    app.dependency_overrides[stream_db] = _stream_db
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        yield client


@pytest.fixture
def pub(db: Session) -> Publisher:
    return make_publisher(db, name="省统计局")


def _loaded(db: Session, pub: Publisher, tmp_path: Path, **fields: Any) -> str:
    """A dataset of ``pub`` whose first resource has the people table loaded; returns the resource id."""
    dataset = make_dataset(db, pub, **fields)
    rid = str(dataset["resources"][0]["id"])
    load_csv(db, tmp_path, resource_id=rid, is_open=not fields.get("private", False))
    return rid


def test_search_by_get_and_post(ds_client: TestClient, db: Session, pub: Publisher, tmp_path: Path) -> None:
    rid = _loaded(db, pub, tmp_path)
    got = ds_client.get(
        SEARCH,
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
        SEARCH,
        json={"resource_id": rid, "q": "张", "fields": "姓名", "include_total": False},
    )
    assert posted.json()["result"]["records"] == [{"姓名": "张三"}]
    assert "total" not in posted.json()["result"]
    paged = ds_client.post(
        SEARCH, json={"resource_id": rid, "filters": {"城市": ["杭州", "温州"]}, "limit": 1, "offset": 1}
    )
    assert paged.json()["result"]["total"] == 4
    assert len(paged.json()["result"]["records"]) == 1


def test_ckan_errors(ds_client: TestClient, db: Session, pub: Publisher, tmp_path: Path) -> None:
    rid = _loaded(db, pub, tmp_path)
    bad = ds_client.post(SEARCH, json={"resource_id": rid, "sort": "nope"})
    assert bad.status_code == 409
    error = bad.json()["error"]
    assert bad.json()["success"] is False
    assert error["__type"] == "Validation Error"
    assert error["sort"]
    missing = ds_client.get(SEARCH, params={"resource_id": "no-such-resource"})
    assert missing.status_code == 404
    assert missing.json()["error"]["__type"] == "Not Found Error"
    no_id = ds_client.get(SEARCH)
    assert no_id.status_code == 409
    assert "resource_id" in no_id.json()["error"]
    broken = ds_client.post(SEARCH, content=b"{not json", headers={"content-type": "application/json"})
    assert broken.status_code == 400
    bad_filters = ds_client.get(SEARCH, params={"resource_id": rid, "filters": "{oops"})
    assert bad_filters.status_code == 409
    assert "filters" in bad_filters.json()["error"]
    not_object = ds_client.post(SEARCH, json={"resource_id": rid, "filters": [1, 2]})
    assert "filters" in not_object.json()["error"]
    bad_bool = ds_client.get(SEARCH, params={"resource_id": rid, "distinct": "maybe"})
    assert bad_bool.status_code == 409
    negative = ds_client.get(SEARCH, params={"resource_id": rid, "limit": "-1"})
    assert "limit" in negative.json()["error"]
    injected = ds_client.post(SEARCH, json={"resource_id": rid, "sort": '编号; DROP TABLE "x"'})
    assert injected.status_code == 409


def test_private_dataset_tables_are_hidden(
    ds_client: TestClient, db: Session, pub: Publisher, tmp_path: Path
) -> None:
    rid = _loaded(db, pub, tmp_path, private=True)
    assert ds_client.get(SEARCH, params={"resource_id": rid}).status_code == 404
    owner = ds_client.get(SEARCH, params={"resource_id": rid}, headers={"Authorization": pub.token})
    assert owner.json()["result"]["total"] == 5
    sql = f'SELECT COUNT(*) AS n FROM "{rid}"'  # noqa: S608 - the input under test
    hidden = ds_client.get("/api/3/action/datastore_search_sql", params={"sql": sql})
    assert hidden.status_code == 409
    # Publishing opens the table to everyone and to SQL; deleting the dataset closes it again.
    patched = ds_client.post(
        "/api/3/action/package_patch",
        json={"id": _package_id(ds_client, rid, pub), "private": False},
        headers={"Authorization": pub.token},
    )
    assert patched.json()["success"] is True
    assert ds_client.get("/api/3/action/datastore_search_sql", params={"sql": sql}).json()["result"][
        "records"
    ] == [{"n": 5}]
    shown = ds_client.get("/api/3/action/package_show", params={"id": patched.json()["result"]["name"]})
    assert shown.json()["result"]["resources"][0]["datastore_active"] is True
    deleted = ds_client.post(
        "/api/3/action/package_delete",
        json={"id": patched.json()["result"]["id"]},
        headers={"Authorization": pub.token},
    )
    assert deleted.json()["success"] is True
    assert ds_client.get(SEARCH, params={"resource_id": rid}).status_code == 404
    assert ds_client.get("/api/3/action/datastore_search_sql", params={"sql": sql}).status_code == 409
    other_admin = make_publisher(db)
    assert (
        ds_client.get(
            SEARCH, params={"resource_id": rid}, headers={"Authorization": other_admin.token}
        ).status_code
        == 404
    )
    hidden_dump = ds_client.get(f"/datastore/dump/{rid}", headers={"accept": "application/json"})
    assert hidden_dump.status_code == 404


def _package_id(client: TestClient, rid: str, pub: Publisher) -> str:
    shown = client.get(
        "/api/3/action/resource_show", params={"id": rid}, headers={"Authorization": pub.token}
    )
    return str(shown.json()["result"]["package_id"])


def test_search_sql_info_create_delete(
    ds_client: TestClient, db: Session, pub: Publisher, tmp_path: Path
) -> None:
    rid = _loaded(db, pub, tmp_path)
    sql = f'SELECT COUNT(*) AS n FROM "{rid}"'  # noqa: S608 - the input under test
    ok = ds_client.get("/api/3/action/datastore_search_sql", params={"sql": sql})
    assert ok.json()["result"]["records"] == [{"n": 5}]
    refused = ds_client.post("/api/3/action/datastore_search_sql", json={"sql": "SELECT * FROM users"})
    assert refused.status_code == 409
    assert refused.json()["error"]["__type"] == "Validation Error"
    assert "sql" in refused.json()["error"]
    writes = ds_client.post("/api/3/action/datastore_search_sql", json={"sql": f'DELETE FROM "{rid}"'})  # noqa: S608
    assert writes.status_code == 409
    info = ds_client.post("/api/3/action/datastore_info", json={"id": rid})
    assert info.json()["result"]["meta"]["count"] == 5

    other = make_dataset(db, pub)["resources"][0]["id"]
    records = [{"区县": "西湖区", "人口": 120}, {"区县": "上城区", "人口": 90}]
    anon = ds_client.post("/api/3/action/datastore_create", json={"resource_id": other, "records": records})
    assert anon.status_code == 403
    made = ds_client.post(
        "/api/3/action/datastore_create",
        json={"resource_id": other, "records": records},
        headers={"Authorization": pub.token},
    )
    assert made.json()["result"]["total"] == 2
    found = ds_client.get(SEARCH, params={"resource_id": other, "sort": "人口 desc"})
    assert found.json()["result"]["records"][0]["区县"] == "西湖区"
    dropped = ds_client.post(
        "/api/3/action/datastore_delete", json={"resource_id": other}, headers={"Authorization": pub.token}
    )
    assert dropped.json()["success"] is True
    assert ds_client.get(SEARCH, params={"resource_id": other}).status_code == 404


def test_resource_create_with_upload(ds_client: TestClient, db: Session, pub: Publisher) -> None:
    dataset = make_dataset(db, pub)
    made = ds_client.post(
        "/api/3/action/resource_create",
        data={"package_id": dataset["id"], "name": "人员名单"},
        files={"upload": ("people.csv", PEOPLE_CSV.encode("gbk"), "text/csv")},
        headers={"Authorization": pub.token},
    )
    assert made.status_code == 200, made.text
    res = made.json()["result"]
    assert res["datastore_active"] is True
    assert res["url"] == f"/datastore/dump/{res['id']}"
    assert res["format"] == "CSV"
    found = ds_client.get(SEARCH, params={"resource_id": res["id"], "filters": '{"城市": "杭州"}'})
    assert found.json()["result"]["total"] == 3
    replaced = ds_client.post(
        "/api/3/action/resource_patch",
        data={"id": res["id"]},
        files={"upload": ("v2.csv", "区县,人口\n西湖区,120\n".encode(), "text/csv")},
        headers={"Authorization": pub.token},
    )
    assert replaced.json()["result"]["url"] == res["url"]
    again = ds_client.get(SEARCH, params={"resource_id": res["id"]}).json()["result"]
    assert again["records"] == [{"_id": 1, "区县": "西湖区", "人口": 120}]
    broken = ds_client.post(
        "/api/3/action/resource_create",
        data={"package_id": dataset["id"]},
        files={"upload": ("bad.xlsx", b"this is not a spreadsheet", "application/octet-stream")},
        headers={"Authorization": pub.token},
    )
    assert broken.status_code == 409
    assert broken.json()["error"]["__type"] == "Validation Error"
    assert "file" in broken.json()["error"]
    unknown = ds_client.post(
        "/api/3/action/resource_create",
        data={"package_id": dataset["id"]},
        files={"upload": ("notes.pdf", b"%PDF-1.4", "application/pdf")},
        headers={"Authorization": pub.token},
    )
    assert "upload" in unknown.json()["error"]
    shown = ds_client.get("/api/3/action/package_show", params={"id": dataset["id"]})
    assert len(shown.json()["result"]["resources"]) == 2  # the failed uploads left nothing behind


def test_dump_streams_csv_with_bom(
    ds_client: TestClient, db: Session, pub: Publisher, tmp_path: Path
) -> None:
    rid = _loaded(db, pub, tmp_path)
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
