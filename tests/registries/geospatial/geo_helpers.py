"""Fixtures of the geospatial registry tests: a department with the demo boundaries and addresses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from factories import make_department
from zhengwu.registries.geospatial.seed import geospatial_demo_seed

PER_COUNTY = 6
SEED = 7


@dataclass
class Geo:
    """The loaded demo province and the department that delivered it."""

    db: Session
    tmp: Path
    source: str
    department_id: int
    counts: dict[str, int]

    def file(self, name: str, text: str, encoding: str = "utf-8") -> Path:
        path = self.tmp / name
        path.write_bytes(text.encode(encoding))
        return path


@pytest.fixture
def geo(db: Session, tmp_path: Path) -> Geo:
    department = make_department(db, name="省自然资源厅")
    counts = geospatial_demo_seed(
        db,
        province_code="330000",
        seed=SEED,
        work_dir=tmp_path,
        per_county=PER_COUNTY,
        source=department.code,
    )
    return Geo(db, tmp_path, department.code, department.id, counts)
