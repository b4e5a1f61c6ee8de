"""Lookup, search, history, verification (核验), quality report and batch history of the registries.

Who may see what
----------------
* Lookups, searches and histories: staff roles (platform admin, department data admin, reviewer,
  auditor, developer). Public users are refused: they will reach their own data through the
  citizen services, not through the registry.
* Personal data is **masked by default** (resident ID, names, phone, addresses, birth day) and shown
  in clear only to callers for whom :func:`may_see_clear` is true: the platform itself and platform
  administrators for now. The exchange will add the second case later: a service consumer holding a
  grant (``zhengwu.sharing``) for the population resource; that check belongs in
  :func:`may_see_clear` and nowhere else.
* Verification answers ``match`` only, and is open to every signed-in staff role; every lookup and
  every verification is written to the audit trail with the subject's key, which is what the
  GovStack ``myPersonalDataUsage`` will read later.

An invalid identifier raises the kernel's :class:`~zhengwu.identifiers.InvalidIdentifier` (a
``ValidationError``: 400 with the reason); a valid one that is not registered raises ``NotFound``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Role
from zhengwu.accounts.permissions import Actor, require_roles
from zhengwu.audit.services import audit_record
from zhengwu.db import BEIJING
from zhengwu.errors import NotFound, ValidationError
from zhengwu.identifiers import mask_name, mask_phone, mask_resident_id, validate_resident_id, validate_uscc
from zhengwu.registries.models import (
    ENTITY_FIELDS,
    PERSON_FIELDS,
    Entity,
    EntityVersion,
    Person,
    PersonVersion,
    Registry,
    RegistryBatch,
)
from zhengwu.registries.quality import source_figures
from zhengwu.registries.relations import RelationLink, relations_of
from zhengwu.registries.schemas import (
    BatchOut,
    EntityOut,
    FieldProvenance,
    Page,
    PersonOut,
    QualityReport,
    RelationOut,
    VersionOut,
)

READ_ROLES: Final = (Role.PLATFORM_ADMIN, Role.DATA_ADMIN, Role.REVIEWER, Role.AUDITOR, Role.DEVELOPER)
VERIFY_ROLES: Final = READ_ROLES
BATCH_ROLES: Final = (Role.PLATFORM_ADMIN, Role.DATA_ADMIN, Role.AUDITOR)
PERSON_OPTIONAL: Final = ("former_names", "current_region_code", "current_address", "phone", "status_date")
ENTITY_OPTIONAL: Final = (
    "former_names",
    "registration_authority",
    "registered_capital",
    "currency",
    "business_scope",
    "status_date",
)
MAX_PER_PAGE: Final = 100


def may_see_clear(actor: Actor) -> bool:
    """True when personal data may be shown unmasked to ``actor`` (see the module docstring)."""
    return actor.is_system or actor.has(Role.PLATFORM_ADMIN)


def _names(value: str | None) -> list[str]:
    return [n for n in (value or "").split("；") if n]


def _mask_names(value: str | None) -> str | None:
    return "；".join(mask_name(n) for n in _names(value)) or None


def mask_address(value: str | None) -> str | None:
    """Keep the administrative part a region code would reveal anyway, hide the rest."""
    if value is None:
        return None
    cut = max((value.find(s) + 1 for s in ("区", "县", "市") if value.find(s) >= 0), default=0)
    return value[:cut] + "＊＊＊" if cut else "＊＊＊"


def person_out(row: Any, *, clear: bool, as_of: dt.datetime | None = None) -> PersonOut:
    """The answer for one person's row (ORM object or any row with the same attributes), masked unless
    ``clear``; the lean HTTP path (:mod:`zhengwu.registries.hotpath`) builds its answers with it too."""
    data: dict[str, Any] = {f: getattr(row, f) for f in PERSON_FIELDS}
    data["former_names"] = _names(row.former_names)
    data["birth_date"] = row.birth_date.isoformat()
    if not clear:
        data["name"] = mask_name(row.name)
        data["former_names"] = [mask_name(n) for n in data["former_names"]]
        data["birth_date"] = f"{row.birth_date.year}-**-**"
        data["household_address"] = mask_address(row.household_address)
        data["current_address"] = mask_address(row.current_address)
        data["phone"] = mask_phone(row.phone) if row.phone else None
    return PersonOut(
        resident_id=row.resident_id if clear else mask_resident_id(row.resident_id),
        **data,
        masked=not clear,
        source_department=row.source_department,
        batch_id=row.batch_id,
        valid_from=row.valid_from,
        valid_to=getattr(row, "valid_to", None),
        as_of=as_of,
    )


def _entity_out(
    db: Session, row: Entity | EntityVersion, *, clear: bool, as_of: dt.datetime | None = None
) -> EntityOut:
    rep = db.get(Person, row.legal_representative_id)
    return entity_out(row, representative_name=None if rep is None else rep.name, clear=clear, as_of=as_of)


def entity_out(
    row: Any, *, representative_name: str | None, clear: bool, as_of: dt.datetime | None = None
) -> EntityOut:
    """The answer for one entity's row and its legal representative's name, masked unless ``clear``."""
    data: dict[str, Any] = {f: getattr(row, f) for f in ENTITY_FIELDS}
    data["former_names"] = _names(row.former_names)
    name = representative_name
    data["legal_representative_name"] = None if name is None else (name if clear else mask_name(name))
    if not clear:
        data["legal_representative_id"] = mask_resident_id(row.legal_representative_id)
    return EntityOut(
        uscc=row.uscc,
        **data,
        masked=not clear,
        source_department=row.source_department,
        batch_id=row.batch_id,
        valid_from=row.valid_from,
        valid_to=getattr(row, "valid_to", None),
        as_of=as_of,
    )


def _as_of_clause(model: type[PersonVersion] | type[EntityVersion], as_of: dt.datetime) -> Any:
    return and_(model.valid_from <= as_of, or_(model.valid_to.is_(None), model.valid_to > as_of))


_Current = TypeVar("_Current", Person, Entity)


def _current_at(row: _Current | None, when: dt.datetime) -> _Current | None:
    """The current row when it was already the registry's state at ``when`` (its open interval)."""
    return row if row is not None and row.valid_from <= when else None


def _aware(as_of: dt.datetime | dt.date | None) -> dt.datetime | None:
    if as_of is None:
        return None
    if not isinstance(as_of, dt.datetime):
        # A date asks for the end of that day (what the registry said when the day was over), Beijing time.
        as_of = dt.datetime.combine(as_of + dt.timedelta(days=1), dt.time(), BEIJING) - dt.timedelta(
            microseconds=1
        )
    if as_of.tzinfo is None:
        # A time without zone is what a person typed: Beijing time, the zone every user works in.
        as_of = as_of.replace(tzinfo=BEIJING)
    return as_of


def parse_as_of(value: str | None) -> dt.date | dt.datetime | None:
    """``as_of`` as typed: ``YYYY-MM-DD`` (end of that day) or an ISO date-time; empty means now."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationError(
            f"时点“{text}”无效，应为 YYYY-MM-DD 或 ISO 8601 时间",
            message_en="as_of must be YYYY-MM-DD or an ISO 8601 date-time",
            code="registries.as_of",
            field="as_of",
        ) from exc


def not_found(registry: Registry, *, at_time: bool = False) -> NotFound:
    """The error of a lookup of a valid identifier the registry does not hold (now, or ``at_time``)."""
    if registry is Registry.POPULATION:
        return NotFound(
            "人口基础库中没有该公民身份号码" + ("（在该时点）" if at_time else ""),
            message_en="no such person in the registry" + (" at that time" if at_time else ""),
            code="registries.person.not_found",
            field="resident_id",
        )
    return NotFound(
        "法人单位基础库中没有该统一社会信用代码" + ("（在该时点）" if at_time else ""),
        message_en="no such entity in the registry" + (" at that time" if at_time else ""),
        code="registries.entity.not_found",
        field="uscc",
    )


def person_get(
    db: Session,
    *,
    actor: Actor,
    resident_id: str,
    as_of: dt.datetime | dt.date | None = None,
    context: dict[str, Any] | None = None,
) -> PersonOut:
    """One person now, or as the registry said at ``as_of`` (a date means the end of that day).

    ``context`` (the calling system and the purpose, for the GovStack API) goes into the access record.
    """
    require_roles(actor, *READ_ROLES)
    key = validate_resident_id(resident_id)
    when = _aware(as_of)
    row: Person | PersonVersion | None
    if when is None:
        row = db.get(Person, key)
    else:
        row = db.scalars(
            select(PersonVersion).where(PersonVersion.resident_id == key, _as_of_clause(PersonVersion, when))
        ).first() or _current_at(db.get(Person, key), when)
    audit_record(
        db,
        actor=actor,
        action="registries.person.lookup",
        target_type="person",
        target_id=key,
        outcome="success" if row else "failure",
        details={"as_of": str(when) if when else None, **(context or {})},
    )
    if row is None:
        raise not_found(Registry.POPULATION, at_time=when is not None)
    out = person_out(row, clear=may_see_clear(actor), as_of=when)
    if may_see_clear(actor):
        out.relations = _relations_out(db, relations_of(db, key, as_of=when))
    return out


def _relations_out(db: Session, links: list[RelationLink]) -> list[RelationOut]:
    names = (
        dict(
            db.execute(
                select(Person.resident_id, Person.name).where(
                    Person.resident_id.in_({r.relative_id for r in links})
                )
            )
            .tuples()
            .all()
        )
        if links
        else {}
    )
    return [
        RelationOut(
            role=r.role,
            relative_id=r.relative_id,
            relative_name=names.get(r.relative_id),
            valid_from=r.valid_from,
            valid_to=r.valid_to,
            source_department=r.source_department,
            batch_id=r.batch_id,
        )
        for r in links
    ]


def person_relations(db: Session, *, actor: Actor, resident_id: str) -> list[RelationOut] | None:
    """Every family link of a person, current and ended, oldest first; None if the caller may not see them."""
    require_roles(actor, *READ_ROLES)
    key = validate_resident_id(resident_id)
    if not may_see_clear(actor):
        return None
    audit_record(db, actor=actor, action="registries.person.relations", target_type="person", target_id=key)
    return _relations_out(db, relations_of(db, key, history=True))


def entity_get(
    db: Session,
    *,
    actor: Actor,
    uscc: str,
    as_of: dt.datetime | dt.date | None = None,
    context: dict[str, Any] | None = None,
) -> EntityOut:
    """One legal entity now, or as the registry said at ``as_of``."""
    require_roles(actor, *READ_ROLES)
    key = validate_uscc(uscc)
    when = _aware(as_of)
    row: Entity | EntityVersion | None
    if when is None:
        row = db.get(Entity, key)
    else:
        row = db.scalars(
            select(EntityVersion).where(EntityVersion.uscc == key, _as_of_clause(EntityVersion, when))
        ).first() or _current_at(db.get(Entity, key), when)
    audit_record(
        db,
        actor=actor,
        action="registries.entity.lookup",
        target_type="entity",
        target_id=key,
        outcome="success" if row else "failure",
        details={"as_of": str(when) if when else None, **(context or {})},
    )
    if row is None:
        raise not_found(Registry.ENTITIES, at_time=when is not None)
    return _entity_out(db, row, clear=may_see_clear(actor), as_of=when)


@dataclass(frozen=True)
class History:
    """Versions of one record, newest first, and the provenance of each current value."""

    versions: list[VersionOut]
    provenance: dict[str, FieldProvenance]


def _history(versions: list[Any], fields: tuple[str, ...], show: Any) -> History:
    out: list[VersionOut] = []
    previous: Any = None
    for version in versions:  # oldest first
        changed = {
            f: show(f, getattr(version, f))
            for f in fields
            if previous is None or getattr(previous, f) != getattr(version, f)
        }
        out.append(
            VersionOut(
                valid_from=version.valid_from,
                valid_to=getattr(version, "valid_to", None),
                batch_id=version.batch_id,
                source_department=version.source_department,
                changed=changed,
            )
        )
        previous = version
    provenance: dict[str, FieldProvenance] = {}
    if versions:
        latest = versions[-1]
        for f in fields:
            origin = latest
            for version in reversed(versions):
                if getattr(version, f) != getattr(latest, f):
                    break
                origin = version
            provenance[f] = FieldProvenance(
                since=origin.valid_from, batch_id=origin.batch_id, source_department=origin.source_department
            )
    return History(list(reversed(out)), provenance)


def person_history(db: Session, *, actor: Actor, resident_id: str) -> History:
    """Every version of one person with what changed, and where each current value came from."""
    require_roles(actor, *READ_ROLES)
    key = validate_resident_id(resident_id)
    versions: list[Any] = list(
        db.scalars(
            select(PersonVersion)
            .where(PersonVersion.resident_id == key)
            .order_by(PersonVersion.valid_from, PersonVersion.id)
        )
    )
    # The superseded states, then the current one (see zhengwu.registries.models).
    versions += [r for r in (db.get(Person, key),) if r is not None]
    if not versions:
        raise NotFound(
            "人口基础库中没有该公民身份号码",
            message_en="no such person in the registry",
            code="registries.person.not_found",
            field="resident_id",
        )
    audit_record(db, actor=actor, action="registries.person.history", target_type="person", target_id=key)
    clear = may_see_clear(actor)
    masks: dict[str, Callable[[Any], Any]] = {
        "name": mask_name,
        "phone": mask_phone,
        "household_address": mask_address,
        "current_address": mask_address,
        "former_names": _mask_names,
    }

    def show(field: str, value: Any) -> Any:
        if value is None or clear or field not in masks:
            return value.isoformat() if isinstance(value, dt.date) else value
        return masks[field](value)

    return _history(versions, PERSON_FIELDS, show)


def entity_history(db: Session, *, actor: Actor, uscc: str) -> History:
    """Every version of one legal entity with what changed, and where each current value came from."""
    require_roles(actor, *READ_ROLES)
    key = validate_uscc(uscc)
    versions: list[Any] = list(
        db.scalars(
            select(EntityVersion)
            .where(EntityVersion.uscc == key)
            .order_by(EntityVersion.valid_from, EntityVersion.id)
        )
    )
    versions += [r for r in (db.get(Entity, key),) if r is not None]
    if not versions:
        raise NotFound(
            "法人单位基础库中没有该统一社会信用代码",
            message_en="no such entity in the registry",
            code="registries.entity.not_found",
            field="uscc",
        )
    audit_record(db, actor=actor, action="registries.entity.history", target_type="entity", target_id=key)
    clear = may_see_clear(actor)

    def show(field: str, value: Any) -> Any:
        if field == "legal_representative_id" and not clear:
            return mask_resident_id(value)
        return value.isoformat() if isinstance(value, dt.date) else value

    return _history(versions, ENTITY_FIELDS, show)


def _page(page: int, per_page: int) -> tuple[int, int]:
    return max(page, 1), min(max(per_page, 1), MAX_PER_PAGE)


def _prefix(value: str | None) -> str | None:
    value = (value or "").strip()
    # LIKE wildcards typed by a person are literal characters of a name.
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") if value else None


def person_search(
    db: Session,
    *,
    actor: Actor,
    name_prefix: str | None = None,
    region: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page:
    """Persons whose name starts with ``name_prefix``, registered in household region ``region``."""
    require_roles(actor, *READ_ROLES)
    page, per_page = _page(page, per_page)
    query = select(Person)
    prefix = _prefix(name_prefix)
    if prefix:
        query = query.where(Person.name.like(prefix + "%", escape="\\"))
    if region:
        query = query.where(Person.household_region_code.like(_region_prefix(region) + "%"))
    if not prefix and not region:
        raise ValidationError(
            "请至少输入姓名开头或地区",
            message_en="give a name prefix or a region",
            code="registries.search.empty",
            field="q",
        )
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(
        query.order_by(Person.name, Person.resident_id).offset((page - 1) * per_page).limit(per_page)
    ).all()
    audit_record(
        db,
        actor=actor,
        action="registries.person.search",
        target_type="person",
        details={"name_prefix": name_prefix, "region": region, "results": total},
    )
    clear = may_see_clear(actor)
    items = [
        {**person_out(r, clear=clear).model_dump(mode="json"), "key": r.resident_id if clear else None}
        for r in rows
    ]
    return Page(items=items, total=total, page=page, per_page=per_page)


def _region_prefix(region: str) -> str:
    code = region.strip()
    if not (code.isdigit() and len(code) == 6):
        raise ValidationError(
            f"地区代码“{region}”应为6位数字",
            message_en="region must be a 6-digit code",
            code="registries.search.region",
            field="region",
        )
    # 330000 means the whole province, 330100 the whole city.
    return code.rstrip("0") if code.endswith("00") else code


def entity_search(
    db: Session,
    *,
    actor: Actor,
    name_prefix: str | None = None,
    region: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page:
    """Legal entities whose name starts with ``name_prefix``, registered in ``region``."""
    require_roles(actor, *READ_ROLES)
    page, per_page = _page(page, per_page)
    query = select(Entity)
    prefix = _prefix(name_prefix)
    if prefix:
        query = query.where(Entity.name.like(prefix + "%", escape="\\"))
    if region:
        query = query.where(Entity.region_code.like(_region_prefix(region) + "%"))
    if not prefix and not region:
        raise ValidationError(
            "请至少输入名称开头或地区",
            message_en="give a name prefix or a region",
            code="registries.search.empty",
            field="q",
        )
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(
        query.order_by(Entity.name, Entity.uscc).offset((page - 1) * per_page).limit(per_page)
    ).all()
    clear = may_see_clear(actor)
    items = [{**_entity_out(db, r, clear=clear).model_dump(mode="json"), "key": r.uscc} for r in rows]
    return Page(items=items, total=total, page=page, per_page=per_page)


def person_matches(row: Any, name: str) -> bool:
    """The rule of person 核验 for a row with ``name`` and ``status`` (or None): living and same name."""
    return row is not None and row.status == "living" and row.name == name.strip()


def entity_matches(row: Any, name: str) -> bool:
    """The rule of entity 核验 for a row with ``name`` and ``status`` (or None): 存续 and same name."""
    return row is not None and row.status == "存续" and row.name == name.strip()


def person_verify(
    db: Session, *, actor: Actor, resident_id: str, name: str, context: dict[str, Any] | None = None
) -> bool:
    """核验: True when the ID belongs to a *living* person of exactly this name. Discloses nothing else."""
    require_roles(actor, *VERIFY_ROLES)
    key = validate_resident_id(resident_id)
    # Two columns, not an ORM object: verification is the hottest path of the registry.
    row = db.execute(select(Person.name, Person.status).where(Person.resident_id == key)).first()
    match = person_matches(row, name)
    audit_record(
        db,
        actor=actor,
        action="registries.person.verify",
        target_type="person",
        target_id=key,
        details={"match": match, **(context or {})},
    )
    return match


def entity_verify(
    db: Session, *, actor: Actor, uscc: str, name: str, context: dict[str, Any] | None = None
) -> bool:
    """核验: True when the USCC is registered under this name and the entity exists (存续)."""
    require_roles(actor, *VERIFY_ROLES)
    key = validate_uscc(uscc)
    row = db.get(Entity, key)
    match = entity_matches(row, name)
    audit_record(
        db,
        actor=actor,
        action="registries.entity.verify",
        target_type="entity",
        target_id=key,
        details={"match": match, **(context or {})},
    )
    return match


def batch_out(batch: RegistryBatch) -> BatchOut:
    """The public form of a batch record (the error file's path on the server is not disclosed)."""
    return BatchOut(
        id=batch.id,
        registry=batch.registry_name,
        source_department=batch.source_department,
        file_name=batch.file_name,
        file_format=batch.file_format,
        mode=batch.mode,
        status=batch.status,
        rows_read=batch.rows_read,
        rows_invalid=batch.rows_invalid,
        rows_inserted=batch.rows_inserted,
        rows_updated=batch.rows_updated,
        rows_unchanged=batch.rows_unchanged,
        message=batch.message,
        has_error_file=batch.error_file is not None,
        actor_username=batch.actor_username,
        started_at=batch.started_at,
        finished_at=batch.finished_at,
    )


def batch_list(
    db: Session,
    *,
    actor: Actor,
    registry: Registry | str | None = None,
    limit: int = 100,
    batch_names: Sequence[str] | None = None,
) -> list[BatchOut]:
    """The ingestion history, newest first: of one registry, of the batch names given (the credit and
    geospatial registries record theirs under names of their own), or all."""
    require_roles(actor, *BATCH_ROLES)
    query = select(RegistryBatch).order_by(RegistryBatch.id.desc()).limit(limit)
    if registry is not None:
        query = query.where(RegistryBatch.registry_name == Registry(registry).value)
    if batch_names is not None:
        query = query.where(RegistryBatch.registry_name.in_(list(batch_names)))
    return [batch_out(b) for b in db.scalars(query)]


def batch_error_file(db: Session, *, actor: Actor, batch_id: int) -> tuple[str, str]:
    """``(path, download name)`` of a batch's error file."""
    require_roles(actor, *BATCH_ROLES)
    batch = db.get(RegistryBatch, batch_id)
    if batch is None or batch.error_file is None or not Path(batch.error_file).is_file():
        raise NotFound(
            "该批次没有错误文件", message_en="this batch has no error file", code="registries.batch.no_errors"
        )
    audit_record(
        db, actor=actor, action="registries.batch.errors", target_type="registry_batch", target_id=batch_id
    )
    return batch.error_file, f"{batch.registry_name}-batch-{batch.id}-errors.csv"


def quality_report(
    db: Session, *, actor: Actor, registry: Registry | str, stale_days: int = 365
) -> QualityReport:
    """Completeness per optional field, invalid rows per batch, probable duplicates, stale records.

    Duplicates: persons sharing name, birth date and household region under different resident IDs;
    entities sharing a name under different USCCs. Stale: not changed by any delivery for ``stale_days``.
    """
    require_roles(actor, *BATCH_ROLES)
    registry = Registry(registry)
    model: type[Person] | type[Entity] = Person if registry is Registry.POPULATION else Entity
    optional = PERSON_OPTIONAL if registry is Registry.POPULATION else ENTITY_OPTIONAL
    figures = source_figures(
        db, model=model, optional=optional, batch_names=(registry.value,), stale_days=stale_days
    )
    if registry is Registry.POPULATION:
        groups = (
            select(Person.name)
            .group_by(Person.name, Person.birth_date, Person.household_region_code)
            .having(func.count() > 1)
        )
        rule = "姓名、出生日期、户籍地相同而公民身份号码不同"
    else:
        groups = select(Entity.name).group_by(Entity.name).having(func.count() > 1)
        rule = "名称相同而统一社会信用代码不同"
    duplicates = db.scalar(select(func.count()).select_from(groups.subquery())) or 0
    return QualityReport(
        registry=registry.value,
        records=figures.records,
        stale_days=stale_days,
        stale=figures.stale,
        duplicates=duplicates,
        duplicate_rule=rule,
        completeness=figures.completeness,
        sources=figures.sources,
        batches=batch_list(db, actor=actor, registry=registry, limit=20),
    )
