"""A greedy starting plan for the nearest-site models (the swap search then improves it)."""

from __future__ import annotations

import numpy as np

from optimizer.solver.problem import LocationProblem


def greedy_start(prob: LocationProblem) -> list[int] | None:
    """Return a feasible set of open sites found greedily, or None.

    Opens the pinned sites, covers the clients left without an open site (heaviest first),
    then adds the site with the largest weighted saving while the count limits allow.
    Savings are computed for all sites at once from the pair arrays.

    Parameters
    ----------
    prob
        The problem (its pins, ``p`` and group bounds are respected).

    Returns
    -------
    list of int or None
        Sorted open sites, or None when the greedy pass finds no feasible set.
    """
    assert prob.weights is not None
    limits = [(set(map(int, g.sites)), g.max_open) for g in prob.groups if g.max_open is not None]
    group_of: dict[int, list[int]] = {}
    for gi, (members, _) in enumerate(limits):
        for j in members:
            group_of.setdefault(j, []).append(gi)
    counts = [0] * len(limits)
    open_mask = np.zeros(prob.n_sites, dtype=bool)
    blocked = np.zeros(prob.n_sites, dtype=bool)
    if prob.fixed_closed:
        blocked[list(prob.fixed_closed)] = True
    target = prob.p

    def can_open(j: int) -> bool:
        if open_mask[j] or blocked[j]:
            return False
        if target is not None and open_mask.sum() >= target:
            return False
        return all(counts[g] < (limits[g][1] or 0) for g in group_of.get(j, []))

    def do_open(j: int) -> None:
        open_mask[j] = True
        for g in group_of.get(j, []):
            counts[g] += 1

    for j in sorted(prob.fixed_open):
        open_mask[j] = True
        for g in group_of.get(j, []):
            counts[g] += 1
    order = np.lexsort((prob.site, prob.cost, prob.client))
    c_sorted, s_sorted = prob.client[order], prob.site[order]
    bounds = np.searchsorted(c_sorted, np.arange(prob.n_clients + 1))
    for c in np.argsort(-prob.weights, kind="stable").tolist():
        options = s_sorted[bounds[c] : bounds[c + 1]].tolist()
        if any(open_mask[s] for s in options):
            continue
        for s in options:
            if can_open(s):
                do_open(s)
                break
        else:
            return None
    best = np.full(prob.n_clients, np.inf)
    np.minimum.at(best, prob.client[open_mask[prob.site]], prob.cost[open_mask[prob.site]])
    w_pair = prob.weights[prob.client]
    while target is None or open_mask.sum() < target:
        saving = w_pair * np.maximum(0.0, best[prob.client] - prob.cost)
        gain = np.bincount(prob.site, weights=saving, minlength=prob.n_sites)
        if prob.site_cost is not None:
            gain = gain - np.asarray(prob.site_cost, dtype=float)
        gain[open_mask | blocked] = -1.0
        picked = -1
        for j in np.argsort(-gain, kind="stable").tolist():
            if gain[j] <= 0 and target is None:
                break
            if gain[j] < 0:
                break
            if can_open(j):
                picked = j
                break
        if picked < 0:
            break
        do_open(picked)
        sel = prob.site == picked
        np.minimum.at(best, prob.client[sel], prob.cost[sel])
    if target is not None and open_mask.sum() != target:
        return None
    open_set = set(np.flatnonzero(open_mask).tolist())
    for group in prob.groups:
        if len(open_set & set(map(int, group.sites))) < group.min_open:
            return None
    return sorted(open_set)
