"""Pure p-medians given by each client's k nearest sites, with an exactness certificate.

A matrix of n = 13,509 (TSPLIB usa13509) needs 1.5 GB in float64 and its radius model far more;
but in the large-p regime every client is served by one of its few nearest sites. The caller
gives, for each client, its ``k`` nearest sites and their costs in ascending order, and
promises that every other site costs the client **at least its k-th cost** (true of k-nearest
lists by construction). Then the radius model over these levels, charging a client the k-th
cost for anything beyond, is a relaxation of the full problem (its bound is valid), and:

- if its optimum serves every client within the client's levels, that plan is optimal for the
  full problem (the certificate, as in García, Labbé & Marín 2011);
- if some client is pushed past its k-th site, ``k`` is doubled through the caller's ``widen``
  callback and the model is solved again (the fallback), until the certificate holds, the time
  runs out, or ``widen`` gives no more.

Before the MIP (``lp_root=True``), the Benders LP over the lists (:func:`~optimizer.solver.
benders.lp_sorted`, itself a relaxation of the full LP) gives a valid bound and optimal
multipliers ``v``; the ``p`` sites of largest LP value, repaired when a client lists none of
them (:func:`repair_plan`) and polished by swaps over the lists, are the start plan; with that
plan's cost as the incumbent, the multipliers' reduced costs close the sites that cannot be in
a better plan (and open those that must be), so the MIP is built over fewer sites, again before
each new round when the incumbent improved. The first round models each client's levels down
to the farther of ``v_i`` and its cost in the start plan, plus two. The result's bound is the
better of the LP's and the MIP's (capped by the incumbent the fixing used), so a stated gap is
valid even when the MIP runs out of time.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

import numpy as np

from optimizer.errors import PolicyError
from optimizer.solver.benders import lp_sorted
from optimizer.solver.budget import Budget
from optimizer.solver.dense_radius import (
    DenseRadiusResult,
    Levels,
    level_of,
    levels_sorted,
    solve_levels,
)
from optimizer.solver.problem import LocationProblem, LocationResult, SolveStatus, finish
from optimizer.solver.swap import local_search

logger = logging.getLogger(__name__)

_REACH_MARGIN = 2  # levels modelled beyond each client's LP reach in the first round
_POLISH_SECONDS = 60.0  # at most (and 10 % of the time left) for the swaps on the LP's plan

Widen = Callable[[int], tuple[np.ndarray, np.ndarray]]
Refix = Callable[[float, list[int]], tuple[np.ndarray, np.ndarray]]


def p_median_nearest(
    neighbours: np.ndarray,
    costs: np.ndarray,
    p: int,
    *,
    widen: Widen | None = None,
    time_limit: float | None = 600.0,
    gap: float = 1e-4,
    threads: int | None = None,
    seed: int = 0,
    msg: bool = False,
    lp_root: bool = True,
    depth_k: int | None = None,
) -> LocationResult:
    """Solve a p-median given each client's nearest sites, certifying the pruned pairs.

    Parameters
    ----------
    neighbours
        ``n_clients × k`` site indices, each row the client's k nearest sites (sites are
        ``0 … neighbours.max()``).
    costs
        ``n_clients × k`` costs of those pairs, ascending in each row; every site not listed
        costs the client at least the row's last cost (the caller's promise).
    p
        Sites to open.
    widen
        ``widen(k)`` returns the ``k``-nearest arrays for a larger ``k`` (the fallback when
        the certificate fails); ``None``: return the plan uncertified with its bound.
    time_limit, gap, threads, seed, msg
        As in :func:`optimizer.solver.solve`.
    lp_root
        Solve the Benders LP over the lists first (bound, start plan, reduced-cost fixing; at
        most half the time limit).
    depth_k
        Without the LP's multipliers (``lp_root=False`` or the LP failed): model at first only
        each client's ``depth_k`` nearest listed sites (lazy levels, García, Labbé & Marín
        2011): a client the model serves beyond them gets its whole list and the model is
        solved again. ``None``: the whole lists from the start.

    Returns
    -------
    LocationResult
        ``status`` optimal only when the certificate holds; ``bound`` is valid for the full
        problem in every case; ``formulation`` is ``"nearest k=K"``.
    """
    if neighbours.shape != costs.shape or neighbours.ndim != 2:
        raise PolicyError("neighbours and costs must be arrays of the same shape n_clients × k")
    if np.any(np.diff(costs, axis=1) < 0):
        raise PolicyError("each row of costs must be ascending (the nearest site first)")
    budget = Budget.of(time_limit)
    n_sites = int(neighbours.max()) + 1
    best: list[int] = []
    bound = -np.inf
    site_bounds = (np.zeros(n_sites), np.ones(n_sites))
    reach: np.ndarray | None = None
    refix: Refix | None = None
    if lp_root:
        best, bound, site_bounds, reach, refix = _lp_start(neighbours, costs, p, n_sites, budget)
    while True:
        k = neighbours.shape[1]
        t0 = time.perf_counter()
        lv = levels_sorted(neighbours.astype(np.int32), costs)
        prob = _problem(neighbours, costs, p, n_sites)
        logger.info("nearest k=%d: levels in %.1f s", k, time.perf_counter() - t0)
        result, overflow = solve_levels(
            lv,
            n_sites,
            p,
            best,
            _server(neighbours, costs),
            bounds=site_bounds,
            refix=refix,
            depth=_first_depth(lv, depth_k, reach),
            integral=bool(np.all(costs == np.round(costs))),
            gap=gap,
            deadline=budget.deadline,
            options={
                "output_flag": bool(msg),
                "random_seed": int(seed),
                **({"threads": int(threads)} if threads else {}),
            },
            margin=0,
        )
        logger.info(
            "nearest k=%d: %s, plan %.6g, bound %.6g",
            k,
            result.status,
            result.objective,
            result.bound,
        )
        bound = max(bound, result.bound) if np.isfinite(result.bound) else bound
        if result.open_sites:
            best = result.open_sites  # the next, wider model starts from it
        if result.status != "uncertified" or widen is None or budget.expired():
            break
        logger.info("nearest k=%d: %d clients served beyond it; widening", k, len(overflow))
        neighbours, costs = widen(2 * k)
        if neighbours.shape[1] <= k:
            break
    return _result(prob, best, bound, result, neighbours, costs, gap, budget)


def _result(
    prob: LocationProblem,
    best: list[int],
    bound: float,
    result: DenseRadiusResult,
    neighbours: np.ndarray,
    costs: np.ndarray,
    gap: float,
    budget: Budget,
) -> LocationResult:
    """Return the last round's plan with the best bound, as the call's result.

    Raises
    ------
    PolicyError
        If no plan serves every client within its listed sites.
    """
    if not best or not np.isfinite(prob.objective_of(best)[0]):
        raise PolicyError(
            f"no plan serves every client within its {neighbours.shape[1]} listed sites in "
            "the time given: list more sites per client (or pass widen=)"
        )
    objective, assignment = prob.objective_of(best)
    if np.isfinite(bound) and bool(np.all(costs == np.round(costs))):
        bound = float(math.ceil(bound - 1e-6))  # every plan's cost is an integer
    return finish(
        prob,
        status=SolveStatus.OPTIMAL if result.status == "optimal" else SolveStatus.FEASIBLE,
        objective=objective,
        bound=min(bound, objective),
        gap=gap,
        budget=budget,
        open_sites=best,
        assignment=assignment,
        solver="highs",
        formulation=f"nearest k={neighbours.shape[1]}",
        size=result.size,
        rounds=result.rounds,
        time_limit_reached=result.status == "time_limit",
    )


def _server(nb: np.ndarray, cc: np.ndarray) -> Callable[[list[int]], np.ndarray]:
    """Return ``serve(sites)``: each client's cost to its cheapest listed open site (inf if none).

    Rows are ascending, so the first listed open site of a row is the client's cheapest.
    """

    def serve(sites: list[int]) -> np.ndarray:
        hit = np.isin(nb, np.asarray(sites, dtype=nb.dtype))
        first = hit.argmax(axis=1)
        out = cc[np.arange(len(cc)), first].astype(np.float64)
        out[~hit.any(axis=1)] = np.inf
        return out

    return serve


def _problem(neighbours: np.ndarray, costs: np.ndarray, p: int, n_sites: int) -> LocationProblem:
    """Return the problem over the listed pairs (for evaluating plans and the result)."""
    n, k = neighbours.shape
    return LocationProblem(
        n_clients=n,
        n_sites=n_sites,
        client=np.repeat(np.arange(n), k),
        site=neighbours.reshape(-1).astype(np.int64),
        cost=costs.reshape(-1).astype(np.float64),
        p=p,
    )


def _first_depth(lv: Levels, depth_k: int | None, reach: np.ndarray | None) -> np.ndarray:
    """Levels modelled per client in the first round.

    With the LP's ``reach`` (per client the farther of its multiplier and its cost in the start
    plan): the levels down to it and ``_REACH_MARGIN`` more, which keep the model's LP as
    strong as the Benders LP (usa13509 p = 2,000: 121,659 levels instead of 215,525 for
    ``depth_k`` = 16, whose root LP was 22,500 lower); otherwise all but the last, or
    ``depth_k`` sites.
    """
    full = lv.n_levels - 1
    if reach is not None:
        return np.minimum(full, level_of(lv, reach) + _REACH_MARGIN)
    if depth_k is None or depth_k >= lv.level.shape[1]:
        return full
    return np.minimum(full, lv.level[:, max(0, depth_k - 1)].astype(np.int64) + 1)


def _lp_start(
    neighbours: np.ndarray, costs: np.ndarray, p: int, n_sites: int, budget: Budget
) -> tuple[list[int], float, tuple[np.ndarray, np.ndarray], np.ndarray | None, Refix | None]:
    """Return the LP's start plan, its bound, the sites' bounds after fixing, reach and refix.

    The reach is each client's farther of its multiplier and its cost in the plan (``None``
    without an LP); ``refix(value, plan)`` repeats the reduced-cost fixing for a better
    incumbent (``None`` without a plan). The plan is the LP's ``p`` largest sites, repaired
    (:func:`repair_plan`) when a client lists none of them and polished by swaps over the
    lists; it is empty (and nothing is fixed) when the LP fails or no repair exists.
    """
    lower, upper = np.zeros(n_sites), np.ones(n_sites)
    left = budget.remaining()
    lp = lp_sorted(
        neighbours,
        costs.astype(np.float64),
        n_sites,
        p,
        [],
        deadline=None if left is None else time.monotonic() + 0.5 * left,
    )
    if lp is None:
        return [], -np.inf, (lower, upper), None, None
    v = lp.v
    rho = np.zeros(n_sites)
    np.add.at(rho, neighbours.reshape(-1), np.minimum(0.0, costs - v[:, None]).reshape(-1))
    by_rho = np.argsort(rho, kind="stable")
    lagrangian = float(v.sum() + rho[by_rho[:p]].sum())  # valid: v_i <= each last listed cost
    plan = sorted(int(j) for j in np.argsort(-lp.y, kind="stable")[:p])
    plan = repair_plan(neighbours, costs, plan, lp.y)
    if not plan:
        logger.info("nearest LP: bound %.10g; no repair of its rounded plan", lagrangian)
        return [], lagrangian, (lower, upper), v, None
    left = budget.remaining()
    plan = local_search(
        _problem(neighbours, costs, p, n_sites),
        plan,
        time_limit=_POLISH_SECONDS if left is None else min(_POLISH_SECONDS, 0.1 * left),
    )
    first = np.isin(neighbours, plan).argmax(axis=1)
    served = costs[np.arange(len(costs)), first]
    ub = float(served.sum())
    integral = bool(np.all(costs == np.round(costs)))

    def refix(value: float, sites: list[int]) -> tuple[np.ndarray, np.ndarray]:
        return _fix(rho, by_rho, lagrangian, p, value, sites, integral)

    lower, upper = refix(ub, plan)
    logger.info(
        "nearest LP: bound %.10g, rounded plan %.10g; %d sites closed, %d opened by reduced costs",
        lagrangian,
        ub,
        int((upper == 0).sum()),
        int((lower == 1).sum()),
    )
    return plan, lagrangian, (lower, upper), np.maximum(v, served), refix


def repair_plan(
    neighbours: np.ndarray, costs: np.ndarray, plan: list[int], priority: np.ndarray
) -> list[int]:
    """Return ``plan`` changed, keeping its size, so that every client lists an open site.

    While some client lists no open site, the site listed by most such clients opens (ties:
    higher ``priority``, then lower index), and the open site whose closing costs least
    closes: its clients fall back to their second open listed site, and a site some client
    needs as its only one, or one opened by the repair, never closes. Each step serves at
    least one more client, so at most as many steps as clients unserved at first.

    Parameters
    ----------
    neighbours, costs
        As in :func:`p_median_nearest` (rows ascending).
    plan
        The sites open at first (the LP's rounded plan).
    priority
        One value per site (the LP's ``y``): breaks ties between sites to open.

    Returns
    -------
    list of int
        The repaired plan, sorted; empty when no site can close without leaving a client
        unserved.
    """
    n_sites = len(priority)
    rows = np.arange(len(neighbours))
    is_open = np.zeros(n_sites, dtype=bool)
    is_open[plan] = True
    kept = np.zeros(n_sites, dtype=bool)
    opened = 0
    while True:
        hit = is_open[neighbours]
        served = hit.any(axis=1)
        if served.all():
            break
        count = np.bincount(neighbours[~served].reshape(-1), minlength=n_sites)
        cand = np.flatnonzero(count == count.max())
        j = int(cand[np.lexsort((cand, -priority[cand]))[0]])
        is_open[j] = kept[j] = True
        opened += 1
        hit[:, :] = is_open[neighbours]
        first = hit.argmax(axis=1)
        served = hit.any(axis=1)
        hit[rows, first] = False
        second = hit.argmax(axis=1)
        fallback = np.where(hit.any(axis=1), costs[rows, second] - costs[rows, first], np.inf)
        loss = np.zeros(n_sites)
        np.add.at(loss, neighbours[rows, first][served], fallback[served])
        loss[~is_open | kept] = np.inf
        r = int(np.argmin(loss))
        if not np.isfinite(loss[r]):
            return []
        is_open[r] = False
    if opened:
        logger.info("nearest LP: its rounded plan repaired by %d site exchanges", opened)
    return np.flatnonzero(is_open).tolist()


def _fix(
    rho: np.ndarray,
    by_rho: np.ndarray,
    lagrangian: float,
    p: int,
    value: float,
    plan: list[int],
    integral: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the sites' lower and upper bounds that a plan better than ``value`` must meet.

    A site outside the Lagrangian plan whose opening alone lifts ``L(v)`` to ``value`` closes
    (unless ``plan`` has it: its MIP start must stay feasible), and one inside it whose closing
    alone does opens.
    """
    n_sites = len(rho)
    lower, upper = np.zeros(n_sites), np.ones(n_sites)
    target = value - (1.0 - 1e-6 if integral else 1e-9 * max(1.0, abs(value)))
    in_s = np.zeros(n_sites, dtype=bool)
    in_s[by_rho[:p]] = True
    last_in, first_out = rho[by_rho[p - 1]], rho[by_rho[min(p, n_sites - 1)]]
    close = ~in_s & (lagrangian + rho - last_in >= target)
    close[plan] = False
    force = in_s & (lagrangian - rho + first_out >= target)
    upper[close] = 0.0
    lower[force] = 1.0
    return lower, upper
