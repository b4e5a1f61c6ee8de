"""Usage statistics end to end: pages, downloads and CKAN calls counted, pages, JSON, CSV, tracking."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import PASSWORD, login
from factories_opendata import make_dataset, make_publisher
from opendata.datastore.datastore_helpers import load_csv
from zhengwu.accounts.permissions import Actor
from zhengwu.errors import NotFound, ValidationError
from zhengwu.opendata.datastore.api import stream_db
from zhengwu.opendata.stats.recorder import UsageRecorder
from zhengwu.opendata.stats.services import check_days, dataset_usage, usage_csv

BROWSER = {"user-agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0"}
CRAWLER = {
    "user-agent": "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)"
}
ANON = Actor.anonymous()


@pytest.fixture
def stats_client(app: FastAPI, db: Session) -> Iterator[TestClient]:
    # Dumps stream from a session of their own; in tests that is the rolled-back test session.
    def _stream_db() -> Iterator[Session]:
        yield db

    app.dependency_overrides[stream_db] = _stream_db
    with TestClient(app, base_url="http://testserver", follow_redirects=False) as client:
        yield client


def _recorder(client: TestClient) -> UsageRecorder:
    recorder = client.app.state.usage  # type: ignore[attr-defined]
    assert isinstance(recorder, UsageRecorder)
    return recorder


def test_views_downloads_and_api_calls_are_counted(
    stats_client: TestClient, db: Session, tmp_path: Path
) -> None:
    pub = make_publisher(db, name="省交通运输厅")
    pkg = make_dataset(db, pub, name="bus-flow", title="公交客流")
    other = make_dataset(db, pub, name="taxi", title="出租车运营")
    rid = pkg["resources"][0]["id"]
    load_csv(db, tmp_path, resource_id=rid)
    for _ in range(3):
        assert stats_client.get("/opendata/datasets/bus-flow", headers=BROWSER).status_code == 200
    for headers in (CRAWLER, {"user-agent": ""}):
        assert stats_client.get("/opendata/datasets/bus-flow", headers=headers).status_code == 200
    stats_client.get("/opendata/datasets/taxi", headers=BROWSER)
    assert stats_client.get(f"/datastore/dump/{rid}").status_code == 200
    assert stats_client.get(f"/datastore/dump/{rid}", params={"format": "xlsx"}).status_code == 200
    # A file elsewhere is counted on its way out through CKAN's resource download address.
    out = stats_client.get(f"/opendata/datasets/bus-flow/resources/{rid}/download")
    assert out.status_code == 302 and out.headers["location"] == "https://example.org/data.csv"
    wrong = stats_client.get(f"/opendata/datasets/taxi/resources/{rid}/download")
    assert wrong.status_code == 404
    for _ in range(2):
        assert stats_client.get("/api/3/action/package_show", params={"id": "bus-flow"}).status_code == 200
    assert stats_client.get("/api/3/action/resource_show", params={"id": rid}).status_code == 200
    search = stats_client.get("/api/3/action/datastore_search", params={"resource_id": rid, "limit": 1})
    assert search.status_code == 200
    sql = stats_client.get(
        "/api/3/action/datastore_search_sql",
        params={"sql": f'SELECT count(*) FROM "{rid}"'},  # noqa: S608 - input
    )
    assert sql.status_code == 200
    stats_client.get("/api/3/action/package_show", params={"id": "no-such"})  # 404: not counted
    stats_client.get("/api/3/action/package_search", params={"q": "公交"})  # not about one dataset

    data = stats_client.get("/api/v1/opendata/stats/datasets/bus-flow", params={"days": 30}).json()
    assert data["total"] == {"views": 3, "downloads": 3, "api_calls": 5}
    assert data["period"] == data["total"]
    assert dict(map(tuple, data["downloads_by_format"])) == {"csv": 2, "xlsx": 1}
    assert dict(map(tuple, data["api_by_action"])) == {
        "package_show": 2,
        "resource_show": 1,
        "datastore_search": 1,
        "datastore_search_sql": 1,
    }
    assert len(data["series"]["days"]) == 30
    assert data["series"]["views"][-1] == 3 and sum(data["series"]["views"]) == 3
    assert _recorder(stats_client).pending == 0  # the page wrote what was pending

    portal = stats_client.get("/api/v1/opendata/stats").json()
    assert [r["name"] for r in portal["top_views"]] == ["bus-flow", "taxi"]
    assert [r["name"] for r in portal["top_downloads"]] == ["bus-flow"]
    assert portal["publishers"] == [
        {
            "name": pub.org,
            "title": "省交通运输厅",
            "datasets": 2,
            "views": 4,
            "downloads": 3,
            "api_calls": 5,
        }
    ]
    publisher = stats_client.get(f"/api/v1/opendata/stats/publishers/{pub.org}").json()
    assert publisher["total"] == {"views": 4, "downloads": 3, "api_calls": 5}
    assert [r["name"] for r in publisher["datasets"]] == ["bus-flow", "taxi"]
    assert other["name"] == "taxi"


def test_tracking_summary_in_package_show(stats_client: TestClient, db: Session) -> None:
    pub = make_publisher(db)
    pkg = make_dataset(db, pub, name="parks")
    rid = pkg["resources"][0]["id"]
    for _ in range(4):
        stats_client.get("/opendata/datasets/parks", headers=BROWSER)
    stats_client.get(f"/opendata/datasets/parks/resources/{rid}/download")
    plain = stats_client.get("/api/3/action/package_show", params={"id": "parks"}).json()["result"]
    assert "tracking_summary" not in plain
    stats_client.get("/opendata/stats")  # writes the pending counts
    shown = stats_client.post(
        "/api/3/action/package_show", json={"id": "parks", "include_tracking": True}
    ).json()["result"]
    assert shown["tracking_summary"] == {"total": 4, "recent": 4}
    assert shown["resources"][0]["tracking_summary"] == {"total": 1, "recent": 1}
    bad = stats_client.get("/api/3/action/package_show", params={"id": "parks", "include_tracking": "maybe"})
    assert bad.status_code == 409 and "include_tracking" in bad.json()["error"]


def test_statistics_pages_with_charts(stats_client: TestClient, db: Session) -> None:
    pub = make_publisher(db, name="省气象局")
    make_dataset(db, pub, name="rain", title="降水量<观测>")
    make_dataset(db, pub, name="hidden", title="内部台账", private=True)
    for _ in range(2):
        stats_client.get("/opendata/datasets/rain", headers=BROWSER)

    page = stats_client.get("/opendata/stats")
    assert page.status_code == 200 and "使用统计" in page.text
    svg = re.search(r'<svg[^>]*aria-label="最近 30 天每日浏览、下载与接口调用".*?</svg>', page.text, re.S)
    assert svg is not None
    assert svg.group(0).count("<circle") == 3 * 30  # one point per day and kind
    assert "降水量&lt;观测&gt;" in page.text and "降水量<观测>" not in page.text
    assert "内部台账" not in page.text
    ninety = stats_client.get("/opendata/stats", params={"days": 90})
    chart = re.search(r"<svg[^>]*aria-label=\"最近 90 天[^\"]*\".*?</svg>", ninety.text, re.S)
    assert chart is not None and chart.group(0).count("<circle") == 3 * 90

    dataset_page = stats_client.get("/opendata/datasets/rain", headers=BROWSER)
    assert "使用统计" in dataset_page.text and "浏览 <strong>2</strong> 次" in dataset_page.text
    detail = stats_client.get("/opendata/datasets/rain/stats", params={"days": 90})
    assert detail.status_code == 200 and detail.text.count("<circle") == 3 * 90
    publisher = stats_client.get(f"/opendata/publishers/{pub.org}/stats")
    assert publisher.status_code == 200 and "省气象局 使用统计" in publisher.text and "<svg" in publisher.text

    assert stats_client.get("/opendata/datasets/hidden/stats").status_code == 404
    assert stats_client.get("/opendata/datasets/nope/stats").status_code == 404
    assert stats_client.get("/opendata/publishers/nope/stats").status_code == 404
    bad = stats_client.get("/api/v1/opendata/stats", params={"days": 0})
    assert bad.status_code in (400, 422) and bad.json()["error"]["field"] == "days"
    login(stats_client, pub.actor.username, PASSWORD)
    assert stats_client.get("/opendata/datasets/hidden/stats").status_code == 200  # its publisher


def test_csv_export(stats_client: TestClient, db: Session) -> None:
    pub = make_publisher(db, name="省文旅厅")
    make_dataset(db, pub, name="museums", title="博物馆名录")
    make_dataset(db, pub, name="scenic", title="景区, 名录")
    for name, times in (("museums", 2), ("scenic", 1)):
        for _ in range(times):
            stats_client.get(f"/opendata/datasets/{name}", headers=BROWSER)
    response = stats_client.get("/opendata/stats.csv")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert {(r["dataset"], r["dataset_title"], r["kind"], r["count"]) for r in rows} == {
        ("museums", "博物馆名录", "view", "2"),
        ("scenic", "景区, 名录", "view", "1"),
    }
    assert all(r["organization"] == pub.org for r in rows)
    one = stats_client.get("/opendata/stats.csv", params={"dataset": "scenic"})
    assert [r["dataset"] for r in csv.DictReader(io.StringIO(one.content.decode("utf-8-sig")))] == ["scenic"]
    assert stats_client.get("/opendata/stats.csv", params={"dataset": "nope"}).status_code == 404
    assert stats_client.get("/opendata/stats.csv", params={"days": 400}).status_code in (400, 422)


def test_bad_inputs_of_the_services(db: Session) -> None:
    with pytest.raises(ValidationError) as err:
        check_days(0)
    assert err.value.field == "days"
    with pytest.raises(NotFound):
        dataset_usage(db, actor=ANON, ref="no-such-dataset")
    with pytest.raises(ValidationError) as missing:
        dataset_usage(db, actor=ANON, ref=" ")
    assert missing.value.field == "id"
    with pytest.raises(NotFound):
        list(usage_csv(db, actor=ANON, organization="no-such-org"))
