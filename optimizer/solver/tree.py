"""The Lagrangian path of pure p-median problems: the dense matrix, its heuristics and tree.

A pure p-median (``p`` given; no groups, loads or contiguity) whose dense cost matrix fits in
memory is solved by :func:`optimizer.solver.lagrangian.branch_and_bound`, started from the
dense greedy plan and swap search of :mod:`optimizer.solver.dense`.
"""

from __future__ import annotations

import logging
import time

import numpy as np

from optimizer.solver import dense
from optimizer.solver.budget import Budget
from optimizer.solver.lagrangian import TreeResult, branch_and_bound
from optimizer.solver.problem import LocationProblem

logger = logging.getLogger(__name__)

# Largest clients × sites matrix the Lagrangian tree works on densely (float64 and float32
# copies, the local search's sorted order and work arrays). Measured: 3000 × 3000 (9 M entries)
# peaks at 1.1 GB for the whole p_median call.
TREE_MAX_ENTRIES = 10_000_000


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

    start = improve(search.greedy(prob.p).tolist(), heuristic_seconds)
    if not np.isfinite(costs[:, start].min(axis=1)).all():
        return None
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
    )
    logger.debug(
        "Lagrangian tree: %d nodes, root bound %.6g, plan %.6g, %s",
        tree.nodes,
        tree.root_bound,
        tree.objective,
        "proven" if tree.proven else "not closed",
    )
    return tree, costs
