# ruff: noqa: S608 - only quoted identifiers from the table's own metadata are formatted into SQL here.
"""Streamed downloads of a datastore table: CSV (UTF-8 with BOM), XLSX, JSON array, GeoJSON.

Memory stays flat however long the table: PostgreSQL CSV is ``COPY "ds_…" (columns) TO STDOUT`` passed
through in 256 KiB chunks; the other formats read a server-side (named) cursor on PostgreSQL, or
SQLite's own lazy cursor, ``fetchmany`` at a time. XLSX is written by openpyxl's write-only workbook
to a temporary file (the format is a zip and cannot be streamed while being written), then streamed.

The PostgreSQL CSV path is the hot one (10,000,000 rows, ≈ 775 MB): PostgreSQL sends one COPY message
per row, so the rows are read with libpq's own ``PQgetCopyData`` through psycopg's ``pq`` layer (about
a third of the time psycopg's ``Copy`` iterator spends per row), and the table is copied as a table
rather than through ``SELECT … ORDER BY _id``: a datastore table is written once, by one COPY in ``_id``
order into a new table (``loader.write_rows``; a reload makes a new table), so its physical order is
the ``_id`` order, and with ``synchronize_seqscans`` off a scan starts at the first page.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import select
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from openpyxl import Workbook
from psycopg import pq
from sqlalchemy.orm import Session

from zhengwu.accounts.permissions import Actor
from zhengwu.errors import ValidationError
from zhengwu.opendata.datastore.loader import quote_ident
from zhengwu.opendata.datastore.query import jsonable
from zhengwu.opendata.datastore.services import datastore_source

FORMATS: Final = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
    "geojson": "application/geo+json",
}
CHUNK: Final = 256 * 1024
FETCH: Final = 2_000
XLSX_MAX_ROWS: Final = 1_048_575  # one sheet holds 1,048,576 rows, one of them the header
LON_NAMES: Final = frozenset({"lon", "lng", "long", "longitude", "经度", "x_lon"})
LAT_NAMES: Final = frozenset({"lat", "latitude", "纬度", "y_lat"})
GEOMETRY_NAMES: Final = frozenset({"geometry", "geom", "the_geom", "geojson", "wkt", "几何"})
BOM: Final = "\ufeff".encode()


@dataclass
class Dump:
    """A download ready to stream: media type, file name and the chunks."""

    media_type: str
    filename: str
    chunks: Iterator[bytes]


def datastore_dump(db: Session, *, actor: Actor, resource_id: str, fmt: str = "csv") -> Dump:
    """Prepare the download of ``resource_id`` as ``fmt``; the chunks read the table as they are consumed."""
    fmt = (fmt or "csv").lower()
    if fmt not in FORMATS:
        raise ValidationError(
            "format 应为 csv、xlsx、json 或 geojson",
            message_en="format must be csv, xlsx, json or geojson",
            code="datastore.format",
            field="format",
        )
    info, physical = datastore_source(db, actor=actor, resource_id=resource_id)
    fields = [{"id": "_id", "type": "int"}, *({"id": f.id, "type": f.type} for f in info.fields)]
    names = [f["id"] for f in fields]
    select_sql = (
        f"SELECT {', '.join(quote_ident(n) for n in names)} FROM {quote_ident(str(physical))} ORDER BY _id"
    )
    backend = db.get_bind().dialect.name
    filename = f"{resource_id}.{fmt}"
    if fmt == "csv" and backend == "postgresql":
        columns = ", ".join(quote_ident(n) for n in names)
        chunks = _pg_csv(
            db, f"COPY {quote_ident(str(physical))} ({columns}) TO STDOUT WITH (FORMAT csv, HEADER true)"
        )
    elif fmt == "csv":
        chunks = _csv(_rows(db, select_sql), names)
    elif fmt == "json":
        chunks = _json(_rows(db, select_sql), names)
    elif fmt == "xlsx":
        if info.row_count > XLSX_MAX_ROWS:
            raise ValidationError(
                f"表有 {info.row_count} 行，超过 Excel 的上限，请下载 CSV",
                message_en="too many rows for one Excel sheet; download CSV instead",
                code="datastore.xlsx_rows",
                field="format",
            )
        chunks = _xlsx(_rows(db, select_sql), fields, resource_id)
    else:
        where = geometry_columns(fields)
        if where is None:
            raise ValidationError(
                "该表没有经纬度或几何字段，无法导出 GeoJSON",
                message_en="the table has no lon/lat or geometry field; GeoJSON is not available",
                code="datastore.not_spatial",
                field="format",
            )
        chunks = _geojson(_rows(db, select_sql), names, where)
    return Dump(FORMATS[fmt], filename, chunks)


def _raw(db: Session) -> Any:
    return db.connection().connection.driver_connection


def _rows(db: Session, sql: str) -> Iterator[tuple[Any, ...]]:
    raw = _raw(db)
    if db.get_bind().dialect.name == "postgresql":
        # A named cursor keeps the result on the server; rows arrive FETCH at a time.
        with raw.cursor(name="dump_" + uuid.uuid4().hex) as cur:
            cur.itersize = FETCH
            cur.execute(sql)
            while batch := cur.fetchmany(FETCH):
                yield from batch
        return
    cur = raw.execute(sql)
    try:
        while batch := cur.fetchmany(FETCH):
            yield from batch
    finally:
        cur.close()


def _pg_csv(db: Session, copy_sql: str) -> Iterator[bytes]:
    """The BOM, then the output of ``copy_sql`` (a COPY … TO STDOUT) in chunks of about CHUNK bytes.

    The COPY runs in a savepoint of the session's transaction: a download abandoned mid-way cancels
    it, and rolling back to the savepoint leaves the transaction usable for what the request does next.
    """
    pg = _raw(db).pgconn
    _pg_command(pg, b"SAVEPOINT zhengwu_dump")
    # A scan of a big table starts at its first page (see above); undone with the savepoint.
    _pg_command(pg, b"SET LOCAL synchronize_seqscans = off")
    pg.send_query(copy_sql.encode())
    _pg_flush(pg)
    started = pg.get_result()
    if started is None or started.status != pq.ExecStatus.COPY_OUT:
        message = started.error_message.decode(errors="replace") if started is not None else ""
        _pg_drain(pg)
        _pg_undo(pg)
        raise RuntimeError(f"COPY did not start: {message}")
    finished = False
    try:
        buffer = bytearray(BOM)
        get = pg.get_copy_data
        while True:
            size, data = get(0)  # blocks for the next row; -1 at the end
            if size < 0:
                break
            buffer += data
            if len(buffer) >= CHUNK:
                yield bytes(buffer)
                buffer.clear()
        finished = True
        result = pg.get_result()
        _pg_drain(pg)
        if size == -2 or result is None or result.status != pq.ExecStatus.COMMAND_OK:
            message = result.error_message.decode(errors="replace") if result is not None else ""
            _pg_undo(pg)
            raise RuntimeError(f"COPY failed: {message or pg.error_message.decode(errors='replace')}")
        _pg_command(pg, b"RELEASE SAVEPOINT zhengwu_dump")
        if buffer:
            yield bytes(buffer)
    finally:
        if not finished:
            # The client went away mid-download: stop the COPY and leave the connection usable.
            pg.get_cancel().cancel()
            while pg.get_copy_data(0)[0] >= 0:
                pass
            _pg_drain(pg)
            _pg_undo(pg)


def _pg_undo(pg: pq.abc.PGconn) -> None:
    _pg_command(pg, b"ROLLBACK TO SAVEPOINT zhengwu_dump")
    _pg_command(pg, b"RELEASE SAVEPOINT zhengwu_dump")


def _pg_flush(pg: pq.abc.PGconn) -> None:
    # psycopg runs libpq non-blocking: a query may need more than one flush to be sent.
    while pg.flush() == 1:
        select.select([pg.socket], [pg.socket], [])


def _pg_drain(pg: pq.abc.PGconn) -> None:
    while pg.get_result() is not None:
        pass


def _pg_command(pg: pq.abc.PGconn, command: bytes) -> None:
    pg.send_query(command)
    _pg_flush(pg)
    result = pg.get_result()
    _pg_drain(pg)
    if result is None or result.status != pq.ExecStatus.COMMAND_OK:
        message = result.error_message.decode(errors="replace") if result is not None else ""
        raise RuntimeError(f"{command.decode()} failed: {message}")


def _csv(rows: Iterator[tuple[Any, ...]], names: list[str]) -> Iterator[bytes]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    yield BOM
    for row in rows:
        writer.writerow(["" if v is None else jsonable(v) for v in row])
        if out.tell() >= CHUNK:
            yield out.getvalue().encode()
            out.seek(0)
            out.truncate()
    if out.tell():
        yield out.getvalue().encode()


def _json(rows: Iterator[tuple[Any, ...]], names: list[str]) -> Iterator[bytes]:
    parts: list[str] = ["["]
    size = 1
    first = True
    for row in rows:
        text = json.dumps(dict(zip(names, map(jsonable, row), strict=True)), ensure_ascii=False)
        parts.append(text if first else ",\n" + text)
        first = False
        size += len(text) + 2
        if size >= CHUNK:
            yield "".join(parts).encode()
            parts.clear()
            size = 0
    parts.append("]\n")
    yield "".join(parts).encode()


def _xlsx_value(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if isinstance(value, str) and kind in ("date", "timestamp"):
        try:
            stamp = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
        return stamp.date() if kind == "date" else stamp
    if isinstance(value, Decimal):
        return float(value)
    return value


def _xlsx(rows: Iterator[tuple[Any, ...]], fields: list[dict[str, str]], title: str) -> Iterator[bytes]:
    kinds = [f["type"] for f in fields]
    with tempfile.TemporaryFile() as tmp:
        wb = Workbook(write_only=True)
        ws = wb.create_sheet(title="data")
        ws.append([f["id"] for f in fields])
        for row in rows:
            ws.append([_xlsx_value(v, k) for v, k in zip(row, kinds, strict=True)])
        wb.save(tmp)
        tmp.seek(0)
        while chunk := tmp.read(CHUNK):
            yield chunk


def geometry_columns(fields: list[dict[str, str]]) -> tuple[int, int] | int | None:
    """Where a table keeps its positions: (lon, lat) indexes, a geometry column index, or None."""
    lowered = [f["id"].lower() for f in fields]
    lon = next((i for i, n in enumerate(lowered) if n in LON_NAMES), None)
    lat = next((i for i, n in enumerate(lowered) if n in LAT_NAMES), None)
    if lon is not None and lat is not None:
        return lon, lat
    return next((i for i, n in enumerate(lowered) if n in GEOMETRY_NAMES), None)


def _geometry(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.startswith("{"):
        try:
            geometry = json.loads(text)
        except json.JSONDecodeError:
            return None
        return geometry if isinstance(geometry, dict) and "type" in geometry else None
    upper = text.upper()
    if upper.startswith("POINT"):
        inside = text[text.find("(") + 1 : text.rfind(")")].split()
        try:
            return {"type": "Point", "coordinates": [float(inside[0]), float(inside[1])]}
        except (IndexError, ValueError):
            return None
    return None


def _geojson(
    rows: Iterator[tuple[Any, ...]], names: list[str], where: tuple[int, int] | int
) -> Iterator[bytes]:
    skip = set(where) if isinstance(where, tuple) else {where}
    yield b'{"type": "FeatureCollection", "features": [\n'
    parts: list[str] = []
    size = 0
    first = True
    for row in rows:
        geometry: dict[str, Any] | None
        if isinstance(where, tuple):
            lon, lat = row[where[0]], row[where[1]]
            try:
                geometry = {"type": "Point", "coordinates": [float(lon), float(lat)]}
            except (TypeError, ValueError):
                geometry = None
        else:
            geometry = _geometry(row[where])
        props = {n: jsonable(v) for i, (n, v) in enumerate(zip(names, row, strict=True)) if i not in skip}
        feature = {"type": "Feature", "id": row[0], "geometry": geometry, "properties": props}
        text = json.dumps(feature, ensure_ascii=False)
        parts.append(text if first else ",\n" + text)
        first = False
        size += len(text)
        if size >= CHUNK:
            yield "".join(parts).encode()
            parts.clear()
            size = 0
    parts.append("\n]}\n")
    yield "".join(parts).encode()
