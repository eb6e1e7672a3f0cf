"""Greedy start and swap local search on a dense cost matrix (private to the solver core).

The pure p-median path (:mod:`optimizer.solver.lagrangian`) holds the whole weighted cost matrix
in memory, so its heuristics can evaluate every move with a few vectorised passes instead of the
pair-table bookkeeping of :mod:`optimizer.solver.swap`, which has to respect arbitrary count
bounds.
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


class LocalSearch:
    """Greedy construction and swap local search for one dense p-median instance.

    Parameters
    ----------
    costs
        Weighted costs, clients × sites (``inf`` = forbidden).
    site_cost
        Cost of opening each site.
    fixed_open
        Indices of sites that are always open.
    allowed
        Bool per site: may be opened.
    """

    def __init__(
        self,
        costs: np.ndarray,
        site_cost: np.ndarray,
        fixed_open: np.ndarray,
        allowed: np.ndarray,
    ) -> None:
        self.c = _penalised(costs, site_cost)
        self.site_cost = site_cost
        self.fixed_open = np.asarray(fixed_open, dtype=np.int64)
        self.allowed = allowed
        # each client's sites by cost: a swap only touches the sites cheaper than the client's
        # second-best open one, a short prefix of this order unless p is small
        self.order = np.argsort(self.c, axis=1, kind="stable")
        self.ordered = np.take_along_axis(self.c, self.order, axis=1)

    def greedy(self, p: int) -> np.ndarray:
        """Open ``p`` sites one at a time, each the one that lowers the total cost most.

        Parameters
        ----------
        p
            Sites to open (the fixed ones first).

        Returns
        -------
        numpy.ndarray
            Sorted indices of the open sites.
        """
        c, site_cost = self.c, self.site_cost
        chosen = [int(j) for j in self.fixed_open]
        nearest = c[:, chosen].min(axis=1) if chosen else np.full(c.shape[0], np.inf)
        candidate = self.allowed.copy()
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

    def improve(self, sites: np.ndarray, time_limit: float = 10.0) -> np.ndarray:
        """Best-improvement vertex substitution (Teitz & Bart 1968; Whitaker's evaluation).

        Each move evaluates every (site in, site out) pair at once: with ``d1``/``d2`` the
        cheapest and second-cheapest open cost per client and ``a1`` the cheapest site, the
        saving of swapping ``j`` in and ``r`` out is ``G_j - L_r + E_rj`` where ``G_j`` is what
        ``j`` saves, ``L_r`` what closing ``r`` costs, and ``E_rj`` corrects for the clients of
        ``r`` that ``j`` would take.

        Parameters
        ----------
        sites
            A starting set of open sites.
        time_limit
            Seconds after which the search stops with the set it has.

        Returns
        -------
        numpy.ndarray
            Sorted indices of the open sites after the last improving swap.
        """
        c, site_cost, allowed = self.c, self.site_cost, self.allowed
        order, ordered = self.order, self.ordered
        m = c.shape[0]
        is_open = np.zeros(c.shape[1], dtype=bool)
        is_open[sites] = True
        keep = np.zeros(c.shape[1], dtype=bool)
        keep[self.fixed_open] = True
        if is_open.sum() < 2:
            # one site: the best single column (or the fixed one)
            if keep.any():
                return np.flatnonzero(keep)
            totals = c.sum(axis=0) + site_cost
            totals[~allowed] = np.inf
            return np.asarray([int(np.argmin(totals))], dtype=np.int64)
        n = c.shape[1]
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
            reach = (ordered < d2[:, None]).sum(axis=1)
            width = int(reach.max())
            ci, pos = np.nonzero(np.arange(width)[None, :] < reach[:, None])
            site = order[ci, pos]
            cost = ordered[ci, pos]
            gain = np.maximum(d1[ci] - cost, 0.0)  # what site j saves client i
            g = np.bincount(site, weights=gain, minlength=n) - site_cost
            loss = np.bincount(a1, weights=d2 - d1, minlength=len(open_idx)) - site_cost[open_idx]
            # clients of r that j would take: correct G_j - L_r for them
            extra = (d2[ci] - cost) - gain
            e = np.bincount(a1[ci] * n + site, weights=extra, minlength=len(open_idx) * n)
            saving = g[None, :] - loss[:, None] + e.reshape(len(open_idx), n)
            saving[:, ~allowed | is_open] = -np.inf
            saving[keep[open_idx], :] = -np.inf
            r_pos, j = np.unravel_index(int(np.argmax(saving)), saving.shape)
            if not saving[r_pos, j] > 1e-9 * max(1.0, float(d1.sum())):
                break
            is_open[open_idx[r_pos]] = False
            is_open[j] = True
        return np.flatnonzero(is_open)
