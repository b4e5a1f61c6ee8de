"""Reuse showcase and usage statistics in a real headless Chromium, against the seeded `zhengwu demo`.

A citizen submits a showcase from a dataset's page, the reviewer approves it in the moderation queue,
and then the public sees it on the dataset page next to the usage chart. The public browser sends an
ordinary User-Agent: headless Chromium's own says "HeadlessChrome", which the portal rightly counts as
a robot and leaves out of the views.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from servers import DemoServer
from zhengwu.demo.services import DEMO_PASSWORD

pytestmark = pytest.mark.browser

PERSON_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36"
)


def _sign_in(page: Page, url: str, username: str) -> None:
    page.goto(url + "/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page).not_to_have_url(re.compile("/login"))


def _first_dataset(page: Page, url: str) -> str:
    page.goto(url + "/opendata?q=" + "月度统计")
    link = page.get_by_role("region", name="搜索结果").get_by_role("heading", level=2).get_by_role("link")
    title = link.first.inner_text()
    link.first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    return title


def test_submit_moderate_and_see_showcase_and_statistics(
    browser: Browser, demo_server: DemoServer, tmp_path: Path
) -> None:
    url = demo_server.url
    citizen = browser.new_context(locale="zh-CN")
    reviewer = browser.new_context(locale="zh-CN")
    public = browser.new_context(locale="zh-CN", user_agent=PERSON_UA, accept_downloads=True)
    try:
        page = citizen.new_page()
        _sign_in(page, url, "citizen")
        dataset_title = _first_dataset(page, url)
        dataset_path = page.url.removeprefix(url)
        page.get_by_role("link", name="提交使用本数据集的应用").click()
        expect(page.get_by_role("heading", name="提交应用")).to_be_visible()
        page.get_by_role("button", name="提交审核").click()  # the browser refuses an empty title
        assert page.get_by_label("应用名称").evaluate("e => e.validity.valueMissing") is True
        page.get_by_label("应用名称").fill("区县数据看板")
        page.get_by_label("简介").fill("按区县展示每月的统计数量")
        page.get_by_label("访问地址（http:// 或 https://）").fill("https://dashboard.example.cn/")
        page.get_by_label("作者或机构").fill("某大学数据实验室")
        page.get_by_role("button", name="提交审核").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("区县数据看板")
        expect(page.get_by_text("审核状态：待审核")).to_be_visible()
        showcase_path = page.url.removeprefix(url)

        anon = public.new_page()
        hidden = anon.goto(url + showcase_path)
        assert hidden is not None and hidden.status == 404  # not public before moderation

        mod = reviewer.new_page()
        _sign_in(mod, url, "reviewer")
        mod.goto(url + "/opendata/showcases/moderation")
        mod.get_by_role("link", name="区县数据看板").click()
        mod.get_by_role("button", name="通过审核").click()
        expect(mod.get_by_role("heading", name="应用审核")).to_be_visible()
        expect(mod.get_by_role("link", name="区县数据看板")).to_have_count(0)

        anon.goto(url + dataset_path)
        used_in = anon.get_by_role("region", name="应用展示：使用本数据集的应用")
        expect(used_in.get_by_role("link", name="区县数据看板")).to_be_visible()
        with anon.expect_download():
            anon.get_by_role("link", name="CSV（UTF-8，Excel 可直接打开）").first.click()
        usage = anon.get_by_role("region", name="使用统计")
        expect(usage.get_by_role("img", name="最近 30 天每日浏览、下载与接口调用")).to_be_visible()

        usage.get_by_role("link", name=re.compile("详细统计")).click()
        expect(anon.get_by_role("heading", level=1)).to_have_text(f"{dataset_title} 使用统计")
        chart = anon.get_by_role("img", name=re.compile("最近 30 天每日使用量"))
        expect(chart).to_be_visible()
        expect(chart.locator("circle")).to_have_count(3 * 30)
        downloads = anon.get_by_role("table", name=re.compile("下载（按格式"))
        expect(downloads.get_by_role("cell", name="CSV", exact=True)).to_be_visible()
        anon.get_by_role("link", name="最近 90 天").click()
        expect(anon.get_by_role("img", name=re.compile("最近 90 天")).locator("circle")).to_have_count(3 * 90)

        anon.goto(url + "/opendata/stats")
        expect(anon.get_by_role("img", name=re.compile("最近 30 天每日浏览"))).to_be_visible()
        expect(
            anon.get_by_role("table", name="下载最多的数据集").get_by_role("link", name=dataset_title).first
        ).to_be_visible()
        anon.goto(url + "/opendata/showcases")
        expect(anon.get_by_role("link", name="区县数据看板")).to_be_visible()
        anon.screenshot(path=str(tmp_path / "showcases.png"), full_page=True)
    finally:
        for context in (citizen, reviewer, public):
            context.close()
