"""Catalog and sharing journeys in a real headless Chromium (Debian's), driven by Playwright.

Every test starts from the seeded `zhengwu demo` of the session and makes its own data (names carry a
unique suffix), so the tests run in any order and alone. Screenshots go to each test's tmp_path.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Locator,
    Page,
    StorageState,
    expect,
)

from servers import DemoServer
from zhengwu.demo.services import DEMO_PASSWORD
from zhengwu.sharing.calendar import add_working_days, beijing_today, working_days_between

# A conditional resource of 公安厅 in the demo seed (seed 2026): 居民身份证信息, 8 data elements. The
# tests check on the page that it is still what they assume, so a changed seed fails clearly.
GA_ID_CARD = "1-01-001-002-330000-GA-00001"
GA = "浙江省公安厅"
SCJG = "浙江省市场监督管理局"
DEADLINE_WORKING_DAYS = 10

pytestmark = pytest.mark.browser

_serial = itertools.count(1)

SignIn = Callable[[str], Page]


def unique(label: str) -> str:
    """A name no other test (or earlier run against the same server) has used."""
    return f"{label}{next(_serial)}{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def signed_in_states() -> dict[str, StorageState]:
    """Cookies of each user after their first sign-in: signing in costs a password hash on the server."""
    return {}


@pytest.fixture
def sign_in(
    browser: Browser, demo_server: DemoServer, signed_in_states: dict[str, StorageState]
) -> Iterator[SignIn]:
    """Opens a fresh browser context per user (separate cookies, as two people at two desks)."""
    contexts: list[BrowserContext] = []

    def open_as(username: str) -> Page:
        state = signed_in_states.get(username)
        context = browser.new_context(
            locale="zh-CN",
            viewport={"width": 1280, "height": 900},
            base_url=demo_server.url,
            storage_state=state,
        )
        context.set_default_timeout(10_000)
        contexts.append(context)
        page = context.new_page()
        if state is None:
            page.goto("/login")
            page.get_by_label("用户名").fill(username)
            page.get_by_label("密码").fill(DEMO_PASSWORD)
            page.get_by_role("button", name="登录").click()
            expect(page.get_by_role("button", name="退出")).to_be_visible()
            signed_in_states[username] = context.storage_state()
        else:
            page.goto("/")
            expect(page.get_by_role("button", name="退出")).to_be_visible()
        return page

    yield open_as
    for context in contexts:
        context.close()


def shot(page: Page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)


def flash(page: Page) -> Locator:
    """The message a page shows after an action (base.html: a status, or an alert for errors)."""
    return page.get_by_role("main").locator(".alert").first


# --- Helpers that drive the pages the way a person does ---------------------------------------------


def fill_entry(page: Page, *, name: str, name_en_prefix: str) -> None:
    """Fill the editor's metadata (all but the name when ``name`` is empty) and two data elements."""
    if name:
        page.get_by_label("信息资源名称").fill(name)
    page.get_by_label("目录类别").select_option(label="部门信息资源")
    page.get_by_label("资源分类").fill("3-02-009-001")
    page.get_by_label("主题分类").select_option(label="　治安管理")
    page.get_by_label("更新周期").select_option(label="每周")
    page.get_by_label("来源系统").fill("治安管理信息系统")
    page.get_by_label("关键词").fill("治安、测试")
    page.get_by_label("信息资源摘要").fill("全省娱乐场所治安管理登记信息，含场所名称、法定代表人和检查记录。")
    page.get_by_role("radio", name="有条件共享", exact=True).check()
    page.get_by_label("共享条件").fill("仅限履行市场监管和治安管理职责的部门，用于监管核查")
    page.get_by_role("radio", name="接口", exact=True).check()
    page.get_by_role("radio", name="不予开放", exact=True).check()
    rows = [
        ("场所名称", f"{name_en_prefix}_venue_name", "字符型", "200", False, "公开"),
        ("法定代表人身份号码", f"{name_en_prefix}_legal_rep_id", "字符型", "18", True, "敏感"),
    ]
    for i, (label, name_en, data_type, length, personal, sensitivity) in enumerate(rows, start=1):
        row = element_row(page, i)
        row.get_by_label("信息项名称").fill(label)
        row.get_by_label("英文标识").fill(name_en)
        row.get_by_label("数据类型").select_option(label=data_type)
        row.get_by_label("长度").fill(length)
        row.get_by_label("可识别个人").set_checked(personal)
        row.get_by_label("敏感级别").select_option(label=sensitivity)


def element_row(page: Page, number: int) -> Locator:
    """Row ``number`` of the editor's element table, found by its "删除第 N 行" box.

    (The name and English-name boxes of every row are labelled "第 1 行 …" / "第 2 行 …": edit.html's
    inner column loop shadows the row loop. Scoping by the row stays right once that is fixed.)
    """
    delete = page.get_by_role("checkbox", name=f"删除第 {number} 行", exact=True)
    return page.get_by_role("row").filter(has=delete)


def code_from_url(page: Page) -> str:
    match = re.search(r"/catalog/resources/([^/?]+)", page.url)
    assert match, page.url
    return match.group(1)


def create_and_submit_entry(page: Page, name: str) -> str:
    """A data administrator files a complete new entry and submits it at once; returns its code."""
    page.goto("/catalog/manage/new")
    # Only what the editor's defaults leave open (test_data_admin_creates_... fills everything).
    page.get_by_label("信息资源名称").fill(name)
    page.get_by_label("资源分类").fill("3-02-009-002")
    page.get_by_label("信息资源摘要").fill("全省娱乐场所日常治安检查记录。")
    page.get_by_label("共享条件").fill("仅限履行治安管理职责的部门")
    for number, (label, name_en) in enumerate([("场所名称", "venue_name"), ("检查日期", "checked_on")], 1):
        row = element_row(page, number)
        row.get_by_label("信息项名称").fill(label)
        row.get_by_label("英文标识").fill(name_en)
    page.get_by_role("button", name="保存并提交审核").click()
    expect(flash(page)).to_contain_text("已提交平台审核")
    return code_from_url(page)


def file_request(page: Page, *, system: str, elements: list[str], resource: str = GA_ID_CARD) -> int:
    """The consumer fills the request form of a resource; returns the new request's number."""
    page.goto(f"/sharing/resources/{resource}")
    for element in elements:
        page.get_by_role("checkbox", name=element).check()
    page.get_by_label("用途").fill("企业登记时核验法定代表人身份")
    page.get_by_label("申请依据").fill("《中华人民共和国市场主体登记管理条例》第十六条")
    page.get_by_label("使用系统").fill(system)
    until = beijing_today() + dt.timedelta(days=365)
    page.get_by_label("有效期截止日期").fill(until.isoformat())
    page.get_by_role("button", name="提交申请").click()
    expect(flash(page)).to_have_text("申请已提交")
    match = re.search(r"/sharing/requests/(\d+)", page.url)
    assert match, page.url
    return int(match.group(1))


def any_of(texts: Iterable[str]) -> re.Pattern[str]:
    """Matches any of ``texts``: a date computed here may straddle midnight in Beijing."""
    return re.compile("|".join(re.escape(t) for t in sorted(set(texts))))


def hit_names(page: Page) -> list[str]:
    return page.get_by_role("region", name="检索结果").get_by_role("heading", level=3).all_inner_texts()


def result_count(page: Page) -> int:
    text = page.get_by_role("region", name="检索结果").locator(".result-head").inner_text()
    match = re.search(r"共 (\d+) 条", text)
    assert match, text
    return int(match.group(1))


# --- The journeys -----------------------------------------------------------------------------------


def test_data_admin_creates_an_entry_fixes_an_error_and_submits(sign_in: SignIn, tmp_path: Path) -> None:
    page = sign_in("ga_admin")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="目录管理").click()
    expect(page.get_by_role("heading", name="目录管理")).to_be_visible()
    page.get_by_role("link", name="新建条目").click()
    expect(page.get_by_role("heading", name="新建目录条目")).to_be_visible()
    # A data administrator of one department files for that department only.
    expect(page.get_by_label("提供部门")).to_have_value(GA)
    expect(page.get_by_label("提供部门")).to_be_disabled()

    prefix = "e" + uuid.uuid4().hex[:6]
    fill_entry(page, name="", name_en_prefix=prefix)
    page.get_by_role("button", name="保存草稿").click()

    errors = page.get_by_role("alert")
    expect(errors).to_contain_text("请修改以下 1 处")
    expect(errors).to_contain_text("信息资源名称")
    expect(page.locator("#e-name")).to_be_visible()
    shot(page, tmp_path, "editor-error")
    # Nothing typed is lost: metadata and the element table come back as entered.
    expect(page.get_by_label("资源分类")).to_have_value("3-02-009-001")
    expect(page.get_by_label("信息资源摘要")).to_have_value(re.compile("娱乐场所"))
    expect(page.get_by_label("共享条件")).to_have_value(re.compile("监管核查"))
    expect(page.get_by_label("更新周期")).to_have_value("weekly")
    expect(element_row(page, 1).get_by_label("信息项名称")).to_have_value("场所名称")
    expect(element_row(page, 2).get_by_label("英文标识")).to_have_value(f"{prefix}_legal_rep_id")
    expect(element_row(page, 2).get_by_label("可识别个人")).to_be_checked()
    expect(element_row(page, 1).get_by_label("敏感级别")).to_have_value("public")

    name = unique("娱乐场所治安登记信息")
    page.get_by_label("信息资源名称").fill(name)
    page.get_by_role("button", name="保存草稿").click()
    expect(flash(page)).to_contain_text("已创建草稿")
    expect(page.get_by_role("heading", name="编辑目录条目")).to_be_visible()
    code = code_from_url(page)
    assert re.fullmatch(r"3-02-009-001-330000-GA-\d{5}", code), code

    page.get_by_role("button", name="保存并提交审核").click()
    expect(flash(page)).to_contain_text("已提交平台审核")
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.get_by_text("待审核", exact=True).first).to_be_visible()
    elements = page.get_by_role("region", name="信息项（2）")
    expect(elements.get_by_role("cell", name="场所名称", exact=True)).to_be_visible()
    expect(elements.get_by_role("cell", name=f"{prefix}_legal_rep_id")).to_be_visible()
    shot(page, tmp_path, "entry-submitted")
    # While under review the editor no longer offers to save.
    page.goto(f"/catalog/resources/{code}/edit")
    expect(flash(page)).to_contain_text("审核完成前不能修改")
    expect(page.get_by_role("button", name="保存草稿")).to_have_count(0)


def test_reviewer_approves_and_the_entry_is_published_as_version_1(sign_in: SignIn, tmp_path: Path) -> None:
    name = unique("娱乐场所检查记录")
    code = create_and_submit_entry(sign_in("ga_admin"), name)

    page = sign_in("reviewer")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="目录审核").click()
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text(GA)
    expect(row).to_contain_text("新条目")
    shot(page, tmp_path, "review-queue")
    row.get_by_role("link", name="审核").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.get_by_text("这是新条目的首次提交")).to_be_visible()
    page.get_by_label("意见（可选）").fill("信息项完整，同意发布")
    page.get_by_role("button", name="通过并发布").click()

    expect(flash(page)).to_contain_text("已审核通过并发布")
    expect(page.get_by_role("row").filter(has_text=name)).to_have_count(0)

    page.goto(f"/catalog/resources/{code}")
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    expect(page.get_by_text("已发布", exact=True)).to_be_visible()
    expect(page.get_by_text("第 1 版", exact=True).first).to_be_visible()
    versions = page.get_by_role("region", name="发布版本")
    version_row = versions.get_by_role("row").filter(has_text="第 1 版")
    expect(version_row).to_contain_text("现行")
    expect(version_row).to_contain_text("目录审核员 李强")
    shot(page, tmp_path, "published")

    # Published means findable: the exact name ranks first in the catalog search.
    page.goto("/catalog")
    page.get_by_role("searchbox", name="检索").fill(name)
    page.get_by_role("search").get_by_role("button", name="检索").click()
    first_hit = page.get_by_role("region", name="检索结果").get_by_role("listitem").first
    expect(first_hit.get_by_role("heading", level=3)).to_have_text(name)
    expect(first_hit).to_contain_text("名称完全一致")


def test_another_department_requests_a_subset_of_a_conditional_resource(
    sign_in: SignIn, tmp_path: Path
) -> None:
    page = sign_in("scjg_admin")
    page.goto(f"/catalog/resources/{GA_ID_CARD}")
    expect(page.get_by_role("heading", name="居民身份证信息")).to_be_visible()
    expect(page.get_by_text(f"{GA_ID_CARD} · {GA}")).to_be_visible()
    expect(page.get_by_role("region", name="共享与开放")).to_contain_text("有条件共享")
    page.get_by_role("link", name="使用情况与申请").click()
    expect(page.get_by_role("heading", name="申请使用")).to_be_visible()

    system = unique("企业登记审批系统")
    # Forgetting the elements is explained, and what was typed stays.
    page.get_by_label("用途").fill("企业登记时核验法定代表人身份")
    page.get_by_label("申请依据").fill("《中华人民共和国市场主体登记管理条例》第十六条")
    page.get_by_label("使用系统").fill(system)
    page.get_by_role("button", name="提交申请").click()
    expect(flash(page)).to_contain_text("请至少选择一个信息项")
    expect(page.get_by_label("使用系统")).to_have_value(system)
    expect(page.get_by_label("用途")).to_have_value("企业登记时核验法定代表人身份")

    for element in ("公民身份号码", "姓名", "出生日期"):
        page.get_by_role("checkbox", name=element).check()
    before = beijing_today()
    page.get_by_role("button", name="提交申请").click()
    expect(flash(page)).to_have_text("申请已提交")
    dues = {add_working_days(day, DEADLINE_WORKING_DAYS) for day in (before, beijing_today())}
    request_id = int(page.url.split("/sharing/requests/")[1].split("?")[0])
    expect(page.get_by_role("heading", name=f"共享申请 #{request_id}")).to_be_visible()
    asked = page.get_by_role("row").filter(has_text="申请的信息项")
    for element in ("公民身份号码", "姓名", "出生日期"):
        expect(asked).to_contain_text(element)
    expect(asked).not_to_contain_text("证件照片")

    page.get_by_role("link", name="我的申请").click()
    row = page.get_by_role("row").filter(has_text=system)
    expect(row).to_contain_text("居民身份证信息")
    expect(row).to_contain_text(GA)
    expect(row).to_contain_text("3 项")
    expect(row).to_contain_text("待审批")
    expect(row).to_contain_text(any_of(due.isoformat() for due in dues))
    left = {working_days_between(beijing_today(), due) for due in dues}
    expect(row).to_contain_text(any_of(f"剩 {n} 个工作日" for n in left))
    shot(page, tmp_path, "my-requests")


def test_provider_approves_a_narrower_subset_and_the_consumer_holds_the_grant(
    sign_in: SignIn, tmp_path: Path
) -> None:
    consumer = sign_in("scjg_admin")
    system = unique("个体户登记系统")
    filed_on = beijing_today()
    request_id = file_request(consumer, system=system, elements=["公民身份号码", "姓名", "出生日期"])

    provider = sign_in("ga_admin")
    provider.goto("/sharing/requests")
    provider.get_by_role("link", name="待我审批").click()
    card = provider.get_by_role("region", name=re.compile(f"#{request_id} {SCJG}"))
    expect(card).to_contain_text("居民身份证信息")
    expect(card).to_contain_text(system)
    dues = (add_working_days(day, DEADLINE_WORKING_DAYS) for day in (filed_on, beijing_today()))
    expect(card).to_contain_text(any_of(due.isoformat() for due in dues))
    card.get_by_role("checkbox", name="出生日期").uncheck()
    card.get_by_label("说明（可选）").fill("出生日期可由身份号码推得，不另行提供")
    shot(provider, tmp_path, "to-me")
    card.get_by_role("button", name="批准").click()
    expect(flash(provider)).to_contain_text("已批准，授权已生成")
    done = provider.get_by_role("row").filter(has_text=f"#{request_id}")
    expect(done).to_contain_text("已批准")
    expect(done).to_contain_text("部分批准")

    consumer.goto("/sharing/requests")
    row = consumer.get_by_role("row").filter(has_text=system)
    expect(row).to_contain_text("3 项，批准 2 项")
    expect(row).to_contain_text("部分批准")
    row.get_by_role("link", name=f"#{request_id}").click()
    approved = consumer.get_by_role("row").filter(has_text="批准的信息项")
    expect(approved).to_contain_text("公民身份号码")
    expect(approved).to_contain_text("姓名")
    expect(approved).not_to_contain_text("出生日期")
    expect(consumer.get_by_role("row", name=re.compile("^说明"))).to_contain_text("不另行提供")
    history = consumer.get_by_role("table").last
    expect(history).to_contain_text("部分批准")
    expect(history).to_contain_text("生成授权")
    shot(consumer, tmp_path, "request-approved")

    consumer.get_by_role("link", name=re.compile(r"授权 #\d+")).click()
    held = consumer.get_by_role("row").filter(has_text=system)
    expect(held).to_contain_text("居民身份证信息")
    expect(held).to_contain_text(GA)
    expect(held).to_contain_text("有效")
    expect(held).not_to_contain_text("出生日期")
    # The resource page now names the consumer among its users.
    consumer.goto(f"/sharing/resources/{GA_ID_CARD}")
    expect(
        consumer.get_by_role("region", name=re.compile("使用部门")).get_by_role("row").filter(has_text=system)
    ).to_contain_text(SCJG)


def test_user_without_rights_gets_403_and_no_menu(sign_in: SignIn, tmp_path: Path) -> None:
    page = sign_in("citizen")
    nav = page.get_by_role("navigation", name="主导航")
    expect(nav.get_by_role("link", name="资源目录")).to_be_visible()
    for item in ("目录管理", "目录审核", "共享申请"):
        expect(nav.get_by_role("link", name=item)).to_have_count(0)
    for path in ("/catalog/manage", "/catalog/manage/new", "/catalog/review"):
        response = page.goto(path)
        assert response is not None and response.status == 403, path
        expect(page.get_by_role("heading", level=1)).to_contain_text("没有权限")


def test_statistics_page_draws_the_charts_of_a_department(sign_in: SignIn, tmp_path: Path) -> None:
    page = sign_in("rs_admin")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="统计").click()
    expect(page.get_by_role("heading", name="共享统计")).to_be_visible()
    page.get_by_label("部门", exact=True).select_option(label=GA)
    page.get_by_role("button", name="查看").click()
    expect(page.get_by_role("heading", name=GA, level=2)).to_be_visible()

    published = int(page.locator(".figure").filter(has_text="已发布资源").locator(".num").inner_text())
    mix = page.get_by_role("img", name="共享类型构成")
    values = [int(v) for v in mix.locator(".row > span:last-child").all_inner_texts()]
    assert len(values) == 3 and sum(values) == published, (values, published)
    # The bars are drawn: the widest is the full track, every non-zero value has a visible bar.
    widths = [
        box["width"] if (box := bar.bounding_box()) else 0.0 for bar in mix.locator(".bar > span").all()
    ]
    track = mix.locator(".bar").first.bounding_box()
    assert track is not None
    assert max(widths) == pytest.approx(track["width"], abs=2)
    assert all((w > 0) == (v > 0) for w, v in zip(widths, values, strict=True)), (widths, values)
    expect(page.get_by_role("img", name="申请办理情况").locator(".row")).to_have_count(4)
    expect(page.get_by_role("img", name="各部门已发布资源数量").locator(".row").first).to_contain_text(GA)
    shot(page, tmp_path, "stats")


def test_search_finds_by_chinese_word_and_a_facet_narrows(sign_in: SignIn, tmp_path: Path) -> None:
    page = sign_in("scjg_admin")
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="资源目录").click()
    page.get_by_role("searchbox", name="检索").fill("户籍")
    page.get_by_role("search").get_by_role("button", name="检索").click()
    expect(page.get_by_role("region", name="检索结果")).to_contain_text("“户籍”")
    total = result_count(page)
    names = hit_names(page)
    assert total > len([n for n in names if "户籍" in n]) > 0, names
    # Name matches rank above hits found only through a data element.
    first_other = next(i for i, n in enumerate([*names, "-"]) if "户籍" not in n)
    assert all("户籍" not in n for n in names[first_other:]), names
    shot(page, tmp_path, "search")

    facets = page.get_by_role("complementary", name="筛选")
    facet = facets.get_by_role("link", name=re.compile("^主题信息资源"))
    facet_count = int(facet.locator(".n").inner_text())
    assert 0 < facet_count < total
    facet.click()
    expect(facets.get_by_role("link", name=re.compile("^主题信息资源"))).to_have_attribute(
        "aria-current", "true"
    )
    assert result_count(page) == facet_count
    assert "q=%E6%88%B7%E7%B1%8D" in page.url  # the query is kept with the filter
    hits = page.get_by_role("region", name="检索结果").get_by_role("listitem")
    expect(hits).to_have_count(min(facet_count, 20))
    for hit in hits.all():
        expect(hit).to_contain_text("主题信息资源")
    expect(page.get_by_role("link", name="清除全部筛选")).to_be_visible()
