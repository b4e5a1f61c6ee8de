"""Coordinate conversion: published reference values, round trips, no offset outside China."""

from __future__ import annotations

import numpy as np
import pytest

from zhengwu.registries.geospatial.coords import (
    CoordinateSystem,
    bd09_to_gcj02,
    convert,
    coordinates_valid,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    wgs84_to_gcj02,
)

# (wgs_lon, wgs_lat, gcj_lon, gcj_lat): the test vectors published with eviltransform (Shanghai,
# Shenzhen, Beijing) and the example of coordtransform (Tiananmen).
PUBLISHED = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
    (116.404, 39.915, 116.41024449916938, 39.91640428150164),
]


@pytest.mark.parametrize(("lon", "lat", "glon", "glat"), PUBLISHED)
def test_wgs84_to_gcj02_matches_published_values(lon: float, lat: float, glon: float, glat: float) -> None:
    x, y = wgs84_to_gcj02(lon, lat)
    assert abs(float(x) - glon) < 1e-6 and abs(float(y) - glat) < 1e-6


@pytest.mark.parametrize(("lon", "lat", "glon", "glat"), PUBLISHED)
def test_gcj02_inverse_recovers_the_wgs84_point(lon: float, lat: float, glon: float, glat: float) -> None:
    x, y = gcj02_to_wgs84(glon, glat)
    assert abs(float(x) - lon) < 1e-6 and abs(float(y) - lat) < 1e-6


def test_bd09_published_values_and_round_trip() -> None:
    bx, by = gcj02_to_bd09(116.404, 39.915)
    assert abs(float(bx) - 116.41036949371029) < 1e-9 and abs(float(by) - 39.92133699351021) < 1e-9
    gx, gy = bd09_to_gcj02(116.404, 39.915)
    assert abs(float(gx) - 116.39762729119315) < 1e-9 and abs(float(gy) - 39.90865673957631) < 1e-9
    x, y = convert(116.404, 39.915, source="bd09", target="gcj02")
    rx, ry = convert(x, y, source="gcj02", target="bd09")
    assert abs(float(rx) - 116.404) < 1e-6 and abs(float(ry) - 39.915) < 1e-6


def test_round_trip_below_a_millionth_of_a_degree_across_china() -> None:
    rng = np.random.default_rng(11)
    lon, lat = rng.uniform(73.0, 135.0, 20_000), rng.uniform(18.0, 53.5, 20_000)
    gx, gy = wgs84_to_gcj02(lon, lat)
    offset = np.hypot(gx - lon, gy - lat)
    assert offset.min() > 1e-4  # the offset is really applied (tens to hundreds of metres)
    wx, wy = gcj02_to_wgs84(gx, gy)
    assert np.abs(wx - lon).max() < 1e-6 and np.abs(wy - lat).max() < 1e-6


@pytest.mark.parametrize(
    ("lon", "lat"), [(2.3522, 48.8566), (-74.006, 40.7128), (151.2093, -33.8688), (139.0, 35.0)]
)
def test_no_offset_outside_china(lon: float, lat: float) -> None:
    for source, target in (("wgs84", "gcj02"), ("gcj02", "wgs84"), ("cgcs2000", "gcj02")):
        x, y = convert(lon, lat, source=source, target=target)
        assert (float(x), float(y)) == (lon, lat)


def test_cgcs2000_is_treated_as_wgs84() -> None:
    x, y = convert(
        [120.1, 121.0], [30.2, 29.0], source=CoordinateSystem.CGCS2000, target=CoordinateSystem.WGS84
    )
    assert x.tolist() == [120.1, 121.0] and y.tolist() == [30.2, 29.0]


def test_coordinates_valid_refuses_nan_infinite_and_out_of_range() -> None:
    ok = coordinates_valid([120.0, np.nan, np.inf, 181.0, 120.0], [30.0, 30.0, 30.0, 30.0, -90.5])
    assert ok.tolist() == [True, False, False, False, False]
