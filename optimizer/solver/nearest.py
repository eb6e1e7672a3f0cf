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
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import numpy as np

from optimizer.errors import PolicyError
from optimizer.solver.budget import Budget
from optimizer.solver.dense_radius import _levels_sorted, solve_levels
from optimizer.solver.problem import LocationProblem, LocationResult, SolveStatus, finish

logger = logging.getLogger(__name__)

Widen = Callable[[int], tuple[np.ndarray, np.ndarray]]


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
    while True:
        k = neighbours.shape[1]
        t0 = time.perf_counter()
        lv = _levels_sorted(neighbours.astype(np.int32), costs)
        prob = _problem(neighbours, costs, p, n_sites)

        def serve(
            sites: list[int], nb: np.ndarray = neighbours, cc: np.ndarray = costs
        ) -> np.ndarray:
            # rows are ascending: the first listed open site is the client's cheapest
            hit = np.isin(nb, np.asarray(sites, dtype=nb.dtype))
            first = hit.argmax(axis=1)
            out = cc[np.arange(len(cc)), first].astype(np.float64)
            out[~hit.any(axis=1)] = np.inf
            return out

        logger.info("nearest k=%d: levels in %.1f s", k, time.perf_counter() - t0)
        result, overflow = solve_levels(
            lv,
            n_sites,
            p,
            best,
            serve,
            bounds=(np.zeros(n_sites), np.ones(n_sites)),
            depth=lv.n_levels - 1,
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
        best = result.open_sites  # the next, wider model starts from it
        if result.status != "uncertified" or widen is None or budget.expired():
            break
        logger.info("nearest k=%d: %d clients served beyond it; widening", k, len(overflow))
        neighbours, costs = widen(2 * k)
        if neighbours.shape[1] <= k:
            break
    if not best or not np.isfinite(result.objective):
        raise PolicyError(
            f"no plan serves every client within its {neighbours.shape[1]} listed sites in "
            "the time given: list more sites per client (or pass widen=)"
        )
    objective, assignment = prob.objective_of(best)
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
