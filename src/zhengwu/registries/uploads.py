"""Ingestion of a file uploaded through the pages or the API (multipart).

The upload is streamed to ``<data_dir>/registries/uploads/<random>/<file name>`` (refused past
``max_bytes``) and ingested there as one batch by :func:`zhengwu.registries.ingest.ingest`, with the
caller as actor: the same rules, modes, idempotence, history and error file as the CLI. The file is kept
next to the batch's error file so that an operator can see what was delivered. The ingestion runs
within the request; while it runs, the page polls :func:`progress_get` (``GET
/api/v1/registries/uploads/{job}``) for the rows read so far and shows a progress bar. Progress lives in
this process's memory (one entry per job id the page chose, readable by its uploader only, forgotten after
an hour): with several worker processes a poll may reach another one and see nothing, which the page
treats as "still working". The CLI remains the tool for files of millions of rows.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Final

from fastapi import UploadFile
from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor, require_authenticated, require_department_admin
from zhengwu.errors import ValidationError
from zhengwu.registries import readers
from zhengwu.registries.ingest import IngestResult, Mode, _department, ingest

MAX_UPLOAD_BYTES: Final = 200 * 1024 * 1024
_JOB_RE: Final = re.compile(r"[A-Za-z0-9_-]{8,64}")
_KEEP_SECONDS: Final = 3600
_jobs: dict[str, dict[str, Any]] = {}
_jobs_lock = threading.Lock()


def _job_id(job: str | None) -> str | None:
    if job is None or not job:
        return None
    if not _JOB_RE.fullmatch(job):
        raise ValidationError(
            "进度编号格式无效", message_en="invalid progress id", code="registries.upload.job", field="job"
        )
    return job


def _progress_set(job: str, owner: str, **values: Any) -> None:
    with _jobs_lock:
        now = time.monotonic()
        for stale in [k for k, v in _jobs.items() if now - v["at"] > _KEEP_SECONDS]:
            del _jobs[stale]
        entry = _jobs.setdefault(job, {"owner": owner, "rows_read": 0, "done": False})
        if entry["owner"] == owner:
            entry.update(values, at=now)


def progress_get(*, actor: Actor, job: str) -> dict[str, Any]:
    """What an upload's ingestion has done so far: ``rows_read``, ``done``; when done, batch and status."""
    require_authenticated(actor)
    key = _job_id(job)
    with _jobs_lock:
        entry = _jobs.get(key or "")
        if entry is None or entry["owner"] != actor.username:
            return {"job": job, "known": False, "rows_read": 0, "done": False}
        return {"job": job, "known": True, **{k: v for k, v in entry.items() if k not in ("owner", "at")}}


async def upload_chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    """The chunks of an uploaded file."""
    while chunk := await upload.read(1 << 20):
        yield chunk


def require_upload(db: Session, *, actor: Actor, source: str) -> None:
    """Refuse the upload before a byte is stored unless ``actor`` may ingest for ``source``."""
    require_authenticated(actor)
    require_department_admin(actor, _department(db, source).id)


def safe_name(filename: str) -> str:
    """The file's base name without path parts or control characters (kept: Chinese, digits, letters)."""
    name = Path(filename.replace("\\", "/")).name
    name = "".join(c for c in name if c.isprintable() and c not in '<>:"|?*').strip(". ")
    return name[:200] or "upload"


async def save_upload(chunks: AsyncIterator[bytes], filename: str, upload_dir: Path, max_bytes: int) -> Path:
    """Stream an upload to a new file under ``upload_dir``; refuse unsupported formats and oversize files."""
    name = safe_name(filename)
    readers.format_of(Path(name))  # an unsupported suffix is refused before anything is written
    target = upload_dir / secrets.token_hex(8) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    size = 0
    with target.open("wb") as fh:
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                fh.close()
                target.unlink()
                raise ValidationError(
                    f"文件超过大小上限 {max_bytes // 1024 // 1024} MB，请拆分，或用命令行入库",
                    message_en="file too large",
                    code="registries.upload.too_large",
                    field="file",
                )
            fh.write(chunk)
    if size == 0:
        target.unlink()
        raise ValidationError(
            "上传的文件为空",
            message_en="the uploaded file is empty",
            code="registries.upload.empty",
            field="file",
        )
    return target


def upload_ingest(
    db: Session,
    *,
    actor: Actor,
    registry: str,
    source: str,
    path: Path,
    mode: Mode,
    error_dir: Path,
    job: str | None = None,
) -> IngestResult:
    """Ingest a saved upload as one batch (permissions, rules and modes as for every ingestion).

    ``job`` (chosen by the page) makes the progress pollable. The result's ``error_file`` becomes the
    download address: the path on the server is not disclosed.
    """
    key = _job_id(job)

    def progress(rows: int) -> None:
        if key is not None:
            _progress_set(key, actor.username, rows_read=rows)

    if key is not None:
        _progress_set(key, actor.username, rows_read=0, done=False)
    try:
        result = ingest(
            db,
            actor=actor,
            registry=registry,
            source=source,
            path=path,
            mode=mode,
            error_dir=error_dir,
            progress=progress,
        )
    finally:
        if key is not None:
            _progress_set(key, actor.username, done=True)
    if result.error_file is not None:
        result.error_file = f"/api/v1/registries/batches/{result.batch_id}/errors"
    if key is not None:
        _progress_set(
            key, actor.username, batch_id=result.batch_id, status=result.status, rows_read=result.rows_read
        )
    return result
