"""Family relations: ingestion rules, history of links, lookup and page for authorized callers only."""

from __future__ import annotations

import csv
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from factories import SYSTEM, actor_of, login, make_user
from registries.registries_helpers import World, csv_text, persons_rows
from zhengwu.accounts.models import Role
from zhengwu.registries.models import PersonRelation, RegistryBatch
from zhengwu.registries.relations import relations_ingest, synthetic_relations
from zhengwu.registries.services import person_get, person_relations

HEADER = "resident_id,relative_id,relation,ended\n"


def _family(world: World) -> list[dict[str, Any]]:
    """Persons loaded into the registry, oldest first."""
    rows = sorted(persons_rows(40), key=lambda r: r["birth_date"])
    assert world.ingest(world.file("people.csv", csv_text(rows))).status == "applied"
    return rows


def _deliver(world: World, name: str, lines: list[str], **kwargs: Any) -> Any:
    path = world.file(name, HEADER + "".join(line + "\n" for line in lines))
    kwargs.setdefault("actor", SYSTEM)
    return relations_ingest(
        world.db, source=world.source, path=path, error_dir=world.tmp / "errors", **kwargs
    )


FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _valid_id(first17: str) -> str:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


def _links(world: World, current: bool = True) -> int:
    query = select(func.count()).select_from(PersonRelation)
    if current:
        query = query.where(PersonRelation.valid_to.is_(None))
    return world.db.scalar(query) or 0


def test_parents_and_spouse_are_linked_with_provenance_and_shown_to_the_platform(world: World) -> None:
    people = _family(world)
    old1, old2, child = people[0]["resident_id"], people[1]["resident_id"], people[-1]["resident_id"]
    result = _deliver(
        world, "rel.csv", [f"{child},{old1},父亲,", f"{child},{old2},母亲,", f"{old1},{old2},配偶,"]
    )
    assert (result.status, result.inserted, result.rows_invalid) == ("applied", 3, 0)
    assert _links(world) == 4  # a marriage is stored in both directions
    person = person_get(world.db, actor=SYSTEM, resident_id=child)
    assert person.relations is not None
    assert sorted((r.role, r.relative_id) for r in person.relations) == sorted(
        [("parent", old1), ("parent", old2)]
    )
    assert {r.batch_id for r in person.relations} == {result.batch_id}
    assert all(r.source_department == world.source and r.relative_name for r in person.relations)
    parent = person_get(world.db, actor=SYSTEM, resident_id=old1)
    assert sorted((r.role, r.relative_id) for r in parent.relations or []) == sorted(
        [("child", child), ("spouse", old2)]
    )
    batch = world.db.get(RegistryBatch, result.batch_id)
    assert batch is not None and batch.registry_name == "relations"


def test_relations_are_hidden_from_callers_who_see_masked_data(world: World) -> None:
    people = _family(world)
    _deliver(world, "rel.csv", [f"{people[-1]['resident_id']},{people[0]['resident_id']},parent,"])
    reviewer = actor_of(world.db, make_user(world.db, roles=[Role.REVIEWER]))
    person = person_get(world.db, actor=reviewer, resident_id=people[-1]["resident_id"])
    assert person.masked and person.relations is None
    assert person_relations(world.db, actor=reviewer, resident_id=people[-1]["resident_id"]) is None


@pytest.mark.parametrize("mode", ["atomic", "partial"])
def test_the_rules_of_a_link(world: World, mode: str) -> None:
    people = _family(world)
    a, b, c, young = (people[i]["resident_id"] for i in (0, 1, 2, -1))
    unknown = _valid_id("11010119900307757")  # valid, not registered
    lines = [
        f"{young},{a},parent,",  # 2: fine
        f"{a},{a},spouse,",  # 3: self link
        f"{a},{young},parent,",  # 4: the parent is younger
        f"{young},{unknown},parent,",  # 5: not in the registry
        f"{young},{a},父亲,",  # 6: repeats line 2
        f"{young},{b},sibling,",  # 7: unknown relation
        f"{a},{b},spouse,",  # 8: fine
        f"{c},{a},spouse,",  # 9: a would have two spouses
        f"{young},{b},parent,maybe",  # 10: bad ended
        f"{unknown.translate(FULLWIDTH)},{a},parent,",  # 11: full-width digits, unknown person
    ]
    result = _deliver(world, "rules.csv", lines, mode=mode)
    assert {e.row for e in result.errors} == {3, 4, 5, 6, 7, 9, 10, 11}
    reasons = {e.row: e.reason for e in result.errors}
    assert "本人" in reasons[3] and "早于" in reasons[4] and "不在人口基础库" in reasons[5]
    assert "重复" in reasons[6] and "一位配偶" in reasons[9]
    if mode == "atomic":
        assert result.status == "rejected" and _links(world) == 0
    else:
        assert result.status == "partial" and result.inserted == 2 and _links(world) == 3
        with open(result.error_file, encoding="utf-8-sig", newline="") as fh:
            assert len(list(csv.reader(fh))) == 1 + len(result.errors)


def test_a_marriage_ends_and_a_new_one_begins_with_history(world: World) -> None:
    people = _family(world)
    a, b, c = (people[i]["resident_id"] for i in (0, 1, 2))
    first = _deliver(world, "m1.csv", [f"{a},{b},spouse,"])
    again = _deliver(world, "m1-again.csv", [f"{b},{a},配偶,否"])
    assert (again.inserted, again.unchanged) == (0, 1)
    refused = _deliver(world, "m2.csv", [f"{a},{c},spouse,"])
    assert refused.status == "rejected"
    # Ending the marriage and the new one in the same batch is accepted.
    second = _deliver(world, "m3.csv", [f"{a},{b},spouse,是", f"{a},{c},spouse,"])
    assert (second.status, second.inserted, second.updated) == ("applied", 1, 1)
    assert _links(world) == 2 and _links(world, current=False) == 4
    now = person_get(world.db, actor=SYSTEM, resident_id=a)
    assert [(r.role, r.relative_id) for r in now.relations or []] == [("spouse", c)]
    first_batch = world.db.get(RegistryBatch, first.batch_id)
    assert first_batch is not None and first_batch.finished_at is not None
    then = person_get(world.db, actor=SYSTEM, resident_id=a, as_of=first_batch.finished_at)
    assert [(r.role, r.relative_id) for r in then.relations or []] == [("spouse", b)]
    every = person_relations(world.db, actor=SYSTEM, resident_id=a) or []
    assert [(r.relative_id, r.valid_to is None) for r in every] == [(b, False), (c, True)]


def test_the_same_relations_file_twice_changes_nothing(world: World) -> None:
    people = _family(world)
    lines = [f"{people[-1]['resident_id']},{people[0]['resident_id']},parent,"]
    first = _deliver(world, "r.csv", lines)
    second = _deliver(world, "r.csv", lines)
    assert second.duplicate_of == first.batch_id and _links(world) == 1


def test_missing_columns_reject_the_relations_file(world: World) -> None:
    _family(world)
    path = world.file("bad.csv", "resident_id,relation\n1,parent\n")
    result = relations_ingest(world.db, actor=SYSTEM, source=world.source, path=path, error_dir=world.tmp)
    assert result.status == "rejected" and "relative_id" in (result.message or "")


def test_the_person_page_shows_the_family_to_the_admin_only(world: World, client: TestClient) -> None:
    people = _family(world)
    child, parent = people[-1]["resident_id"], people[0]["resident_id"]
    _deliver(world, "rel.csv", [f"{child},{parent},parent,"])
    login(client, make_user(world.db, roles=[Role.PLATFORM_ADMIN]).username)
    page = client.get(f"/registries/population/{child}")
    assert page.status_code == 200 and "家庭关系" in page.text and parent in page.text and "当前" in page.text
    other = TestClient(client.app, base_url="http://testserver", follow_redirects=False)
    login(other, make_user(world.db, roles=[Role.REVIEWER]).username)
    masked = other.get(f"/registries/population/{child}")
    assert masked.status_code == 200 and parent not in masked.text and "仅对平台管理员" in masked.text


def test_synthetic_relations_load_without_errors(world: World) -> None:
    assert world.ingest(world.persons_csv).status == "applied"
    path = world.tmp / "relations.csv"
    written = synthetic_relations(world.persons_csv, path, seed=7, share=0.5)
    result = relations_ingest(world.db, actor=SYSTEM, source=world.source, path=path, error_dir=world.tmp)
    assert written > 0 and (result.status, result.inserted, result.rows_invalid) == ("applied", written, 0)
