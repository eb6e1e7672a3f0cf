"""Below the township (clauses 13-18): grids and their workers, 综治中心, 雪亮工程, mediators.

:func:`build_grassroots` runs the grid model (:mod:`optimizer.planning.grids`) and the camera
plan (:mod:`optimizer.planning.cameras`), consolidates the 综治中心 of merged-away townships,
ranks the village committees for the next full-time mediators, and checks each clause. Every
figure is recomputed here from the tables, not read from the models.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from optimizer.inputs import Inputs
from optimizer.inputs.geometry import projected_crs
from optimizer.inputs.villages import VillageInputs
from optimizer.planning.budget import TimeBudget
from optimizer.planning.cameras import CameraPlan, plan_cameras
from optimizer.planning.grids import GridPlan, plan_grids
from optimizer.report.checks import Check, make_check
from optimizer.rules import Policy
from optimizer.rules.grassroots import GrassrootsPolicy

__all__ = ["GRASSROOTS", "GrassrootsReport", "build_grassroots", "grassroots_check"]

#: The ``facility_type`` of the grassroots checks in ``plan.json``.
GRASSROOTS = "grassroots"


def grassroots_check(
    clause: str,
    rule: str,
    target: Any,
    actual: Any,
    *,
    violations: list[dict[str, Any]] | None = None,
    exceptions: list[dict[str, Any]] | None = None,
    notes: list[dict[str, Any]] | None = None,
    principle: bool = True,
) -> Check:
    """Build one grassroots check; its status is decided from its breaches (``make_check``).

    Parameters
    ----------
    clause, rule, target, actual
        As :class:`~optimizer.report.checks.Check`.
    violations
        Breaches no admissible reason covers (``id``, ``reason``): the status is ``not_met``.
    exceptions
        Admissible breaches of a 原则上 rule (``id``, ``reason``); ``by`` is ``model`` unless
        given (the model found no alternative under the other rules).
    notes
        Facts that are not breaches.
    principle
        Whether the clause says 原则上 (exceptions may stand).

    Returns
    -------
    Check
        ``met`` without breaches, ``exceptions`` when every breach is listed with its reason,
        ``not_met`` otherwise.
    """
    listed = [{"by": "model", **e} for e in exceptions or []]
    return make_check(
        GRASSROOTS,
        clause,
        rule,
        target,
        actual,
        violations=violations or [],
        exceptions=listed,
        notes=notes or [],
        principle=principle,
    )


@dataclass
class GrassrootsReport:
    """Grids, workers, centres, cameras and mediators of one plan, with their checks.

    Attributes
    ----------
    grids
        One row per grid (see :class:`~optimizer.planning.grids.GridPlan`), with
        ``county_code``; polygons in EPSG:4326.
    blocks
        The grid model's building blocks (village pieces) with their grid.
    villages
        The village layer as planned (``code``, ``name``, ``township_code``, ``kind``,
        ``households``, ``grids``, geometry).
    workers
        Per township: grids, workers needed (full-time, part-time), on the roster, and the gap.
    workers_by_county
        The same summed per county.
    centres
        Per current township: its 综治中心 at the seat and what merged-away townships bring.
    cameras
        The camera plan (:class:`~optimizer.planning.cameras.CameraPlan`).
    mediators
        Per village committee: roster, score terms, ``score``, ``rank``, ``proposed``,
        ``for_threshold`` (needed for the county's 20 %), ``cost_yuan``.
    mediators_by_county
        Committees, with a full-time mediator now and after the proposal, shares, cost.
    checks
        Clause 13, 15, 16, 17 and 18 checks.
    grid_plan
        The grid model's report (relaxations, zones, timings).
    seconds
        Wall time of the whole stage.
    notes
        What a planner should know.
    """

    grids: gpd.GeoDataFrame
    blocks: gpd.GeoDataFrame
    villages: gpd.GeoDataFrame
    workers: pd.DataFrame
    workers_by_county: pd.DataFrame
    centres: pd.DataFrame
    cameras: CameraPlan
    mediators: pd.DataFrame
    mediators_by_county: pd.DataFrame
    checks: list[Check]
    grid_plan: GridPlan
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Return the headline figures (for ``plan.json``; timings are in its solver section)."""
        g = self.grids
        med = self.mediators_by_county
        cam = self.cameras.villages
        return {
            "villages": len(self.villages),
            "grids": len(g),
            "grids_urban": int(g["urban"].sum()),
            "grids_outside_bounds": int((g["deviation"] != 0).sum()),
            "grid_workers_needed": int(g["workers"].sum()),
            "grid_worker_gap_fulltime": float(self.workers["fulltime_gap"].sum()),
            "grid_worker_gap_parttime": float(self.workers["parttime_gap"].sum()),
            "centres": len(self.centres),
            "centres_merged": int(self.centres["merged_townships"].str.len().gt(0).sum()),
            "camera_points_planned": float(cam["planned"].sum()),
            "camera_points_existing": float(cam["existing"].sum()),
            "camera_points_gap": float(cam["gap"].sum()),
            "places_uncovered": len(self.cameras.uncovered),
            "committees": int(med["committees"].sum()),
            "mediator_share_now": _share(med["with_fulltime"].sum(), med["committees"].sum()),
            "mediators_proposed": int(med["proposed"].sum()),
            "mediator_share_after": _share(med["with_after"].sum(), med["committees"].sum()),
            "mediator_cost_yuan": float(med["cost_yuan"].sum()),
        }


def _share(num: float, den: float) -> float:
    """Return ``num / den`` rounded to 4 places (0 when ``den`` is 0)."""
    return round(float(num) / float(den), 4) if den else 0.0


def _workers(grids: gpd.GeoDataFrame, v: gpd.GeoDataFrame, towns: pd.DataFrame) -> pd.DataFrame:
    """Grid workers needed per township against the roster (clause 15)."""
    need = (
        grids.assign(
            ft=np.where(grids["fulltime"], grids["workers"], 0),
            pt=np.where(grids["fulltime"], 0, grids["workers"]),
        )
        .groupby("township_code")[["ft", "pt"]]
        .sum()
    )
    need["grids"] = grids.groupby("township_code").size()
    have = v.groupby("township_code")[["grid_workers_fulltime", "grid_workers_parttime"]].sum(
        min_count=1
    )
    t = towns[["code", "name", "county_code"]].rename(columns={"code": "township_code"})
    out = t.merge(need, left_on="township_code", right_index=True, how="inner")
    out = out.merge(have, left_on="township_code", right_index=True, how="left")
    out = out.rename(
        columns={
            "ft": "fulltime_needed",
            "pt": "parttime_needed",
            "grid_workers_fulltime": "fulltime_roster",
            "grid_workers_parttime": "parttime_roster",
        }
    )
    ft_have = out["fulltime_roster"].fillna(0.0)
    pt_have = out["parttime_roster"].fillna(0.0)
    out["fulltime_gap"] = np.maximum(0.0, out["fulltime_needed"] - ft_have)
    spare = np.maximum(0.0, ft_have - out["fulltime_needed"])  # a full-time worker may serve
    out["parttime_gap"] = np.maximum(0.0, out["parttime_needed"] - pt_have - spare)
    return out.sort_values("township_code", ignore_index=True)


def _centres(inputs: Inputs, villages: VillageInputs) -> tuple[pd.DataFrame, list[str]]:
    """One 综治中心 per current township; merged-away townships' centres consolidated (16)."""
    towns = inputs.townships[["code", "name", "county_code"]]
    current = set(towns["code"])
    merged: dict[str, set[str]] = {c: set() for c in current}
    before = villages.before
    if before is not None:
        pairs = pd.DataFrame(
            {"old": before["code"].str[:9], "new": before["merged_into"].str[:9]}
        ).dropna()
        for old, new in pairs.drop_duplicates().itertuples(index=False):
            if new in merged and old != new and old not in current:
                merged[new].add(old)
    old_to_new = {o: n for n, olds in merged.items() for o in olds}
    notes: list[str] = []
    listed = villages.centres
    rows = []
    for code, name in zip(towns["code"], towns["name"], strict=True):
        own = listed[listed["township_code"] == code] if listed is not None else None
        brought = (
            listed[listed["township_code"].map(old_to_new) == code] if listed is not None else None
        )
        olds = sorted(merged[code])
        rows.append(
            {
                "township_code": code,
                "name": name,
                "centre": f"{name}综治中心",
                "existing": None if own is None else bool(len(own)),
                "merged_townships": ";".join(olds),
                "merged_centres": "" if brought is None else "；".join(brought["name"]),
                "staff": np.nan
                if listed is None
                else float(pd.concat([own["staff"], brought["staff"]]).sum(min_count=1)),  # type: ignore[index]
                "screens": np.nan
                if listed is None
                else float(pd.concat([own["screens"], brought["screens"]]).sum(min_count=1)),  # type: ignore[index]
            }
        )
    if listed is not None:
        unknown = sorted(set(listed["township_code"].dropna()) - current - set(old_to_new))
        if unknown:
            notes.append(
                f"综治中心名单中 {len(unknown)} 个乡镇代码既非现乡镇也非被撤并乡镇："
                + "、".join(unknown[:10])
            )
    table = pd.DataFrame(rows).merge(
        towns[["code", "county_code"]].rename(columns={"code": "township_code"}), how="left"
    )
    return table, notes


def _remoteness(v: gpd.GeoDataFrame, towns: gpd.GeoDataFrame) -> np.ndarray:
    """Kilometres from each village to its township's seat (0 without village shapes)."""
    if v.geometry.isna().any() or not len(v):
        return np.zeros(len(v))
    crs = projected_crs(v)
    seats = towns.set_index("code").geometry.to_crs(crs).representative_point()
    here = v.geometry.to_crs(crs).representative_point().to_numpy()
    there = seats.reindex(v["township_code"]).to_numpy()
    return np.asarray(shapely.distance(here, there)) / 1000.0


def _mediators(
    v: gpd.GeoDataFrame, towns: gpd.GeoDataFrame, p: GrassrootsPolicy
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score the committees without a full-time mediator and propose the next ones (18)."""
    county = towns.set_index("code")["county_code"]
    m = pd.DataFrame(
        {
            "code": v["code"],
            "name": v["name"],
            "township_code": v["township_code"],
            "county_code": v["township_code"].map(county),
            "residents": v["residents"].fillna(v["households"] * 3.0),
            "disputes": v["disputes"].fillna(0.0),
            "remoteness_km": _remoteness(v, towns).round(2),
            "mediators_fulltime": v["mediators_fulltime"].fillna(0.0),
        }
    )
    for term in ("disputes", "residents", "remoteness_km"):
        top = m.groupby("county_code")[term].transform("max")
        m[f"{term}_scaled"] = np.where(top > 0, m[term] / top.where(top > 0, 1.0), 0.0)
    m["score"] = (
        p.score_disputes * m["disputes_scaled"]
        + p.score_residents * m["residents_scaled"]
        + p.score_remoteness * m["remoteness_km_scaled"]
    ).round(4)
    m = m.drop(columns=[c for c in m.columns if c.endswith("_scaled")])
    m = m.sort_values(["county_code", "score", "code"], ascending=[True, False, True])
    lacking = m["mediators_fulltime"] < 1
    m["rank"] = 0
    m.loc[lacking, "rank"] = m[lacking].groupby("county_code").cumcount() + 1
    committees = m.groupby("county_code").size()
    have = m[~lacking].groupby("county_code").size().reindex(committees.index, fill_value=0)
    need = np.maximum(0, np.ceil(p.mediator_share_min * committees - 1e-9) - have)
    m["for_threshold"] = lacking & (m["rank"] <= m["county_code"].map(need))
    order = m[lacking].sort_values(
        ["for_threshold", "score", "code"], ascending=[False, False, True]
    )
    funded = len(order) if p.mediator_budget is None else min(p.mediator_budget, len(order))
    m["proposed"] = m["code"].isin(order["code"].iloc[:funded])
    m["cost_yuan"] = np.where(m["proposed"], p.mediator_price_yuan, 0.0)
    by = pd.DataFrame(
        {
            "committees": committees,
            "with_fulltime": have,
            "needed_for_threshold": need.astype(int),
            "proposed": m.groupby("county_code")["proposed"].sum(),
            "cost_yuan": m.groupby("county_code")["cost_yuan"].sum(),
        }
    )
    by["with_after"] = by["with_fulltime"] + by["proposed"]
    by["share_now"] = (by["with_fulltime"] / by["committees"]).round(4)
    by["share_after"] = (by["with_after"] / by["committees"]).round(4)
    return m.sort_values("code", ignore_index=True), by.reset_index()


def _deviation_reason(
    r: Any,
    total: float,
    relaxed: dict[tuple[str, str], float],
    fallback: set[tuple[str, bool]],
    cut: set[tuple[str, bool]],
) -> str:
    """Say why a grid lies outside its bounds."""
    if r.deviation > 0:
        return "单个村（社区）片区户数超出上限且无法均分到范围内"
    if total < r.min_households:
        return "本乡镇同类村（社区）户数合计不足一个网格"
    lower = relaxed.get((r.township_code, "社区" if r.urban else "村"))
    if lower is not None:
        return f"受相邻村（社区）规模和连片所限，本乡镇下限放宽至 {lower:.0f} 户"
    if (str(r.township_code), bool(r.urban)) in fallback:
        return "网格模型达到求解安全时限，保留村内网格"
    if (str(r.township_code), bool(r.urban)) in cut:
        return "受相邻村（社区）规模和连片所限（片区较大，按固定顺序分块求解）"
    return "受相邻村（社区）规模和连片所限"


def _grid_checks(
    grids: gpd.GeoDataFrame,
    workers: pd.DataFrame,
    by_county: pd.DataFrame,
    villages: gpd.GeoDataFrame,
    blocks: gpd.GeoDataFrame,
    p: GrassrootsPolicy,
    drawn: bool,
    relaxed: dict[tuple[str, str], float],
    fallback: set[tuple[str, bool]],
    cut: set[tuple[str, bool]],
) -> list[Check]:
    """Clauses 13 (one grid system covering every village, sizes in bounds) and 15 (workers)."""
    covered = set(blocks["village_code"])
    missing = [c for c in villages["code"] if c not in covered]
    off = grids[grids["deviation"] != 0]
    over = grids[grids["residents_over"] > 0]
    totals = grids.groupby(["township_code", "urban"])["households"].transform("sum")
    exc = [
        {
            "id": r.code,
            "reason": (
                f"{'城镇' if r.urban else '农村'}网格 {r.households:.0f} 户，"
                f"{'超出上限' if r.deviation > 0 else '低于下限'} {abs(r.deviation):.0f} 户："
                + _deviation_reason(r, float(total), relaxed, fallback, cut)
            ),
        }
        for r, total in zip(off.itertuples(index=False), totals[off.index], strict=True)
    ] + [
        {
            "id": r.code,
            "reason": f"农村网格常住人口 {r.residents:.0f} 人，超出 {p.rural_residents_max:.0f} 人",
        }
        for r in over.itertuples(index=False)
    ]
    notes = []
    if not drawn:
        notes.append({"id": "villages", "reason": "村（社区）图层无边界或点位，网格只计数未绘制"})
    c13 = grassroots_check(
        "13",
        "全域覆盖、规模适度、多网合一：每个村（社区）划入本乡镇的连片网格，农村约"
        f"{p.rural_households_min:.0f}-{p.rural_households_max:.0f}户且不超过"
        f"{p.rural_residents_max:.0f}人，城镇{p.urban_households_min:.0f}-"
        f"{p.urban_households_max:.0f}户 (grids cover every village, contiguous, sized in bounds)",
        {
            "villages": len(villages),
            "rural_households": [p.rural_households_min, p.rural_households_max],
            "urban_households": [p.urban_households_min, p.urban_households_max],
        },
        {"grids": len(grids), "villages_covered": len(covered), "outside_bounds": len(off)},
        violations=[{"id": c, "reason": "未划入任何网格"} for c in missing],
        exceptions=exc,
        notes=notes,
    )
    short = by_county[(by_county["fulltime_gap"] > 0) | (by_county["parttime_gap"] > 0)]
    c15 = grassroots_check(
        "15",
        f"一格一员：每个网格至少 {p.workers_per_grid} 名网格管理员，城镇专职、农村"
        f"{'专职' if p.rural_fulltime else '兼职'} (grid workers per grid, roster gap)",
        {
            "fulltime": int(workers["fulltime_needed"].sum()),
            "parttime": int(workers["parttime_needed"].sum()),
        },
        {
            "fulltime_gap": float(workers["fulltime_gap"].sum()),
            "parttime_gap": float(workers["parttime_gap"].sum()),
        },
        exceptions=[
            {
                "id": str(r.county_code),
                "reason": f"现有网格员不足：需公开选聘专职网格员 {r.fulltime_gap:.0f} 名、"
                f"补充兼职网格员 {r.parttime_gap:.0f} 名",
            }
            for r in short.itertuples(index=False)
        ],
    )
    return [c13, c15]


def _other_checks(
    centres: pd.DataFrame,
    cameras: CameraPlan,
    med_by: pd.DataFrame,
    p: GrassrootsPolicy,
    listed: bool,
) -> list[Check]:
    """Clauses 16 (centres), 17 (camera points) and 18 (mediators)."""
    new = centres[centres["existing"].eq(False)]  # listed, but this township has no centre
    exc16 = [
        {"id": str(r.township_code), "reason": f"{r.name}无现有综治中心，需在驻地新建"}
        for r in new.itertuples(index=False)
    ]
    c16 = grassroots_check(
        "16",
        "每个乡镇（街道）在驻地设一个综治中心，整合被撤并乡镇综治中心资源力量 (one centre per "
        "township, merged-away centres consolidated)",
        len(centres),
        {
            "centres": len(centres),
            "consolidating": int(centres["merged_townships"].str.len().gt(0).sum()),
            "list_given": listed,
        },
        exceptions=exc16,
    )
    cam = cameras.villages
    short = cam[cam["planned"] < cam["rule_points"]]
    exc17 = [
        {"id": str(r.name), "reason": f"{r.kind}：{r.reason}"}
        for r in cameras.uncovered.itertuples(index=False)
    ]
    c17 = grassroots_check(
        "17",
        "撤并新村按合并前原有村数量规划建设雪亮工程点位，重要区域全覆盖 (camera points per "
        f"pre-merger village, important places within {p.camera_radius_m:.0f} m)",
        float(cam["rule_points"].sum()),
        {
            "planned": float(cam["planned"].sum()),
            "existing": float(cam["existing"].sum()),
            "gap": float(cam["gap"].sum()),
            "places_uncovered": len(cameras.uncovered),
        },
        violations=[{"id": str(c), "reason": "规划点位少于合并前村数"} for c in short["code"]],
        exceptions=exc17,
    )
    total = med_by["committees"].sum()
    below = med_by[med_by["share_after"] < p.mediator_share_min]
    c18 = grassroots_check(
        "18",
        f"村（社区）人民调解委员会专职人民调解员配备率达到{p.mediator_share_min:.0%}以上 "
        "(share of committees with a full-time mediator, after the proposal)",
        p.mediator_share_min,
        {
            "now": _share(med_by["with_fulltime"].sum(), total),
            "after": _share(med_by["with_after"].sum(), total),
            "proposed": int(med_by["proposed"].sum()),
        },
        violations=[
            {
                "id": str(r.county_code),
                "reason": f"方案后配备率 {r.share_after:.1%}，低于"
                f"{p.mediator_share_min:.0%}（经费所限）",
            }
            for r in below.itertuples(index=False)
        ],
        principle=False,
    )
    lacking = med_by[med_by["with_after"] < med_by["committees"]]
    lacking = lacking.assign(gap=lacking["committees"] - lacking["with_after"])
    c18b = grassroots_check(
        "18",
        "逐步实现“一村（社区）一专职人民调解员” (one full-time mediator per committee, goal)",
        int(total),
        int(med_by["with_after"].sum()),
        exceptions=[
            {
                "id": str(r.county_code),
                "reason": f"尚有 {r.gap:.0f} 个调委会无专职调解员（逐步实现）",
            }
            for r in lacking.itertuples(index=False)
        ],
    )
    return [c16, c17, c18, c18b]


def build_grassroots(inputs: Inputs, policy: Policy, budget: TimeBudget) -> GrassrootsReport | None:
    """Plan and check grids, centres, camera points and mediators (clauses 13-18).

    Parameters
    ----------
    inputs
        The inputs; nothing is planned without a village layer.
    policy
        The scenario (``policy.grassroots``; the solver seed).
    budget
        The planning call's time budget.

    Returns
    -------
    GrassrootsReport or None
        None when the inputs carry no village layer or ``grassroots.enabled`` is false.
    """
    p = policy.grassroots
    if inputs.villages is None or not p.enabled:
        return None
    t0 = time.monotonic()
    vin = inputs.villages
    towns = inputs.townships
    grid_plan = plan_grids(vin, p, budget=budget, seed=policy.solver.seed)
    county = towns.set_index("code")["county_code"]
    grids = grid_plan.grids
    grids.insert(2, "county_code", grids["township_code"].map(county))
    v = vin.villages
    workers = _workers(grids, v, towns)
    cols = [
        "fulltime_needed",
        "parttime_needed",
        "fulltime_roster",
        "parttime_roster",
        "fulltime_gap",
        "parttime_gap",
        "grids",
    ]
    by_county = workers.groupby("county_code")[cols].sum(min_count=1).reset_index()
    centres, notes = _centres(inputs, vin)
    cameras = plan_cameras(vin, p, budget=budget)
    mediators, med_by = _mediators(v, towns, p)
    n_grids = grid_plan.blocks.groupby("village_code")["grid"].nunique()
    vmap = v[["code", "name", "township_code", "kind", "households", "geometry"]].copy()
    vmap["grids"] = vmap["code"].map(n_grids).fillna(0).astype(int)
    checks = _grid_checks(
        grids,
        workers,
        by_county,
        v,
        grid_plan.blocks,
        p,
        drawn=vin.has_polygons or bool(v.geometry.notna().all()),
        relaxed=grid_plan.relaxed,
        fallback=grid_plan.fallback,
        cut=grid_plan.cut,
    )
    checks += _other_checks(centres, cameras, med_by, p, listed=vin.centres is not None)
    return GrassrootsReport(
        grids=grids,
        blocks=grid_plan.blocks,
        villages=gpd.GeoDataFrame(vmap, geometry="geometry", crs="EPSG:4326"),
        workers=workers,
        workers_by_county=by_county,
        centres=centres,
        cameras=cameras,
        mediators=mediators,
        mediators_by_county=med_by,
        checks=checks,
        grid_plan=grid_plan,
        seconds=round(time.monotonic() - t0, 3),
        notes=grid_plan.notes + notes + cameras.notes,
    )
