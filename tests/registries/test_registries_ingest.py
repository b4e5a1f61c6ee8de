"""Ingestion: formats, bad input, atomic and partial batches, idempotence, references, permissions."""

from __future__ import annotations

import csv
import datetime as dt
import sqlite3
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest
from sqlalchemy import func, select

from factories import actor_of, make_department, make_user
from registries.registries_helpers import PERSONS, World, csv_text, persons_rows, table
from zhengwu.accounts.models import Role
from zhengwu.errors import NotFound, PermissionDenied
from zhengwu.registries.models import Entity, Person, RegistryBatch

FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _persons(world: World) -> int:
    return world.db.scalar(select(func.count()).select_from(Person)) or 0


def _error_rows(path: str) -> list[list[str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.reader(fh))


def test_csv_batch_is_applied_with_versions_and_provenance(world: World) -> None:
    result = world.ingest(world.persons_csv)
    assert (result.status, result.inserted, result.rows_invalid) == ("applied", PERSONS, 0)
    assert _persons(world) == PERSONS and world.versions() == PERSONS
    first = persons_rows(1)[0]
    person = world.db.get(Person, first["resident_id"])
    assert person is not None
    assert (person.name, person.birth_date, person.source_department) == (
        first["name"],
        first["birth_date"],
        world.source,
    )
    assert person.batch_id == result.batch_id
    batch = world.db.get(RegistryBatch, result.batch_id)
    assert batch is not None and batch.status == "applied" and len(batch.fingerprint) == 64


def test_rerunning_the_same_batch_changes_nothing(world: World) -> None:
    first = world.ingest(world.persons_csv)
    again = world.ingest(world.persons_csv)
    assert again.duplicate_of == first.batch_id
    assert world.versions() == PERSONS
    assert world.db.scalar(select(func.count()).select_from(RegistryBatch)) == 1
    # The same rows in another file (here: with a BOM) are a new batch whose rows are all unchanged.
    bom = world.tmp / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbf" + world.persons_csv.read_bytes())
    third = world.ingest(bom)
    assert (third.status, third.inserted, third.updated, third.unchanged) == ("applied", 0, 0, PERSONS)
    assert any("BOM" in note for note in third.notes)
    assert world.versions() == PERSONS


def test_a_row_is_unchanged_when_applying_it_would_change_nothing(world: World) -> None:
    # Unchanged rows are found by comparing values: a null against a value is a change either way, and
    # former names the registry accumulated (after a change of name) do not make a later delivery of the
    # same row a change.
    rows = persons_rows(3)
    world.ingest(world.file("one.csv", csv_text(rows)))
    renamed = [dict(rows[0], name="改名后"), dict(rows[1], phone=""), rows[2]]
    second = world.ingest(world.file("two.csv", csv_text(renamed)))
    assert (second.updated, second.unchanged) == (2, 1)
    person = world.db.get(Person, rows[0]["resident_id"])
    assert person is not None and (person.name, person.former_names) == ("改名后", rows[0]["name"])
    versions = world.versions()
    third = world.ingest(world.file("three.csv", "\ufeff" + csv_text(renamed)))  # other bytes, same rows
    assert (third.inserted, third.updated, third.unchanged) == (0, 0, 3)
    assert world.versions() == versions
    # The phone back: a value where the registry holds none is a change.
    fourth = world.ingest(world.file("four.csv", csv_text([renamed[0], rows[1], rows[2]])))
    assert (fourth.updated, fourth.unchanged) == (1, 2)
    assert world.versions() == versions + 1


def test_gbk_file_is_detected_and_read(world: World) -> None:
    text = world.persons_csv.read_text(encoding="utf-8")
    path = world.file("gbk.csv", text, encoding="gbk")
    result = world.ingest(path)
    assert result.status == "applied" and result.inserted == PERSONS
    assert any("GBK" in note for note in result.notes)
    first = persons_rows(1)[0]
    person = world.db.get(Person, first["resident_id"])
    assert person is not None and person.household_address == first["household_address"]


@pytest.mark.parametrize("mode", ["atomic", "partial"])
def test_missing_and_extra_columns_reject_the_file(world: World, mode: str) -> None:
    rows = persons_rows(5)
    missing = world.file("missing.csv", csv_text(rows, [c for c in rows[0] if c != "birth_date"]))
    result = world.ingest(missing, mode=mode)
    assert result.status == "rejected" and "birth_date" in (result.message or "")
    assert "缺少必填列" in (result.message or "")
    for row in rows:
        row["shoe_size"] = 42
    extra = world.file("extra.csv", csv_text(rows))
    result = world.ingest(extra, mode=mode)
    assert result.status == "rejected" and "shoe_size" in (result.message or "")
    assert _persons(world) == 0
    assert [b.status for b in world.db.scalars(select(RegistryBatch))] == ["rejected", "rejected"]


@pytest.mark.parametrize("mode", ["atomic", "partial"])
def test_broken_quotes_reject_the_file_with_the_line(world: World, mode: str) -> None:
    lines = world.persons_csv.read_text(encoding="utf-8").splitlines()
    fields = lines[4].split(",")
    fields[1] = '"' + fields[1] + '"x'  # text after a closing quote
    lines[4] = ",".join(fields)
    result = world.ingest(world.file("quotes.csv", "\n".join(lines) + "\n"), mode=mode)
    assert result.status == "rejected"
    assert "第 5 行" in (result.message or "") and "引号" in (result.message or "")
    assert _persons(world) == 0


def test_unclosed_quote_is_reported_not_swallowed(world: World) -> None:
    lines = csv_text(persons_rows(8)).splitlines()
    head, rest = lines[3].split(",", 1)
    lines[3] = head + ',"' + rest  # a quote opened and never closed: the rest of the file would be one value
    result = world.ingest(world.file("open.csv", "\n".join(lines) + "\n"), mode="partial")
    assert result.status == "rejected" and "引号" in (result.message or "")
    assert _persons(world) == 0


def _bad_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = persons_rows(6)
    rows[1]["resident_id"] = rows[1]["resident_id"][:-1] + ("0" if rows[1]["resident_id"][-1] != "0" else "1")
    rows[2]["birth_date"] = "1990-02-30"
    rows[3]["sex"] = "X"
    rows[4]["ethnicity"] = "99"
    return rows


def test_invalid_rows_reject_an_atomic_batch_with_an_error_file(world: World) -> None:
    result = world.ingest(world.file("bad.csv", csv_text(_bad_rows())))
    assert result.status == "rejected" and result.rows_invalid == 4
    assert _persons(world) == 0 and world.versions() == 0
    assert result.error_file is not None
    rows = _error_rows(result.error_file)
    assert rows[0] == ["行号", "列", "原因"]
    by_row = {int(r[0]): (r[1], r[2]) for r in rows[1:]}
    assert by_row[3][0] == "resident_id" and "校验码" in by_row[3][1]
    assert by_row[4][0] == "birth_date" and "不是有效日期" in by_row[4][1]
    assert by_row[5][0] == "sex"
    assert by_row[6][0] == "ethnicity" and "GB/T 3304" in by_row[6][1]


def test_partial_batch_applies_valid_rows_and_lists_the_rest(world: World) -> None:
    result = world.ingest(world.file("bad.csv", csv_text(_bad_rows())), mode="partial")
    assert (result.status, result.inserted, result.rows_invalid) == ("partial", 2, 4)
    assert _persons(world) == 2
    assert result.error_file is not None and len(_error_rows(result.error_file)) == 5


def test_fullwidth_digits_and_other_date_forms_are_normalised(world: World) -> None:
    rows = persons_rows(3)
    rows[0]["resident_id"] = str(rows[0]["resident_id"]).translate(FULLWIDTH)
    born = rows[1]["birth_date"]
    assert isinstance(born, dt.date)
    rows[1]["birth_date"] = f"{born.year}年{born.month}月{born.day}日"
    rows[2]["birth_date"] = str(rows[2]["birth_date"]).translate(FULLWIDTH)
    result = world.ingest(world.file("fw.csv", csv_text(rows)))
    assert result.status == "applied" and result.inserted == 3
    assert world.db.get(Person, persons_rows(1)[0]["resident_id"]) is not None


def test_duplicate_keys_in_one_batch_are_reported(world: World) -> None:
    rows = persons_rows(4)
    rows.append(dict(rows[1]))
    result = world.ingest(world.file("dup.csv", csv_text(rows)), mode="partial")
    assert result.status == "partial" and result.inserted == 4
    assert result.errors[0].row == 6 and "与第 3 行重复" in result.errors[0].reason


def test_excel_with_date_cells_serials_and_fullwidth_digits(world: World) -> None:
    rows = persons_rows(4)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    columns = list(rows[0])
    sheet.append(columns)
    for i, row in enumerate(rows):
        values = [row[c] for c in columns]
        if i == 1:  # a date cell that lost its format: Excel's serial day number
            values[columns.index("birth_date")] = (row["birth_date"] - dt.date(1899, 12, 30)).days
        if i == 2:
            values[0] = str(row["resident_id"]).translate(FULLWIDTH)
        if i == 3:
            values[columns.index("birth_date")] = dt.datetime.combine(row["birth_date"], dt.time())
        sheet.append(values)
    path = world.tmp / "persons.xlsx"
    workbook.save(path)
    result = world.ingest(path)
    assert result.status == "applied" and result.inserted == 4, result.errors
    person = world.db.get(Person, rows[1]["resident_id"])
    assert person is not None and person.birth_date == rows[1]["birth_date"]


def test_parquet_delivery(world: World) -> None:
    path = world.tmp / "persons.parquet"
    pq.write_table(table(persons_rows(10)), path)
    result = world.ingest(path)
    assert result.status == "applied" and result.inserted == 10 and result.rows_read == 10


def test_sql_query_against_a_department_database(world: World) -> None:
    source = world.tmp / "dept.db"
    rows = persons_rows(8)
    with sqlite3.connect(source) as conn:
        columns = list(rows[0])
        conn.execute(f"CREATE TABLE people ({', '.join(columns)})")
        conn.executemany(
            f"INSERT INTO people VALUES ({', '.join('?' * len(columns))})",  # noqa: S608 - test's own table
            [[None if v is None else str(v) for v in r.values()] for r in rows],
        )
    url = f"sqlite:///{source}"
    args = {"sql_url": url, "sql_query": "SELECT * FROM people"}
    result = world.ingest(None, **args)
    assert result.status == "applied" and result.inserted == 8
    again = world.ingest(None, **args)
    assert again.duplicate_of == result.batch_id and world.versions() == 8
    broken = world.ingest(None, sql_url=url, sql_query="SELECT * FROM nowhere")
    assert broken.status == "rejected" and "查询" in (broken.message or "")


def test_entities_need_their_legal_representative_in_the_population_registry(world: World) -> None:
    result = world.ingest(world.entities_csv, registry="entities")
    assert result.status == "rejected"
    assert {e.column for e in result.errors} == {"legal_representative_id"}
    assert "人口基础库" in result.errors[0].reason
    world.ingest(world.persons_csv)
    result = world.ingest(world.entities_csv, registry="entities")
    assert result.status == "applied" and result.inserted == 25
    entity = world.db.scalars(select(Entity).limit(1)).one()
    assert entity.entity_type and entity.org_code == entity.uscc[8:17]


def test_entity_type_is_checked_against_the_code(world: World) -> None:
    world.ingest(world.persons_csv)
    with world.entities_csv.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows[0]["entity_type"] = "基金会" if rows[0]["entity_type"] != "基金会" else "企业"
    result = world.ingest(world.file("ent.csv", csv_text(rows)), registry="entities")
    assert result.status == "rejected"
    assert result.errors[0].column == "entity_type" and "不符" in result.errors[0].reason


def test_only_the_departments_own_data_admin_may_ingest(world: World) -> None:
    other = make_department(world.db, name="其他部门")
    stranger = actor_of(world.db, make_user(world.db, roles=[Role.DATA_ADMIN], department_id=other.id))
    with pytest.raises(PermissionDenied):
        world.ingest(world.persons_csv, actor=stranger)
    own = actor_of(world.db, make_user(world.db, roles=[Role.DATA_ADMIN], department_id=world.department_id))
    assert world.ingest(world.persons_csv, actor=own).status == "applied"
    with pytest.raises(NotFound):
        world.ingest(world.persons_csv, source="NOPE")


def test_fast_path_and_row_path_agree(world: World) -> None:
    # The CSV goes through the column-wise fast path, Parquet through the row validator: same hashes.
    first = world.ingest(world.persons_csv)
    path = world.tmp / "same.parquet"
    pq.write_table(table(persons_rows()), path)
    again = world.ingest(path)
    assert (first.inserted, again.inserted, again.updated, again.unchanged) == (PERSONS, 0, 0, PERSONS)
    person = world.db.get(Person, persons_rows(1)[0]["resident_id"])
    assert person is not None and person.nationality == "CHN" and person.former_names is None


def test_first_load_keeps_every_index(world: World) -> None:
    # On PostgreSQL the first load builds secondary indexes after the insert; they must all be back.
    from sqlalchemy import inspect

    before = {
        t: {ix["name"] for ix in inspect(world.db.connection()).get_indexes(t)}
        for t in ("registry_persons", "registry_person_versions")
    }
    world.ingest(world.persons_csv)
    after = {t: {ix["name"] for ix in inspect(world.db.connection()).get_indexes(t)} for t in before}
    assert after == before and "ix_registry_persons_name" in after["registry_persons"]
