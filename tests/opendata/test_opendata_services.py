"""Use cases of open datasets: create, read, search, update, patch, delete, visibility and rights."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from factories import SYSTEM
from factories_opendata import make_dataset, make_publisher
from zhengwu.accounts.permissions import Actor
from zhengwu.errors import Conflict, NotAuthenticated, NotFound, PermissionDenied, ValidationError
from zhengwu.opendata import directory, services
from zhengwu.opendata.search import SearchQueryError

ANON = Actor.anonymous()


def test_create_show_and_ckan_shape(db: Session) -> None:
    pub = make_publisher(db, name="省交通运输厅")
    out = make_dataset(
        db, pub, name="bus-routes", title="公交线路站点", tags=[{"name": "交通"}, {"name": "公交"}]
    )
    shown = services.dataset_get(db, actor=ANON, ref="bus-routes")
    assert shown == services.dataset_get(db, actor=ANON, ref=out["id"])
    assert shown["organization"]["name"] == pub.org
    assert shown["organization"]["title"] == "省交通运输厅"
    assert [t["name"] for t in shown["tags"]] == ["交通", "公交"]
    assert shown["resources"][0]["format"] == "CSV"
    assert shown["resources"][0]["package_id"] == shown["id"]
    assert shown["num_resources"] == 1
    assert shown["state"] == "active"
    assert shown["type"] == "dataset"
    assert shown["license_id"] == "cn-gov-open"


def test_search_chinese_english_facets_and_paging(db: Session) -> None:
    pub = make_publisher(db)
    other = make_publisher(db)
    make_dataset(db, pub, name="bus-stops", title="公交站点位置", tags=[{"name": "交通"}])
    make_dataset(db, pub, name="school-list", title="中小学校名录", notes="全省学校 school directory")
    make_dataset(db, other, name="traffic-flow", title="道路交通流量", tags=[{"name": "交通"}])
    found = services.dataset_search(db, actor=ANON, q="公交", facet_fields=["tags", "organization"])
    assert [r["name"] for r in found["results"]] == ["bus-stops"]
    found = services.dataset_search(db, actor=ANON, q="交通", facet_fields=["organization"])
    assert {r["name"] for r in found["results"]} == {"traffic-flow", "bus-stops"}
    assert found["results"][0]["name"] == "traffic-flow"  # a title match ranks first
    found = services.dataset_search(db, actor=ANON, q="schoo")
    assert [r["name"] for r in found["results"]] == ["school-list"]
    found = services.dataset_search(db, actor=ANON, fq="tags:交通", facet_fields=["organization", "tags"])
    assert found["count"] == 2
    assert found["facets"]["organization"] == {pub.org: 1, other.org: 1}
    assert found["search_facets"]["tags"]["items"][0] == {"name": "交通", "display_name": "交通", "count": 2}
    page1 = services.dataset_search(db, actor=ANON, fq="tags:交通", rows=1, sort="name asc")
    page2 = services.dataset_search(db, actor=ANON, fq="tags:交通", rows=1, start=1, sort="name asc")
    assert [r["name"] for r in page1["results"] + page2["results"]] == ["bus-stops", "traffic-flow"]
    both = services.dataset_search(
        db, actor=ANON, fq=f"organization:{pub.org} OR organization:{other.org} -tags:交通"
    )
    assert [r["name"] for r in both["results"]] == ["school-list"]


def test_full_width_query_and_name(db: Session) -> None:
    pub = make_publisher(db)
    out = make_dataset(db, pub, name="ｒｏａｄ－２０２４", title="ROAD 2024 道路")
    assert out["name"] == "road-2024"
    found = services.dataset_search(db, actor=ANON, q="ＲＯＡＤ　２０２４")
    assert [r["name"] for r in found["results"]] == ["road-2024"]


@pytest.mark.parametrize(
    "q",
    [
        "'; DROP TABLE opendata_datasets; --",
        "公交' OR '1'='1",
        "%",
        "_",
        "\\",
        "\x00",
        "title:(a OR b)",
    ],
)
def test_injection_in_q_is_inert(db: Session, q: str) -> None:
    pub = make_publisher(db)
    make_dataset(db, pub, name="bus-a", title="公交")
    found = services.dataset_search(db, actor=ANON, q=q)
    assert all("公交" in r["title"] or q.strip("'") for r in found["results"])
    assert services.dataset_get(db, actor=ANON, ref="bus-a")["name"] == "bus-a"


@pytest.mark.parametrize(
    "fq",
    [
        "organization:x'; DROP TABLE opendata_datasets; --",
        'tags:"a\\" OR 1=1"',
        "tags:(a OR b) metadata_modified:[2020-01-01T00:00:00Z TO *]",
    ],
)
def test_injection_in_fq_is_refused_or_matches_nothing(db: Session, fq: str) -> None:
    pub = make_publisher(db)
    make_dataset(db, pub, name="bus-b", title="公交")
    try:
        count = services.dataset_search(db, actor=ANON, fq=fq)["count"]
    except SearchQueryError:
        count = 0
    assert count == 0
    assert services.dataset_search(db, actor=ANON, q="公交")["count"] == 1


@pytest.mark.parametrize("fq", ["secret:1", "metadata_modified:yesterday", "tags:", "((("])
def test_bad_fq_is_a_search_query_error(db: Session, fq: str) -> None:
    with pytest.raises(SearchQueryError):
        services.dataset_search(db, actor=ANON, fq=fq)


def test_bad_sort_and_facet_field(db: Session) -> None:
    with pytest.raises(SearchQueryError):
        services.dataset_search(db, actor=ANON, sort="password desc")
    with pytest.raises(ValidationError):
        services.dataset_search(db, actor=ANON, facet_fields=["maintainer_email"])


def test_private_datasets_are_seen_by_their_publisher_only(db: Session) -> None:
    pub = make_publisher(db)
    other = make_publisher(db)
    make_dataset(db, pub, name="hidden-one", title="内部草稿数据", private=True)
    with pytest.raises(NotFound):
        services.dataset_get(db, actor=ANON, ref="hidden-one")
    with pytest.raises(NotFound):
        services.dataset_get(db, actor=other.actor, ref="hidden-one")
    assert services.dataset_get(db, actor=pub.actor, ref="hidden-one")["private"] is True
    assert services.dataset_search(db, actor=ANON, q="内部草稿")["count"] == 0
    assert services.dataset_search(db, actor=other.actor, q="内部草稿", include_private=True)["count"] == 0
    assert services.dataset_search(db, actor=pub.actor, q="内部草稿", include_private=True)["count"] == 1
    assert services.dataset_search(db, actor=SYSTEM, q="内部草稿", include_private=True)["count"] == 1
    assert "hidden-one" not in services.dataset_list(db, actor=ANON)


def test_writes_need_the_publishers_admin(db: Session) -> None:
    pub = make_publisher(db)
    other = make_publisher(db)
    make_dataset(db, pub, name="mine")
    with pytest.raises(NotAuthenticated):
        services.dataset_create(db, actor=ANON, payload={"name": "x-1", "owner_org": pub.org})
    with pytest.raises(PermissionDenied):
        services.dataset_create(db, actor=other.actor, payload={"name": "x-2", "owner_org": pub.org})
    with pytest.raises(PermissionDenied):
        services.dataset_update(db, actor=other.actor, ref="mine", payload={"title": "改"}, patch=True)
    with pytest.raises(PermissionDenied):
        services.dataset_delete(db, actor=other.actor, ref="mine")


def test_update_patch_and_delete(db: Session) -> None:
    pub = make_publisher(db)
    made = make_dataset(db, pub, name="roads", title="道路", tags=[{"name": "交通"}])
    patched = services.dataset_update(
        db, actor=pub.actor, ref="roads", payload={"title": "公路里程"}, patch=True
    )
    assert patched["title"] == "公路里程"
    assert [t["name"] for t in patched["tags"]] == ["交通"]
    assert patched["resources"][0]["id"] == made["resources"][0]["id"]
    assert services.dataset_search(db, actor=ANON, q="公路")["count"] == 1
    updated = services.dataset_update(db, actor=pub.actor, ref="roads", payload={"title": "公路"})
    assert updated["tags"] == [] and updated["resources"] == []
    services.dataset_delete(db, actor=pub.actor, ref="roads")
    assert services.dataset_search(db, actor=ANON, q="公路")["count"] == 0
    with pytest.raises(NotFound):
        services.dataset_get(db, actor=ANON, ref="roads")
    assert services.dataset_get(db, actor=pub.actor, ref="roads")["state"] == "deleted"


def test_validation_errors_name_the_field(db: Session) -> None:
    pub = make_publisher(db)
    make_dataset(db, pub, name="taken")
    with pytest.raises(Conflict) as taken:
        make_dataset(db, pub, name="taken")
    assert taken.value.field == "name"
    for bad, field in [
        ({"name": "Has Spaces"}, "name"),
        ({"name": "ok-name", "license_id": "nope"}, "license_id"),
        ({"name": "ok-name", "resources": [{"url": "javascript:alert(1)"}]}, "resources.0.url"),
        ({"name": "ok-name", "spatial": "北京"}, "spatial"),
        ({"name": "ok-name", "tags": [{"name": "a,b"}]}, "tags.0.name"),
        ({"name": "ok-name", "groups": [{"name": "no-such-group"}]}, "groups"),
    ]:
        with pytest.raises(ValidationError) as err:
            make_dataset(db, pub, **bad)
        assert err.value.field == field, bad


def test_resources_create_update_delete(db: Session) -> None:
    pub = make_publisher(db)
    made = make_dataset(db, pub, name="with-files")
    new = services.distribution_create(
        db,
        actor=pub.actor,
        payload={"package_id": "with-files", "name": "接口", "url": "https://x.org/api", "format": "json"},
    )
    assert new["position"] == 1 and new["format"] == "JSON"
    assert services.distribution_get(db, actor=ANON, ref=new["id"])["url"] == "https://x.org/api"
    services.distribution_update(db, actor=pub.actor, ref=new["id"], payload={"name": "新接口"}, patch=True)
    assert services.distribution_get(db, actor=ANON, ref=new["id"])["name"] == "新接口"
    services.distribution_delete(db, actor=pub.actor, ref=made["resources"][0]["id"])
    shown = services.dataset_get(db, actor=ANON, ref="with-files")
    assert [r["id"] for r in shown["resources"]] == [new["id"]] and shown["resources"][0]["position"] == 0
    found = services.dataset_search(db, actor=ANON, fq="res_format:JSON")
    assert [r["name"] for r in found["results"]] == ["with-files"]


def test_directory_lists(db: Session) -> None:
    pub = make_publisher(db, name="省统计局")
    group = directory.group_create(db, actor=SYSTEM, name="economy", title="经济建设")
    make_dataset(
        db, pub, name="gdp", title="地区生产总值", tags=[{"name": "经济"}], groups=[{"name": "economy"}]
    )
    assert pub.org in directory.organization_list(db, actor=ANON)
    org = directory.organization_get(db, actor=ANON, ref=pub.org)
    assert org["package_count"] == 1 and org["title"] == "省统计局"
    assert directory.group_get(db, actor=ANON, ref=group["id"])["package_count"] == 1
    assert "economy" in directory.group_list(db, actor=ANON)
    assert "经济" in directory.tag_list(db, actor=ANON, query="经")
    assert directory.tag_list(db, actor=ANON, query="%") == []
    assert any(lic["id"] == "cc-by-4.0" for lic in directory.license_list(actor=ANON))
    found = services.dataset_search(
        db, actor=ANON, fq="groups:economy", facet_fields=["groups", "license_id"]
    )
    assert found["search_facets"]["groups"]["items"][0]["display_name"] == "经济建设"
