"""The real ``ckanapi`` client (PyPI) against a live server on a loopback port.

uvicorn runs the application in a thread over a fresh, migrated database of each backend; the data is
committed through the use cases first, the way an operator's seed would.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ckanapi
import pytest
import uvicorn
from sqlalchemy.orm import Session

from factories import SYSTEM
from factories_opendata import Publisher, make_dataset, make_publisher
from servers import free_port
from zhengwu.app import create_app
from zhengwu.config import load_settings
from zhengwu.db import Database, make_engine, upgrade
from zhengwu.opendata import directory

SECRET = "test-secret-key-that-is-long-enough-0123456789"


@dataclass
class Live:
    url: str
    publisher: Publisher


@pytest.fixture
def live(empty_database_url: str, tmp_path: Path) -> Iterator[Live]:
    database = Database(make_engine(empty_database_url))
    upgrade(database.engine)
    with Session(database.engine, expire_on_commit=False) as db:
        pub = make_publisher(db, name="省交通运输厅")
        directory.group_create(db, actor=SYSTEM, name="transport", title="交通出行")
        make_dataset(
            db,
            pub,
            name="bus-stops",
            title="公交站点位置",
            tags=[{"name": "交通"}],
            groups=[{"name": "transport"}],
        )
        make_dataset(db, pub, name="road-traffic", title="Road traffic 道路交通流量", tags=[{"name": "交通"}])
        make_dataset(db, pub, name="hidden", title="内部数据", private=True)
        db.commit()
    settings = load_settings(
        mode="test", secret_key=SECRET, data_dir=tmp_path, database_url=empty_database_url
    )
    app = create_app(settings, database=database)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield Live(url=f"http://127.0.0.1:{port}", publisher=pub)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        database.dispose()


def test_ckanapi_lists_searches_shows_and_creates(live: Live) -> None:
    anon = ckanapi.RemoteCKAN(live.url, user_agent="zhengwu-tests")
    assert sorted(anon.action.package_list()) == ["bus-stops", "road-traffic"]
    found = anon.call_action(
        "package_search", {"q": "交通", "facet.field": ["tags", "organization", "groups"], "rows": 10}
    )
    assert found["count"] == 2
    assert found["facets"]["tags"] == {"交通": 2}
    assert found["search_facets"]["organization"]["items"][0]["display_name"] == "省交通运输厅"
    english = anon.action.package_search(q="traffic")
    assert [r["name"] for r in english["results"]] == ["road-traffic"]
    harvest = anon.action.package_search(
        fq=f"organization:{live.publisher.org} -groups:transport", sort="id asc", rows=5
    )
    assert [r["name"] for r in harvest["results"]] == ["road-traffic"]
    shown = anon.action.package_show(id="bus-stops")
    assert shown["groups"][0]["name"] == "transport"
    assert anon.action.organization_show(id=live.publisher.org)["package_count"] == 2
    assert anon.action.group_list() == ["transport"]
    assert "交通" in anon.action.tag_list()
    assert anon.action.license_list()
    assert anon.action.status_show()["ckan_version"]

    writer = ckanapi.RemoteCKAN(live.url, apikey=live.publisher.token, user_agent="zhengwu-tests")
    made = writer.action.package_create(
        name="ｐａｒｋｉｎｇ－２０２４",
        title="停车场泊位",
        owner_org=live.publisher.org,
        tags=[{"name": "停车"}],
        resources=[{"name": "泊位表", "url": "https://example.org/parking.csv", "format": "CSV"}],
    )
    assert made["name"] == "parking-2024"
    assert anon.action.package_search(q="泊位")["results"][0]["id"] == made["id"]
    res = writer.action.resource_create(
        package_id=made["id"], url="https://example.org/p.json", format="JSON"
    )
    assert anon.action.resource_show(id=res["id"])["package_id"] == made["id"]
    writer.action.package_patch(id=made["id"], notes="全市停车场")
    assert anon.action.package_show(id="parking-2024")["notes"] == "全市停车场"
    writer.action.package_delete(id="parking-2024")
    with pytest.raises(ckanapi.NotFound):
        anon.action.package_show(id="parking-2024")


def test_ckanapi_sees_ckan_errors(live: Live) -> None:
    anon = ckanapi.RemoteCKAN(live.url, user_agent="zhengwu-tests")
    with pytest.raises(ckanapi.NotFound):
        anon.action.package_show(id="hidden")
    with pytest.raises(ckanapi.NotAuthorized):
        anon.action.package_create(name="not-allowed", owner_org=live.publisher.org)
    writer = ckanapi.RemoteCKAN(live.url, apikey=live.publisher.token, user_agent="zhengwu-tests")
    with pytest.raises(ckanapi.ValidationError) as err:
        writer.action.package_create(name="bus-stops", owner_org=live.publisher.org)
    assert err.value.error_dict["name"] == ["That URL is already in use."]
    with pytest.raises(ckanapi.SearchQueryError):
        anon.action.package_search(fq="password:x")
    with pytest.raises(ckanapi.CKANAPIError):
        anon.call_action("no_such_action", {})
    for q in ("' OR '1'='1", '公交"; DELETE FROM opendata_datasets; --', "ＢＵＳ"):
        assert anon.action.package_search(q=q)["count"] in (0, 1)
    assert len(anon.action.package_list()) == 2
    private = ckanapi.RemoteCKAN(live.url, apikey=live.publisher.token).action.package_search(
        q="内部", include_private=True
    )
    assert private["count"] == 1


def test_ckanapi_uploads_and_searches_the_datastore(live: Live, tmp_path: Path) -> None:
    writer = ckanapi.RemoteCKAN(live.url, apikey=live.publisher.token, user_agent="zhengwu-tests")
    anon = ckanapi.RemoteCKAN(live.url, user_agent="zhengwu-tests")
    path = tmp_path / "stops.csv"
    path.write_text(
        "站点,线路,上车人数\n武林广场,1路,120\n西湖文化广场,1路,80\n火车东站,2路,200\n", "utf-8-sig"
    )
    with path.open("rb") as fh:
        res = writer.action.resource_create(package_id="bus-stops", name="站点客流", upload=fh)
    assert res["datastore_active"] is True
    found = anon.action.datastore_search(
        resource_id=res["id"], filters={"线路": "1路"}, sort="上车人数 desc", fields="站点,上车人数"
    )
    assert found["total"] == 2
    assert found["records"] == [
        {"站点": "武林广场", "上车人数": 120},
        {"站点": "西湖文化广场", "上车人数": 80},
    ]
    assert anon.action.datastore_info(id=res["id"])["meta"]["count"] == 3
    sql = anon.action.datastore_search_sql(sql=f'SELECT SUM("上车人数") AS n FROM "{res["id"]}"')  # noqa: S608 - the input under test
    assert sql["records"] == [{"n": 400}]
    with pytest.raises(ckanapi.ValidationError):
        anon.action.datastore_search_sql(sql="SELECT * FROM users")
    with pytest.raises(ckanapi.NotFound):
        anon.action.datastore_search(resource_id="no-such-resource")
    assert any(r["datastore_active"] for r in anon.action.package_show(id="bus-stops")["resources"])
