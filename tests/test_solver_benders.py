"""The Benders LP of the root: its value is the strong LP's, its multipliers reach it.

The value is checked against the strong (x_ij) formulation's LP solved independently by
scipy's HiGHS; the multipliers against the Lagrangian bound L(v); a truncated (k-nearest) list
must give a valid lower bound; and the tree started from the LP must still prove the
enumerated optimum, with site costs and fixed sites too.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

from optimizer.solver import LocationProblem, p_median, solve
from optimizer.solver import tree as tree_module
from optimizer.solver.benders import lp_multipliers, lp_sorted


def points(seed: int, n: int) -> np.ndarray:
    xy = np.random.default_rng(seed).uniform(0, 100, size=(n, 2))
    return np.floor(np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1]))


def strong_lp(c: np.ndarray, p: int) -> float:
    """min sum c_ij x_ij, sum_j x_ij = 1, x_ij <= y_j, sum y = p, 0 <= x, y <= 1."""
    m, n = c.shape
    nx = m * n
    cost = np.concatenate([c.ravel(), np.zeros(n)])
    a_eq = np.zeros((m + 1, nx + n))
    for i in range(m):
        a_eq[i, i * n : (i + 1) * n] = 1.0
    a_eq[m, nx:] = 1.0
    b_eq = np.concatenate([np.ones(m), [p]])
    a_ub = np.zeros((nx, nx + n))
    a_ub[np.arange(nx), np.arange(nx)] = 1.0
    a_ub[np.arange(nx), nx + np.tile(np.arange(n), m)] = -1.0
    res = linprog(cost, A_ub=a_ub, b_ub=np.zeros(nx), A_eq=a_eq, b_eq=b_eq, bounds=(0, 1))
    assert res.status == 0
    return float(res.fun)


def lagrangian(c: np.ndarray, v: np.ndarray, p: int) -> float:
    rho = np.minimum(c - v[:, None], 0.0).sum(axis=0)
    return float(v.sum() + np.sort(rho)[:p].sum())


def brute(c: np.ndarray, p: int) -> float:
    return min(
        float(c[:, list(s)].min(axis=1).sum()) for s in itertools.combinations(range(c.shape[1]), p)
    )


@pytest.mark.parametrize("seed", range(5))
def test_lp_value_and_multipliers_match_the_strong_lp(seed: int) -> None:
    c = points(seed, 12) * np.random.default_rng(seed).integers(1, 5, size=12)[:, None]
    p = 2 + seed % 3
    lp = lp_multipliers(c, p, list(range(p)))
    assert lp is not None and lp.exact
    assert lp.bound == pytest.approx(strong_lp(c, p), rel=1e-7)
    assert lagrangian(c, lp.v, p) == pytest.approx(lp.bound, rel=1e-7)
    assert lp.bound <= brute(c, p) + 1e-6


def test_truncated_lists_give_a_lower_bound() -> None:
    c = points(7, 14)
    p = 3
    order = np.argsort(c, axis=1, kind="stable")[:, :4]  # each client's 4 nearest sites
    lp = lp_sorted(order, np.take_along_axis(c, order, axis=1), 14, p, [])
    assert lp is not None and lp.exact
    assert lp.bound <= strong_lp(c, p) + 1e-6
    assert (lp.v <= np.take_along_axis(c, order, axis=1)[:, -1] + 1e-9).all()


@pytest.mark.parametrize("seed", range(3))
def test_tree_from_the_lp_root_proves_the_enumerated_optimum(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the size gate lowered, the root starts from the LP (also with site costs and a
    fixed site) and the tree still proves what enumeration finds."""
    monkeypatch.setattr(tree_module, "LP_MIN_PAIRS", 0)
    called = []
    real = tree_module.lp_multipliers

    def spy(*args: object, **kwargs: object) -> object:
        called.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(tree_module, "lp_multipliers", spy)
    c = points(seed, 13)
    p = 3
    r = p_median(c, p, gap=0.0, method="tree")
    assert called
    assert r.status == "optimal" and r.objective == pytest.approx(brute(c, p))
    rng = np.random.default_rng(seed)
    f = rng.integers(-20, 60, size=13).astype(float)
    rows, cols = np.nonzero(np.isfinite(c))
    prob = LocationProblem(
        13, 13, rows, cols, c[rows, cols], p=p, site_cost=f,
        fixed_open=frozenset({0}), fixed_closed=frozenset({1, 2}),
    )  # fmt: skip
    best = min(
        float(c[:, list(s)].min(axis=1).sum() + f[list(s)].sum())
        for s in itertools.combinations(range(13), p)
        if 0 in s and 1 not in s and 2 not in s
    )
    r = solve(prob, gap=0.0, method="tree")
    assert r.status == "optimal" and r.objective == pytest.approx(best)
    assert 0 in r.open_sites.tolist() and not {1, 2} & set(r.open_sites.tolist())
