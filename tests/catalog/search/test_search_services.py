"""Catalog search on both backends: Chinese matching, ranking, facets, filters, visibility, bad queries."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import make_department, make_user
from factories_catalog import (
    CATALOG_SYSTEM,
    make_resource,
    make_topic,
    publish_revision,
    resource_data,
    update_data,
)
from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import Actor
from zhengwu.catalog.models import ElementType, OpenType, ShareType
from zhengwu.catalog.schemas import ElementIn, ResourceOut
from zhengwu.catalog.search.models import SearchDoc
from zhengwu.catalog.search.services import (
    SearchFilters,
    resource_search,
    search_filters,
    search_index_rebuild,
    search_index_remove,
    search_index_update,
)
from zhengwu.catalog.services import (
    resource_approve,
    resource_create,
    resource_get,
    resource_revise,
    resource_submit,
    resource_update,
    resource_withdraw,
)
from zhengwu.errors import NotAuthenticated, ValidationError

READER = Actor(user_id=1, username="reader", display_name="读者")


def _names(db: Session, q: str = "", **filters: Any) -> list[str]:
    result = resource_search(db, actor=READER, q=q, filters=search_filters(**filters), page_size=100)
    return [hit.name for hit in result.results]


def _elements(*pairs: tuple[str, str]) -> list[ElementIn]:
    return [ElementIn(name=n, name_en=e, data_type=ElementType.STRING, length=64) for n, e in pairs]


def _with_elements(
    db: Session, provider_id: int, name: str, *pairs: tuple[str, str], **more: Any
) -> ResourceOut:
    data = resource_data(name=name, provider_id=provider_id, **more)
    data.elements = _elements(*pairs)
    out = resource_create(db, actor=CATALOG_SYSTEM, data=data)
    resource_submit(db, actor=CATALOG_SYSTEM, code=out.code)
    return resource_approve(db, actor=CATALOG_SYSTEM, code=out.code)


@pytest.fixture
def dept(db: Session) -> int:
    return make_department(db, name="省公安厅").id


def test_a_chinese_word_finds_the_resource_that_contains_it(db: Session, dept: int) -> None:
    make_resource(db, provider_id=dept, name="户籍人口基本信息")
    make_resource(db, provider_id=dept, name="企业法人登记信息")
    assert _names(db, "户籍") == ["户籍人口基本信息"]
    assert _names(db, "企业 登记") == ["企业法人登记信息"]
    assert _names(db, "户籍 企业") == []
    assert set(_names(db, "信息")) == {"户籍人口基本信息", "企业法人登记信息"}


def test_exact_name_first_then_prefix_then_other_name_matches(db: Session, dept: int) -> None:
    make_resource(db, provider_id=dept, name="流动人口基本信息统计")
    make_resource(db, provider_id=dept, name="户籍人口基本信息")
    make_resource(db, provider_id=dept, name="人口基本信息")
    make_resource(db, provider_id=dept, name="人口基本信息变更记录")
    result = resource_search(db, actor=READER, q="人口基本信息")
    assert [h.name for h in result.results][:2] == ["人口基本信息", "人口基本信息变更记录"]
    assert [h.match for h in result.results] == ["exact", "prefix", "name", "name"]
    assert result.count == 4
    assert _names(db, "人口")[0] == "人口基本信息"


def test_name_matches_outrank_summary_and_element_matches(db: Session, dept: int) -> None:
    make_resource(db, provider_id=dept, name="就业登记信息", summary="记录劳动者就业登记与参保衔接情况。")
    _with_elements(
        db,
        dept,
        "职工档案信息",
        ("参保状态", "insured_status"),
        ("姓名", "person_name"),
        summary="职工人事档案。",
    )
    make_resource(db, provider_id=dept, name="社会保险参保信息")
    result = resource_search(db, actor=READER, q="参保")
    assert [(h.name, h.match) for h in result.results] == [
        ("社会保险参保信息", "name"),
        ("就业登记信息", "text"),
        ("职工档案信息", "element"),
    ]
    element_hit = result.results[2]
    assert [e.name_en for e in element_hit.matched_elements] == ["insured_status"]
    assert element_hit.matched_elements[0].name_html == "<mark>参保</mark>状态"
    assert "<mark>参保</mark>" in result.results[1].summary_html


def test_english_element_names_pinyin_initials_single_characters_and_codes(db: Session, dept: int) -> None:
    one = _with_elements(
        db, dept, "户籍人口基本信息", ("公民身份号码", "resident_id"), ("姓名", "person_name")
    )
    make_resource(db, provider_id=dept, name="个税申报信息")
    assert _names(db, "resident_id") == ["户籍人口基本信息"]
    assert _names(db, "RESIDENT") == ["户籍人口基本信息"]
    assert _names(db, "hjrk") == ["户籍人口基本信息"]
    assert _names(db, "rkjb") == ["户籍人口基本信息"]
    assert _names(db, "税") == ["个税申报信息"]
    assert _names(db, "身份号码") == ["户籍人口基本信息"]
    by_code = resource_search(db, actor=READER, q=f"  {one.code} ")
    assert [h.code for h in by_code.results] == [one.code]
    assert by_code.results[0].match == "exact"


def test_full_width_and_mixed_spacing_queries_are_normalised(db: Session, dept: int) -> None:
    make_resource(db, provider_id=dept, name="２０２４年度户籍人口统计")
    assert _names(db, "户籍　人口") == ["２０２４年度户籍人口统计"]
    assert _names(db, "2024") == ["２０２４年度户籍人口统计"]
    assert _names(db, "２０２４年度户籍人口统计") == ["２０２４年度户籍人口统计"]


def test_facets_count_the_hits_of_the_current_query_and_filters(db: Session) -> None:
    a = make_department(db, name="省人力资源和社会保障厅")
    b = make_department(db, name="省医疗保障局")
    make_resource(db, provider_id=a.id, name="养老保险参保信息", share_type=ShareType.CONDITIONAL)
    make_resource(db, provider_id=a.id, name="失业保险参保信息", share_type=ShareType.UNCONDITIONAL)
    make_resource(db, provider_id=a.id, name="工伤保险参保信息", share_type=ShareType.CONDITIONAL)
    make_resource(db, provider_id=b.id, name="医疗保险参保信息", share_type=ShareType.CONDITIONAL)
    make_resource(db, provider_id=b.id, name="药品目录", share_type=ShareType.UNCONDITIONAL)

    result = resource_search(db, actor=READER, q="参保")
    assert result.count == 4
    share = {f.value: f.count for f in result.facets["share_type"]}
    assert share == {"conditional": 3, "unconditional": 1}
    providers = {f.label: f.count for f in result.facets["provider"]}
    assert providers == {"省人力资源和社会保障厅": 3, "省医疗保障局": 1}
    assert result.facets["share_type"][0].label == "有条件共享"

    filtered = resource_search(
        db, actor=READER, q="参保", filters=search_filters(share_type="conditional", provider=[a.code])
    )
    assert {h.name for h in filtered.results} == {"工伤保险参保信息", "养老保险参保信息"}
    assert filtered.count == 2
    assert {f.value: f.count for f in filtered.facets["provider"]} == {a.code: 2}
    assert [f.selected for f in filtered.facets["share_type"]] == [True]

    either = _names(db, share_type=["conditional", "unconditional"], provider=b.code)
    assert set(either) == {"医疗保险参保信息", "药品目录"}
    assert _names(db, "参保", provider="NO-SUCH") == []


def test_browsing_without_a_query_lists_everything_newest_first(db: Session, dept: int) -> None:
    make_resource(db, provider_id=dept, name="第一条资源")
    make_resource(db, provider_id=dept, name="第二条资源")
    result = resource_search(db, actor=READER)
    assert [h.name for h in result.results] == ["第二条资源", "第一条资源"]
    assert {h.match for h in result.results} == {"all"}
    assert result.count == 2
    assert sum(f.count for f in result.facets["share_type"]) == 2


def test_topic_category_and_classification_filters(db: Session, dept: int) -> None:
    make_topic(db, code="02", name="社会保障")
    make_resource(db, provider_id=dept, name="低保对象名册", topic_code="02", classification="2-01-001")
    make_resource(db, provider_id=dept, name="部门内设机构信息", classification="3-02-001-001")
    assert _names(db, topic="02") == ["低保对象名册"]
    assert _names(db, category="departmental") == ["部门内设机构信息"]
    assert _names(db, classification="3-02") == ["部门内设机构信息"]
    topics = resource_search(db, actor=READER).facets["topic"]
    assert [(f.value, f.label, f.count) for f in topics] == [("02", "社会保障", 1)]


def test_drafts_submissions_and_withdrawn_entries_are_never_found(db: Session) -> None:
    mine = make_department(db)
    other = make_department(db)
    make_resource(db, provider_id=other.id, name="不动产登记草稿", published=False)
    make_resource(db, provider_id=other.id, name="不动产登记待审", published=False, submitted=True)
    gone = make_resource(db, provider_id=mine.id, name="不动产登记已撤销")
    resource_withdraw(db, actor=CATALOG_SYSTEM, code=gone.code, reason="合并到新资源")
    make_resource(db, provider_id=mine.id, name="不动产登记簿")
    admin = make_user(db, roles=[Role.DATA_ADMIN], department_id=other.id)
    as_owner = Actor(user_id=admin.id, username=admin.username, roles=frozenset({Role.DATA_ADMIN}),
                     department_id=other.id)  # fmt: skip
    for who in (READER, as_owner, CATALOG_SYSTEM):
        names = [h.name for h in resource_search(db, actor=who, q="不动产").results]
        assert names == ["不动产登记簿"]
    assert db.scalar(select(SearchDoc.resource_id).where(SearchDoc.resource_id == gone.id)) is None


def test_a_revision_is_searchable_only_once_published(db: Session, dept: int) -> None:
    entry = make_resource(db, provider_id=dept, name="婚姻登记信息")
    resource_revise(db, actor=CATALOG_SYSTEM, code=entry.code)
    working = resource_get(db, actor=CATALOG_SYSTEM, code=entry.code, working=True)
    resource_update(db, actor=CATALOG_SYSTEM, code=entry.code, data=update_data(working, name="收养登记信息"))
    assert _names(db, "收养") == []
    assert _names(db, "婚姻") == ["婚姻登记信息"]
    publish_revision(db, code=entry.code, name="收养登记信息二")
    assert _names(db, "收养") == ["收养登记信息二"]
    assert _names(db, "婚姻") == []
    hit = resource_search(db, actor=READER, q="收养").results[0]
    assert hit.version == 2


@pytest.mark.parametrize(
    "query",
    [
        '"户籍"',
        "户籍 AND 人口",
        "户籍 OR 人口",
        "NEAR(户籍 人口)",
        "户籍*",
        "*",
        "'; DROP TABLE catalog_search_docs; --",
        "户籍'人口",
        "a:* & !b | (c",
        "\\' \\\\ %_",
        "户籍\x00人口",
        "😀 emoji",
        "\u200b\u202e户籍",
        "-- /* */",
        "::",
        "__",
    ],
)
def test_special_characters_and_query_syntax_never_error(db: Session, dept: int, query: str) -> None:
    make_resource(db, provider_id=dept, name="户籍人口基本信息")
    result = resource_search(db, actor=READER, q=query)
    assert result.count >= 0
    if "户籍" in query and "户籍'" not in query:
        assert result.count == 1, query


def test_very_long_queries_and_bad_paging_are_refused_with_the_field(db: Session) -> None:
    with pytest.raises(ValidationError) as exc:
        resource_search(db, actor=READER, q="户籍" * 60)
    assert exc.value.field == "q"
    with pytest.raises(ValidationError) as exc:
        resource_search(db, actor=READER, q=" ".join(f"w{i}" for i in range(9)))
    assert exc.value.field == "q"
    with pytest.raises(ValidationError) as exc:
        resource_search(db, actor=READER, page_size=1000)
    assert exc.value.field == "page_size"
    with pytest.raises(ValidationError) as exc:
        resource_search(db, actor=READER, page=100_000)
    assert exc.value.field == "page"
    with pytest.raises(ValidationError) as exc:
        search_filters(share_type="sometimes")
    assert exc.value.field == "share_type"
    with pytest.raises(ValidationError):
        search_filters(classification="1-02'; --")


def test_anonymous_callers_cannot_search(db: Session) -> None:
    with pytest.raises(NotAuthenticated):
        resource_search(db, actor=Actor.anonymous(), q="户籍")


def test_names_are_escaped_in_highlights(db: Session, dept: int) -> None:
    make_resource(db, provider_id=dept, name="<script>alert(1)</script>户籍信息")
    hit = resource_search(db, actor=READER, q="户籍").results[0]
    assert hit.name_html == "&lt;script&gt;alert(1)&lt;/script&gt;<mark>户籍</mark>信息"


def test_paging_walks_through_every_hit_once(db: Session, dept: int) -> None:
    for i in range(7):
        make_resource(db, provider_id=dept, name=f"公积金缴存明细{i}", open_type=OpenType.CLOSED)
    seen: list[str] = []
    for page in (1, 2, 3):
        result = resource_search(db, actor=READER, q="公积金", page=page, page_size=3)
        assert result.count == 7 and result.pages == 3
        seen += [h.code for h in result.results]
    assert len(seen) == 7 and len(set(seen)) == 7


def test_rebuild_update_and_remove_keep_the_index_in_step(db: Session, dept: int) -> None:
    one = make_resource(db, provider_id=dept, name="出生医学证明信息")
    make_resource(db, provider_id=dept, name="死亡医学证明信息")
    make_resource(db, provider_id=dept, name="未发布的草稿", published=False)
    assert search_index_rebuild(db) == 2
    assert set(_names(db, "医学证明")) == {"出生医学证明信息", "死亡医学证明信息"}
    search_index_remove(db, resource_id=one.id)
    assert _names(db, "医学证明") == ["死亡医学证明信息"]
    search_index_update(db, resource_id=one.id)
    assert len(_names(db, "医学证明")) == 2
    assert resource_search(db, actor=READER, filters=SearchFilters()).count == 2
