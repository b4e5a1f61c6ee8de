"""The key check on every data access to a conditional dataset, its limits, and the usage records.

A conditional dataset's metadata is public; its data (``datastore_search``, the streamed dumps) needs
the key of an approved application for that very dataset, or the provider's own rights. A key arrives
wherever an API token does (``Authorization``, ``X-CKAN-API-Key``): the accounts kernel hands keys
(``zwk_...``) to :func:`key_actor`, which only checks the secret; whether the key is revoked, expired
or meant for another dataset is decided here, where the dataset is known and can be named.

Limits: requests per minute per key (a token bucket in process memory, the kernel's
:mod:`zhengwu.ratelimit`, with the same per-process trade-off as the gateway) and a daily quota per
application counted from the usage rows of the Beijing day (so it survives restarts and re-issued
keys). Usage rows are plain inserts in the request's transaction, committed without waiting for the
WAL flush on PostgreSQL (asynchronous commit: the server groups the flushes); a refused use is kept
aside in the session and written by :func:`usage_keep_refused` after the failed call rolled back.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import ColumnElement, Date, case, cast, func, select, text
from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor, require_authenticated
from zhengwu.accounts.services import hash_secret, register_token_kind
from zhengwu.db import BEIJING, utcnow
from zhengwu.errors import NotAuthenticated, NotFound, PermissionDenied, RateLimited
from zhengwu.opendata.access.models import AccessKey, Application, ApplicationStatus, KeyUsage
from zhengwu.opendata.access.schemas import UsageDay
from zhengwu.opendata.access.services import CODE, KEY_PREFIX
from zhengwu.opendata.models import Dataset
from zhengwu.opendata.services import can_manage
from zhengwu.ratelimit import Limiter, seconds_to_beijing_midnight

SCOPE_PREFIX: Final = "opendata_key:"
_REFUSED: Final = "opendata_access_refused"
LIMITER = Limiter()
USAGE_DAYS: Final = 30


@dataclass(frozen=True)
class Limits:
    """A key's token bucket: the whole minute's allowance may be used at once."""

    rate_per_second: float
    burst: int
    quota_per_day: int | None = None


@dataclass(frozen=True)
class KeyUse:
    """An admitted use of a key: what the usage row will name."""

    key_id: int
    application_id: int
    dataset_id: int
    action: str


def key_actor(db: Session, raw: str, ip: str | None) -> Actor:
    """The caller behind a dataset key: no roles, not signed in, scoped to the key (checked later)."""
    parts = raw.split("_", 2)
    key = None
    if len(parts) == 3 and parts[0] == KEY_PREFIX and parts[1] and parts[2]:
        # The key and its application in one round trip: the check that follows finds both in the session.
        found = db.execute(
            select(AccessKey, Application)
            .join(Application, Application.id == AccessKey.application_id)
            .where(AccessKey.prefix == parts[1])
        ).first()
        key = found[0] if found else None
    if key is None or not secrets.compare_digest(key.secret_hash, hash_secret(parts[2])):
        raise NotAuthenticated("数据集密钥无效", message_en="invalid dataset key", code=f"{CODE}.key_invalid")
    return Actor(
        user_id=None,
        username=f"key:{key.prefix}",
        display_name="数据集密钥",
        ip=ip,
        scope=f"{SCOPE_PREFIX}{key.id}",
    )


register_token_kind(KEY_PREFIX, key_actor)


def _key_of(actor: Actor) -> int | None:
    if actor.scope and actor.scope.startswith(SCOPE_PREFIX):
        return int(actor.scope.removeprefix(SCOPE_PREFIX))
    return None


def _denied(dataset: Dataset, why_zh: str, why_en: str, code: str) -> PermissionDenied:
    return PermissionDenied(
        f"数据集「{dataset.title}」（{dataset.name}）为有条件开放：{why_zh}",
        message_en=f"dataset {dataset.name} is conditionally open: {why_en}",
        code=f"{CODE}.{code}",
        details={"dataset": dataset.name},
    )


def _refuse(db: Session, key: AccessKey, dataset: Dataset, action: str, status: int) -> None:
    # Kept aside: the failed call's savepoint rolls back, usage_keep_refused writes these afterwards.
    db.info.setdefault(_REFUSED, []).append(
        KeyUsage(
            key_id=key.id,
            application_id=key.application_id,
            dataset_id=dataset.id,
            action=action[:32],
            status=status,
            at=utcnow(),
        )
    )


def usage_keep_refused(db: Session) -> None:
    """Write the usage rows of refused key uses of this session (call after the failed call ended)."""
    for row in db.info.pop(_REFUSED, []):
        db.add(row)
    db.flush()


def beijing_day_start(at: dt.datetime) -> dt.datetime:
    """The UTC moment the Beijing day of ``at`` began."""
    local = at.astimezone(BEIJING)
    return dt.datetime.combine(local.date(), dt.time(), BEIJING).astimezone(dt.UTC)


def data_access_check(db: Session, *, actor: Actor, dataset_id: int, action: str) -> KeyUse | None:
    """Admit ``actor`` to the data of a dataset, or raise PermissionDenied / RateLimited.

    None: no key involved (an open dataset, or the provider reading its own conditional data). A
    :class:`KeyUse`: admitted with a key; the caller reads as :func:`reader` and calls
    :func:`usage_record` with what went out.
    """
    dataset = db.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound("数据集不存在", message_en="Dataset not found", code="opendata.not_found", field="id")
    if dataset.open_type != "conditional" or can_manage(actor, dataset.organization_id):
        return None
    key_id = _key_of(actor)
    key = db.get(AccessKey, key_id) if key_id is not None else None
    if key is None:
        raise _denied(
            dataset,
            "数据须经申请获批后，凭该数据集的访问密钥获取",
            "its data needs the access key of an approved application for this dataset",
            "key_required",
        )
    application = db.get(Application, key.application_id)
    assert application is not None  # FK
    now = utcnow()
    failure: tuple[str, str, str] | None = None
    if key.dataset_id != dataset.id:
        failure = ("该密钥不适用于本数据集", "the key was issued for another dataset", "key_other_dataset")
    elif key.revoked_at is not None:
        failure = ("密钥已撤销", "the key was revoked", "key_revoked")
    elif (
        key.expires_at <= now
        or application.status != ApplicationStatus.APPROVED
        or application.valid_until is None
        or application.valid_until <= now
    ):
        failure = ("密钥已过期", "the key has expired", "key_expired")
    if failure is not None:
        _refuse(db, key, dataset, action, 403)
        raise _denied(dataset, *failure)
    refusal = LIMITER.check(
        key.prefix,
        Limits(rate_per_second=application.rate_per_minute / 60.0, burst=application.rate_per_minute),
        at=now,
    )
    if refusal is not None:
        _refuse(db, key, dataset, action, 429)
        raise RateLimited(
            f"请求过于频繁：每分钟最多 {application.rate_per_minute} 次，请 {refusal.retry_after} 秒后再试",
            message_en=f"rate limit of {application.rate_per_minute} requests per minute exceeded",
            code=f"{CODE}.rate",
            details={"retry_after": refusal.retry_after, "dataset": dataset.name},
        )
    used = db.scalar(
        select(func.count())
        .select_from(KeyUsage)
        .where(
            KeyUsage.application_id == application.id,
            KeyUsage.at >= beijing_day_start(now),
            KeyUsage.status == 200,
        )
    )
    if (used or 0) >= application.daily_quota:
        _refuse(db, key, dataset, action, 429)
        wait = seconds_to_beijing_midnight(now)
        raise RateLimited(
            f"今日调用次数已达上限（{application.daily_quota} 次），请明日再试",
            message_en=f"daily quota of {application.daily_quota} requests used up",
            code=f"{CODE}.quota",
            details={"retry_after": wait, "dataset": dataset.name},
        )
    # Last use is accurate to the minute: no write per request for it.
    if key.last_used_at is None or now - key.last_used_at > dt.timedelta(minutes=1):
        key.last_used_at = now
    return KeyUse(key_id=key.id, application_id=application.id, dataset_id=dataset.id, action=action[:32])


def reader(actor: Actor, use: KeyUse | None) -> Actor:
    """Whom the datastore reads for: the caller, or (admitted by a key) the platform on its behalf.

    A conditional dataset's tables are closed (``datastore_search_sql`` never sees them); the check
    above is the authorization of a key, after which the platform reads the one table for it.
    """
    if use is None:
        return actor
    return Actor.system(f"opendata_key:{use.key_id}")


def usage_record(
    db: Session, use: KeyUse | None, *, rows: int | None = None, size: int | None = None, status: int = 200
) -> KeyUsage | None:
    """Record one admitted use of a key (nothing for accesses without a key)."""
    if use is None:
        return None
    if db.get_bind().dialect.name == "postgresql":
        # The request only reads data; its one write is this log row. Its commit need not wait for the
        # WAL flush: PostgreSQL's WAL writer flushes such commits together a moment later (a crash may
        # lose the last few rows of usage, never data; the read itself is unaffected).
        db.execute(text("SET LOCAL synchronous_commit = off"))
    row = KeyUsage(
        key_id=use.key_id,
        application_id=use.application_id,
        dataset_id=use.dataset_id,
        action=use.action,
        rows=rows,
        bytes=size,
        status=status,
        at=utcnow(),
    )
    db.add(row)
    db.flush()
    return row


def usage_by_day(db: Session, *, actor: Actor, application_id: int, days: int = USAGE_DAYS) -> list[UsageDay]:
    """Uses of an application's keys per Beijing day, newest first: for its applicant and its provider."""
    require_authenticated(actor)
    application = db.get(Application, application_id)
    if application is None or not (
        actor.user_id == application.applicant_id or can_manage(actor, application.organization_id)
    ):
        raise NotFound("申请不存在", message_en="application not found", code=f"{CODE}.not_found", field="id")
    since = beijing_day_start(utcnow()) - dt.timedelta(days=days - 1)
    ok = KeyUsage.status == 200
    day = _beijing_day(db)
    rows = db.execute(
        select(
            day,
            func.sum(case((ok, 1), else_=0)),
            func.sum(case((ok, 0), else_=1)),
            func.sum(case((ok, func.coalesce(KeyUsage.rows, 0)), else_=0)),
            func.sum(case((ok, func.coalesce(KeyUsage.bytes, 0)), else_=0)),
        )
        .where(KeyUsage.application_id == application_id, KeyUsage.at >= since)
        .group_by(day)
        .order_by(day.desc())
    ).all()
    return [
        UsageDay(
            day=d if isinstance(d, dt.date) else dt.date.fromisoformat(str(d)),
            calls=int(calls or 0),
            refused=int(refused or 0),
            rows=int(n_rows or 0),
            bytes=int(n_bytes or 0),
        )
        for d, calls, refused, n_rows, n_bytes in rows
    ]


def _beijing_day(db: Session) -> ColumnElement[Any]:
    """The Beijing calendar day of a usage row, computed by the database (grouped there)."""
    if db.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("Asia/Shanghai", KeyUsage.at), Date)
    # SQLite keeps UTC text ("YYYY-MM-DD HH:MM:SS..."): shift by Beijing's fixed +8 hours.
    return func.date(KeyUsage.at, "+8 hours")


def counted(db: Session, record: KeyUsage, chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Pass a download's chunks through, then write its size into its usage row.

    The row was inserted before streaming began (so it counts against the quota at once); the
    download's session commits the size when the stream ends, or what was sent if it was cut short.
    """
    sent = 0
    try:
        for chunk in chunks:
            sent += len(chunk)
            yield chunk
    finally:
        record.bytes = sent
        db.flush()
