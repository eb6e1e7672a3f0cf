r"""A plan and a Lagrangian bound for a pure p-median too large for the tree's copies.

The Lagrangian tree (:mod:`optimizer.solver.lagrangian`) keeps float64 and float32 copies of the
matrix, its sorted order and work arrays: about six bytes × 8 per pair, too much at
n = 13,509 (182 million pairs). Small ``p`` cannot use k-nearest lists either (a client is
served by about its n/p-th nearest site). This module works on **one** float32 matrix (730 MB
at n = 13,509), site block by site block, and returns a plan with a proven gap:

- the plan: greedy (each step the site that lowers the total most, one pass over the matrix),
  then *alternation* (Maranzana 1964): every client to its nearest open site, every cluster's
  site moved to the cluster's 1-median, until no site moves; then *interchange* (Whitaker's
  fast interchange, by blocks of candidate sites): swaps of one open site for one closed site
  until none lowers the cost;
- the bound: :math:`L(v) = \sum_i v_i + \sum_{j \in S} \rho_j(v)` (the ``p`` smallest
  :math:`\rho_j = \sum_i \min(0, c_{ij} - v_i)`), by subgradient steps aimed at the plan's cost
  (Polyak), summed in float64. Every :math:`v` gives a valid bound; the best is returned.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

_BLOCK = 1024  # sites per block: a clients × block float32 work array


@dataclass(frozen=True)
class BigResult:
    """What :func:`plan_and_bound` returns: plan, its cost, the bound, steps and seconds."""

    open_sites: list[int]
    objective: float
    bound: float
    iterations: int
    seconds: float

    @property
    def gap(self) -> float:
        """Relative gap (objective − bound) / objective."""
        return (self.objective - self.bound) / max(1.0, abs(self.objective))


def _nearest(costs: np.ndarray, sites: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Each client's cheapest open cost and the position of that site in ``sites``."""
    sub = costs[:, sites]
    where = sub.argmin(axis=1)
    return sub[np.arange(len(sub)), where].astype(np.float64), where


def greedy(costs: np.ndarray, p: int, deadline: float | None = None) -> list[int]:
    """Open ``p`` sites one at a time, each lowering the total cost most."""
    m, n = costs.shape
    nearest = np.full(m, np.inf, dtype=np.float32)
    chosen: list[int] = []
    while len(chosen) < p:
        totals = np.empty(n)
        for a in range(0, n, _BLOCK):
            blk = costs[:, a : a + _BLOCK]
            totals[a : a + _BLOCK] = np.minimum(blk, nearest[:, None]).sum(axis=0, dtype=np.float64)
        totals[chosen] = np.inf
        j = int(np.argmin(totals))
        chosen.append(j)
        nearest = np.minimum(nearest, costs[:, j])
        if deadline is not None and time.monotonic() >= deadline and len(chosen) < p:
            rest = np.argsort(totals, kind="stable")[: p - len(chosen)]
            chosen.extend(int(x) for x in rest)  # out of time: fill by the last totals
    return sorted(chosen)


def alternate(costs: np.ndarray, sites: list[int], deadline: float | None = None) -> list[int]:
    """Move every cluster's site to its 1-median until none moves (Maranzana)."""
    sites = list(sites)
    while deadline is None or time.monotonic() < deadline:
        _, where = _nearest(costs, sites)
        moved = False
        for k in range(len(sites)):
            members = np.flatnonzero(where == k)
            if len(members) == 0:
                continue
            inner = costs[np.ix_(members, members)].sum(axis=0, dtype=np.float64)
            best = int(members[int(np.argmin(inner))])
            here = float(costs[members, sites[k]].sum(dtype=np.float64))
            if best != sites[k] and float(inner.min()) < here - 1e-9 * max(1.0, here):
                sites[k] = best
                moved = True
        if not moved:
            break
    return sorted(sites)


def _closest_two(costs: np.ndarray, sites: list[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per client: the cheapest open cost, the position of its site in ``sites``, the second."""
    sub = costs[:, sites]
    rows = np.arange(len(sub))
    if len(sites) == 1:
        return sub[:, 0].copy(), np.zeros(len(sub), dtype=np.int64), np.full(len(sub), np.inf)
    two = np.argpartition(sub, 1, axis=1)[:, :2]
    a, b = sub[rows, two[:, 0]], sub[rows, two[:, 1]]
    # the lower position first on equal costs, as argmin would give
    swap = (b < a) | ((b == a) & (two[:, 1] < two[:, 0]))
    first = np.where(swap, two[:, 1], two[:, 0])
    return np.minimum(a, b), first, np.maximum(a, b).astype(np.float32)


def _members(where: np.ndarray, p: int) -> np.ndarray:
    """Return the p × clients 0/1 matrix of which open site serves each client."""
    member = np.zeros((p, len(where)))
    member[where, np.arange(len(where))] = 1.0
    return member


def interchange(
    costs: np.ndarray,
    sites: list[int],
    deadline: float | None = None,
    *,
    block: int = _BLOCK,
) -> list[int]:
    r"""Improve ``sites`` by swaps (one in, one out) until no swap lowers the cost.

    The fast interchange of Whitaker (1983) and Resende & Werneck (2003) on the dense matrix,
    by blocks of candidate sites: with each client's closest open cost :math:`d_1`, its site
    :math:`a_1` and its second-closest :math:`d_2`, opening :math:`j` and closing :math:`r`
    costs :math:`\sum_i \min(c_{ij}, d_1) + \sum_{i: a_1 = r} [\min(c_{ij}, d_2) - \min(c_{ij},
    d_1)]`, for all :math:`r` at once (one matrix product per block). The best swap of a block is
    made when it improves (checked on the exact float64 sum); the search goes round the blocks
    until a whole round improves nothing, or the deadline. Deterministic.

    Parameters
    ----------
    costs
        Clients × sites costs, float32.
    sites
        The plan to improve (at least one site).
    deadline
        ``time.monotonic()`` value after which the best plan so far is returned.
    block
        Candidate sites per block.

    Returns
    -------
    list of int
        The improved plan, sorted.
    """
    m, n = costs.shape
    sites = sorted(sites)
    p = len(sites)
    d1, where, d2 = _closest_two(costs, sites)
    member = _members(where, p)
    current = float(d1.sum(dtype=np.float64))
    starts = list(range(0, n, block))
    quiet, b, swaps = 0, 0, 0
    while quiet < len(starts) and (deadline is None or time.monotonic() < deadline):
        a = starts[b]
        blk = costs[:, a : a + block]
        low = np.minimum(blk, d1[:, None])
        extra = (np.minimum(blk, d2[:, None]) - low).astype(np.float64)
        total = member @ extra  # per site r: what its clients pay more without it
        total += low.sum(axis=0, dtype=np.float64)[None, :]
        inside = [j - a for j in sites if a <= j < a + blk.shape[1]]
        total[:, inside] = np.inf
        r, jj = np.unravel_index(int(np.argmin(total)), total.shape)
        tol = 1e-9 * max(1.0, abs(current))
        improved = False
        if total[r, jj] < current - tol:
            trial = sorted(sites[:r] + sites[r + 1 :] + [a + int(jj)])
            value = float(costs[:, trial].min(axis=1).sum(dtype=np.float64))
            if value < current - tol:
                sites, current, improved = trial, value, True
                d1, where, d2 = _closest_two(costs, sites)
                member = _members(where, p)
                swaps += 1
        quiet = 0 if improved else quiet + 1
        b = (b + 1) % len(starts)
    logger.info("big dense: interchange made %d swaps, plan %.10g", swaps, current)
    return sites


def _rho(costs: np.ndarray, v: np.ndarray) -> np.ndarray:
    n = costs.shape[1]
    rho = np.empty(n)
    v32 = v.astype(np.float32)[:, None]
    for a in range(0, n, _BLOCK):
        blk = np.minimum(costs[:, a : a + _BLOCK] - v32, 0.0)
        rho[a : a + _BLOCK] = blk.sum(axis=0, dtype=np.float64)
    return rho


def plan_and_bound(
    costs: np.ndarray, p: int, *, time_limit: float | None = None, iterations: int = 1000
) -> BigResult:
    """Return a plan (greedy, alternation, interchange) and the best Lagrangian bound found.

    Every step's Lagrangian plan (its ``p`` sites of smallest ``rho``) is also costed as a plan;
    the best of them, moved by alternation and interchange in the time kept for it, replaces
    the plan when it is cheaper.

    Parameters
    ----------
    costs
        Clients × sites costs, float32 (every pair allowed; integers exact below 2**24).
    p
        Sites to open.
    time_limit
        Seconds for the whole call: greedy and alternation get at most a third, the
        interchange up to half, the bound up to five sixths, the best Lagrangian plan's
        alternation and interchange the rest.
    iterations
        Subgradient steps at most (the time limit usually ends them first: usa13509 makes
        about 2.4 steps per second on this machine).

    Returns
    -------
    BigResult
        The plan, its cost (float64 sum), the bound and the gap.
    """
    t0 = time.perf_counter()
    start = time.monotonic()
    deadline = None if time_limit is None else start + time_limit
    third = None if time_limit is None else start + time_limit / 3.0
    half = None if time_limit is None else start + time_limit / 2.0
    plan = alternate(costs, greedy(costs, p, third), third)
    plan = interchange(costs, plan, half)
    served, _ = _nearest(costs, plan)
    ub = float(served.sum())
    logger.info("big dense p=%d: plan %.10g in %.1f s", p, ub, time.perf_counter() - t0)
    # multipliers start at each client's cost in the plan (the plan's own dual guess)
    v = served.copy()
    best_l, alpha, stall, it = -math.inf, 2.0, 0, 0
    lag_plan, lag_value = plan, ub
    bound_end = None if time_limit is None else start + time_limit * 5.0 / 6.0
    for it in range(1, iterations + 1):  # noqa: B007 (the count is reported)
        rho = _rho(costs, v)
        s = np.argpartition(rho, p - 1)[:p]
        bound = float(v.sum() + rho[s].sum())
        value = float(costs[:, s].min(axis=1).sum(dtype=np.float64))
        if value < lag_value:
            lag_plan, lag_value = sorted(int(j) for j in s), value
        if bound > best_l + 1e-9 * max(1.0, abs(bound)):
            best_l, stall = bound, 0
        else:
            stall += 1
            if stall >= 10:
                alpha, stall = alpha / 2.0, 0
        if best_l >= ub - 1.0 + 1e-6 or alpha < 1e-4:
            break
        if bound_end is not None and time.monotonic() >= bound_end:
            break
        g = 1.0 - (costs[:, s] < v.astype(np.float32)[:, None]).sum(axis=1)
        norm = float(np.dot(g, g))
        if norm == 0.0:
            break
        v = v + alpha * (ub - bound) / norm * g
    logger.info("big dense p=%d: bound %.10g after %d steps", p, best_l, it)
    if lag_value < ub or lag_plan != plan:
        moved = interchange(costs, alternate(costs, lag_plan, deadline), deadline)
        value = float(_nearest(costs, moved)[0].sum())
        if value < ub:
            plan, ub = moved, value
            logger.info("big dense p=%d: the Lagrangian plans gave %.10g", p, ub)
    return BigResult(plan, ub, best_l, it, time.perf_counter() - t0)
