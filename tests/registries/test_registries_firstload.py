"""The first load of an empty population registry (zhengwu.registries.firstload): straight into the table
on PostgreSQL, with the same outcome as the general path; the cases it hands over to the general path."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select, text

from registries.registries_helpers import World, csv_text, persons_rows
from zhengwu.registries import firstload
from zhengwu.registries.models import Person, PersonVersion, RegistryBatch


def _schema(world: World) -> dict[str, Any]:
    """Indexes and column defaults of registry_persons (PostgreSQL), or None on SQLite."""
    if world.db.get_bind().dialect.name != "postgresql":
        return {}
    indexes = world.db.execute(
        text("SELECT indexname FROM pg_indexes WHERE tablename = 'registry_persons' ORDER BY 1")
    ).scalars()
    defaults = world.db.execute(
        text(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = 'registry_persons' AND column_default IS NOT NULL"
        )
    ).scalars()
    return {"indexes": list(indexes), "defaults": list(defaults)}


def test_first_load_writes_each_row_once_with_provenance(world: World) -> None:
    before = _schema(world)
    result = world.ingest(world.persons_csv)
    assert result.status == "applied" and result.inserted == result.rows_read > 0
    batch = world.db.get(RegistryBatch, result.batch_id)
    assert batch is not None
    count, sources, batches, starts = world.db.execute(
        select(
            func.count(),
            func.count(func.distinct(Person.source_department)),
            func.max(Person.batch_id),
            func.max(Person.valid_from),
        )
    ).one()
    assert count == result.inserted and sources == 1 and batches == batch.id
    assert starts == batch.started_at
    assert world.db.scalar(select(func.count()).select_from(PersonVersion)) == 0
    # Primary key and indexes back, no column default left behind.
    assert _schema(world) == before
    row = persons_rows(1)[0]
    person = world.db.get(Person, row["resident_id"])
    assert person is not None and person.name == row["name"] and person.source_department == world.source
    # The same rows again: compared, nothing written (idempotent), now on the general path.
    again = world.file("again.csv", "\ufeff" + world.persons_csv.read_text(encoding="utf-8"))
    second = world.ingest(again)
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, result.inserted)


def test_repeated_key_or_atomic_errors_take_the_general_path(world: World) -> None:
    rows = persons_rows(6)
    repeated = world.file("repeated.csv", csv_text([*rows, rows[2]]))
    result = world.ingest(repeated)
    assert result.status == "rejected" and result.inserted == 0
    assert any("与第 4 行重复" in e.reason for e in result.errors)
    assert world.db.scalar(select(func.count()).select_from(Person)) == 0
    # Partial: the general path applies the others and names the repeat.
    partial = world.ingest(repeated, mode="partial")
    assert partial.status == "partial" and partial.inserted == 6 and partial.rows_invalid == 1


def test_partial_first_load_keeps_valid_rows_and_atomic_keeps_nothing(world: World) -> None:
    before = _schema(world)
    rows = persons_rows(5)
    bad = dict(rows[1], resident_id="110105194912310021")  # wrong check digit
    path = world.file("bad.csv", csv_text([rows[0], bad, *rows[2:]]))
    atomic = world.ingest(path)
    assert atomic.status == "rejected" and atomic.inserted == 0 and atomic.rows_invalid == 1
    assert world.db.scalar(select(func.count()).select_from(Person)) == 0
    assert _schema(world) == before
    partial = world.ingest(path, mode="partial")
    assert partial.status == "partial" and partial.inserted == 4 and partial.rows_invalid == 1
    assert [e.row for e in partial.errors] == [3]
    assert world.db.scalar(select(func.count()).select_from(Person)) == 4
    assert _schema(world) == before


def test_search_indexes_serve_a_prefix_after_a_first_load(world: World) -> None:
    if world.db.get_bind().dialect.name != "postgresql":
        return
    world.ingest(world.persons_csv)
    definitions = world.db.execute(
        text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'registry_persons'")
    ).all()
    patterned = {name for name, definition in definitions if "varchar_pattern_ops" in definition}
    assert patterned == {"ix_registry_persons_name", "ix_registry_persons_household_region_code"}
    # A prefix is an index range (the table is tiny: a sequential scan is ruled out to see the choice).
    world.db.execute(text("SET LOCAL enable_seqscan = off"))
    queries = (
        "EXPLAIN SELECT count(*) FROM registry_persons WHERE name LIKE '张%' ESCAPE '\\'",
        "EXPLAIN SELECT count(*) FROM registry_persons WHERE household_region_code LIKE '3301%'",
    )
    for query in queries:
        plan = "\n".join(world.db.execute(text(query)).scalars())
        assert "Index Cond" in plan and "~>=~" in plan, plan


def test_a_registry_filled_since_the_check_takes_the_general_path(world: World, monkeypatch: Any) -> None:
    # Another delivery applied since the first load found the registry empty: the rows it brought stay,
    # and the batch is applied by the general path (here the primary key's build finds the overlap).
    if world.db.get_bind().dialect.name != "postgresql":
        return
    rows = persons_rows(3)
    first = world.ingest(world.file("one.csv", csv_text(rows[:1])))
    assert first.status == "applied" and first.inserted == 1
    monkeypatch.setattr(firstload, "eligible", lambda *args, **kwargs: True)  # the race: it looked earlier
    result = world.ingest(world.file("all.csv", csv_text(rows)))
    assert result.status == "applied" and (result.inserted, result.unchanged) == (2, 1)
    assert world.db.scalar(select(func.count()).select_from(Person)) == 3
