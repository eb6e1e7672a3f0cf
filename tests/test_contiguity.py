"""Connected jurisdictions (issue 4 item 5): the solver core against hand and brute-force
optima, and plans checked with an independent BFS on the township adjacency graph."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import build_facilities, build_townships, write_data_dir
from multi_checker import (
    COURT,
    JUDICIAL,
    POLICE,
    contiguity_violations,
    is_connected,
    seats_xy,
    write_random,
)
from shapely.geometry import box

from optimizer.errors import InfeasibleError
from optimizer.inputs.reading import load_inputs
from optimizer.outputs.plan_json import plan_to_dict
from optimizer.pipeline import make_plan
from optimizer.rules.policy import Policy
from optimizer.solver import LocationProblem, solve
from optimizer.spatial import network

EXACT = {"gap": 0.0, "time_limit": 60}


def full_problem(
    cost: np.ndarray, homes: list[int], edges: list[tuple[int, int]] | None, p: int
) -> LocationProblem:
    n, m = cost.shape
    ii, jj = np.meshgrid(np.arange(n), np.arange(m), indexing="ij")
    return LocationProblem(
        n_clients=n,
        n_sites=m,
        client=ii.ravel(),
        site=jj.ravel(),
        cost=cost.ravel(),
        p=p,
        client_edges=None if edges is None else np.asarray(edges),
        site_home=None if edges is None else np.asarray(homes),
    )


# ------------------------------------------------------------------ solver core


def test_path_instance_hand_solved() -> None:
    # clients on a path 0-1-2-3; site A stands in 0, site B in 3
    cost = np.array([[0.0, 10.0], [5.0, 1.0], [2.0, 5.0], [10.0, 0.0]])
    edges = [(0, 1), (1, 2), (2, 3)]
    free = solve(full_problem(cost, [0, 3], None, 2), **EXACT)
    # nearest site: A gets {0, 2}, B gets {1, 3}: A's area jumps over client 1
    assert free.objective == pytest.approx(3.0)
    assert free.assignment.tolist() == [0, 1, 0, 1]
    res = solve(full_problem(cost, [0, 3], edges, 2), **EXACT)
    # connected options: A{0} B{1,2,3} = 6, A{0,1,2} B{3} = 7, A{0,1} B{2,3} = 10
    assert res.status == "optimal"
    assert res.objective == pytest.approx(6.0)
    assert res.assignment.tolist() == [0, 1, 1, 1]
    assert sorted(res.open_sites.tolist()) == [0, 1]


def grid_edges(cols: int, rows: int) -> list[tuple[int, int]]:
    out = []
    for c in range(cols):
        for r in range(rows):
            k = c * rows + r
            if r + 1 < rows:
                out.append((k, k + 1))
            if c + 1 < cols:
                out.append((k, k + rows))
    return out


def brute_contiguous(
    cost: np.ndarray, w: np.ndarray, homes: list[int], edges: list[tuple[int, int]], p: int
) -> float:
    n, m = cost.shape
    adj: dict[str, set[str]] = {str(i): set() for i in range(n)}
    for a, b in edges:
        adj[str(a)].add(str(b))
        adj[str(b)].add(str(a))
    best = math.inf
    for open_sites in itertools.combinations(range(m), p):
        for assign in itertools.product(open_sites, repeat=n):
            ok = True
            for j in open_sites:
                area = [str(i) for i in range(n) if assign[i] == j]
                if assign[homes[j]] != j or not is_connected(area, adj):
                    ok = False
                    break
            if ok:
                best = min(best, float(sum(w[i] * cost[i, assign[i]] for i in range(n))))
    return best


@pytest.mark.parametrize("seed", range(8))
def test_random_grids_match_brute_force(seed: int) -> None:
    rng = np.random.default_rng(1000 + seed)
    cols, rows = int(rng.integers(2, 4)), int(rng.integers(2, 4))
    n = cols * rows
    if n > 8:
        rows = 2
        n = cols * rows
    m = int(rng.integers(2, 5))
    p = int(rng.integers(2, min(3, m) + 1))
    homes = rng.choice(n, size=m, replace=False).tolist()
    cost = rng.integers(0, 30, size=(n, m)).astype(float)
    w = rng.integers(1, 10, size=n).astype(float)
    edges = grid_edges(cols, rows)
    expect = brute_contiguous(cost, w, homes, edges, p)
    prob = full_problem(cost, homes, edges, p)
    prob.weights = w
    res = solve(prob, **EXACT)
    assert res.objective == pytest.approx(expect, abs=1e-6)
    adj: dict[str, set[str]] = {str(i): set() for i in range(n)}
    for a, b in edges:
        adj[str(a)].add(str(b))
        adj[str(b)].add(str(a))
    for j in res.open_sites.tolist():
        area = [str(i) for i in range(n) if res.assignment[i] == j]
        assert str(homes[j]) in area
        assert is_connected(area, adj)
    got = float(sum(w[i] * cost[i, int(res.assignment[i])] for i in range(n)))
    assert got == pytest.approx(expect, abs=1e-6)


# ------------------------------------------------------------------ plans


def test_tiny_plan_jurisdictions_connected(tiny_data: Path) -> None:
    inputs = load_inputs(tiny_data)
    plan = plan_to_dict(make_plan(inputs, Policy()))
    graph = network.township_adjacency(inputs.townships)
    assert plan["policy"]["police"]["contiguity"] is True
    assert plan["policy"]["court"]["contiguity"] is True
    for t in (POLICE, COURT):
        assert contiguity_violations(plan, graph, t) == []
        check = [c for c in plan["checks"] if c["facility_type"] == t and "connected" in c["rule"]]
        assert len(check) == 1 and check[0]["passed"]


@pytest.mark.parametrize("seed", range(4))
def test_random_plans_jurisdictions_connected(tmp_path: Path, seed: int) -> None:
    inputs = load_inputs(write_random(tmp_path / "d", 70 + seed))
    plan = plan_to_dict(make_plan(inputs, Policy.from_dict({"judicial": {"contiguity": True}})))
    graph = network.township_adjacency(inputs.townships)
    for t in (POLICE, JUDICIAL, COURT):
        assert contiguity_violations(plan, graph, t) == [], t


def island_townships():  # type: ignore[no-untyped-def]
    towns = build_townships()
    i = towns.index[towns["code"] == "510122202"][0]
    x0, y0, x1, y1 = towns.geometry[i].bounds
    # 0.01° (about 1 km) of water on every side: far beyond the 100 m tolerance
    towns.loc[i, "geometry"] = box(x0 + 0.01, y0 + 0.01, x1 - 0.01, y1 - 0.01)
    return towns


def test_island_township_is_served_and_the_link_is_named(tmp_path: Path) -> None:
    folder = write_data_dir(tmp_path / "island", townships=island_townships())
    inputs = load_inputs(folder)
    graph = network.township_adjacency(inputs.townships)
    links = [(a, b) for a, b, d in graph.edges(data=True) if d["kind"] == "island"]
    assert len(links) == 1 and "510122202" in links[0]
    # force the island's own station closed, so it is served across the link
    fac = build_facilities()
    pin = fac.loc[(fac["type"] == POLICE) & (fac["township_code"] == "510122202"), "id"].tolist()
    plan = plan_to_dict(make_plan(inputs, Policy.from_dict({"police": {"pin_closed": pin}})))
    town = next(t for t in plan["townships"] if t["code"] == "510122202")
    station = town["served_by"][POLICE]
    assert station is not None
    assert contiguity_violations(plan, graph, POLICE) == []
    check = next(
        c for c in plan["checks"] if c["facility_type"] == POLICE and "connected" in c["rule"]
    )
    assert check["status"] == "met"
    reasons = [e["reason"] for e in check["notes"] if e["id"] == station]
    assert reasons and "岛屿连接" in reasons[0]
    a, b = links[0]
    assert f"{a}-{b}" in reasons[0] or f"{b}-{a}" in reasons[0]


def strip_case(tmp_path: Path) -> tuple[Path, float, float]:
    """One county, three townships A-B-C in a row; the B station sits in B's top-left corner.

    Seen from C's seat, the station in A (at A's right edge) is nearer than B's station, so a
    distance limit between the two leaves C with A's station only, which is not connected to
    C once B keeps its own (pinned open) station.
    """
    towns = build_townships().iloc[:3].copy()
    towns["code"] = ["510122101", "510122102", "510122103"]
    towns["population"] = 30_000.0
    towns["incidents"] = 100.0
    towns = towns.set_geometry(
        [box(104.0 + k * 0.05, 30.0, 104.05 + k * 0.05, 30.05) for k in range(3)]
    )
    fac = build_facilities()
    fac = fac[fac["type"] == POLICE].iloc[:3].copy()
    fac["id"] = ["PA", "PB", "PC"]
    fac["township_code"] = towns["code"].tolist()
    fac["lon"] = [104.049, 104.051, 104.125]
    fac["lat"] = [30.025, 30.049, 30.025]
    folder = write_data_dir(tmp_path / "strip", townships=towns, facilities=fac, counties=False)
    inputs = load_inputs(folder)
    seat = seats_xy(inputs.townships)["510122103"]
    from multi_checker import sites_xy

    sites = sites_xy(inputs.facilities, 104.075)
    d = {k: math.hypot(seat[0] - x, seat[1] - y) * 1.3 / 1000 for k, (x, y) in sites.items()}
    assert d["PA"] < d["PB"]
    return folder, d["PA"], d["PB"]


def test_contiguity_infeasibility_is_reported(tmp_path: Path) -> None:
    folder, da, db = strip_case(tmp_path)
    inputs = load_inputs(folder)
    limit = round((da + db) / 2, 3)
    police = {"pin_open": ["PB"], "pin_closed": ["PC"], "max_distance_km": limit}
    # without contiguity the plan exists: C goes to A's station across B
    free = plan_to_dict(
        make_plan(
            inputs, Policy.from_dict({"police": {**police, "contiguity": False}}), types=[POLICE]
        )
    )
    served = {t["code"]: t["served_by"][POLICE] for t in free["townships"]}
    assert served["510122103"] == "PA"
    with pytest.raises(InfeasibleError) as err:
        make_plan(inputs, Policy.from_dict({"police": police}), types=[POLICE])
    assert "contiguity" in str(err.value)


def test_contiguity_infeasibility_names_the_townships(tmp_path: Path) -> None:
    folder, da, db = strip_case(tmp_path)
    inputs = load_inputs(folder)
    police = {
        "pin_open": ["PB"],
        "pin_closed": ["PC"],
        "max_distance_km": round((da + db) / 2, 3),
    }
    with pytest.raises(InfeasibleError) as err:
        make_plan(inputs, Policy.from_dict({"police": police}), types=[POLICE])
    assert "510122103" in str(err.value)


def test_contiguity_off_allows_what_on_forbids(make_data_dir: Callable[..., Path]) -> None:
    # the objective with contiguity is never below the one without it
    inputs = load_inputs(make_data_dir("cmp"))
    on = plan_to_dict(make_plan(inputs, Policy(), types=[POLICE]))
    off = plan_to_dict(
        make_plan(inputs, Policy.from_dict({"police": {"contiguity": False}}), types=[POLICE])
    )
    assert on["metrics"][POLICE]["objective"] >= off["metrics"][POLICE]["objective"] - 1e-6
