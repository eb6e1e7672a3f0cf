"""雪亮工程 camera points (clause 17): per merged village, and a cover of the important places.

Each post-merger village plans ``camera_points_per_village`` points for every village it was
merged from (原则上按照合并前原有村数量, at least one). Where the planner gives important places
(schools, markets, crossings), the fewest points that put every place of a village within
``camera_radius_m`` of a point are chosen by the solver core's set cover
(:func:`optimizer.solver.min_cover`), candidates being the places themselves and the village's
centre point; a village whose cover needs more points than the rule gives plans the cover's
number. Places outside every village are reported as uncovered, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from optimizer.inputs.geometry import projected_crs
from optimizer.inputs.villages import VillageInputs
from optimizer.planning.budget import TimeBudget
from optimizer.rules.grassroots import GrassrootsPolicy
from optimizer.solver import min_cover

__all__ = ["CameraPlan", "plan_cameras"]


@dataclass
class CameraPlan:
    """Camera points per village and the cover of important places.

    Attributes
    ----------
    villages
        Per village: ``code``, ``township_code``, ``villages_before`` (as used, at least 1),
        ``rule_points`` (the clause-17 number), ``cover_points`` (points the place cover needs,
        0 without places), ``planned`` (the larger), ``existing`` (NaN when unknown), ``gap``
        (planned − existing, at least 0; NaN when unknown).
    points
        The cover's chosen points: ``village_code``, ``source`` (``place`` or ``centre``),
        ``name``, ``places`` (how many places it covers), point geometry (EPSG:4326); empty
        without places.
    uncovered
        Places no point covers: ``name``, ``kind``, ``reason`` (Chinese), point geometry.
    notes
        Assumptions (for example villages without ``villages_before``).
    """

    villages: pd.DataFrame
    points: gpd.GeoDataFrame
    uncovered: gpd.GeoDataFrame
    notes: list[str] = field(default_factory=list)


def _cover(
    villages: gpd.GeoDataFrame,
    places: gpd.GeoDataFrame,
    radius: float,
    budget: TimeBudget,
) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame, pd.Series]:
    """Choose the fewest points covering every place inside a village (metric CRS inputs)."""
    polys = villages.geometry.to_numpy()
    pts = places.geometry.to_numpy()
    tree = shapely.STRtree(polys)
    p_idx, v_idx = tree.query(pts, predicate="within")
    home = np.full(len(pts), -1)
    home[p_idx] = v_idx  # a place on a shared border goes to the last village listed
    inside = np.flatnonzero(home >= 0)
    uncovered = places.iloc[np.flatnonzero(home < 0)].copy()
    uncovered["reason"] = "不在任何村（社区）范围内，无法规划点位"
    # candidates: every place inside a village, then the village centres
    centres = shapely.point_on_surface(polys)
    cand_geom = np.concatenate([pts[inside], centres])
    cand_village = np.concatenate([home[inside], np.arange(len(polys))])
    cand_source = ["place"] * len(inside) + ["centre"] * len(polys)
    cand_name = list(places["name"].to_numpy()[inside]) + list(villages["name"])
    ctree = shapely.STRtree(cand_geom)
    sets: list[list[int]] = [[] for _ in range(len(cand_geom))]
    a, b = ctree.query(pts[inside], predicate="dwithin", distance=radius)
    for i, c in zip(a.tolist(), b.tolist(), strict=True):
        if cand_village[c] == home[inside[i]]:
            sets[c].append(i)
    chosen = min_cover(sets, len(inside), time_limit=budget.remaining()) if len(inside) else []
    points = gpd.GeoDataFrame(
        {
            "village_code": villages["code"].to_numpy()[cand_village[chosen]],
            "source": [cand_source[k] for k in chosen],
            "name": [cand_name[k] for k in chosen],
            "places": [len(sets[k]) for k in chosen],
        },
        geometry=list(cand_geom[chosen]),
        crs=villages.crs,
    )
    per_village = points.groupby("village_code").size()
    return points, uncovered, per_village


def plan_cameras(
    villages: VillageInputs, policy: GrassrootsPolicy, *, budget: TimeBudget
) -> CameraPlan:
    """Plan the 雪亮工程 points of every village (clause 17).

    Parameters
    ----------
    villages
        The village layer, with its important places when given.
    policy
        Points per pre-merger village and the cover radius.
    budget
        The planning call's time budget (the cover gets what remains).

    Returns
    -------
    CameraPlan
        Points per village with the gap to the existing ones, and the cover of the places.
    """
    v = villages.villages
    notes: list[str] = []
    before = v["villages_before"]
    if before.isna().any():
        notes.append(
            f"{int(before.isna().sum())} 村（社区）无合并前村数：按 1 个原村计算雪亮工程点位"
        )
    n_before = np.maximum(before.fillna(1.0).to_numpy(), 1.0)
    table = pd.DataFrame(
        {
            "code": v["code"],
            "township_code": v["township_code"],
            "villages_before": n_before,
            "rule_points": n_before * policy.camera_points_per_village,
        }
    )
    empty = gpd.GeoDataFrame(
        {"village_code": [], "source": [], "name": [], "places": []},
        geometry=[],
        crs="EPSG:4326",
    )
    points, uncovered = (
        empty,
        gpd.GeoDataFrame({"name": [], "kind": [], "reason": []}, geometry=[], crs="EPSG:4326"),
    )
    cover = pd.Series(0, index=v["code"], dtype=float)
    places = villages.places
    if places is not None and len(places) and villages.has_polygons:
        crs = projected_crs(v)
        points, uncovered, per = _cover(
            v.to_crs(crs), places.to_crs(crs), policy.camera_radius_m, budget
        )
        cover = cover.add(per.astype(float), fill_value=0.0)
        points, uncovered = points.to_crs("EPSG:4326"), uncovered.to_crs("EPSG:4326")
    elif places is not None and len(places):
        notes.append("重要场所覆盖需要村（社区）边界面：未计算")
    table["cover_points"] = cover.reindex(v["code"]).fillna(0.0).to_numpy()
    table["planned"] = np.maximum(table["rule_points"], table["cover_points"])
    table["existing"] = v["cameras"].to_numpy()
    table["gap"] = np.where(
        table["existing"].notna(), np.maximum(0.0, table["planned"] - table["existing"]), np.nan
    )
    return CameraPlan(villages=table, points=points, uncovered=uncovered, notes=notes)
