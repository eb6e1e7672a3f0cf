"""The Plan: decisions, jurisdictions, metrics and rule checks with reasons.

Rule checks and metrics are computed here from the decisions alone (which facilities are kept,
which township each serves), not from the model, so they check the model rather than repeat it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from optimizer.inputs import Inputs
from optimizer.inputs import geometry as geo
from optimizer.planning.decode import TypePlan
from optimizer.report.checks import OUTCOMES, Check, report_items, type_checks
from optimizer.report.grassroots import GrassrootsReport  # grassroots (issue 14)
from optimizer.report.metrics import (
    Colocation,
    Metrics,
    SolverReport,
    SolverSummary,
    TimeBudgetReport,
    TypeMetrics,
    staffing_metrics,
    type_metrics,
)
from optimizer.report.reasons import facility_reasons
from optimizer.report.staffing import propose_staffing
from optimizer.rules.policy import Policy
from optimizer.schema import COURT, JUDICIAL, POLICE
from optimizer.spatial import network

__all__ = ["Check", "Plan", "TypePlan", "build_plan"]

logger = logging.getLogger(__name__)


@dataclass
class Plan:
    """A proposed layout of facilities with everything needed to judge it.

    Attributes
    ----------
    policy
        The scenario settings used.
    townships
        One row per township (EPSG:4326) with ``served_by__<type>``, ``distance_km__<type>``,
        ``distance_before_km__<type>`` and ``below_threshold``.
    facilities
        One row per current facility with ``decision`` (keep / close), ``becomes``, ``central``,
        ``serves`` (township codes), ``n_served``, ``exception`` and ``pinned``.
    checks
        Rule checks with clause numbers and exceptions.
    metrics
        Per facility type: before/after counts, reduction, distances, travel, by county; the
        co-location and staffing totals (:class:`~optimizer.report.metrics.Metrics`).
    solver
        Per facility type: status, objective, bound, gap, seconds and model size, and the time
        budget of the run (:class:`~optimizer.report.metrics.SolverSummary`).
    notes
        Warnings and facts about the inputs and the run.
    synthetic
        True when the inputs are the synthetic sample.
    grassroots
        Grids, 综治中心, 雪亮工程 points and mediators below the township (clauses 13-18; their
        checks are also in ``checks``), or None without a village layer.
    """

    policy: Policy
    townships: gpd.GeoDataFrame
    facilities: pd.DataFrame
    checks: list[Check]
    metrics: Metrics
    solver: SolverSummary
    notes: list[str]
    synthetic: bool
    sources: dict[str, str]
    types: tuple[str, ...]
    staffing: pd.DataFrame | None = None
    grassroots: GrassrootsReport | None = None  # grids, centres, cameras, mediators (issue 14)

    def __repr__(self) -> str:
        parts = []
        for t in self.types:
            m = self.metrics[t]
            parts.append(
                f"{t}: {m.before.count} -> {m.after.count} "
                f"({m.reduction:.1%} fewer, {self.solver[t].status})"
            )
        n = self.outcome_counts()
        return (
            f"Plan({'; '.join(parts)}; {len(self.checks)} checks: {n['met']} met, "
            f"{n['exceptions']} with exceptions, {n['not_met']} not met)"
        )

    def staffing_shortfall(self) -> float:
        """Return the total staffing shortfall of the plan's types (NaN: no staffing proposed)."""
        staffing = self.metrics.staffing
        if staffing is None:
            return math.nan
        totals = [staffing.by_type[t].shortfall for t in self.types if t in staffing.by_type]
        known = [float(x) for x in totals if x is not None]
        return sum(known) if known else math.nan

    @property
    def passed(self) -> bool:
        """True when every rule check passed (exceptions explained)."""
        return all(c.passed for c in self.checks)

    def outcome_counts(self) -> dict[str, int]:
        """Return how many checks are ``met``, ``exceptions`` and ``not_met``, in that order."""
        return {o: sum(c.status == o for c in self.checks) for o in OUTCOMES}


# ------------------------------------------------------------------ derive checks and metrics


def build_plan(
    inputs: Inputs,
    policy: Policy,
    type_plans: list[TypePlan],
    *,
    notes: list[str],
    graph: nx.Graph | None = None,
    area_km2: np.ndarray | None = None,
    budget: TimeBudgetReport | None = None,
) -> Plan:
    """Assemble a :class:`Plan` from solved facility types: decisions, checks and metrics.

    Parameters
    ----------
    inputs
        The inputs the plan was made from.
    policy
        The scenario settings.
    type_plans
        One solved plan per facility type.
    notes
        Notes to carry into the plan.
    graph
        Township adjacency, for the contiguity checks (built here when needed and not given).
    area_km2
        Township areas in km² (computed here when not given).
    budget
        How the run's time budget was spent, for ``plan.json``.

    Returns
    -------
    Plan
        The assembled plan.
    """
    tw = inputs.townships.copy()
    if area_km2 is None:
        area_km2 = tw.geometry.to_crs(geo.projected_crs(tw)).area.to_numpy() / 1e6
    tw["area_km2"] = np.round(area_km2, 3)
    if graph is None and any(tp.contiguity for tp in type_plans):
        graph = network.township_adjacency(inputs.townships)
    facs = []
    checks: list[Check] = []
    by_type: dict[str, TypeMetrics] = {}
    reports: dict[str, SolverReport] = {}
    for tp in type_plans:
        _join_type(tw, tp)
        f = _type_facilities(tw, tp)
        type_policy = {POLICE: policy.police, JUDICIAL: policy.judicial, COURT: policy.court}[
            tp.type
        ]
        f = f.join(facility_reasons(tw, f, tp, type_policy))
        facs.append(f)
        checks += type_checks(tw, f, tp, graph)
        notes += report_items(f, tp.type)
        by_type[tp.type] = type_metrics(tw, f, tp)
        unit = f"{tp.weight}-weighted km" + (
            " minus co-location bonus" if tp.site_bonus is not None else ""
        )
        reports[tp.type] = SolverReport.from_result(tp.result, unit)
    for tp in type_plans:
        notes.append(
            f"{tp.type}: travel times from {tp.travel_source}; the model minimises "
            f"{tp.weight}-weighted {'minutes' if tp.cost_basis == 'time' else 'km'}"
        )
    if "below_threshold" not in tw:
        tw["below_threshold"] = False
    facilities = pd.concat(facs, ignore_index=True)
    cols = [c for c in facilities.columns if c != "site_from_seat"]
    _mark_in_township(tw, facilities, type_plans)
    metrics = Metrics(by_type=by_type, colocation=_colocation(tw, type_plans))
    if facilities["staff"].notna().any():
        staffing = propose_staffing(facilities, tw, inputs.counties, policy.staffing)
        units = staffing.units.set_index("id")
        facilities["minimum_staff"] = facilities["id"].map(units["minimum"])
        facilities["proposed_staff"] = facilities["id"].map(units["proposed"])
        cols += ["minimum_staff", "proposed_staff"]
        checks += staffing.checks
        notes = notes + staffing.notes
        metrics = dataclasses.replace(metrics, staffing=staffing_metrics(staffing.counties))
        staffing_counties: pd.DataFrame | None = staffing.counties
    else:
        notes = notes + [
            "no staff figures in the facilities: staffing (clauses 6, 8, 12) not proposed"
        ]
        staffing_counties = None
    return Plan(
        policy=policy,
        townships=gpd.GeoDataFrame(tw, geometry="geometry", crs=inputs.townships.crs),
        facilities=facilities[cols],
        checks=checks,
        metrics=metrics,
        solver=SolverSummary(by_type=reports, budget=budget),
        notes=notes,
        synthetic=_is_synthetic(inputs),
        sources=dict(inputs.sources),
        types=tuple(tp.type for tp in type_plans),
        staffing=staffing_counties,
    )


def _join_type(tw: pd.DataFrame, tp: TypePlan) -> None:
    """Add one facility type's per-township columns (``served_by__<type>``, ...) to ``tw``."""
    a = tp.assignment.set_index("code").reindex(tw["code"])
    tw[f"served_by__{tp.type}"] = a["served_by"].to_numpy()
    tw[f"distance_km__{tp.type}"] = a["distance_km"].to_numpy(dtype=float)
    tw[f"before_by__{tp.type}"] = a["before_by"].to_numpy()
    tw[f"distance_before_km__{tp.type}"] = a["distance_before_km"].to_numpy(dtype=float)
    tw[f"minutes__{tp.type}"] = a["minutes"].to_numpy(dtype=float)
    tw[f"minutes_before__{tp.type}"] = a["minutes_before"].to_numpy(dtype=float)
    tw[f"by_road__{tp.type}"] = a["by_road"].to_numpy(dtype=bool)
    if "basic_court" in a:
        tw[f"basic_court__{tp.type}"] = a["basic_court"].to_numpy(dtype=bool)
    if tp.type == POLICE:
        tw["below_threshold"] = a["screened"].to_numpy(dtype=bool)


def _type_facilities(tw: pd.DataFrame, tp: TypePlan) -> pd.DataFrame:
    """Return the type's facilities with what each kept one serves (townships, people, area)."""
    f = tp.facilities.copy()
    serves = tw.groupby(f"served_by__{tp.type}")["code"].apply(lambda s: sorted(s))
    f["serves"] = [
        serves.get(i, []) if d == "keep" else []
        for i, d in zip(f["id"], f["decision"], strict=True)
    ]
    f["n_served"] = f["serves"].map(len)
    # 中心 only where the plan uses it: a 中心派出所 (clause 4); offices and courts have no such notion
    f["central"] = (
        (f["decision"] == "keep")
        & (f["n_served"] >= tp.central_min_townships)
        & (tp.type == POLICE)
    )
    agg = tw.groupby(f"served_by__{tp.type}").agg(
        population_served=("population", "sum"),
        area_km2=("area_km2", "sum"),
        max_distance_km=(f"distance_km__{tp.type}", "max"),
    )
    for c in agg.columns:
        f[c] = f["id"].map(agg[c]).where(f["decision"] == "keep")
    return f


def _mark_in_township(
    tw: pd.DataFrame, facilities: pd.DataFrame, type_plans: list[TypePlan]
) -> None:
    """Add ``in_township__<type>``: a kept unit in the township, or what a closed one became."""
    for tp in type_plans:
        f = facilities[facilities["type"] == tp.type]
        local: dict[str, str] = {}
        ordered = f.sort_values(["decision", "id"], ascending=[False, True])  # keep before close
        for code, dec, becomes in zip(
            ordered["township_code"], ordered["decision"], ordered["becomes"], strict=True
        ):
            local.setdefault(str(code), "keep" if dec == "keep" else str(becomes))
        tw[f"in_township__{tp.type}"] = tw["code"].map(local)


def _colocation(tw: pd.DataFrame, type_plans: list[TypePlan]) -> Colocation | None:
    """Townships that keep a unit of every planned type (None when one type is planned)."""
    if len(type_plans) < 2:
        return None
    kept_all = np.ones(len(tw), dtype=bool)
    for tp in type_plans:
        kept_all &= (tw[f"in_township__{tp.type}"] == "keep").to_numpy()
    return Colocation(
        types=[tp.type for tp in type_plans],
        townships_hosting_all=int(kept_all.sum()),
        codes=tw.loc[kept_all, "code"].tolist(),
    )


def _is_synthetic(inputs: Inputs) -> bool:
    """Tell whether the inputs come from the sample builder (its README says SYNTHETIC)."""
    for path in inputs.sources.values():
        readme = Path(path).parent / "README.md"
        if readme.is_file() and "SYNTHETIC" in readme.read_text(encoding="utf-8", errors="ignore"):
            return True
    return False
