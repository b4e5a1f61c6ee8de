"""Migrations of the registries that move data: ``registries_more_0005`` drops the row hashes of the
population and entity tables, and its downgrade computes them back from the stored values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text

from zhengwu.db import downgrade, make_engine, upgrade
from zhengwu.registries.validation import row_hash

PERSON = {
    "resident_id": "11010519491231002X",
    "name": "张三",
    "former_names": None,
    "sex": "F",
    "birth_date": dt.date(1949, 12, 31),
    "ethnicity": "01",
    "nationality": "CHN",
    "household_region_code": "110105",
    "household_address": "北京市朝阳区某路1号",
    "current_region_code": None,
    "current_address": None,
    "phone": "13800000000",
    "status": "living",
    "status_date": None,
}


# More rows than the downgrade reads in one page (10,000), so that it pages.
ROWS = 10_001


def _round_trip(url: str) -> None:
    engine = make_engine(url)
    persons = [PERSON] + [
        dict(PERSON, resident_id=f"{n:017d}X", name=f"人{n}", former_names=None if n % 2 else "旧名")
        for n in range(1, ROWS)
    ]
    try:
        upgrade(engine)
        columns = ", ".join(PERSON)
        values = ", ".join(f":{c}" for c in PERSON)
        with engine.begin() as conn:
            for table in ("registry_persons", "registry_person_versions"):
                extra = ", valid_to" if table.endswith("versions") else ""
                conn.execute(
                    text(
                        f"INSERT INTO {table} ({columns}, batch_id, source_department, valid_from{extra}) "  # noqa: S608
                        f"VALUES ({values}, 1, 'GA', :t{', :t' if extra else ''})"
                    ),
                    [{**p, "t": dt.datetime(2026, 3, 1, tzinfo=dt.UTC)} for p in persons],
                )
        downgrade(engine, "registries_more_0004")
        # What the validator computed from the delivered values (these are stored as delivered).
        expected = {p["resident_id"]: row_hash(tuple(p.values())) for p in persons}
        with engine.connect() as conn:
            for table in ("registry_persons", "registry_person_versions"):
                hashes = dict(conn.execute(text(f"SELECT resident_id, row_hash FROM {table}")).all())  # noqa: S608
                assert hashes == expected, table
        upgrade(engine)
        with engine.connect() as conn:
            names = conn.execute(text("SELECT name FROM registry_persons")).scalars().all()
        assert len(names) == ROWS and "张三" in names
    finally:
        engine.dispose()


def test_row_hashes_come_back_on_downgrade_sqlite(tmp_path: Path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'rt.db'}")


@pytest.mark.postgres_only
def test_row_hashes_come_back_on_downgrade_postgresql(empty_pg_database_url: str) -> None:
    _round_trip(empty_pg_database_url)
