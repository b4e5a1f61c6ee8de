"""The registries API: verification discloses only a yes or no; 400 invalid, 404 unknown; permissions;
and the pages: search, record with timeline, quality, ingestion history with error file download."""

from __future__ import annotations

from fastapi.testclient import TestClient

from factories import login, make_token, make_user
from registries.registries_helpers import World, csv_text, persons_rows
from zhengwu.accounts.models import Role


def _bearer(world: World, role: Role) -> dict[str, str]:
    user = make_user(
        world.db, roles=[role], department_id=world.department_id if role != Role.PUBLIC_USER else None
    )
    return {"Authorization": f"Bearer {make_token(world.db, user)}"}


def test_verify_answers_match_and_nothing_else(world: World, client: TestClient) -> None:
    world.ingest(world.persons_csv)
    row = persons_rows(1)[0]
    headers = _bearer(world, Role.DEVELOPER)
    url = "/api/v1/registries/population/verify"
    yes = client.post(url, json={"resident_id": row["resident_id"], "name": row["name"]}, headers=headers)
    assert yes.status_code == 200 and yes.json() == {"match": True}
    no = client.post(url, json={"resident_id": row["resident_id"], "name": "不是他"}, headers=headers)
    assert no.json() == {"match": False}
    unknown = client.post(url, json={"resident_id": "11010519491231002X", "name": "张三"}, headers=headers)
    assert unknown.json() == {"match": False}
    invalid = client.post(url, json={"resident_id": "110105194912310021", "name": "张三"}, headers=headers)
    assert invalid.status_code == 400 and invalid.json()["error"]["code"].startswith("resident_id.")
    assert client.post(url, json={"resident_id": row["resident_id"], "name": row["name"]}).status_code == 401


def test_entity_verify(world: World, client: TestClient) -> None:
    world.ingest(world.persons_csv)
    world.ingest(world.entities_csv, registry="entities")
    import csv

    with world.entities_csv.open(encoding="utf-8", newline="") as fh:
        alive = next(r for r in csv.DictReader(fh) if r["status"] == "存续")
    headers = _bearer(world, Role.DEVELOPER)
    url = "/api/v1/registries/entities/verify"
    assert client.post(url, json={"uscc": alive["uscc"], "name": alive["name"]}, headers=headers).json() == {
        "match": True
    }
    assert client.post(url, json={"uscc": alive["uscc"], "name": "x"}, headers=headers).json() == {
        "match": False
    }
    assert (
        client.post(url, json={"uscc": "91350100M000100Y4", "name": "x"}, headers=headers).status_code == 400
    )


def test_lookup_400_404_masking_and_history(world: World, client: TestClient) -> None:
    world.ingest(world.persons_csv)
    row = persons_rows(1)[0]
    key = str(row["resident_id"])
    staff = _bearer(world, Role.DATA_ADMIN)
    bad = client.get("/api/v1/registries/population/12345", headers=staff)
    assert bad.status_code == 400 and bad.json()["error"]["message"]
    assert client.get("/api/v1/registries/population/11010519491231002X", headers=staff).status_code == 404
    masked = client.get(f"/api/v1/registries/population/{key}", headers=staff).json()
    assert masked["masked"] and masked["resident_id"] != key and "*" in masked["resident_id"]
    admin = _bearer(world, Role.PLATFORM_ADMIN)
    clear = client.get(f"/api/v1/registries/population/{key}", headers=admin).json()
    assert clear["resident_id"] == key and clear["name"] == row["name"]
    history = client.get(f"/api/v1/registries/population/{key}/history", headers=admin).json()
    assert (
        len(history["versions"]) == 1 and history["provenance"]["name"]["source_department"] == world.source
    )
    as_of = client.get(f"/api/v1/registries/population/{key}", params={"as_of": "2000-01-01"}, headers=admin)
    assert as_of.status_code == 404
    public = _bearer(world, Role.PUBLIC_USER)
    assert client.get(f"/api/v1/registries/population/{key}", headers=public).status_code == 403


def test_batches_quality_and_error_file_download(world: World, client: TestClient) -> None:
    rows = persons_rows(3)
    rows[1]["ethnicity"] = "99"
    result = world.ingest(world.file("bad.csv", csv_text(rows)), mode="partial")
    admin = _bearer(world, Role.PLATFORM_ADMIN)
    batches = client.get(
        "/api/v1/registries/batches", params={"registry": "population"}, headers=admin
    ).json()
    assert batches[0]["id"] == result.batch_id and batches[0]["has_error_file"]
    assert "error_file" not in batches[0]  # the server path is not disclosed
    download = client.get(f"/api/v1/registries/batches/{result.batch_id}/errors", headers=admin)
    assert download.status_code == 200 and "行号,列,原因" in download.content.decode("utf-8-sig")
    quality = client.get("/api/v1/registries/quality/population", headers=admin).json()
    assert quality["records"] == 2 and quality["sources"][0]["rows_invalid"] == 1
    assert client.get("/api/v1/registries/batches", headers=_bearer(world, Role.DEVELOPER)).status_code == 403


def test_pages(world: World, client: TestClient) -> None:
    world.ingest(world.persons_csv)
    world.ingest(world.entities_csv, registry="entities")
    rows = persons_rows(2)
    rows[0]["name"] = "新名字"
    world.ingest(world.file("v2.csv", csv_text(rows)))
    admin = make_user(world.db, roles=[Role.PLATFORM_ADMIN])
    login(client, admin.username)
    home = client.get("/registries/population")
    assert home.status_code == 200 and "人口基础库" in home.text and "基础库" in home.text
    key = str(rows[0]["resident_id"])
    found = client.get("/registries/population", params={"name": "新"})
    assert found.status_code == 200 and key in found.text
    record = client.get(f"/registries/population/{key}")
    assert record.status_code == 200 and "变更时间线" in record.text and "新名字" in record.text
    assert world.source in record.text and "曾用名" in record.text
    jump = client.get("/registries/population", params={"key": key})
    assert jump.status_code == 303 and jump.headers["location"].endswith(key)
    bad = client.get("/registries/population/123")
    assert bad.status_code == 400
    for path in (
        "/registries/population/quality",
        "/registries/entities/quality",
        "/registries/population/batches",
        "/registries/entities",
    ):
        page = client.get(path)
        assert page.status_code == 200, path
    assert "字段完整率" in client.get("/registries/population/quality").text


def test_pages_mask_for_staff(world: World, client: TestClient) -> None:
    world.ingest(world.persons_csv)
    row = persons_rows(1)[0]
    staff = make_user(world.db, roles=[Role.DATA_ADMIN], department_id=world.department_id)
    login(client, staff.username)
    record = client.get(f"/registries/population/{row['resident_id']}")
    assert record.status_code == 200 and "脱敏" in record.text
    assert str(row["name"]) not in record.text and str(row["household_address"]) not in record.text
