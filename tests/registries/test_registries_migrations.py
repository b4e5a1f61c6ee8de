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


def _round_trip(url: str) -> None:
    engine = make_engine(url)
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
                    {**PERSON, "t": dt.datetime(2026, 3, 1, tzinfo=dt.UTC)},
                )
        downgrade(engine, "registries_more_0004")
        with engine.connect() as conn:
            hashes = [
                conn.execute(text(f"SELECT row_hash FROM {table}")).scalar_one()  # noqa: S608
                for table in ("registry_persons", "registry_person_versions")
            ]
        # What the validator computed from the delivered values (these are stored as delivered).
        assert hashes == [row_hash(tuple(PERSON.values()))] * 2
        upgrade(engine)
        with engine.connect() as conn:
            names = conn.execute(text("SELECT name FROM registry_persons")).scalars().all()
        assert names == ["张三"]
    finally:
        engine.dispose()


def test_row_hashes_come_back_on_downgrade_sqlite(tmp_path: Path) -> None:
    _round_trip(f"sqlite:///{tmp_path / 'rt.db'}")


@pytest.mark.postgres_only
def test_row_hashes_come_back_on_downgrade_postgresql(empty_pg_database_url: str) -> None:
    _round_trip(empty_pg_database_url)
