"""The repair of the Benders LP's rounded plan over k-nearest lists (usa13509 p = 2,000), and the
reduced-cost fixing repeated before each new round of the radius MIP.

On truncated lists the LP may leave a client with none of its ``p`` largest sites listed; the
repair must still give ``p`` sites that serve every client within its list, and the LP start
of :func:`~optimizer.solver.nearest.p_median_nearest` must then yield a plan and a bound.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from optimizer.solver.benders import lp_sorted
from optimizer.solver.budget import Budget
from optimizer.solver.nearest import _lp_start, p_median_nearest, repair_plan


def lists(seed: int, n: int, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Floor Euclidean distances of n random points and each point's k nearest sites."""
    xy = np.random.default_rng(seed).uniform(0, 100, size=(n, 2))
    c = np.floor(np.hypot(xy[:, None, 0] - xy[None, :, 0], xy[:, None, 1] - xy[None, :, 1]))
    nb = np.argsort(c, axis=1, kind="stable")[:, :k]
    return c, nb, np.take_along_axis(c, nb, axis=1)


def listed_cost(nb: np.ndarray, cc: np.ndarray, plan: list[int]) -> float:
    """Each client's cheapest listed open site, summed client by client (inf if none)."""
    total = 0.0
    for i in range(len(nb)):
        mine = [float(cc[i, t]) for t in range(nb.shape[1]) if int(nb[i, t]) in plan]
        total += min(mine) if mine else float("inf")
    return total


def test_repair_serves_every_client_the_rounding_left_out() -> None:
    c, nb, cc = lists(0, 12, 3)
    p = 4
    lp = lp_sorted(nb, cc, 12, p, [])
    assert lp is not None
    rounded = sorted(int(j) for j in np.argsort(-lp.y, kind="stable")[:p])
    assert listed_cost(nb, cc, rounded) == float("inf")  # the case the repair is for
    plan = repair_plan(nb, cc, rounded, lp.y)
    assert len(plan) == p and len(set(plan)) == p
    value = listed_cost(nb, cc, plan)
    best = min(listed_cost(nb, cc, list(s)) for s in itertools.combinations(range(12), p))
    assert best <= value < float("inf")
    # the LP start: the repaired, polished plan, never worse, and a bound below the optimum
    start, bound, _, _, _ = _lp_start(nb, cc, p, 12, Budget.of(30.0))
    assert len(start) == p and listed_cost(nb, cc, start) <= value
    full = min(float(c[:, list(s)].min(axis=1).sum()) for s in itertools.combinations(range(12), p))
    assert bound <= full + 1e-9


def test_nearest_gives_a_plan_and_bound_from_the_repaired_start() -> None:
    c, nb, cc = lists(0, 12, 3)
    r = p_median_nearest(nb, cc, 4, gap=0.0, time_limit=30.0)
    assert r.objective == pytest.approx(listed_cost(nb, cc, r.open_sites))
    full = min(float(c[:, list(s)].min(axis=1).sum()) for s in itertools.combinations(range(12), 4))
    assert r.bound <= full + 1e-9 <= r.objective + 1e-9


def test_repair_refuses_when_no_plan_serves_everyone() -> None:
    """k = 1: every client needs its own site, so p < n sites cannot serve all."""
    _, nb, cc = lists(3, 8, 1)
    assert repair_plan(nb, cc, [0, 1, 2], np.zeros(8)) == []


def test_each_new_round_refixes_with_the_better_incumbent() -> None:
    """One level per client at first: round 1 serves clients beyond it, so a second round
    runs; before it, ``refix`` gets the better incumbent (here it closes nothing, so the
    answer must still be the enumerated optimum)."""
    from optimizer.solver.dense_radius import levels_sorted, solve_levels
    from optimizer.solver.nearest import _server

    c, nb, cc = lists(5, 12, 12)
    calls: list[float] = []

    def refix(value: float, plan: list[int]) -> tuple[np.ndarray, np.ndarray]:
        calls.append(value)
        assert listed_cost(nb, cc, plan) == pytest.approx(value)
        return np.zeros(12), np.ones(12)

    lv = levels_sorted(nb.astype(np.int32), cc)
    result, _ = solve_levels(
        lv,
        12,
        3,
        [0, 1, 2],
        _server(nb, cc),
        bounds=(np.zeros(12), np.ones(12)),
        depth=np.ones(12, dtype=np.int64),
        integral=True,
        gap=0.0,
        deadline=None,
        options={"output_flag": False},
        margin=0,
        refix=refix,
    )
    best = min(float(c[:, list(s)].min(axis=1).sum()) for s in itertools.combinations(range(12), 3))
    assert result.status == "optimal" and result.objective == pytest.approx(best)
    assert result.rounds >= 2 and calls and calls[0] <= listed_cost(nb, cc, [0, 1, 2])
