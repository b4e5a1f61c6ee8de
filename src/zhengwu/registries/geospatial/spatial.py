"""In-memory spatial indexes of the geospatial registry: point → county, point → nearest address.

The tables keep boundaries as GeoJSON text (portable across SQLite and PostgreSQL); lookups need a
spatial index, which is built here from those rows with shapely 2 and kept per process:

* :class:`DivisionIndex` holds the county polygons in an ``STRtree`` and prepares them (GEOS prepared
  geometries index their edges, so a point-in-polygon test costs a logarithmic number of segment
  checks instead of a walk along thousands of vertices). A batch of points is answered by one
  vectorised ``STRtree.query(points, predicate="intersects")`` call: no Python loop per point.
  For large batches an optional lattice (:meth:`DivisionIndex.build_grid`) answers most points by
  array indexing: only points in cells crossed by a boundary go to the exact query.
* :class:`AddressIndex` holds the address points projected to a local metric plane
  (equirectangular at the data's mean latitude) in an ``STRtree``; ``query_nearest`` answers a batch.
  The distance reported is the haversine distance of the chosen pair.

The DataV-derived boundaries overlap a little along shared edges (the sources are simplified
independently): a point in two counties gets the first in code order, deterministically.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import shape

from zhengwu.registries.geospatial.coords import Floats

EARTH_RADIUS_M: Final = 6371008.8
_M_PER_DEGREE: Final = np.pi * EARTH_RADIUS_M / 180.0
GRID_CELL: Final = 0.02  # degrees (about 2 km): ~55,000 cells for a province, built in about a second
_MIXED: Final = -2  # a grid cell crossed by a boundary: its points need the exact test


def parse_geometry(text: str) -> shapely.Geometry:
    """A GeoJSON geometry text as a shapely geometry (raises ValueError/KeyError/TypeError if broken)."""
    return shape(json.loads(text))


@dataclass(frozen=True)
class DivisionShape:
    """What the index needs of one division."""

    code: str
    geometry: str  # GeoJSON text


class DivisionIndex:
    """County polygons in an STRtree with prepared geometries."""

    def __init__(self, divisions: Sequence[DivisionShape]) -> None:
        ordered = sorted(divisions, key=lambda d: d.code)
        self.codes: NDArray[np.str_] = np.array([d.code for d in ordered], dtype="<U6")
        geoms = [parse_geometry(d.geometry) for d in ordered]
        self.geometries = np.array(geoms, dtype=object)
        shapely.prepare(self.geometries)
        self.tree = shapely.STRtree(self.geometries)
        self.grid: NDArray[np.int64] | None = None
        self.grid_shape: tuple[float, float, float, int, int] = (0.0, 0.0, GRID_CELL, 0, 0)

    def __len__(self) -> int:
        return len(self.codes)

    def build_grid(self, cell: float = GRID_CELL) -> None:
        """Precompute a lattice of cells answered without any polygon test (once per index).

        A cell that no county touches answers "none"; a cell that exactly one county covers entirely
        answers that county; only the cells crossed by a boundary (about a tenth of them) leave their
        points to the exact STRtree query. The answers are the same as without the grid.
        """
        if self.grid is not None or len(self.codes) == 0:
            return
        west, south, east, north = (float(v) for v in shapely.total_bounds(self.geometries))
        nx = max(1, int(np.ceil((east - west) / cell)))
        ny = max(1, int(np.ceil((north - south) / cell)))
        xs, ys = np.meshgrid(west + np.arange(nx) * cell, south + np.arange(ny) * cell)
        x0, y0 = xs.ravel(), ys.ravel()
        boxes = shapely.box(x0, y0, x0 + cell, y0 + cell)
        pairs = self.tree.query(boxes, predicate="intersects")
        hits = np.bincount(pairs[0], minlength=len(boxes))
        grid = np.full(len(boxes), _MIXED, dtype=np.int64)
        grid[hits == 0] = -1
        owner = np.full(len(boxes), -1, dtype=np.int64)
        owner[pairs[0]] = pairs[1]
        single = np.flatnonzero(hits == 1)
        covered = shapely.covers(self.geometries[owner[single]], boxes[single])
        grid[single[covered]] = owner[single[covered]]
        self.grid = grid
        self.grid_shape = (west, south, cell, nx, ny)

    def locate(self, lon: Floats, lat: Floats) -> NDArray[np.int64]:
        """Index into :attr:`codes` of the county holding each point, or -1 where none does."""
        out = np.full(len(lon), -1, dtype=np.int64)
        if len(self.codes) == 0 or len(lon) == 0:
            return out
        todo: NDArray[np.int64] | None = None
        if self.grid is not None:
            west, south, cell, nx, ny = self.grid_shape
            with np.errstate(invalid="ignore"):
                ix = np.floor((lon - west) / cell)
                iy = np.floor((lat - south) / cell)
            on_grid = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
            cells = np.full(len(lon), -1, dtype=np.int64)  # off the grid: outside every county
            cells[on_grid] = self.grid[(iy[on_grid] * nx + ix[on_grid]).astype(np.int64)]
            known = cells != _MIXED
            out[known] = cells[known]
            todo = np.flatnonzero(~known)
        points = shapely.points(lon, lat) if todo is None else shapely.points(lon[todo], lat[todo])
        pairs = self.tree.query(points, predicate="intersects")
        if pairs.shape[1]:
            # Keep the lowest tree index (code order) per point.
            order = np.lexsort((pairs[1], pairs[0]))
            inputs, trees = pairs[0][order], pairs[1][order]
            first = np.unique(inputs, return_index=True)[1]
            rows = inputs[first] if todo is None else todo[inputs[first]]
            out[rows] = trees[first]
        return out

    def codes_of(self, lon: Floats, lat: Floats) -> list[str | None]:
        """The county code holding each point (None outside every loaded county)."""
        found = self.locate(lon, lat)
        return [str(self.codes[i]) if i >= 0 else None for i in found.tolist()]


def haversine_m(lon1: Floats, lat1: Floats, lon2: Floats, lat2: Floats) -> Floats:
    """Great-circle distance in metres (vectorised)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp = p2 - p1
    dl = np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0))), dtype=np.float64)


class AddressIndex:
    """Address points on a local metric plane in an STRtree, for nearest-address queries."""

    def __init__(self, keys: Sequence[Any], lon: Floats, lat: Floats) -> None:
        self.keys = list(keys)
        self.lon = np.asarray(lon, dtype=np.float64)
        self.lat = np.asarray(lat, dtype=np.float64)
        self.cos_lat = float(np.cos(np.radians(np.mean(self.lat)))) if len(self.lat) else 1.0
        x, y = self._project(self.lon, self.lat)
        self.tree = shapely.STRtree(shapely.points(x, y))

    def __len__(self) -> int:
        return len(self.keys)

    def _project(self, lon: Floats, lat: Floats) -> tuple[Floats, Floats]:
        return lon * _M_PER_DEGREE * self.cos_lat, lat * _M_PER_DEGREE

    def nearest(self, lon: Floats, lat: Floats, *, max_distance_m: float) -> tuple[NDArray[np.int64], Floats]:
        """Index of the nearest address within ``max_distance_m`` of each point (-1: none), and distance."""
        index = np.full(len(lon), -1, dtype=np.int64)
        distance = np.full(len(lon), np.nan, dtype=np.float64)
        if not self.keys or len(lon) == 0:
            return index, distance
        x, y = self._project(np.asarray(lon), np.asarray(lat))
        # A generous plane radius: the projection's scale error is a few per cent across a province.
        pairs = self.tree.query_nearest(
            shapely.points(x, y), max_distance=max_distance_m * 1.1, all_matches=False
        )
        if pairs.shape[1]:
            inputs, found = pairs[0], pairs[1]
            metres = haversine_m(
                np.asarray(lon)[inputs], np.asarray(lat)[inputs], self.lon[found], self.lat[found]
            )
            keep = metres <= max_distance_m
            index[inputs[keep]] = found[keep]
            distance[inputs[keep]] = metres[keep]
        return index, distance
