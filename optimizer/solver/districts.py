"""Exact districting of small block graphs, and a deterministic cut of large ones into pieces.

A *group* is a connected set of blocks whose load lies within ``[lo, hi]``; its cost is the
load-weighted distance from its blocks to its best centre block, the objective of the grid
model in the solver core (:func:`optimizer.solver.solve` with contiguity). For up to
:data:`EXACT_BLOCKS` blocks :func:`best_partition` finds the cheapest partition exactly, with no
model: every connected subset is enumerated over bit masks (numpy), and a dynamic programme over
the covered blocks, always covering the lowest uncovered block next, picks the partition. No
clock and no randomness: ties go to the smaller mask, so the same inputs give the same groups.

:func:`split_connected` cuts a larger connected graph into connected pieces of at most a given
number of blocks, along breadth-first order from its westmost block (a fixed order, not a
search), so that each piece can be solved exactly.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["EXACT_BLOCKS", "Groups", "best_partition", "connected_groups", "split_connected"]

#: Most blocks a graph may have for the exact enumeration (2**16 subsets).
EXACT_BLOCKS = 16
#: Most candidate groups the dynamic programme takes; beyond it (very small blocks under a wide
#: bound) the caller cuts the piece smaller. A count, not a clock.
MAX_GROUPS = 12_000
_EPS = 1e-9


@dataclass(frozen=True)
class Groups:
    """The connected subsets of a block graph whose load is at most the upper bound.

    Attributes
    ----------
    n
        Blocks in the graph.
    masks
        Each group as a bit mask of its blocks (int64, ascending).
    load, cost
        Its load, and its load-weighted distance to its best centre.
    centre
        Its best centre block (the lowest index among equals).
    """

    n: int
    masks: np.ndarray
    load: np.ndarray
    cost: np.ndarray
    centre: np.ndarray


def connected_groups(
    load: np.ndarray, dist: np.ndarray, edges: np.ndarray, hi: float
) -> Groups | None:
    """Enumerate the connected groups of at most ``hi`` load.

    Parameters
    ----------
    load
        Load of each block (households), length ``n <= EXACT_BLOCKS``.
    dist
        ``n x n`` distances between blocks (the cost per unit of load).
    edges
        ``(k, 2)`` adjacent block pairs.
    hi
        Upper bound of a group's load.

    Returns
    -------
    Groups or None
        None when there are more than :data:`MAX_GROUPS` groups (cut the graph smaller).
    """
    n = len(load)
    if n > EXACT_BLOCKS:
        raise ValueError(f"{n} blocks: the exact enumeration takes at most {EXACT_BLOCKS}")
    # the load of every subset (mask m: block j in it when bit j is set), built by doubling
    sums = np.zeros(1)
    for value in np.asarray(load, dtype=float).tolist():
        sums = np.concatenate([sums, sums + value])
    keep = np.flatnonzero(sums[1:] <= hi + _EPS) + 1
    bits = ((keep[:, None] >> np.arange(n, dtype=np.int64)) & 1).astype(bool)
    sums = sums[keep]
    adj = np.zeros((n, n), dtype=np.float32)
    if len(edges):
        adj[edges[:, 0], edges[:, 1]] = adj[edges[:, 1], edges[:, 0]] = 1.0
    seen = np.zeros_like(bits)
    seen[np.arange(len(bits)), bits.argmax(axis=1)] = True
    for _ in range(n):
        grown = (((seen.astype(np.float32) @ adj) > 0) & bits) | seen
        if np.array_equal(grown, seen):
            break
        seen = grown
    conn = np.flatnonzero((seen == bits).all(axis=1))
    if len(conn) > MAX_GROUPS:
        return None
    bits, sums, masks = bits[conn], sums[conn], keep[conn].astype(np.int64)
    per_centre = (bits * np.asarray(load, dtype=float)) @ np.asarray(dist, dtype=float)
    per_centre[~bits] = np.inf
    centre = per_centre.argmin(axis=1)
    cost = per_centre[np.arange(len(bits)), centre]
    return Groups(n=n, masks=masks, load=sums, cost=cost, centre=centre)


def best_partition(groups: Groups, lo: float) -> tuple[np.ndarray, float] | None:
    """Return the cheapest partition of the blocks into groups of at least ``lo`` load.

    Parameters
    ----------
    groups
        The candidate groups (:func:`connected_groups`; they already respect the upper bound).
    lo
        Lower bound of a group's load.

    Returns
    -------
    tuple of (ndarray, float) or None
        Each block's centre block and the partition's cost; None when no partition exists.
    """
    n = groups.n
    ok = groups.load >= lo - _EPS
    masks, cost = groups.masks[ok], groups.cost[ok]
    low = np.log2((masks & -masks).astype(float)).astype(np.int64)
    order = np.lexsort((masks, low))
    masks, cost, low = masks[order], cost[order], low[order]
    start = np.searchsorted(low, np.arange(n + 1))
    full = (1 << n) - 1
    best = np.full(1 << n, np.inf)
    pick = np.zeros(1 << n, dtype=np.int64)
    best[0] = 0.0
    layers: list[list[np.ndarray]] = [[] for _ in range(n)]
    layers[0].append(np.zeros(1, dtype=np.int64))
    for b in range(n):
        sm, sc = masks[start[b] : start[b + 1]], cost[start[b] : start[b + 1]]
        if not layers[b] or not len(sm):
            continue
        states = np.unique(np.concatenate(layers[b]))
        si, ci = np.nonzero((states[:, None] & sm[None, :]) == 0)
        new, grp = states[si] | sm[ci], sm[ci]
        val = best[states[si]] + sc[ci]
        o = np.lexsort((grp, val, new))
        new, val, grp = new[o], val[o], grp[o]
        head = np.r_[True, new[1:] != new[:-1]] if len(new) else np.zeros(0, dtype=bool)
        new, val, grp = new[head], val[head], grp[head]
        better = val < best[new]
        new, val, grp = new[better], val[better], grp[better]
        best[new], pick[new] = val, grp
        nxt = np.log2((~new & (new + 1)).astype(float)).astype(np.int64)
        for b2 in np.unique(nxt[nxt < n]).tolist():
            layers[b2].append(new[nxt == b2])
    if not np.isfinite(best[full]):
        return None
    centre_of = np.empty(n, dtype=np.int64)
    s = full
    while s:
        g = int(pick[s])
        at = int(np.searchsorted(groups.masks, g))
        members = [j for j in range(n) if g >> j & 1]
        centre_of[members] = int(groups.centre[at])
        s ^= g
    return centre_of, float(best[full])


def split_connected(xy: np.ndarray, edges: np.ndarray, limit: int) -> list[np.ndarray]:
    """Cut a block graph into connected pieces of at most ``limit`` blocks.

    Each connected part larger than ``limit`` gives up a piece: the first blocks in
    breadth-first order from its westmost block (then southmost; neighbours in index order),
    three quarters of ``limit``, plus any leftover part too small to stand alone (fewer than a
    quarter of ``limit`` blocks) while the piece stays within ``limit``; the rest is cut again.
    A fixed order, so the same graph always gives the same pieces.

    Parameters
    ----------
    xy
        ``(n, 2)`` block coordinates.
    edges
        ``(k, 2)`` adjacent block pairs.
    limit
        Most blocks in a piece (at least 2).

    Returns
    -------
    list of ndarray
        The pieces (block indices, ascending), in the order they were cut.
    """
    n = len(xy)
    limit = max(2, int(limit))
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for a, b in edges.tolist():
        nbrs[a].append(b)
        nbrs[b].append(a)
    nbrs = [sorted(set(x)) for x in nbrs]
    todo = deque(_parts(np.arange(n), edges, n))
    out: list[np.ndarray] = []
    while todo:
        part = todo.popleft()
        if len(part) <= limit:
            out.append(part)
            continue
        inside = np.zeros(n, dtype=bool)
        inside[part] = True
        start = int(part[np.lexsort((xy[part, 1], xy[part, 0]))[0]])
        order, queued = [start], {start}
        i = 0
        while i < len(order) and len(order) < (3 * limit) // 4:
            for j in nbrs[order[i]]:
                if inside[j] and j not in queued and len(order) < (3 * limit) // 4:
                    queued.add(j)
                    order.append(j)
            i += 1
        piece = list(order)
        rest = np.setdiff1d(part, piece)
        for left in _parts(rest, edges, n):
            if len(left) < limit // 4 and len(piece) + len(left) <= limit:
                piece += left.tolist()
            else:
                todo.append(left)
        out.append(np.sort(np.asarray(piece, dtype=np.int64)))
    return out


def _parts(ids: np.ndarray, edges: np.ndarray, n: int) -> list[np.ndarray]:
    """Return the connected parts of the subgraph on ``ids`` (each ascending, by first block)."""
    if len(ids) == 0:
        return []
    inside = np.zeros(n, dtype=bool)
    inside[ids] = True
    e = edges[inside[edges[:, 0]] & inside[edges[:, 1]]] if len(edges) else edges
    graph = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(n, n))
    label = connected_components(graph, directed=False)[1][ids]
    _, first = np.unique(label, return_index=True)
    return [ids[label == label[f]] for f in np.sort(first)]
