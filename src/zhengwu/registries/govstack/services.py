"""The base registries through the GovStack Digital Registries BB API (data API template 1.3.0).

The template (GovStackWorkingGroup/bb-digital-registries, ``api/GovStack_Digital_registries_BB_Data_API
_template-1.3.0.yaml``) serves every registry of an instance under ``/data/{registryname}/{versionnumber}``
with list (search, filter, ordering, page, page_size, ``query.<field>``), ``exists``, ``read``,
``create``, ``update``, ``update-or-create`` and ``{ID}/delete``, plus ``MyPersonalDataUsage``, which
tells a person who read their data. Every call names the calling system in the
``Information-Mediator-Client`` header (X-Road client identifier ``INSTANCE/CLASS/MEMBER[/SUBSYSTEM]``).

Here the registries are ``population`` and ``entities``, version ``1.0``, read and written as below, and
two read-only ones: ``credit`` (the published social credit registry, :mod:`.credit`) and ``addresses``
(the standard addresses of the geospatial registry, :mod:`.addresses`). A record's ``content`` is the
record as :mod:`zhengwu.registries.services` gives it to the caller, **masked by default** like
everywhere else, with the key also under ``ID``. ``exists`` and ``read`` only take the key and the
name as query fields: querying by any other field would let a caller probe values it may not see.
Writes (registry managers only: platform administrators and data administrators of a department) are
one-row ingestion batches of the caller's department, so they are validated by the same rules and keep
history and provenance; ``delete`` ends the record's current state (it becomes a closed version, so
"as of" questions about the past still work) and is refused while an entity names the person.

Every read of a person's data (lookup, verification, history, relations; by any API or page) is in the
audit trail with the reader's department; reads through this API also record the calling system and
the purpose (``X-Road-Issue`` header, percent-encoded UTF-8). ``MyPersonalDataUsage`` answers from there,
for the population registry (``DatabaseID=population``: lookups, verifications, history, relations)
and for the credit registry (``DatabaseID=credit``: subject views and ``exists``, searches by the
person's ID, credit checks), both when ``DatabaseID`` is left out.

Writes to a read-only registry (``credit``, ``addresses``) answer **403** with code
``govstack.read_only``. The template gives the write operations no error responses at all (only 200,
204 for delete), so it suggests nothing; 405 would say the HTTP method is wrong for the resource while
the same paths accept writes for ``population``; our error hierarchy has no "method" error and maps
"the caller may not do this" (:class:`~zhengwu.errors.PermissionDenied`) to 403, and a write by a
non-manager to ``population`` is a 403 already. The distinct code tells a client that no role would
help: the credit registry is written by its ingestion and its own workflows (lists, repair), the
geospatial registry by its ingestion.
"""

from __future__ import annotations

import csv
import enum
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote

from sqlalchemy import and_, func, or_, select, text
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department, Role
from zhengwu.accounts.permissions import Actor, require_authenticated, require_roles
from zhengwu.audit.models import AuditEvent
from zhengwu.audit.services import audit_record
from zhengwu.db import utcnow
from zhengwu.errors import Conflict, NotFound, PermissionDenied, ValidationError
from zhengwu.identifiers import validate_resident_id, validate_uscc
from zhengwu.registries.ingest import TABLES, IngestResult, ingest
from zhengwu.registries.models import ENTITY_FIELDS, PERSON_FIELDS, Entity, Person, Registry
from zhengwu.registries.services import (
    READ_ROLES,
    entity_get,
    entity_search,
    entity_verify,
    person_get,
    person_search,
    person_verify,
)

VERSIONS: Final = ("1.0",)
WRITE_ROLES: Final = (Role.PLATFORM_ADMIN, Role.DATA_ADMIN)
KEYS: Final = {Registry.POPULATION: "resident_id", Registry.ENTITIES: "uscc"}
#: The fields ``exists`` and ``read`` may be asked by: the key (or ID) and the name.
QUERY_FIELDS: Final = {"ID", "resident_id", "uscc", "name"}
#: Audit actions that are a read of one person's data.
PERSON_READS: Final = (
    "registries.person.lookup",
    "registries.person.verify",
    "registries.person.history",
    "registries.person.relations",
)
#: Audit actions (target ``credit_subject``) that are a read of one subject's credit data.
CREDIT_READS: Final = (
    "credit.subject.view",
    "credit.subject.exists",
    "credit.record.search",
    "credit.record.history",
    "credit.check",
)
# X-Road identifier characters (X-Road REST protocol): INSTANCE/CLASS/MEMBER with an optional SUBSYSTEM.
_CLIENT_RE: Final = re.compile(r"[A-Za-z0-9'()+,\-.=?]{1,255}(/[A-Za-z0-9'()+,\-.=?]{1,255}){2,3}")


class ReadOnlyRegistry(enum.StrEnum):
    """Registries this API serves for reading only (written by their own ingestion and workflows)."""

    CREDIT = "credit"
    ADDRESSES = "addresses"


#: What ``/data/{registryname}/...`` may name.
ServedRegistry = Registry | ReadOnlyRegistry


@dataclass(frozen=True)
class Caller:
    """The calling system (Information Mediator client) and the purpose it states."""

    client: str
    purpose: str | None

    def context(self) -> dict[str, Any]:
        return {"client": self.client, "purpose": self.purpose, "via": "govstack"}


def caller_of(client: str | None, purpose: str | None) -> Caller:
    """Check the ``Information-Mediator-Client`` header; it is required by the template."""
    value = (client or "").strip()
    if not _CLIENT_RE.fullmatch(value):
        raise ValidationError(
            "缺少或无效的 Information-Mediator-Client 请求头，格式应为 INSTANCE/CLASS/MEMBER/SUBSYSTEM",
            message_en="missing or invalid Information-Mediator-Client header "
            "(INSTANCE/CLASS/MEMBER/SUBSYSTEM)",
            code="govstack.client",
            field="Information-Mediator-Client",
        )
    # HTTP headers are ASCII: a purpose in Chinese comes percent-encoded (UTF-8).
    return Caller(value, unquote((purpose or "").strip())[:200] or None)


def registry_of(name: str, version: str) -> ServedRegistry:
    """The registry served under ``/data/{name}/{version}``."""
    registry: ServedRegistry
    try:
        registry = Registry(name)
    except ValueError:
        try:
            registry = ReadOnlyRegistry(name)
        except ValueError:
            raise NotFound(
                f"没有名为“{name}”的基础库", message_en=f"no registry '{name}'", code="govstack.registry"
            ) from None
    if version not in VERSIONS:
        raise NotFound(
            f"基础库 {name} 没有版本 {version}",
            message_en=f"registry {name} has no version {version}",
            code="govstack.version",
        )
    return registry


def read_only_refused(actor: Actor, registry: ReadOnlyRegistry) -> PermissionDenied:
    """The error a write to a read-only registry answers (403 ``govstack.read_only``; module docstring)."""
    require_authenticated(actor)
    return PermissionDenied(
        f"基础库 {registry.value} 通过本接口只读：它由自身的数据归集和业务流程写入",
        message_en=f"registry {registry.value} is read-only through this API "
        "(it is written by its own ingestion and workflows)",
        code="govstack.read_only",
    )


def _content(registry: Registry, record: dict[str, Any]) -> dict[str, Any]:
    key = KEYS[registry]
    return {"ID": record[key], **record}


def filters_check(filters: Iterable[str], allowed: Iterable[str]) -> None:
    """Refuse ``query.<field>`` list filters outside ``allowed``: 400 naming them."""
    unknown = sorted(set(filters) - set(allowed))
    if unknown:
        raise ValidationError(
            "不支持按这些字段筛选：" + "、".join(unknown),
            message_en="cannot filter by: " + ", ".join(unknown),
            code="govstack.filter",
            field="query",
        )


def query_id(
    query: dict[str, Any],
    *,
    allowed: Iterable[str],
    key_field: str,
    zh: str,
    en: str,
    id_hint_zh: str = "",
    id_hint_en: str = "",
) -> str:
    """The ID an ``exists``/``read`` query asks for (under ``ID`` or ``key_field``), as given.

    Fields outside ``allowed`` are refused (400: ``zh``/``en`` say what may be asked, followed by the
    fields refused): asking by other fields would let a caller probe values. A query without the ID is
    refused too, the hints naming what the ID is in that registry."""
    unknown = sorted(set(query) - set(allowed))
    if unknown:
        raise ValidationError(
            zh + "、".join(unknown),
            message_en=en + ", ".join(unknown),
            code="govstack.query.field",
            field="query.content",
        )
    key = query.get("ID") or query.get(key_field)
    if not isinstance(key, str) or not key.strip():
        raise ValidationError(
            "查询条件须包含 ID" + id_hint_zh,
            message_en="the query needs the ID" + id_hint_en,
            code="govstack.query.id",
            field="query.content.ID",
        )
    return key


def not_found() -> NotFound:
    """What ``read`` answers for a record it does not find (the template's 404 ``no record found``)."""
    return NotFound("no record found", message_en="no record found", code="govstack.not_found")


def _query_key(registry: Registry, query: dict[str, Any]) -> tuple[str, str | None]:
    key = query_id(
        query,
        allowed=QUERY_FIELDS,
        key_field=KEYS[registry],
        zh="只能按标识（ID）和名称查询：",
        en="query by ID and name only, not: ",
    )
    name = query.get("name")
    return key.strip(), name if isinstance(name, str) else None


def record_read(
    db: Session, *, actor: Actor, registry: Registry, query: dict[str, Any], caller: Caller
) -> dict[str, Any]:
    """``read``: the one record with this ID (and name, when given); NotFound otherwise."""
    key, name = _query_key(registry, query)
    if name is not None:
        key = validate_resident_id(key) if registry is Registry.POPULATION else validate_uscc(key)
        if not _exists(db, actor, registry, key, name, caller):
            raise NotFound("no record found", message_en="no record found", code="govstack.not_found")
    try:
        out = (
            person_get(db, actor=actor, resident_id=key, context=caller.context())
            if registry is Registry.POPULATION
            else entity_get(db, actor=actor, uscc=key, context=caller.context())
        )
    except NotFound:
        raise NotFound("no record found", message_en="no record found", code="govstack.not_found") from None
    return _content(registry, out.model_dump(mode="json"))


def _exists(db: Session, actor: Actor, registry: Registry, key: str, name: str, caller: Caller) -> bool:
    require_roles(actor, *READ_ROLES)
    model: type[Person] | type[Entity] = Person if registry is Registry.POPULATION else Entity
    column = model.resident_id if model is Person else model.uscc  # type: ignore[union-attr]
    found = db.scalar(select(func.count()).where(column == key, model.name == name.strip())) or 0
    audit_record(
        db,
        actor=actor,
        action="registries.person.verify" if registry is Registry.POPULATION else "registries.entity.verify",
        target_type="person" if registry is Registry.POPULATION else "entity",
        target_id=key,
        details={"match": bool(found), **caller.context()},
    )
    return bool(found)


def record_exists(
    db: Session, *, actor: Actor, registry: Registry, query: dict[str, Any], caller: Caller
) -> bool:
    """``exists``: is there a record with this ID (and this name, when given)? Discloses nothing else."""
    require_roles(actor, *READ_ROLES)
    key, name = _query_key(registry, query)
    key = validate_resident_id(key) if registry is Registry.POPULATION else validate_uscc(key)
    if name is not None:
        # With a name this is verification (核验) of a registered record, living or not.
        return _exists(db, actor, registry, key, name, caller)
    model: type[Person] | type[Entity] = Person if registry is Registry.POPULATION else Entity
    found = db.get(model, key) is not None
    audit_record(
        db,
        actor=actor,
        action="registries.person.verify" if registry is Registry.POPULATION else "registries.entity.verify",
        target_type="person" if registry is Registry.POPULATION else "entity",
        target_id=key,
        details={"match": found, **caller.context()},
    )
    return found


def record_verify(
    db: Session, *, actor: Actor, registry: Registry, key: str, name: str, caller: Caller
) -> bool:
    """The platform's own verification rule (living person, existing entity) with the GovStack context."""
    if registry is Registry.POPULATION:
        return person_verify(db, actor=actor, resident_id=key, name=name, context=caller.context())
    return entity_verify(db, actor=actor, uscc=key, name=name, context=caller.context())


def record_list(
    db: Session,
    *,
    actor: Actor,
    registry: Registry,
    search: str | None,
    filters: dict[str, str],
    ordering: str | None,
    page: int,
    page_size: int,
) -> tuple[int, list[dict[str, Any]], int, int]:
    """The list call: ``search`` is a name prefix, ``query.name`` / ``query.<region field>`` filter.

    Returns ``(count, results, page, page_size)``.
    """
    region_field = "household_region_code" if registry is Registry.POPULATION else "region_code"
    filters_check(filters, {"name", region_field})
    if ordering not in (None, "", "ascending", "name"):
        raise ValidationError(
            "排序只支持按名称升序（ascending）",
            message_en="ordering: only ascending by name is supported",
            code="govstack.ordering",
            field="ordering",
        )
    name = filters.get("name") or search
    found = (person_search if registry is Registry.POPULATION else entity_search)(
        db, actor=actor, name_prefix=name, region=filters.get(region_field), page=page, per_page=page_size
    )
    key = KEYS[registry]
    results = [{"ID": item[key], **{k: v for k, v in item.items() if k != "key"}} for item in found.items]
    return found.total, results, found.page, found.per_page


def _department_code(db: Session, actor: Actor) -> str:
    require_roles(actor, *WRITE_ROLES)
    department = db.get(Department, actor.department_id) if actor.department_id is not None else None
    if department is None:
        raise PermissionDenied(
            "写入基础库须以某一部门的身份进行（账号未关联部门）",
            message_en="writes need a caller that belongs to a department",
            code="govstack.write.department",
        )
    return department.code


def _current_values(db: Session, registry: Registry, key: str) -> dict[str, Any] | None:
    model: type[Person] | type[Entity] = Person if registry is Registry.POPULATION else Entity
    row = db.get(model, key)
    if row is None:
        return None
    fields = PERSON_FIELDS if registry is Registry.POPULATION else ENTITY_FIELDS
    return {KEYS[registry]: key, **{f: getattr(row, f) for f in fields}}


def record_write(
    db: Session,
    *,
    actor: Actor,
    registry: Registry,
    query: dict[str, Any] | None,
    content: dict[str, Any],
    caller: Caller,
    mode: str,
    error_dir: Path,
) -> dict[str, Any]:
    """``create`` (mode "create"), ``update`` ("update") or ``update-or-create`` ("upsert") of one record.

    The record is delivered as a one-row ingestion batch of the caller's department.
    """
    source = _department_code(db, actor)
    key_field = KEYS[registry]
    values = {k: v for k, v in content.items() if k != "ID"}
    key = (
        (query or {}).get("ID") or (query or {}).get(key_field) or content.get("ID") or content.get(key_field)
    )
    if not isinstance(key, str) or not key.strip():
        raise ValidationError(
            "须给出记录的 ID", message_en="the record's ID is required", code="govstack.write.id", field="ID"
        )
    key = validate_resident_id(key) if registry is Registry.POPULATION else validate_uscc(key)
    current = _current_values(db, registry, key)
    if mode == "create" and current is not None:
        raise Conflict("该记录已存在", message_en="the record exists already", code="govstack.write.exists")
    if mode == "update" and current is None:
        raise NotFound("no record found", message_en="no record found", code="govstack.not_found")
    row = {**(current or {}), **values, key_field: key}
    # Former names come back from a read as a list; the registry keeps them joined.
    row = {k: "；".join(map(str, v)) if isinstance(v, list) else v for k, v in row.items()}
    with tempfile.TemporaryDirectory(prefix="zw-govstack-") as tmp:
        path = Path(tmp) / f"govstack-{registry.value}.csv"
        columns = [c for c in row if row[c] is not None]
        with path.open("w", encoding="utf-8", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            writer.writerow([row[c] for c in columns])
        result: IngestResult = ingest(
            db, actor=actor, registry=registry, source=source, path=path, error_dir=error_dir
        )
    if result.status == "rejected":
        raise ValidationError(
            "记录未通过校验：" + "；".join(f"{e.column}：{e.reason}" for e in result.errors)
            or (result.message or ""),
            message_en="the record is invalid",
            code="govstack.write.invalid",
            field="write.content",
            errors=[e.__dict__ for e in result.errors],
        )
    audit_record(
        db,
        actor=actor,
        action=f"registries.govstack.{mode}",
        target_type="person" if registry is Registry.POPULATION else "entity",
        target_id=key,
        details={"batch": result.batch_id, **caller.context()},
    )
    out = (
        person_get(db, actor=actor, resident_id=key, context=caller.context())
        if registry is Registry.POPULATION
        else entity_get(db, actor=actor, uscc=key, context=caller.context())
    )
    return _content(registry, out.model_dump(mode="json"))


def record_delete(db: Session, *, actor: Actor, registry: Registry, key: str, caller: Caller) -> None:
    """End a record's current state: it becomes a closed version and leaves the current table."""
    _department_code(db, actor)
    key = validate_resident_id(key) if registry is Registry.POPULATION else validate_uscc(key)
    current_table, versions_table = TABLES[registry]
    key_field = KEYS[registry]
    if _current_values(db, registry, key) is None:
        raise NotFound("no record found", message_en="no record found", code="govstack.not_found")
    if registry is Registry.POPULATION and db.scalar(
        select(func.count()).select_from(Entity).where(Entity.legal_representative_id == key)
    ):
        raise Conflict(
            "该人员是法人单位的法定代表人，不能删除",
            message_en="the person is the legal representative of an entity",
            code="govstack.delete.referenced",
        )
    fields = PERSON_FIELDS if registry is Registry.POPULATION else ENTITY_FIELDS
    cols = ", ".join([key_field, *fields, "source_department", "valid_from", "batch_id"])
    db.execute(
        text(
            f"INSERT INTO {versions_table} ({cols}, valid_to) SELECT {cols}, :now FROM {current_table} "  # noqa: S608
            f"WHERE {key_field} = :key"
        ),
        {"now": utcnow(), "key": key},
    )
    db.execute(text(f"DELETE FROM {current_table} WHERE {key_field} = :key"), {"key": key})  # noqa: S608
    audit_record(
        db,
        actor=actor,
        action="registries.govstack.delete",
        target_type="person" if registry is Registry.POPULATION else "entity",
        target_id=key,
        details=caller.context(),
    )


def personal_data_usage(
    db: Session, *, actor: Actor, user_id: str, database_id: str | None, caller: Caller
) -> list[dict[str, Any]]:
    """``MyPersonalDataUsage``: who read this person's data, when, from which system and for what.

    ``database_id`` ``population`` or ``credit`` narrows the answer to one registry; none means both.
    """
    require_roles(actor, *READ_ROLES)
    if database_id not in (None, "", Registry.POPULATION.value, ReadOnlyRegistry.CREDIT.value):
        raise ValidationError(
            f"没有名为“{database_id}”的人员数据库",
            message_en=f"no personal database '{database_id}'",
            code="govstack.database",
            field="DatabaseID",
        )
    key = validate_resident_id(user_id)
    wanted = []
    if database_id != ReadOnlyRegistry.CREDIT.value:
        wanted.append(and_(AuditEvent.target_type == "person", AuditEvent.action.in_(PERSON_READS)))
    if database_id != Registry.POPULATION.value:
        wanted.append(and_(AuditEvent.target_type == "credit_subject", AuditEvent.action.in_(CREDIT_READS)))
    rows = db.execute(
        select(AuditEvent, Department.code, Department.name)
        .outerjoin(Department, Department.id == AuditEvent.actor_department_id)
        .where(AuditEvent.target_id == key, or_(*wanted))
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        .limit(1000)
    ).all()
    audit_record(
        db,
        actor=actor,
        action="registries.govstack.usage",
        target_type="person_usage",
        target_id=key,
        details=caller.context(),
    )
    out: list[dict[str, Any]] = []
    for event, code, name in rows:
        details = event.details or {}
        out.append(
            {
                "ID": str(event.id),
                "ReaderID": event.actor_username,
                "ReaderInitials": (event.actor_username or "?")[:2].upper(),
                "ReaderInstitutionID": code,
                "ReaderInstitutionName": name,
                "ReaderApplicationName": details.get("client") or "zhengwu",
                "SearchDateTime": event.occurred_at.isoformat(),
                "Purpose": details.get("purpose"),
                "Action": event.action.rsplit(".", 1)[-1],
                "DatabaseID": "credit" if event.target_type == "credit_subject" else "population",
                "Refrences": [{"ReferenceID": f"audit-{event.id}"}],
            }
        )
    return out
