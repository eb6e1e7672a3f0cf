"""Independent checks of plans for all three facility types (contiguity, courts, staffing).

A sibling of :mod:`plan_checker`: nothing here imports :mod:`optimizer.plan`,
:mod:`optimizer.results`, :mod:`optimizer.checks`, :mod:`optimizer.locate` or
:mod:`optimizer.staffing`. Numbers are recomputed from the raw inputs and the decisions a plan
reports (``plan_to_dict(plan)``); the adjacency graph comes from
:func:`optimizer.spatial.network.township_adjacency` (its edges only: connectivity is a BFS written here)
and the seats from :func:`optimizer.inputs.geometry.township_seats`.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
from pyproj import Transformer
from shapely.geometry import box

from optimizer.inputs import geometry as geo

POLICE, JUDICIAL, COURT = "police_station", "judicial_office", "court"
TYPES = (POLICE, JUDICIAL, COURT)
SIDE = 0.05


# ------------------------------------------------------------------ graph helpers


def neighbours(graph: nx.Graph, *, within_county: bool = True) -> dict[str, set[str]]:
    """Adjacency lists from the graph's edge list (cross-county edges dropped by default)."""
    adj: dict[str, set[str]] = {str(n): set() for n in graph.nodes}
    for a, b, d in graph.edges(data=True):
        if within_county and d.get("cross_county", False):
            continue
        adj[str(a)].add(str(b))
        adj[str(b)].add(str(a))
    return adj


def is_connected(nodes: Iterable[str], adj: Mapping[str, set[str]]) -> bool:
    """Breadth-first search restricted to ``nodes``."""
    todo = set(nodes)
    if not todo:
        return True
    start = next(iter(todo))
    seen = {start}
    queue = deque([start])
    while queue:
        u = queue.popleft()
        for w in adj.get(u, ()):
            if w in todo and w not in seen:
                seen.add(w)
                queue.append(w)
    return seen == todo


def jurisdictions(plan: Mapping[str, Any], ftype: str) -> dict[str, list[str]]:
    """Kept facility id -> the township codes ``served_by`` gives it."""
    out: dict[str, list[str]] = defaultdict(list)
    for t in plan["townships"]:
        s = (t.get("served_by") or {}).get(ftype)
        if s is not None:
            out[s].append(t["code"])
    return dict(out)


def contiguity_violations(plan: Mapping[str, Any], graph: nx.Graph, ftype: str) -> list[str]:
    """Every kept facility's jurisdiction is connected and holds the facility's own township."""
    v = []
    adj = neighbours(graph)
    areas = jurisdictions(plan, ftype)
    for f in plan["facilities"]:
        if f["type"] != ftype:
            continue
        if f["decision"] != "keep":
            if f["id"] in areas:
                v.append(f"closed {f['id']} serves {areas[f['id']]}")
            continue
        area = areas.get(f["id"], [])
        if f["township_code"] not in area:
            v.append(f"{f['id']} does not serve its own township {f['township_code']}: {area}")
        if not is_connected(area, adj):
            v.append(f"{f['id']} jurisdiction {sorted(area)} is not connected")
    return v


# ------------------------------------------------------------------ geometry


def utm_epsg(lon: float) -> int:
    return 32600 + int((lon + 180.0) // 6.0) + 1


def seats_xy(townships: gpd.GeoDataFrame) -> dict[str, tuple[float, float]]:
    """Township seat (``geo.township_seats``) in metres, in the UTM zone of the data."""
    seats = geo.township_seats(townships)
    lon = float(townships.to_crs("EPSG:4326").total_bounds[[0, 2]].mean())
    tr = Transformer.from_crs("EPSG:4326", utm_epsg(lon), always_xy=True)
    x, y = tr.transform(seats.x.to_numpy(), seats.y.to_numpy())
    return {str(c): (float(a), float(b)) for c, a, b in zip(townships["code"], x, y, strict=True)}


def sites_xy(facilities: pd.DataFrame, lon0: float) -> dict[str, tuple[float, float]]:
    tr = Transformer.from_crs("EPSG:4326", utm_epsg(lon0), always_xy=True)
    x, y = tr.transform(facilities["lon"].to_numpy(float), facilities["lat"].to_numpy(float))
    return {str(i): (float(a), float(b)) for i, a, b in zip(facilities["id"], x, y, strict=True)}


def current_jurisdiction(
    townships: gpd.GeoDataFrame, facilities: pd.DataFrame, ftype: str, circuity: float = 1.3
) -> dict[str, str]:
    """Township -> the nearest facility of the type in its county today (km × circuity)."""
    lon0 = float(townships.to_crs("EPSG:4326").total_bounds[[0, 2]].mean())
    seats = seats_xy(townships)
    fac = facilities[facilities["type"] == ftype]
    sites = sites_xy(fac, lon0)
    county_of = dict(zip(fac["id"].astype(str), fac["county_code"].astype(str), strict=True))
    out = {}
    for code, county in zip(townships["code"], townships["county_code"], strict=True):
        best = None
        for fid, (x, y) in sites.items():
            if county_of[fid] != str(county):
                continue
            d = math.hypot(seats[code][0] - x, seats[code][1] - y) * circuity / 1000.0
            if best is None or d < best[0]:
                best = (d, fid)
        if best is not None:
            out[str(code)] = best[1]
    return out


def court_neighbours(current: Mapping[str, str], graph: nx.Graph) -> dict[str, set[str]]:
    """Courts whose current jurisdictions touch along a within-county adjacency edge."""
    out: dict[str, set[str]] = defaultdict(set)
    for a, nbrs in neighbours(graph).items():
        for b in nbrs:
            fa, fb = current.get(a), current.get(b)
            if fa and fb and fa != fb:
                out[fa].add(fb)
    return out


def court_merge_violations(
    plan: Mapping[str, Any], townships: gpd.GeoDataFrame, facilities: pd.DataFrame, graph: nx.Graph
) -> list[str]:
    """Each township goes to its current court or one whose current jurisdiction touches it."""
    circuity = float(plan["policy"]["court"]["circuity"])
    current = current_jurisdiction(townships, facilities, COURT, circuity)
    nb = court_neighbours(current, graph)
    v = []
    for t in plan["townships"]:
        now = t["served_by"].get(COURT)
        before = current.get(t["code"])
        if before is None:
            if now is not None:
                v.append(f"{t['code']}: no court in its county today, now {now}")
            continue
        if now != before and now not in nb[before]:
            v.append(
                f"{t['code']}: court {before} -> {now}, which does not touch ({sorted(nb[before])})"
            )
    return v


# ------------------------------------------------------------------ staffing


def unit_minimum(ftype: str, kind: str) -> int:
    if ftype == POLICE:
        return {"街道": 10, "镇": 10, "乡": 5}.get(kind, 5)
    return 2 if ftype == JUDICIAL else 3


def kind_of(code: str) -> str:
    n = int(code[6:9])
    return "街道" if n < 100 else "镇" if n < 200 else "乡" if n < 400 else "其他"


def staffing_violations(plan: Mapping[str, Any], office_staff: int = 2) -> list[str]:
    """Minimum per kept unit or the county's shortfall listed (not_met); staff conserved per county.

    Conservation: the kept units' proposed staff, the 警务室 posts and the unplaced staff equal
    today's units' staff plus the staff moved down (下沉) from the county organs.
    """
    v = []
    checks = plan["checks"]
    by_county = plan["metrics"]["staffing"]["by_county"]
    rows = {(r["type"], r["county_code"]): r for r in by_county}
    for ftype, clause in ((POLICE, "6"), (JUDICIAL, "8"), (COURT, "12")):
        fac = [f for f in plan["facilities"] if f["type"] == ftype]
        if not fac:
            continue
        minimum_check = [
            c
            for c in checks
            if c["facility_type"] == ftype and c["clause"] == clause and "each kept" in c["rule"]
        ]
        if not minimum_check:
            v.append(f"{ftype}: no clause-{clause} minimum-staff check")
            continue
        listed = {e["id"]: e for c in minimum_check for e in c["violations"]}
        if any(c["status"] != ("not_met" if listed else "met") for c in minimum_check):
            v.append(f"{ftype}: minimum-staff status does not match its violations")
        deficit: dict[str, float] = defaultdict(float)
        for f in fac:
            if f["decision"] != "keep":
                continue
            want = unit_minimum(ftype, kind_of(f["township_code"]))
            if f["minimum_staff"] != want:
                v.append(f"{f['id']}: minimum_staff {f['minimum_staff']}, expected {want}")
            if f["proposed_staff"] is None or f["proposed_staff"] < want:
                deficit[f["county_code"]] += want - (f["proposed_staff"] or 0)
        for county, d in deficit.items():
            entry = listed.get(county, {})
            if entry.get("shortfall") != d:
                v.append(f"{ftype} county {county}: units short by {d:g}, listed {entry!r}")
        if set(listed) != set(deficit):
            v.append(f"{ftype}: counties listed short {sorted(listed)} != {sorted(deficit)}")
        # conservation
        counties = sorted({f["county_code"] for f in fac})
        for county in counties:
            here = [f for f in fac if f["county_code"] == county]
            current = sum(f["staff"] or 0 for f in here)
            kept = sum(f["proposed_staff"] or 0 for f in here if f["decision"] == "keep")
            posts = (
                sum(min(f["staff"] or 0, office_staff) for f in here if f["decision"] == "close")
                if ftype == POLICE and any(f["decision"] == "keep" for f in here)
                else 0
            )
            row = rows.get((ftype, county))
            if row is None:
                v.append(f"{ftype} county {county}: no staffing row")
                continue
            unplaced = row["unplaced"] or 0
            down = row.get("transfer_down") or 0  # staff moved down (下沉) from the county organs
            if abs(kept + posts + unplaced - current - down) > 1e-6:
                v.append(
                    f"{ftype} county {county}: proposed {kept} + posts {posts} + unplaced "
                    f"{unplaced} != current {current} + moved down {down}"
                )
            if abs((row["proposed"] or 0) - kept) > 1e-6:
                v.append(f"{ftype} county {county}: row proposed {row['proposed']} != {kept}")
            if abs((row["posts"] or 0) - posts) > 1e-6:
                v.append(f"{ftype} county {county}: row posts {row['posts']} != {posts}")
    return v


# ------------------------------------------------------------------ random data


def random_data(
    rng: np.random.Generator, *, courts: bool = True
) -> tuple[gpd.GeoDataFrame, pd.DataFrame, pd.DataFrame]:
    """1-2 counties side by side, each a block of 2-9 square townships with all three types."""
    counties = ["510122", "513222"][: int(rng.integers(1, 3))]
    towns: list[dict[str, Any]] = []
    geoms = []
    facs: list[dict[str, Any]] = []
    x0 = 104.0
    for county in counties:
        cols, rows = int(rng.integers(2, 4)), int(rng.integers(1, 4))
        suffixes = ["001"] + [f"{100 + k}" for k in range(4)] + [f"{200 + k}" for k in range(4)]
        cells = [(c, r) for c in range(cols) for r in range(rows)]
        court_cells = set()
        if courts:
            n_courts = int(rng.integers(1, min(4, len(cells)) + 1))
            court_cells = {
                cells[k] for k in rng.choice(len(cells), size=n_courts, replace=False).tolist()
            }
        for k, (c, r) in enumerate(cells):
            code = county + suffixes[k]
            x, y = x0 + c * SIDE, 30.0 + r * SIDE
            geoms.append(box(x, y, x + SIDE, y + SIDE))
            pop = float(rng.integers(3_000, 50_000))
            towns.append(
                {
                    "code": code,
                    "name": f"乡镇{code[-4:]}",
                    "population": pop,
                    "incidents": float(rng.integers(5, 200)),
                    "cases": float(rng.integers(10, 400)),
                }
            )
            cx, cy = x + SIDE / 2, y + SIDE / 2
            n_ps = 1 + int(rng.random() < 0.3)
            for m in range(n_ps):
                facs.append(
                    {
                        "type": POLICE,
                        "township_code": code,
                        "lon": round(cx + 0.01 * m, 6),
                        "lat": round(cy + 0.003 * m, 6),
                        "staff": int(rng.integers(2, 16)),
                    }
                )
            facs.append(
                {
                    "type": JUDICIAL,
                    "township_code": code,
                    "lon": round(cx - 0.005, 6),
                    "lat": round(cy - 0.0025, 6),
                    "staff": int(rng.integers(1, 4)),
                }
            )
            if (c, r) in court_cells:
                facs.append(
                    {
                        "type": COURT,
                        "township_code": code,
                        "lon": round(cx + 0.005 + 0.004 * rng.random(), 6),
                        "lat": round(cy + 0.0025, 6),
                        "staff": int(rng.integers(2, 7)),
                    }
                )
        x0 += cols * SIDE
    towns_gdf = gpd.GeoDataFrame(pd.DataFrame(towns), geometry=geoms, crs="EPSG:4490")
    fac = pd.DataFrame(facs)
    prefix = {POLICE: "PS", JUDICIAL: "JO", COURT: "CT"}
    fac.insert(0, "id", [f"{prefix[t]}{k:02d}" for k, t in enumerate(fac["type"])])
    fac.insert(2, "name", [f"{i}单位" for i in fac["id"]])
    cty = pd.DataFrame(
        {
            "county_code": counties,
            "police_total": [float(rng.integers(50, 300)) for _ in counties],
            "judicial_establishment": [float(rng.integers(10, 40)) for _ in counties],
            "new_police_recruits": [float(rng.integers(0, 20)) for _ in counties],
        }
    )
    return towns_gdf, fac, cty


def write_random(folder: Path, seed: int, **kw: Any) -> Path:
    from conftest import write_data_dir

    towns, fac, cty = random_data(np.random.default_rng(seed), **kw)
    return write_data_dir(folder, townships=towns, facilities=fac, counties=cty)
