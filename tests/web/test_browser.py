"""Main journeys in a real headless Chromium (Debian's), driven by Playwright with its executable path."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from servers import DemoServer
from zhengwu.demo.services import DEMO_PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    yield pg
    context.close()


def sign_in(page: Page, url: str, username: str) -> None:
    page.goto(url + "/")
    page.get_by_role("link", name="登录").first.click()
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()


def test_sign_in_and_see_the_platform(page: Page, demo_server: DemoServer, tmp_path: Path) -> None:
    sign_in(page, demo_server.url, "admin")
    expect(page.get_by_role("link", name="平台管理员 王敏")).to_be_visible()
    expect(page.get_by_text("接入部门")).to_be_visible()
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="部门").click()
    expect(page.get_by_role("heading", name="部门", exact=True)).to_be_visible()
    expect(page.locator(".tree").get_by_text("公安厅").first).to_be_visible()
    page.screenshot(path=str(tmp_path / "departments.png"), full_page=True)


def test_wrong_password_is_explained(page: Page, demo_server: DemoServer) -> None:
    page.goto(demo_server.url + "/login")
    page.get_by_label("用户名").fill("reviewer")
    page.get_by_label("密码").fill("not-the-password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_contain_text("用户名或密码错误")


def test_create_a_token_and_see_it_once(page: Page, demo_server: DemoServer) -> None:
    sign_in(page, demo_server.url, "ga_dev")
    page.goto(demo_server.url + "/account")
    page.get_by_label("名称（用途）").fill("浏览器测试")
    page.get_by_role("button", name="创建令牌").click()
    token = page.locator("#new-token").inner_text()
    assert token.startswith("zw_")
    page.goto(demo_server.url + "/account")
    expect(page.get_by_text("浏览器测试").first).to_be_visible()
    assert token not in page.content()


def test_role_without_rights_sees_no_admin_menu(page: Page, demo_server: DemoServer) -> None:
    sign_in(page, demo_server.url, "citizen")
    nav = page.get_by_role("navigation", name="主导航")
    expect(nav.get_by_role("link", name="用户")).to_have_count(0)
    page.goto(demo_server.url + "/admin/users")
    expect(page.get_by_role("heading")).to_contain_text("没有权限")
