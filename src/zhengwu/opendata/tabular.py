"""Tabular distributions: an uploaded CSV, XLSX or JSON file becomes a datastore table.

``resource_create`` with a file (CKAN's multipart ``upload`` field) creates the distribution, loads the
file into the datastore under the distribution's id and points the distribution's URL at the streamed
download (``/datastore/dump/<id>``). The datastore checks the whole file before writing anything; a
malformed file raises its ValidationError (every problem with row and column), and the caller's
savepoint drops the distribution with it, so nothing half-made is left.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final

from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor
from zhengwu.errors import ValidationError
from zhengwu.opendata import services
from zhengwu.opendata.datastore.services import datastore_create

SUFFIXES: Final = {".csv": "CSV", ".xlsx": "XLSX", ".json": "JSON", ".jsonl": "JSON", ".ndjson": "JSON"}
MIMETYPES: Final = {
    "CSV": "text/csv",
    "XLSX": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "JSON": "application/json",
}


@dataclass
class Upload:
    """An uploaded file: the name the client gave it and its content (read from the start)."""

    filename: str
    file: IO[bytes]


def dump_url(resource_id: str) -> str:
    """Where a datastore table is downloaded (CKAN's dump address)."""
    return f"/datastore/dump/{resource_id}"


def _format_of(upload: Upload, declared: str) -> str:
    fmt = (declared or "").strip().upper().lstrip(".")
    if not fmt:
        fmt = SUFFIXES.get(Path(upload.filename or "").suffix.lower(), "")
    if fmt not in MIMETYPES:
        raise ValidationError(
            "仅支持上传 CSV、XLSX、JSON 文件",
            message_en="upload must be a CSV, XLSX or JSON (lines) file",
            code="opendata.upload.format",
            field="upload",
        )
    return fmt


def distribution_upload(
    db: Session, *, actor: Actor, payload: dict[str, Any], upload: Upload
) -> dict[str, Any]:
    """``resource_create`` with a file: a distribution whose data is in the datastore."""
    fmt = _format_of(upload, str(payload.get("format") or ""))
    name = str(payload.get("name") or Path(upload.filename or "data").stem)[:300]
    fields = {k: v for k, v in payload.items() if k not in ("upload", "url", "format", "name")}
    created = services.distribution_create(
        db, actor=actor, payload={**fields, "name": name, "format": fmt, "url": ""}
    )
    rid, package_id = str(created["id"]), str(created["package_id"])
    return _load(db, actor=actor, resource_id=rid, package_id=package_id, upload=upload, fmt=fmt)


def distribution_reupload(
    db: Session, *, actor: Actor, ref: str, payload: dict[str, Any], upload: Upload
) -> dict[str, Any]:
    """``resource_update`` / ``resource_patch`` with a file: the table is replaced by the new file's."""
    fmt = _format_of(upload, str(payload.get("format") or ""))
    fields = {k: v for k, v in payload.items() if k not in ("upload", "url", "format")}
    updated = services.distribution_update(
        db, actor=actor, ref=ref, payload={**fields, "format": fmt, "url": dump_url(ref)}, patch=True
    )
    rid, package_id = str(updated["id"]), str(updated["package_id"])
    return _load(db, actor=actor, resource_id=rid, package_id=package_id, upload=upload, fmt=fmt)


def _load(
    db: Session, *, actor: Actor, resource_id: str, package_id: str, upload: Upload, fmt: str
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="zhengwu-upload-") as tmp:
        path = Path(tmp) / f"upload{'.xlsx' if fmt == 'XLSX' else '.csv' if fmt == 'CSV' else '.jsonl'}"
        with path.open("wb") as out:
            upload.file.seek(0)
            shutil.copyfileobj(upload.file, out, 1 << 20)
        size = path.stat().st_size
        if size == 0:
            raise ValidationError(
                "上传的文件为空",
                message_en="the uploaded file is empty",
                code="opendata.upload.empty",
                field="upload",
            )
        datastore_create(
            db,
            actor=actor,
            resource_id=resource_id,
            path=path,
            file_format=fmt.lower(),
            is_open=services.dataset_is_public(db, ref=package_id),
        )
    return distribution_point_to_datastore(db, resource_id=resource_id, fmt=fmt, size=size)


def distribution_point_to_datastore(
    db: Session, *, resource_id: str, fmt: str, size: int | None
) -> dict[str, Any]:
    """Set a loaded distribution's URL to its streamed download and its format (caller checked rights)."""
    dist = services.distribution_by_uuid(db, resource_id)
    dist.url = dump_url(resource_id)
    dist.format = fmt
    dist.mimetype = MIMETYPES.get(fmt, "")
    dist.size = size
    db.flush()
    services.reindex(db, dist.dataset)  # search results carry the resource dicts (datastore_active)
    return services.resource_out(db, dist)
