"""Seed the demo organisation: departments at three levels and one user per role.

The organisation is deterministic for a given seed, so that a second ``zhengwu demo`` start finds the
same data and does not seed again (the fact is kept in ``platform_state``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import DepartmentLevel, PlatformState, Role
from zhengwu.accounts.permissions import Actor
from zhengwu.accounts.schemas import DepartmentIn, UserIn
from zhengwu.accounts.services import department_create, user_create
from zhengwu.catalog.seed import catalog_demo_seed
from zhengwu.db import utcnow
from zhengwu.identifiers import counties, org_code_check_digit, region_lookup, regions_all, uscc_check_char
from zhengwu.opendata.seed import opendata_demo_seed
from zhengwu.registries.credit.demo import credit_demo_seed
from zhengwu.registries.geospatial.seed import geospatial_demo_seed
from zhengwu.registries.ingest import ingest
from zhengwu.registries.relations import relations_ingest, synthetic_relations
from zhengwu.sharing.demo import sharing_demo_seed
from zhengwu.synthetic import generate_entities, generate_persons, write_batches

DEMO_STATE_KEY = "demo_seed"
DEMO_PASSWORD = "Zhengwu@2026"  # noqa: S105 - printed on purpose: demo sign-ins for a local demo only

# (code suffix, name suffix) of provincial departments; the first is the platform's operator.
PROVINCIAL = [
    ("SJJ", "大数据发展管理局"),
    ("GA", "公安厅"),
    ("SCJG", "市场监督管理局"),
    ("MZ", "民政厅"),
    ("RS", "人力资源和社会保障厅"),
    ("ZRZY", "自然资源厅"),
    ("WJ", "卫生健康委员会"),
    ("JY", "教育厅"),
    ("FGW", "发展和改革委员会"),
    ("SW", "税务局"),
]
CITY = [
    ("SJJ", "大数据发展管理局"),
    ("GA", "公安局"),
    ("SCJG", "市场监督管理局"),
    ("MZ", "民政局"),
    ("RS", "人力资源和社会保障局"),
]
COUNTY = [("GA", "公安局"), ("SCJG", "市场监督管理局")]


@dataclass(frozen=True)
class DemoAccount:
    username: str
    display_name: str
    roles: tuple[Role, ...]
    department_code: str | None


@dataclass(frozen=True)
class DemoSummary:
    province_code: str
    province_name: str
    departments: int
    accounts: list[DemoAccount]
    password: str
    already_seeded: bool
    resources: int = 0
    registry_rows: dict[str, int] = field(default_factory=dict)


def _organ_uscc(rng: random.Random, region_code: str) -> str:
    # 1 = 机构编制 (registration authority), 1 = 机关 (entity type); the body carries a valid GB 11714 code.
    body8 = f"{rng.randrange(10**7, 10**8)}"
    org = body8 + org_code_check_digit(body8)
    body17 = "11" + region_code + org
    return body17 + uscc_check_char(body17)


def demo_is_seeded(db: Session) -> bool:
    """Whether the demo organisation exists already."""
    return db.get(PlatformState, DEMO_STATE_KEY) is not None


def _children(code: str, level: str) -> list[str]:
    return sorted(
        r.code for r in regions_all() if r.parent == code and r.level == level and r.valid_to is None
    )


def demo_seed(
    db: Session,
    *,
    province_code: str,
    seed: int = 2026,
    deadline_working_days: int = 10,
    registries_dir: Path | None = None,
) -> DemoSummary:
    """Create the whole demo under ``province_code`` unless it exists; idempotent.

    The organisation (departments and accounts), then a realistic catalog, then share requests, grants
    and corrections between the departments, and, when ``registries_dir`` is given, synthetic persons
    and legal entities delivered to the base registries by the public security and market regulation
    departments (files and error reports are kept in that directory).
    """
    province = region_lookup(province_code)
    if demo_is_seeded(db):
        return DemoSummary(province.code, province.name, 0, demo_accounts(province.code), DEMO_PASSWORD, True)
    codes = demo_organisation_seed(db, province_code=province.code, seed=seed)
    resources = catalog_demo_seed(db, seed=seed)
    sharing = sharing_demo_seed(db, seed=seed, deadline_working_days=deadline_working_days)
    open_datasets = opendata_demo_seed(db)
    registered = (
        demo_registries_seed(db, province_code=province.code, seed=seed, work_dir=registries_dir)
        if registries_dir is not None
        else {}
    )
    registered |= credit_demo_seed(db, seed=seed) if registered else {}
    db.add(
        PlatformState(
            key=DEMO_STATE_KEY,
            value={
                "seed": seed,
                "province_code": province.code,
                "departments": len(codes),
                "resources": resources,
                "share_requests": sharing.get("requests", 0),
                "open_datasets": open_datasets,
                **registered,
                "seeded_at": utcnow().isoformat(),
            },
        )
    )
    db.flush()
    return DemoSummary(
        province.code,
        province.name,
        len(codes),
        demo_accounts(province.code),
        DEMO_PASSWORD,
        False,
        resources=resources,
        registry_rows=registered,
    )


DEMO_PERSONS = 5_000
DEMO_ENTITIES = 1_000


def demo_registries_seed(db: Session, *, province_code: str, seed: int, work_dir: Path) -> dict[str, int]:
    """Deliver synthetic persons (by 公安厅) and legal entities (by 市场监督管理局) to the base registries
    through the real ingestion path, as those departments would; returns the rows inserted."""
    work_dir.mkdir(parents=True, exist_ok=True)
    actor = Actor.system("demo-seed")
    persons = work_dir / "demo-persons.csv"
    entities = work_dir / "demo-entities.csv"
    write_batches(
        generate_persons(count=DEMO_PERSONS, province_code=province_code, seed=seed), persons, progress=False
    )
    write_batches(
        generate_entities(
            count=DEMO_ENTITIES, province_code=province_code, seed=seed, persons_count=DEMO_PERSONS
        ),
        entities,
        progress=False,
    )
    counts: dict[str, int] = {}
    for registry, path, source in (("population", persons, "GA"), ("entities", entities, "SCJG")):
        result = ingest(
            db,
            actor=actor,
            registry=registry,
            source=f"{province_code}-{source}",
            path=path,
            error_dir=work_dir / "errors",
        )
        counts[f"registry_{registry}"] = result.inserted
    counts |= geospatial_demo_seed(db, province_code=province_code, seed=seed, work_dir=work_dir)
    # Family links between the persons (marriages, parents), delivered by the civil affairs department.
    relations = work_dir / "demo-relations.csv"
    synthetic_relations(persons, relations, seed=seed)
    links = relations_ingest(
        db,
        actor=actor,
        source=f"{province_code}-MZ",
        path=relations,
        mode="partial",
        error_dir=work_dir / "errors",
    )
    counts["registry_relations"] = links.inserted
    return counts


def demo_organisation_seed(db: Session, *, province_code: str, seed: int = 2026) -> dict[str, int]:
    """Departments at three levels and the demo accounts; returns department ids by code.

    Not idempotent on its own: :func:`demo_seed` guards it.
    """
    province = region_lookup(province_code)
    actor = Actor.system("demo-seed")
    rng = random.Random(seed)
    codes: dict[str, int] = {}
    prov_prefix = province.code
    for suffix, name in PROVINCIAL:
        dept = department_create(
            db,
            actor=actor,
            data=DepartmentIn(
                code=f"{prov_prefix}-{suffix}",
                name=f"{province.name}{name}",
                level=DepartmentLevel.PROVINCIAL,
                region_code=province.code,
                uscc=_organ_uscc(rng, province.code),
            ),
        )
        codes[dept.code] = dept.id
    cities = _children(province.code, "prefecture")[:3]
    for city_code in cities:
        city = region_lookup(city_code)
        for suffix, name in CITY:
            parent = codes.get(f"{prov_prefix}-{suffix}")
            dept = department_create(
                db,
                actor=actor,
                data=DepartmentIn(
                    code=f"{city.code}-{suffix}",
                    name=f"{city.name}{name}",
                    level=DepartmentLevel.CITY,
                    region_code=city.code,
                    uscc=_organ_uscc(rng, city.code),
                    parent_id=parent,
                ),
            )
            codes[dept.code] = dept.id
        for county in [c for c in counties(under=city.code) if c.level == "county"][:2]:
            for suffix, name in COUNTY:
                dept = department_create(
                    db,
                    actor=actor,
                    data=DepartmentIn(
                        code=f"{county.code}-{suffix}",
                        name=f"{county.name}{name}",
                        level=DepartmentLevel.COUNTY,
                        region_code=county.code,
                        uscc=_organ_uscc(rng, county.code),
                        parent_id=codes[f"{city.code}-{suffix}"],
                    ),
                )
                codes[dept.code] = dept.id
    accounts = demo_accounts(province.code)
    for account in accounts:
        user_create(
            db,
            actor=actor,
            data=UserIn(
                username=account.username,
                display_name=account.display_name,
                password=DEMO_PASSWORD,
                department_id=codes[account.department_code] if account.department_code else None,
                roles=list(account.roles),
            ),
        )
    return codes


def demo_accounts(province_code: str) -> list[DemoAccount]:
    """The demo sign-ins: one per role, and data administrators for the main provincial departments."""
    p = province_code
    return [
        DemoAccount("admin", "平台管理员 王敏", (Role.PLATFORM_ADMIN,), f"{p}-SJJ"),
        DemoAccount("reviewer", "目录审核员 李强", (Role.REVIEWER,), f"{p}-SJJ"),
        DemoAccount("auditor", "安全审计员 赵蕾", (Role.AUDITOR,), f"{p}-SJJ"),
        DemoAccount("ga_admin", "公安厅数据管理员 陈刚", (Role.DATA_ADMIN,), f"{p}-GA"),
        DemoAccount("scjg_admin", "市场监管局数据管理员 刘洋", (Role.DATA_ADMIN,), f"{p}-SCJG"),
        DemoAccount("rs_admin", "人社厅数据管理员 周静", (Role.DATA_ADMIN,), f"{p}-RS"),
        DemoAccount("ga_dev", "公安厅开发者 孙浩", (Role.DEVELOPER,), f"{p}-GA"),
        DemoAccount("citizen", "市民 张三", (Role.PUBLIC_USER,), None),
        DemoAccount("company", "企业用户 某科技有限公司", (Role.PUBLIC_USER,), None),
    ]


def demo_state(db: Session) -> dict[str, object] | None:
    """What the demo seeding recorded, if it ran."""
    row = db.scalar(select(PlatformState).where(PlatformState.key == DEMO_STATE_KEY))
    return dict(row.value) if row else None
