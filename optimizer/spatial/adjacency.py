"""Township adjacency as a networkx graph, with island links that keep counties connected.

:func:`township_adjacency` makes townships nodes and joins two townships whose polygons share a
border (or nearly do: real data has slivers and small gaps). Islands and county parts that touch
no other township of their county get an ``"island"`` link to the nearest part, so every
county's subgraph is connected and contiguity constraints stay satisfiable.
:func:`county_components` lists the parts of each county. ``docs/network.md`` explains the rules.
"""

from __future__ import annotations

import logging
import time

import geopandas as gpd
import networkx as nx
import numpy as np
import shapely
from pyproj import CRS

from optimizer.errors import DataError
from optimizer.inputs import geometry as geo
from optimizer.inputs import validate as v

__all__ = ["county_components", "township_adjacency"]

logger = logging.getLogger(__name__)


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
    _check_townships(townships)
    graph = nx.Graph()
    if len(townships) == 0:
        graph.graph.update(crs=None, tolerance_m=tolerance_m, islands=0)
        return graph
    geoms, codes, counties, crs = _add_townships(graph, townships)
    _add_border_edges(graph, geoms, codes, counties, tolerance_m, min_shared_m)
    n_islands = _link_islands(graph, geoms, codes, counties)
    graph.graph.update(crs=geo.crs_string(crs), tolerance_m=float(tolerance_m), islands=n_islands)
    logger.info(
        f"township adjacency: {graph.number_of_nodes():,} townships, "
        f"{graph.number_of_edges():,} edges ({n_islands} island links) "
        f"in {time.perf_counter() - t0:.2f} s"
    )
    return _sorted_graph(graph)


def _check_townships(townships: gpd.GeoDataFrame) -> None:
    """Raise one :class:`~optimizer.errors.DataError` for every reason the graph cannot be built.

    Parameters
    ----------
    townships
        The township polygons given to :func:`township_adjacency`.

    Raises
    ------
    DataError
        Missing columns, no CRS, repeated codes, empty geometries (in that order).
    """
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


def _add_townships(
    graph: nx.Graph, townships: gpd.GeoDataFrame
) -> tuple[np.ndarray, np.ndarray, np.ndarray, CRS]:
    """Project the townships and add one node per township, sorted by code.

    Parameters
    ----------
    graph
        The graph being built; receives the nodes.
    townships
        Checked township polygons (at least one).

    Returns
    -------
    geoms : numpy.ndarray
        Projected polygons, in code order.
    codes, counties : numpy.ndarray
        Township and county codes (str), in code order.
    crs : pyproj.CRS
        The projected CRS (metres).
    """
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
    return geoms, codes, counties, crs


def _add_border_edges(
    graph: nx.Graph,
    geoms: np.ndarray,
    codes: np.ndarray,
    counties: np.ndarray,
    tolerance_m: float,
    min_shared_m: float,
) -> None:
    """Add a ``"border"`` or ``"gap"`` edge between every two townships sharing a border.

    Candidate pairs lie within ``tolerance_m``; for each, the length of each boundary within
    ``tolerance_m / 2`` of the other polygon is measured, less what a point contact gives.

    Parameters
    ----------
    graph
        The graph being built; receives the edges.
    geoms
        Projected polygons, in node order.
    codes, counties
        Township and county codes, in node order.
    tolerance_m
        Largest gap (metres) still counted as a shared border.
    min_shared_m
        Shortest stretch of shared border (metres) that makes two townships adjacent.
    """
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
