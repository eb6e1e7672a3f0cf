"""Independent blocks of a location problem (for example counties no pair crosses).

Blocks linked by no allowed pair, adjacency or home are solved one by one; the count bounds
that span blocks are checked on the union afterwards.
"""

from __future__ import annotations

import numpy as np

from optimizer.solver.problem import LocationProblem, SiteGroup


def independent_blocks(prob: LocationProblem) -> list[tuple[np.ndarray, np.ndarray]]:
    """Return the independent blocks of ``prob``: (clients, sites) linked by pairs and adjacency.

    Parameters
    ----------
    prob
        The problem.

    Returns
    -------
    list of tuple of numpy.ndarray
        Client and site indices of each block, in order of their lowest client.
    """
    parent = list(range(prob.n_clients + prob.n_sites))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for i, j in zip(prob.client.tolist(), prob.site.tolist(), strict=True):
        union(i, prob.n_clients + j)
    if prob.client_edges is not None:
        for a, b in np.asarray(prob.client_edges, dtype=np.int64).tolist():
            union(a, b)
    if prob.site_home is not None:
        for j, h in enumerate(np.asarray(prob.site_home).tolist()):
            if h >= 0:
                union(int(h), prob.n_clients + j)
    roots = np.array([find(a) for a in range(prob.n_clients + prob.n_sites)])
    out = []
    for r in sorted(set(roots[: prob.n_clients].tolist())):
        members = np.flatnonzero(roots == r)
        clients = members[members < prob.n_clients]
        sites = members[members >= prob.n_clients] - prob.n_clients
        out.append((clients, sites))
    return out


def split_groups(
    prob: LocationProblem, blocks: list[tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, list[list[SiteGroup]], list[SiteGroup]]:
    """Return the block of each site, the groups inside each block, and the groups across.

    Parameters
    ----------
    prob
        The problem.
    blocks
        Its blocks (:func:`independent_blocks`).

    Returns
    -------
    block_of_site : numpy.ndarray
        Block index per site (-1 for a site in no block).
    local : list of list of SiteGroup
        Per block, the groups whose sites all lie in it.
    coupling : list of SiteGroup
        The groups that span blocks, checked after the blocks are solved.
    """
    block_of_site = np.full(prob.n_sites, -1, dtype=np.int64)
    for b, (_, sites) in enumerate(blocks):
        block_of_site[sites] = b
    local: list[list[SiteGroup]] = [[] for _ in blocks]
    coupling: list[SiteGroup] = []
    for g in prob.groups:
        bs = set(block_of_site[np.asarray(g.sites, dtype=np.int64)].tolist())
        if len(bs) == 1 and -1 not in bs:
            local[bs.pop()].append(g)
        else:
            coupling.append(g)
    return block_of_site, local, coupling


def sub_problem(
    prob: LocationProblem,
    clients: np.ndarray,
    sites: np.ndarray,
    pairs: np.ndarray,
    groups: list[SiteGroup],
) -> LocationProblem:
    """Return the problem restricted to one block, renumbered from 0.

    Parameters
    ----------
    prob
        The whole problem.
    clients, sites
        The block's clients and sites.
    pairs
        Bool per allowed pair of ``prob``: the pair lies in the block.
    groups
        The groups inside the block (site indices of ``prob``).

    Returns
    -------
    LocationProblem
        The block as a problem of its own.
    """
    c_map = np.full(prob.n_clients, -1, dtype=np.int64)
    c_map[clients] = np.arange(len(clients))
    s_map = np.full(prob.n_sites, -1, dtype=np.int64)
    s_map[sites] = np.arange(len(sites))
    edges = None
    if prob.client_edges is not None:
        e = np.asarray(prob.client_edges, dtype=np.int64).reshape(-1, 2)
        keep = (c_map[e[:, 0]] >= 0) & (c_map[e[:, 1]] >= 0)
        edges = c_map[e[keep]]
    return LocationProblem(
        n_clients=len(clients),
        n_sites=len(sites),
        client=c_map[prob.client[pairs]],
        site=s_map[prob.site[pairs]],
        cost=prob.cost[pairs],
        weights=None if prob.weights is None else prob.weights[clients],
        groups=[
            SiteGroup(g.name, s_map[np.asarray(g.sites, dtype=np.int64)], g.min_open, g.max_open)
            for g in groups
        ],
        fixed_open=frozenset(int(s_map[j]) for j in prob.fixed_open if s_map[j] >= 0),
        fixed_closed=frozenset(int(s_map[j]) for j in prob.fixed_closed if s_map[j] >= 0),
        client_edges=edges,
        site_home=None
        if prob.site_home is None
        else np.array([c_map[h] if h >= 0 else -1 for h in np.asarray(prob.site_home)[sites]]),
        client_load=None if prob.client_load is None else np.asarray(prob.client_load)[clients],
        site_min_load=None if prob.site_min_load is None else np.asarray(prob.site_min_load)[sites],
        site_max_load=None if prob.site_max_load is None else np.asarray(prob.site_max_load)[sites],
        site_cost=None if prob.site_cost is None else np.asarray(prob.site_cost)[sites],
    )
