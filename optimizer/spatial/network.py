"""Township adjacency and road travel times, as networkx graphs.

Two graphs serve the model:

- :func:`township_adjacency` (from :mod:`optimizer.spatial.adjacency`, re-exported here):
  townships are nodes, an edge joins two townships whose polygons share a border (or nearly do:
  real data has slivers and small gaps). Islands and county parts that touch no other township
  of their county get an ``"island"`` link to the nearest part, so every county's subgraph is
  connected and contiguity constraints stay satisfiable.
- :func:`road_graph`: an optional road layer (:func:`read_roads`) as a graph of road vertices with
  travel minutes on every edge. :func:`travel_minutes` snaps township seats and facility sites to
  it and runs one multi-source Dijkstra per county, never one per pair; where there are no roads
  :func:`straight_line_minutes` (straight line × circuity) is the fallback.

Coordinates are metres in a projected CRS (:func:`optimizer.inputs.geometry.projected_crs`); the CRS used is
stored in ``graph.graph["crs"]``. ``docs/network.md`` explains the rules and the defaults.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Literal

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from optimizer.errors import DataError
from optimizer.inputs import geometry as geo
from optimizer.spatial.adjacency import county_components, township_adjacency

__all__ = [
    "assign_node_groups",
    "county_components",
    "road_graph",
    "straight_line_minutes",
    "township_adjacency",
    "travel_minutes",
]

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------
# road graph


def road_graph(
    roads: gpd.GeoDataFrame,
    crs: Any,
    *,
    townships: gpd.GeoDataFrame | None = None,
    group_column: str = "county_code",
    margin_m: float = 1000.0,
    grid_m: float = 1.0,
) -> nx.Graph:
    """Turn road lines into a graph of road vertices weighted by travel minutes.

    Every vertex of every line becomes a node after snapping to a ``grid_m`` grid in ``crs``,
    so lines that share an end point (or any vertex) connect; lines that merely cross without a
    common vertex (bridges, overpasses) do not. Each segment becomes an edge; of parallel
    segments the fastest is kept. No component is dropped here: :func:`travel_minutes` snaps
    sites to the largest component of each county's network.

    Parameters
    ----------
    roads
        Lines with ``speed_kmh`` (as :func:`read_roads` returns) and a CRS.
    crs
        The projected CRS (metres) of the graph, normally
        ``optimizer.inputs.geometry.projected_crs(townships)``, so that the adjacency graph's seats and the
        road nodes share coordinates.
    townships
        When given, nodes are labelled with their county by :func:`assign_node_groups`.
    group_column
        Column of ``townships`` giving the group (county) of a node.
    margin_m
        Nodes this close to a county (metres) also belong to it (see :func:`assign_node_groups`).
    grid_m
        Snapping grid (metres).

    Returns
    -------
    networkx.Graph
        Nodes ``0..n-1`` with ``x``, ``y`` (metres); edges with ``length_m``, ``minutes`` and
        ``speed_kmh``. ``graph.graph["crs"]`` is the CRS.

    Raises
    ------
    DataError
        When ``roads`` has no CRS, no ``speed_kmh`` or non-positive speeds.
    """
    t0 = time.perf_counter()
    problems = []
    if roads.crs is None:
        problems.append("roads: no CRS; read them with read_roads(..., crs=...)")
    if "speed_kmh" not in roads.columns:
        problems.append("roads: no speed_kmh column; read them with read_roads")
    elif not (roads["speed_kmh"].to_numpy(dtype=float) > 0).all():
        problems.append("roads: speed_kmh must be a number above 0 on every road")
    if problems:
        raise DataError(problems)
    proj = roads.to_crs(crs)
    lines = shapely.get_parts(np.asarray(proj.geometry.values), return_index=True)
    parts, owner = lines
    speed = proj["speed_kmh"].to_numpy(dtype=float)[owner]
    coords, line_of = shapely.get_coordinates(parts, return_index=True)
    graph = nx.Graph()
    graph.graph["crs"] = geo.crs_string(crs)
    if len(coords) == 0:
        return graph
    snapped = np.round(coords / grid_m) * grid_m
    uniq, node_of = np.unique(snapped, axis=0, return_inverse=True)
    node_of = node_of.reshape(-1)
    same_line = line_of[1:] == line_of[:-1]
    u = node_of[:-1][same_line]
    w = node_of[1:][same_line]
    seg_len = np.hypot(*(coords[1:] - coords[:-1])[same_line].T)
    seg_speed = speed[line_of[:-1][same_line]]
    distinct = u != w
    u, w, seg_len, seg_speed = u[distinct], w[distinct], seg_len[distinct], seg_speed[distinct]
    minutes = seg_len / (seg_speed * 1000.0 / 60.0)
    a, b = np.minimum(u, w), np.maximum(u, w)
    order = np.lexsort((minutes, b, a))
    a, b, seg_len, seg_speed, minutes = (x[order] for x in (a, b, seg_len, seg_speed, minutes))
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    graph.add_nodes_from(
        (k, {"x": float(x), "y": float(y)}) for k, (x, y) in enumerate(uniq.tolist())
    )
    graph.add_edges_from(
        (
            int(p),
            int(q),
            {"length_m": float(ln), "minutes": float(m), "speed_kmh": float(s)},
        )
        for p, q, ln, m, s in zip(
            a[first], b[first], seg_len[first], minutes[first], seg_speed[first], strict=True
        )
    )
    if townships is not None:
        assign_node_groups(graph, townships, column=group_column, margin_m=margin_m)
    logger.info(
        f"road graph: {graph.number_of_nodes():,} nodes, {graph.number_of_edges():,} edges "
        f"from {len(roads):,} roads in {time.perf_counter() - t0:.2f} s"
    )
    return graph


def assign_node_groups(
    graph: nx.Graph,
    townships: gpd.GeoDataFrame,
    *,
    column: str = "county_code",
    margin_m: float = 1000.0,
) -> None:
    """Label road nodes with the county (group) they lie in, for per-county travel times.

    A node belongs to every group whose townships lie within ``margin_m`` of it (a road running
    along a county border serves both counties); its ``group`` attribute is the group whose
    polygon contains it (or the nearest, within the margin; None when farther).
    ``graph.graph["group_nodes"]`` maps each group to the sorted array of its nodes.

    Parameters
    ----------
    graph
        A graph from :func:`road_graph`; changed in place.
    townships
        Polygons with a CRS and the ``column``.
    column
        The grouping column (county code by default).
    margin_m
        How far outside its polygons a group still reaches (metres).
    """
    nodes = np.array(sorted(graph.nodes), dtype=np.int64)
    group_nodes: dict[str, np.ndarray] = {}
    if len(nodes) == 0:
        graph.graph["group_nodes"] = group_nodes
        return
    xy = np.array([[graph.nodes[n]["x"], graph.nodes[n]["y"]] for n in nodes])
    pts = shapely.points(xy)
    polys = townships.to_crs(graph.graph["crs"])
    geoms = np.asarray(polys.geometry.values)
    labels = polys[column].astype(str).to_numpy()
    tree = shapely.STRtree(geoms)
    p, t = tree.query(pts, predicate="dwithin", distance=margin_m)
    members: dict[str, set[int]] = {}
    for pi, ti in zip(p.tolist(), t.tolist(), strict=True):
        members.setdefault(str(labels[ti]), set()).add(int(nodes[pi]))
    nearest_p, nearest_t = tree.query_nearest(pts, max_distance=margin_m, all_matches=False)
    primary: dict[int, str] = {
        int(nodes[a]): str(labels[b]) for a, b in zip(nearest_p, nearest_t, strict=True)
    }
    for n in nodes.tolist():
        graph.nodes[n]["group"] = primary.get(int(n))
    for g in sorted(members):
        group_nodes[g] = np.array(sorted(members[g]), dtype=np.int64)
    graph.graph["group_nodes"] = group_nodes


# --------------------------------------------------------------------------------------------
# travel times


def straight_line_minutes(
    origins_xy: np.ndarray,
    destinations_xy: np.ndarray,
    pairs_o: np.ndarray,
    pairs_d: np.ndarray,
    *,
    circuity: float = 1.3,
    kmh: float = 30.0,
) -> np.ndarray:
    """Return minutes for the straight line × ``circuity`` at ``kmh``, per pair.

    Parameters
    ----------
    origins_xy, destinations_xy
        ``(n, 2)`` coordinates in metres (a projected CRS).
    pairs_o, pairs_d
        Indices into the origins and destinations, one entry per pair.
    circuity
        Road length per unit of straight-line distance.
    kmh
        Travel speed.

    Returns
    -------
    numpy.ndarray
        Minutes per pair (float).
    """
    o = np.asarray(origins_xy, dtype=float).reshape(-1, 2)[np.asarray(pairs_o, dtype=np.int64)]
    d = np.asarray(destinations_xy, dtype=float).reshape(-1, 2)[np.asarray(pairs_d, dtype=np.int64)]
    metres = np.hypot(*(o - d).T) * circuity
    return np.asarray(metres / (kmh * 1000.0 / 60.0), dtype=float)


def travel_minutes(
    graph: nx.Graph,
    origins_xy: np.ndarray,
    destinations_xy: np.ndarray,
    pairs_o: np.ndarray,
    pairs_d: np.ndarray,
    *,
    groups_o: np.ndarray | None = None,
    groups_d: np.ndarray | None = None,
    access_kmh: float = 15.0,
    circuity: float = 1.3,
    fallback_kmh: float = 30.0,
    snap: Literal["largest", "nearest"] = "largest",
    max_snap_m: float = 10_000.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Return road travel minutes per origin-destination pair, one Dijkstra per county.

    Each pair belongs to the group (county) of its destination; the road network is cut to the
    nodes of that group (``graph.graph["group_nodes"]``, see :func:`assign_node_groups`).
    Origins and destinations are snapped to the nearest node of the group's largest connected
    network (``snap="largest"``: fragments are ignored, so every site reaches every other) or
    to the nearest node at all (``snap="nearest"``). The access leg is the straight snap
    distance × ``circuity`` at ``access_kmh``, at both ends. One multi-source Dijkstra
    (:func:`scipy.sparse.csgraph.dijkstra`, ``indices=`` the distinct destination nodes) runs
    per group. A pair falls back to :func:`straight_line_minutes` at ``fallback_kmh`` (and is
    flagged ``used_roads=False``) when its group has no roads, its nodes are not connected, or
    an end lies more than ``max_snap_m`` from the network.

    Parameters
    ----------
    graph
        A graph from :func:`road_graph` (edges with ``minutes``; nodes with ``x``, ``y``).
    origins_xy, destinations_xy
        ``(n, 2)`` coordinates in the graph's CRS (``graph.graph["crs"]``), metres.
    pairs_o, pairs_d
        Indices into the origins and destinations, one entry per pair.
    groups_o, groups_d
        Group (county code) of each origin and destination; None for one group (the whole
        network). Origins are snapped within the group of the pair's destination.
    access_kmh
        Speed of the access legs between a site and the network.
    circuity
        Detour factor of access legs and of the straight-line fallback.
    fallback_kmh
        Speed of the straight-line fallback.
    snap
        ``"largest"`` or ``"nearest"`` (see above).
    max_snap_m
        Largest access distance (metres) before a pair falls back to the straight line.

    Returns
    -------
    minutes : numpy.ndarray
        Minutes per pair (float).
    used_roads : numpy.ndarray
        True where the road network gave the time, False for the straight-line fallback.

    Raises
    ------
    ValueError
        When groups are given but the graph's nodes carry none, or arrays do not align.
    """
    t0 = time.perf_counter()
    o_xy = np.asarray(origins_xy, dtype=float).reshape(-1, 2)
    d_xy = np.asarray(destinations_xy, dtype=float).reshape(-1, 2)
    po = np.asarray(pairs_o, dtype=np.int64)
    pd_ = np.asarray(pairs_d, dtype=np.int64)
    if po.shape != pd_.shape:
        raise ValueError(f"pairs_o ({po.shape}) and pairs_d ({pd_.shape}) differ in shape")
    minutes = straight_line_minutes(o_xy, d_xy, po, pd_, circuity=circuity, kmh=fallback_kmh)
    used = np.zeros(len(po), dtype=bool)
    if len(po) == 0 or graph.number_of_nodes() == 0:
        return minutes, used

    position, node_xy, matrix = _road_matrix(graph)
    pair_group, members = _pair_groups(
        graph, po, pd_, len(o_xy), len(d_xy), groups_o, groups_d, position
    )
    n_dijkstra = 0
    group_codes, keys = pd.factorize(pd.Series([str(g) for g in pair_group.tolist()]), sort=True)
    order = np.argsort(group_codes, kind="stable")
    bounds = np.searchsorted(group_codes[order], np.arange(len(keys) + 1))
    for k, key in enumerate(keys):
        sel = order[bounds[k] : bounds[k + 1]]
        group_key: Any = key if groups_d is not None else 0
        nodes = members.get(group_key)
        if nodes is None or len(nodes) == 0:
            continue
        road, access, ok = _route_group(
            matrix,
            nodes,
            node_xy,
            o_xy[po[sel]],
            d_xy[pd_[sel]],
            snap=snap,
            access_kmh=access_kmh,
            circuity=circuity,
            max_snap_m=max_snap_m,
        )
        n_dijkstra += 1
        minutes[sel[ok]] = road[ok] + access[ok]
        used[sel[ok]] = True
    logger.info(
        f"travel times: {len(po):,} pairs, {int(used.sum()):,} by road, "
        f"{int((~used).sum()):,} straight line; {n_dijkstra} multi-source Dijkstra runs in "
        f"{time.perf_counter() - t0:.2f} s"
    )
    return minutes, used


def _road_matrix(graph: nx.Graph) -> tuple[dict[int, int], np.ndarray, csr_matrix]:
    """Return the road graph as a sparse matrix of edge minutes, nodes in sorted order.

    Parameters
    ----------
    graph
        A non-empty graph from :func:`road_graph`.

    Returns
    -------
    position : dict
        Node id -> row of the matrix.
    node_xy : numpy.ndarray
        ``(n, 2)`` node coordinates, in row order.
    matrix : scipy.sparse.csr_matrix
        Edge minutes (at least 1e-9, so that no edge vanishes), one triangle.
    """
    node_ids = np.array(sorted(graph.nodes), dtype=np.int64)
    position = {int(n): k for k, n in enumerate(node_ids.tolist())}
    node_xy = np.array([[graph.nodes[n]["x"], graph.nodes[n]["y"]] for n in node_ids.tolist()])
    rows_, cols_, weights = [], [], []
    for a, b, data in graph.edges(data=True):
        rows_.append(position[int(a)])
        cols_.append(position[int(b)])
        weights.append(max(float(data["minutes"]), 1e-9))  # explicit zeros would vanish
    n = len(node_ids)
    matrix = csr_matrix((weights, (rows_, cols_)), shape=(n, n))
    return position, node_xy, matrix


def _pair_groups(
    graph: nx.Graph,
    po: np.ndarray,
    pd_: np.ndarray,
    n_origins: int,
    n_destinations: int,
    groups_o: np.ndarray | None,
    groups_d: np.ndarray | None,
    position: dict[int, int],
) -> tuple[np.ndarray, dict[Any, np.ndarray]]:
    """Return each pair's group (its destination's) and the matrix rows of every group.

    Parameters
    ----------
    graph
        A graph from :func:`road_graph`; with groups given it must carry ``group_nodes``.
    po, pd_
        Origin and destination index of each pair.
    n_origins, n_destinations
        How many origins and destinations there are.
    groups_o, groups_d
        Group of each origin and destination, or None for one group (the whole network).
    position
        Node id -> matrix row, from :func:`_road_matrix`.

    Returns
    -------
    pair_group : numpy.ndarray
        Group of each pair (all 0 without groups).
    members : dict
        Group -> matrix rows of its nodes.

    Raises
    ------
    ValueError
        When the group arrays do not align or the graph's nodes carry no groups.
    """
    if groups_d is None:
        return np.zeros(len(po), dtype=object), {0: np.arange(len(position))}
    gd = np.asarray(groups_d, dtype=object)
    if len(gd) != n_destinations:
        raise ValueError(f"groups_d has {len(gd)} entries for {n_destinations} destinations")
    if groups_o is not None and len(groups_o) != n_origins:
        raise ValueError(f"groups_o has {len(groups_o)} entries for {n_origins} origins")
    if "group_nodes" not in graph.graph:
        raise ValueError(
            "the road graph has no groups; build it with road_graph(..., townships=...) "
            "or call assign_node_groups(graph, townships) first"
        )
    pair_group = gd[pd_]
    members = {
        g: np.array([position[int(x)] for x in nodes.tolist()], dtype=np.int64)
        for g, nodes in graph.graph["group_nodes"].items()
    }
    if groups_o is not None:
        go = np.asarray(groups_o, dtype=object)[po]
        crossing = int(np.sum(go != pair_group))
        if crossing:
            logger.info(f"{crossing:,} pair(s) cross groups; routed in the destination's")
    return pair_group, members


def _route_group(
    matrix: csr_matrix,
    nodes: np.ndarray,
    node_xy: np.ndarray,
    origins: np.ndarray,
    destinations: np.ndarray,
    *,
    snap: Literal["largest", "nearest"],
    access_kmh: float,
    circuity: float,
    max_snap_m: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Snap one group's pairs to its network and run one multi-source Dijkstra.

    Parameters
    ----------
    matrix
        Edge minutes of the whole network, from :func:`_road_matrix`.
    nodes
        Matrix rows of the group's nodes (at least one).
    node_xy
        Coordinates of all nodes, in row order.
    origins, destinations
        ``(m, 2)`` coordinates of the group's pairs' ends.
    snap
        ``"largest"`` (the largest connected part only) or ``"nearest"`` (any node).
    access_kmh, circuity
        Speed and detour factor of the access legs.
    max_snap_m
        Largest access distance (metres) still routed by road.

    Returns
    -------
    road : numpy.ndarray
        Network minutes per pair (inf where not connected).
    access : numpy.ndarray
        Minutes of the two access legs per pair.
    ok : numpy.ndarray
        True where the road time counts: connected and both ends within ``max_snap_m``.
    """
    sub = matrix[nodes][:, nodes]
    n_comp, comp = connected_components(sub, directed=False)
    if snap == "largest" and n_comp > 1:
        sizes = np.bincount(comp)
        biggest = int(np.argmax(sizes))
        candidates = np.flatnonzero(comp == biggest)
    else:
        candidates = np.arange(len(nodes))
    tree = cKDTree(node_xy[nodes[candidates]])
    o_dist, o_near = tree.query(origins)
    d_dist, d_near = tree.query(destinations)
    o_local = candidates[o_near]
    d_local = candidates[d_near]
    sources, inverse = np.unique(d_local, return_inverse=True)
    dist = dijkstra(sub, directed=False, indices=sources)
    road = dist[inverse.reshape(-1), o_local]
    access = (o_dist + d_dist) * circuity / (access_kmh * 1000.0 / 60.0)
    ok = np.isfinite(road) & (o_dist <= max_snap_m) & (d_dist <= max_snap_m)
    return road, access, ok
