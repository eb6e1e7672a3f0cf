"""Grids (clauses 13, 15): contiguity, containment and size bounds, checked from the polygons."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import box

from optimizer.inputs.villages import VillageInputs
from optimizer.paths import sample_dir
from optimizer.planning.budget import TimeBudget
from optimizer.planning.grids import pieces_for, plan_grids
from optimizer.rules.grassroots import GrassrootsPolicy

SAMPLE = sample_dir()
METRIC = "EPSG:32648"


@pytest.fixture(scope="module")
def sample_grids():
    from optimizer.inputs.reading import load_inputs

    inputs = load_inputs(SAMPLE)
    grids = plan_grids(inputs.villages, GrassrootsPolicy(), budget=TimeBudget(120))
    return inputs, grids


def test_each_grid_is_one_piece_inside_its_township(sample_grids):
    inputs, plan = sample_grids
    grids = plan.grids.to_crs(METRIC)
    towns = inputs.townships.set_index("code").to_crs(METRIC).geometry
    assert grids.geometry.notna().all()
    # one connected piece: a single polygon once slivers under 1 m are closed
    parts = shapely.get_num_geometries(shapely.buffer(grids.geometry.to_numpy(), 0.5))
    assert (parts == 1).all(), grids.loc[parts != 1, "code"].tolist()
    inside = shapely.within(grids.geometry.to_numpy(), towns[grids["township_code"]].buffer(5.0))
    assert inside.all()
    assert grids["code"].str[:9].eq(grids["township_code"]).all()
    assert grids["code"].is_unique and grids["code"].str.len().eq(13).all()


def test_grids_tile_each_township_without_overlap(sample_grids):
    inputs, plan = sample_grids
    grids = plan.grids.to_crs(METRIC)
    towns = inputs.townships.set_index("code").to_crs(METRIC)
    area = grids.geometry.area.groupby(grids["township_code"]).sum()
    np.testing.assert_allclose(area, towns.geometry.area[area.index], rtol=2e-3)
    tree = shapely.STRtree(grids.geometry.to_numpy())
    a, b = tree.query(grids.geometry.to_numpy(), predicate="intersects")
    keep = a < b
    geoms = grids.geometry.to_numpy()
    a, b = a[keep], b[keep]
    overlap = shapely.area(shapely.intersection(geoms[a], geoms[b]))
    smaller = np.minimum(shapely.area(geoms[a]), shapely.area(geoms[b]))
    # numerical noise only (the synthetic townships themselves overlap by up to ~200 m²)
    assert (overlap / smaller).max(initial=0.0) < 1e-3
    # every village with households lies in some grid
    assert set(inputs.villages.villages["code"]) == set(plan.blocks["village_code"])


def test_sizes_within_bounds_or_deviation_reported(sample_grids):
    inputs, plan = sample_grids
    g = plan.grids
    per_grid = plan.blocks.groupby("grid")["households"].sum()
    assert per_grid[g["code"]].to_numpy() == pytest.approx(g["households"].to_numpy())
    total = plan.blocks.groupby("township_code")["households"].sum()
    expected = inputs.villages.villages.groupby("township_code")["households"].sum()
    assert total.to_dict() == expected.to_dict()
    p = GrassrootsPolicy()
    lo = np.where(g["urban"], p.urban_households_min, p.rural_households_min)
    hi = np.where(g["urban"], p.urban_households_max, p.rural_households_max)
    outside = (g["households"] < lo) | (g["households"] > hi)
    assert (g.loc[outside, "deviation"] != 0).all()
    assert (g.loc[~outside, "deviation"] == 0).all()
    assert outside.mean() < 0.1  # the model keeps nearly all grids within bounds
    # urban grids hold only 社区, rural grids only 村
    kind = inputs.villages.villages.set_index("code")["kind"]
    for urban, vills in zip(g["urban"], g["villages"], strict=True):
        assert {kind[c] for c in vills.split(";")} == {"社区" if urban else "村"}


def _row(codes, households, kinds, geoms):
    t = "510122101"
    return VillageInputs(
        villages=gpd.GeoDataFrame(
            {
                "code": [f"{t}{c}" for c in codes],
                "township_code": t,
                "name": codes,
                "kind": kinds,
                "households": np.asarray(households, dtype=float),
                "residents": np.asarray(households, dtype=float) * 3.0,
                **{
                    k: np.nan
                    for k in (
                        "villages_before",
                        "groups",
                        "cameras",
                        "mediators_fulltime",
                        "grid_workers_fulltime",
                        "grid_workers_parttime",
                        "grids",
                        "disputes",
                    )
                },
            },
            geometry=geoms,
            crs="EPSG:4326",
        )
    )


def test_small_village_joins_a_neighbour_never_a_far_one():
    # five villages in a row (each ~1 km); 201 is small and touches 202 only
    geoms = [box(104.0 + 0.01 * i, 30.0, 104.01 + 0.01 * i, 30.01) for i in range(5)]
    vin = _row(["201", "202", "203", "204", "205"], [120, 250, 260, 240, 150], ["村"] * 5, geoms)
    plan = plan_grids(vin, GrassrootsPolicy(), budget=TimeBudget(30))
    g = plan.grids
    first = g[g["villages"].str.contains("510122101201")]
    assert len(first) == 1 and "510122101202" in first["villages"].iloc[0]
    assert (g["deviation"] == 0).all(), g[["villages", "households", "deviation"]]
    for geom in g.to_crs(METRIC).geometry:
        assert shapely.get_num_geometries(geom.buffer(0.5)) == 1


def test_bounds_that_cannot_hold_are_reported():
    # one township with 90 households in all: one grid, 110 short of the rural minimum
    vin = _row(
        ["201", "202"],
        [40, 50],
        ["村", "村"],
        [box(104.0, 30.0, 104.01, 30.01), box(104.01, 30.0, 104.02, 30.01)],
    )
    plan = plan_grids(vin, GrassrootsPolicy(), budget=TimeBudget(30))
    assert len(plan.grids) == 1
    assert plan.grids["deviation"].iloc[0] == -110
    assert plan.grids["households"].iloc[0] == 90


def test_large_village_split_into_equal_grids():
    assert pieces_for(1000, 200, 400) == 3  # 333 each
    assert pieces_for(350, 200, 400) == 1
    assert pieces_for(520, 300, 500) == 1  # 2 × 260 is further from the bounds than 520
    vin = _row(["201"], [1000], ["村"], [box(104.0, 30.0, 104.03, 30.01)])
    plan = plan_grids(vin, GrassrootsPolicy(), budget=TimeBudget(30))
    assert sorted(plan.grids["households"]) == [333, 333, 334]
    assert (plan.grids["deviation"] == 0).all()


def test_bounds_come_from_the_scenario():
    from optimizer.errors import PolicyError
    from optimizer.rules import Policy

    p = Policy.from_dict({"grassroots": {"rural_households_max": 300, "rural_fulltime": True}})
    assert p.grassroots.bounds(False) == (200.0, 300.0)
    with pytest.raises(PolicyError, match="grassroots.rural_households_min"):
        Policy.from_dict({"grassroots": {"rural_households_min": 500}})
    with pytest.raises(PolicyError, match="did you mean 'grassroots.neighbours'"):
        Policy.from_dict({"grassroots": {"neighbors": 3}})
    vin = _row(["201"], [1000], ["村"], [box(104.0, 30.0, 104.03, 30.01)])
    plan = plan_grids(vin, p.grassroots, budget=TimeBudget(30))
    assert len(plan.grids) == 4 and plan.grids["fulltime"].all()
    assert pd.Series(plan.grids["households"]).max() <= 300


def test_points_layer_gives_grids_by_delaunay_neighbours():
    from shapely.geometry import Point

    pts = [Point(104.0 + 0.01 * i, 30.0 + 0.003 * (i % 2)) for i in range(5)]
    vin = _row(["201", "202", "203", "204", "205"], [120, 250, 900, 240, 150], ["村"] * 5, pts)
    plan = plan_grids(vin, GrassrootsPolicy(), budget=TimeBudget(30))
    g = plan.grids
    assert g["households"].sum() == 1660
    assert (g["deviation"] == 0).all(), g[["villages", "households", "deviation"]]
    assert set(plan.blocks["village_code"]) == set(vin.villages["code"])


def test_same_inputs_give_the_same_grids(sample_grids):
    """The grid plan has no clock in it: a second run gives identical grids and blocks."""
    from optimizer.inputs.reading import load_inputs

    inputs, first = sample_grids
    again = plan_grids(load_inputs(SAMPLE).villages, GrassrootsPolicy(), budget=TimeBudget(1))
    cols = ["code", "villages", "households", "deviation"]
    pd.testing.assert_frame_equal(pd.DataFrame(first.grids[cols]), pd.DataFrame(again.grids[cols]))
    assert first.grids.geometry.to_wkb().tolist() == again.grids.geometry.to_wkb().tolist()
    assert first.zones_timed_out == again.zones_timed_out == 0


def test_partition_screen_is_exact_on_small_pieces():
    from optimizer.planning.grids import partition_exists

    path = np.array([[0, 1], [1, 2], [2, 3]])
    hh = np.array([150.0, 150, 150, 150])
    assert partition_exists(hh, path, 200, 400)  # {0,1}, {2,3}
    assert not partition_exists(hh, path, 350, 400)  # no connected pair or triple fits
    star = np.array([[0, 1], [0, 2], [0, 3]])  # 1, 2, 3 touch only 0: one group must hold all
    assert not partition_exists(np.array([100.0, 150, 150, 150]), star, 200, 400)
