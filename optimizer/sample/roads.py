"""The SYNTHETIC road network: Delaunay edges between township seats, 国道 between counties.

Each county's roads come from their own random stream ``[seed, county_code, 7]`` and the 国道
from ``[seed, 7]``, so the roads change none of the other files (``docs/sample.md``, step 11).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import geopandas as gpd
import numpy as np
import shapely
from pyproj import Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import minimum_spanning_tree
from scipy.spatial import Delaunay, QhullError

from optimizer.sample.county import County
from optimizer.sample.formats import OUTPUT_CRS
from optimizer.sample.frame import WORK_CRS, Frame

__all__ = ["MOUNTAIN_PREFIXES", "build_roads"]

#: County-code prefixes of the mountain prefectures whose synthetic roads are slower: 阿坝 5132,
#: 甘孜 5133, 凉山 5134 (the western plateau and the Hengduan ranges) and 雅安 5118.
MOUNTAIN_PREFIXES: tuple[str, ...] = ("5132", "5133", "5134", "5118")
#: Speed factor of synthetic roads in mountain counties.
_MOUNTAIN_SPEED = 0.65
#: Synthetic road speeds (km/h) by class, before the mountain factor.
_ROAD_SPEED = {"国道": 60.0, "省道": 50.0, "县道": 40.0, "乡道": 30.0}
#: Both ends at least this populous -> 县道, else 乡道 (links at the county seat are 省道).
_COUNTY_ROAD_POP = 15_000
#: A Delaunay edge longer than this multiple of the county's median edge is dropped unless the
#: network needs it to stay connected.
_LONG_EDGE = 2.5

#: Receives each road as it is made: class, whether it is in a mountain county, the line.
_AddRoad = Callable[[str, bool, shapely.LineString], None]


def _delaunay_edges(xy: np.ndarray) -> np.ndarray:
    """Return the Delaunay edges of points as sorted ``(i, j)`` rows, i < j."""
    n = len(xy)
    if n < 2:
        return np.empty((0, 2), dtype=np.int64)
    if n == 2:
        return np.array([[0, 1]], dtype=np.int64)
    try:
        tri = Delaunay(xy)
    except QhullError:  # collinear seats: a chain along the line
        order = np.lexsort((xy[:, 1], xy[:, 0]))
        pairs = np.column_stack([order[:-1], order[1:]])
    else:
        s = tri.simplices
        pairs = np.vstack([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]])
    pairs = np.sort(pairs, axis=1)
    return np.unique(pairs, axis=0).astype(np.int64)


def _road_line(
    rng: np.random.Generator,
    a_ll: np.ndarray,
    b_ll: np.ndarray,
    a_xy: np.ndarray,
    b_xy: np.ndarray,
    to_ll: Transformer,
) -> shapely.LineString:
    """Return a road from a to b with one bend (offset sideways by up to 8 % of its length)."""
    d = b_xy - a_xy
    mid = (a_xy + b_xy) / 2.0 + np.array([-d[1], d[0]]) * rng.uniform(-0.08, 0.08)
    lon, lat = to_ll.transform(mid[0], mid[1])
    return shapely.LineString([a_ll, [round(lon, 6), round(lat, 6)], b_ll])


def _county_roads(
    rng: np.random.Generator,
    code: str,
    part: County,
    to_xy: Transformer,
    to_ll: Transformer,
    add: _AddRoad,
) -> tuple[np.ndarray, np.ndarray]:
    """Lay the roads inside one county.

    Parameters
    ----------
    rng
        The county's road stream.
    code
        The county code (mountain prefectures get slower roads).
    part
        The built county: its township seats, their population, the seat and the polygon.
    to_xy, to_ll
        Transformers between the output CRS and the working CRS.
    add
        Called with each road in order.

    Returns
    -------
    hub_ll, hub_xy : numpy.ndarray
        The county's hub, the township seat nearest the county seat, in degrees and metres.
        The roads are the spanning-tree edges of the seats' Delaunay graph and the other edges
        that stay within 1 km of the county and are at most ``_LONG_EDGE`` × the median edge.
    """
    mountain = code.startswith(MOUNTAIN_PREFIXES)
    ll, first = np.unique(part.seat_lonlat, axis=0, return_index=True)
    ll = ll[np.argsort(first)]
    pop = part.seat_pop[np.sort(first)]
    x, y = to_xy.transform(ll[:, 0], ll[:, 1])
    xy = np.column_stack([x, y])
    hub = int(np.argmin(np.hypot(*(xy - part.county_seat).T)))
    edges = _delaunay_edges(xy)
    if not len(edges):
        return ll[hub], xy[hub]
    length = np.hypot(*(xy[edges[:, 0]] - xy[edges[:, 1]]).T)
    tree = minimum_spanning_tree(
        coo_matrix((length + 1e-6, (edges[:, 0], edges[:, 1])), shape=(len(xy), len(xy)))
    ).tocoo()
    in_tree = {(min(i, j), max(i, j)) for i, j in zip(tree.row, tree.col, strict=True)}
    zone = part.polygon.buffer(1000.0)
    inside = shapely.covers(
        zone, shapely.linestrings(np.stack([xy[edges[:, 0]], xy[edges[:, 1]]], axis=1))
    )
    short = length <= _LONG_EDGE * np.median(length)
    for k, (i, j) in enumerate(edges.tolist()):
        if (i, j) not in in_tree and not (inside[k] and short[k]):
            continue
        if hub in (i, j):
            cls = "省道"
        elif min(pop[i], pop[j]) >= _COUNTY_ROAD_POP:
            cls = "县道"
        else:
            cls = "乡道"
        add(cls, mountain, _road_line(rng, ll[i], ll[j], xy[i], xy[j], to_ll))
    return ll[hub], xy[hub]


def _national_roads(
    rng: np.random.Generator,
    frame: Frame,
    codes: Sequence[str],
    hubs: dict[str, tuple[np.ndarray, np.ndarray]],
    to_ll: Transformer,
    add: _AddRoad,
) -> None:
    """Join the hubs of neighbouring counties (more than 1 km of shared border) by 国道.

    Parameters
    ----------
    rng
        The 国道 stream ``[seed, 7]``.
    frame
        The real frame (county polygons).
    codes
        The selected counties.
    hubs
        Each county's hub in degrees and metres.
    to_ll
        Transformer from the working CRS to the output CRS.
    add
        Called with each road in order (pairs of counties in index order).
    """
    polys = np.asarray(frame.counties.loc[list(codes)].geometry.values)
    tree_c = shapely.STRtree(polys)
    ci, cj = tree_c.query(polys, predicate="intersects")
    for i, j in sorted(zip(ci.tolist(), cj.tolist(), strict=True)):
        if i >= j or codes[i] not in hubs or codes[j] not in hubs:
            continue
        border = shapely.intersection(shapely.boundary(polys[i]), shapely.boundary(polys[j]))
        if shapely.length(border) <= 1000.0:
            continue
        (a_ll, a_xy), (b_ll, b_xy) = hubs[codes[i]], hubs[codes[j]]
        mountain = codes[i].startswith(MOUNTAIN_PREFIXES) or codes[j].startswith(MOUNTAIN_PREFIXES)
        add("国道", mountain, _road_line(rng, a_ll, b_ll, a_xy, b_xy, to_ll))


def build_roads(
    frame: Frame, codes: Sequence[str], parts: Sequence[County], seed: int, source: str
) -> gpd.GeoDataFrame:
    """Build the SYNTHETIC road network of the selected counties (see docs/sample.md).

    Parameters
    ----------
    frame
        The real frame.
    codes
        The selected counties, in the order of ``parts``.
    parts
        The built counties.
    seed
        The sample's seed.
    source
        The ``source`` label of the roads.

    Returns
    -------
    geopandas.GeoDataFrame
        Lines in ``OUTPUT_CRS`` with ``class``, ``speed_kmh`` and ``source``: each county's
        roads in turn, then the 国道.
    """
    to_xy = Transformer.from_crs(OUTPUT_CRS, WORK_CRS, always_xy=True)
    to_ll = Transformer.from_crs(WORK_CRS, OUTPUT_CRS, always_xy=True)
    classes: list[str] = []
    speeds: list[float] = []
    lines: list[shapely.LineString] = []
    hubs: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def add(cls: str, mountain: bool, line: shapely.LineString) -> None:
        classes.append(cls)
        speeds.append(round(_ROAD_SPEED[cls] * (_MOUNTAIN_SPEED if mountain else 1.0), 1))
        lines.append(line)

    for code, part in zip(codes, parts, strict=True):
        rng = np.random.default_rng([seed, int(code), 7])  # own stream: the rest is unchanged
        hubs[code] = _county_roads(rng, code, part, to_xy, to_ll, add)
    _national_roads(np.random.default_rng([seed, 7]), frame, codes, hubs, to_ll, add)
    return gpd.GeoDataFrame(
        {"class": classes, "speed_kmh": speeds, "source": source},
        geometry=lines,
        crs=OUTPUT_CRS,
    )
