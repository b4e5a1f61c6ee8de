"""Streamed downloads: formats, and memory that does not grow with the table."""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from opendata.datastore.datastore_helpers import PUBLIC, load_csv, numbers_csv
from zhengwu.errors import NotFound, ValidationError
from zhengwu.opendata.datastore.dump import datastore_dump


def download(db: Session, rid: str, fmt: str) -> bytes:
    return b"".join(datastore_dump(db, actor=PUBLIC, resource_id=rid, fmt=fmt).chunks)


def test_csv_has_a_bom_a_header_and_every_row(db: Session, tmp_path: Path) -> None:
    rid = load_csv(db, tmp_path).resource_id
    data = download(db, rid, "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0] == ["_id", "编号", "姓名", "城市", "金额", "日期", "登记时间", "邮编"]
    assert len(rows) == 6
    assert rows[1][:3] == ["1", "1", "张三"]
    assert rows[1][5] == "2024-01-05"
    assert rows[1][7] == "0571"
    assert rows[4][4] == ""  # empty amount


def test_json_is_an_array_of_records(db: Session, tmp_path: Path) -> None:
    rid = load_csv(db, tmp_path).resource_id
    records = json.loads(download(db, rid, "json"))
    assert len(records) == 5
    assert records[1]["金额"] == 7.25
    assert records[2]["日期"] == "2024-03-07"


def test_xlsx_opens_with_typed_cells(db: Session, tmp_path: Path) -> None:
    rid = load_csv(db, tmp_path).resource_id
    path = tmp_path / "out.xlsx"
    path.write_bytes(download(db, rid, "xlsx"))
    wb = load_workbook(path, read_only=True)
    rows = list(wb.worksheets[0].iter_rows(values_only=True))
    assert rows[0][:3] == ("_id", "编号", "姓名")
    assert rows[1][2] == "张三"
    assert rows[1][5] is not None
    assert rows[1][5].year == 2024  # type: ignore[union-attr]
    assert len(rows) == 6


def test_geojson_from_lon_lat(db: Session, tmp_path: Path) -> None:
    rid = load_csv(db, tmp_path, numbers_csv(3)).resource_id
    collection = json.loads(download(db, rid, "geojson"))
    assert collection["type"] == "FeatureCollection"
    feature = collection["features"][1]
    assert feature["geometry"] == {"type": "Point", "coordinates": [120.1, 30.1]}
    assert feature["properties"]["label"] == "标签1"
    assert "lon" not in feature["properties"]


def test_geojson_from_a_geometry_column(db: Session, tmp_path: Path) -> None:
    text = (
        'name,geometry\n甲,POINT (120.5 30.25)\n乙,"{""type"": ""Point"", ""coordinates"": [121, 31]}"\n丙,\n'
    )
    rid = load_csv(db, tmp_path, text).resource_id
    features = json.loads(download(db, rid, "geojson"))["features"]
    assert features[0]["geometry"]["coordinates"] == [120.5, 30.25]
    assert features[1]["geometry"]["coordinates"] == [121, 31]
    assert features[2]["geometry"] is None


def test_geojson_refused_for_a_table_without_positions(db: Session, tmp_path: Path) -> None:
    rid = load_csv(db, tmp_path).resource_id
    with pytest.raises(ValidationError) as err:
        datastore_dump(db, actor=PUBLIC, resource_id=rid, fmt="geojson")
    assert err.value.field == "format"


def test_unknown_format_and_closed_table(db: Session, tmp_path: Path) -> None:
    rid = load_csv(db, tmp_path).resource_id
    with pytest.raises(ValidationError):
        datastore_dump(db, actor=PUBLIC, resource_id=rid, fmt="exe")
    closed = load_csv(db, tmp_path, is_open=False).resource_id
    with pytest.raises(NotFound):
        datastore_dump(db, actor=PUBLIC, resource_id=closed, fmt="csv")


def _peak_while_streaming(db: Session, rid: str, fmt: str) -> tuple[int, int]:
    dump = datastore_dump(db, actor=PUBLIC, resource_id=rid, fmt=fmt)
    tracemalloc.start()
    try:
        size = sum(len(chunk) for chunk in dump.chunks)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return size, peak


def test_memory_stays_flat_as_the_table_grows(db: Session, tmp_path: Path) -> None:
    small = load_csv(db, tmp_path, numbers_csv(8_000)).resource_id
    large = load_csv(db, tmp_path, numbers_csv(24_000)).resource_id
    for fmt in ("csv", "json"):
        small_size, small_peak = _peak_while_streaming(db, small, fmt)
        large_size, large_peak = _peak_while_streaming(db, large, fmt)
        assert large_size > 2.5 * small_size
        # Three times the rows and the bytes, not more memory: one chunk and one fetch batch at a time.
        assert large_peak < small_peak * 1.5 + 256 * 1024, fmt
        assert large_peak < 12 * 1024 * 1024, fmt


def test_csv_of_many_chunks_is_every_row_in_id_order(db: Session, tmp_path: Path) -> None:
    rid = load_csv(db, tmp_path, numbers_csv(12_000)).resource_id
    dump = datastore_dump(db, actor=PUBLIC, resource_id=rid, fmt="csv")
    chunks = list(dump.chunks)
    assert len(chunks) > 1
    rows = list(csv.reader(io.StringIO(b"".join(chunks).decode("utf-8-sig"))))
    assert rows[0][0] == "_id"
    assert [int(r[0]) for r in rows[1:]] == list(range(1, 12_001))


def test_an_abandoned_download_leaves_the_session_usable(db: Session, tmp_path: Path) -> None:
    rid = load_csv(db, tmp_path, numbers_csv(12_000)).resource_id
    chunks = datastore_dump(db, actor=PUBLIC, resource_id=rid, fmt="csv").chunks
    first = next(chunks)
    assert first.startswith(b"\xef\xbb\xbf")
    chunks.close()  # the client went away after the first chunk
    # The same session goes on: another query, and a whole download.
    assert download(db, rid, "csv").count(b"\n") == 12_001
