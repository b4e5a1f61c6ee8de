"""Exchange monitoring in a real Chromium: the overview with its charts, a department's page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from factories_certs import self_signed
from servers import DemoServer
from zhengwu.accounts.models import Department
from zhengwu.db import Database, utcnow
from zhengwu.demo.services import DEMO_PASSWORD
from zhengwu.exchange.messagelog import LogEntry, write_batch

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    yield pg
    context.close()


def _log_calls(data_dir: Path) -> tuple[str, str]:
    """Calls between two demo departments, written into the demo server's own database."""
    database = Database.from_url(f"sqlite:///{(data_dir / 'zhengwu.db').resolve()}")
    try:
        with database.session() as db:
            depts = db.execute(
                select(Department.id, Department.uscc, Department.name)
                .where(Department.uscc.is_not(None))
                .order_by(Department.code)
                .limit(2)
            ).all()
            (_, provider, provider_name), (_, consumer, _) = depts
            service = f"CN-DEV/GOV/{provider}/BROWSER/monitored"
            now = utcnow()
            entries = [
                LogEntry(
                    xroad_id=f"browser-{now.timestamp()}-{i}",
                    request_id=f"browser-req-{i}",
                    client_id=f"CN-DEV/GOV/{consumer}/APP",
                    service_id=service,
                    started_at=now - dt.timedelta(minutes=i, milliseconds=5 + i),
                    finished_at=now - dt.timedelta(minutes=i),
                    http_status=500 if i % 7 == 0 else 200,
                    error_type="Server.ServerProxy.ServiceFailed" if i % 7 == 0 else None,
                )
                for i in range(30)
            ]
            write_batch(db, entries)
    finally:
        database.dispose()
    return service, provider_name


def test_monitoring_pages_show_charts_without_console_errors(
    page: Page, demo_server: DemoServer, tmp_path: Path
) -> None:
    service, provider_name = _log_calls(demo_server.data_dir)
    problems: list[str] = []
    # CSP violations and script errors show up as console errors; failed loads as responses >= 400.
    page.on(
        "console",
        lambda msg: (
            problems.append(msg.text) if msg.type == "error" and "Failed to load" not in msg.text else None
        ),
    )
    page.on(
        "response", lambda r: problems.append(r.url) if r.status >= 400 and "favicon" not in r.url else None
    )
    page.goto(demo_server.url + "/login")
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="交换监控").click()
    expect(page.get_by_role("heading", name="交换监控", exact=True)).to_be_visible()
    chart = page.get_by_role("img", name="每个时段的调用量与错误数")
    expect(chart).to_be_visible()
    assert chart.bounding_box() is not None and chart.bounding_box()["height"] > 100  # type: ignore[index]
    expect(page.locator("td span.mono", has_text=service).first).to_be_visible()
    expect(page.locator("td", has_text="Server.ServerProxy.ServiceFailed").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "monitoring.png"), full_page=True)
    page.get_by_role("link", name="（未登记）").first.click()
    expect(page.get_by_role("heading", name="按调用方")).to_be_visible()
    expect(page.get_by_text(provider_name).first).to_be_visible()
    page.get_by_role("link", name="返回交换监控").click()
    page.get_by_role("link", name=provider_name).first.click()
    expect(page.get_by_role("heading", name=f"{provider_name}的调用")).to_be_visible()
    expect(page.get_by_role("heading", name="调入：按调用方")).to_be_visible()
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="服务目录").click()
    expect(page.get_by_role("heading", name="服务目录", exact=True)).to_be_visible()
    assert problems == []


def test_admin_manages_client_certificates_on_the_page(
    page: Page, demo_server: DemoServer, tmp_path: Path
) -> None:
    pem, _ = self_signed("browser-journey.example")
    cert_file = tmp_path / "client.pem"
    cert_file.write_text(pem, encoding="ascii")
    page.goto(demo_server.url + "/login")
    page.get_by_label("用户名").fill("admin")
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="子系统证书").click()
    expect(page.get_by_role("heading", name="子系统与客户端证书")).to_be_visible()
    # The last subsystem: the demo's gateway calls (used by other tests) come from the first ones.
    card = page.locator(".card[id^='sub-']").last
    expect(card.get_by_role("button", name="要求双向 TLS")).to_be_disabled()
    card.get_by_text("登记客户端证书").click()
    card.get_by_label("或上传证书文件（.pem / .crt）").set_input_files(str(cert_file))
    card.get_by_role("button", name="登记").click()
    expect(page.get_by_role("status")).to_contain_text("已登记证书")
    card = page.locator(".card[id^='sub-']").last
    expect(card.get_by_text("CN=browser-journey.example").first).to_be_visible()  # subject and issuer
    card.get_by_role("button", name="要求双向 TLS").click()
    expect(page.get_by_role("status")).to_contain_text("已要求双向 TLS")
    card = page.locator(".card[id^='sub-']").last
    card.get_by_role("button", name="取消双向 TLS 要求").click()
    expect(page.get_by_role("status")).to_contain_text("已取消双向 TLS 要求")
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(".card[id^='sub-']").last.get_by_role("button", name="吊销证书").click()
    expect(page.get_by_role("status")).to_contain_text("已吊销证书")
    expect(page.locator(".card[id^='sub-']").last.get_by_text("已吊销").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "certificates.png"), full_page=True)
