"""The Plan: decisions, jurisdictions, metrics and rule checks with reasons.

Rule checks and metrics are computed here from the decisions alone (which facilities are kept,
which township each serves), not from the model, so they check the model rather than repeat it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd

from optimizer.inputs import Inputs
from optimizer.inputs import geometry as geo
from optimizer.planning.decode import TypePlan
from optimizer.report.checks import Check, type_checks
from optimizer.report.staffing import propose_staffing
from optimizer.rules.policy import Policy
from optimizer.schema import CLOSED_BECOMES, CLOSED_BECOMES_ZH, POLICE
from optimizer.spatial import network

__all__ = ["Check", "Plan", "TypePlan", "build_plan"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
_STATUS_ORDER = {"optimal": 0, "feasible": 1, "no_solution": 2, "infeasible": 3}


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
        Per facility type: before/after counts, reduction, distances, load, by county.
    solver
        Per facility type: status, objective, bound, gap, seconds and model size.
    notes
        Warnings and facts about the inputs and the run.
    synthetic
        True when the inputs are the synthetic sample.
    """

    policy: Policy
    townships: gpd.GeoDataFrame
    facilities: pd.DataFrame
    checks: list[Check]
    metrics: dict[str, Any]
    solver: dict[str, dict[str, Any]]
    notes: list[str]
    synthetic: bool
    sources: dict[str, str]
    types: tuple[str, ...]
    staffing: pd.DataFrame | None = None

    def __repr__(self) -> str:
        parts = []
        for t in self.types:
            m = self.metrics[t]
            parts.append(
                f"{t}: {m['before']['count']} -> {m['after']['count']} "
                f"({m['reduction']:.1%} fewer, {self.solver[t]['status']})"
            )
        failed = sum(not c.passed for c in self.checks)
        return f"Plan({'; '.join(parts)}; {len(self.checks)} checks, {failed} failed)"

    @property
    def passed(self) -> bool:
        """True when every rule check passed (exceptions explained)."""
        return all(c.passed for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        """Return the plan as the documented ``plan.json`` structure (see docs/outputs.md)."""
        fac_records = []
        for r in self.facilities.itertuples(index=False):
            fac_records.append(
                {
                    "id": r.id,
                    "type": r.type,
                    "name": r.name,
                    "township_code": r.township_code,
                    "county_code": r.county_code,
                    "lon": _num(r.lon),
                    "lat": _num(r.lat),
                    "staff": _num(r.staff),
                    "decision": r.decision,
                    "becomes": _text(r.becomes),
                    "central": bool(r.central),
                    "serves": [str(c) for c in r.serves],  # type: ignore[union-attr]
                    "exception": _text(r.exception),
                    "pinned": _text(r.pinned),
                    "minimum_staff": _num(getattr(r, "minimum_staff", None)),
                    "proposed_staff": _num(getattr(r, "proposed_staff", None)),
                }
            )
        town_records = []
        tw = self.townships
        for i in range(len(tw)):
            row = tw.iloc[i]
            town_records.append(
                {
                    "code": row["code"],
                    "name": row["name"],
                    "county_code": row["county_code"],
                    "kind": row["kind"],
                    "population": _num(row["population"]),
                    "incidents": _num(row["incidents"]),
                    "tibetan_area": bool(row["tibetan_area"]),
                    "below_threshold": bool(row["below_threshold"]),
                    "served_by": {t: _text(row[f"served_by__{t}"]) for t in self.types},
                    "distance_km": {t: _num(row[f"distance_km__{t}"]) for t in self.types},
                    "distance_before_km": {
                        t: _num(row[f"distance_before_km__{t}"]) for t in self.types
                    },
                    "minutes": {t: _num(row[f"minutes__{t}"]) for t in self.types},
                    "minutes_before": {t: _num(row[f"minutes_before__{t}"]) for t in self.types},
                    "by_road": {t: bool(row[f"by_road__{t}"]) for t in self.types},
                    "in_township": {t: _text(row[f"in_township__{t}"]) for t in self.types},
                }
            )
        statuses = [self.solver[t]["status"] for t in self.types]
        solver_total = {
            "status": max(statuses, key=lambda s: _STATUS_ORDER.get(s, 9)),
            "objective": sum(self.solver[t]["objective"] for t in self.types),
            "bound": sum(self.solver[t]["bound"] for t in self.types),
            "gap": max(self.solver[t]["gap"] for t in self.types),
            "seconds": round(sum(self.solver[t]["seconds"] for t in self.types), 3),
            "by_type": self.solver,
        }
        return {
            "schema_version": SCHEMA_VERSION,
            "synthetic": self.synthetic,
            "scenario": self.policy.name,
            "policy": self.policy.to_dict(),
            "inputs": self.sources,
            "notes": self.notes,
            "facility_types": list(self.types),
            "facilities": fac_records,
            "townships": town_records,
            "metrics": self.metrics,
            "checks": [c.to_dict() for c in self.checks],
            "solver": solver_total,
        }


def _text(v: Any) -> str | None:
    """JSON-safe text: None for missing or empty values."""
    return v if isinstance(v, str) and v else None


def _num(v: Any) -> float | None:
    """JSON-safe number: None for NaN, rounded to 6 decimals for stable files."""
    if v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    if math.isnan(f) or math.isinf(f):
        return None
    return round(f, 6)


# ------------------------------------------------------------------ derive checks and metrics


def build_plan(
    inputs: Inputs,
    policy: Policy,
    type_plans: list[TypePlan],
    *,
    notes: list[str],
    graph: nx.Graph | None = None,
    area_km2: np.ndarray | None = None,
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
    metrics: dict[str, Any] = {}
    solver: dict[str, dict[str, Any]] = {}
    for tp in type_plans:
        a = tp.assignment.set_index("code").reindex(tw["code"])
        tw[f"served_by__{tp.type}"] = a["served_by"].to_numpy()
        tw[f"distance_km__{tp.type}"] = a["distance_km"].to_numpy(dtype=float)
        tw[f"before_by__{tp.type}"] = a["before_by"].to_numpy()
        tw[f"distance_before_km__{tp.type}"] = a["distance_before_km"].to_numpy(dtype=float)
        tw[f"minutes__{tp.type}"] = a["minutes"].to_numpy(dtype=float)
        tw[f"minutes_before__{tp.type}"] = a["minutes_before"].to_numpy(dtype=float)
        tw[f"by_road__{tp.type}"] = a["by_road"].to_numpy(dtype=bool)
        if tp.type == POLICE:
            tw["below_threshold"] = a["screened"].to_numpy(dtype=bool)
        f = tp.facilities.copy()
        serves = tw.groupby(f"served_by__{tp.type}")["code"].apply(lambda s: sorted(s))
        f["serves"] = [
            serves.get(i, []) if d == "keep" else []
            for i, d in zip(f["id"], f["decision"], strict=True)
        ]
        f["n_served"] = f["serves"].map(len)
        f["central"] = (f["decision"] == "keep") & (f["n_served"] >= tp.central_min_townships)
        col = f"served_by__{tp.type}"
        agg = tw.groupby(col).agg(
            population_served=("population", "sum"),
            area_km2=("area_km2", "sum"),
            max_distance_km=(f"distance_km__{tp.type}", "max"),
        )
        for c in agg.columns:
            f[c] = f["id"].map(agg[c]).where(f["decision"] == "keep")
        facs.append(f)
        checks += type_checks(tw, f, tp, graph)
        metrics[tp.type] = type_metrics(tw, f, tp)
        r = tp.result
        solver[tp.type] = {
            "status": r.status,
            "objective": _num(r.objective),
            "bound": _num(r.bound),
            "gap": _num(r.gap),
            "seconds": round(r.seconds, 3),
            "solver": r.solver,
            "formulation": r.formulation,
            "variables": r.n_variables,
            "constraints": r.n_constraints,
            "nonzeros": r.n_nonzeros,
            "rounds": r.rounds,
            "objective_unit": f"{tp.weight}-weighted km"
            + (" minus co-location bonus" if tp.site_bonus is not None else ""),
        }
    for tp in type_plans:
        notes.append(
            f"{tp.type}: travel times from {tp.travel_source}; the model minimises "
            f"{tp.weight}-weighted {'minutes' if tp.cost_basis == 'time' else 'km'}"
        )
    if "below_threshold" not in tw:
        tw["below_threshold"] = False
    facilities = pd.concat(facs, ignore_index=True)
    cols = [c for c in facilities.columns if c != "site_from_seat"]
    # what stands in each township itself: a kept unit, or what a closed one became
    for tp in type_plans:
        f = facilities[facilities["type"] == tp.type]
        local: dict[str, str] = {}
        ordered = f.sort_values(["decision", "id"], ascending=[False, True])  # keep before close
        for code, dec, becomes in zip(
            ordered["township_code"], ordered["decision"], ordered["becomes"], strict=True
        ):
            local.setdefault(str(code), "keep" if dec == "keep" else str(becomes))
        tw[f"in_township__{tp.type}"] = tw["code"].map(local)
    if len(type_plans) > 1:
        kept_all = np.ones(len(tw), dtype=bool)
        for tp in type_plans:
            kept_all &= (tw[f"in_township__{tp.type}"] == "keep").to_numpy()
        metrics["colocation"] = {
            "types": [tp.type for tp in type_plans],
            "townships_hosting_all": int(kept_all.sum()),
            "codes": tw.loc[kept_all, "code"].tolist(),
        }
    synthetic = _is_synthetic(inputs)
    staffing = None
    if facilities["staff"].notna().any():
        staffing = propose_staffing(facilities, tw, inputs.counties, policy.staffing)
        units = staffing.units.set_index("id")
        facilities["minimum_staff"] = facilities["id"].map(units["minimum"])
        facilities["proposed_staff"] = facilities["id"].map(units["proposed"])
        cols += ["minimum_staff", "proposed_staff"]
        checks += staffing.checks
        notes = notes + staffing.notes
        metrics["staffing"] = _staffing_metrics(staffing.counties)
    else:
        notes = notes + [
            "no staff figures in the facilities: staffing (clauses 6, 8, 12) not proposed"
        ]
    return Plan(
        policy=policy,
        townships=gpd.GeoDataFrame(tw, geometry="geometry", crs=inputs.townships.crs),
        facilities=facilities[cols],
        checks=checks,
        metrics=metrics,
        solver=solver,
        notes=notes,
        synthetic=synthetic,
        sources=dict(inputs.sources),
        types=tuple(tp.type for tp in type_plans),
        staffing=None if staffing is None else staffing.counties,
    )


def _staffing_metrics(counties: pd.DataFrame) -> dict[str, Any]:
    """Totals per facility type of the staffing proposal, and the county rows."""
    out: dict[str, Any] = {}
    for t, rows in counties.groupby("type"):
        out[str(t)] = {
            "current": _num(rows["current"].sum()),
            "proposed": _num(rows["proposed"].sum()),
            "minimum_needed": _num(rows["minimum_needed"].sum()),
            "shortfall": _num(rows["shortfall"].sum()),
            "recruits_needed": _num(rows["recruits_needed"].sum()),
            "share_gap_staff": _num(rows["share_gap_staff"].fillna(0).sum()),
            "counties_short": int((rows["shortfall"] > 0).sum()),
        }
    out["by_county"] = [
        {
            k: (
                _num(v) if isinstance(v, int | float | np.number) and not isinstance(v, bool) else v
            )
            for k, v in r.items()
        }
        for r in counties.to_dict("records")
    ]
    return out


def _is_synthetic(inputs: Inputs) -> bool:
    """Tell whether the inputs come from the sample builder (its README says SYNTHETIC)."""
    for path in inputs.sources.values():
        readme = Path(path).parent / "README.md"
        if readme.is_file() and "SYNTHETIC" in readme.read_text(encoding="utf-8", errors="ignore"):
            return True
    return False


def _weights(tw: pd.DataFrame, weight: str) -> np.ndarray:
    return tw["population" if weight == "population" else "incidents"].to_numpy(dtype=float)


def _wmean(w: np.ndarray, d: np.ndarray) -> float | None:
    """Weighted mean of the finite distances (plain mean when the weights sum to 0)."""
    ok = np.isfinite(d)
    if not ok.any():
        return None
    ws = float(w[ok].sum())
    return float((w[ok] * d[ok]).sum() / ws) if ws > 0 else float(d[ok].mean())


def _max(d: np.ndarray) -> float | None:
    ok = np.isfinite(d)
    return float(d[ok].max()) if ok.any() else None


def type_metrics(tw: pd.DataFrame, f: pd.DataFrame, tp: TypePlan) -> dict[str, Any]:
    """Before/after metrics of one facility type, in total and by county.

    Parameters
    ----------
    tw
        Townships with the type's ``served_by``/``distance`` columns.
    f
        The type's facilities with decisions.
    tp
        The type plan.

    Returns
    -------
    dict
        ``before`` / ``after`` (count, weighted mean and max distance, population and incidents
        per facility), ``reduction``, ``central``, ``closed_becomes``, ``objective`` (weighted
        distance minus any co-location bonus) and ``by_county``.
    """
    t = tp.type
    w = tp.weights if tp.weights is not None else _weights(tw, tp.weight)
    w = np.asarray(w, dtype=float)
    d_after = tw[f"distance_km__{t}"].to_numpy(dtype=float)
    d_before = tw[f"distance_before_km__{t}"].to_numpy(dtype=float)
    pop = float(tw["population"].sum())
    inc = float(tw["incidents"].sum())

    def side(count: int, d: np.ndarray) -> dict[str, Any]:
        return {
            "count": count,
            "mean_distance_km": _num(_wmean(w, d)),
            "max_distance_km": _num(_max(d)),
            "population_per_facility": _num(pop / count if count else None),
            "incidents_per_facility": _num(inc / count if count else None),
        }

    n_before = len(f)
    n_after = int((f["decision"] == "keep").sum())
    by_county = []
    for county, idx in tw.groupby("county_code").groups.items():
        pos = tw.index.get_indexer(idx)
        fc = f[f["county_code"] == county]
        b, a = len(fc), int((fc["decision"] == "keep").sum())
        dc, dbc, wc = d_after[pos], d_before[pos], w[pos]
        by_county.append(
            {
                "county_code": county,
                "townships": len(pos),
                "population": _num(tw["population"].to_numpy()[pos].sum()),
                "before": b,
                "after": a,
                "reduction": _num(1 - a / b if b else 0.0),
                "mean_distance_before_km": _num(_wmean(wc, dbc)),
                "mean_distance_after_km": _num(_wmean(wc, dc)),
                "max_distance_after_km": _num(_max(dc)),
                "population_per_facility_after": _num(
                    tw["population"].to_numpy()[pos].sum() / a if a else None
                ),
            }
        )
    becomes = CLOSED_BECOMES[t]
    m_after = tw[f"minutes__{t}"].to_numpy(dtype=float)
    m_before = tw[f"minutes_before__{t}"].to_numpy(dtype=float)
    cost = m_after if tp.cost_basis == "time" else d_after
    ok = np.isfinite(cost)
    distance_term = float((w[ok] * cost[ok]).sum())
    grew = m_after - m_before
    order = np.argsort(-np.nan_to_num(m_after, nan=-1.0), kind="stable")[:10]
    travel = {
        "source": tp.travel_source,
        "cost_basis": tp.cost_basis,
        "mean_minutes_before": _num(_wmean(w, m_before)),
        "mean_minutes_after": _num(_wmean(w, m_after)),
        "max_minutes_after": _num(_max(m_after)),
        "by_road_share": _num(float(np.mean(tw[f"by_road__{t}"].to_numpy(dtype=bool)))),
        "worse_minutes": tp.worse_minutes,
        "townships_worse": int(np.sum(np.nan_to_num(grew) > tp.worse_minutes)),
        "worst_served": [
            {
                "code": str(tw["code"].iloc[i]),
                "name": str(tw["name"].iloc[i]),
                "served_by": tw[f"served_by__{t}"].iloc[i],
                "minutes": _num(m_after[i]),
                "minutes_before": _num(m_before[i]),
                "distance_km": _num(d_after[i]),
            }
            for i in order.tolist()
            if np.isfinite(m_after[i])
        ],
    }
    bonus = 0.0
    if tp.site_bonus is not None:
        bonus = float(np.asarray(tp.site_bonus)[(f["decision"] == "keep").to_numpy()].sum())
    return {
        "weight": tp.weight,
        "before": side(n_before, d_before),
        "after": side(n_after, d_after),
        "reduction": _num(1 - n_after / n_before if n_before else 0.0),
        "central": int(f["central"].sum()),
        "closed_becomes": {becomes: int((f["becomes"] == becomes).sum())},
        "closed_becomes_zh": CLOSED_BECOMES_ZH[becomes],
        "objective": _num(distance_term - bonus),
        "objective_basis": "minutes" if tp.cost_basis == "time" else "km",
        "travel": travel,
        "distance_term": _num(distance_term),
        "colocation_bonus": _num(bonus),
        "by_county": by_county,
    }
