"""The reuse showcase through its pages and use cases: submit, moderate, show on the dataset page."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from factories import PASSWORD, actor_of, csrf_of, login, make_user
from factories_opendata import make_dataset, make_publisher
from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import Actor
from zhengwu.errors import NotAuthenticated, NotFound, PermissionDenied, ValidationError
from zhengwu.opendata.showcase.services import (
    dataset_showcases,
    showcase_count,
    showcase_create,
    showcase_get,
    showcase_list,
    showcase_moderate,
)

ANON = Actor.anonymous()


def test_unmoderated_showcases_are_not_public(db: Session) -> None:
    pub = make_publisher(db)
    pkg = make_dataset(db, pub, name="bus-stops", title="公交站点")
    citizen = actor_of(db, make_user(db, roles=[Role.PUBLIC_USER]))
    other = actor_of(db, make_user(db, roles=[Role.PUBLIC_USER]))
    reviewer = actor_of(db, make_user(db, roles=[Role.REVIEWER]))
    made = showcase_create(
        db,
        actor=citizen,
        payload={"title": "公交到站提醒", "url": "https://apps.example.cn/bus", "datasets": ["bus-stops"]},
    )
    assert made["approval_status"] == "pending" and made["private"] is True
    assert made["author"] == citizen.display_name  # no author given: the submitter
    assert [d["name"] for d in made["datasets"]] == ["bus-stops"]
    for outsider in (ANON, other):
        with pytest.raises(NotFound):
            showcase_get(db, actor=outsider, ref=made["name"])
    assert showcase_get(db, actor=citizen, ref=made["id"])["title"] == "公交到站提醒"
    assert showcase_list(db, actor=ANON) == (0, [])
    assert dataset_showcases(db, actor=ANON, dataset=pkg["id"]) == []
    assert showcase_count(db) == 0
    with pytest.raises(PermissionDenied):
        showcase_list(db, actor=citizen, status="pending")
    with pytest.raises(PermissionDenied):
        showcase_moderate(db, actor=citizen, ref=made["name"], decision="approved")
    assert showcase_list(db, actor=reviewer, status="pending")[0] == 1

    with pytest.raises(ValidationError) as no_reason:
        showcase_moderate(db, actor=reviewer, ref=made["name"], decision="rejected")
    assert no_reason.value.field == "note"
    with pytest.raises(ValidationError) as bad_decision:
        showcase_moderate(db, actor=reviewer, ref=made["name"], decision="maybe")
    assert bad_decision.value.field == "decision"
    approved = showcase_moderate(db, actor=reviewer, ref=made["name"], decision="approved")
    assert approved["approval_status"] == "approved" and approved["private"] is False
    assert showcase_get(db, actor=ANON, ref=made["name"])["title"] == "公交到站提醒"
    assert [s["name"] for s in dataset_showcases(db, actor=ANON, dataset="bus-stops")] == [made["name"]]
    assert showcase_count(db) == 1
    showcase_moderate(db, actor=reviewer, ref=made["name"], decision="rejected", note="链接失效")
    assert showcase_list(db, actor=ANON) == (0, [])


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"title": "  "}, "title"),
        ({"notes": "没有标题"}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"title": "应用", "url": "javascript:alert(1)"}, "url"),
        ({"title": "应用", "image_url": "ftp://example.cn/a.png"}, "image_url"),
        ({"title": "应用", "name": "Bad Name!"}, "name"),
        ({"title": "应用", "datasets": 5}, "datasets"),
        ({"title": "应用", "datasets": [{"title": "no name"}]}, "datasets"),
    ],
)
def test_bad_submissions_name_the_field(db: Session, payload: dict[str, object], field: str) -> None:
    citizen = actor_of(db, make_user(db))
    with pytest.raises(ValidationError) as err:
        showcase_create(db, actor=citizen, payload=payload)
    assert err.value.field == field


def test_submission_needs_an_account_and_existing_datasets(db: Session) -> None:
    with pytest.raises(NotAuthenticated):
        showcase_create(db, actor=ANON, payload={"title": "匿名应用"})
    citizen = actor_of(db, make_user(db))
    with pytest.raises(NotFound):
        showcase_create(db, actor=citizen, payload={"title": "应用", "datasets": ["no-such-dataset"]})
    pub = make_publisher(db)
    make_dataset(db, pub, name="internal", private=True)
    with pytest.raises(NotFound):  # a private dataset does not exist for the public
        showcase_create(db, actor=citizen, payload={"title": "应用", "datasets": "internal"})


def test_submit_moderate_and_see_it_on_the_dataset_page(client: TestClient, db: Session) -> None:
    pub = make_publisher(db, name="省自然资源厅")
    make_dataset(db, pub, name="parks", title="城市公园名录")
    citizen = make_user(db, roles=[Role.PUBLIC_USER])
    reviewer = make_user(db, roles=[Role.REVIEWER])
    assert client.get("/opendata/showcases/new").status_code in (303, 401)  # sign in first
    login(client, citizen.username, PASSWORD)
    form = client.get("/opendata/showcases/new", params={"dataset": "parks"})
    assert form.status_code == 200 and 'value="parks"' in form.text
    empty = client.post(
        "/opendata/showcases", data={"title": " ", "datasets": "parks", "csrf_token": csrf_of(form.text)}
    )
    assert empty.status_code == 400 and "title 不能为空" in empty.text and 'aria-invalid="true"' in empty.text
    forged = client.post("/opendata/showcases", data={"title": "伪造"})
    assert forged.status_code == 403
    made = client.post(
        "/opendata/showcases",
        data={
            "title": "周末去哪儿<script>",
            "notes": "按距离推荐公园",
            "url": "https://parks.example.cn/",
            "author": "某科技有限公司",
            "datasets": "parks",
            "csrf_token": csrf_of(form.text),
        },
    )
    assert made.status_code == 303
    mine = client.get(made.headers["location"])
    assert mine.status_code == 200 and "待审核" in mine.text and "周末去哪儿&lt;script&gt;" in mine.text
    assert "通过审核</button>" not in mine.text  # no moderation form for the submitter
    assert "周末去哪儿" not in client.get("/opendata/datasets/parks").text
    client.post("/logout", data={"csrf_token": csrf_of(mine.text)})
    client.cookies.clear()
    assert client.get(made.headers["location"]).status_code == 404  # not public yet
    assert "周末去哪儿" not in client.get("/opendata/showcases").text
    assert client.get("/opendata/showcases/moderation").status_code in (303, 401)

    login(client, reviewer.username, PASSWORD)
    queue = client.get("/opendata/showcases/moderation")
    assert queue.status_code == 200 and "周末去哪儿" in queue.text
    page = client.get(made.headers["location"])
    rejected_blank = client.post(
        made.headers["location"] + "/moderate",
        data={"decision": "rejected", "note": "", "csrf_token": csrf_of(page.text)},
    )
    assert rejected_blank.status_code == 400 and "note 不能为空" in rejected_blank.text
    approved = client.post(
        made.headers["location"] + "/moderate",
        data={"decision": "approved", "csrf_token": csrf_of(page.text)},
    )
    assert approved.status_code == 303
    assert "周末去哪儿" not in client.get("/opendata/showcases/moderation").text
    client.post("/logout", data={"csrf_token": csrf_of(page.text)})
    client.cookies.clear()

    listing = client.get("/opendata/showcases")
    assert "周末去哪儿" in listing.text and "某科技有限公司" in listing.text
    dataset_page = client.get("/opendata/datasets/parks")
    assert "使用本数据集的应用" in dataset_page.text and made.headers["location"] in dataset_page.text
    public = client.get(made.headers["location"])
    assert public.status_code == 200 and "城市公园名录" in public.text and "待审核" not in public.text
    as_citizen = make_user(db)
    login(client, as_citizen.username, PASSWORD)
    assert client.get("/opendata/showcases/moderation").status_code == 403
