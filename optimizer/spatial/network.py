"""Township adjacency and road travel times, as networkx graphs.

Two graphs serve the model:

- :func:`township_adjacency`: townships are nodes, an edge joins two townships whose polygons
  share a border (or nearly do: real data has slivers and small gaps). Islands and county parts
  that touch no other township of their county get an ``"island"`` link to the nearest part, so
  every county's subgraph is connected and contiguity constraints stay satisfiable.
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
from pyproj import CRS
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra
from scipy.spatial import cKDTree

from optimizer.errors import DataError
from optimizer.inputs import geometry as geo
from optimizer.inputs import validate as v

__all__ = [
    "assign_node_groups",
    "county_components",
    "road_graph",
    "straight_line_minutes",
    "township_adjacency",
    "travel_minutes",
]

logger = logging.getLogger(__name__)


def _crs_string(crs: Any) -> str:
    """Return a CRS as a compact string (``EPSG:32648`` where possible)."""
    c = CRS.from_user_input(crs)
    epsg = c.to_epsg()
    return f"EPSG:{epsg}" if epsg is not None else c.to_wkt()


# --------------------------------------------------------------------------------------------
# township adjacency


def township_adjacency(
    townships: gpd.GeoDataFrame,
    *,
    tolerance_m: float = 100.0,
    min_shared_m: float = 10.0,
) -> nx.Graph:
    """Return the township adjacency graph, with island links that keep counties connected.

    Two townships are adjacent when their boundaries run within ``tolerance_m`` of each other
    along more than ``min_shared_m`` (and more than a tenth of ``tolerance_m``): a shared
    border, an overlap (sliver) or a narrow gap.
    Townships that meet only at a point (a corner, like diagonal squares of a chessboard) are
    **not** adjacent: a jurisdiction must not pass through a point.

    Then, per county, every part that touches no other township of the county (an island in a
    lake or river, an exclave, a county in several pieces) is linked to the nearest township of
    the rest of the county by an ``"island"`` edge: the parts are joined along a minimum
    spanning tree of the polygon distances between parts, so each island is linked to its
    nearest township of the same county, and every county's subgraph is connected. The plan
    serves an island from the facility serving the township at the other end of the link.

    Parameters
    ----------
    townships
        Polygons with a CRS and the columns ``code``, ``county_code`` and ``name`` (as
        :func:`optimizer.inputs.reading.load_inputs` returns them).
    tolerance_m
        Largest gap (metres) still counted as a shared border; overlaps always count.
    min_shared_m
        Shortest stretch of shared border (metres) that makes two townships adjacent.

    Returns
    -------
    networkx.Graph
        Nodes are township codes (str, sorted) with ``county_code``, ``name`` and ``x``, ``y``
        (seat in metres: the representative point, as :func:`optimizer.inputs.geometry.township_seats`).
        Edges carry ``shared_m`` (approximate shared border length, metres), ``gap_m`` (polygon
        distance, 0 when touching), ``cross_county`` (bool) and ``kind``: ``"border"`` (touching
        or overlapping), ``"gap"`` (separated by at most ``tolerance_m``) or ``"island"``.
        ``graph.graph`` holds ``crs`` (of ``x``, ``y``), ``tolerance_m`` and ``islands`` (the
        number of island links).

    Raises
    ------
    DataError
        When a column is missing, codes repeat, a geometry is empty or there is no CRS.

    See Also
    --------
    county_components : the parts of each county, for diagnostics.

    Examples
    --------
    >>> g = township_adjacency(inputs.townships)  # doctest: +SKIP
    >>> g.edges["513222100", "513222101"]["kind"]  # doctest: +SKIP
    'border'
    """
    t0 = time.perf_counter()
    problems = []
    missing = [c for c in ("code", "county_code", "name") if c not in townships.columns]
    if missing:
        problems.append(f"townships: no column {', '.join(missing)}")
    if townships.crs is None:
        problems.append("townships: no CRS; set one (for example EPSG:4490) before building")
    if not missing:
        dup = townships["code"][townships["code"].duplicated()].astype(str).tolist()
        if dup:
            problems.append(f"townships: repeated code {v.listing(sorted(set(dup)))}")
    if townships.crs is not None and len(townships):
        bad = townships.geometry.isna() | townships.geometry.is_empty
        if bad.any() and not missing:
            codes_bad = townships.loc[bad, "code"].astype(str).tolist()
            problems.append(f"townships: empty geometry for {v.listing(codes_bad)}")
    if problems:
        raise DataError(problems)
    graph = nx.Graph()
    if len(townships) == 0:
        graph.graph.update(crs=None, tolerance_m=tolerance_m, islands=0)
        return graph

    towns = townships.assign(code=townships["code"].astype(str)).sort_values("code")
    crs = geo.projected_crs(towns)
    geoms = np.asarray(towns.geometry.to_crs(crs).values)
    codes = towns["code"].to_numpy()
    counties = towns["county_code"].astype(str).to_numpy()
    names = towns["name"].astype(str).to_numpy()
    seats = shapely.point_on_surface(geoms)
    sx, sy = shapely.get_x(seats), shapely.get_y(seats)
    for k in range(len(codes)):
        graph.add_node(
            str(codes[k]),
            county_code=str(counties[k]),
            name=str(names[k]),
            x=float(sx[k]),
            y=float(sy[k]),
        )

    # candidate pairs within the tolerance, then the length of border each runs along the other
    tree = shapely.STRtree(geoms)
    if tolerance_m > 0:
        i, j = tree.query(geoms, predicate="dwithin", distance=tolerance_m)
    else:
        i, j = tree.query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    half = tolerance_m / 2.0
    boundaries = shapely.boundary(geoms)
    zones = shapely.buffer(geoms, half, quad_segs=4) if half > 0 else geoms
    near_ij = shapely.length(shapely.intersection(boundaries[i], zones[j]))
    near_ji = shapely.length(shapely.intersection(boundaries[j], zones[i]))
    # a border of length L across a gap g puts L + 2 (half - g) of boundary within reach, a
    # point contact about 2 (half - g): discount that, so a point contact counts (nearly) 0
    gap = shapely.distance(geoms[i], geoms[j])
    shared = np.minimum(near_ij, near_ji) - tolerance_m + 2.0 * np.minimum(gap, half)
    adjacent = shared > max(min_shared_m, 0.1 * tolerance_m)
    for a, b, s, d in zip(i[adjacent], j[adjacent], shared[adjacent], gap[adjacent], strict=True):
        graph.add_edge(
            str(codes[a]),
            str(codes[b]),
            shared_m=round(float(s), 1),
            gap_m=round(float(d), 1),
            cross_county=bool(counties[a] != counties[b]),
            kind="border" if d <= 0.0 else "gap",
        )

    n_islands = _link_islands(graph, geoms, codes, counties)
    graph.graph.update(crs=_crs_string(crs), tolerance_m=float(tolerance_m), islands=n_islands)
    logger.info(
        f"township adjacency: {graph.number_of_nodes():,} townships, "
        f"{graph.number_of_edges():,} edges ({n_islands} island links) "
        f"in {time.perf_counter() - t0:.2f} s"
    )
    return _sorted_graph(graph)


def _sorted_graph(graph: nx.Graph) -> nx.Graph:
    """Return a copy with nodes and edges inserted in sorted order (deterministic iteration)."""
    out = nx.Graph()
    out.graph.update(graph.graph)
    out.add_nodes_from(sorted(graph.nodes(data=True)))
    out.add_edges_from(sorted((min(a, b), max(a, b), d) for a, b, d in graph.edges(data=True)))
    return out


def _link_islands(
    graph: nx.Graph, geoms: np.ndarray, codes: np.ndarray, counties: np.ndarray
) -> int:
    """Join the parts of every county by ``"island"`` edges; return how many were added."""
    added = 0
    all_parts = county_components(graph)
    for county in sorted(set(counties.tolist())):
        members = np.flatnonzero(counties == county)
        parts = all_parts.get(str(county), [])
        if len(parts) <= 1:
            continue
        index = {str(codes[m]): m for m in members}
        part_of = {code: p for p, part in enumerate(parts) for code in part}
        # closest township pair between every two parts (counties hold at most a few dozen)
        best: dict[tuple[int, int], tuple[float, str, str]] = {}
        member_codes = sorted(index)
        ga = np.array([geoms[index[c]] for c in member_codes])
        dist = shapely.distance(ga[:, None], ga[None, :])
        for x, cx in enumerate(member_codes):
            for y in range(x + 1, len(member_codes)):
                cy = member_codes[y]
                px, py = part_of[cx], part_of[cy]
                if px == py:
                    continue
                key = (min(px, py), max(px, py))
                cand = (float(dist[x, y]), cx, cy)
                if key not in best or cand < best[key]:
                    best[key] = cand
        parts_graph = nx.Graph()
        parts_graph.add_nodes_from(range(len(parts)))
        for (px, py), (d, _, _) in best.items():
            parts_graph.add_edge(px, py, weight=d)
        for px, py in sorted(
            (min(a, b), max(a, b)) for a, b in nx.minimum_spanning_edges(parts_graph, data=False)
        ):
            d, cx, cy = best[(px, py)]
            graph.add_edge(
                cx,
                cy,
                shared_m=0.0,
                gap_m=round(d, 1),
                cross_county=False,
                kind="island",
            )
            added += 1
            logger.info(f"county {county}: island link {cx}-{cy} across {d:,.0f} m")
    return added


def county_components(
    graph: nx.Graph, *, include_islands: bool = True
) -> dict[str, list[list[str]]]:
    """Return the connected parts of every county, using only edges inside the county.

    Parameters
    ----------
    graph
        A graph from :func:`township_adjacency`.
    include_islands
        Whether ``"island"`` links count; with False the raw geographic parts are returned
        (after :func:`township_adjacency` every county is one part when they count).

    Returns
    -------
    dict
        County code -> its parts, each a sorted list of township codes; parts are listed
        largest first, ties by first code. Counties are sorted by code.
    """
    by_county: dict[str, list[str]] = {}
    for node, data in graph.nodes(data=True):
        by_county.setdefault(str(data["county_code"]), []).append(node)
    out: dict[str, list[list[str]]] = {}
    for county in sorted(by_county):
        sub = nx.Graph()
        sub.add_nodes_from(by_county[county])
        sub.add_edges_from(
            (a, b)
            for a, b, d in graph.subgraph(by_county[county]).edges(data=True)
            if include_islands or d.get("kind") != "island"
        )
        parts = [sorted(c) for c in nx.connected_components(sub)]
        out[county] = sorted(parts, key=lambda p: (-len(p), p[0]))
    return out


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
    graph.graph["crs"] = _crs_string(crs)
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

    if groups_d is None:
        pair_group = np.zeros(len(po), dtype=object)
        members: dict[Any, np.ndarray] = {0: np.arange(n)}
    else:
        gd = np.asarray(groups_d, dtype=object)
        if len(gd) != len(d_xy):
            raise ValueError(f"groups_d has {len(gd)} entries for {len(d_xy)} destinations")
        if groups_o is not None and len(groups_o) != len(o_xy):
            raise ValueError(f"groups_o has {len(groups_o)} entries for {len(o_xy)} origins")
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
        sub = matrix[nodes][:, nodes]
        n_comp, comp = connected_components(sub, directed=False)
        if snap == "largest" and n_comp > 1:
            sizes = np.bincount(comp)
            biggest = int(np.argmax(sizes))
            candidates = np.flatnonzero(comp == biggest)
        else:
            candidates = np.arange(len(nodes))
        tree = cKDTree(node_xy[nodes[candidates]])
        o_dist, o_near = tree.query(o_xy[po[sel]])
        d_dist, d_near = tree.query(d_xy[pd_[sel]])
        o_local = candidates[o_near]
        d_local = candidates[d_near]
        sources, inverse = np.unique(d_local, return_inverse=True)
        dist = dijkstra(sub, directed=False, indices=sources)
        n_dijkstra += 1
        road = dist[inverse.reshape(-1), o_local]
        access = (o_dist + d_dist) * circuity / (access_kmh * 1000.0 / 60.0)
        ok = np.isfinite(road) & (o_dist <= max_snap_m) & (d_dist <= max_snap_m)
        minutes[sel[ok]] = road[ok] + access[ok]
        used[sel[ok]] = True
    logger.info(
        f"travel times: {len(po):,} pairs, {int(used.sum()):,} by road, "
        f"{int((~used).sum()):,} straight line; {n_dijkstra} multi-source Dijkstra runs in "
        f"{time.perf_counter() - t0:.2f} s"
    )
    return minutes, used
