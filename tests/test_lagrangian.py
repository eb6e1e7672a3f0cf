"""The Lagrangian branch-and-bound of pure p-median problems, checked against enumeration.

Instances here are big enough that the tree has to branch (the LP bound is not tight), small
enough that every plan can be enumerated.
"""

from __future__ import annotations

import itertools
import math
import time

import numpy as np
import pytest

from optimizer.solver import LocationProblem, dense, p_median, solve
from optimizer.solver.lagrangian import branch_and_bound


def geometric(seed: int, n_clients: int, n_sites: int, integral: bool = True) -> np.ndarray:
    """Clients and sites at random points; costs are distances (rounded when integral)."""
    rng = np.random.default_rng(seed)
    a = rng.uniform(0, 100, size=(n_clients, 2))
    b = rng.uniform(0, 100, size=(n_sites, 2))
    d = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
    return np.round(d) if integral else d


def uniform(seed: int, n_clients: int, n_sites: int) -> np.ndarray:
    """Unstructured integer costs: their LP bound is weak, so the tree must branch."""
    return np.random.default_rng(seed).integers(1, 100, size=(n_clients, n_sites)).astype(float)


def brute(c: np.ndarray, p: int, f: np.ndarray | None = None, **fixed: frozenset[int]) -> float:
    """The optimum by enumerating every set of p sites (respecting fixed open / closed)."""
    f = np.zeros(c.shape[1]) if f is None else f
    best = math.inf
    for s in itertools.combinations(range(c.shape[1]), p):
        if not fixed.get("fixed_open", frozenset()) <= set(s):
            continue
        if fixed.get("fixed_closed", frozenset()) & set(s):
            continue
        best = min(best, float(c[:, list(s)].min(axis=1).sum() + f[list(s)].sum()))
    return best


def plan_value(c: np.ndarray, sites: np.ndarray, f: np.ndarray | None = None) -> float:
    extra = 0.0 if f is None else float(f[sites].sum())
    return float(c[:, sites].min(axis=1).sum()) + extra


@pytest.mark.parametrize("kind", ["geometric", "uniform"])
@pytest.mark.parametrize("seed", range(12))
def test_tree_finds_the_enumerated_optimum(seed: int, kind: str) -> None:
    rng = np.random.default_rng(seed)
    w = rng.integers(1, 30, size=40).astype(float)
    c = geometric(seed, 40, 13) if kind == "geometric" else uniform(seed, 40, 13)
    p = 2 + seed % 3
    best = brute(w[:, None] * c, p)
    r = p_median(c, p, w, gap=0.0)
    assert r.solver == "lagrangian"
    assert r.status == "optimal"
    assert r.objective == pytest.approx(best)
    assert r.bound == pytest.approx(best)
    assert plan_value(w[:, None] * c, r.open_sites) == pytest.approx(best)


def test_tree_instances_make_it_branch() -> None:
    """Guard: the uniform instances above are not all proven at the root."""
    nodes = []
    for seed in range(12):
        rng = np.random.default_rng(seed)
        w = rng.integers(1, 30, size=40).astype(float)
        nodes.append(p_median(uniform(seed, 40, 13), 2 + seed % 3, w, gap=0.0).nodes)
    assert sum(n > 2 for n in nodes) >= 6


@pytest.mark.parametrize("seed", range(8))
def test_tree_honours_site_costs_and_fixed_sites(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    c = geometric(100 + seed, 30, 10)
    f = rng.integers(-20, 60, size=10).astype(float)
    perm = rng.permutation(10)
    fixed_open, fixed_closed = frozenset({int(perm[0])}), frozenset({int(perm[1]), int(perm[2])})
    rows, cols = np.nonzero(np.isfinite(c))
    prob = LocationProblem(
        30, 10, rows, cols, c[rows, cols], p=3, site_cost=f,
        fixed_open=fixed_open, fixed_closed=fixed_closed,
    )  # fmt: skip
    best = brute(c, 3, f, fixed_open=fixed_open, fixed_closed=fixed_closed)
    r = solve(prob, gap=0.0)
    assert r.solver == "lagrangian"
    assert r.objective == pytest.approx(best)
    assert fixed_open <= set(r.open_sites.tolist())
    assert not fixed_closed & set(r.open_sites.tolist())


@pytest.mark.parametrize("seed", range(6))
def test_tree_with_forbidden_pairs(seed: int) -> None:
    c = geometric(200 + seed, 35, 11)
    c[c > 55] = np.inf  # only sites within 55 serve a client
    best = brute(c, 3)
    if not math.isfinite(best):
        pytest.skip("no feasible 3-median in this draw")
    r = p_median(c, 3, gap=0.0)
    assert r.objective == pytest.approx(best)
    assert np.isfinite(c[np.arange(35), r.assignment]).all()


def test_real_valued_costs_stop_within_the_gap() -> None:
    c = geometric(7, 60, 14, integral=False)
    best = brute(c, 4)
    r = p_median(c, 4, gap=1e-3)
    assert r.solver == "lagrangian"
    assert r.objective <= best * (1 + 1e-3) + 1e-9
    assert r.bound <= best + 1e-9
    assert r.gap <= 1e-3


def test_large_weighted_costs_are_proven_in_double_precision() -> None:
    """Costs near 1e8 lose digits in single precision; the proof must not."""
    rng = np.random.default_rng(5)
    c = geometric(5, 40, 12) * 1000.0
    w = rng.integers(1000, 5000, size=40).astype(float)
    best = brute(w[:, None] * c, 3)
    r = p_median(c, 3, w, gap=0.0)
    assert r.objective == pytest.approx(best, rel=1e-12)
    assert r.status == "optimal"


def test_same_input_gives_the_same_plan() -> None:
    c = geometric(11, 120, 60)
    a, b = p_median(c, 6), p_median(c, 6)
    assert a.open_sites.tolist() == b.open_sites.tolist()
    assert a.assignment.tolist() == b.assignment.tolist()
    assert a.nodes == b.nodes


def test_expired_deadline_returns_the_best_plan_unproven() -> None:
    c = uniform(3, 60, 30)
    search = dense.LocalSearch(c, np.zeros(30), np.zeros(0, dtype=np.int64), np.ones(30, bool))
    start = search.greedy(5)
    tree = branch_and_bound(c, 5, start.tolist(), gap=0.0, deadline=time.monotonic())
    assert not tree.proven
    assert tree.nodes == 1  # the root is always evaluated
    assert len(tree.open_sites) == 5
    assert tree.objective == pytest.approx(plan_value(c, np.asarray(tree.open_sites)))
    assert tree.objective <= plan_value(c, start)
    assert tree.bound < tree.objective  # a gap is left, and reported
    assert tree.bound >= tree.root_bound - 1e-9


def test_unclosed_tree_hands_over_to_the_mip() -> None:
    """The tree stops after 60 % of the limit unclosed; the MIP continues from its plan."""
    c = uniform(3, 150, 60)
    t0 = time.monotonic()
    r = p_median(c, 10, time_limit=1.0, gap=0.0)
    assert time.monotonic() - t0 < 1.0 + 2.0
    assert r.solver == "highs"
    assert r.nodes >= 1
    assert len(r.open_sites) == 10
    assert r.bound <= r.objective
    assert r.objective == pytest.approx(plan_value(c, r.open_sites))
    assert r.status == "optimal" or r.time_limit_reached


def test_no_time_left_for_the_mip_returns_the_tree_plan() -> None:
    """With almost no time the tree stops at its root and no MIP round can start."""
    c = uniform(3, 60, 30)
    t0 = time.monotonic()
    r = p_median(c, 5, time_limit=0.01, gap=0.0)
    assert time.monotonic() - t0 < 0.01 + 2.0
    assert r.solver == "lagrangian"
    assert r.status == "feasible"
    assert r.time_limit_reached
    assert r.nodes >= 1
    assert len(r.open_sites) == 5
    assert r.bound <= r.objective
    assert r.gap > 0
    assert r.objective == pytest.approx(plan_value(c, r.open_sites))


@pytest.mark.parametrize("seed", range(5))
def test_dense_swap_reaches_a_local_optimum(seed: int) -> None:
    """No single swap improves the plan the dense local search returns."""
    c = geometric(300 + seed, 50, 15)
    f = np.zeros(15)
    search = dense.LocalSearch(c, f, np.zeros(0, dtype=np.int64), np.ones(15, bool))
    sites = search.improve(np.arange(4))
    value = plan_value(c, sites)
    for out in sites:
        for inn in set(range(15)) - set(sites.tolist()):
            other = np.asarray(sorted(set(sites.tolist()) - {int(out)} | {inn}))
            assert plan_value(c, other) >= value - 1e-9
