"""Vertex-substitution local search for a good starting plan (private to the solver core).

Given open sites, repeatedly make the best swap (one site in, one out) that lowers the weighted
cost and keeps every count bound, until none does (Teitz & Bart 1968, with the fast evaluation of
Whitaker 1983 / Resende & Werneck 2003: the gains of all swaps come from one pass over the
allowed pairs). The result seeds the MIP solver, which then mostly has to prove optimality.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import scipy.sparse as sp

from optimizer.solver.problem import LocationProblem

logger = logging.getLogger(__name__)


def _best_two(
    prob: LocationProblem, is_open: np.ndarray, big: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per client: cheapest open cost, its site, and the second-cheapest open cost."""
    mask = is_open[prob.site]
    c, s, k = prob.client[mask], prob.site[mask], prob.cost[mask]
    order = np.lexsort((s, k, c))
    c, s, k = c[order], s[order], k[order]
    first = np.ones(len(c), dtype=bool)
    first[1:] = c[1:] != c[:-1]
    d1 = np.full(prob.n_clients, big)
    a1 = np.full(prob.n_clients, -1, dtype=np.int64)
    d1[c[first]] = k[first]
    a1[c[first]] = s[first]
    second = np.zeros(len(c), dtype=bool)
    second[1:] = first[:-1] & ~first[1:]
    d2 = np.full(prob.n_clients, big)
    d2[c[second]] = k[second]
    return d1, a1, d2


def local_search(
    prob: LocationProblem, open_sites: list[int], *, time_limit: float = 10.0
) -> list[int]:
    """Improve a feasible set of open sites by best-improvement swaps.

    Parameters
    ----------
    prob
        The problem (its count bounds and fixed sites are respected by every swap).
    open_sites
        A feasible starting set.
    time_limit
        Seconds after which the search stops with the best set so far.

    Returns
    -------
    list of int
        The improved set of open sites, sorted.
    """
    t0 = time.perf_counter()
    big = float(prob.cost.max() + 1.0) * 1e3 if len(prob.cost) else 1.0
    is_open = np.zeros(prob.n_sites, dtype=bool)
    is_open[open_sites] = True
    movable_out = np.ones(prob.n_sites, dtype=bool)
    movable_out[list(prob.fixed_open)] = False
    movable_in = np.ones(prob.n_sites, dtype=bool)
    movable_in[list(prob.fixed_closed)] = False
    site_groups: dict[int, list[int]] = {}
    for gi, g in enumerate(prob.groups):
        for j in np.asarray(g.sites).tolist():
            site_groups.setdefault(int(j), []).append(gi)
    bounds = [(g.min_open, g.max_open) for g in prob.groups]
    counts = [int(is_open[np.asarray(g.sites, dtype=np.int64)].sum()) for g in prob.groups]
    current, _ = prob.objective_of(np.flatnonzero(is_open).tolist())
    sc = np.zeros(prob.n_sites) if prob.site_cost is None else np.asarray(prob.site_cost, float)
    swaps = 0
    while time.perf_counter() - t0 < time_limit:
        can_in = ~is_open & movable_in
        can_out = is_open & movable_out
        if not can_in.any() or not can_out.any():
            break
        cand_j, cand_r, cand_d = _candidate_swaps(prob, is_open, can_in, can_out, sc, big)
        tol = 1e-9 * max(1.0, abs(current))
        order = np.lexsort((cand_r, cand_j, cand_d))
        moved = False
        for k in order[:2000].tolist():
            if cand_d[k] >= -tol:
                break
            j, r = int(cand_j[k]), int(cand_r[k])
            gj, gr = site_groups.get(j, []), site_groups.get(r, [])
            if not _swap_ok(bounds, counts, gj, gr):
                continue
            is_open[j], is_open[r] = True, False
            value, _ = prob.objective_of(np.flatnonzero(is_open).tolist())
            if value < current - tol:
                current = value
                swaps += 1
                moved = True
                for gi in gj:
                    counts[gi] += 1
                for gi in gr:
                    counts[gi] -= 1
                break
            is_open[j], is_open[r] = False, True
        if not moved:
            break
    logger.debug(
        "local search: %d swaps, objective %.6g, %.2f s", swaps, current, time.perf_counter() - t0
    )
    return np.flatnonzero(is_open).tolist()


def _candidate_swaps(
    prob: LocationProblem,
    is_open: np.ndarray,
    can_in: np.ndarray,
    can_out: np.ndarray,
    sc: np.ndarray,
    big: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the swaps worth trying: site in, site out, and the change in cost of each.

    The gains of adding each site, the losses of removing each, and a sparse correction for
    the pairs that share clients come from one pass over the allowed pairs.

    Parameters
    ----------
    prob
        The problem.
    is_open
        Bool per site: open now.
    can_in, can_out
        Bool per site: may open, may close.
    sc
        Cost of opening each site.
    big
        The cost of a client left without an open site.

    Returns
    -------
    tuple of numpy.ndarray
        Parallel arrays: site in, site out, cost change (negative improves).
    """
    assert prob.weights is not None
    w = prob.weights
    wc = w[prob.client]
    d1, a1, d2 = _best_two(prob, is_open, big)
    # gain of adding j alone
    add_gain = np.bincount(
        prob.site,
        weights=wc * np.maximum(0.0, d1[prob.client] - prob.cost),
        minlength=prob.n_sites,
    )
    # loss of removing r alone (clients of r fall back to their second site)
    served = a1 >= 0
    loss = np.bincount(a1[served], weights=(w * (d2 - d1))[served], minlength=prob.n_sites)
    # correction for pairs (j in, r out) sharing the clients of r
    r_of_pair = a1[prob.client]
    sel = (r_of_pair >= 0) & ~is_open[prob.site]
    ci, sj, cij, rr = prob.client[sel], prob.site[sel], prob.cost[sel], r_of_pair[sel]
    corr_val = w[ci] * (np.minimum(cij, d2[ci]) - d2[ci] + np.maximum(0.0, d1[ci] - cij))
    nz = corr_val != 0
    corr = sp.coo_array(
        (corr_val[nz], (sj[nz], rr[nz])), shape=(prob.n_sites, prob.n_sites)
    ).tocsr()
    # swaps whose sites share clients: the sparse correction table lists them all
    coo = corr.tocoo()
    keep = can_in[coo.row] & can_out[coo.col]
    cand_j, cand_r = coo.row[keep], coo.col[keep]
    cand_d = -add_gain[cand_j] + loss[cand_r] + coo.data[keep] + sc[cand_j] - sc[cand_r]
    # swaps of unrelated sites: the best come from the largest gains and smallest losses
    top_in = np.flatnonzero(can_in)[np.argsort(-add_gain[can_in], kind="stable")[:40]]
    top_out = np.flatnonzero(can_out)[np.argsort(loss[can_out], kind="stable")[:40]]
    jj = np.repeat(top_in, len(top_out))
    rr2 = np.tile(top_out, len(top_in))
    dd = -add_gain[jj] + loss[rr2] + np.asarray(corr[jj, rr2]).ravel() + sc[jj] - sc[rr2]
    return (
        np.concatenate([cand_j, jj]),
        np.concatenate([cand_r, rr2]),
        np.concatenate([cand_d, dd]),
    )


def _swap_ok(
    bounds: list[tuple[int, int | None]], counts: list[int], gj: list[int], gr: list[int]
) -> bool:
    """Whether opening a site in groups ``gj`` and closing one in ``gr`` keeps every bound."""
    for g in gj:
        if g in gr:
            continue
        hi = bounds[g][1]
        if hi is not None and counts[g] + 1 > hi:
            return False
    for g in gr:
        if g in gj:
            continue
        if counts[g] - 1 < bounds[g][0]:
            return False
    return True
