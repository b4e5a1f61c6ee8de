"""The /catalog page: search box, facets with counts, escaped highlights, paging, empty state."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import login, make_department, make_user
from factories_catalog import make_resource
from zhengwu.catalog.models import ShareType


def _signed_in(client: TestClient, db: Session) -> TestClient:
    user = make_user(db)
    return login(client, user.username)


def test_anonymous_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    response = client.get("/catalog?q=户籍")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/catalog")


def test_results_are_highlighted_and_escaped_with_facets(client: TestClient, db: Session) -> None:
    dept = make_department(db, name="省公安厅")
    make_resource(db, provider_id=dept.id, name="户籍人口<b>基本</b>信息", share_type=ShareType.CONDITIONAL)
    make_resource(db, provider_id=dept.id, name="户籍迁移登记", share_type=ShareType.UNCONDITIONAL)
    page = _signed_in(client, db).get("/catalog", params={"q": "户籍"})
    assert page.status_code == 200
    html = page.text
    assert "<mark>户籍</mark>人口&lt;b&gt;基本&lt;/b&gt;信息" in html
    assert "<b>基本</b>" not in html
    assert re.search(r"共 <strong>2</strong> 条", html)
    assert "有条件共享" in html and "无条件共享" in html
    assert "share_type=conditional" in html
    assert 'value="户籍"' in html
    assert '<a href="/catalog"' in html  # the navigation item


def test_facet_links_filter_and_show_the_selection(client: TestClient, db: Session) -> None:
    dept = make_department(db)
    make_resource(db, provider_id=dept.id, name="低保对象名册", share_type=ShareType.CONDITIONAL)
    make_resource(db, provider_id=dept.id, name="低保资金发放", share_type=ShareType.UNCONDITIONAL)
    signed = _signed_in(client, db)
    html = signed.get("/catalog", params={"q": "低保", "share_type": "unconditional"}).text
    assert re.search(r"共 <strong>1</strong> 条", html)
    assert 'aria-current="true"' in html
    assert "清除全部筛选" in html
    assert '<input type="hidden" name="share_type" value="unconditional">' in html


def test_empty_state_explains_what_to_try(client: TestClient, db: Session) -> None:
    html = _signed_in(client, db).get("/catalog", params={"q": "量子纠缠"}).text
    assert "没有找到符合条件的信息资源" in html
    assert "拼音首字母" in html


def test_bad_input_is_shown_on_the_page(client: TestClient, db: Session) -> None:
    signed = _signed_in(client, db)
    response = signed.get("/catalog", params={"q": "户籍" * 80})
    assert response.status_code == 400
    assert "检索词过长" in response.text
    response = signed.get("/catalog", params={"share_type": "sometimes"})
    assert response.status_code == 400
    assert "共享类型“sometimes”无效" in response.text


def test_paging_links_keep_the_query(client: TestClient, db: Session) -> None:
    dept = make_department(db)
    for i in range(23):
        make_resource(db, provider_id=dept.id, name=f"公积金缴存明细{i}")
    html = _signed_in(client, db).get("/catalog", params={"q": "公积金"}).text
    assert "第 1/2 页" in html
    assert 'href="/catalog?q=%E5%85%AC%E7%A7%AF%E9%87%91&amp;page=2"' in html
