"""ckanext-showcase's actions with the real ``ckanapi`` client against a live server.

The server runs in development mode, so its usage recorder flushes on its own (every 0.2 s here):
``package_show`` with ``include_tracking`` then reports the views of the dataset page.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import ckanapi
import httpx
import pytest
import uvicorn
from sqlalchemy.orm import Session

from factories import make_token, make_user
from factories_opendata import Publisher, make_dataset, make_publisher
from servers import free_port
from zhengwu.accounts.models import Role
from zhengwu.app import create_app
from zhengwu.config import load_settings
from zhengwu.db import Database, make_engine, upgrade

SECRET = "test-secret-key-that-is-long-enough-0123456789"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36"


@dataclass
class Live:
    url: str
    publisher: Publisher
    citizen_token: str
    reviewer_token: str


@pytest.fixture
def live(empty_database_url: str, tmp_path: Path) -> Iterator[Live]:
    database = Database(make_engine(empty_database_url))
    upgrade(database.engine)
    with Session(database.engine, expire_on_commit=False) as db:
        pub = make_publisher(db, name="省交通运输厅")
        make_dataset(db, pub, name="bus-stops", title="公交站点位置")
        make_dataset(db, pub, name="road-traffic", title="道路交通流量")
        make_dataset(db, pub, name="hidden", title="内部数据", private=True)
        citizen = make_token(db, make_user(db, roles=[Role.PUBLIC_USER]))
        reviewer = make_token(db, make_user(db, roles=[Role.REVIEWER]))
        db.commit()
    settings = load_settings(
        mode="development",
        secret_key=SECRET,
        data_dir=tmp_path,
        database_url=empty_database_url,
        opendata_usage_flush_seconds=0.2,
    )
    app = create_app(settings, database=database)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield Live(f"http://127.0.0.1:{port}", pub, citizen, reviewer)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        database.dispose()


def test_showcase_actions_with_ckanapi(live: Live) -> None:
    anon = ckanapi.RemoteCKAN(live.url, user_agent="zhengwu-tests")
    citizen = ckanapi.RemoteCKAN(live.url, apikey=live.citizen_token, user_agent="zhengwu-tests")
    reviewer = ckanapi.RemoteCKAN(live.url, apikey=live.reviewer_token, user_agent="zhengwu-tests")
    made = citizen.call_action(
        "ckanext_showcase_create",
        {
            "name": "bus-arrivals",
            "title": "公交到站提醒",
            "notes": "实时提醒",
            "url": "https://apps.example.cn/bus",
            "author": "某科技有限公司",
        },
    )
    assert made["type"] == "showcase" and made["name"] == "bus-arrivals" and made["private"] is True
    link = citizen.call_action(
        "ckanext_showcase_package_association_create", {"showcase_id": made["id"], "package_id": "bus-stops"}
    )
    assert link["showcase_id"] == made["id"] and len(link["package_id"]) == 36
    # Until an operator approves it, the showcase does not exist for anybody else.
    with pytest.raises(ckanapi.NotFound):
        anon.call_action("ckanext_showcase_show", {"id": "bus-arrivals"})
    assert anon.call_action("ckanext_showcase_list", {}) == []
    assert anon.call_action("ckanext_package_showcase_list", {"package_id": "bus-stops"}) == []

    seen = httpx.post(
        f"{live.url}/api/3/action/ckanext_showcase_show",
        json={"id": "bus-arrivals"},
        headers={"Authorization": live.reviewer_token},
    ).json()["result"]
    assert seen["approval_status"] == "pending"
    _approve(live, "bus-arrivals")

    shown = anon.call_action("ckanext_showcase_show", {"id": "bus-arrivals"})
    assert shown["title"] == "公交到站提醒" and shown["author"] == "某科技有限公司"
    assert [s["name"] for s in anon.call_action("ckanext_showcase_list", {})] == ["bus-arrivals"]
    packages = anon.call_action("ckanext_showcase_package_list", {"showcase_id": "bus-arrivals"})
    assert [p["name"] for p in packages] == ["bus-stops"]
    used_in = anon.call_action("ckanext_package_showcase_list", {"package_id": "bus-stops"})
    assert [s["name"] for s in used_in] == ["bus-arrivals"]
    reviewer.call_action(
        "ckanext_showcase_package_association_create",
        {"showcase_id": "bus-arrivals", "package_id": "road-traffic"},
    )
    packages = anon.call_action("ckanext_showcase_package_list", {"showcase_id": "bus-arrivals"})
    assert sorted(p["name"] for p in packages) == ["bus-stops", "road-traffic"]


def _approve(live: Live, name: str) -> None:
    """The operator approves through the moderation page's form post, with a token instead of a session."""
    response = httpx.post(
        f"{live.url}/opendata/showcases/{name}/moderate",
        data={"decision": "approved"},
        headers={"Authorization": f"Bearer {live.reviewer_token}"},
    )
    assert response.status_code == 303, response.text


def test_showcase_errors_with_ckanapi(live: Live) -> None:
    anon = ckanapi.RemoteCKAN(live.url, user_agent="zhengwu-tests")
    citizen = ckanapi.RemoteCKAN(live.url, apikey=live.citizen_token, user_agent="zhengwu-tests")
    with pytest.raises(ckanapi.NotAuthorized):
        anon.call_action("ckanext_showcase_create", {"title": "匿名"})
    with pytest.raises(ckanapi.ValidationError) as missing:
        citizen.call_action("ckanext_showcase_create", {"notes": "没有标题"})
    assert "title" in missing.value.error_dict
    with pytest.raises(ckanapi.ValidationError) as bad_url:
        citizen.call_action("ckanext_showcase_create", {"title": "应用", "url": "javascript:alert(1)"})
    assert "url" in bad_url.value.error_dict
    made = citizen.call_action("ckanext_showcase_create", {"title": "应用"})
    with pytest.raises(ckanapi.NotFound):
        citizen.call_action(
            "ckanext_showcase_package_association_create",
            {"showcase_id": made["id"], "package_id": "no-such-dataset"},
        )
    with pytest.raises(ckanapi.NotFound):
        citizen.call_action(
            "ckanext_showcase_package_association_create", {"showcase_id": made["id"], "package_id": "hidden"}
        )
    with pytest.raises(ckanapi.ValidationError) as no_package:
        citizen.call_action("ckanext_showcase_package_association_create", {"showcase_id": made["id"]})
    assert "package_id" in no_package.value.error_dict
    with pytest.raises(ckanapi.NotFound):
        anon.call_action("ckanext_showcase_package_list", {"showcase_id": "no-such-showcase"})
    with pytest.raises(ckanapi.NotFound):
        anon.call_action("ckanext_package_showcase_list", {"package_id": "no-such-dataset"})


def test_tracking_summary_with_ckanapi(live: Live) -> None:
    for _ in range(3):
        assert (
            httpx.get(f"{live.url}/opendata/datasets/bus-stops", headers={"user-agent": UA}).status_code
            == 200
        )
    httpx.get(f"{live.url}/opendata/datasets/bus-stops", headers={"user-agent": "Googlebot/2.1"})
    anon = ckanapi.RemoteCKAN(live.url, user_agent="zhengwu-tests")
    deadline = time.monotonic() + 20
    summary: dict[str, int] = {}
    while time.monotonic() < deadline:
        summary = anon.action.package_show(id="bus-stops", include_tracking=True)["tracking_summary"]
        if summary["total"] == 3:
            break
        time.sleep(0.1)
    assert summary == {"total": 3, "recent": 3}
    assert "tracking_summary" not in anon.action.package_show(id="bus-stops")
