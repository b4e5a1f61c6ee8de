"""Data requests (数据需求): who may ask and answer, validation, masking, the published answer."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from factories import actor_of, make_user
from factories_opendata import make_dataset, make_publisher
from zhengwu.accounts.permissions import Actor
from zhengwu.errors import NotAuthenticated, NotFound, PermissionDenied, ValidationError
from zhengwu.opendata.requests.services import (
    data_request_answer,
    data_request_answerer,
    data_request_create,
    data_request_get,
    data_request_list,
)


def test_ask_and_answer(db: Session) -> None:
    pub = make_publisher(db, name="省交通运输厅")
    other = make_publisher(db, name="省教育厅")
    citizen = actor_of(db, make_user(db))
    asked = data_request_create(
        db,
        actor=citizen,
        title="  公交实时到站数据  ",
        description="各线路车辆位置",
        purpose="开发出行小程序",
        organization=pub.org,
    )
    assert (
        asked.title == "公交实时到站数据" and asked.status == "open" and asked.organization == "省交通运输厅"
    )
    assert asked.requester != citizen.display_name and asked.requester.startswith(citizen.display_name[0])
    with pytest.raises(PermissionDenied):
        data_request_answer(db, actor=other.actor, request_id=asked.id, status="planned", answer="好")
    with pytest.raises(PermissionDenied):
        data_request_answer(db, actor=citizen, request_id=asked.id, status="planned", answer="好")
    assert data_request_answerer(db, actor=pub.actor, request_id=asked.id)
    assert not data_request_answerer(db, actor=citizen, request_id=asked.id)
    with pytest.raises(ValidationError) as err:
        data_request_answer(db, actor=pub.actor, request_id=asked.id, status="published", answer="已开放")
    assert err.value.field == "dataset"
    with pytest.raises(NotFound):
        data_request_answer(
            db, actor=pub.actor, request_id=asked.id, status="published", answer="已开放", dataset="nope"
        )
    dataset = make_dataset(db, pub, name="bus-realtime")
    done = data_request_answer(
        db, actor=pub.actor, request_id=asked.id, status="published", answer="已开放", dataset=dataset["id"]
    )
    assert done.status_label == "已开放" and done.dataset_name == "bus-realtime" and done.answered_at
    assert data_request_get(db, actor=Actor.anonymous(), request_id=asked.id).answer == "已开放"
    total, items = data_request_list(db, actor=Actor.anonymous(), status="published")
    assert total == 1 and items[0].id == asked.id
    assert data_request_list(db, actor=Actor.anonymous(), status="open")[0] == 0


def test_bad_input(db: Session) -> None:
    citizen = actor_of(db, make_user(db))
    with pytest.raises(NotAuthenticated):
        data_request_create(db, actor=Actor.anonymous(), title="x")
    for title in ("", "   ", "长" * 201):
        with pytest.raises(ValidationError):
            data_request_create(db, actor=citizen, title=title)
    with pytest.raises(NotFound):
        data_request_create(db, actor=citizen, title="数据", organization="no-such-org")
    unaddressed = data_request_create(db, actor=citizen, title="'; DROP TABLE users; --")
    pub = make_publisher(db)
    with pytest.raises(PermissionDenied):  # addressed to nobody: platform administrators answer
        data_request_answer(db, actor=pub.actor, request_id=unaddressed.id, status="refused", answer="否")
    with pytest.raises(ValidationError):
        data_request_answer(
            db, actor=Actor.system("t"), request_id=unaddressed.id, status="open", answer="否"
        )
    refused = data_request_answer(
        db, actor=Actor.system("t"), request_id=unaddressed.id, status="refused", answer="涉及个人信息"
    )
    assert refused.status == "refused"
    with pytest.raises(ValidationError):
        data_request_list(db, actor=Actor.anonymous(), status="bogus")
    with pytest.raises(NotFound):
        data_request_get(db, actor=Actor.anonymous(), request_id=999_999)
