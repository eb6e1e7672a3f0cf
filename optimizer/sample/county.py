"""One synthetic county: townships before and after the merger, their attributes, facilities.

:func:`build_county` runs the steps of ``docs/sample.md`` (1-10) in order, all from the county's
own random stream ``numpy.random.default_rng([seed, county_code])``. The order in which the
steps draw from that stream is part of the output: changing it changes every file.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse.csgraph import dijkstra

from optimizer.errors import DataError
from optimizer.sample.cells import adjacency, seed_points, snap, voronoi_cells
from optimizer.sample.facilities import Seats, place_facilities
from optimizer.sample.formats import OUTPUT_CRS
from optimizer.sample.frame import WORK_CRS, Frame
from optimizer.schema import (
    JUDICIAL,
    KIND_STREET,
    KIND_TOWN,
    KIND_TOWNSHIP,
    POLICE,
    is_tibetan_area,
)

__all__ = ["County", "build_county"]

# --- calibration constants (see docs/sample.md) -------------------------------------------------
#: Relative population weight of a pre-merger unit by kind (times a lognormal spread).
_POP_WEIGHT = {KIND_STREET: 2.2, KIND_TOWN: 1.4, KIND_TOWNSHIP: 1.0}
_POP_SIGMA = 0.4
#: Annual incidents (警情) per resident by kind, and the gamma shape of the over-dispersion.
_INCIDENT_RATE = {KIND_STREET: 9.0e-3, KIND_TOWN: 7.0e-3, KIND_TOWNSHIP: 6.5e-3}
_INCIDENT_SHAPE = 3.0
#: Court cases per resident per year and their gamma shape; 涉藏 counties litigate less.
_CASE_RATE = 6.5e-3
_CASE_SHAPE = 3.0
_CASE_TIBETAN_FACTOR = 0.6
#: Province total of administrative villages before the reform.
_VILLAGES_BEFORE_TOTAL = 45_447


@dataclass
class County:
    """One built county.

    Attributes
    ----------
    before
        Its pre-merger townships (``BEFORE_FIELDS`` and geometry, EPSG:4490).
    after
        Its post-merger townships (``TOWNSHIP_FIELDS`` and geometry, EPSG:4490).
    facilities
        Its current facilities (``FACILITY_FIELDS``).
    row
        Its row of the counties table (``COUNTY_FIELDS``).
    seat_lonlat
        The pre-merger township seats in degrees, as the facility sites (for the roads).
    seat_pop
        Their population.
    county_seat
        The county seat in the working CRS.
    polygon
        The county polygon in the working CRS.
    """

    before: gpd.GeoDataFrame
    after: gpd.GeoDataFrame
    facilities: pd.DataFrame
    row: dict[str, object]
    seat_lonlat: np.ndarray
    seat_pop: np.ndarray
    county_seat: np.ndarray
    polygon: shapely.Geometry


@dataclass
class _Setting:
    """What the frame says about one county (nothing random)."""

    code: str
    county: pd.Series  # the frame's county row
    polygon: shapely.Geometry  # WORK_CRS
    seat: np.ndarray  # county seat (x, y) in WORK_CRS, inside the polygon
    tibetan: bool
    census: dict[str, float]  # the frame's population row
    pre: pd.DataFrame  # 2018 townships, sorted by code
    post: pd.DataFrame  # 2023 townships, sorted by code


def _norm_name(name: str) -> str:
    return name.replace("办事处", "")


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights`` that sum exactly to ``total``."""
    share = total * weights / weights.sum()
    base = np.floor(share).astype(np.int64)
    rest = int(total - base.sum())
    order = np.argsort(-(share - base), kind="stable")
    base[order[:rest]] += 1
    return base


def _setting(frame: Frame, code: str) -> _Setting:
    """Collect the frame's data on county ``code``.

    Parameters
    ----------
    frame
        The real frame.
    code
        A current county code.

    Returns
    -------
    _Setting
        Polygon, seat (moved to a point of the polygon if the frame's seat lies outside),
        涉藏 flag, census row and the 2018 and 2023 townships.

    Raises
    ------
    DataError
        If the county has more townships after the reform than before.
    """
    crow = frame.counties.loc[code]
    poly = shapely.make_valid(crow.geometry)
    seat_pt = gpd.GeoSeries(shapely.points([[crow["lon"], crow["lat"]]]), crs="EPSG:4326")
    seat_geom = seat_pt.to_crs(WORK_CRS).iloc[0]
    if not poly.contains(seat_geom):
        seat_geom = poly.representative_point()
    prow = frame.population.loc[[code]]
    pre = (
        frame.before[frame.before["county_code"] == code].sort_values("code").reset_index(drop=True)
    )
    post = (
        frame.after[frame.after["county_code"] == code].sort_values("code").reset_index(drop=True)
    )
    if len(post) > len(pre):  # never in the real lists; kept as a guard
        raise DataError(f"county {code}: more townships after the reform than before")
    return _Setting(
        code=code,
        county=crow,
        polygon=poly,
        seat=np.array([seat_geom.x, seat_geom.y]),
        tibetan=is_tibetan_area(code),
        census={str(col): float(prow[col].to_numpy()[0]) for col in prow.columns},
        pre=pre,
        post=post,
    )


def _place_seed_points(rng: np.random.Generator, s: _Setting) -> np.ndarray:
    """Give every 2018 township a seed point (step 1).

    Parameters
    ----------
    rng
        The county's random stream.
    s
        The county.

    Returns
    -------
    numpy.ndarray
        ``(len(s.pre), 2)`` points in the working CRS: 街道 near the seat, 镇 nearer the seat
        than 乡 (ranked by distance times a lognormal noise).
    """
    pre, seat = s.pre, s.seat
    is_street = (pre["kind"] == KIND_STREET).to_numpy()
    street_pts, rural_pts = seed_points(
        rng, s.polygon, seat, int(is_street.sum()), int((~is_street).sum())
    )
    pts = np.empty((len(pre), 2))
    pts[np.flatnonzero(is_street)] = street_pts[rng.permutation(len(street_pts))]
    rural_idx = np.flatnonzero(~is_street)
    if len(rural_idx):
        remote = np.hypot(*(rural_pts - seat).T) * rng.lognormal(0.0, 0.5, len(rural_pts))
        by_remoteness = rural_pts[np.argsort(remote, kind="stable")]
        kind_rank = pre.loc[rural_idx, "kind"].map({KIND_TOWN: 0, KIND_TOWNSHIP: 1}).to_numpy()
        order = rural_idx[np.lexsort((rng.random(len(rural_idx)), kind_rank))]
        pts[order] = by_remoteness
    return pts


def _matched_seeds(pre: pd.DataFrame, post: pd.DataFrame) -> tuple[np.ndarray, set[int]]:
    """Match 2023 townships to the 2018 township they continue (step 3, first part).

    Parameters
    ----------
    pre, post
        The county's 2018 and 2023 townships.

    Returns
    -------
    seeds : numpy.ndarray
        For each 2023 township the index of its 2018 seed cell, or -1: same code suffix and
        name, else the same name, else the same code suffix and kind.
    used : set of int
        The 2018 cells taken.
    """
    seeds = np.full(len(post), -1)
    used: set[int] = set()
    pre_key = {(c[6:], n): i for i, (c, n) in enumerate(zip(pre["code"], pre["name"], strict=True))}
    by_suffix = {c[6:]: i for i, c in enumerate(pre["code"])}
    by_name = {_norm_name(n): i for i, n in enumerate(pre["name"])}
    for k, (c, n) in enumerate(zip(post["code"], post["name"], strict=True)):
        cand = pre_key.get((c[6:], n))
        if cand is None:
            cand = by_name.get(_norm_name(n))
        if (
            cand is None
            and c[6:] in by_suffix
            and str(pre["kind"].iat[by_suffix[c[6:]]]) == str(post["kind"].iat[k])
        ):
            cand = by_suffix[c[6:]]
        if cand is not None and cand not in used:
            seeds[k] = cand
            used.add(cand)
    return seeds, used


def _seed_cells(rng: np.random.Generator, s: _Setting, pts: np.ndarray) -> np.ndarray:
    """Give every 2023 township a seed cell (step 3).

    Parameters
    ----------
    rng
        The county's random stream.
    s
        The county.
    pts
        The seed points of the 2018 cells.

    Returns
    -------
    numpy.ndarray
        Index of the seed cell of each 2023 township. Unmatched ones (街道 first, then 镇, 乡)
        take a free cell of the same kind: new 街道 the one nearest the seat, the others the
        one farthest from the seeds already chosen (times a uniform noise).
    """
    pre, post = s.pre, s.post
    seeds, used = _matched_seeds(pre, post)
    dist_seat = np.hypot(*(pts - s.seat).T)
    for k in np.argsort(
        post["kind"].map({KIND_STREET: 0, KIND_TOWN: 1, KIND_TOWNSHIP: 2}).to_numpy(), kind="stable"
    ):
        if seeds[k] >= 0:
            continue
        free = np.array([i for i in range(len(pre)) if i not in used])
        same = free[(pre.loc[free, "kind"] == post.loc[k, "kind"]).to_numpy()]
        pool = same if len(same) else free
        if post.loc[k, "kind"] == KIND_STREET:
            pick = pool[np.argmin(dist_seat[pool])]
        else:
            chosen = seeds[seeds >= 0]
            if len(chosen):
                d = np.min(
                    np.hypot(*(pts[pool][:, None, :] - pts[chosen][None, :, :]).transpose(2, 0, 1)),
                    axis=1,
                )
            else:
                d = np.ones(len(pool))
            pick = pool[np.argmax(d * rng.uniform(0.7, 1.0, len(pool)))]
        seeds[k] = pick
        used.add(int(pick))
    return seeds


def _grow(cells: np.ndarray, pts: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    """Grow the 2023 townships from their seed cells over the cell adjacency (step 3).

    Parameters
    ----------
    cells, pts
        The 2018 cells and their seed points.
    seeds
        The seed cell of each 2023 township.

    Returns
    -------
    numpy.ndarray
        For each 2018 cell the index of the 2023 township it merges into (multi-source
        Dijkstra; cells it cannot reach go to the nearest seed as the crow flies).
    """
    graph = adjacency(cells, pts).tocsr()
    dist, _, src = dijkstra(
        graph, directed=False, indices=seeds, min_only=True, return_predecessors=True
    )
    owner_cell = np.asarray(src, dtype=np.int64)
    lost = ~np.isfinite(dist)
    if lost.any():  # pieces of a multi-part county with no seed: nearest seed as the crow flies
        d = np.hypot(*(pts[lost][:, None, :] - pts[seeds][None, :, :]).transpose(2, 0, 1))
        owner_cell[lost] = seeds[np.argmin(d, axis=1)]
    seed_to_post = {int(s): k for k, s in enumerate(seeds)}
    return np.array([seed_to_post[int(s)] for s in owner_cell])


def _output_geometry(
    cells: np.ndarray, group: np.ndarray, n_post: int
) -> tuple[gpd.GeoSeries, list[shapely.Geometry]]:
    """Project the cells to the output CRS and grid, and union them into townships (step 4).

    Parameters
    ----------
    cells
        The 2018 cells (working CRS).
    group
        The 2023 township of each cell.
    n_post
        Number of 2023 townships.

    Returns
    -------
    cells_geo : geopandas.GeoSeries
        The snapped 2018 cells in ``OUTPUT_CRS``.
    post_geom : list of shapely.Geometry
        Each 2023 township: the snapped union of its snapped cells.
    """
    cells_geo = gpd.GeoSeries(cells, crs=WORK_CRS).to_crs(OUTPUT_CRS)
    cells_geo = gpd.GeoSeries([snap(g) for g in cells_geo.values], crs=OUTPUT_CRS)
    post_geom = [
        snap(shapely.union_all(np.asarray(cells_geo.values)[group == k])) for k in range(n_post)
    ]
    return cells_geo, post_geom


def _seat_lonlat(cells: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the 2018 township seats in degrees, rounded to 6 decimals.

    Parameters
    ----------
    cells, pts
        The 2018 cells and their seed points (working CRS).

    Returns
    -------
    lon, lat : numpy.ndarray
        The seed point, or a point on the cell's surface where clipping moved it out.
    """
    seats_pre = gpd.GeoSeries(shapely.points(pts), crs=WORK_CRS)
    inside = shapely.contains(cells, seats_pre.values)
    rep = gpd.GeoSeries(shapely.point_on_surface(cells), crs=WORK_CRS)
    seats_pre = gpd.GeoSeries(np.where(inside, seats_pre.values, rep.values), crs=WORK_CRS)
    seats_ll = seats_pre.to_crs("EPSG:4326")
    return np.round(seats_ll.x.to_numpy(), 6), np.round(seats_ll.y.to_numpy(), 6)


def _population(
    rng: np.random.Generator,
    kinds: np.ndarray,
    post_kind: np.ndarray,
    group: np.ndarray,
    total: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Split the census population over the townships, then over their cells (step 5).

    Parameters
    ----------
    rng
        The county's random stream.
    kinds, post_kind
        Kinds of the 2018 cells and of the 2023 townships.
    group
        The 2023 township of each cell.
    total
        The county's census population.

    Returns
    -------
    post_pop, pre_pop : numpy.ndarray
        Integer population of each 2023 township (summing to ``total``) and of each cell
        (summing to its township's).
    """
    n_post = len(post_kind)
    n_cells = np.bincount(group, minlength=n_post)
    w_post = np.array([_POP_WEIGHT[k] for k in post_kind]) * np.sqrt(n_cells)
    w_post *= rng.lognormal(0.0, _POP_SIGMA, n_post)
    post_pop = _largest_remainder(total, w_post)
    w_pre = np.array([_POP_WEIGHT[k] for k in kinds]) * rng.lognormal(0.0, 0.3, len(kinds))
    pre_pop = np.zeros(len(kinds), dtype=np.int64)
    for k in range(n_post):
        members = np.flatnonzero(group == k)
        pre_pop[members] = _largest_remainder(int(post_pop[k]), w_pre[members])
    return post_pop, pre_pop


def _villages(
    rng: np.random.Generator,
    n_villages: int,
    kinds: np.ndarray,
    pre_pop: np.ndarray,
    area_km2: np.ndarray,
) -> np.ndarray:
    """Split the county's villages before the reform over its cells (step 6).

    Parameters
    ----------
    rng
        The county's random stream.
    n_villages
        The county's share of the province's villages.
    kinds, pre_pop, area_km2
        Kind, population and area of each 2018 cell.

    Returns
    -------
    numpy.ndarray
        Villages per cell: over the 镇/乡 cells by population^0.6 × area^0.4 × noise (at least
        one each), or over all cells by population if the county is all 街道.
    """
    rural_cell = kinds != KIND_STREET
    vill = np.zeros(len(kinds), dtype=np.int64)
    if n_villages and rural_cell.any():
        vw = (
            (pre_pop[rural_cell] + 1.0) ** 0.6
            * area_km2[rural_cell] ** 0.4
            * rng.lognormal(0, 0.25, rural_cell.sum())
        )
        vill[rural_cell] = np.maximum(1, _largest_remainder(n_villages, vw))
    elif n_villages:
        vill = _largest_remainder(n_villages, pre_pop + 1.0)
    return vill


def _incidents_and_cases(
    rng: np.random.Generator, post_pop: np.ndarray, post_kind: np.ndarray, tibetan: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Draw the annual incidents and court cases of the 2023 townships (steps 7 and 8).

    Parameters
    ----------
    rng
        The county's random stream.
    post_pop, post_kind
        Population and kind of each 2023 township.
    tibetan
        Whether the county is a 涉藏 county (fewer cases).

    Returns
    -------
    incidents, cases : numpy.ndarray
        Gamma-Poisson counts (int64).
    """
    rate = np.array([_INCIDENT_RATE[k] for k in post_kind])
    lam = post_pop * rate * rng.gamma(_INCIDENT_SHAPE, 1.0 / _INCIDENT_SHAPE, len(post_kind))
    incidents = rng.poisson(lam)
    crate = _CASE_RATE * (_CASE_TIBETAN_FACTOR if tibetan else 1.0)
    cases = rng.poisson(
        post_pop * crate * rng.gamma(_CASE_SHAPE, 1.0 / _CASE_SHAPE, len(post_kind))
    )
    return incidents.astype(np.int64), cases.astype(np.int64)


def _after_table(
    s: _Setting,
    geometry: list[shapely.Geometry],
    group: np.ndarray,
    post_pop: np.ndarray,
    incidents: np.ndarray,
    cases: np.ndarray,
    vill: np.ndarray,
) -> gpd.GeoDataFrame:
    """Assemble the county's 2023 townships.

    Parameters
    ----------
    s
        The county.
    geometry
        Each township's polygon (``OUTPUT_CRS``).
    group
        The 2023 township of each 2018 cell.
    post_pop, incidents, cases
        Population, incidents and cases of each township.
    vill
        Villages of each 2018 cell (summed into ``villages_before``).

    Returns
    -------
    geopandas.GeoDataFrame
        The ``TOWNSHIP_FIELDS`` with the geometry; ``households`` from the census household size.
    """
    return gpd.GeoDataFrame(
        {
            "code": s.post["code"].to_numpy(),
            "name": s.post["name"].to_numpy(),
            "county_code": s.code,
            "kind": s.post["kind"].to_numpy(),
            "population": post_pop,
            "incidents": incidents,
            "tibetan_area": s.tibetan,
            "cases": cases,
            "villages_before": np.bincount(group, weights=vill, minlength=len(s.post)).astype(
                np.int64
            ),
            "households": np.round(post_pop / float(s.census["household_size"])).astype(np.int64),
        },
        geometry=geometry,
        crs=OUTPUT_CRS,
    )


def _before_table(
    s: _Setting,
    cells_geo: gpd.GeoSeries,
    merged_into: np.ndarray,
    pre_pop: np.ndarray,
    vill: np.ndarray,
) -> gpd.GeoDataFrame:
    """Assemble the county's 2018 townships.

    Parameters
    ----------
    s
        The county.
    cells_geo
        The snapped cells (``OUTPUT_CRS``).
    merged_into
        Code of the 2023 township each cell merged into.
    pre_pop, vill
        Population and villages of each cell.

    Returns
    -------
    geopandas.GeoDataFrame
        The ``BEFORE_FIELDS`` with the geometry.
    """
    return gpd.GeoDataFrame(
        {
            "code": s.pre["code"].to_numpy(),
            "name": s.pre["name"].to_numpy(),
            "county_code": s.code,
            "county_code_2018": s.pre["county_code_orig"].to_numpy(),
            "kind": s.pre["kind"].to_numpy(),
            "merged_into": merged_into,
            "population": pre_pop,
            "villages": vill,
        },
        geometry=cells_geo.values,
        crs=OUTPUT_CRS,
    )


def _county_row(
    rng: np.random.Generator, s: _Setting, facilities: pd.DataFrame, source: str
) -> dict[str, object]:
    """Build the county's row of the counties table (step 10).

    Parameters
    ----------
    rng
        The county's random stream.
    s
        The county.
    facilities
        Its facilities (station and office staff set the police and judicial totals).
    source
        The ``source`` label.

    Returns
    -------
    dict
        The ``COUNTY_FIELDS`` of the county.
    """
    st = facilities.loc[facilities["type"] == POLICE, "staff"].sum()
    jo = facilities.loc[facilities["type"] == JUDICIAL, "staff"].sum()
    police_total = int(round(st / rng.uniform(0.30, 0.45)))
    return {
        "county_code": s.code,
        "name": s.county["district_name"],
        "city_name": s.county["city_name"],
        "population": int(s.census["population"]),
        "households": int(s.census["households"]),
        "tibetan_area": s.tibetan,
        "townships_before": len(s.pre),
        "townships": len(s.post),
        "police_total": police_total,
        "judicial_establishment": int(round(jo / rng.uniform(0.35, 0.60))),
        "new_police_recruits": max(1, int(round(police_total * rng.uniform(0.03, 0.07)))),
        "source": source,
    }


def build_county(frame: Frame, code: str, seed: int, source: str) -> County:
    """Build one synthetic county from its own random stream.

    Parameters
    ----------
    frame
        The real frame.
    code
        A current county code.
    seed
        The sample's seed; the county's stream is ``default_rng([seed, int(code)])``.
    source
        The ``source`` label of its facilities and county row.

    Returns
    -------
    County
        Its townships before and after the reform, facilities, county row, and what the
        roads are built from.
    """
    rng = np.random.default_rng([seed, int(code)])
    s = _setting(frame, code)
    pts = _place_seed_points(rng, s)
    cells = voronoi_cells(s.polygon, pts)
    group = _grow(cells, pts, _seed_cells(rng, s, pts))
    cells_geo, post_geom = _output_geometry(cells, group, len(s.post))
    seat_lon, seat_lat = _seat_lonlat(cells, pts)

    kinds = s.pre["kind"].to_numpy()
    post_kind = s.post["kind"].to_numpy()
    post_pop, pre_pop = _population(rng, kinds, post_kind, group, int(s.census["population"]))
    n_villages = round(
        int(s.census["rural"]) * _VILLAGES_BEFORE_TOTAL / frame.population["rural"].sum()
    )
    vill = _villages(rng, n_villages, kinds, pre_pop, shapely.area(cells) / 1e6)
    incidents, cases = _incidents_and_cases(rng, post_pop, post_kind, s.tibetan)

    post_codes = s.post["code"].to_numpy()
    after = _after_table(s, post_geom, group, post_pop, incidents, cases, vill)
    before = _before_table(s, cells_geo, post_codes[group], pre_pop, vill)
    seats = Seats(
        codes=s.pre["code"].to_numpy(),
        names=s.pre["name"].to_numpy(),
        kinds=kinds,
        population=pre_pop,
        township_codes=post_codes[group],
        lon=seat_lon,
        lat=seat_lat,
        points=pts,
        cells=cells,
    )
    facilities = place_facilities(rng, seats, code, source)
    return County(
        before=before,
        after=after,
        facilities=facilities,
        row=_county_row(rng, s, facilities, source),
        seat_lonlat=np.column_stack([seat_lon, seat_lat]),
        seat_pop=pre_pop,
        county_seat=s.seat,
        polygon=s.polygon,
    )
