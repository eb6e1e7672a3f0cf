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


def _exact(hh, edges, lo, hi, xy=None):
    from optimizer.solver.districts import best_partition, connected_groups

    hh = np.asarray(hh, dtype=float)
    xy = np.column_stack([np.arange(len(hh)), np.zeros(len(hh))]) if xy is None else xy
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
    return best_partition(connected_groups(hh, d, np.asarray(edges), hi), lo)


def test_exact_partition_decides_feasibility_on_small_pieces():
    path = np.array([[0, 1], [1, 2], [2, 3]])
    hh = [150.0, 150, 150, 150]
    centres, _ = _exact(hh, path, 200, 400)  # {0,1}, {2,3}
    assert len(set(centres[:2])) == 1 and len(set(centres[2:])) == 1
    assert centres[0] != centres[2]
    assert _exact(hh, path, 350, 400) is None  # no connected pair or triple fits
    star = np.array([[0, 1], [0, 2], [0, 3]])  # 1, 2, 3 touch only 0: one group must hold all
    assert _exact([100.0, 150, 150, 150], star, 200, 400) is None


def _delaunay_graph(rng, n):
    from scipy.spatial import Delaunay

    xy = rng.random((n, 2)) * 5000.0
    tri = Delaunay(xy).simplices
    e = np.vstack([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]])
    return xy, np.unique(np.sort(e, axis=1), axis=0)


def test_exact_partition_matches_brute_force():
    """The enumeration's partition is the cheapest one, found independently by recursion."""
    import itertools

    import networkx as nx

    def cheapest(rest, hh, d, graph):
        if not rest:
            return 0.0
        first, others, best = min(rest), sorted(rest - {min(rest)}), np.inf
        for r in range(len(others) + 1):
            for extra in itertools.combinations(others, r):
                group = [first, *extra]
                if not 200 <= hh[group].sum() <= 400:
                    continue
                if not nx.is_connected(graph.subgraph(group)):
                    continue
                cost = min(float(hh[group] @ d[group, c]) for c in group)
                best = min(best, cost + cheapest(rest - set(group), hh, d, graph))
        return best

    rng = np.random.default_rng(7)
    for _ in range(25):
        n = int(rng.integers(3, 9))
        xy, edges = _delaunay_graph(rng, n)
        hh = rng.integers(60, 300, n).astype(float)
        d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1))
        graph = nx.Graph(edges.tolist())
        want = cheapest(frozenset(range(n)), hh, d, graph)
        got = _exact(hh, edges, 200, 400, xy)
        if got is None:
            assert want == np.inf
            continue
        centres, cost = got
        assert cost == pytest.approx(want)
        assert float(hh @ d[np.arange(n), centres]) == pytest.approx(cost)
        for c in set(centres.tolist()):  # every grid connected, within bounds, holds its centre
            group = np.flatnonzero(centres == c)
            assert c in group and 200 <= hh[group].sum() <= 400
            assert nx.is_connected(graph.subgraph(group.tolist()))


def test_exact_partition_is_no_worse_than_the_solver_model():
    """On the same piece the solver core's districting model finds no cheaper partition."""
    from optimizer.planning.grids import _problem
    from optimizer.solver import solve

    rng = np.random.default_rng(3)
    for n in (8, 12):
        xy, edges = _delaunay_graph(rng, n)
        hh = rng.integers(80, 200, n).astype(float)
        d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) / 1000.0
        got = _exact(hh, edges, 200, 400, xy / 1000.0)
        assert got is not None
        res = solve(_problem(d, edges, hh, 200, 400, n), time_limit=60, gap=1e-6, seed=0)
        mip = float(hh @ d[np.arange(n), res.assignment])
        assert got[1] <= mip + 1e-9
        assert got[1] == pytest.approx(mip, rel=1e-4)


def test_split_pieces_are_connected_and_bounded():
    import networkx as nx

    from optimizer.solver.districts import split_connected

    rng = np.random.default_rng(11)
    xy, edges = _delaunay_graph(rng, 70)
    pieces = split_connected(xy, edges, 16)
    assert sorted(np.concatenate(pieces).tolist()) == list(range(70))
    graph = nx.Graph(edges.tolist())
    for p in pieces:
        assert 1 <= len(p) <= 16
        assert nx.is_connected(graph.subgraph(p.tolist()))
    again = split_connected(xy, edges, 16)
    assert all(np.array_equal(a, b) for a, b in zip(pieces, again, strict=True))


def test_pieces_above_the_exact_limit_go_to_the_solver_model():
    """With grid_exact_blocks below a piece's size the solver core draws it, within bounds."""
    geoms = [box(104.0 + 0.01 * i, 30.0, 104.01 + 0.01 * i, 30.01) for i in range(6)]
    hh = [120, 250, 260, 240, 150, 130]
    vin = _row(["201", "202", "203", "204", "205", "206"], hh, ["村"] * 6, geoms)
    p = GrassrootsPolicy(grid_exact_blocks=2, grid_max_blocks=40)
    plan = plan_grids(vin, p, budget=TimeBudget(60))
    assert plan.problems_solved >= 1 and plan.zones_split == 0
    exact = plan_grids(vin, GrassrootsPolicy(), budget=TimeBudget(60))
    assert exact.problems_solved == 0 and exact.exact_pieces >= 1
    for g in (plan.grids, exact.grids):
        assert g["households"].sum() == sum(hh)
        assert (g["deviation"] == 0).all(), g[["villages", "households", "deviation"]]
        for geom in g.to_crs(METRIC).geometry:
            assert shapely.get_num_geometries(geom.buffer(0.5)) == 1
