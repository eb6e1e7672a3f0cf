"""The Lagrangian path of pure p-median problems: the dense matrix, its heuristics and tree.

A pure p-median (``p`` given; no groups, loads or contiguity) whose dense cost matrix fits in
memory is solved by :func:`optimizer.solver.lagrangian.branch_and_bound`, started from the
dense greedy plan and swap search of :mod:`optimizer.solver.dense`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from optimizer.solver import dense
from optimizer.solver.benders import lp_multipliers
from optimizer.solver.budget import Budget
from optimizer.solver.lagrangian import TreeResult, branch_and_bound
from optimizer.solver.problem import LocationProblem

logger = logging.getLogger(__name__)

# Largest clients × sites matrix the Lagrangian tree works on densely (float64 and float32
# copies, the local search's sorted order and work arrays). Measured: 3000 × 3000 (9 M entries)
# peaks at 1.1 GB for the whole p_median call.
TREE_MAX_ENTRIES = 10_000_000
# Part of the tree's time the Benders LP of the root may take (its multipliers start the root).
LP_SHARE = 0.4
# A root started from the LP's multipliers needs no long subgradient run before a MIP: these
# steps only feed the plan polishing (iteration 25).
LP_ROOT_ITERATIONS = 25
# The LP's cuts have about n / p entries per client: above this many in one round (pcb3038
# with p <= 10: 0.9-1.8 M) HiGHS's re-solves take longer than the subgradient root they replace.
LP_MAX_ENTRIES = 600_000
# Nor below this many clients × sites (OR-Library pmed1-40, n <= 900): the tree closes those in
# 0.2-4 s from its own subgradient root and the LP only adds its 0.1-0.3 s (measured 0.6-0.9×).
LP_MIN_PAIRS = 1_000_000


def tree_applies(prob: LocationProblem) -> bool:
    """Return whether the Lagrangian tree can solve ``prob``: a pure p-median that fits."""
    return (
        prob.p is not None
        and not prob.groups
        and not prob.needs_assignment
        and prob.n_clients * prob.n_sites <= TREE_MAX_ENTRIES
    )


def solve_tree(
    prob: LocationProblem,
    *,
    gap: float,
    budget: Budget,
    heuristic_seconds: float,
    share: float = 0.6,
    root_iterations: int | None = None,
    lp_root: bool = True,
) -> tuple[TreeResult, np.ndarray] | None:
    """Run the Lagrangian branch-and-bound on the dense weighted cost matrix of ``prob``.

    Parameters
    ----------
    prob
        A pure p-median (see :func:`tree_applies`).
    gap
        Relative optimality gap.
    budget
        The call's budget.
    heuristic_seconds
        Time for the dense swap search of the start plan.
    share
        The part of the budget the tree may use (from the budget's start), leaving the rest to
        the MIP; ``0``: the root only (its bound, reduced-cost fixing and polished plan).
    root_iterations
        Subgradient iterations at the root (default: the tree's own, 3,000).
    lp_root
        Start the root from the multipliers of the exact LP (:func:`root_multipliers`)
        rather than from the clients' second costs.

    Returns
    -------
    tuple of TreeResult and numpy.ndarray, or None
        The tree's result and the dense weighted cost matrix (clients × sites, ``inf`` for
        forbidden pairs); ``None`` when the greedy start leaves a client unserved (the MIP path
        then decides feasibility).
    """
    assert prob.weights is not None and prob.p is not None
    costs = np.full((prob.n_clients, prob.n_sites), np.inf)
    weighted = prob.weights[prob.client] * prob.cost
    costs[prob.client, prob.site] = weighted
    if np.count_nonzero(np.isfinite(costs)) < len(prob.client):
        costs[prob.client, prob.site] = np.inf
        np.minimum.at(costs, (prob.client, prob.site), weighted)  # repeated pairs: cheapest
    site_cost = np.zeros(prob.n_sites) if prob.site_cost is None else np.asarray(prob.site_cost)
    fixed_open = np.asarray(sorted(prob.fixed_open), dtype=np.int64)
    allowed = np.ones(prob.n_sites, dtype=bool)
    allowed[list(prob.fixed_closed)] = False

    search = dense.LocalSearch(costs, site_cost, fixed_open, allowed)

    def improve(sites: list[int], seconds: float = min(2.0, heuristic_seconds)) -> list[int]:
        return [int(j) for j in search.improve(np.asarray(sites), budget.cap(seconds))]

    greedy = search.greedy(prob.p).tolist()
    if not np.isfinite(costs[:, greedy].min(axis=1)).all():
        return None
    root_v = None
    entries = prob.n_clients * prob.n_sites / max(1, prob.p)
    pairs = prob.n_clients * prob.n_sites
    if lp_root and LP_MIN_PAIRS <= pairs and entries <= LP_MAX_ENTRIES and np.isfinite(costs).all():
        # the LP's rounded plan is closer to the optimum than the greedy one: the swap search
        # (the slow part of the start on n = 3,038) runs from the better of the two only
        root_v, start = root_multipliers(
            search, costs, prob, greedy, budget, improve, heuristic_seconds
        )
        if root_v is not None and root_iterations is not None:
            root_iterations = min(root_iterations, LP_ROOT_ITERATIONS)
        if root_v is None:
            start = improve(start, heuristic_seconds)
    else:
        start = improve(greedy, heuristic_seconds)
    tree = branch_and_bound(
        costs,
        prob.p,
        start,
        site_cost=site_cost,
        fixed_open=prob.fixed_open,
        fixed_closed=prob.fixed_closed,
        gap=gap,
        deadline=time.monotonic() if share <= 0 else budget.fraction(share),
        improve=improve,
        **({} if root_iterations is None else {"root_iterations": root_iterations}),
        root_v=root_v,
    )
    logger.debug(
        "Lagrangian tree: %d nodes, root bound %.6g, plan %.6g, %s",
        tree.nodes,
        tree.root_bound,
        tree.objective,
        "proven" if tree.proven else "not closed",
    )
    return tree, costs


def root_multipliers(
    search: dense.LocalSearch,
    costs: np.ndarray,
    prob: LocationProblem,
    start: list[int],
    budget: Budget,
    improve: Callable[[list[int], float], list[int]],
    heuristic_seconds: float,
) -> tuple[np.ndarray | None, list[int]]:
    """Return the exact LP's multipliers for the root, and the better of ``start`` and its plan.

    The LP (:func:`optimizer.solver.benders.lp_multipliers`) gets at most ``LP_SHARE`` of the
    time left. Its plan: the ``p`` sites of largest LP value (the fixed open ones first),
    improved by the swap search for up to ``heuristic_seconds``.

    Returns
    -------
    v : numpy.ndarray or None
        The multipliers (``None`` when HiGHS failed or the LP was not solved in its time).
    start : list of int
        The better plan.
    """
    assert prob.p is not None
    left = budget.remaining()
    deadline = None if left is None else time.monotonic() + LP_SHARE * left
    fixed = np.asarray(sorted(prob.fixed_open), dtype=np.int64)
    lp = lp_multipliers(
        costs,
        prob.p,
        start,
        site_cost=search.site_cost,
        fixed_open=fixed,
        closed=np.flatnonzero(~search.allowed),
        deadline=deadline,
        order=search.order if not np.any(search.site_cost) else None,
    )
    if lp is None or not lp.exact:
        return None, start  # multipliers of a master still missing cuts start no better
    score = np.where(search.allowed, lp.y, -np.inf)
    score[fixed] = np.inf
    rounded = np.sort(np.argsort(-score, kind="stable")[: prob.p])
    plan = improve([int(j) for j in rounded], heuristic_seconds)

    def value(sites: list[int]) -> float:
        return float(costs[:, sites].min(axis=1).sum() + search.site_cost[sites].sum())

    if value(plan) < value(start):
        return lp.v, plan
    other = improve(start, heuristic_seconds)
    return lp.v, plan if value(plan) <= value(other) else other
