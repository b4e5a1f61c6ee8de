"""Harvest pages and JSON API through the app: operator forms, runs, job log, provenance, read-only."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import PASSWORD, csrf_of, login, make_department, make_token, make_user
from factories_harvest import FaultServer
from zhengwu.accounts.models import Role
from zhengwu.accounts.schemas import DepartmentOut, UserOut

SEARCH = "/api/3/action/package_search"


def _remote(faults: FaultServer, *names: str) -> None:
    packages = [
        {
            "id": f"id-{n}",
            "name": n,
            "title": f"远端数据集 {n}",
            "metadata_modified": "2026-03-01T08:00:00.000000",
            "organization": {"name": "city-a"},
            "resources": [{"name": "下载", "url": "/files/a.csv", "format": "csv"}],
        }
        for n in names
    ]
    body = {"help": "", "success": True, "result": {"count": len(packages), "results": packages}}
    faults.route(SEARCH, 200, "application/json", json.dumps(body))


def _form(target: DepartmentOut, url: str, **more: str) -> dict[str, str]:
    return {
        "name": "web-src",
        "title": "市级门户",
        "url": url,
        "backend": "ckan",
        "organization": target.code,
        "organization_map": "",
        "schedule": "daily",
        "active": "on",
        **more,
    }


def test_operator_adds_runs_and_reads_a_source(
    client: TestClient, db: Session, faults: FaultServer, target: DepartmentOut, operator: UserOut
) -> None:
    anonymous = client.get("/opendata/harvest")
    assert anonymous.status_code == 200 and "添加采集来源" not in anonymous.text
    login(client, operator.username, PASSWORD)
    page = client.get("/opendata/harvest")
    assert "添加采集来源" in page.text
    csrf = csrf_of(page.text)
    bad = client.post("/opendata/harvest/sources", data={**_form(target, "ftp://x"), "csrf_token": csrf})
    assert bad.status_code == 400 and "http://" in bad.text and "（url）" in bad.text
    made = client.post("/opendata/harvest/sources", data={**_form(target, faults.url), "csrf_token": csrf})
    assert made.status_code == 303 and made.headers["location"] == "/opendata/harvest/sources/web-src"

    _remote(faults, "bus-lines", "parks")
    ran = client.post("/opendata/harvest/sources/web-src/run", data={"csrf_token": csrf})
    assert ran.status_code == 303 and ran.headers["location"].startswith("/opendata/harvest/jobs/")
    job = client.get(ran.headers["location"])
    assert job.status_code == 200 and "新增" in job.text and 'href="/opendata/datasets/bus-lines"' in job.text

    source = client.get("/opendata/harvest/sources/web-src")
    assert "<svg" in source.text and "采集历史" in source.text and "远端数据集 parks" in source.text
    dataset = client.get("/opendata/datasets/bus-lines")
    assert "来源：" in dataset.text and "市级门户" in dataset.text and "本地只读" in dataset.text
    # Relative resource URLs made absolute: the page's download link (counted) redirects there.
    link = re.search(r'href="(/opendata/datasets/bus-lines/resources/[^"]+/download)"', dataset.text)
    assert link is not None
    download = client.get(link.group(1), follow_redirects=False)
    assert (
        download.status_code in (302, 303, 307)
        and download.headers["location"] == f"{faults.url}/files/a.csv"
    )

    edited = client.post(
        "/opendata/harvest/sources/web-src/edit",
        data={**_form(target, faults.url, title="市级开放门户", schedule="*/30"), "csrf_token": csrf},
    )
    assert edited.status_code == 303
    listing = client.get("/opendata/harvest")
    assert "市级开放门户" in listing.text and "每 30 分钟" in listing.text and "成功" in listing.text


def test_harvest_api(
    client: TestClient, db: Session, faults: FaultServer, target: DepartmentOut, operator: UserOut
) -> None:
    auth = {"Authorization": f"Bearer {make_token(db, operator)}"}
    body = {"name": "api-src", "title": "API 门户", "url": faults.url, "backend": "ckan"}
    city = make_department(db, name="市数据局")
    body |= {"organization": target.code, "organization_map": {"city-a": city.code}}
    bad = client.post("/api/v1/opendata/harvest/sources", json={**body, "backend": "oai"}, headers=auth)
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "backend"
    clerk = make_user(db, roles=[Role.DATA_ADMIN], department_id=target.id)
    refused = client.post(
        "/api/v1/opendata/harvest/sources",
        json=body,
        headers={"Authorization": f"Bearer {make_token(db, clerk)}"},
    )
    assert refused.status_code == 403
    made = client.post("/api/v1/opendata/harvest/sources", json=body, headers=auth)
    assert made.status_code == 201 and made.json()["organization_map"] == {"city-a": city.code}

    _remote(faults, "school-list")
    job = client.post("/api/v1/opendata/harvest/sources/api-src/run", headers=auth).json()
    assert (job["status"], job["created"], job["trigger"]) == ("finished", 1, "api")
    listed = client.get("/api/v1/opendata/harvest/sources").json()
    assert [s["last_job"]["id"] for s in listed if s["name"] == "api-src"] == [job["id"]]
    log = client.get(f"/api/v1/opendata/harvest/jobs/{job['id']}", params={"action": "created"}).json()
    assert [i["dataset_name"] for i in log["items"]] == ["school-list"]
    assert client.get(f"/api/v1/opendata/harvest/jobs/{job['id']}", params={"action": "x"}).status_code == 400
    assert client.get("/api/v1/opendata/harvest/sources/api-src/jobs").json()[0]["id"] == job["id"]
    origin = client.get("/api/v1/opendata/harvest/origins/school-list").json()
    assert origin["remote_id"] == "id-school-list" and origin["source_name"] == "api-src"
    assert client.get("/api/v1/opendata/harvest/origins/no-such").status_code == 404
    shown = client.get("/api/3/action/package_show", params={"id": "school-list"}).json()["result"]
    assert shown["organization"]["title"] == "市数据局"  # the remote publisher mapped to a local one
    patched = client.patch("/api/v1/opendata/harvest/sources/api-src", json={"active": False}, headers=auth)
    assert patched.status_code == 200 and patched.json()["active"] is False

    # The CKAN API refuses to edit a harvested dataset, with CKAN's error shape.
    ckan = client.post(
        "/api/3/action/package_patch",
        json={"id": "school-list", "title": "改"},
        headers={"Authorization": make_token(db, operator)},
    )
    assert ckan.status_code == 409 and ckan.json()["error"]["__type"] == "Validation Error"
