"""The Chinese pages: service directory, monitoring overview, one service, a department's calls."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import login, make_department, make_user
from factories_monitoring import Traffic, make_traffic
from zhengwu.accounts.models import Role
from zhengwu.db import utcnow
from zhengwu.exchange.monitoring.schemas import SeriesPoint
from zhengwu.web.charts import bar_chart, calls_chart, nice_max


@pytest.fixture
def traffic(db: Session) -> Traffic:
    # The pages show windows ending now: put the hour of known calls just inside the last 24 hours.
    return make_traffic(db, utcnow().replace(microsecond=0) - dt.timedelta(hours=3))


def test_monitoring_overview_page(client: TestClient, db: Session, traffic: Traffic) -> None:
    login(client, make_user(db, roles=[Role.PLATFORM_ADMIN]).username)
    page = client.get("/exchange/monitoring", params={"hours": 24, "sort": "slowest"})
    assert page.status_code == 200, page.text
    html = page.text
    assert "交换监控" in html and "<svg" in html and "最慢的服务" in html
    assert "户籍人口" in html and "慢服务" in html and "甲部门（提供方）" in html
    assert "Server.ServerProxy.ServiceFailed" in html
    assert f'href="/exchange/monitoring/departments/{traffic.a.id}?hours=24"' in html
    assert 'href="/exchange/monitoring"' in html  # the menu entry
    assert html.index("慢服务") < html.index("户籍人口</a>")  # slowest first
    assert client.get("/exchange/monitoring", params={"hours": 5}).status_code == 400


def test_service_and_department_pages(client: TestClient, db: Session, traffic: Traffic) -> None:
    login(client, make_user(db, roles=[Role.DATA_ADMIN], department_id=traffic.a.id).username)
    page = client.get(f"/exchange/monitoring/service?service_id={quote(traffic.slow, safe='')}&hours=24")
    assert page.status_code == 200
    assert "丙部门" in page.text and traffic.c_client in page.text
    dept = client.get(f"/exchange/monitoring/departments/{traffic.a.id}")
    assert dept.status_code == 200 and "调入" in dept.text and traffic.b_client in dept.text
    assert client.get(f"/exchange/monitoring/departments/{traffic.b.id}").status_code == 403
    overview = client.get("/exchange/monitoring").text
    assert "丙自用" not in overview  # C's own calls are not A's business


def test_directory_page(client: TestClient, db: Session, traffic: Traffic) -> None:
    login(client, make_user(db).username)
    plain = client.get("/exchange/services")
    assert plain.status_code == 200
    assert "服务目录" in plain.text and traffic.persons in plain.text and "OpenAPI" in plain.text
    assert "24 小时调用" not in plain.text
    client.cookies.clear()
    login(client, make_user(db, roles=[Role.AUDITOR]).username)
    figures = client.get("/exchange/services").text
    assert "24 小时调用" in figures and "/exchange/monitoring/service?service_id=" in figures


def test_pages_need_sign_in_and_a_monitoring_role(client: TestClient, db: Session) -> None:
    assert client.get("/exchange/monitoring").status_code == 303
    login(client, make_user(db, roles=[Role.DEVELOPER], department_id=make_department(db).id).username)
    assert client.get("/exchange/monitoring").status_code == 403


def test_charts_escape_labels_and_scale() -> None:
    assert [nice_max(v) for v in (0, 1, 3, 7, 12, 4500)] == [1.0, 1.0, 5.0, 10.0, 20.0, 5000.0]
    svg = str(bar_chart([("<script>alert(1)</script>", 12.5)]))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "12.5 ms" in svg
    start = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
    series = [
        SeriesPoint(start=start, calls=4, errors=1, p95_ms=3.0),
        SeriesPoint(start=start, calls=0, errors=0, p95_ms=None),
    ]
    chart = str(calls_chart(series, 60))
    assert chart.count("<rect") == 4 and "11-20 10:00" in chart and "调用 4，错误 1" in chart
