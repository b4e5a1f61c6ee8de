"""Catalog entries: lifecycle, permissions, validation, optimistic locking, codes, versions and diffs."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from factories import SYSTEM, actor_of, make_department, make_user
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
from zhengwu.audit.models import AuditEvent
from zhengwu.catalog import services as catalog_services
from zhengwu.catalog.codes import current_sequence, next_sequence
from zhengwu.catalog.entries import check_complete
from zhengwu.catalog.models import (
    DataElement,
    ElementType,
    OpenType,
    Resource,
    ResourceSequence,
    ResourceStatus,
    ResourceVersion,
    Secrecy,
    Sensitivity,
    ShareType,
)
from zhengwu.catalog.schemas import ElementIn, TopicIn, label_zh
from zhengwu.catalog.seed import catalog_demo_seed
from zhengwu.catalog.services import (
    resource_allowed,
    resource_approve,
    resource_create,
    resource_delete_draft,
    resource_diff,
    resource_discard_revision,
    resource_get,
    resource_list_manage,
    resource_pending_diff,
    resource_reject,
    resource_revise,
    resource_submit,
    resource_update,
    resource_version,
    resource_versions,
    resource_withdraw,
    review_queue,
    topic_create,
    topic_list,
)
from zhengwu.db import Database
from zhengwu.demo.services import demo_organisation_seed
from zhengwu.errors import Conflict, NotAuthenticated, NotFound, PermissionDenied, ValidationError

CODE_RE = re.compile(r"^3-01-001-001-T\d{4}-\d{5}$")


@pytest.fixture
def org(db: Session) -> dict[str, Any]:
    """Two departments, a data admin in each, a reviewer, a developer and a public user."""
    a = make_department(db, name="甲部门")
    b = make_department(db, name="乙部门")
    admin_a = make_user(db, roles=[Role.DATA_ADMIN], department_id=a.id)
    admin_a2 = make_user(db, roles=[Role.DATA_ADMIN], department_id=a.id)
    admin_b = make_user(db, roles=[Role.DATA_ADMIN], department_id=b.id)
    reviewer = make_user(db, roles=[Role.REVIEWER], department_id=b.id)
    developer = make_user(db, roles=[Role.DEVELOPER], department_id=a.id)
    public = make_user(db, roles=[Role.PUBLIC_USER])
    return {
        "a": a,
        "b": b,
        "admin_a": actor_of(db, admin_a),
        "admin_a2": actor_of(db, admin_a2),
        "admin_b": actor_of(db, admin_b),
        "reviewer": actor_of(db, reviewer),
        "developer": actor_of(db, developer),
        "public": actor_of(db, public),
    }


def _audit_actions(db: Session, code: str) -> list[str]:
    return list(
        db.scalars(select(AuditEvent.action).where(AuditEvent.target_id == code).order_by(AuditEvent.id))
    )


# --- Creating and codes ----------------------------------------------------------------------------


def test_create_makes_a_draft_of_the_callers_department_with_a_permanent_code(
    db: Session, org: dict[str, Any]
) -> None:
    out = resource_create(db, actor=org["admin_a"], data=resource_data(elements=2))
    assert CODE_RE.match(out.code), out.code
    assert out.code.startswith(f"3-01-001-001-{org['a'].code}-")
    assert out.provider_id == org["a"].id and out.provider_name == "甲部门"
    assert out.status == ResourceStatus.DRAFT and out.view == "working"
    assert out.published_version == 0 and out.has_draft_changes
    assert [e.name_en for e in out.elements] == ["uscc", "org_name"]
    assert _audit_actions(db, out.code) == ["catalog.resource.create"]


def test_codes_are_unique_sequential_and_never_reused(db: Session, org: dict[str, Any]) -> None:
    codes = [resource_create(db, actor=org["admin_a"], data=resource_data()).code for _ in range(25)]
    assert len(set(codes)) == 25
    assert [int(c.rsplit("-", 1)[1]) for c in codes] == list(range(1, 26))
    resource_delete_draft(db, actor=org["admin_a"], code=codes[-1])
    again = resource_create(db, actor=org["admin_a"], data=resource_data()).code
    assert again.endswith("-00026"), "a deleted draft's number must not be handed out again"
    other = resource_create(db, actor=org["admin_b"], data=resource_data()).code
    assert other.endswith(f"{org['b'].code}-00001")


def test_code_stays_when_the_entry_is_reclassified(db: Session, org: dict[str, Any]) -> None:
    out = resource_create(db, actor=org["admin_a"], data=resource_data())
    changed = resource_update(
        db, actor=org["admin_a"], code=out.code, data=update_data(out, classification="3-09-009-009")
    )
    assert changed.code == out.code and changed.classification == "3-09-009-009"


@pytest.mark.parametrize("workers", [4])
def test_sequences_are_safe_under_concurrent_transactions(database: Database, workers: int) -> None:
    """Separate connections advance one counter at once: every number is handed out exactly once."""
    prefix = f"9-99-999-{database.backend}-CONC"
    got: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            for _ in range(10):
                with database.session() as session:
                    value = next_sequence(session, prefix)
                    session.commit()
                with lock:
                    got.append(value)
        except BaseException as exc:  # reported below; a thread must not swallow it
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert sorted(got) == list(range(1, workers * 10 + 1))
    finally:
        with database.session() as session:
            session.execute(delete(ResourceSequence).where(ResourceSequence.prefix == prefix))
            session.commit()


def test_next_sequence_in_bulk(db: Session) -> None:
    assert next_sequence(db, "9-00-000-BULK") == 1
    assert next_sequence(db, "9-00-000-BULK", count=10) == 11
    assert current_sequence(db, "9-00-000-BULK") == 11
    with pytest.raises(ValueError):
        next_sequence(db, "9-00-000-BULK", count=0)


def test_platform_admin_files_for_any_department_data_admin_only_for_their_own(
    db: Session, org: dict[str, Any]
) -> None:
    admin = actor_of(db, make_user(db, roles=[Role.PLATFORM_ADMIN], department_id=org["b"].id))
    out = resource_create(db, actor=admin, data=resource_data(provider_id=org["a"].id))
    assert out.provider_id == org["a"].id
    with pytest.raises(PermissionDenied):
        resource_create(db, actor=org["admin_b"], data=resource_data(provider_id=org["a"].id))
    with pytest.raises(ValidationError) as err:
        resource_create(db, actor=SYSTEM, data=resource_data())
    assert err.value.field == "provider_id"


@pytest.mark.parametrize("who", ["developer", "public", "reviewer"])
def test_roles_without_editing_rights_cannot_create(db: Session, org: dict[str, Any], who: str) -> None:
    with pytest.raises(PermissionDenied):
        resource_create(db, actor=org[who], data=resource_data())


def test_anonymous_callers_are_refused(db: Session, org: dict[str, Any]) -> None:
    published = make_resource(db, provider_id=org["a"].id)
    anon = Actor.anonymous()
    with pytest.raises(NotAuthenticated):
        resource_get(db, actor=anon, code=published.code)
    with pytest.raises(NotAuthenticated):
        resource_create(db, actor=anon, data=resource_data())


# --- Validation --------------------------------------------------------------------------------------


def test_classification_must_match_the_category(db: Session, org: dict[str, Any]) -> None:
    data = resource_data(classification="1-01-001-001", category="departmental")
    with pytest.raises(ValidationError) as err:
        resource_create(db, actor=org["admin_a"], data=data)
    assert err.value.field == "classification"
    assert "类" in err.value.message


def test_duplicate_element_names_are_refused_naming_the_rows(db: Session, org: dict[str, Any]) -> None:
    elements = [
        ElementIn(name="姓名", name_en="person_name", data_type=ElementType.STRING),
        ElementIn(name="证件号", name_en="resident_id", data_type=ElementType.STRING),
        ElementIn(name="姓名", name_en="person_name", data_type=ElementType.STRING),
    ]
    before = db.scalar(select(func.count()).select_from(Resource))
    with pytest.raises(ValidationError) as err:
        resource_create(db, actor=org["admin_a"], data=resource_data(elements=elements))
    fields = [e["field"] for e in err.value.details["errors"]]
    assert fields == ["elements.2.name_en", "elements.2.name"]
    assert "第 3 个信息项" in err.value.message and "与第 1 个重复" in err.value.message
    assert db.scalar(select(func.count()).select_from(Resource)) == before


def test_unknown_topic_is_refused_and_known_topic_is_kept(db: Session, org: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as err:
        resource_create(db, actor=org["admin_a"], data=resource_data(topic_code="77"))
    assert err.value.field == "topic_code"
    make_topic(db, code="77", name="社会保障")
    make_topic(db, code="7701", name="养老保险")
    out = resource_create(db, actor=org["admin_a"], data=resource_data(topic_code="7701"))
    assert (out.topic_code, out.topic_name) == ("7701", "养老保险")


def test_a_none_share_type_needs_its_basis_before_submission(db: Session, org: dict[str, Any]) -> None:
    out = resource_create(
        db, actor=org["admin_a"], data=resource_data(share_type=ShareType.NONE, share_basis="")
    )
    with pytest.raises(ValidationError) as err:
        resource_submit(db, actor=org["admin_a"], code=out.code)
    assert err.value.field == "share_basis" and "依据" in err.value.message
    assert resource_get(db, actor=org["admin_a"], code=out.code).status == ResourceStatus.DRAFT
    fixed = resource_update(
        db, actor=org["admin_a"], code=out.code, data=update_data(out, share_basis="《某某法》第十条")
    )
    assert resource_submit(db, actor=org["admin_a"], code=fixed.code).status == ResourceStatus.SUBMITTED


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"share_type": ShareType.CONDITIONAL, "share_conditions": ""}, "share_conditions"),
        ({"elements": []}, "elements"),
        ({"summary": ""}, "summary"),
        ({"open_type": OpenType.CONDITIONAL, "open_conditions": ""}, "open_conditions"),
        ({"share_type": ShareType.NONE, "open_type": OpenType.OPEN}, "open_type"),
        ({"related_codes": ["3-01-001-001-NOPE-00001"]}, "related_codes"),
    ],
)
def test_whole_entry_rules_at_submission(
    db: Session, org: dict[str, Any], overrides: dict[str, Any], field: str
) -> None:
    out = resource_create(db, actor=org["admin_a"], data=resource_data(**overrides))
    with pytest.raises(ValidationError) as err:
        resource_submit(db, actor=org["admin_a"], code=out.code)
    assert field in [e["field"] for e in err.value.details["errors"]]


def test_person_identifying_elements_cannot_be_public(db: Session, org: dict[str, Any]) -> None:
    elements = [
        ElementIn(
            name="姓名",
            name_en="person_name",
            data_type=ElementType.STRING,
            identifies_person=True,
            sensitivity=Sensitivity.PUBLIC,
        )
    ]
    out = resource_create(db, actor=org["admin_a"], data=resource_data(elements=elements))
    with pytest.raises(ValidationError) as err:
        resource_submit(db, actor=org["admin_a"], code=out.code)
    assert err.value.field == "elements.0.sensitivity"


def test_classified_entries_are_refused_on_an_extranet_node(db: Session, org: dict[str, Any]) -> None:
    with pytest.raises(ValidationError) as err:
        resource_create(
            db, actor=org["admin_a"], data=resource_data(secrecy=Secrecy.CLASSIFIED), zone="extranet"
        )
    assert err.value.field == "secrecy"
    out = resource_create(
        db, actor=org["admin_a"], data=resource_data(secrecy=Secrecy.CLASSIFIED), zone="intranet"
    )
    with pytest.raises(ValidationError):
        resource_submit(db, actor=org["admin_a"], code=out.code, zone="extranet")
    assert resource_submit(db, actor=org["admin_a"], code=out.code, zone="intranet").under_review


def test_hostile_text_is_stored_verbatim(db: Session, org: dict[str, Any]) -> None:
    name = "户籍'; DROP TABLE catalog_resources; -- <script>alert(1)</script>"
    out = make_resource(db, provider_id=org["a"].id, name=name)
    assert resource_get(db, actor=org["admin_b"], code=out.code).name == name
    assert db.scalar(select(func.count()).select_from(Resource)) >= 1


# --- Lifecycle ---------------------------------------------------------------------------------------


def test_full_lifecycle_with_versions_diff_and_search_hooks(
    db: Session, org: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, int]] = []
    monkeypatch.setattr(
        catalog_services.search_services,
        "search_index_update",
        lambda db, *, resource_id: calls.append(("update", resource_id)),
    )
    monkeypatch.setattr(
        catalog_services.search_services,
        "search_index_remove",
        lambda db, *, resource_id: calls.append(("remove", resource_id)),
    )
    admin, reviewer = org["admin_a"], org["reviewer"]
    draft = resource_create(db, actor=admin, data=resource_data(name="企业登记信息", elements=3))
    submitted = resource_submit(db, actor=admin, code=draft.code)
    assert submitted.status == ResourceStatus.SUBMITTED and submitted.under_review
    assert [s.code for s in review_queue(db, actor=reviewer)] == [draft.code]
    v1 = resource_approve(db, actor=reviewer, code=draft.code, comment="同意")
    assert (v1.status, v1.published_version, v1.has_draft_changes) == (ResourceStatus.PUBLISHED, 1, False)
    assert v1.published_at is not None and v1.first_published_at == v1.published_at
    assert calls == [("update", v1.id)]
    assert review_queue(db, actor=reviewer) == []

    resource_revise(db, actor=admin, code=draft.code)
    working = resource_get(db, actor=admin, code=draft.code, working=True)
    elements = [e.model_dump(include=set(ElementIn.model_fields)) for e in working.elements]
    elements.pop(0)  # remove uscc
    elements[0]["length"] = 300  # change org_name
    elements.append({"name": "注册资本", "name_en": "registered_capital", "data_type": "decimal"})
    resource_update(
        db,
        actor=admin,
        code=draft.code,
        data=update_data(
            working, name="企业登记信息（含注册资本）", share_conditions="新条件", elements=elements
        ),
    )
    # While revising, everyone else still sees version 1.
    seen = resource_get(db, actor=org["admin_b"], code=draft.code)
    assert (seen.view, seen.name, len(seen.elements)) == ("published", "企业登记信息", 3)
    resource_submit(db, actor=admin, code=draft.code)
    assert resource_get(db, actor=reviewer, code=draft.code).under_review
    v2 = resource_approve(db, actor=reviewer, code=draft.code)
    assert v2.published_version == 2 and v2.name == "企业登记信息（含注册资本）"
    assert v2.first_published_at == v1.first_published_at

    versions = resource_versions(db, actor=org["admin_b"], code=draft.code)
    assert [v.version for v in versions] == [2, 1]
    assert versions[1].change_note == "首次发布"
    assert "信息资源名称" in versions[0].change_note and "新增信息项 1 个" in versions[0].change_note
    assert (
        resource_version(db, actor=org["admin_b"], code=draft.code, version=1).snapshot["name"]
        == "企业登记信息"
    )

    diff = resource_diff(db, actor=org["admin_b"], code=draft.code, v1=1, v2=2)
    assert {c.field for c in diff.fields} == {"name", "share_conditions"}
    assert [e.name_en for e in diff.elements_added] == ["registered_capital"]
    assert [e.name_en for e in diff.elements_removed] == ["uscc"]
    assert [(c.name_en, [f.field for f in c.changes]) for c in diff.elements_changed] == [
        ("org_name", ["length"])
    ]
    assert diff.elements_changed[0].changes[0].before == 200
    assert diff.elements_changed[0].changes[0].after == 300

    withdrawn = resource_withdraw(db, actor=admin, code=draft.code, reason="已并入新资源")
    assert withdrawn.status == ResourceStatus.WITHDRAWN and withdrawn.withdraw_reason == "已并入新资源"
    assert calls[-1] == ("remove", v1.id)
    assert calls.count(("update", v1.id)) == 2
    assert resource_get(db, actor=org["admin_b"], code=draft.code).status == ResourceStatus.WITHDRAWN
    assert _audit_actions(db, draft.code) == [
        "catalog.resource.create",
        "catalog.resource.submit",
        "catalog.resource.publish",
        "catalog.resource.revise",
        "catalog.resource.update",
        "catalog.resource.submit",
        "catalog.resource.publish",
        "catalog.resource.withdraw",
    ]
    with pytest.raises(Conflict):
        resource_revise(db, actor=admin, code=draft.code)


def test_versions_are_frozen_snapshots(db: Session, org: dict[str, Any]) -> None:
    out = make_resource(db, provider_id=org["a"].id, name="原名称")
    publish_revision(db, code=out.code, name="第二版名称")
    publish_revision(db, code=out.code, name="第三版名称")
    rows = db.scalars(
        select(ResourceVersion).where(ResourceVersion.resource_id == out.id).order_by(ResourceVersion.version)
    ).all()
    assert [r.snapshot["name"] for r in rows] == ["原名称", "第二版名称", "第三版名称"]
    diff = resource_diff(db, actor=org["admin_b"], code=out.code, v1=1, v2=3)
    assert [(c.before, c.after) for c in diff.fields] == [("原名称", "第三版名称")]
    assert resource_diff(db, actor=org["admin_b"], code=out.code, v1=2, v2=2).empty
    with pytest.raises(NotFound):
        resource_diff(db, actor=org["admin_b"], code=out.code, v1=1, v2=9)


def test_reject_a_first_submission_and_a_revision(db: Session, org: dict[str, Any]) -> None:
    admin, reviewer = org["admin_a"], org["reviewer"]
    draft = make_resource(db, provider_id=org["a"].id, actor=admin, published=False, submitted=True)
    with pytest.raises(ValidationError):
        resource_reject(db, actor=reviewer, code=draft.code, reason="  ")
    rejected = resource_reject(db, actor=reviewer, code=draft.code, reason="摘要不清楚")
    assert rejected.status == ResourceStatus.REJECTED and rejected.review_comment == "摘要不清楚"
    assert resource_allowed(admin, rejected).edit and resource_allowed(admin, rejected).submit
    # A rejected entry can be fixed and submitted again.
    resource_update(db, actor=admin, code=draft.code, data=update_data(rejected, summary="更清楚的摘要"))
    assert resource_submit(db, actor=admin, code=draft.code).status == ResourceStatus.SUBMITTED

    published = make_resource(db, provider_id=org["a"].id, name="现行名称")
    resource_revise(db, actor=admin, code=published.code)
    current = resource_get(db, actor=admin, code=published.code, working=True)
    resource_update(db, actor=admin, code=published.code, data=update_data(current, name="修订名称"))
    resource_submit(db, actor=admin, code=published.code)
    back = resource_reject(db, actor=reviewer, code=published.code, reason="名称不规范")
    assert back.status == ResourceStatus.PUBLISHED and back.has_draft_changes and not back.under_review
    assert resource_get(db, actor=org["admin_b"], code=published.code).name == "现行名称"
    assert resource_get(db, actor=admin, code=published.code, working=True).name == "修订名称"


def test_discarding_a_revision_restores_the_version_in_force(db: Session, org: dict[str, Any]) -> None:
    admin = org["admin_a"]
    out = make_resource(db, provider_id=org["a"].id, name="现行名称", elements=3)
    resource_revise(db, actor=admin, code=out.code)
    current = resource_get(db, actor=admin, code=out.code, working=True)
    resource_update(db, actor=admin, code=out.code, data=update_data(current, name="草稿名称", elements=[]))
    restored = resource_discard_revision(db, actor=admin, code=out.code)
    assert restored.name == "现行名称" and len(restored.elements) == 3 and not restored.has_draft_changes
    assert resource_pending_diff(db, actor=admin, code=out.code).empty


def test_lifecycle_steps_out_of_order_are_conflicts(db: Session, org: dict[str, Any]) -> None:
    admin, reviewer = org["admin_a"], org["reviewer"]
    draft = resource_create(db, actor=admin, data=resource_data())
    with pytest.raises(Conflict):
        resource_approve(db, actor=reviewer, code=draft.code)
    with pytest.raises(Conflict):
        resource_withdraw(db, actor=admin, code=draft.code, reason="x")
    with pytest.raises(Conflict):
        resource_revise(db, actor=admin, code=draft.code)
    resource_submit(db, actor=admin, code=draft.code)
    with pytest.raises(Conflict):
        resource_submit(db, actor=admin, code=draft.code)
    current = resource_get(db, actor=admin, code=draft.code)
    with pytest.raises(Conflict) as err:
        resource_update(db, actor=admin, code=draft.code, data=update_data(current))
    assert err.value.code == "catalog.not_editable"
    published = resource_approve(db, actor=reviewer, code=draft.code)
    with pytest.raises(Conflict) as err:
        resource_update(db, actor=admin, code=draft.code, data=update_data(published))
    assert "修订" in err.value.message
    with pytest.raises(Conflict):
        resource_delete_draft(db, actor=admin, code=draft.code)
    with pytest.raises(Conflict):
        resource_discard_revision(db, actor=admin, code=draft.code)
    with pytest.raises(ValidationError):
        resource_withdraw(db, actor=admin, code=draft.code, reason=" ")


# --- Optimistic locking and atomicity ---------------------------------------------------------------


def test_two_edits_from_the_same_version_the_second_is_a_conflict(db: Session, org: dict[str, Any]) -> None:
    out = resource_create(db, actor=org["admin_a"], data=resource_data(name="原名称"))
    first = resource_update(db, actor=org["admin_a"], code=out.code, data=update_data(out, name="甲的修改"))
    assert first.row_version > out.row_version
    with pytest.raises(Conflict) as err:
        resource_update(db, actor=org["admin_a2"], code=out.code, data=update_data(out, name="乙的修改"))
    assert err.value.code == "catalog.stale" and err.value.message.startswith("该条目已被他人修改")
    assert resource_get(db, actor=org["admin_a"], code=out.code).name == "甲的修改"


def test_changing_only_elements_still_bumps_the_row_version(db: Session, org: dict[str, Any]) -> None:
    out = resource_create(db, actor=org["admin_a"], data=resource_data(elements=2))
    elements = [e.model_dump(include=set(ElementIn.model_fields)) for e in out.elements]
    elements[0]["description"] = "新说明"
    saved = resource_update(db, actor=org["admin_a"], code=out.code, data=update_data(out, elements=elements))
    assert saved.row_version == out.row_version + 1
    with pytest.raises(Conflict):
        resource_update(db, actor=org["admin_a2"], code=out.code, data=update_data(out))


def test_element_ids_are_kept_by_english_name(db: Session, org: dict[str, Any]) -> None:
    out = resource_create(db, actor=org["admin_a"], data=resource_data(elements=3))
    ids = {e.name_en: e.id for e in out.elements}
    elements = [e.model_dump(include=set(ElementIn.model_fields)) for e in reversed(out.elements)]
    saved = resource_update(db, actor=org["admin_a"], code=out.code, data=update_data(out, elements=elements))
    assert [e.name_en for e in saved.elements] == ["registered_on", "org_name", "uscc"]
    assert {e.name_en: e.id for e in saved.elements} == ids


def test_a_refused_update_leaves_nothing_behind(db: Session, org: dict[str, Any]) -> None:
    out = resource_create(db, actor=org["admin_a"], data=resource_data(name="原名称", elements=2))
    dup = [e.model_dump(include=set(ElementIn.model_fields)) for e in out.elements] * 2
    with pytest.raises(ValidationError):
        resource_update(
            db, actor=org["admin_a"], code=out.code, data=update_data(out, name="新名称", elements=dup)
        )
    after = resource_get(db, actor=org["admin_a"], code=out.code)
    assert (after.name, len(after.elements), after.row_version) == ("原名称", 2, out.row_version)
    assert (
        db.scalar(select(func.count()).select_from(DataElement).where(DataElement.resource_id == out.id)) == 2
    )
    assert _audit_actions(db, out.code) == ["catalog.resource.create"]


def test_a_failing_search_hook_rolls_the_publication_back(
    db: Session, org: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    draft = make_resource(db, provider_id=org["a"].id, published=False, submitted=True)

    def boom(db: Session, *, resource_id: int) -> None:
        raise ValidationError("索引失败", message_en="index failed")

    monkeypatch.setattr(catalog_services.search_services, "search_index_update", boom)
    with pytest.raises(ValidationError):
        resource_approve(db, actor=org["reviewer"], code=draft.code)
    again = resource_get(db, actor=org["reviewer"], code=draft.code)
    assert again.status == ResourceStatus.SUBMITTED and again.published_version == 0
    assert (
        db.scalar(
            select(func.count()).select_from(ResourceVersion).where(ResourceVersion.resource_id == draft.id)
        )
        == 0
    )


# --- Who may see and do what ------------------------------------------------------------------------


def test_another_department_cannot_read_or_change_drafts(db: Session, org: dict[str, Any]) -> None:
    draft = resource_create(db, actor=org["admin_a"], data=resource_data())
    for who in ("admin_b", "developer", "public"):
        with pytest.raises(PermissionDenied):
            resource_get(db, actor=org[who], code=draft.code)
    assert resource_get(db, actor=org["reviewer"], code=draft.code).view == "working"
    with pytest.raises(PermissionDenied):
        resource_update(db, actor=org["admin_b"], code=draft.code, data=update_data(draft, name="篡改"))
    with pytest.raises(PermissionDenied):
        resource_submit(db, actor=org["admin_b"], code=draft.code)
    with pytest.raises(PermissionDenied):
        resource_delete_draft(db, actor=org["admin_b"], code=draft.code)
    with pytest.raises(PermissionDenied):
        resource_update(db, actor=org["reviewer"], code=draft.code, data=update_data(draft, name="篡改"))
    with pytest.raises(PermissionDenied):
        resource_versions(db, actor=org["admin_b"], code=draft.code)
    with pytest.raises(PermissionDenied):
        resource_pending_diff(db, actor=org["admin_b"], code=draft.code)
    assert resource_get(db, actor=org["admin_a"], code=draft.code).name == draft.name


def test_published_entries_are_readable_by_everyone_signed_in(db: Session, org: dict[str, Any]) -> None:
    out = make_resource(db, provider_id=org["a"].id)
    for who in ("admin_b", "developer", "public", "reviewer"):
        assert resource_get(db, actor=org[who], code=out.code).view == "published"
    with pytest.raises(PermissionDenied):
        resource_get(db, actor=org["public"], code=out.code, working=True)
    with pytest.raises(NotFound):
        resource_get(db, actor=org["public"], code="3-01-001-001-NONE-00001")


def test_only_reviewers_review_and_only_owners_withdraw(db: Session, org: dict[str, Any]) -> None:
    draft = make_resource(db, provider_id=org["a"].id, published=False, submitted=True)
    for who in ("admin_a", "admin_b", "developer", "public"):
        with pytest.raises(PermissionDenied):
            resource_approve(db, actor=org[who], code=draft.code)
        with pytest.raises(PermissionDenied):
            resource_reject(db, actor=org[who], code=draft.code, reason="不行")
        with pytest.raises(PermissionDenied):
            review_queue(db, actor=org[who])
    published = resource_approve(db, actor=org["reviewer"], code=draft.code)
    for who in ("admin_b", "reviewer", "developer"):
        with pytest.raises(PermissionDenied):
            resource_withdraw(db, actor=org[who], code=published.code, reason="不需要了")
        with pytest.raises(PermissionDenied):
            resource_revise(db, actor=org[who], code=published.code)


def test_manage_list_is_per_department(db: Session, org: dict[str, Any]) -> None:
    mine = make_resource(db, provider_id=org["a"].id, published=False)
    make_resource(db, provider_id=org["a"].id)
    theirs = make_resource(db, provider_id=org["b"].id, published=False)
    listing = resource_list_manage(db, actor=org["admin_a"])
    assert listing.department_id == org["a"].id and listing.total == 2
    assert listing.counts == {"draft": 1, "published": 1}
    assert theirs.code not in [i.code for i in listing.items]
    drafts = resource_list_manage(db, actor=org["admin_a"], status=ResourceStatus.DRAFT)
    assert [i.code for i in drafts.items] == [mine.code]
    assert drafts.items[0].element_count == 3
    with pytest.raises(PermissionDenied):
        resource_list_manage(db, actor=org["admin_a"], department_id=org["b"].id)
    with pytest.raises(PermissionDenied):
        resource_list_manage(db, actor=org["reviewer"])


def test_allowed_actions_follow_role_and_state(db: Session, org: dict[str, Any]) -> None:
    published = make_resource(db, provider_id=org["a"].id)
    owner = resource_allowed(org["admin_a"], published)
    assert owner.revise and owner.withdraw and not owner.edit and not owner.delete
    stranger = resource_allowed(org["admin_b"], published)
    assert not any([stranger.edit, stranger.revise, stranger.withdraw, stranger.see_working])
    draft = resource_create(db, actor=org["admin_a"], data=resource_data())
    assert resource_allowed(org["admin_a"], draft).delete
    assert not resource_allowed(org["reviewer"], draft).review


# --- Topics, labels, demo seed ----------------------------------------------------------------------


def test_topic_tree(db: Session, org: dict[str, Any]) -> None:
    topic_create(db, actor=CATALOG_SYSTEM, data=TopicIn(code="88", name="卫生健康"))
    child = topic_create(db, actor=CATALOG_SYSTEM, data=TopicIn(code="8801", name="医疗服务"))
    assert (child.parent_code, child.level, child.path) == ("88", 2, "卫生健康 › 医疗服务")
    with pytest.raises(ValidationError):
        topic_create(db, actor=CATALOG_SYSTEM, data=TopicIn(code="890101", name="孤儿"))
    with pytest.raises(Conflict):
        topic_create(db, actor=CATALOG_SYSTEM, data=TopicIn(code="88", name="重复"))
    with pytest.raises(PermissionDenied):
        topic_create(db, actor=org["admin_a"], data=TopicIn(code="87", name="交通运输"))
    codes = [t.code for t in topic_list(db, actor=Actor.anonymous())]
    assert codes.index("88") < codes.index("8801")


def test_share_type_and_open_type_labels_do_not_collide() -> None:
    assert label_zh(ShareType.CONDITIONAL) == "有条件共享"
    assert label_zh(OpenType.CONDITIONAL) == "有条件开放"


def test_demo_seed_is_realistic_valid_and_deterministic(db: Session) -> None:
    demo_organisation_seed(db, province_code="330000")
    count = catalog_demo_seed(db, seed=7)
    assert 250 <= count <= 350
    assert catalog_demo_seed(db, seed=7) == 0, "a second run must not seed again"
    rows = list(db.scalars(select(Resource)))
    assert len(rows) == count
    assert {r.share_type for r in rows} == set(ShareType)
    assert {r.status for r in rows} == set(ResourceStatus)
    published = [r for r in rows if r.status == ResourceStatus.PUBLISHED]
    assert len(published) > 0.7 * count
    assert any(r.published_version >= 2 for r in rows) and any(r.has_draft_changes for r in published)
    names = {r.name for r in rows}
    assert {"户籍人口信息", "企业登记信息", "社会保险参保信息", "婚姻登记信息", "不动产登记信息"} <= names
    assert len({r.code for r in rows}) == count
    for r in rows:
        if r.status in (ResourceStatus.PUBLISHED, ResourceStatus.SUBMITTED):
            check_complete(db, r, zone="extranet")  # the demo obeys the catalog's own rules
    none = [r for r in rows if r.share_type == ShareType.NONE]
    assert none and all(r.share_basis for r in none)
    fingerprint = sorted((r.code, r.name, r.status.value, r.share_type.value) for r in rows)
    # Same seed on a catalog emptied again (counters too): the very same entries.
    db.execute(delete(ResourceVersion))
    db.execute(delete(DataElement))
    db.execute(delete(Resource))
    db.execute(delete(ResourceSequence))
    db.expunge_all()
    assert catalog_demo_seed(db, seed=7) == count
    again = sorted((r.code, r.name, r.status.value, r.share_type.value) for r in db.scalars(select(Resource)))
    assert again == fingerprint
