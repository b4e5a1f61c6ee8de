"""One harvest job over one source: gather, fetch, import, withdraw; logged, incremental, locked.

The stages follow ckanext-harvest (gather → fetch → import) in one process:

1. **Lock** the source with a conditional UPDATE (committed) that only one run wins; a second run of
   the same source is refused with ``Conflict`` while the first holds the lock, on both databases.
2. **Gather** the list of remote datasets. If the remote cannot be listed whole (timeout, HTTP 500, HTML
   instead of JSON, broken Turtle), the job fails with the reason and nothing is withdrawn: a partial
   list must never be read as "the rest was deleted".
3. For each remote dataset, in its own savepoint: **skip** it when its modified time is the one already
   harvested, or (after fetching) when the hash of its record did not change; otherwise **fetch** it
   if the listing did not carry it, **convert** it and **create** or **update** the local dataset. A
   failure of one item is logged with its reason and the job goes on.
4. **Withdraw** (state ``deleted``) the local datasets whose remote dataset is gone.

Progress is committed in batches, so the job page shows a running job and a crash loses at most one
batch; the lock is refreshed at every batch and released at the end, whatever happens.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from pydantic import ValidationError as PydanticError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from zhengwu.accounts.models import Department, Role
from zhengwu.accounts.permissions import Actor, require_roles
from zhengwu.audit.services import audit_record
from zhengwu.db import utcnow
from zhengwu.errors import Conflict, NotFound, ZhengwuError
from zhengwu.opendata.harvest.backends import Backend, Converted, RemoteError, RemoteRef, backend_class
from zhengwu.opendata.harvest.models import (
    HarvestItem,
    HarvestJob,
    HarvestRecord,
    HarvestSource,
    ItemAction,
    JobStatus,
)
from zhengwu.opendata.harvest.schemas import JobOut
from zhengwu.opendata.harvest.services import LOCK_STALE, job_out, source_by_ref
from zhengwu.opendata.licenses import LICENSES_BY_ID
from zhengwu.opendata.models import Dataset, DatasetState
from zhengwu.opendata.schemas import NAME_RE, DatasetIn
from zhengwu.opendata.services import (
    apply_dataset,
    datastore_sync_open,
    department_by_ref,
    pydantic_errors,
    reindex,
)

BATCH = 50
DEFAULT_TIMEOUT = 30.0


@dataclass
class _Counts:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    skipped: int = 0
    failed: int = 0
    pending: list[HarvestItem] = field(default_factory=list)


def content_hash(content: dict[str, Any]) -> str:
    """SHA-256 of a record in a canonical JSON form (key order does not matter)."""
    raw = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def _lock(db: Session, source: HarvestSource) -> str:
    source_id, name = source.id, source.name
    # The lock is taken in a transaction of its own that starts with the UPDATE: on SQLite a write in a
    # transaction that has already read fails at once ("database is locked", no busy wait) when another
    # connection committed in between (a running job's heartbeat), instead of answering "running".
    db.commit()
    token = str(uuid.uuid4())
    now = utcnow()
    result = db.execute(
        update(HarvestSource)
        .where(
            HarvestSource.id == source_id,
            (HarvestSource.lock_token.is_(None)) | (HarvestSource.locked_at < now - LOCK_STALE),
        )
        .values(lock_token=token, locked_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise Conflict(
            f"采集来源 {name} 正在采集中，请等待当前任务结束",
            message_en=f"a harvest job of source {name} is already running",
            code="harvest.running",
            field="source",
        )
    db.commit()
    return token


def _heartbeat(db: Session, source_id: int, token: str) -> None:
    db.execute(
        update(HarvestSource)
        .where(HarvestSource.id == source_id, HarvestSource.lock_token == token)
        .values(locked_at=utcnow())
        .execution_options(synchronize_session=False)
    )


def _unlock(db: Session, source_id: int, token: str) -> None:
    db.execute(
        update(HarvestSource)
        .where(HarvestSource.id == source_id, HarvestSource.lock_token == token)
        .values(lock_token=None, locked_at=None)
        .execution_options(synchronize_session=False)
    )


@dataclass
class _Known:
    """What a harvest record says about one remote dataset."""

    id: int
    dataset_id: int
    remote_modified: str
    content_hash: str
    withdrawn: bool


class _Importer:
    """Turns converted remote records into local datasets for one source within one job."""

    def __init__(self, db: Session, source: HarvestSource, job: HarvestJob, backend: Backend) -> None:
        self.db = db
        self.source = source
        self.job = job
        self.backend = backend
        self.records = self.load_known()

    def load_known(self) -> dict[str, _Known]:
        """What the source's records say, as plain tuples.

        Not ORM objects: every bulk UPDATE/DELETE the portal's services run walks the session's
        identity map, so holding thousands of records there would make a job quadratic.
        """
        rows = self.db.execute(
            select(
                HarvestRecord.remote_id,
                HarvestRecord.id,
                HarvestRecord.dataset_id,
                HarvestRecord.remote_modified,
                HarvestRecord.content_hash,
                HarvestRecord.withdrawn,
            ).where(HarvestRecord.source_id == self.source.id)
        )
        return {r[0]: _Known(*r[1:]) for r in rows}

    def _organization(self, converted: Converted) -> int:
        local = (self.source.organization_map or {}).get(converted.remote_org)
        if local:
            try:
                return department_by_ref(self.db, local).id
            except NotFound:
                raise RemoteError(f"机构映射中的本地机构 {local} 不存在") from None
        return self.source.organization_id

    def _name(self, wanted: str, exclude: int | None) -> str:
        base = wanted.lower()[:100]
        for candidate in (base, f"{self.source.name}-{base}"[:100]):
            if NAME_RE.match(candidate):
                taken = self.db.scalar(select(Dataset.id).where(Dataset.name == candidate))
                if taken is None or taken == exclude:
                    return candidate
        return f"{self.source.name}-{hashlib.sha256(wanted.encode()).hexdigest()[:16]}"[:100]

    def _payload(self, converted: Converted, ref: RemoteRef, dataset: Dataset | None) -> DatasetIn:
        payload = dict(converted.payload)
        payload["name"] = dataset.name if dataset else self._name(str(payload["name"]), None)
        if payload.get("license_id") and payload["license_id"] not in LICENSES_BY_ID:
            # An unknown licence is kept as text: the portal's licence list is closed.
            converted.notes.append(f"许可协议 {payload['license_id']} 不在本门户的列表中，使用默认许可")
            payload["extras"] = [
                *payload.get("extras", []),
                {"key": "remote_license", "value": payload["license_id"]},
            ]
            payload["license_id"] = ""
        payload["extras"] = [
            *payload.get("extras", []),
            {"key": "harvest_source_name", "value": self.source.name},
            {"key": "harvest_source_title", "value": self.source.title},
            {"key": "harvest_remote_id", "value": ref.remote_id},
            {"key": "harvest_remote_url", "value": converted.remote_url or ref.url},
        ]
        if dataset is not None:
            # Distributions keep their local ids by position, so links to them survive an update.
            for i, res in enumerate(payload.get("resources") or []):
                if i < len(dataset.distributions):
                    res["id"] = dataset.distributions[i].uuid
        payload["private"] = False
        try:
            return DatasetIn.model_validate(payload)
        except PydanticError as exc:
            raise pydantic_errors(exc) from None

    def item(self, ref: RemoteRef) -> tuple[ItemAction, str, str]:
        """Harvest one remote dataset: (what was done, the local name, a message)."""
        known = self.records.get(ref.remote_id)
        current = known is not None and not known.withdrawn
        if current and known is not None and ref.modified and known.remote_modified == ref.modified:
            return ItemAction.SKIPPED, "", ""
        content = ref.content if ref.content is not None else self.backend.fetch(ref)
        digest = content_hash(content)
        if current and known is not None and known.content_hash == digest:
            # Same record, another time stamp (a remote that touches without changing): remember it.
            self.db.execute(
                update(HarvestRecord)
                .where(HarvestRecord.id == known.id)
                .values(remote_modified=ref.modified[:64])
                .execution_options(synchronize_session=False)
            )
            known.remote_modified = ref.modified[:64]
            return ItemAction.SKIPPED, "", ""
        converted = self.backend.convert(content)
        organization_id = self._organization(converted)
        dataset = self.db.get(Dataset, known.dataset_id) if known is not None else None
        data = self._payload(converted, ref, dataset)
        now = utcnow()
        if dataset is None:
            dataset = Dataset(
                uuid=str(uuid.uuid4()),
                name=data.name,
                title=data.title or data.name,
                organization_id=organization_id,
                state=DatasetState.ACTIVE,
                metadata_created=now,
                metadata_modified=now,
            )
            self.db.add(dataset)
            action = ItemAction.CREATED
        else:
            action = ItemAction.UPDATED
            dataset.organization_id = organization_id
            dataset.state = DatasetState.ACTIVE
        apply_dataset(self.db, dataset, data, [])
        reindex(self.db, dataset)
        datastore_sync_open(self.db, actor=Actor.system("harvest"), dataset=dataset)
        record = self.db.get(HarvestRecord, known.id) if known is not None else None
        if record is None:
            record = HarvestRecord(source_id=self.source.id, remote_id=ref.remote_id, dataset_id=dataset.id)
            self.db.add(record)
        record.remote_name = ref.name[:200]
        record.remote_url = (converted.remote_url or ref.url)[:1000]
        record.remote_modified = ref.modified[:64]
        record.content_hash = digest
        record.withdrawn = False
        record.harvested_at = now
        record.job_id = self.job.id
        self.db.flush()
        name = dataset.name
        self.records[ref.remote_id] = _Known(
            record.id, dataset.id, record.remote_modified, record.content_hash, withdrawn=False
        )
        # A job may import many thousands of datasets: each leaves the session once written (see
        # load_known), so the identity map stays small.
        self.db.expunge(dataset)
        self.db.expunge(record)
        return action, name, "；".join(converted.notes)

    def withdraw(self, gathered: set[str]) -> list[tuple[str, str]]:
        """Withdraw the datasets whose remote dataset is gone: [(remote id, local name)]."""
        done = []
        for remote_id, known in sorted(self.records.items()):
            if remote_id in gathered or known.withdrawn:
                continue
            record = self.db.get(HarvestRecord, known.id)
            if record is None:
                continue
            dataset = self.db.get(Dataset, record.dataset_id)
            known.withdrawn = True
            record.withdrawn = True
            record.harvested_at = utcnow()
            record.job_id = self.job.id
            if dataset is not None and dataset.state == DatasetState.ACTIVE:
                dataset.state = DatasetState.DELETED
                dataset.metadata_modified = utcnow()
                reindex(self.db, dataset)
                datastore_sync_open(self.db, actor=Actor.system("harvest"), dataset=dataset)
            done.append((remote_id, dataset.name if dataset else ""))
        return done


def _log(
    job: HarvestJob, counts: _Counts, remote_id: str, action: ItemAction, name: str, message: str
) -> None:
    setattr(counts, action.value, getattr(counts, action.value) + 1)
    if action != ItemAction.SKIPPED:
        counts.pending.append(
            HarvestItem(
                job_id=job.id, remote_id=remote_id[:500], action=action, dataset_name=name, message=message
            )
        )


def _flush_progress(db: Session, job: HarvestJob, counts: _Counts, token: str) -> None:
    db.add_all(counts.pending)
    counts.pending = []
    for name in ("created", "updated", "deleted", "skipped", "failed"):
        setattr(job, name, getattr(counts, name))
    _heartbeat(db, job.source_id, token)
    db.commit()


def harvest_job_run(
    db: Session,
    *,
    actor: Actor,
    source: str | int,
    trigger: str = "manual",
    timeout: float = DEFAULT_TIMEOUT,
    transport: httpx.BaseTransport | None = None,
) -> JobOut:
    """Run one harvest job of ``source`` now (platform administrators, the scheduler, the CLI).

    Commits as it goes (the job row, batches of items, the end), so call it with a session of its
    own, not inside another unit of work. ``Conflict`` when a job of the source is already running.
    """
    require_roles(actor, Role.PLATFORM_ADMIN)
    row = source_by_ref(db, source)
    if db.get(Department, row.organization_id) is None:
        raise NotFound("目标发布机构不存在", message_en="target publisher not found", field="organization")
    cls = backend_class(row.backend)
    token = _lock(db, row)
    job = HarvestJob(source_id=row.id, status=JobStatus.RUNNING, trigger=trigger[:16], started_at=utcnow())
    db.add(job)
    row.last_job_at = job.started_at
    db.flush()
    audit_record(
        db,
        actor=actor,
        action="opendata.harvest.job.start",
        target_type="opendata_harvest_source",
        target_id=row.id,
        details={"source": row.name, "job": job.id, "trigger": job.trigger},
    )
    db.commit()
    counts = _Counts()
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, transport=transport) as client:
            backend = cls(client, row.url)

            def progress() -> None:
                _heartbeat(db, row.id, token)
                db.commit()

            backend.progress = progress
            try:
                refs = backend.gather(since=_last_listed(db, row.id, job.id))
            except RemoteError as exc:
                job.status = JobStatus.FAILED
                job.error = f"获取远端数据集列表失败：{exc.reason}"
                refs = None
            if refs is not None:
                job.gathered = len(refs)
                db.commit()
                _import_all(db, row, job, backend, refs, counts, token)
        job.finished_at = utcnow()
        _flush_progress(db, job, counts, token)
    except BaseException:
        # Whatever broke (the database, an interrupt), the job must not stay "running" and hold the lock.
        db.rollback()
        job = db.get(HarvestJob, job.id) or job
        job.status = JobStatus.FAILED
        job.error = job.error or "采集任务意外中断"
        job.finished_at = utcnow()
        _unlock(db, row.id, token)
        db.commit()
        raise
    _unlock(db, row.id, token)
    audit_record(
        db,
        actor=actor,
        action="opendata.harvest.job.finish",
        target_type="opendata_harvest_source",
        target_id=row.id,
        outcome="success" if job.status != JobStatus.FAILED else "failure",
        details={
            "source": row.name,
            "job": job.id,
            "status": str(job.status),
            **{
                k: getattr(job, k) for k in ("gathered", "created", "updated", "deleted", "skipped", "failed")
            },
        },
    )
    db.commit()
    return job_out(job, row.name)


def _last_listed(db: Session, source_id: int, current_job: int) -> dt.datetime | None:
    """Start of the newest earlier job that listed the remote whole (finished, even with failed items)."""
    return db.scalar(
        select(HarvestJob.started_at)
        .where(
            HarvestJob.source_id == source_id,
            HarvestJob.id != current_job,
            HarvestJob.status.in_([JobStatus.FINISHED, JobStatus.PARTIAL]),
        )
        .order_by(HarvestJob.started_at.desc())
        .limit(1)
    )


def _import_all(
    db: Session,
    source: HarvestSource,
    job: HarvestJob,
    backend: Backend,
    refs: list[RemoteRef],
    counts: _Counts,
    token: str,
) -> None:
    importer = _Importer(db, source, job, backend)
    for i, ref in enumerate(refs, 1):
        try:
            with db.begin_nested():
                action, name, message = importer.item(ref)
        except RemoteError as exc:
            action, name, message = ItemAction.FAILED, "", exc.reason
        except ZhengwuError as exc:
            action, name, message = (
                ItemAction.FAILED,
                "",
                exc.message + (f"（字段 {exc.field}）" if exc.field else ""),
            )
        except Exception as exc:  # one bad record must not stop the job; the log keeps what happened
            action, name, message = ItemAction.FAILED, "", f"导入出错：{type(exc).__name__}: {str(exc)[:300]}"
        if action == ItemAction.FAILED:
            # The savepoint rolled back; the record's cached state may be stale, so reload it next time.
            importer.records = importer.load_known()
        _log(job, counts, ref.remote_id, action, name, message)
        if i % BATCH == 0:
            _flush_progress(db, job, counts, token)
    with db.begin_nested():
        for remote_id, name in importer.withdraw({r.remote_id for r in refs}):
            _log(job, counts, remote_id, ItemAction.DELETED, name, "远端已删除，本地撤回")
    job.status = JobStatus.PARTIAL if counts.failed else JobStatus.FINISHED
