"""History "as of", provenance, former names, masking, search, verification, quality report."""

from __future__ import annotations

import datetime as dt

import pytest

from factories import SYSTEM, actor_of, make_user
from registries.registries_helpers import PERSONS, World, csv_text, persons_rows
from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import Actor
from zhengwu.errors import NotAuthenticated, NotFound, PermissionDenied, ValidationError
from zhengwu.registries.models import RegistryBatch
from zhengwu.registries.services import (
    entity_get,
    entity_verify,
    person_get,
    person_history,
    person_search,
    person_verify,
    quality_report,
)


def _two_deliveries(world: World) -> tuple[RegistryBatch, RegistryBatch, dict[str, object]]:
    rows = persons_rows(5)
    first = world.ingest(world.file("v1.csv", csv_text(rows)))
    changed = dict(rows[0])
    changed["name"] = "改名后"
    changed["status"] = "deceased"
    changed["death_date"] = "2026-03-01"
    second = world.ingest(world.file("v2.csv", csv_text([changed, *rows[1:]])))
    assert (second.inserted, second.updated, second.unchanged) == (0, 1, 4)
    b1 = world.db.get(RegistryBatch, first.batch_id)
    b2 = world.db.get(RegistryBatch, second.batch_id)
    assert b1 is not None and b2 is not None
    return b1, b2, rows[0]


def test_as_of_answers_what_the_registry_said_then(world: World) -> None:
    b1, b2, original = _two_deliveries(world)
    key = str(original["resident_id"])
    now = person_get(world.db, actor=SYSTEM, resident_id=key)
    assert (now.name, now.status, now.former_names) == ("改名后", "deceased", [original["name"]])
    assert b1.finished_at is not None
    then = person_get(world.db, actor=SYSTEM, resident_id=key, as_of=b1.finished_at)
    assert (then.name, then.status, then.former_names) == (original["name"], "living", [])
    assert then.valid_to == b2.started_at
    with pytest.raises(NotFound):
        person_get(world.db, actor=SYSTEM, resident_id=key, as_of=b1.started_at - dt.timedelta(seconds=1))
    # A date means the end of that (Beijing) day: today is after both deliveries.
    today = person_get(world.db, actor=SYSTEM, resident_id=key, as_of=dt.date.today() + dt.timedelta(days=1))
    assert today.name == "改名后"


def test_history_shows_changes_and_the_provenance_of_each_value(world: World) -> None:
    b1, b2, original = _two_deliveries(world)
    history = person_history(world.db, actor=SYSTEM, resident_id=str(original["resident_id"]))
    assert [v.batch_id for v in history.versions] == [b2.id, b1.id]
    assert set(history.versions[0].changed) == {"name", "former_names", "status", "status_date"}
    assert history.provenance["name"].batch_id == b2.id
    assert history.provenance["birth_date"].batch_id == b1.id
    assert history.provenance["birth_date"].source_department == world.source


def test_personal_data_is_masked_unless_the_caller_may_see_it(world: World) -> None:
    world.ingest(world.persons_csv)
    row = persons_rows(1)[0]
    key = str(row["resident_id"])
    staff = actor_of(
        world.db, make_user(world.db, roles=[Role.DATA_ADMIN], department_id=world.department_id)
    )
    masked = person_get(world.db, actor=staff, resident_id=key)
    assert masked.masked and masked.resident_id == key[:6] + "********" + key[-4:]
    assert masked.name != row["name"] and masked.name[0] == str(row["name"])[0]
    assert masked.birth_date.endswith("-**-**")
    admin = actor_of(world.db, make_user(world.db, roles=[Role.PLATFORM_ADMIN]))
    clear = person_get(world.db, actor=admin, resident_id=key)
    assert not clear.masked and clear.resident_id == key and clear.name == row["name"]


def test_lookups_refuse_anonymous_and_public_users(world: World) -> None:
    world.ingest(world.persons_csv)
    key = str(persons_rows(1)[0]["resident_id"])
    with pytest.raises(NotAuthenticated):
        person_get(world.db, actor=Actor.anonymous(), resident_id=key)
    public = actor_of(world.db, make_user(world.db, roles=[Role.PUBLIC_USER]))
    with pytest.raises(PermissionDenied):
        person_verify(world.db, actor=public, resident_id=key, name="x")


def test_invalid_identifier_is_a_validation_error_unknown_is_not_found(world: World) -> None:
    with pytest.raises(ValidationError) as info:
        person_get(world.db, actor=SYSTEM, resident_id="11010519491231002")
    assert info.value.code.startswith("resident_id.")
    with pytest.raises(NotFound):
        person_get(world.db, actor=SYSTEM, resident_id="11010519491231002X")
    with pytest.raises(ValidationError):
        entity_get(world.db, actor=SYSTEM, uscc="91350100M000100Y4")


def test_verification_answers_only_yes_or_no(world: World) -> None:
    _, _, original = _two_deliveries(world)
    key, name = str(original["resident_id"]), str(original["name"])
    assert person_verify(world.db, actor=SYSTEM, resident_id=key, name="改名后") is False  # deceased now
    other = persons_rows(2)[1]
    assert person_verify(
        world.db, actor=SYSTEM, resident_id=str(other["resident_id"]), name=str(other["name"])
    )
    assert not person_verify(world.db, actor=SYSTEM, resident_id=str(other["resident_id"]), name=name + "x")
    assert not person_verify(world.db, actor=SYSTEM, resident_id="11010519491231002X", name=name)


def test_entity_verification_and_lookup(world: World) -> None:
    world.ingest(world.persons_csv)
    world.ingest(world.entities_csv, registry="entities")
    import csv

    with world.entities_csv.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    alive = next(r for r in rows if r["status"] == "存续")
    assert entity_verify(world.db, actor=SYSTEM, uscc=alive["uscc"], name=alive["name"])
    assert not entity_verify(world.db, actor=SYSTEM, uscc=alive["uscc"], name="别的名字")
    gone = [r for r in rows if r["status"] != "存续"]
    for r in gone:
        assert not entity_verify(world.db, actor=SYSTEM, uscc=r["uscc"], name=r["name"])
    entity = entity_get(world.db, actor=SYSTEM, uscc=alive["uscc"])
    assert entity.legal_representative_id == alive["legal_representative_id"]
    assert entity.legal_representative_name is not None


def test_search_by_name_prefix_and_region_is_paged(world: World) -> None:
    world.ingest(world.persons_csv)
    rows = persons_rows()
    surname = str(rows[0]["name"])[0]
    expected = sum(1 for r in rows if str(r["name"]).startswith(surname))
    page = person_search(world.db, actor=SYSTEM, name_prefix=surname, per_page=2)
    assert page.total == expected and len(page.items) == min(2, expected)
    region = str(rows[0]["household_region_code"])
    in_region = sum(1 for r in rows if r["household_region_code"] == region)
    assert person_search(world.db, actor=SYSTEM, region=region).total == in_region
    assert person_search(world.db, actor=SYSTEM, region="330000").total == PERSONS
    with pytest.raises(ValidationError):
        person_search(world.db, actor=SYSTEM)


def test_quality_report(world: World) -> None:
    world.ingest(world.persons_csv)
    bad = persons_rows(3)
    bad[0]["sex"] = "?"
    world.ingest(world.file("bad.csv", csv_text(bad)), mode="partial")
    report = quality_report(world.db, actor=SYSTEM, registry="population", stale_days=30)
    assert report.records == PERSONS and report.stale == 0
    source = report.sources[0]
    assert (source.source_department, source.batches, source.rows_invalid) == (world.source, 2, 1)
    phone = next(c for c in report.completeness if c.field == "phone")
    assert phone.filled == sum(1 for r in persons_rows() if r["phone"]) and phone.total == PERSONS
    assert quality_report(world.db, actor=SYSTEM, registry="population", stale_days=-1).stale == PERSONS
