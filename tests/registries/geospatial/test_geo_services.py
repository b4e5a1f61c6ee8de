"""Services of the geospatial registry on both backends: divisions, search, reverse geocoding."""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from sqlalchemy import func, select

from factories import SYSTEM
from registries.geospatial.geo_helpers import PER_COUNTY, Geo
from zhengwu.accounts.permissions import Actor
from zhengwu.errors import NotAuthenticated, NotFound, ValidationError
from zhengwu.registries.geospatial.coords import wgs84_to_gcj02
from zhengwu.registries.geospatial.models import Address, AddressVersion, Division
from zhengwu.registries.geospatial.schemas import PointIn
from zhengwu.registries.geospatial.seed import geospatial_demo_seed
from zhengwu.registries.geospatial.services import (
    GRID_MIN_POINTS,
    address_get,
    address_history,
    address_search,
    coordinates_convert,
    division_boundary,
    division_get,
    division_index,
    division_tree,
    reverse_geocode,
    reverse_geocode_batch,
)

WEST_LAKE_DISTRICT = (120.13, 30.27)  # 西湖区, near 浙江大学玉泉校区
NINGBO_HAISHU = (121.55, 29.87)


def test_seed_loads_the_province_tree_and_addresses(geo: Geo) -> None:
    assert geo.counts["registry_geo_divisions"] == 102  # 1 province, 11 prefectures, 90 counties
    counties = geo.db.scalar(select(func.count()).select_from(Division).where(Division.level == "county"))
    assert counties == 90
    assert geo.counts["registry_geo_addresses"] >= 90 * (PER_COUNTY - 1)
    tree = division_tree(geo.db, actor=SYSTEM)
    assert [n.code for n in tree] == ["330000"]
    hangzhou = next(c for c in tree[0].children if c.code == "330100")
    assert "330106" in {c.code for c in hangzhou.children}


def test_seed_twice_changes_nothing(geo: Geo) -> None:
    versions = geo.db.scalar(select(func.count()).select_from(AddressVersion))
    again = geospatial_demo_seed(
        geo.db, province_code="330000", seed=7, work_dir=geo.tmp / "again", per_county=6, source=geo.source
    )
    assert again == {"registry_geo_divisions": 0, "registry_geo_addresses": 0}
    assert geo.db.scalar(select(func.count()).select_from(AddressVersion)) == versions


def test_division_get_has_path_children_and_provenance(geo: Geo) -> None:
    west_lake = division_get(geo.db, actor=SYSTEM, code="330106")
    assert west_lake.name == "西湖区" and [p.code for p in west_lake.path] == ["330000", "330100"]
    assert (
        west_lake.source_department == geo.source
        and west_lake.has_boundary
        and west_lake.addresses >= PER_COUNTY - 1
    )
    west, south, east, north = west_lake.bbox or [0, 0, 0, 0]
    assert west < WEST_LAKE_DISTRICT[0] < east and south < WEST_LAKE_DISTRICT[1] < north
    boundary = division_boundary(geo.db, actor=SYSTEM, code="330106")
    assert boundary["type"] == "Feature" and boundary["geometry"]["type"] == "MultiPolygon"


@pytest.mark.parametrize("code", ["33010", "abcdef", "３３０１０６x", "330106; DROP TABLE geo_divisions", ""])
def test_malformed_region_code_is_400(geo: Geo, code: str) -> None:
    with pytest.raises(ValidationError):
        division_get(geo.db, actor=SYSTEM, code=code)


def test_full_width_code_is_folded_and_unknown_code_is_404(geo: Geo) -> None:
    assert division_get(geo.db, actor=SYSTEM, code="３３０１０６").code == "330106"
    with pytest.raises(NotFound):
        division_get(geo.db, actor=SYSTEM, code="110101")  # valid GB/T 2260, not loaded
    with pytest.raises(ValidationError):
        division_get(geo.db, actor=SYSTEM, code="999999")  # not a GB/T 2260 code


def test_reverse_geocodes_known_points_to_their_counties(geo: Geo) -> None:
    west = reverse_geocode(geo.db, actor=SYSTEM, lon=WEST_LAKE_DISTRICT[0], lat=WEST_LAKE_DISTRICT[1])
    assert west.county is not None and west.county.code == "330106" and west.county.name == "西湖区"
    assert west.prefecture is not None and west.prefecture.code == "330100"
    assert west.province is not None and west.province.name == "浙江省"
    haishu = reverse_geocode(geo.db, actor=SYSTEM, lon=NINGBO_HAISHU[0], lat=NINGBO_HAISHU[1])
    assert haishu.county is not None and haishu.county.code == "330203"


def test_reverse_accepts_gcj02_input(geo: Geo) -> None:
    gx, gy = wgs84_to_gcj02(*WEST_LAKE_DISTRICT)
    result = reverse_geocode(geo.db, actor=SYSTEM, lon=float(gx), lat=float(gy), crs="gcj02")
    assert abs(result.wgs84_lon - WEST_LAKE_DISTRICT[0]) < 1e-6 and result.county is not None
    assert result.county.code == "330106"


def test_reverse_outside_china_and_outside_loaded_province(geo: Geo) -> None:
    paris = reverse_geocode(geo.db, actor=SYSTEM, lon=2.3522, lat=48.8566)
    assert not paris.in_china and paris.county is None and paris.address is None
    beijing = reverse_geocode(geo.db, actor=SYSTEM, lon=116.397, lat=39.909)
    assert beijing.in_china and beijing.county is None


def test_nearest_address_is_the_address_at_that_point(geo: Geo) -> None:
    row = geo.db.scalars(
        select(Address).where(Address.region_code == "330106").order_by(Address.address_code)
    ).first()
    assert row is not None
    result = reverse_geocode(geo.db, actor=SYSTEM, lon=row.lon + 0.00001, lat=row.lat)
    assert result.address is not None and result.address.address_code == row.address_code
    assert result.distance_m is not None and result.distance_m < 2.0
    assert result.county is not None and result.county.code == row.region_code


def test_batch_reverse_keeps_order_and_matches_single_answers(geo: Geo) -> None:
    rows = geo.db.scalars(select(Address).order_by(Address.address_code).limit(40)).all()
    points = [PointIn(lon=r.lon, lat=r.lat) for r in rows] + [PointIn(lon=2.35, lat=48.85)]
    results = reverse_geocode_batch(geo.db, actor=SYSTEM, points=points)
    assert len(results) == len(points)
    for row, result in zip(rows, results, strict=False):
        assert result.county is not None and result.county["code"] == row.region_code
        assert result.address is not None and result.address["address_code"] == row.address_code
    assert results[-1].county is None and not results[-1].in_china
    single = reverse_geocode(geo.db, actor=SYSTEM, lon=rows[0].lon, lat=rows[0].lat)
    assert single.model_dump(mode="json") == results[0].to_dict()


@pytest.mark.parametrize(
    ("lon", "lat", "field"),
    [(181.0, 30.0, "lon"), (120.0, 91.0, "lat"), (float("nan"), 30.0, "lon"), (float("inf"), 1.0, "lon")],
)
def test_out_of_range_coordinates_are_400_with_field(geo: Geo, lon: float, lat: float, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        reverse_geocode(geo.db, actor=SYSTEM, lon=lon, lat=lat)
    assert info.value.field == field


def test_unknown_crs_is_400(geo: Geo) -> None:
    with pytest.raises(ValidationError) as info:
        reverse_geocode(geo.db, actor=SYSTEM, lon=120.1, lat=30.2, crs="epsg3857")
    assert info.value.field == "crs"


def test_address_search_in_chinese_ranks_the_whole_match_first(geo: Geo) -> None:
    target = geo.db.scalars(
        select(Address).where(Address.region_code == "330106").order_by(Address.address_code)
    ).first()
    assert target is not None
    fragment = f"西湖区{target.road}{target.house_number}"
    hits = address_search(geo.db, actor=SYSTEM, query=fragment)
    assert hits and hits[0].score >= 2.0  # all bigrams + the whole fragment
    assert target.address_code in [h.address_code for h in hits if h.score == hits[0].score]
    assert all(a.score >= b.score for a, b in itertools.pairwise(hits))
    # Spaces, full-width digits and a region filter.
    spaced = address_search(
        geo.db,
        actor=SYSTEM,
        query=" ".join(fragment).translate(str.maketrans("0123456789", "０１２３４５６７８９")),
        region="330100",
    )
    assert spaced and spaced[0].address_code == hits[0].address_code
    assert address_search(geo.db, actor=SYSTEM, query=fragment, region="330200") == [] or all(
        h.region_code.startswith("3302")
        for h in address_search(geo.db, actor=SYSTEM, query=fragment, region="330200")
    )


def test_address_search_bad_queries(geo: Geo) -> None:
    with pytest.raises(ValidationError):
        address_search(geo.db, actor=SYSTEM, query="   ")
    with pytest.raises(ValidationError):
        address_search(geo.db, actor=SYSTEM, query="路" * 101)
    before = geo.db.scalar(select(func.count()).select_from(Address))
    assert address_search(geo.db, actor=SYSTEM, query="' OR 1=1 --") == []
    assert address_search(geo.db, actor=SYSTEM, query="'; DROP TABLE geo_addresses; --") == []
    assert geo.db.scalar(select(func.count()).select_from(Address)) == before
    assert all("号" in h.address for h in address_search(geo.db, actor=SYSTEM, query="号"))


def test_address_get_history_and_errors(geo: Geo) -> None:
    row = geo.db.scalars(select(Address).order_by(Address.address_code)).first()
    assert row is not None
    out = address_get(geo.db, actor=SYSTEM, address_code=row.address_code.lower())
    assert out.address == row.address and out.source_department == geo.source
    assert abs(out.gcj02_lon - row.lon) > 1e-4  # the GCJ-02 pair is offset
    assert len(address_history(geo.db, actor=SYSTEM, address_code=row.address_code)) == 1
    with pytest.raises(ValidationError):
        address_get(geo.db, actor=SYSTEM, address_code="地址")
    with pytest.raises(NotFound):
        address_get(geo.db, actor=SYSTEM, address_code="330106999999999999")


def test_anonymous_callers_are_refused(geo: Geo) -> None:
    with pytest.raises(NotAuthenticated):
        division_tree(geo.db, actor=Actor.anonymous())


def test_convert_service() -> None:
    out = coordinates_convert(
        actor=SYSTEM, points=[PointIn(lon=116.404, lat=39.915)], source="wgs84", target="gcj02"
    )
    assert abs(out.points[0].lon - 116.41024449916938) < 1e-6
    with pytest.raises(ValidationError):
        coordinates_convert(
            actor=SYSTEM, points=[PointIn(lon=200.0, lat=0.0)], source="wgs84", target="gcj02"
        )


def test_large_batch_uses_the_lattice_and_gives_the_same_counties(geo: Geo) -> None:
    rows = geo.db.scalars(select(Address).order_by(Address.address_code)).all()
    points = [PointIn(lon=r.lon, lat=r.lat) for r in rows] * (GRID_MIN_POINTS // len(rows) + 1)
    results = reverse_geocode_batch(geo.db, actor=SYSTEM, points=points, nearest_address=False)
    assert division_index(geo.db).grid is not None
    expected = [r.region_code for r in rows] * (GRID_MIN_POINTS // len(rows) + 1)
    assert [r.county["code"] if r.county else None for r in results] == expected
    assert all(r.address is None for r in results[:10])


def test_huge_batch_is_refused_before_any_work(geo: Geo) -> None:
    points = [PointIn(lon=120.1, lat=30.2)] * 100_001
    with pytest.raises(ValidationError) as info:
        reverse_geocode_batch(geo.db, actor=SYSTEM, points=points)
    assert info.value.field == "points"


def test_concurrent_batches_share_one_index(geo: Geo) -> None:
    rows = geo.db.scalars(select(Address).order_by(Address.address_code).limit(20)).all()
    lon = [r.lon for r in rows]
    lat = [r.lat for r in rows]
    index = division_index(geo.db)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: index.codes_of(np.array(lon), np.array(lat)), range(8)))
    assert all(a == [r.region_code for r in rows] for a in answers)
