"""Upload of an ingestion file through the API (multipart) and the batches page."""

from __future__ import annotations

import re
import secrets

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from factories import login, make_token, make_user
from registries.registries_helpers import World, csv_text, persons_rows
from zhengwu.accounts.models import Role
from zhengwu.registries.models import Person
from zhengwu.registries.uploads import safe_name

URL = "/api/v1/registries/population/batches"


def _bearer(world: World, role: Role, department: bool = True) -> dict[str, str]:
    user = make_user(world.db, roles=[role], department_id=world.department_id if department else None)
    return {"Authorization": f"Bearer {make_token(world.db, user)}"}


def _persons(world: World) -> int:
    return world.db.scalar(select(func.count()).select_from(Person)) or 0


def test_api_upload_ingests_and_links_the_error_file(world: World, client: TestClient) -> None:
    headers = _bearer(world, Role.DATA_ADMIN)
    good = client.post(
        URL,
        files={"file": ("人口.csv", world.persons_csv.read_bytes(), "text/csv")},
        data={"source": world.source},
        headers=headers,
    )
    assert good.status_code == 200, good.text
    assert good.json()["status"] == "applied" and _persons(world) == len(persons_rows())
    rows = persons_rows(5)
    rows[2]["ethnicity"] = "99"
    partial = client.post(
        URL,
        files={"file": ("bad.csv", csv_text(rows).encode("gbk"), "text/csv")},
        data={"source": world.source, "mode": "partial"},
        headers=headers,
    )
    body = partial.json()
    assert body["status"] == "partial" and body["rows_invalid"] == 1
    assert body["error_file"] == f"/api/v1/registries/batches/{body['batch_id']}/errors"
    errors = client.get(body["error_file"], headers=headers)
    assert errors.status_code == 200 and "ethnicity" in errors.content.decode("utf-8-sig")


def test_api_upload_refuses_strangers_formats_and_empty_files(world: World, client: TestClient) -> None:
    files = {"file": ("p.csv", world.persons_csv.read_bytes(), "text/csv")}
    assert client.post(URL, files=files, data={"source": world.source}).status_code == 401
    stranger = _bearer(world, Role.DEVELOPER)
    assert client.post(URL, files=files, data={"source": world.source}, headers=stranger).status_code == 403
    admin = _bearer(world, Role.DATA_ADMIN)
    exe = client.post(
        URL, files={"file": ("x.exe", b"MZ", "x")}, data={"source": world.source}, headers=admin
    )
    assert exe.status_code == 400 and _persons(world) == 0
    empty = client.post(
        URL, files={"file": ("e.csv", b"", "text/csv")}, data={"source": world.source}, headers=admin
    )
    assert empty.status_code == 400
    unknown = client.post(URL, files=files, data={"source": "NOPE"}, headers=admin)
    assert unknown.status_code == 404


def test_safe_name_strips_paths_and_controls() -> None:
    assert safe_name("../../etc/passwd.csv") == "passwd.csv"
    assert safe_name("C:\\Users\\x\\人口 数据.csv") == "人口 数据.csv"
    assert safe_name("a\x00b<>.csv") == "ab.csv"
    assert safe_name("...") == "upload"


def test_the_batches_page_uploads_a_file(world: World, client: TestClient) -> None:
    admin = make_user(world.db, roles=[Role.DATA_ADMIN], department_id=world.department_id)
    login(client, admin.username)
    page = client.get("/registries/population/batches")
    assert page.status_code == 200 and "上传并入库" in page.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    forged = client.post(
        "/registries/population/batches",
        files={"file": ("p.csv", world.persons_csv.read_bytes(), "text/csv")},
        data={"source": world.source, "csrf_token": "forged"},
    )
    assert forged.status_code == 403 and _persons(world) == 0
    done = client.post(
        "/registries/population/batches",
        files={"file": ("p.csv", world.persons_csv.read_bytes(), "text/csv")},
        data={"source": world.source, "csrf_token": token.group(1)},
    )
    assert done.status_code == 200 and "已全部入库" in done.text and _persons(world) == len(persons_rows())


def test_upload_progress_is_pollable_by_its_uploader_only(world: World, client: TestClient) -> None:
    headers = _bearer(world, Role.DATA_ADMIN)
    job = "job-" + secrets.token_hex(6)  # progress is process-wide: a fresh id per test
    before = client.get(f"/api/v1/registries/uploads/{job}", headers=headers).json()
    assert before == {"job": job, "known": False, "rows_read": 0, "done": False}
    done = client.post(
        URL,
        files={"file": ("p.csv", world.persons_csv.read_bytes(), "text/csv")},
        data={"source": world.source, "job": job},
        headers=headers,
    ).json()
    progress = client.get(f"/api/v1/registries/uploads/{job}", headers=headers).json()
    assert progress["known"] and progress["done"] and progress["batch_id"] == done["batch_id"]
    assert progress["rows_read"] == len(persons_rows()) and progress["status"] == "applied"
    other = client.get(f"/api/v1/registries/uploads/{job}", headers=_bearer(world, Role.DATA_ADMIN)).json()
    assert other["known"] is False
    bad = client.get("/api/v1/registries/uploads/x", headers=headers)
    assert bad.status_code == 400


def test_the_batches_page_carries_the_progress_bar(world: World, client: TestClient) -> None:
    login(client, make_user(world.db, roles=[Role.DATA_ADMIN], department_id=world.department_id).username)
    page = client.get("/registries/population/batches").text
    assert 'id="upload-progress"' in page and "/static/registries-upload.js" in page
    assert 'name="job" value="' in page
    assert client.get("/static/registries-upload.js").status_code == 200
