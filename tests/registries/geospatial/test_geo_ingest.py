"""Ingestion of boundaries and addresses: bad files, bad rows, atomic and partial, re-runs, history."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from openpyxl import Workbook
from sqlalchemy import func, select

from factories import SYSTEM
from registries.geospatial.geo_helpers import Geo
from zhengwu.accounts.models import Department, DepartmentLevel
from zhengwu.cli import cli
from zhengwu.db import Database, upgrade
from zhengwu.errors import NotFound
from zhengwu.registries.geospatial.coords import convert
from zhengwu.registries.geospatial.ingest import addresses_ingest, boundaries_load, demo_boundaries_path
from zhengwu.registries.geospatial.models import Address, AddressToken, AddressVersion, Division
from zhengwu.registries.geospatial.services import address_get, division_history

HEADER = "address_code,region_code,address,road,house_number,lon,lat\n"
GOOD = "3301060001000100,330106,浙江省杭州市西湖区文三路1号,文三路,1号,120.13,30.27\n"


def _ingest(geo: Geo, path: Path, **kwargs: object) -> object:
    return addresses_ingest(
        geo.db, actor=SYSTEM, source=geo.source, path=path, error_dir=geo.tmp / "errors", **kwargs
    )  # type: ignore[arg-type]


def test_good_row_is_stored_with_provenance_and_rerun_is_a_no_op(geo: Geo) -> None:
    path = geo.file("one.csv", HEADER + GOOD)
    first = _ingest(geo, path)
    assert first.status == "applied" and first.inserted == 1  # type: ignore[attr-defined]
    again = _ingest(geo, path)
    assert again.duplicate_of == first.batch_id  # type: ignore[attr-defined]
    stored = address_get(geo.db, actor=SYSTEM, address_code="3301060001000100")
    assert stored.batch_id == first.batch_id and stored.source_department == geo.source  # type: ignore[attr-defined]
    tokens = geo.db.scalar(
        select(func.count()).select_from(AddressToken).where(AddressToken.address_code == "3301060001000100")
    )
    assert tokens and tokens > 5


def test_change_makes_a_new_version_and_closes_the_old(geo: Geo) -> None:
    _ingest(geo, geo.file("v1.csv", HEADER + GOOD))
    changed = GOOD.replace("文三路1号,文三路", "文三路1号A座,文三路")
    second = _ingest(geo, geo.file("v2.csv", HEADER + changed))
    assert second.updated == 1  # type: ignore[attr-defined]
    versions = geo.db.scalars(
        select(AddressVersion)
        .where(AddressVersion.address_code == "3301060001000100")
        .order_by(AddressVersion.id)
    ).all()
    assert len(versions) == 2 and versions[0].valid_to is not None and versions[1].valid_to is None
    assert versions[1].address.endswith("A座")
    before = versions[1].valid_from - dt.timedelta(microseconds=1)
    then = address_get(geo.db, actor=SYSTEM, address_code="3301060001000100", as_of=before)
    assert then.address == "浙江省杭州市西湖区文三路1号" and then.valid_to is not None
    assert address_get(geo.db, actor=SYSTEM, address_code="3301060001000100").address.endswith("A座")
    with pytest.raises(NotFound):
        address_get(geo.db, actor=SYSTEM, address_code="3301060001000100", as_of=dt.date(2000, 1, 1))


def test_bad_rows_reject_the_batch_atomically_or_go_to_the_error_file(geo: Geo) -> None:
    west_lake = "3301060001000{},330106,浙江省杭州市西湖区文三路{}号,文三路,{}号,{},{}\n"
    rows = [
        GOOD,
        west_lake.format(200, 2, 2, 190, 30.27),  # longitude out of range
        west_lake.format(300, 3, 3, 121.55, 29.87),  # in 海曙区, not 西湖区
        west_lake.format(400, 4, 4, 120.13, 30.27).replace(
            "3301060001000400", "3302030001000400"
        ),  # other county
        "3301060001000500,339999,浙江省杭州市西湖区文三路5号,文三路,5号,120.13,30.27\n",  # unknown region
        "3301060001000100,330106,重复,文三路,1号,120.13,30.27\n",  # duplicate code in the batch
        "3301060001000600,330106,,文三路,6号,120.13,30.27\n",  # empty address
        "3301060001000700,330106,巴黎,,,2.35,48.85\n",  # outside China
    ]
    path = geo.file("mixed.csv", HEADER + "".join(rows))
    before = geo.db.scalar(select(func.count()).select_from(Address))
    atomic = _ingest(geo, path)
    assert atomic.status == "rejected" and atomic.rows_invalid == 7  # type: ignore[attr-defined]
    assert geo.db.scalar(select(func.count()).select_from(Address)) == before
    partial = _ingest(geo, path, mode="partial")
    assert partial.status == "partial" and partial.inserted == 1  # type: ignore[attr-defined]
    text = Path(partial.error_file).read_text(encoding="utf-8-sig")  # type: ignore[attr-defined]
    assert "经度" in text and "边界" in text and "前 6 位" in text and "重复" in text and "中国境内" in text


def test_gbk_bom_full_width_and_chinese_headers(geo: Geo) -> None:
    header = "地址编码,行政区划代码,标准地址,经度,纬度\n"
    row = "３３０１０６０００１０００１００,330106,浙江省杭州市西湖区文三路1号,１２０.１３,３０.２７\n"
    gbk = _ingest(geo, geo.file("gbk.csv", header + row, encoding="gbk"))
    assert gbk.status == "applied" and gbk.inserted == 1 and any("GBK" in n for n in gbk.notes)  # type: ignore[attr-defined]
    bom = _ingest(geo, geo.file("bom.csv", "\ufeff" + header + row.replace("1号", "1号甲")))
    assert bom.status == "applied" and bom.updated == 1  # type: ignore[attr-defined]


def test_malformed_files_are_rejected_with_a_reason(geo: Geo) -> None:
    missing = _ingest(geo, geo.file("missing.csv", "address_code,lon,lat\n1,2,3\n"))
    assert missing.status == "rejected" and "缺少必填列" in (missing.message or "")  # type: ignore[attr-defined]
    quotes = _ingest(
        geo, geo.file("quotes.csv", HEADER + '3301060001000100,330106,"浙江省,文三路,1号,120.13,30.27\n')
    )
    assert quotes.status == "rejected"  # type: ignore[attr-defined]
    extra = _ingest(geo, geo.file("extra.csv", HEADER + GOOD.strip() + ",多余\n"))
    assert extra.status == "rejected" and extra.rows_invalid == 1  # type: ignore[attr-defined]


def test_gcj02_and_bd09_coordinates_are_stored_in_cgcs2000(geo: Geo) -> None:
    x, y = convert(120.13, 30.27, source="wgs84", target="bd09")
    bx, by = float(x), float(y)
    row = f"3301060001000100,330106,浙江省杭州市西湖区文三路1号,文三路,1号,{bx:.9f},{by:.9f}\n"
    result = _ingest(geo, geo.file("bd.csv", HEADER + row), crs="bd09")
    assert result.inserted == 1  # type: ignore[attr-defined]
    stored = address_get(geo.db, actor=SYSTEM, address_code="3301060001000100")
    assert abs(stored.lon - 120.13) < 1e-6 and abs(stored.lat - 30.27) < 1e-6


def test_boundaries_bad_geojson_is_rejected_whole(geo: Geo) -> None:
    bad = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "110101"},
                "geometry": {"type": "Point", "coordinates": [116, 39]},
            },
            {"type": "Feature", "properties": {"code": "99999x"}, "geometry": None},
        ],
    }
    result = boundaries_load(
        geo.db, actor=SYSTEM, source=geo.source, path=geo.file("bad.geojson", json.dumps(bad))
    )
    assert result.status == "rejected" and result.rows_invalid == 2
    assert geo.db.get(Division, "110101") is None
    broken = boundaries_load(
        geo.db, actor=SYSTEM, source=geo.source, path=geo.file("broken.geojson", "{not json")
    )
    assert broken.status == "rejected"


def test_cli_loads_boundaries_and_addresses(tmp_path: Path, empty_database_url: str) -> None:
    database = Database.from_url(empty_database_url)
    upgrade(database.engine)
    with database.session() as db:
        db.add(
            Department(
                code="ZRZY", name="省自然资源厅", level=DepartmentLevel.PROVINCIAL, region_code="330000"
            )
        )
    database.dispose()
    base = ["--database-url", empty_database_url, "--data-dir", str(tmp_path), "registries", "geo"]
    runner = CliRunner()
    loaded = runner.invoke(
        cli, [*base, "load-boundaries", str(demo_boundaries_path()), "--source", "ZRZY", "--json"]
    )
    assert loaded.exit_code == 0, loaded.output
    assert json.loads(loaded.stdout)["inserted"] == 102
    path = tmp_path / "a.csv"
    path.write_text(
        HEADER + GOOD + GOOD.replace("0001000100", "0001000200").replace("120.13", "200"), encoding="utf-8"
    )
    rejected = runner.invoke(cli, [*base, "ingest-addresses", str(path), "--source", "ZRZY", "--no-progress"])
    assert rejected.exit_code == 1 and "已拒绝" in rejected.output
    partial = runner.invoke(
        cli, [*base, "ingest-addresses", str(path), "--source", "ZRZY", "--partial", "--no-progress"]
    )
    assert partial.exit_code == 0 and "部分入库" in partial.output
    reverse = runner.invoke(cli, [*base, "reverse", "120.13", "30.27"])
    assert reverse.exit_code == 0 and json.loads(reverse.stdout)["county"]["code"] == "330106"
    converted = runner.invoke(
        cli, [*base, "convert", "116.404", "39.915", "--from", "wgs84", "--to", "gcj02"]
    )
    assert converted.exit_code == 0 and converted.stdout.startswith("116.410244")
    bad = runner.invoke(cli, [*base, "convert", "200", "39.9", "--from", "wgs84", "--to", "gcj02"])
    assert bad.exit_code == 1 and "Traceback" not in bad.output


def test_excel_and_parquet_deliveries(geo: Geo) -> None:
    columns = HEADER.strip().split(",")
    values = GOOD.strip().split(",")
    row = [*values[:5], float(values[5]), float(values[6])]
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(columns)
    sheet.append(row)
    xlsx = geo.tmp / "addresses.xlsx"
    workbook.save(xlsx)
    assert _ingest(geo, xlsx).inserted == 1  # type: ignore[attr-defined]
    parquet = geo.tmp / "addresses.parquet"
    changed = [row[0], row[1], row[2] + "B座", *row[3:]]
    pq.write_table(pa.Table.from_pylist([dict(zip(columns, changed, strict=True))]), parquet)
    assert _ingest(geo, parquet).updated == 1  # type: ignore[attr-defined]


def test_changed_boundary_makes_a_division_version(geo: Geo) -> None:
    data = json.loads(demo_boundaries_path().read_text(encoding="utf-8"))
    west_lake = next(f for f in data["features"] if f["properties"]["code"] == "330106")
    west_lake["geometry"]["coordinates"][0][0] = west_lake["geometry"]["coordinates"][0][0][
        ::-1
    ]  # same ring, reversed
    west_lake["properties"]["name"] = "西湖区（测试）"
    path = geo.file("changed.geojson", json.dumps({"type": "FeatureCollection", "features": [west_lake]}))
    result = boundaries_load(geo.db, actor=SYSTEM, source=geo.source, path=path)
    assert (result.status, result.updated) == ("applied", 1)
    history = division_history(geo.db, actor=SYSTEM, code="330106")
    assert [v.name for v in history] == ["西湖区", "西湖区（测试）"] and history[0].valid_to is not None
