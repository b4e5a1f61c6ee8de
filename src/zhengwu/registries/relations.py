"""Family relations (parent, spouse) between registered persons: ingestion, rules, lookup.

A relations delivery is a file (CSV, Excel, Parquet) or a SQL query with the columns ``resident_id``
(公民身份号码), ``relative_id`` (关系人公民身份号码), ``relation`` (关系: parent/父亲/母亲/父母 — the
relative is a parent of the person — or spouse/配偶) and optionally ``ended`` (已解除: 是/1/true ends
the link). It is one batch in ``registry_batches`` (registry "relations"), with the same fingerprint
idempotence, atomic or partial mode and error file as the persons and entities.

Rules: both identifiers valid, no link of a person to themself, both persons in the population
registry, a parent born before the child, a link not twice in one batch, and at most one current
spouse per person (an existing marriage must be ended, in the same or an earlier batch, before a new
one is registered). Links are stored as :class:`~zhengwu.registries.models.PersonRelation` rows with
system-time intervals; nothing is deleted.
"""

from __future__ import annotations

import bisect
import csv
import datetime as dt
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor, require_department_admin
from zhengwu.crypto import Sm3Hasher
from zhengwu.db import utcnow
from zhengwu.errors import ValidationError
from zhengwu.registries import readers
from zhengwu.registries.ingest import (
    BatchErrors,
    IngestResult,
    Mode,
    _department,
    _duplicate,
    _previous_batch,
    batch_finish,
    check_mode,
    delivery_file,
    map_header,
)
from zhengwu.registries.models import BatchStatus, Person, PersonRelation, RegistryBatch
from zhengwu.registries.validation import Problem, Spec, check_resident_id, clean

REGISTRY: Final = "relations"
_KINDS: Final = {
    "parent": "parent",
    "父亲": "parent",
    "母亲": "parent",
    "父母": "parent",
    "父": "parent",
    "母": "parent",
    "spouse": "spouse",
    "配偶": "spouse",
    "夫妻": "spouse",
}
_YES: Final = {"1", "true", "yes", "y", "是", "已解除", "解除"}
_NO: Final = {"0", "false", "no", "n", "否"}
_CHUNK: Final = 1000

Link = tuple[str, str, str, bool]  # resident_id, relative_id, kind, ended


def validate_relation(row: dict[str, Any], today: dt.date) -> tuple[Any, ...] | list[Problem]:
    """One delivered link: ``(resident_id, relative_id, kind, ended)`` or the problems of the row."""
    problems: list[Problem] = []
    keys: list[str | None] = []
    for column in ("resident_id", "relative_id"):
        value = row.get(column)
        if value is None:
            problems.append((column, "必填项为空"))
            keys.append(None)
            continue
        checked = check_resident_id(value if isinstance(value, str) else str(value), today)
        if isinstance(checked, str):
            problems.append((column, checked))
            keys.append(None)
        else:
            keys.append(checked[0])
    raw_kind = row.get("relation")
    kind = _KINDS.get(str(raw_kind).lower()) if raw_kind is not None else None
    if kind is None:
        problems.append(("relation", f"关系“{raw_kind}”无效，应为 parent（父母）或 spouse（配偶）"))
    raw_ended = row.get("ended")
    ended = False
    if raw_ended is not None:
        text = str(raw_ended).strip().lower()
        if text in _YES:
            ended = True
        elif text not in _NO:
            problems.append(("ended", f"“{raw_ended}”无效，应为 是/否"))
    if keys[0] is not None and keys[0] == keys[1]:
        problems.append(("relative_id", "不能与本人建立关系"))
    if problems:
        return problems
    return (keys[0], keys[1], kind, ended)


RELATION_SPEC: Final = Spec(
    key="resident_id",
    required=("resident_id", "relative_id", "relation"),
    optional=("ended",),
    staged=("resident_id", "relative_id", "relation", "ended"),
    aliases={
        "公民身份号码": "resident_id",
        "身份证号": "resident_id",
        "关系人公民身份号码": "relative_id",
        "关系人身份证号": "relative_id",
        "关系": "relation",
        "已解除": "ended",
    },
    validate=validate_relation,
)


def _births(db: Session, keys: Iterable[str]) -> dict[str, dt.date]:
    out: dict[str, dt.date] = {}
    ordered = sorted(set(keys))
    for start in range(0, len(ordered), _CHUNK):
        part = ordered[start : start + _CHUNK]
        out |= dict(
            db.execute(select(Person.resident_id, Person.birth_date).where(Person.resident_id.in_(part)))
            .tuples()
            .all()
        )
    return out


def _current_links(db: Session, keys: Iterable[str], kind: str | None = None) -> list[PersonRelation]:
    ordered = sorted(set(keys))
    out: list[PersonRelation] = []
    for start in range(0, len(ordered), _CHUNK):
        part = ordered[start : start + _CHUNK]
        query = select(PersonRelation).where(
            PersonRelation.resident_id.in_(part), PersonRelation.valid_to.is_(None)
        )
        if kind is not None:
            query = query.where(PersonRelation.kind == kind)
        out += db.scalars(query).all()
    return out


def _check(db: Session, links: list[tuple[int, Link]], errors: BatchErrors) -> list[tuple[int, Link]]:
    """Set-wise rules over the whole batch; returns the links that pass, in file order."""
    births = _births(db, (k for _, (a, b, _, _) in links for k in (a, b)))
    seen: dict[tuple[str, str, str], int] = {}
    ok: list[tuple[int, Link]] = []
    for number, (a, b, kind, ended) in links:
        bad = False
        for column, key in (("resident_id", a), ("relative_id", b)):
            if key not in births:
                errors.add(number, column, "该人员不在人口基础库中")
                bad = True
        if not bad and kind == "parent" and not ended and births[b] >= births[a]:
            errors.add(number, "relative_id", "父母的出生日期应早于子女")
            bad = True
        pair = (a, b, kind) if kind == "parent" else (min(a, b), max(a, b), kind)
        if pair in seen:
            errors.add(number, "relative_id", f"与第 {seen[pair]} 行重复（同一批次内同一关系只能出现一次）")
            bad = True
        else:
            seen[pair] = number
        if not bad:
            ok.append((number, (a, b, kind, ended)))
    # One current spouse: the marriages after this batch, per person.
    spouses = [(n, link) for n, link in ok if link[2] == "spouse"]
    if spouses:
        persons = {k for _, (a, b, _, _) in spouses for k in (a, b)}
        current = {(r.resident_id, r.relative_id) for r in _current_links(db, persons, "spouse")}
        for _, (a, b, _, ended) in spouses:
            if ended:
                current -= {(a, b), (b, a)}
        added = [(n, a, b) for n, (a, b, _, ended) in spouses if not ended and (a, b) not in current]
        # In file order: the first marriage of a person in the batch stands, later ones are refused.
        count = Counter(a for a, _ in current)
        refused = set()
        for number, a, b in added:
            if count[a] or count[b]:
                who = "resident_id" if count[a] else "relative_id"
                errors.add(number, who, "同一时间只能有一位配偶（现有婚姻关系须先解除）")
                refused.add(number)
            else:
                count[a] += 1
                count[b] += 1
        ok = [(n, link) for n, link in ok if n not in refused]
    return ok


def _apply(db: Session, links: list[tuple[int, Link]], batch: RegistryBatch) -> tuple[int, int, int]:
    """Write the links; returns (added, ended, unchanged)."""
    keys = {a for _, (a, _, _, _) in links} | {b for _, (_, b, _, _) in links}
    current = {(r.resident_id, r.relative_id, r.kind): r for r in _current_links(db, keys)}
    added = ended_count = unchanged = 0
    now = batch.started_at
    for _, (a, b, kind, ended) in links:
        directions = [(a, b)] if kind == "parent" else [(a, b), (b, a)]
        if ended:
            rows = [current.pop((x, y, kind)) for x, y in directions if (x, y, kind) in current]
            for row in rows:
                row.valid_to, row.ended_batch_id = now, batch.id
            if rows:
                ended_count += 1
            else:
                unchanged += 1
            continue
        if (a, b, kind) in current:
            unchanged += 1
            continue
        for x, y in directions:
            row = PersonRelation(
                resident_id=x,
                relative_id=y,
                kind=kind,
                source_department=batch.source_department,
                batch_id=batch.id,
                valid_from=now,
            )
            db.add(row)
            current[(x, y, kind)] = row
        added += 1
    db.flush()
    return added, ended_count, unchanged


def relations_ingest(
    db: Session,
    *,
    actor: Actor,
    source: str,
    path: Path | str | None = None,
    sql_url: str | None = None,
    sql_query: str | None = None,
    mode: Mode = "atomic",
    error_dir: Path,
    today: dt.date | None = None,
) -> IngestResult:
    """Ingest one delivery of family relations as one batch (see the module docstring)."""
    check_mode(mode)
    department = _department(db, source)
    require_department_admin(actor, department.id)
    today = today or dt.date.today()
    hasher = Sm3Hasher()
    if path is not None:
        file_path = delivery_file(path)
        file_format, file_name = readers.format_of(file_path), file_path.name
        fingerprint = readers.fingerprint_file(file_path, source)
        earlier = _previous_batch(db, REGISTRY, fingerprint)
        if earlier is not None:
            return _duplicate(db, actor, REGISTRY, earlier)
    elif sql_url and sql_query:
        file_format, fingerprint, file_name = "sql", "", sql_query[:500]
        hasher.update(sql_query.encode() + b"\x00source=" + source.encode())
    else:
        raise ValidationError(
            "请提供文件，或数据库地址与查询语句",
            message_en="give a file or a SQL URL and query",
            code="registries.source.missing",
            field="path",
        )
    batch = RegistryBatch(
        registry_name=REGISTRY,
        source_department=source,
        file_name=file_name,
        file_format=file_format,
        fingerprint=fingerprint or "pending",
        mode=mode,
        status=BatchStatus.RUNNING.value,
        actor_username=actor.username,
        started_at=utcnow(),
    )
    db.add(batch)
    db.flush()
    errors = BatchErrors()
    result = IngestResult(batch_id=batch.id, status=BatchStatus.RUNNING.value)
    links: list[tuple[int, Link]] = []
    try:
        if file_format == "sql":
            assert sql_url is not None and sql_query is not None
            delivery = readers.read_sql(sql_url, sql_query, hasher)
        else:
            opener = {"csv": readers.read_csv, "xlsx": readers.read_xlsx, "parquet": readers.read_parquet}
            delivery = opener[file_format](Path(str(path)))
        result.notes = delivery.notes
        columns = map_header(delivery.columns, RELATION_SPEC)
        for number, values in delivery.rows:
            result.rows_read += 1
            if len(values) != len(columns):
                errors.add(
                    number, "*", f"该行有 {len(values)} 列，表头有 {len(columns)} 列（引号或分隔符可能有误）"
                )
                continue
            checked = validate_relation({c: clean(v) for c, v in zip(columns, values, strict=True)}, today)
            if isinstance(checked, list):
                for column, reason in checked:
                    errors.add(number, column, reason)
            else:
                links.append((number, (checked[0], checked[1], checked[2], checked[3])))
    except ValidationError as exc:
        return batch_finish(db, actor, batch, result, errors, error_dir, BatchStatus.REJECTED, exc.message)
    if file_format == "sql":
        batch.fingerprint = hasher.hexdigest()
        earlier = _previous_batch(db, REGISTRY, batch.fingerprint)
        if earlier is not None:
            db.delete(batch)
            db.flush()
            return _duplicate(db, actor, REGISTRY, earlier)
    links = _check(db, links, errors)
    if errors.all and mode == "atomic":
        message = f"{len(errors.bad_rows)} 行有错误，按“全部或全不”方式整批拒绝，未写入任何数据"
        return batch_finish(db, actor, batch, result, errors, error_dir, BatchStatus.REJECTED, message)
    result.inserted, result.updated, result.unchanged = _apply(db, links, batch)
    status = BatchStatus.PARTIAL if errors.all else BatchStatus.APPLIED
    message = f"新增关系 {result.inserted} 条，解除 {result.updated} 条，未变化 {result.unchanged} 条" + (
        f"；{len(errors.bad_rows)} 行有错误未入库，见错误文件" if errors.all else ""
    )
    return batch_finish(db, actor, batch, result, errors, error_dir, status, message)


def synthetic_relations(persons_csv: Path, out_csv: Path, *, seed: int = 2026, share: float = 0.3) -> int:
    """Write a relations CSV for synthetic persons (demo and tests); returns the links written.

    About ``share`` of the living adults are married to a living adult of the other sex born within
    five years, and about as many persons get one or two parents born 20 to 40 years before them.
    """
    rng = random.Random(seed)
    with persons_csv.open(encoding="utf-8-sig", newline="") as fh:
        people = [
            (r["resident_id"], dt.date.fromisoformat(r["birth_date"]), r["sex"], r["status"])
            for r in csv.DictReader(fh)
        ]
    people.sort(key=lambda p: p[1])
    lines: list[tuple[str, str, str]] = []
    married: set[str] = set()
    adults = [p for p in people if p[3] == "living" and (dt.date.today() - p[1]).days > 20 * 366]
    for i, (key, born, sex, _) in enumerate(adults):
        if key in married or rng.random() > share:
            continue
        for other, other_born, other_sex, _ in adults[i + 1 : i + 40]:
            if other_sex != sex and other not in married and (other_born - born).days < 5 * 366:
                lines.append((key, other, "spouse"))
                married |= {key, other}
                break
    births = [p[1] for p in people]
    for key, born, _, _ in people:
        if rng.random() > share:
            continue
        low = bisect.bisect_left(births, born - dt.timedelta(days=40 * 366))
        high = bisect.bisect_right(births, born - dt.timedelta(days=20 * 366))
        for index in rng.sample(range(low, high), min(2, high - low)):
            lines.append((key, people[index][0], "parent"))
    with out_csv.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["resident_id", "relative_id", "relation"])
        writer.writerows(lines)
    return len(lines)


@dataclass(frozen=True)
class RelationLink:
    """One link of a person as the services see it (before masking)."""

    role: str  # "parent" (the relative is my parent), "child", "spouse"
    relative_id: str
    valid_from: dt.datetime
    valid_to: dt.datetime | None
    source_department: str
    batch_id: int


def relations_of(
    db: Session, key: str, *, as_of: dt.datetime | None = None, history: bool = False
) -> list[RelationLink]:
    """The links of one person: current ones, those valid at ``as_of``, or all ever (``history``)."""
    query = select(PersonRelation).where(
        or_(
            PersonRelation.resident_id == key,
            (PersonRelation.relative_id == key) & (PersonRelation.kind == "parent"),
        )
    )
    if as_of is not None:
        query = query.where(
            PersonRelation.valid_from <= as_of,
            or_(PersonRelation.valid_to.is_(None), PersonRelation.valid_to > as_of),
        )
    elif not history:
        query = query.where(PersonRelation.valid_to.is_(None))
    out: list[RelationLink] = []
    for row in db.scalars(query.order_by(PersonRelation.valid_from, PersonRelation.id)):
        if row.kind == "spouse":
            role, other = "spouse", row.relative_id
        elif row.resident_id == key:
            role, other = "parent", row.relative_id
        else:
            role, other = "child", row.resident_id
        out.append(
            RelationLink(role, other, row.valid_from, row.valid_to, row.source_department, row.batch_id)
        )
    return out
