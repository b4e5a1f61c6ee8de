"""HTTP of the datastore: streamed downloads at ``/datastore/dump/{resource_id}?format=csv|xlsx|json|geojson``
(CKAN's own dump address). The datastore's CKAN actions are in the portal's action registry
(:mod:`zhengwu.opendata.ckan.datastore_actions`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from zhengwu.db import Database
from zhengwu.errors import ZhengwuError
from zhengwu.opendata.access.usage import counted, data_access_check, reader, usage_keep_refused, usage_record
from zhengwu.opendata.datastore.dump import datastore_dump
from zhengwu.opendata.services import dataset_by_ref, distribution_get
from zhengwu.opendata.stats.recorder import record_download
from zhengwu.web.deps import CurrentActor

router = APIRouter(tags=["opendata-datastore"])


def stream_db(request: Request) -> Iterator[Session]:
    """A session that lives until a streamed download has been sent (not closed when the route returns)."""
    database: Database = request.app.state.database
    with database.session() as session:
        yield session


StreamDb = Annotated[Session, Depends(stream_db)]


@router.get("/datastore/dump/{resource_id}", summary="下载数据表（CSV、XLSX、JSON、GeoJSON，流式）")
def dump_download(
    request: Request,
    resource_id: str,
    db: StreamDb,
    actor: CurrentActor,
    format: Annotated[str, Query(description="csv | xlsx | json | geojson")] = "csv",
) -> StreamingResponse:
    # As the CKAN actions: a table is downloaded through its resource, whose dataset the caller may see.
    dist = distribution_get(db, actor=actor, ref=resource_id)
    try:
        # A conditional dataset's data needs its key (or the provider's rights); the use is recorded.
        use = data_access_check(
            db,
            actor=actor,
            dataset_id=dataset_by_ref(db, str(dist["package_id"])).id,
            action=f"dump.{format.lower()[:16]}",
        )
    except ZhengwuError:
        usage_keep_refused(db)
        db.commit()
        raise
    dump = datastore_dump(db, actor=reader(actor, use), resource_id=resource_id, fmt=format)
    record_download(request, resource_id, format)
    disposition = f"attachment; filename*=UTF-8''{quote(dump.filename)}"
    chunks = dump.chunks
    record = usage_record(db, use)
    if record is not None:
        chunks = counted(db, record, chunks)
    return StreamingResponse(chunks, media_type=dump.media_type, headers={"Content-Disposition": disposition})
