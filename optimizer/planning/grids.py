"""Grids (clauses 13, 15): every township cut into contiguous, compact grids of bounded size.

Building blocks are the villages; a village with more households than a grid may hold is
first cut into equal-area strips across its longer side (households spread by area, the only
assumption the data allow), each at most a grid's upper bound. Where blocks lie outside the
bounds, they and their neighbours (one zone per township and kind: 社区 blocks make urban grids,
村 blocks rural ones) are cut finer and joined again into grids: a districting problem whose
centres are the blocks themselves, with the blocks' households as loads, the planner's bounds
as the load bounds of a grid, and the blocks' adjacency as the contiguity graph (every grid one
connected piece holding its centre block), minimising household-weighted distance to the
grid's centre block (compactness).

A connected piece of up to ``grassroots.grid_exact_blocks`` blocks is solved exactly without a
model (:mod:`optimizer.solver.districts`: every connected subset enumerated, the cheapest
partition by dynamic programming); a larger one goes to the solver core's districting model
(:func:`optimizer.solver.solve`, the assignment MIP with contiguity cuts). A zone larger than
``grassroots.grid_max_blocks`` is first cut into connected pieces in a fixed order. No clock
decides a result.

When the bounds cannot hold (a township with fewer households than one grid, a small village
walled in by large ones), the lower bound is lowered to three quarters, then dropped, for that
piece, and every grid outside the planner's bounds is reported with its distance from them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import Delaunay

from optimizer.errors import InfeasibleError, SolverError
from optimizer.inputs.geometry import projected_crs
from optimizer.inputs.villages import KIND_COMMUNITY, VillageInputs
from optimizer.planning.budget import TimeBudget
from optimizer.rules.grassroots import GrassrootsPolicy
from optimizer.solver import LocationProblem, solve
from optimizer.solver.districts import (
    EXACT_BLOCKS,
    best_partition,
    connected_groups,
    split_connected,
)

__all__ = ["GridPlan", "plan_grids"]

#: Fine strips per final strip when a village is cut into equal areas.
_FINE = 2
#: Pieces each in-bounds block of a zone is cut into before the model redraws the zone.
_REFINE = 3
#: Lower bounds tried, as shares of the planner's, when the planner's cannot hold.
_RELAX = (1.0, 0.75, 0.0)
#: Safety wall-clock limit of one piece's model; pieces are kept small (``grid_max_blocks``) so
#: that it never binds; when it does, the piece keeps its villages' own grids and plan.json's
#: notes say the plan then depends on the machine's speed.
_ZONE_SECONDS = 60.0
#: Relative gap at which a zone's model stops (compactness needs no more).
_GAP = 0.01


@dataclass
class GridPlan:
    """The grids of one plan.

    Attributes
    ----------
    grids
        One row per grid: ``code`` (township code + 4-digit number), ``township_code``,
        ``urban`` (bool), ``villages`` (codes, ``;``-joined), ``households``, ``residents``,
        ``min_households``, ``max_households`` (the planner's bounds), ``deviation`` (households
        below the minimum, negative, or above the maximum, positive; 0 inside),
        ``residents_over`` (residents beyond the rural maximum), ``workers``, ``fulltime``
        (bool), ``geometry`` (the union of its blocks, EPSG:4326; None without village shapes).
    blocks
        One row per building block: ``village_code``, ``township_code``, ``households``,
        ``grid`` (its grid's code), ``geometry`` (EPSG:4326).
    relaxed
        ``(township_code, kind) -> lower bound used`` where the planner's could not hold.
    exact_pieces
        Pieces solved exactly by enumeration (no model).
    problems_solved
        Pieces handed to the solver core's districting model.
    zones_split
        Zones above ``grassroots.grid_max_blocks`` blocks, cut into connected pieces.
    zones_timed_out
        Grid models that hit the safety time limit (never expected; their piece keeps its
        villages' own grids).
    fallback
        ``(township_code, urban)`` of every zone with a piece left as its villages' own grids
        (model timed out), so that each of its grids can say so.
    cut
        ``(township_code, urban)`` of every zone cut into pieces (``grid_max_blocks``).
    seconds
        Wall time of the grid stage.
    solver_seconds
        Time inside the solver core.
    notes
        What a planner should know (assumptions, relaxations).
    """

    grids: gpd.GeoDataFrame
    blocks: gpd.GeoDataFrame
    relaxed: dict[tuple[str, str], float] = field(default_factory=dict)
    exact_pieces: int = 0
    problems_solved: int = 0
    zones_split: int = 0
    zones_timed_out: int = 0
    fallback: set[tuple[str, bool]] = field(default_factory=set)
    cut: set[tuple[str, bool]] = field(default_factory=set)
    seconds: float = 0.0
    solver_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _cut(frame: gpd.GeoDataFrame, k: np.ndarray) -> gpd.GeoDataFrame:
    """Cut row ``i`` into ``k[i]`` pieces, sharing its households and residents among them.

    A polygon is cut into strips of (nearly) equal area across its longer side (each strip's
    households in proportion to its area, whole numbers by largest remainder); a point is
    repeated. All rows at once (shapely's vectorised operations, no loop over rows). The
    result keeps every column, with ``parent``: the position of the row's first piece.
    """
    geoms = frame.geometry.to_numpy()
    k = np.asarray(k, dtype=np.int64)
    n = len(frame)
    cut = np.flatnonzero((k > 1) & (shapely.get_type_id(geoms) >= 3))
    owner = [np.arange(n)[np.isin(np.arange(n), cut, invert=True)]]
    pieces = [geoms[owner[0]]]
    if len(cut):
        got_owner, got = _strips(geoms[cut], k[cut])
        owner.append(cut[got_owner])
        pieces.append(got)
        missing = np.setdiff1d(cut, owner[-1])  # nothing polygonal left: the village whole
        owner.append(missing)
        pieces.append(geoms[missing])
    owner_all = np.concatenate(owner)
    piece_all = np.concatenate(pieces)
    # points (and polygons that gave no strip) are repeated k times
    count = np.bincount(owner_all, minlength=n)
    short = np.flatnonzero((count == 1) & (k > 1) & np.isin(np.arange(n), cut, invert=True))
    if len(short):
        reps = np.repeat(short, k[short] - 1)
        owner_all = np.concatenate([owner_all, reps])
        piece_all = np.concatenate([piece_all, geoms[reps]])
    order = np.argsort(owner_all, kind="stable")
    owner_all, piece_all = owner_all[order], piece_all[order]
    area = shapely.area(piece_all)
    is_poly = shapely.get_type_id(piece_all) >= 3
    weight = np.where(is_poly, area, 1.0)
    hh = np.nan_to_num(frame["households"].to_numpy(dtype=float))
    share = _largest_remainder(hh, owner_all, weight)
    out = frame.iloc[owner_all].reset_index(drop=True)
    res = frame["residents"].to_numpy(dtype=float)[owner_all]
    with np.errstate(invalid="ignore", divide="ignore"):
        out["residents"] = np.where(hh[owner_all] > 0, res * share / hh[owner_all], np.nan)
    out["households"] = share
    first = np.r_[0, np.flatnonzero(owner_all[1:] != owner_all[:-1]) + 1]
    out["parent"] = np.repeat(first, np.diff(np.r_[first, len(owner_all)]))
    out = out.set_geometry(piece_all, crs=frame.crs)
    return out


def _strips(polys: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cut polygon ``i`` into ``k[i]`` equal-area strips; return (owner index, strips).

    ``_FINE`` thin strips per final strip measure where the area lies along the longer side;
    the cuts are interpolated from them. GEOS's rectangle clip, one call per strip (far faster
    than a general overlay).
    """
    owner: list[int] = []
    out: list[shapely.Geometry] = []
    for i, (poly, ki) in enumerate(zip(polys.tolist(), k.tolist(), strict=True)):
        box4 = poly.bounds
        along_x = (box4[2] - box4[0]) >= (box4[3] - box4[1])
        lo, hi = (box4[0], box4[2]) if along_x else (box4[1], box4[3])
        edges = np.linspace(lo, hi, _FINE * ki + 1).tolist()
        area = [
            _strip(poly, box4, along_x, a, z).area
            for a, z in zip(edges[:-1], edges[1:], strict=True)
        ]
        cum = np.concatenate([[0.0], np.cumsum(area)])
        cuts = np.interp(cum[-1] * np.arange(1, ki) / ki, cum, edges).tolist()
        bounds = [lo - 1.0, *cuts, hi + 1.0]
        for a, z in zip(bounds[:-1], bounds[1:], strict=True):
            owner.append(i)
            out.append(_strip(poly, box4, along_x, a, z))
    strips = shapely.make_valid(np.asarray(out, dtype=object))
    parts, idx = shapely.get_parts(strips, return_index=True)
    keep = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0)
    return np.asarray(owner, dtype=np.int64)[idx[keep]], parts[keep]


def _strip(
    poly: shapely.Geometry, box4: tuple[float, ...], along_x: bool, a: float, z: float
) -> shapely.Geometry:
    """Clip a polygon to the band ``a..z`` across its longer side (GEOS's rectangle clip)."""
    minx, miny, maxx, maxy = box4
    if along_x:
        return shapely.clip_by_rect(poly, a, miny - 1.0, z, maxy + 1.0)
    return shapely.clip_by_rect(poly, minx - 1.0, a, maxx + 1.0, z)


def _valid(geoms: np.ndarray) -> np.ndarray:
    """Repair polygons that projection left invalid (keeping their polygonal part)."""
    out = geoms.copy()
    for i in np.flatnonzero(~shapely.is_valid(geoms)):
        fixed = shapely.make_valid(geoms[i])
        parts = [g for g in shapely.get_parts(fixed) if isinstance(g, shapely.Polygon)]
        out[i] = parts[0] if len(parts) == 1 else shapely.MultiPolygon(parts)
    single = np.flatnonzero(shapely.get_num_geometries(out) == 1)
    out[single] = shapely.get_geometry(out[single], 0)  # one-part multipolygons as polygons
    return out


def _largest_remainder(total: np.ndarray, owner: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Split each owner's whole number of households over its pieces in proportion to weight.

    ``owner`` is sorted; ties in the remainders go to the earlier piece.
    """
    w = np.asarray(weight, dtype=float)
    wsum = np.bincount(owner, weights=w, minlength=len(total))
    cnt = np.bincount(owner, minlength=len(total)).astype(float)
    t = total[owner]
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = np.where(wsum[owner] > 0, t * w / wsum[owner], t / cnt[owner])
    out = np.floor(raw)
    rest = np.rint(total - np.bincount(owner, weights=out, minlength=len(total))).astype(np.int64)
    pos = np.arange(len(owner))
    order = np.lexsort((pos, -(raw - out), owner))
    start = np.searchsorted(owner[order], np.arange(len(total)))
    rank = np.arange(len(owner)) - start[owner[order]]
    out[order[rank < rest[owner[order]]]] += 1
    return out


def _bounds(frame: pd.DataFrame, policy: GrassrootsPolicy) -> tuple[np.ndarray, np.ndarray]:
    """Household bounds of each village's grids: the planner's, for 村 with the residents cap."""
    urban = (frame["kind"] == KIND_COMMUNITY).to_numpy()
    lo = np.where(urban, policy.urban_households_min, policy.rural_households_min)
    hi = np.where(urban, policy.urban_households_max, policy.rural_households_max)
    res = frame["residents"].to_numpy(dtype=float)
    hh = frame["households"].to_numpy(dtype=float)
    capped = ~urban & np.isfinite(res) & (res > 0) & (hh > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        cap = np.maximum(lo, np.minimum(hi, policy.rural_residents_max * hh / res))
    return lo, np.where(capped, cap, hi)


def pieces_for(households: float, lo: float, hi: float) -> int:
    """Return how many equal grids a village of ``households`` is best cut into.

    The number whose grid size lies within ``[lo, hi]``, or, when none does, the one whose size
    lies closest to the bounds; ties go to the size closest to the middle of the bounds.
    """
    if households <= hi:
        return 1
    first = max(1, math.floor(households / hi))
    best = min(
        range(first, max(first, math.ceil(households / lo)) + 2),
        key=lambda k: (
            max(0.0, lo - households / k, households / k - hi),
            abs(households / k - (lo + hi) / 2.0),
            k,
        ),
    )
    return int(best)


def _blocks(villages: gpd.GeoDataFrame, policy: GrassrootsPolicy) -> gpd.GeoDataFrame:
    """Cut the villages into grid-sized building blocks (see :func:`pieces_for`)."""
    v = villages.reset_index(drop=True)
    hh = np.nan_to_num(v["households"].to_numpy(dtype=float))
    lo, hi = _bounds(v, policy)
    k = np.array(
        [
            pieces_for(h, a, z)
            for h, a, z in zip(hh.tolist(), lo.tolist(), hi.tolist(), strict=True)
        ],
        dtype=np.int64,
    )
    base = gpd.GeoDataFrame(
        {
            "village_code": v["code"].to_numpy(),
            "township_code": v["township_code"].to_numpy(),
            "urban": (v["kind"] == KIND_COMMUNITY).to_numpy(),
            "households": hh,
            "residents": v["residents"].to_numpy(dtype=float),
            "hi": hi,
        },
        geometry=v.geometry.to_numpy(),
        crs=villages.crs,
    )
    return _cut(base, k).drop(columns="parent")


def _edges(blocks: gpd.GeoDataFrame) -> np.ndarray:
    """Block adjacency: polygons sharing a border, or Delaunay neighbours of points."""
    geoms = blocks.geometry.to_numpy()
    town = blocks["township_code"].to_numpy()
    kind = blocks["urban"].to_numpy()
    village = blocks["village_code"].to_numpy()
    pairs: list[np.ndarray] = []
    polys = np.flatnonzero(shapely.get_type_id(geoms) >= 3)
    if len(polys):
        tree = shapely.STRtree(geoms[polys])
        a, b = tree.query(geoms[polys], predicate="intersects")
        a, b = polys[a], polys[b]
        keep = (a < b) & (town[a] == town[b]) & (kind[a] == kind[b])
        a, b = a[keep], b[keep]
        # a shared border (boundaries meet in a line) or overlapping interiors (slivers)
        de9im = np.asarray(shapely.relate(geoms[a], geoms[b]), dtype="U9").view("U1")
        de9im = de9im.reshape(-1, 9)
        shared = (de9im[:, 4] == "1") | (de9im[:, 0] == "2")
        pairs.append(np.column_stack([a[shared], b[shared]]))
    points = np.flatnonzero(shapely.get_type_id(geoms) == 0)
    for (_, _), idx in pd.Series(points).groupby([town[points], kind[points]]):
        ids = idx.to_numpy()
        xy = shapely.get_coordinates(geoms[ids])
        if len(ids) >= 3 and np.linalg.matrix_rank(xy - xy.mean(axis=0)) == 2:
            tri = Delaunay(xy).simplices
            e = np.vstack([tri[:, [0, 1]], tri[:, [1, 2]], tri[:, [0, 2]]])
            pairs.append(ids[e])
        else:
            pairs.append(np.array([(i, j) for i in ids for j in ids if i < j]).reshape(-1, 2))
    # pieces of one village (a point split in k) always touch each other
    pt = shapely.get_type_id(geoms) == 0
    same = (village[1:] == village[:-1]) & pt[1:] & pt[:-1]
    chain = np.flatnonzero(same)
    pairs.append(np.column_stack([chain, chain + 1]))
    return np.unique(np.sort(np.vstack(pairs), axis=1), axis=0).astype(np.int64)


def _problem(
    d: np.ndarray, edges: np.ndarray, hh: np.ndarray, lo: float, hi: float, neighbours: int
) -> LocationProblem:
    """Build the districting model of one piece (blocks as clients and sites, ``d`` in km)."""
    n = len(hh)
    k = min(n, neighbours + 1)
    near = np.argsort(d, axis=1, kind="stable")[:, :k]
    allowed = np.zeros((n, n), dtype=bool)
    allowed[np.repeat(np.arange(n), k), near.ravel()] = True
    allowed[edges[:, 0], edges[:, 1]] = allowed[edges[:, 1], edges[:, 0]] = True
    client, site = np.nonzero(allowed)
    return LocationProblem(
        n_clients=n,
        n_sites=n,
        client=client,
        site=site,
        cost=d[client, site],
        weights=hh,
        client_edges=edges,
        site_home=np.arange(n),
        client_load=hh,
        site_min_load=np.full(n, lo),
        site_max_load=np.full(n, hi),
    )


def _solve_zone(
    hh: np.ndarray,
    xy: np.ndarray,
    edges: np.ndarray,
    bounds: tuple[float, float],
    policy: GrassrootsPolicy,
    budget: TimeBudget,
    seed: int,
) -> tuple[np.ndarray, float | None, bool, bool]:
    """Join the connected blocks of one piece into grids; return each block's centre block.

    Up to ``policy.grid_exact_blocks`` blocks the cheapest partition is found exactly
    (:func:`optimizer.solver.districts.best_partition`, no model); a larger piece goes to the
    solver core's districting model. The lower bound is lowered step by step (``_RELAX``) when
    the planner's cannot hold. Returns the centres, the lower bound used when it differs from
    the planner's (else None), whether the model reached the safety time limit (then every
    block is its own centre; the caller falls back), and whether the exact method was used.
    """
    lo, hi = bounds
    hi = max(hi, float(hh.max()))
    total = float(hh.sum())
    lowers = list(dict.fromkeys(min(lo * r, total) for r in _RELAX))  # fewer than one grid: one

    def used(lower: float) -> float | None:
        return None if lower >= lo or lower == total else lower

    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) / 1000.0
    if len(hh) <= min(policy.grid_exact_blocks, EXACT_BLOCKS):
        groups = connected_groups(hh, d, edges, hi)
        if groups is not None:
            for lower in lowers:
                got = best_partition(groups, lower)
                if got is not None:
                    return got[0], used(lower), False, True
            return np.arange(len(hh)), 0.0, False, True  # each block alone (blocks <= hi)
    for lower in lowers:
        prob = _problem(d, edges, hh, lower, hi, policy.neighbours)
        try:
            with budget.solving():
                # no clock in the result: no time-bounded local search (HiGHS's own MIP is
                # deterministic for a given seed and thread count), and a safety limit only
                res = solve(
                    prob, time_limit=_ZONE_SECONDS, gap=_GAP, heuristic_seconds=0.0, seed=seed
                )
        except (InfeasibleError, SolverError):
            continue
        if res.time_limit_reached:
            return np.arange(len(hh)), None, True, False
        if res.status in ("optimal", "feasible"):
            return res.assignment, used(lower), False, False
    return np.arange(len(hh)), 0.0, False, False


def _zone_mask(coarse: gpd.GeoDataFrame, lo: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Blocks whose grids must be redrawn: those outside their bounds and their neighbours.

    The neighbours may give or take households; edges join blocks of one township and kind
    only, so a zone never crosses either.
    """
    hh = coarse["households"].to_numpy()
    bad = (hh < lo) | (hh > coarse["hi"].to_numpy())
    zone = bad.copy()
    if len(edges):
        touch = bad[edges[:, 0]] | bad[edges[:, 1]]
        zone[edges[touch].ravel()] = True
    return zone


def _components(edges: np.ndarray, n: int) -> np.ndarray:
    """Label the connected components of a block graph."""
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


@dataclass
class _Tally:
    """What the grid models did (for plan.json and the notes)."""

    exact: int = 0
    models: int = 0
    split: int = 0
    timed_out: int = 0
    relaxed: dict[tuple[str, str], float] = field(default_factory=dict)
    fallback: set[tuple[str, bool]] = field(default_factory=set)
    cut: set[tuple[str, bool]] = field(default_factory=set)


def _district(
    fine: gpd.GeoDataFrame, policy: GrassrootsPolicy, budget: TimeBudget, seed: int, tally: _Tally
) -> np.ndarray:
    """Join the fine blocks of every zone into grids; return each block's centre block.

    Each connected part of a zone (one township and kind) larger than
    ``policy.grid_max_blocks`` is first cut into connected pieces
    (:func:`optimizer.solver.districts.split_connected`, a fixed order); each piece is then
    solved by :func:`_solve_zone`. A piece whose model reaches the safety limit keeps its
    blocks' own grids (the first piece of each block stands for it).
    """
    edges = _edges(fine)
    n = len(fine)
    label = _components(edges, n)
    xy = shapely.get_coordinates(shapely.centroid(fine.geometry.to_numpy()))
    hh = fine["households"].to_numpy(dtype=float)
    parent = fine["parent"].to_numpy()
    upper = fine["hi"].to_numpy(dtype=float)
    town = fine["township_code"].to_numpy()
    urban = fine["urban"].to_numpy()
    centre = np.arange(n)
    by_comp = np.argsort(label, kind="stable")
    cstart = np.searchsorted(label[by_comp], np.arange(label.max() + 2 if n else 1))
    e_order = np.argsort(label[edges[:, 0]], kind="stable") if len(edges) else np.zeros(0, int)
    e_label = label[edges[e_order, 0]] if len(edges) else np.zeros(0, int)
    estart = np.searchsorted(e_label, np.arange(label.max() + 2 if n else 1))
    local = np.full(n, -1)
    for comp in range(len(cstart) - 1):
        ids = by_comp[cstart[comp] : cstart[comp + 1]]
        if len(ids) < 2:
            continue
        local[ids] = np.arange(len(ids))
        sub = local[edges[e_order[estart[comp] : estart[comp + 1]]]]
        pieces = [np.arange(len(ids))]
        key = (str(town[ids[0]]), bool(urban[ids[0]]))
        if len(ids) > policy.grid_max_blocks:
            pieces = split_connected(xy[ids], sub, policy.grid_max_blocks)
            tally.split += 1
            tally.cut.add(key)
        lo = policy.bounds(key[1])[0]
        for piece in pieces:
            pid = ids[piece]
            if len(pid) == 1:
                continue
            inner = np.full(len(ids), -1)
            inner[piece] = np.arange(len(piece))
            pe = inner[sub]
            pe = pe[(pe >= 0).all(axis=1)]
            bounds = (lo, float(upper[pid].min()))
            got, lower, hit, exact = _solve_zone(hh[pid], xy[pid], pe, bounds, policy, budget, seed)
            tally.exact += exact
            tally.models += not exact
            if hit:
                centre[pid] = parent[pid]
                tally.timed_out += 1
                tally.fallback.add(key)
                continue
            centre[pid] = pid[got]
            if lower is not None:
                rk = (key[0], "社区" if key[1] else "村")
                tally.relaxed[rk] = min(lower, tally.relaxed.get(rk, lower))
        local[ids] = -1
    return centre


def plan_grids(
    villages: VillageInputs,
    policy: GrassrootsPolicy,
    *,
    budget: TimeBudget,
    seed: int = 0,
) -> GridPlan:
    """Partition every township into grids (clauses 13, 15).

    Parameters
    ----------
    villages
        The village layer (polygons or points; without either, each village's grids are
        counted but not drawn).
    policy
        Grid bounds and workers.
    budget
        The planning call's time budget (each solve gets what remains).
    seed
        Solver seed.

    Returns
    -------
    GridPlan
        Grids, blocks, relaxations and timings.
    """
    t0 = time.monotonic()
    solving0 = budget.solving_seconds
    v = villages.villages.copy()
    has_geom = bool(v.geometry.notna().all()) and len(v) > 0
    metric = v.to_crs(projected_crs(v)) if has_geom else v
    if has_geom:
        metric["geometry"] = _valid(metric.geometry.to_numpy())
    coarse = _blocks(metric, policy)
    lo = np.where(coarse["urban"], policy.urban_households_min, policy.rural_households_min)
    tally = _Tally()
    if has_geom:
        zone = _zone_mask(coarse, lo, _edges(coarse))
        hh = coarse["households"].to_numpy()
        small = hh < lo
        fine = _cut(coarse[zone].reset_index(drop=True), np.where(small[zone], 1, _REFINE))
        centre = _district(fine, policy, budget, seed, tally)
        kept = coarse[~zone].reset_index(drop=True)
        kept["centre"] = np.arange(len(kept))
        fine = fine.drop(columns="parent").assign(centre=centre + len(kept))
        blocks = pd.concat([kept, fine], ignore_index=True)
    else:
        blocks = coarse.assign(centre=np.arange(len(coarse)))
    blocks = gpd.GeoDataFrame(blocks.drop(columns=["hi"]), geometry="geometry", crs=metric.crs)
    grids, blocks = _grid_table(blocks, policy, has_geom)
    return GridPlan(
        grids=grids,
        blocks=blocks,
        relaxed=tally.relaxed,
        exact_pieces=tally.exact,
        problems_solved=tally.models,
        zones_split=tally.split,
        zones_timed_out=tally.timed_out,
        fallback=tally.fallback,
        cut=tally.cut,
        seconds=round(time.monotonic() - t0, 3),
        solver_seconds=round(budget.solving_seconds - solving0, 3),
        notes=_notes(tally, policy, has_geom),
    )


def _notes(tally: _Tally, policy: GrassrootsPolicy, has_geom: bool) -> list[str]:
    """Return what a planner should know about how the grids were drawn."""
    notes = []
    if tally.split:
        notes.append(
            f"grids: {tally.split} zone(s) above grassroots.grid_max_blocks = "
            f"{policy.grid_max_blocks} blocks were cut into connected pieces in a fixed order "
            "(breadth-first from the westmost block), each piece drawn on its own: grids do not "
            "cross a piece's edge"
        )
    if tally.timed_out:
        notes.append(
            f"grids: {tally.timed_out} grid model(s) reached the {_ZONE_SECONDS:g} s safety limit "
            "and keep their villages' own grids: on a slower or busier machine this may differ"
        )
    if not has_geom:
        notes.append(
            "村 layer without polygons or points: each village's grids are counted, not drawn"
        )
    if tally.relaxed:
        notes.append(
            f"grid bounds relaxed in {len(tally.relaxed)} township(s) where they cannot hold; "
            "the grids outside the bounds are listed with their deviation"
        )
    return notes


def _grid_table(
    blocks: gpd.GeoDataFrame, policy: GrassrootsPolicy, has_geom: bool
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Give the grids their codes (north to south, west to east) and sum their blocks."""
    geoms = blocks.geometry.to_numpy()
    cxy = (
        shapely.get_coordinates(shapely.centroid(geoms)) if has_geom else np.zeros((len(blocks), 2))
    )
    blocks = blocks.assign(cx=cxy[:, 0], cy=cxy[:, 1])
    heads = blocks.loc[np.unique(blocks["centre"].to_numpy())]
    heads = heads.sort_values(
        ["township_code", "urban", "cy", "cx"], ascending=[True, False, False, True]
    )
    number = heads.groupby("township_code").cumcount() + 1
    code_of = pd.Series(
        (heads["township_code"] + number.map("{:04d}".format)).to_numpy(), index=heads.index
    )
    blocks["grid"] = code_of.reindex(blocks["centre"].to_numpy()).to_numpy()
    blocks = blocks.sort_values(["grid", "village_code"], kind="stable", ignore_index=True)
    by_grid = blocks.groupby("grid", sort=True)
    agg = by_grid.agg(
        township_code=("township_code", "first"),
        urban=("urban", "first"),
        households=("households", "sum"),
    )
    agg["residents"] = by_grid["residents"].sum(min_count=1)
    pairs = blocks[["grid", "village_code"]].drop_duplicates()  # sorted by grid, village
    grid_of = pairs["grid"].to_numpy()
    heads_at = np.flatnonzero(np.r_[True, grid_of[1:] != grid_of[:-1]]).tolist()
    codes = pairs["village_code"].astype(str).tolist()
    spans = zip(heads_at, [*heads_at[1:], len(codes)], strict=True)
    agg["villages"] = pd.Series(
        [";".join(codes[a:z]) for a, z in spans], index=grid_of[heads_at]
    ).reindex(agg.index)
    lo = np.where(agg["urban"], policy.urban_households_min, policy.rural_households_min)
    hi = np.where(agg["urban"], policy.urban_households_max, policy.rural_households_max)
    hh = agg["households"].to_numpy()
    agg["min_households"], agg["max_households"] = lo, hi
    agg["deviation"] = np.where(hh > hi, hh - hi, np.where(hh < lo, hh - lo, 0.0))
    over = np.maximum(0.0, agg["residents"].fillna(0.0).to_numpy() - policy.rural_residents_max)
    agg["residents_over"] = np.where(agg["urban"], 0.0, over)
    agg["workers"] = policy.workers_per_grid
    agg["fulltime"] = agg["urban"] | policy.rural_fulltime
    if has_geom:
        bounds = np.flatnonzero(
            np.r_[True, blocks["grid"].to_numpy()[1:] != blocks["grid"].to_numpy()[:-1]]
        )
        chunks = np.split(blocks.geometry.to_numpy(), bounds[1:])
        geometry = [shapely.union_all(c) if len(c) > 1 else c[0] for c in chunks]
    else:
        geometry = [None] * len(agg)
    grids = gpd.GeoDataFrame(
        agg.reset_index().rename(columns={"grid": "code"}), geometry=geometry, crs=blocks.crs
    )
    if has_geom:
        grids = grids.to_crs("EPSG:4326")
        blocks = blocks.to_crs("EPSG:4326")
    out = blocks[["village_code", "township_code", "households", "grid", "geometry"]]
    return grids, gpd.GeoDataFrame(out, geometry="geometry", crs=blocks.crs)
