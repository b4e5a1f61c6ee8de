"""The open data portal in a real headless Chromium: search in Chinese, open a dataset, preview, download.

Runs against the session's seeded `zhengwu demo`, whose first public datasets carry a synthetic monthly
table in the datastore (distribution "…（按区县月度统计）").
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from servers import DemoServer

pytestmark = pytest.mark.browser


def test_search_open_preview_and_download_csv(
    browser: Browser, demo_server: DemoServer, tmp_path: Path
) -> None:
    context = browser.new_context(accept_downloads=True, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(demo_server.url + "/opendata")
        expect(page.get_by_text("开放数据集").first).to_be_visible()
        page.get_by_label("搜索开放数据集").fill("月度统计")
        page.get_by_role("button", name="搜索").click()
        results = (
            page.get_by_role("region", name="搜索结果").get_by_role("heading", level=2).get_by_role("link")
        )
        expect(results.first).to_be_visible()
        title = results.first.inner_text()
        results.first.click()
        expect(page.get_by_role("heading", level=1)).to_have_text(title)

        preview = page.locator("table.preview").first
        expect(preview.locator("thead th").first).to_have_text("区县")
        expect(preview.locator("tbody tr")).to_have_count(10)
        expect(page.get_by_role("img", name="数量 条形图")).to_be_visible()
        expect(page.get_by_text("portal.action.datastore_search(").first).to_be_visible()
        expect(page.get_by_role("link", name="GeoJSON").first).to_be_visible()

        with page.expect_download() as info:
            page.get_by_role("link", name="CSV（UTF-8，Excel 可直接打开）").first.click()
        target = tmp_path / "download.csv"
        info.value.save_as(target)
        raw = target.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
        assert rows[0][:4] == ["_id", "区县", "月份", "数量"]  # CKAN's dump leads with _id
        assert len(rows) == 1 + 288
        page.screenshot(path=str(tmp_path / "dataset.png"), full_page=True)
    finally:
        context.close()
