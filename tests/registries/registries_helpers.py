"""Helpers and fixtures of the registry tests: a department, synthetic files, ingestion shortcuts."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from factories import SYSTEM, make_department
from zhengwu.registries.ingest import IngestResult, ingest
from zhengwu.registries.models import Person, PersonVersion
from zhengwu.synthetic import generate_entities, generate_persons, write_batches

PERSONS = 120
ENTITIES = 25


@dataclass
class World:
    """A department that delivers, and the synthetic files it delivers."""

    db: Session
    tmp: Path
    source: str
    department_id: int
    persons_csv: Path
    entities_csv: Path

    def ingest(self, path: Path, registry: str = "population", **kwargs: Any) -> IngestResult:
        kwargs.setdefault("actor", SYSTEM)
        kwargs.setdefault("source", self.source)
        return ingest(self.db, registry=registry, path=path, error_dir=self.tmp / "errors", **kwargs)

    def file(self, name: str, text: str, encoding: str = "utf-8") -> Path:
        path = self.tmp / name
        path.write_bytes(text.encode(encoding))
        return path

    def versions(self) -> int:
        """States the registry knows: superseded versions plus current rows."""
        closed = self.db.scalar(select(func.count()).select_from(PersonVersion)) or 0
        return closed + (self.db.scalar(select(func.count()).select_from(Person)) or 0)


def persons_rows(count: int = PERSONS) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for batch in generate_persons(count=count):
        rows.extend(batch.to_pylist())
    return rows


def csv_text(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    columns = columns or list(rows[0])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in columns])
    return out.getvalue()


@pytest.fixture
def world(db: Session, tmp_path: Path) -> World:
    department = make_department(db, name="省公安厅")
    persons = tmp_path / "persons.csv"
    entities = tmp_path / "entities.csv"
    write_batches(generate_persons(count=PERSONS), persons, progress=False)
    write_batches(generate_entities(count=ENTITIES, persons_count=PERSONS), entities, progress=False)
    return World(db, tmp_path, department.code, department.id, persons, entities)


def table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows)
