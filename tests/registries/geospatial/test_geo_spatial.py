"""The in-memory indexes: the lattice gives the same answers as the exact query; nearest addresses."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zhengwu.registries.geospatial.ingest import demo_boundaries_path
from zhengwu.registries.geospatial.spatial import AddressIndex, DivisionIndex, DivisionShape, haversine_m


@pytest.fixture(scope="module")
def counties() -> list[DivisionShape]:
    data = json.loads(demo_boundaries_path().read_text(encoding="utf-8"))
    return [
        DivisionShape(f["properties"]["code"], json.dumps(f["geometry"]))
        for f in data["features"]
        if f["properties"]["level"] == "county"
    ]


def test_grid_answers_equal_the_exact_query(counties: list[DivisionShape]) -> None:
    rng = np.random.default_rng(5)
    lon = np.concatenate([rng.uniform(117.5, 123.5, 30_000), [120.13, 2.35, np.nextafter(118.0, 0)]])
    lat = np.concatenate([rng.uniform(26.5, 31.5, 30_000), [30.27, 48.85, 27.0]])
    exact = DivisionIndex(counties)
    gridded = DivisionIndex(counties)
    gridded.build_grid()
    assert gridded.grid is not None and (gridded.grid == -2).mean() < 0.3
    a, b = exact.locate(lon, lat), gridded.locate(lon, lat)
    assert np.array_equal(a, b)
    assert 0.3 < (a >= 0).mean() < 0.9  # the sample really mixes inside and outside points
    assert gridded.codes_of(np.array([120.13]), np.array([30.27])) == ["330106"]


def test_empty_index_and_empty_batch(counties: list[DivisionShape]) -> None:
    empty = DivisionIndex([])
    empty.build_grid()
    assert empty.locate(np.array([120.1]), np.array([30.2])).tolist() == [-1]
    assert DivisionIndex(counties[:3]).locate(np.array([]), np.array([])).tolist() == []


def test_nearest_address_respects_the_distance_limit() -> None:
    index = AddressIndex(["a", "b"], np.array([120.0, 120.01]), np.array([30.0, 30.0]))
    found, metres = index.nearest(
        np.array([120.0001, 120.0099, 121.0]), np.array([30.0, 30.0, 30.0]), max_distance_m=100
    )
    assert found.tolist() == [0, 1, -1]
    assert (
        abs(
            metres[0]
            - float(haversine_m(np.array(120.0), np.array(30.0), np.array(120.0001), np.array(30.0)))
        )
        < 1e-6
    )
    assert np.isnan(metres[2])
