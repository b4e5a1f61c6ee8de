"""Conditional opening in a real headless Chromium: sign up, apply, the provider approves, the key reads.

Runs against its own `zhengwu demo` (on a port of this part's range), whose demo portal has one
conditionally open dataset with a table (``opendata_demo_tables``); its provider's data administrator
is the demo account ``scjg_admin``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from servers import DemoServer, free_port, start_demo, stop
from zhengwu.demo.services import DEMO_PASSWORD
from zhengwu.sharing.calendar import beijing_today

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    data_dir = tmp_path_factory.mktemp("access-demo")
    port = free_port()
    # Seeding the whole demo takes well over a minute when the machine is busy.
    proc = start_demo(data_dir, port, timeout=300)
    try:
        yield DemoServer(url=f"http://127.0.0.1:{port}", data_dir=data_dir)
    finally:
        stop(proc)


def _conditional_with_table(url: str) -> tuple[str, str, str]:
    """(name, title, resource id) of the demo's conditional dataset that has a datastore table."""
    found = httpx.get(
        f"{url}/api/3/action/package_search", params={"fq": "open_type:conditional", "rows": "1000"}
    ).json()["result"]["results"]
    for pkg in found:
        for res in pkg["resources"]:
            if res["datastore_active"]:
                return pkg["name"], pkg["title"], res["id"]
    raise AssertionError("the demo has no conditional dataset with a table")


def _sign_in(page: Page, url: str, username: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()


def test_sign_up_apply_approve_and_read_with_the_key(
    browser: Browser, demo: DemoServer, tmp_path: Path
) -> None:
    name, title, resource_id = _conditional_with_table(demo.url)
    search = f"{demo.url}/api/3/action/datastore_search"
    anonymous = httpx.get(search, params={"resource_id": resource_id})
    assert anonymous.status_code == 403 and anonymous.json()["error"]["__type"] == "Authorization Error"

    applicant = browser.new_context(locale="zh-CN")
    provider = browser.new_context(locale="zh-CN")
    try:
        page = applicant.new_page()
        page.goto(f"{demo.url}/opendata/datasets/{name}")
        expect(page.get_by_role("heading", level=1)).to_have_text(title)
        expect(page.locator("table.preview")).to_have_count(0)
        page.get_by_role("link", name="申请使用").click()
        expect(page).to_have_url(f"{demo.url}/login?next=/opendata/datasets/{name}/apply")

        page.goto(f"{demo.url}/opendata/register")
        page.get_by_label("法人/企业").check()
        page.get_by_label("姓名或企业名称").fill("浏览器测试科技有限公司")
        page.get_by_label("公民身份号码或统一社会信用代码").fill("91330106MA2CFXLJ2E")
        page.get_by_label("联系电话").fill("0571-88880000")
        page.get_by_label("用户名（字母、数字、._-）").fill("browserco")
        page.get_by_label("密码（至少 10 位，含两类字符）").fill("Browser@2026")
        page.get_by_role("button", name="注册").click()
        if page.get_by_role("alert").count():
            raise AssertionError(page.get_by_role("alert").inner_text())
        page.get_by_label("用户名").fill("browserco")
        page.get_by_label("密码").fill("Browser@2026")
        page.get_by_role("button", name="登录").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("我的数据申请")
        expect(page.get_by_text("91330106MA2CFXLJ2*")).to_be_visible()

        page.goto(f"{demo.url}/opendata/datasets/{name}")
        page.get_by_role("link", name="申请使用").click()
        today = dt.date.today()
        page.get_by_label("用途（至少 10 字）").fill("用于分析本省企业登记的月度变化，撰写行业研究报告。")
        page.get_by_label("使用期限：开始日期").fill(today.isoformat())
        page.get_by_label("使用期限：结束日期").fill((today + dt.timedelta(days=90)).isoformat())
        page.get_by_label("联系人").fill("李四")
        page.get_by_label("联系电话").fill("13600000000")
        page.get_by_role("button", name="提交申请").click()
        expect(page.get_by_text("待审核").first).to_be_visible()
        application_url = page.url

        admin = provider.new_page()
        _sign_in(admin, demo.url, "scjg_admin", DEMO_PASSWORD)
        admin.goto(f"{demo.url}/opendata/access/inbox")
        row = admin.get_by_role("row").filter(has_text="浏览器测试科技有限公司")
        expect(row).to_have_count(1)
        row.get_by_role("link").first.click()
        admin.get_by_label("使用条件").fill("仅限研究使用，不得转让")
        admin.get_by_label("有效期至").fill((today + dt.timedelta(days=30)).isoformat())
        admin.get_by_label("每分钟调用上限").fill("2")
        admin.get_by_role("button", name="批准", exact=True).click()
        expect(admin.get_by_text("已批准").first).to_be_visible()

        page.goto(application_url)
        expect(page.get_by_text("每分钟 2 次").first).to_be_visible()
        page.get_by_role("button", name="领取访问密钥").click()
        expect(page.get_by_text("密钥只显示这一次")).to_be_visible()
        key = page.locator("#issued-key").inner_text().strip()
        assert key.startswith("zwk_")
        page.screenshot(path=str(tmp_path / "key.png"), full_page=True)

        # The key reads the data, from the browser's own HTTP stack; over the limit: 429 with Retry-After.
        got = page.request.get(
            search, params={"resource_id": resource_id, "limit": 3}, headers={"Authorization": key}
        )
        assert got.status == 200 and len(got.json()["result"]["records"]) == 3
        dump = page.request.get(
            f"{demo.url}/datastore/dump/{resource_id}?format=csv", headers={"Authorization": f"Bearer {key}"}
        )
        assert dump.status == 200 and dump.body().startswith(b"\xef\xbb\xbf")
        limited = page.request.get(
            search, params={"resource_id": resource_id}, headers={"Authorization": key}
        )
        assert limited.status == 429 and int(limited.headers["retry-after"]) >= 1

        page.reload()
        usage = page.get_by_role("table", name="使用情况（近 30 天，按日）")
        expect(usage.locator("tbody tr").first).to_contain_text(beijing_today().isoformat())
        cells = usage.locator("tbody tr").first.locator("td")
        expect(cells.nth(1)).to_have_text("2")
        expect(cells.nth(2)).to_have_text("1")
    finally:
        applicant.close()
        provider.close()
