"""The plan-and-bound path for matrices too large for the tree: a valid plan, a valid bound."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from optimizer.solver.big_dense import alternate, greedy, interchange, plan_and_bound


def points(seed: int, n: int) -> np.ndarray:
    xy = np.random.default_rng(seed).uniform(0, 100, size=(n, 2))
    d = np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1])
    return np.floor(d).astype(np.float32)


@pytest.mark.parametrize("seed", range(4))
def test_bound_and_plan_bracket_the_enumerated_optimum(seed: int) -> None:
    c = points(seed, 13)
    p = 2 + seed % 3
    best = min(float(c[:, list(s)].min(axis=1).sum()) for s in itertools.combinations(range(13), p))
    r = plan_and_bound(c, p, time_limit=20)
    assert len(set(r.open_sites)) == p
    assert r.objective == pytest.approx(float(c[:, r.open_sites].min(axis=1).sum()))
    assert r.bound <= best + 1e-6 <= r.objective + 2e-6
    assert 0.0 <= r.gap < 0.5


def test_alternation_moves_a_site_to_its_cluster_median() -> None:
    """Two tight groups with the single site put at a group's edge: it moves to the middle."""
    xy = np.array([[0, 0], [1, 0], [2, 0], [100, 0], [101, 0], [102, 0]], dtype=float)
    c = np.floor(np.hypot(xy[:, None, 0] - xy[None, :, 0], 0 * xy[:, None, 1])).astype(np.float32)
    assert alternate(c, [0, 5]) == [1, 4]


@pytest.mark.parametrize("seed", range(3))
def test_interchange_ends_where_no_swap_improves(seed: int) -> None:
    """Blocks of 7 candidate sites (several per round): the result is never worse than the
    start, no single swap improves it (checked by trying them all), and it is repeatable."""
    c = points(seed, 40)
    p = 3 + seed
    start = greedy(c, p)
    plan = interchange(c, start, block=7)
    value = float(c[:, plan].min(axis=1).sum(dtype=np.float64))
    assert len(set(plan)) == p
    assert value <= float(c[:, start].min(axis=1).sum(dtype=np.float64))
    for out in plan:
        for j in set(range(40)) - set(plan):
            trial = [s for s in plan if s != out] + [j]
            assert float(c[:, trial].min(axis=1).sum(dtype=np.float64)) >= value - 1e-9
    assert interchange(c, start, block=7) == plan
