"""Coordinate systems of Chinese maps: WGS-84 / CGCS2000, GCJ-02 (国测局 offsets) and BD-09 (Baidu).

* **WGS-84** (GPS) and **CGCS2000** (the national geodetic system, GB/T 2260 boundaries, 天地图) differ
  by centimetres, far below what any address or boundary here resolves: they are one system for this
  registry, and every stored coordinate is in it.
* **GCJ-02** is WGS-84 plus a smooth, deterministic offset of a few hundred metres that Chinese web
  maps (高德/Amap, 腾讯, the DataV boundaries) are obliged to use. The forward transform is the
  published algorithm (Krasovsky 1940 ellipsoid, the polynomial-and-sine field known from
  eviltransform / coordtransform); the inverse has no closed form and is computed by fixed-point
  iteration until the round trip is below ``1e-9`` degrees (a few hundred microns), far inside the
  ``1e-6`` the registry promises. Outside the rectangle the algorithm itself declares as "China" no
  offset is applied, as every implementation does.
* **BD-09** is Baidu's further rotation of GCJ-02; supported both ways as a convenience.

Everything is vectorised with NumPy: arrays in, arrays out; scalars work too (0-d arrays).
"""

from __future__ import annotations

import enum
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

Floats = NDArray[np.float64]

_A: Final = 6378245.0  # Krasovsky 1940 semi-major axis, as in the published algorithm
_EE: Final = 0.00669342162296594323  # its first eccentricity squared
_X_PI: Final = np.pi * 3000.0 / 180.0
# The rectangle the published algorithm treats as China (no offset outside it).
CHINA_BOX: Final = (72.004, 0.8293, 137.8347, 55.8271)
INVERSE_TOLERANCE: Final = 1e-9
_MAX_ITERATIONS: Final = 30


class CoordinateSystem(enum.StrEnum):
    """Systems a coordinate can be given in."""

    WGS84 = "wgs84"
    CGCS2000 = "cgcs2000"
    GCJ02 = "gcj02"
    BD09 = "bd09"


def _arrays(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def in_china_box(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """True where the published algorithm applies an offset."""
    x, y = _arrays(lon, lat)
    west, south, east, north = CHINA_BOX
    return (x >= west) & (x <= east) & (y >= south) & (y <= north)


def _offset(lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
    """The GCJ-02 offset (degrees) at a WGS-84 point, without the China test."""
    x = lon - 105.0
    y = lat - 35.0
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    d_lat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + common
    d_lat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    d_lat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    d_lon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + common
    d_lon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    d_lon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad_lat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad_lat) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = (d_lat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = (d_lon * 180.0) / (_A / sqrt_magic * np.cos(rad_lat) * np.pi)
    return d_lon, d_lat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    """WGS-84 (or CGCS2000) to GCJ-02; points outside China are returned unchanged."""
    x, y = _arrays(lon, lat)
    d_lon, d_lat = _offset(x, y)
    inside = in_china_box(x, y)
    return np.where(inside, x + d_lon, x), np.where(inside, y + d_lat, y)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    """GCJ-02 to WGS-84 by iteration: the result maps back onto the input within ``1e-9`` degrees.

    Fixed point ``w ← w − (f(w) − g)``: the offset changes by less than 1e-4 of its size per metre,
    so every step gains about four digits; three or four steps suffice, thirty are allowed.
    """
    gx, gy = _arrays(lon, lat)
    inside = in_china_box(gx, gy)
    wx, wy = gx.copy(), gy.copy()
    for _ in range(_MAX_ITERATIONS):
        d_lon, d_lat = _offset(wx, wy)
        err_x = wx + d_lon - gx
        err_y = wy + d_lat - gy
        wx = wx - err_x
        wy = wy - err_y
        if float(
            np.max(np.abs(np.where(inside, np.maximum(np.abs(err_x), np.abs(err_y)), 0.0)), initial=0.0)
        ) < (INVERSE_TOLERANCE):
            break
    return np.where(inside, wx, gx), np.where(inside, wy, gy)


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    """GCJ-02 to Baidu's BD-09."""
    x, y = _arrays(lon, lat)
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[Floats, Floats]:
    """Baidu's BD-09 to GCJ-02 (the published closed-form inverse)."""
    bx, by = _arrays(lon, lat)
    x = bx - 0.0065
    y = by - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _normal(system: CoordinateSystem | str) -> CoordinateSystem:
    value = CoordinateSystem(system)
    return CoordinateSystem.WGS84 if value is CoordinateSystem.CGCS2000 else value


def convert(
    lon: ArrayLike, lat: ArrayLike, *, source: CoordinateSystem | str, target: CoordinateSystem | str
) -> tuple[Floats, Floats]:
    """Convert between any two of WGS-84/CGCS2000, GCJ-02 and BD-09 (through WGS-84 when needed)."""
    src, dst = _normal(source), _normal(target)
    x, y = _arrays(lon, lat)
    if src is dst:
        return x.copy(), y.copy()
    if src is CoordinateSystem.BD09:
        x, y = bd09_to_gcj02(x, y)
        src = CoordinateSystem.GCJ02
        if dst is CoordinateSystem.GCJ02:
            return x, y
    if src is CoordinateSystem.GCJ02:
        if dst is CoordinateSystem.BD09:
            return gcj02_to_bd09(x, y)
        return gcj02_to_wgs84(x, y)
    # src is WGS-84
    gx, gy = wgs84_to_gcj02(x, y)
    return gcj02_to_bd09(gx, gy) if dst is CoordinateSystem.BD09 else (gx, gy)


def coordinates_valid(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """True where both are finite numbers inside [-180, 180] × [-90, 90]."""
    x, y = _arrays(lon, lat)
    return np.isfinite(x) & np.isfinite(y) & (np.abs(x) <= 180.0) & (np.abs(y) <= 90.0)
