"""Grids (clauses 13, 15): every township cut into contiguous, compact grids of bounded size.

Building blocks are the villages; a village with more households than a grid may hold is
first cut into equal-area strips across its longer side (households spread by area, the only
assumption the data allow), each at most a grid's upper bound. The solver core then joins the
blocks of each township and kind (社区 blocks into urban grids, 村 blocks into rural ones) into
grids: a location problem whose sites are the blocks themselves, with the blocks' households
as loads, the planner's bounds as the load bounds of an open grid, and the blocks' adjacency as
the contiguity graph (every grid one connected piece holding its centre block), minimising
household-weighted distance to the grid's centre block (compactness). It is solved to
optimality by :func:`optimizer.solver.solve` (the assignment MIP with contiguity cuts).

When the bounds cannot hold (a township with fewer households than one grid, a small village
walled in by large ones), the lower bound is halved, then dropped, for that township and kind,
and every grid outside the planner's bounds is reported with its distance from them.
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

__all__ = ["GridPlan", "plan_grids"]

#: Fine strips per final strip when a village is cut into equal areas.
_FINE = 2
#: Pieces each in-bounds block of a zone is cut into before the model redraws the zone.
_REFINE = 3
#: Lower bounds tried, as shares of the planner's, when the planner's cannot hold.
_RELAX = (1.0, 0.75, 0.0)
#: Safety wall-clock limit of one zone's model; zones are kept small (``grid_max_blocks``) so
#: that it never binds; when it does, the zone keeps its villages' own grids and plan.json's
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
    zones_timed_out
        Grid models that hit the safety time limit (never expected; their zone keeps its
        villages' own grids).
    zones_skipped
        Zones above ``grassroots.grid_max_blocks`` blocks, left as their villages' own grids.
    fallback
        ``(township_code, urban)`` of every zone left as its villages' own grids (too large
        or timed out), so that each of its grids can say so.
    problems_solved
        Township-and-kind problems handed to the solver (the others were trivially optimal:
        every block already within bounds).
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
    problems_solved: int = 0
    zones_skipped: int = 0
    zones_timed_out: int = 0
    fallback: set[tuple[str, bool]] = field(default_factory=set)
    seconds: float = 0.0
    solver_seconds: float = 0.0
    notes: list[str] = field(default_factory=list)


def _split(poly: shapely.Geometry, k: int) -> list[shapely.Geometry]:
    """Cut a polygon into ``k`` strips of (nearly) equal area across its longer side."""
    minx, miny, maxx, maxy = poly.bounds
    along_x = (maxx - minx) >= (maxy - miny)
    lo, hi = (minx, maxx) if along_x else (miny, maxy)

    def strips(cuts: np.ndarray) -> np.ndarray:
        pairs = zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True)
        if along_x:
            out = [shapely.clip_by_rect(poly, a, miny - 1.0, b, maxy + 1.0) for a, b in pairs]
        else:
            out = [shapely.clip_by_rect(poly, minx - 1.0, a, maxx + 1.0, b) for a, b in pairs]
        return np.array(out, dtype=object)

    edges = np.linspace(lo, hi, _FINE * k + 1)
    cum = np.concatenate([[0.0], np.cumsum(shapely.area(strips(edges)))])
    targets = cum[-1] * np.arange(1, k) / k
    cuts = np.concatenate([[lo - 1.0], np.interp(targets, cum, edges), [hi + 1.0]])
    pieces = shapely.make_valid(strips(cuts))
    out: list[shapely.Geometry] = []
    for piece in pieces:
        out += [
            p for p in shapely.get_parts(piece) if isinstance(p, shapely.Polygon) and p.area > 0
        ]
    return out or [poly]


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


def _largest_remainder(total: float, weights: np.ndarray) -> np.ndarray:
    """Split a (whole) number of households over pieces in proportion to weights."""
    w = np.asarray(weights, dtype=float)
    raw = total * w / w.sum() if w.sum() > 0 else np.full(len(w), total / len(w))
    out = np.floor(raw)
    rest = int(round(total - out.sum()))
    order = np.lexsort((np.arange(len(w)), -(raw - out)))
    out[order[:rest]] += 1
    return out


def _upper(row: pd.Series, policy: GrassrootsPolicy) -> tuple[float, float]:
    """Household bounds of a grid of this village: the planner's, for 村 with the residents cap."""
    urban = row["kind"] == KIND_COMMUNITY
    lo, hi = policy.bounds(urban)
    res, hh = row["residents"], row["households"]
    if not urban and np.isfinite(res) and res > 0 and hh > 0:
        hi = max(lo, min(hi, policy.rural_residents_max * hh / res))
    return lo, hi


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
    rows: list[dict[str, object]] = []
    for _, v in villages.iterrows():
        hh = float(v["households"]) if np.isfinite(v["households"]) else 0.0
        lo, hi = _upper(v, policy)
        k = pieces_for(hh, lo, hi)
        geom = v.geometry
        if k > 1 and isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
            pieces = _split(geom, k)
            weights = shapely.area(np.array(pieces, dtype=object))
        else:
            pieces = [geom] * k
            weights = np.ones(k)
        res = float(v["residents"]) if np.isfinite(v["residents"]) else np.nan
        for piece, share in zip(pieces, _largest_remainder(hh, weights), strict=True):
            rows.append(
                {
                    "village_code": v["code"],
                    "township_code": v["township_code"],
                    "urban": v["kind"] == KIND_COMMUNITY,
                    "households": float(share),
                    "residents": res * share / hh if hh > 0 else np.nan,
                    "hi": hi,
                    "geometry": piece,
                }
            )
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=villages.crs)


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
        shared = shapely.length(shapely.intersection(geoms[a], geoms[b])) > 0.5
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
    # pieces of one village (its strips, or a point split in k) always touch each other
    for _, idx in pd.Series(np.arange(len(geoms))).groupby(village):
        ids = idx.to_numpy()
        if len(ids) > 1 and shapely.get_type_id(geoms[ids[0]]) == 0:
            pairs.append(np.column_stack([ids[:-1], ids[1:]]))
    return np.unique(np.sort(np.vstack(pairs), axis=1), axis=0) if pairs else np.empty((0, 2), int)


def _problem(
    hh: np.ndarray, xy: np.ndarray, edges: np.ndarray, lo: float, hi: float, neighbours: int
) -> LocationProblem:
    """Build the districting problem of one township and kind (blocks as clients and sites)."""
    n = len(hh)
    d = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) / 1000.0
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


#: Largest connected piece whose feasibility is decided exactly before the model runs.
_SCREEN_BLOCKS = 12


def partition_exists(hh: np.ndarray, edges: np.ndarray, lo: float, hi: float) -> bool:
    """Say whether the blocks can be split into connected groups of lo-hi households.

    Exact for up to :data:`_SCREEN_BLOCKS` blocks (every connected subset is enumerated, then
    a partition is searched over bit masks); larger inputs return True (not screened). It
    spares the model the slow proofs of infeasibility on small pieces (seconds each), and it
    uses no clock.
    """
    n = len(hh)
    if n > _SCREEN_BLOCKS:
        return True
    nbr = [0] * n
    for a, b in edges.tolist():
        nbr[a] |= 1 << b
        nbr[b] |= 1 << a
    ok = []
    for mask in range(1, 1 << n):
        load = sum(float(hh[j]) for j in range(n) if mask >> j & 1)
        if not lo <= load <= hi:
            continue
        first = mask & -mask
        seen = frontier = first
        while frontier:
            grow = 0
            for j in range(n):
                if frontier >> j & 1:
                    grow |= nbr[j]
            frontier = grow & mask & ~seen
            seen |= frontier
        if seen == mask:
            ok.append(mask)
    full = (1 << n) - 1
    memo: dict[int, bool] = {0: True}

    def can(rest: int) -> bool:
        if rest not in memo:
            low = rest & -rest
            memo[rest] = any(s & low and s & rest == s and can(rest & ~s) for s in ok)
        return memo[rest]

    return can(full)


def _solve_zone(
    hh: np.ndarray,
    xy: np.ndarray,
    edges: np.ndarray,
    bounds: tuple[float, float],
    policy: GrassrootsPolicy,
    budget: TimeBudget,
    seed: int,
) -> tuple[np.ndarray, float | None, bool]:
    """Join the connected blocks of one zone into grids; return each block's centre block.

    The lower bound is lowered step by step (``_RELAX``) when the planner's cannot hold; the bound used is
    returned when it differs from the planner's (else None), and whether a solve reached the
    safety time limit (then every block is returned as its own centre; the caller falls back).
    """
    lo, hi = bounds
    hi = max(hi, float(hh.max()))
    total = float(hh.sum())
    hit = False
    for lower in dict.fromkeys(min(lo * r, total) for r in _RELAX):  # fewer than one grid: one
        if not partition_exists(hh, edges, lower, hi):
            continue  # proven infeasible without the model
        prob = _problem(hh, xy, edges, lower, hi, policy.neighbours)
        try:
            with budget.solving():
                # no clock in the result: no time-bounded local search (HiGHS's own MIP is
                # deterministic for a given seed and thread count), and a
                # safety limit only (a zone that reaches it falls back, see _redraw)
                res = solve(
                    prob,
                    time_limit=_ZONE_SECONDS,
                    gap=_GAP,
                    heuristic_seconds=0.0,
                    seed=seed,
                )
        except (InfeasibleError, SolverError):
            continue
        if res.time_limit_reached:
            return np.arange(len(hh)), None, True
        if res.status in ("optimal", "feasible"):
            return res.assignment, (None if lower >= lo or lower == total else lower), hit
    return np.arange(len(hh)), 0.0, hit  # each block alone (always feasible, blocks <= hi)


def _zone_blocks(coarse: gpd.GeoDataFrame, ids: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Blocks of one township-and-kind whose grids the model must redraw.

    Those outside their bounds and the blocks next to them (which may give or take
    households); empty when every block is already a grid within bounds.
    """
    hh = coarse["households"].to_numpy()
    bad = ids[(hh[ids] < coarse["lo"].to_numpy()[ids]) | (hh[ids] > coarse["hi"].to_numpy()[ids])]
    if len(bad) == 0:
        return bad
    member = np.zeros(len(coarse), dtype=bool)
    member[bad] = True
    touch = member[edges[:, 0]] | member[edges[:, 1]]
    zone = np.union1d(bad, edges[touch].ravel())
    return np.intersect1d(zone, ids)


def _refine(zone: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Cut the zone's blocks in ``_REFINE`` pieces, except those too small for a grid."""
    rows: list[dict[str, object]] = []
    for _, b in zone.iterrows():
        small = b["households"] < b["lo"]
        geom = b.geometry
        pieces = [geom]
        if not small and isinstance(geom, shapely.Polygon | shapely.MultiPolygon):
            pieces = _split(geom, _REFINE)
        elif not small:
            pieces = [geom] * _REFINE
        weights = (
            shapely.area(np.array(pieces, dtype=object))
            if isinstance(geom, shapely.Polygon | shapely.MultiPolygon)
            else np.ones(len(pieces))
        )
        shares = _largest_remainder(float(b["households"]), weights)
        first = len(rows)  # the first piece of a block stands for the block in a fallback
        for piece, share in zip(pieces, shares, strict=True):
            row = b.to_dict()
            row["parent"] = first
            row["geometry"] = piece
            row["residents"] = (
                b["residents"] * share / b["households"] if b["households"] else np.nan
            )
            row["households"] = float(share)
            rows.append(row)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=zone.crs)


def _components(edges: np.ndarray, n: int) -> np.ndarray:
    """Label the connected components of a block graph."""
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def _redraw(
    zone: gpd.GeoDataFrame,
    policy: GrassrootsPolicy,
    budget: TimeBudget,
    seed: int,
    relaxed: dict[tuple[str, str], float],
) -> tuple[gpd.GeoDataFrame, int, int, int]:
    """Cut a zone's blocks finer and let the solver join them into grids.

    A connected piece of more than ``policy.grid_max_blocks`` fine blocks is not modelled (a
    deterministic size limit, not a time limit), nor is one whose model reaches the safety
    time limit: its blocks stay their villages' own grids (the deterministic fallback).

    Returns the fine blocks with their ``centre``, the problems solved, the pieces left too
    large and the pieces whose model reached the safety limit.
    """
    fine = _refine(zone).reset_index(drop=True)
    edges = _edges(fine)
    label = _components(edges, len(fine))
    xy = shapely.get_coordinates(shapely.centroid(fine.geometry.to_numpy()))
    hh = fine["households"].to_numpy()
    parent = fine["parent"].to_numpy()
    centre = np.arange(len(fine))
    urban = bool(fine["urban"].iloc[0])
    solved = too_large = timed_out = 0
    for comp in np.unique(label):
        ids = np.flatnonzero(label == comp)
        if len(ids) == 1:
            continue
        if len(ids) > policy.grid_max_blocks:
            centre[ids] = parent[ids]
            too_large += 1
            continue
        local = np.full(len(fine), -1)
        local[ids] = np.arange(len(ids))
        inside = (label[edges[:, 0]] == comp) if len(edges) else np.zeros(0, dtype=bool)
        sub = local[edges[inside]].reshape(-1, 2)
        bounds = (policy.bounds(urban)[0], float(fine["hi"].to_numpy()[ids].min()))
        got, lower, hit = _solve_zone(hh[ids], xy[ids], sub, bounds, policy, budget, seed)
        solved += 1
        if hit:
            centre[ids] = parent[ids]
            timed_out += 1
            continue
        centre[ids] = ids[got]
        if lower is not None:
            key = (str(fine["township_code"].iloc[0]), "社区" if urban else "村")
            relaxed[key] = min(lower, relaxed.get(key, lower))
    return fine.drop(columns="parent").assign(centre=centre), solved, too_large, timed_out


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
    coarse["lo"] = [policy.bounds(u)[0] for u in coarse["urban"]]
    edges = _edges(coarse) if has_geom else np.empty((0, 2), dtype=np.int64)
    relaxed: dict[tuple[str, str], float] = {}
    parts = []
    keep = np.ones(len(coarse), dtype=bool)
    solved = 0
    groups = pd.Series(np.arange(len(coarse))).groupby(
        [coarse["township_code"].to_numpy(), coarse["urban"].to_numpy()], sort=True
    )
    skipped = timed_out = 0
    fallback: set[tuple[str, bool]] = set()
    for _, idx in groups if has_geom else []:
        zone = _zone_blocks(coarse, idx.to_numpy(), edges)
        if not len(zone):
            continue
        keep[zone] = False
        fine, n, big, late = _redraw(coarse.iloc[zone], policy, budget, seed, relaxed)
        parts.append(fine)
        solved += n
        skipped += big
        timed_out += late
        if big or late:
            fallback.add(
                (str(coarse["township_code"].iloc[zone[0]]), bool(coarse["urban"].iloc[zone[0]]))
            )
    blocks = coarse[keep].reset_index(drop=True)
    blocks["centre"] = np.arange(len(blocks))
    for fine in parts:
        blocks = pd.concat(
            [blocks, fine.assign(centre=fine["centre"] + len(blocks))], ignore_index=True
        )
    blocks = blocks.drop(columns=["lo", "hi"])
    blocks = gpd.GeoDataFrame(blocks, geometry="geometry", crs=metric.crs)
    grids, blocks = _grid_table(blocks, policy, has_geom)
    notes = []
    if skipped:
        notes.append(
            f"{skipped} grid zone(s) above grassroots.grid_max_blocks = {policy.grid_max_blocks} "
            "blocks keep their villages' own grids (deviations listed per grid)"
        )
    if timed_out:
        notes.append(
            f"{timed_out} grid model(s) reached the {_ZONE_SECONDS:g} s safety limit and keep their "
            "villages' own grids: on a slower or busier machine this may differ"
        )
    if not has_geom:
        notes.append(
            "村 layer without polygons or points: each village's grids are counted, not drawn"
        )
    if relaxed:
        notes.append(
            f"grid bounds relaxed in {len(relaxed)} township(s) where they cannot hold; "
            "the grids outside the bounds are listed with their deviation"
        )
    return GridPlan(
        grids=grids,
        blocks=blocks,
        relaxed=relaxed,
        problems_solved=solved,
        zones_skipped=skipped,
        zones_timed_out=timed_out,
        fallback=fallback,
        seconds=round(time.monotonic() - t0, 3),
        solver_seconds=round(budget.solving_seconds - solving0, 3),
        notes=notes,
    )


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
    agg["villages"] = pairs.groupby("grid", sort=True)["village_code"].agg(";".join)
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
