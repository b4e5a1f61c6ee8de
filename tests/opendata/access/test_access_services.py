"""Conditional opening through its use cases: sign-up, apply, decide, keys, the key check, usage."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from factories import actor_of, make_user
from factories_opendata import Publisher, make_dataset, make_publisher
from opendata.access.access_helpers import (
    Conditional,
    application_data,
    approved,
    make_applicant,
    make_conditional,
    resident_id,
)
from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.services import token_authenticate
from zhengwu.audit.models import AuditEvent
from zhengwu.errors import (
    Conflict,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    RateLimited,
    ValidationError,
)
from zhengwu.opendata.access.models import Application, KeyUsage
from zhengwu.opendata.access.services import (
    DECISION_WORKING_DAYS,
    applicant_demo_profiles,
    applicant_register,
    application_approve,
    application_create,
    application_get,
    application_inbox,
    application_list_mine,
    application_refuse,
    key_issue,
    key_revoke,
)
from zhengwu.opendata.access.usage import data_access_check, usage_by_day, usage_keep_refused, usage_record
from zhengwu.opendata.seed import DEMO_APPLICANTS
from zhengwu.opendata.services import dataset_by_ref
from zhengwu.sharing.calendar import add_working_days, beijing_today


@pytest.fixture
def pub(db: Session) -> Publisher:
    return make_publisher(db, name="省市场监督管理局")


@pytest.fixture
def cond(db: Session, pub: Publisher, tmp_path: Path) -> Conditional:
    return make_conditional(db, pub, tmp_path, title="企业登记信息")


def _signup(db: Session, **fields: str) -> None:
    data = {
        "kind": "person",
        "username": "zhangsan",
        "password": "Applicant@2026",
        "name": "张三",
        "identifier": resident_id(7),
        "phone": "13800000000",
    }
    data.update(fields)
    applicant_register(db, actor=Actor.anonymous(), data=data)


def test_sign_up_checks_the_identifier_and_keeps_it_masked(db: Session) -> None:
    person = make_applicant(db)
    mine = application_list_mine(db, actor=person)
    assert mine == []
    with pytest.raises(ValidationError) as bad_id:
        _signup(db, identifier="330106199001011230")  # wrong check digit
    assert bad_id.value.field == "identifier"
    with pytest.raises(ValidationError) as bad_uscc:
        _signup(db, kind="company", username="acme", identifier="91330100MA27XXXX0X")
    assert bad_uscc.value.field == "identifier"
    with pytest.raises(ValidationError) as weak:
        _signup(db, password="short")
    assert weak.value.field == "password"
    with pytest.raises(ValidationError) as kind:
        _signup(db, kind="robot")
    assert kind.value.field == "kind"
    _signup(db, username="lisi")
    with pytest.raises(Conflict):
        _signup(db, username="lisi")
    company = make_applicant(db, company=True)
    assert company.roles == frozenset({Role.PUBLIC_USER})


def test_whole_flow_apply_approve_key_use_and_usage(db: Session, pub: Publisher, cond: Conditional) -> None:
    person = make_applicant(db)
    made = application_create(db, actor=person, data=application_data(cond.name))
    assert made.status == "pending" and made.status_label == "待审核"
    assert made.due_date == add_working_days(beijing_today(), DECISION_WORKING_DAYS)
    assert made.working_days_left == DECISION_WORKING_DAYS
    assert made.applicant.identifier_masked.startswith("330106") and "*" in made.applicant.identifier_masked
    inbox = application_inbox(db, actor=pub.actor, status="pending")
    assert [a.id for a in inbox] == [made.id]
    ok = application_approve(
        db,
        actor=pub.actor,
        application_id=made.id,
        data={
            "conditions": "仅限统计分析",
            "valid_until": (dt.date.today() + dt.timedelta(days=30)).isoformat(),
        },
    )
    assert ok.status == "approved" and ok.usable and ok.rate_per_minute == 60
    issued = key_issue(db, actor=person, application_id=made.id)
    assert issued.key.startswith(f"zwk_{issued.prefix}_")
    assert issued.expires_at == ok.valid_until
    key_actor = token_authenticate(db, raw=issued.key)
    assert not key_actor.is_authenticated and key_actor.roles == frozenset()
    dataset_id = dataset_by_ref(db, cond.name).id
    use = data_access_check(db, actor=key_actor, dataset_id=dataset_id, action="datastore_search")
    assert use is not None
    usage_record(db, use, rows=5)
    days = usage_by_day(db, actor=person, application_id=made.id)
    assert [(d.calls, d.rows, d.refused) for d in days] == [(1, 5, 0)]
    assert usage_by_day(db, actor=pub.actor, application_id=made.id) == days
    # The application as seen later lists the key by its prefix only.
    again = application_get(db, actor=person, application_id=made.id)
    assert [k.prefix for k in again.keys] == [issued.prefix]
    assert "key" not in again.keys[0].model_dump()
    actions = set(db.scalars(select(AuditEvent.action).where(AuditEvent.action.like("opendata.access.%"))))
    assert {"opendata.access.register", "opendata.access.apply", "opendata.access.approve"} <= actions
    assert "opendata.access.key_issue" in actions


def test_apply_refuses_bad_input(db: Session, pub: Publisher, cond: Conditional) -> None:
    person = make_applicant(db)
    with pytest.raises(ValidationError) as short:
        application_create(db, actor=person, data=application_data(cond.name, purpose="研究"))
    assert short.value.field == "purpose"
    with pytest.raises(ValidationError) as period:
        application_create(
            db, actor=person, data=application_data(cond.name, use_end="2020-01-01", use_start="2021-01-01")
        )
    assert period.value.field == "__all__" and "结束日期" in period.value.message
    with pytest.raises(ValidationError) as unknown:
        application_create(db, actor=person, data={**application_data(cond.name), "salary": 1})
    assert unknown.value.field == "salary"
    open_one = make_dataset(db, pub)
    with pytest.raises(ValidationError) as not_cond:
        application_create(db, actor=person, data=application_data(str(open_one["name"])))
    assert not_cond.value.field == "dataset"
    with pytest.raises(NotFound):
        application_create(db, actor=person, data=application_data("no-such-dataset"))
    application_create(db, actor=person, data=application_data(cond.name))
    with pytest.raises(Conflict):
        application_create(db, actor=person, data=application_data(cond.name))
    # Staff and public users without a real-name profile may not apply.
    with pytest.raises(PermissionDenied):
        application_create(db, actor=pub.actor, data=application_data(cond.name))
    plain = actor_of(db, make_user(db, roles=[Role.PUBLIC_USER]))
    with pytest.raises(PermissionDenied) as no_profile:
        application_create(db, actor=plain, data=application_data(cond.name))
    assert "实名注册" in no_profile.value.message
    with pytest.raises(NotAuthenticated):
        application_create(db, actor=Actor.anonymous(), data=application_data(cond.name))


def test_only_the_provider_decides_and_a_refusal_needs_a_reason(
    db: Session, pub: Publisher, cond: Conditional
) -> None:
    person = make_applicant(db)
    made = application_create(db, actor=person, data=application_data(cond.name))
    other = make_publisher(db, name="省公安厅")
    until = {"valid_until": (dt.date.today() + dt.timedelta(days=30)).isoformat()}
    for actor in (other.actor, person):
        with pytest.raises(PermissionDenied):
            application_approve(db, actor=actor, application_id=made.id, data=until)
        with pytest.raises(PermissionDenied):
            application_refuse(db, actor=actor, application_id=made.id, reason="不符合条件")
    assert application_inbox(db, actor=other.actor) == []
    with pytest.raises(PermissionDenied):
        application_inbox(db, actor=person)
    with pytest.raises(NotFound):
        application_get(db, actor=other.actor, application_id=made.id)
    with pytest.raises(ValidationError) as no_reason:
        application_refuse(db, actor=pub.actor, application_id=made.id, reason="   ")
    assert no_reason.value.field == "reason"
    with pytest.raises(ValidationError) as past:
        application_approve(db, actor=pub.actor, application_id=made.id, data={"valid_until": "2020-01-01"})
    assert past.value.field == "valid_until"
    with pytest.raises(ValidationError) as rate:
        application_approve(db, actor=pub.actor, application_id=made.id, data={**until, "rate_per_minute": 0})
    assert rate.value.field == "rate_per_minute"
    refused = application_refuse(db, actor=pub.actor, application_id=made.id, reason="用途与数据内容不符")
    assert refused.status == "refused" and refused.reason == "用途与数据内容不符"
    with pytest.raises(Conflict):
        application_approve(db, actor=pub.actor, application_id=made.id, data=until)
    with pytest.raises(Conflict):
        key_issue(db, actor=person, application_id=made.id)
    audit = db.scalar(select(AuditEvent).where(AuditEvent.action == "opendata.access.refuse"))
    assert audit is not None and audit.target_id == str(made.id)
    # A new application after a refusal is allowed.
    assert application_create(db, actor=person, data=application_data(cond.name)).status == "pending"


def test_keys_wrong_expired_revoked_and_of_another_dataset(
    db: Session, pub: Publisher, cond: Conditional, tmp_path: Path
) -> None:
    person = make_applicant(db)
    dataset_id = dataset_by_ref(db, cond.name).id
    with pytest.raises(PermissionDenied) as anonymous:
        data_access_check(db, actor=Actor.anonymous(), dataset_id=dataset_id, action="datastore_search")
    assert cond.name in anonymous.value.message_en and cond.title in anonymous.value.message
    assert data_access_check(db, actor=pub.actor, dataset_id=dataset_id, action="datastore_search") is None
    with pytest.raises(PermissionDenied):  # signed in is not enough: the data needs the key
        data_access_check(db, actor=person, dataset_id=dataset_id, action="datastore_search")

    app = approved(db, pub, person, cond.name)
    with pytest.raises(PermissionDenied):
        key_issue(db, actor=pub.actor, application_id=app.id)
    first = key_issue(db, actor=person, application_id=app.id)
    second = key_issue(db, actor=person, application_id=app.id)  # re-issuing revokes the first
    with pytest.raises(PermissionDenied) as revoked:
        data_access_check(
            db, actor=token_authenticate(db, raw=first.key), dataset_id=dataset_id, action="datastore_search"
        )
    assert revoked.value.code == "opendata.access.key_revoked"
    with pytest.raises(NotAuthenticated) as wrong:
        token_authenticate(db, raw=second.key[:-3] + "xyz")
    assert wrong.value.code == "opendata.access.key_invalid"
    with pytest.raises(NotAuthenticated):
        token_authenticate(db, raw="zwk_nonsense")

    other = make_conditional(db, pub, tmp_path, title="个体工商户登记信息")
    with pytest.raises(PermissionDenied) as elsewhere:
        data_access_check(
            db,
            actor=token_authenticate(db, raw=second.key),
            dataset_id=dataset_by_ref(db, other.name).id,
            action="datastore_search",
        )
    assert elsewhere.value.code == "opendata.access.key_other_dataset"
    assert other.name in elsewhere.value.message_en

    row = db.get(Application, app.id)
    assert row is not None
    row.valid_until = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    db.flush()
    with pytest.raises(PermissionDenied) as expired:
        data_access_check(
            db, actor=token_authenticate(db, raw=second.key), dataset_id=dataset_id, action="datastore_search"
        )
    assert expired.value.code == "opendata.access.key_expired"
    with pytest.raises(Conflict):
        key_issue(db, actor=person, application_id=app.id)
    # Refused uses of a key are kept aside and written once the failed call is over.
    usage_keep_refused(db)
    statuses = sorted(db.scalars(select(KeyUsage.status).where(KeyUsage.application_id == app.id)))
    assert statuses == [403, 403, 403]


def test_revocation_by_applicant_or_provider_only(db: Session, pub: Publisher, cond: Conditional) -> None:
    person = make_applicant(db)
    app = approved(db, pub, person, cond.name)
    issued = key_issue(db, actor=person, application_id=app.id)
    stranger = make_applicant(db)
    with pytest.raises(PermissionDenied):
        key_revoke(db, actor=stranger, key_id=issued.id)
    with pytest.raises(PermissionDenied):
        key_revoke(db, actor=make_publisher(db).actor, key_id=issued.id)
    out = key_revoke(db, actor=pub.actor, key_id=issued.id)
    assert not out.active and out.revoked_at is not None
    again = key_issue(db, actor=person, application_id=app.id)
    assert key_revoke(db, actor=person, key_id=again.id).active is False
    audit = list(
        db.scalars(select(AuditEvent.details).where(AuditEvent.action == "opendata.access.key_revoke"))
    )
    assert [d["reason"] for d in audit] == ["provider", "applicant"]


def test_rate_limit_and_daily_quota(db: Session, pub: Publisher, cond: Conditional) -> None:
    dataset_id = dataset_by_ref(db, cond.name).id
    fast = make_applicant(db)
    app = approved(db, pub, fast, cond.name, rate=2, quota=1000)
    key = token_authenticate(db, raw=key_issue(db, actor=fast, application_id=app.id).key)
    for _ in range(2):
        usage_record(db, data_access_check(db, actor=key, dataset_id=dataset_id, action="datastore_search"))
    with pytest.raises(RateLimited) as rate:
        data_access_check(db, actor=key, dataset_id=dataset_id, action="datastore_search")
    assert 1 <= rate.value.details["retry_after"] <= 30  # 2 per minute: one back within 30 s

    frugal = make_applicant(db)
    app2 = approved(db, pub, frugal, cond.name, rate=100, quota=2)
    key2 = token_authenticate(db, raw=key_issue(db, actor=frugal, application_id=app2.id).key)
    for _ in range(2):
        usage_record(db, data_access_check(db, actor=key2, dataset_id=dataset_id, action="datastore_search"))
    with pytest.raises(RateLimited) as quota:
        data_access_check(db, actor=key2, dataset_id=dataset_id, action="datastore_search")
    assert quota.value.code == "opendata.access.quota"
    assert 1 <= quota.value.details["retry_after"] <= 86_400
    usage_keep_refused(db)
    days = usage_by_day(db, actor=frugal, application_id=app2.id)
    assert (days[0].calls, days[0].refused) == (2, 1)


def test_demo_profiles_let_the_demo_public_users_apply(
    db: Session, pub: Publisher, cond: Conditional
) -> None:
    citizen = make_user(db, roles=[Role.PUBLIC_USER], username="citizen")
    assert applicant_demo_profiles(db, profiles=DEMO_APPLICANTS) == 1  # "company" does not exist here
    assert applicant_demo_profiles(db, profiles=DEMO_APPLICANTS) == 0  # idempotent
    made = application_create(db, actor=actor_of(db, citizen), data=application_data(cond.name))
    assert made.applicant.name == "张三" and made.applicant.identifier_masked == "330106********1236"
