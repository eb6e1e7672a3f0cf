"""SYNTHETIC villages (村 / 社区) nested in the synthetic townships, before and after the reform.

Sichuan's village reform (2020) cut 建制村 from 45,447 to 26,369 (−42 %) and 村民小组 from 386,120
to 232,407, while 社区 grew from 7,804 to 8,261. This module builds, inside every synthetic
township of a :class:`~optimizer.sample.build.Sample`, the pre-merger villages (Voronoi cells of
the 2018 township cells, as many as the cell's ``villages``), groups them into the post-merger
villages (contiguous groups, as many as the reform's ratio gives per county), adds the 社区
(their count per county from the census urban population, the few new ones formed 村改居 from
merged villages near the seat), and splits each township's ``households`` over them. It also
draws the rosters a planner would bring: existing camera points (雪亮工程), full-time mediators
of the 调委会, grid workers and disputes.

Each county uses its own random stream ``default_rng([seed, county_code, 17])``, independent of
the stream that built its townships, so adding villages changes none of the township files.
``docs/sample.md`` gives the calibration.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from optimizer.sample.cells import snap, voronoi_cells
from optimizer.sample.formats import OUTPUT_CRS
from optimizer.sample.frame import WORK_CRS, Frame, load_frame
from optimizer.schema import KIND_STREET, KIND_TOWN

__all__ = [
    "VILLAGE_BEFORE_FIELDS",
    "VILLAGE_FIELDS",
    "Villages",
    "build_villages",
]

# --- calibration constants (see docs/sample.md) -------------------------------------------------
#: 建制村 before and after the reform, province totals.
VILLAGES_BEFORE, VILLAGES_AFTER = 45_447, 26_369
#: 社区 before and after the reform, province totals.
COMMUNITIES_BEFORE, COMMUNITIES_AFTER = 7_804, 8_261
#: 村民小组 after the reform, province total (a count per village, no geometry).
GROUPS_AFTER = 232_407
#: Weight of a township kind in the allocation of the county's 社区.
_COMMUNITY_WEIGHT = {KIND_STREET: 8.0, KIND_TOWN: 1.0}
_COMMUNITY_WEIGHT_OTHER = 0.15
#: Households of a 社区 relative to a 村 (times a lognormal spread).
_COMMUNITY_HOUSEHOLDS = 2.5
#: Share of committees with a full-time mediator, per county: uniform between these.
_MEDIATOR_SHARE = (0.08, 0.40)
#: Existing camera points per pre-merger village (Poisson mean).
_CAMERAS_PER_VILLAGE = 0.8
#: Disputes (矛盾纠纷) a year per resident, and the gamma shape of their spread.
_DISPUTE_RATE, _DISPUTE_SHAPE = 4.0e-3, 3.0

VILLAGE_FIELDS: tuple[str, ...] = (
    "code",
    "name",
    "township_code",
    "kind",
    "households",
    "residents",
    "villages_before",
    "groups",
    "cameras",
    "mediators_fulltime",
    "grid_workers_fulltime",
    "grid_workers_parttime",
    "disputes",
)
VILLAGE_BEFORE_FIELDS: tuple[str, ...] = (
    "code",
    "name",
    "township_code_2018",
    "kind",
    "merged_into",
    "households",
)

_SYLLABLES = tuple("和平安兴隆福寿康宁新民丰乐永红光明星河山水龙凤桥石林花园东西南北中")


@dataclass
class Villages:
    """The SYNTHETIC village layer of a sample.

    Attributes
    ----------
    after
        Post-merger villages and communities: ``VILLAGE_FIELDS`` and polygons (EPSG:4490).
    before
        Pre-merger villages and communities (``VILLAGE_BEFORE_FIELDS``, no geometry), each with
        the post-merger code it was merged into (``merged_into``; blank for none).
    """

    after: gpd.GeoDataFrame
    before: pd.DataFrame


def _largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer total in proportion to weights (largest remainder, ties by index)."""
    w = np.asarray(weights, dtype=float)
    if total <= 0 or w.sum() <= 0:
        return np.zeros(len(w), dtype=np.int64)
    raw = total * w / w.sum()
    out = np.floor(raw).astype(np.int64)
    rest = total - int(out.sum())
    order = np.lexsort((np.arange(len(w)), -(raw - out)))
    out[order[:rest]] += 1
    return out


def _name(rng: np.random.Generator, used: set[str], suffix: str) -> str:
    """Draw a two-character synthetic name not used yet in the township."""
    for _ in range(200):
        a, b = rng.choice(len(_SYLLABLES), size=2, replace=False)
        name = f"{_SYLLABLES[a]}{_SYLLABLES[b]}{suffix}"
        if name not in used:
            used.add(name)
            return name
    name = f"第{len(used) + 1}{suffix}"
    used.add(name)
    return name


def _points_in(rng: np.random.Generator, poly: shapely.Geometry, n: int, near: float) -> np.ndarray:
    """Draw ``n`` distinct points in ``poly``; the first ones clustered around its centre."""
    minx, miny, maxx, maxy = poly.bounds
    centre = np.array(shapely.get_coordinates(poly.representative_point())[0])
    out = np.empty((0, 2))
    spread = near * np.sqrt(poly.area)
    for _ in range(200):
        if len(out) >= n:
            break
        if near > 0:
            xy = centre + rng.normal(0.0, spread, size=(8 * n + 32, 2))
        else:
            xy = rng.uniform([minx, miny], [maxx, maxy], size=(8 * n + 32, 2))
        out = np.vstack([out, xy[shapely.contains_xy(poly, xy[:, 0], xy[:, 1])]])
        spread *= 1.5
    return np.unique(out[:n], axis=0) if len(out) >= n else out


def _cell_units(
    rng: np.random.Generator, cell: shapely.Geometry, n_comm: int, n_vill: int
) -> tuple[np.ndarray, np.ndarray]:
    """Cut one 2018 township cell into ``n_comm`` 社区 (near its centre) and ``n_vill`` 村."""
    n = n_comm + n_vill
    if n == 1:
        return np.array([cell], dtype=object), np.array([n_comm == 1])
    pts = np.vstack(
        [_points_in(rng, cell, n_comm, 0.08), _points_in(rng, cell, n_vill, 0.0)]
    ).reshape(-1, 2)
    if len(np.unique(pts, axis=0)) < n:  # a degenerate draw: spread the points evenly
        pts = _points_in(rng, cell, n, 0.0)
    is_comm = np.arange(len(pts)) < n_comm
    return voronoi_cells(cell, pts), is_comm


def _touching(geoms: np.ndarray) -> list[set[int]]:
    """Return, for each polygon, the polygons it shares a border with."""
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    nbrs: list[set[int]] = [set() for _ in range(len(geoms))]
    for i, j in zip(left.tolist(), right.tolist(), strict=True):
        if i < j and shapely.length(shapely.intersection(geoms[i], geoms[j])) > 1.0:
            nbrs[i].add(j)
            nbrs[j].add(i)
    return nbrs


def _group(rng: np.random.Generator, geoms: np.ndarray, k: int) -> np.ndarray:
    """Group polygons into ``k`` contiguous groups by growing the smallest group first."""
    n = len(geoms)
    group = np.full(n, -1, dtype=np.int64)
    if n == 0 or k <= 0:
        return group
    k = min(k, n)
    nbrs = _touching(geoms)
    seeds = rng.choice(n, size=k, replace=False)
    group[seeds] = np.arange(k)
    sizes = np.ones(k, dtype=np.int64)
    stuck: set[int] = set()
    while (group < 0).any() and len(stuck) < k:
        g = min((g for g in range(k) if g not in stuck), key=lambda g: (sizes[g], g))
        frontier = sorted({j for i in np.flatnonzero(group == g) for j in nbrs[i] if group[j] < 0})
        if not frontier:
            stuck.add(g)
            continue
        group[frontier[int(rng.integers(len(frontier)))]] = g
        sizes[g] += 1
    # pieces no seed reaches (cut off from the others) form groups of their own
    for i in np.flatnonzero(group < 0).tolist():
        if group[i] >= 0:
            continue
        g = int(group.max()) + 1
        stack = [i]
        group[i] = g
        while stack:
            for j in nbrs[stack.pop()]:
                if group[j] < 0:
                    group[j] = g
                    stack.append(j)
    return group


@dataclass
class _Township:
    """What one post-merger township brings: its row and its 2018 cells (metric CRS)."""

    row: pd.Series
    cells: gpd.GeoDataFrame  # 2018 cells merged into it, with ``villages``
    n_villages: int  # 建制村 after the reform
    n_communities: int  # 社区 after the reform


def _township_villages(
    rng: np.random.Generator, t: _Township, household_size: float, mediator_share: float
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Build the villages of one township: the 2018 units, their groups, the rosters."""
    converted = int(rng.binomial(t.n_communities, 1.0 - COMMUNITIES_BEFORE / COMMUNITIES_AFTER))
    comm_before = t.n_communities - converted
    weights = np.array(
        [
            float(pop) * (3.0 if kind == KIND_STREET else 1.0)
            for pop, kind in zip(t.cells["population"], t.cells["kind"], strict=True)
        ]
    )
    comm_per_cell = _largest_remainder(comm_before, weights + 1.0)
    geoms, is_comm, cell_code = [], [], []
    for (_, cell), n_comm in zip(t.cells.iterrows(), comm_per_cell, strict=True):
        n_vill = int(cell["villages"])
        if n_comm + n_vill == 0:
            n_vill = 1 if cell["kind"] != KIND_STREET else 0
            n_comm = 1 - n_vill
        g, c = _cell_units(rng, cell.geometry, int(n_comm), n_vill)
        geoms += list(g)
        is_comm += list(c)
        cell_code += [cell["code"]] * len(g)
    geoms_a = np.array(geoms, dtype=object)
    comm = np.array(is_comm)
    post = np.full(len(geoms_a), -1, dtype=np.int64)
    post[comm] = np.arange(comm.sum())
    vill_idx = np.flatnonzero(~comm)
    k_vill = min(max(t.n_villages + converted, 1), len(vill_idx)) if len(vill_idx) else 0
    groups = _group(rng, geoms_a[vill_idx], k_vill)
    k_vill = int(groups.max()) + 1 if len(groups) else 0
    post[vill_idx] = comm.sum() + groups
    n_post = int(comm.sum()) + k_vill
    # 村改居: the merged villages nearest the township's centre become 社区
    centre = t.row.geometry.representative_point()
    post_geom = [shapely.union_all(geoms_a[post == p]) for p in range(n_post)]
    post_comm = np.arange(n_post) < comm.sum()
    if converted and k_vill > 1:
        vill_posts = np.arange(int(comm.sum()), n_post)
        dist = shapely.distance(np.array(post_geom, dtype=object)[vill_posts], centre)
        post_comm[vill_posts[np.argsort(dist, kind="stable")[: min(converted, k_vill - 1)]]] = True
    hh_w = rng.lognormal(0.0, 0.35, n_post) * np.where(post_comm, _COMMUNITY_HOUSEHOLDS, 1.0)
    households = _largest_remainder(int(t.row["households"]), hh_w)
    return _rows(
        rng,
        t,
        post_geom,
        post_comm,
        post,
        households,
        cell_code,
        comm,
        household_size,
        mediator_share,
    )


def _rows(
    rng: np.random.Generator,
    t: _Township,
    post_geom: list[shapely.Geometry],
    post_comm: np.ndarray,
    post: np.ndarray,
    households: np.ndarray,
    cell_code: list[str],
    comm: np.ndarray,
    household_size: float,
    mediator_share: float,
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Turn one township's units into the rows of the two tables (codes, names, rosters)."""
    code = str(t.row["code"])
    order = np.lexsort((np.arange(len(post_geom)), ~post_comm))  # 社区 first
    used: set[str] = set()
    after: list[dict[str, object]] = []
    before: list[dict[str, object]] = []
    counters = {True: 0, False: 200}
    pre_counter: dict[str, dict[bool, int]] = {}
    for p in order.tolist():
        is_c = bool(post_comm[p])
        counters[is_c] += 1
        pcode = f"{code}{counters[is_c]:03d}"
        members = np.flatnonzero(post == p)
        hh = int(households[p])
        residents = int(round(hh * household_size * rng.lognormal(0.0, 0.05)))
        n_before = len(members)
        rural = not is_c
        fulltime = rng.poisson(hh / 450.0) if is_c else int(rng.random() < 0.1)
        after.append(
            {
                "code": pcode,
                "name": _name(rng, used, "社区" if is_c else "村"),
                "township_code": code,
                "kind": "社区" if is_c else "村",
                "households": hh,
                "residents": residents,
                "villages_before": n_before,
                "groups": max(1, int(round(hh / 85.0 * rng.lognormal(0.0, 0.2)))) if rural else 0,
                "cameras": int(rng.poisson(_CAMERAS_PER_VILLAGE * max(n_before, 1))),
                "mediators_fulltime": int(rng.random() < mediator_share),
                "grid_workers_fulltime": int(fulltime),
                "grid_workers_parttime": int(rng.poisson(hh / 350.0)) if rural else 0,
                "disputes": int(
                    rng.poisson(
                        residents * _DISPUTE_RATE * rng.gamma(_DISPUTE_SHAPE) / _DISPUTE_SHAPE
                    )
                ),
                "geometry": post_geom[p],
            }
        )
        split = _largest_remainder(hh, rng.lognormal(0.0, 0.3, len(members)))
        for m, mh in zip(members.tolist(), split.tolist(), strict=True):
            cc = cell_code[m]
            ctr = pre_counter.setdefault(cc, {True: 0, False: 200})
            ctr[bool(comm[m])] += 1
            before.append(
                {
                    "code": f"{cc}{ctr[bool(comm[m])]:03d}",
                    "name": _name(rng, used, "社区" if comm[m] else "村"),
                    "township_code_2018": cc,
                    "kind": "社区" if comm[m] else "村",
                    "merged_into": pcode,
                    "households": int(mh),
                }
            )
    return after, before


def _county_counts(frame: Frame, sample_t: pd.DataFrame, county: str) -> tuple[int, int]:
    """Return the county's 建制村 and 社区 after the reform (its shares of the province)."""
    vb = int(sample_t["villages_before"].sum())
    villages = round(vb * VILLAGES_AFTER / VILLAGES_BEFORE)
    pop = frame.population
    urban = float(pop["urban"].get(county, 0.0)) if county in pop.index else 0.0
    communities = round(COMMUNITIES_AFTER * urban / float(pop["urban"].sum()))
    return villages, max(communities, int((sample_t["kind"] == KIND_STREET).sum()))


def _county(
    frame: Frame, towns: gpd.GeoDataFrame, before: gpd.GeoDataFrame, county: str, seed: int
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Build the villages of one county from its own random stream."""
    rng = np.random.default_rng([seed, int(county), 17])
    n_vill, n_comm = _county_counts(frame, towns, county)
    kinds = towns["kind"].to_numpy()
    w_comm = np.array([_COMMUNITY_WEIGHT.get(k, _COMMUNITY_WEIGHT_OTHER) for k in kinds])
    comm = _largest_remainder(n_comm, w_comm * (towns["population"].to_numpy() + 1.0))
    comm = np.maximum(comm, (kinds == KIND_STREET).astype(np.int64))
    vill = _largest_remainder(n_vill, towns["villages_before"].to_numpy(dtype=float))
    vill = np.where(towns["villages_before"].to_numpy() > 0, np.maximum(vill, 1), 0)
    size = float(frame.population["household_size"].get(county, 2.8))
    share = float(rng.uniform(*_MEDIATOR_SHARE))
    after: list[dict[str, object]] = []
    pre: list[dict[str, object]] = []
    for i, (_, row) in enumerate(towns.iterrows()):
        cells = before[before["merged_into"] == row["code"]].sort_values("code")
        t = _Township(row=row, cells=cells, n_villages=int(vill[i]), n_communities=int(comm[i]))
        a, b = _township_villages(rng, t, size, share)
        after += a
        pre += b
    return after, pre


def build_villages(
    townships: gpd.GeoDataFrame,
    townships_before: gpd.GeoDataFrame,
    *,
    seed: int,
    frame: Frame | None = None,
) -> Villages:
    """Build the SYNTHETIC villages of a sample's townships.

    Parameters
    ----------
    townships, townships_before
        The sample's post- and pre-merger townships (EPSG:4490), as
        :func:`~optimizer.sample.build.build_sample` makes them.
    seed
        The sample's seed.
    frame
        The real frame (read when not given), for the census urban population and household
        size.

    Returns
    -------
    Villages
        Post-merger villages with polygons nested in their townships, and the pre-merger ones
        with the post-merger code each was merged into; sorted by code.
    """
    frame = load_frame() if frame is None else frame
    towns = townships.to_crs(WORK_CRS)
    before = townships_before.to_crs(WORK_CRS)
    after_rows: list[dict[str, object]] = []
    before_rows: list[dict[str, object]] = []
    for county in sorted(towns["county_code"].unique()):
        a, b = _county(
            frame,
            towns[towns["county_code"] == county].sort_values("code"),
            before[before["county_code"] == county],
            str(county),
            seed,
        )
        after_rows += a
        before_rows += b
    after = gpd.GeoDataFrame(after_rows, geometry="geometry", crs=WORK_CRS).to_crs(OUTPUT_CRS)
    after["geometry"] = [snap(g) for g in after.geometry]
    after = after.sort_values("code", ignore_index=True)
    pre = pd.DataFrame(before_rows, columns=list(VILLAGE_BEFORE_FIELDS))
    return Villages(
        after=after[[*VILLAGE_FIELDS, "geometry"]],
        before=pre.sort_values("code", ignore_index=True),
    )
