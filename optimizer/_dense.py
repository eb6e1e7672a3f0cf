"""Greedy start and swap local search on a dense cost matrix (private to the solver core).

The pure p-median path (:mod:`optimizer._lagrangian`) holds the whole weighted cost matrix in
memory, so its heuristics can evaluate every move with a few vectorised passes instead of the
pair-table bookkeeping of :mod:`optimizer._swap`, which has to respect arbitrary count bounds.
Forbidden pairs are ``inf`` in the matrix; here they cost a finite penalty larger than any
feasible plan, so a plan that leaves a client unserved is never preferred to one that does not.
"""

from __future__ import annotations

import time

import numpy as np


def _penalised(costs: np.ndarray, site_cost: np.ndarray) -> np.ndarray:
    """``costs`` with ``inf`` replaced by a cost above any feasible plan's total."""
    finite = np.isfinite(costs)
    if finite.all():
        return costs
    row_max = np.where(finite, costs, -np.inf).max(axis=1)
    big = float(np.abs(row_max[np.isfinite(row_max)]).sum() + np.abs(site_cost).sum() + 1.0)
    return np.where(finite, costs, big)


def greedy(
    costs: np.ndarray,
    p: int,
    site_cost: np.ndarray,
    fixed_open: np.ndarray,
    allowed: np.ndarray,
) -> np.ndarray:
    """Open ``p`` sites one at a time, each the one that lowers the total cost most.

    Parameters
    ----------
    costs
        Weighted costs, clients × sites (``inf`` = forbidden).
    p
        Sites to open.
    site_cost
        Cost of opening each site.
    fixed_open
        Indices opened first.
    allowed
        Bool per site: may be opened.

    Returns
    -------
    numpy.ndarray
        Sorted indices of the open sites.
    """
    c = _penalised(costs, site_cost)
    chosen = [int(j) for j in fixed_open]
    if chosen:
        nearest = c[:, chosen].min(axis=1)
    else:
        nearest = np.full(c.shape[0], np.inf)
    candidate = allowed.copy()
    candidate[chosen] = False
    # totals[j]: the plan's cost if j were added; kept up to date from the clients that move
    totals = np.minimum(c, nearest[:, None]).sum(axis=0) + site_cost
    while len(chosen) < p:
        j = int(np.argmin(np.where(candidate, totals, np.inf)))
        chosen.append(j)
        candidate[j] = False
        moved = np.flatnonzero(c[:, j] < nearest)
        if len(moved):
            rows = c[moved]
            before = np.minimum(rows, nearest[moved, None])
            after = np.minimum(rows, c[moved, j][:, None])
            totals -= (before - after).sum(axis=0)
            nearest[moved] = c[moved, j]
    return np.sort(np.asarray(chosen, dtype=np.int64))


def swap(
    costs: np.ndarray,
    sites: np.ndarray,
    site_cost: np.ndarray,
    fixed_open: np.ndarray,
    allowed: np.ndarray,
    time_limit: float = 10.0,
) -> np.ndarray:
    """Best-improvement vertex substitution (Teitz & Bart 1968; Whitaker's fast evaluation).

    Each move evaluates every (site in, site out) pair at once: with ``d1``/``d2`` the cheapest
    and second-cheapest open cost per client and ``a1`` the cheapest site, the saving of
    swapping ``j`` in and ``r`` out is ``G_j - L_r + E_rj`` where ``G_j`` is what ``j`` saves,
    ``L_r`` what closing ``r`` costs, and ``E_rj`` corrects for the clients of ``r`` that ``j``
    would take.

    Parameters
    ----------
    costs
        Weighted costs, clients × sites (``inf`` = forbidden).
    sites
        A starting set of open sites.
    site_cost
        Cost of opening each site.
    fixed_open
        Sites that never leave.
    allowed
        Bool per site: may be opened.
    time_limit
        Seconds after which the search stops with the set it has.

    Returns
    -------
    numpy.ndarray
        Sorted indices of the open sites after the last improving swap.
    """
    c = _penalised(costs, site_cost)
    m = c.shape[0]
    is_open = np.zeros(c.shape[1], dtype=bool)
    is_open[sites] = True
    keep = np.zeros(c.shape[1], dtype=bool)
    keep[fixed_open] = True
    if is_open.sum() < 2:
        # one site: the best single column (or the fixed one)
        if keep.any():
            return np.flatnonzero(keep)
        totals = c.sum(axis=0) + site_cost
        totals[~allowed] = np.inf
        return np.asarray([int(np.argmin(totals))], dtype=np.int64)
    rows = np.arange(m)
    deadline = time.perf_counter() + time_limit
    while time.perf_counter() < deadline:
        open_idx = np.flatnonzero(is_open)
        sub = c[:, open_idx]
        two = np.argpartition(sub, 1, axis=1)[:, :2]
        first, second = sub[rows, two[:, 0]], sub[rows, two[:, 1]]
        a1 = np.where(second < first, two[:, 1], two[:, 0])  # position in open_idx
        d1 = np.minimum(first, second)
        d2 = np.maximum(first, second)
        gain_in = np.maximum(d1[:, None] - c, 0.0)  # m × n: what site j saves client i
        g = gain_in.sum(axis=0) - site_cost
        loss = np.bincount(a1, weights=d2 - d1, minlength=len(open_idx)) - site_cost[open_idx]
        # clients of r that j would take: correct G_j - L_r for them
        extra = np.maximum(d2[:, None] - c, 0.0) - gain_in
        order = np.argsort(a1, kind="stable")
        groups, starts = np.unique(a1[order], return_index=True)
        e = np.zeros((len(open_idx), c.shape[1]))
        e[groups] = np.add.reduceat(extra[order], starts, axis=0)
        saving = g[None, :] - loss[:, None] + e
        saving[:, ~allowed | is_open] = -np.inf
        saving[keep[open_idx], :] = -np.inf
        r_pos, j = np.unravel_index(int(np.argmax(saving)), saving.shape)
        if not saving[r_pos, j] > 1e-9 * max(1.0, float(d1.sum())):
            break
        is_open[open_idx[r_pos]] = False
        is_open[j] = True
    return np.flatnonzero(is_open)
