"""A plan's figures as typed values: before/after metrics, travel, staffing and the solver report.

Every figure is computed from the decisions alone (which facilities are kept, which township
each serves), not read back from the model. Consumers read attributes; ``to_dict`` gives the
documented ``plan.json`` structure (docs/outputs.md), key for key.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimizer.planning.decode import TypePlan
from optimizer.schema import CLOSED_BECOMES, CLOSED_BECOMES_ZH
from optimizer.solver import LocationResult, SolveStatus

__all__ = [
    "Colocation",
    "CountyMetrics",
    "Metrics",
    "Side",
    "SolverReport",
    "SolverSummary",
    "StaffingMetrics",
    "StaffingTotals",
    "TimeBudgetReport",
    "TravelMetrics",
    "TypeMetrics",
    "WorstServed",
    "json_number",
    "json_text",
    "staffing_metrics",
    "type_metrics",
]

#: Worst first: the status of several solves together is the worst of theirs.
STATUS_ORDER = {"optimal": 0, "feasible": 1, "no_solution": 2, "infeasible": 3}


def json_text(v: Any) -> str | None:
    """JSON-safe text: None for missing or empty values."""
    return v if isinstance(v, str) and v else None


def json_number(v: Any) -> float | None:
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


def _plain(value: Any) -> Any:
    """Turn nested dataclasses, lists and dicts into plain data, keeping field order."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Side:
    """One side (today or the plan) of a facility type's layout."""

    count: int
    mean_distance_km: float | None
    max_distance_km: float | None
    population_per_facility: float | None
    incidents_per_facility: float | None


@dataclass(frozen=True)
class CountyMetrics:
    """Before/after figures of one facility type in one county."""

    county_code: str
    townships: int
    population: float | None
    before: int
    after: int
    reduction: float | None
    mean_distance_before_km: float | None
    mean_distance_after_km: float | None
    max_distance_after_km: float | None
    population_per_facility_after: float | None


@dataclass(frozen=True)
class WorstServed:
    """A township among the longest travel times after the plan."""

    code: str
    name: str
    served_by: str | None
    minutes: float | None
    minutes_before: float | None
    distance_km: float | None


@dataclass(frozen=True)
class TravelMetrics:
    """Travel times before and after, how they were measured, and the worst served."""

    source: str
    cost_basis: str
    mean_minutes_before: float | None
    mean_minutes_after: float | None
    max_minutes_after: float | None
    by_road_share: float | None
    worse_minutes: float
    townships_worse: int
    worst_served: list[WorstServed]


@dataclass(frozen=True)
class TypeMetrics:
    """Before/after metrics of one facility type, in total and by county."""

    weight: str
    before: Side
    after: Side
    reduction: float | None
    central: int
    closed_becomes: dict[str, int]
    closed_becomes_zh: str
    objective: float | None
    objective_basis: str
    travel: TravelMetrics
    distance_term: float | None
    colocation_bonus: float | None
    by_county: list[CountyMetrics]


@dataclass(frozen=True)
class Colocation:
    """Townships where a kept unit of every planned type stands."""

    types: list[str]
    townships_hosting_all: int
    codes: list[str]


@dataclass(frozen=True)
class StaffingTotals:
    """Totals of one facility type's staffing proposal over all counties."""

    current: float | None
    proposed: float | None
    minimum_needed: float | None
    shortfall: float | None
    recruits_needed: float | None
    share_gap_staff: float | None
    counties_short: int


@dataclass(frozen=True)
class StaffingMetrics:
    """The staffing proposal's totals per type and its county rows."""

    by_type: dict[str, StaffingTotals]
    by_county: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """Return ``metrics.staffing`` of plan.json: one key per type, then ``by_county``."""
        out: dict[str, Any] = {t: _plain(v) for t, v in self.by_type.items()}
        out["by_county"] = self.by_county
        return out


@dataclass(frozen=True)
class Metrics:
    """All figures of a plan: per facility type, co-location and staffing."""

    by_type: dict[str, TypeMetrics]
    colocation: Colocation | None = None
    staffing: StaffingMetrics | None = None

    def __getitem__(self, facility_type: str) -> TypeMetrics:
        return self.by_type[facility_type]

    def to_dict(self) -> dict[str, Any]:
        """Return ``metrics`` of plan.json (docs/outputs.md)."""
        out: dict[str, Any] = {t: _plain(m) for t, m in self.by_type.items()}
        if self.colocation is not None:
            out["colocation"] = _plain(self.colocation)
        if self.staffing is not None:
            out["staffing"] = self.staffing.to_dict()
        return out


@dataclass(frozen=True)
class SolverReport:
    """How one facility type's problem was solved."""

    status: SolveStatus
    objective: float | None
    bound: float | None
    gap: float | None
    seconds: float
    solver: str
    formulation: str
    variables: int
    constraints: int
    nonzeros: int
    rounds: int
    objective_unit: str
    time_limit_reached: bool = False

    @classmethod
    def from_result(cls, r: LocationResult, objective_unit: str) -> SolverReport:
        """Summarise a solver-core result."""
        return cls(
            status=SolveStatus(r.status),
            objective=json_number(r.objective),
            bound=json_number(r.bound),
            gap=json_number(r.gap),
            seconds=round(r.seconds, 3),
            solver=r.solver,
            formulation=r.formulation,
            variables=r.n_variables,
            constraints=r.n_constraints,
            nonzeros=r.n_nonzeros,
            rounds=r.rounds,
            objective_unit=objective_unit,
            time_limit_reached=bool(getattr(r, "time_limit_reached", False)),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return one entry of ``solver.by_type`` in plan.json."""
        out = _plain(self)
        out["status"] = str(self.status)
        del out["time_limit_reached"]  # reported once, in solver.time_budget
        return out


@dataclass(frozen=True)
class TimeBudgetReport:
    """The one time budget of a planning call and how it was spent."""

    limit_seconds: float
    seconds: float
    solving_seconds: float
    deadline_reached: bool
    stage_seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class SolverSummary:
    """The solver reports of every facility type of a plan, with their totals."""

    by_type: dict[str, SolverReport]
    budget: TimeBudgetReport | None = None

    def __getitem__(self, facility_type: str) -> SolverReport:
        return self.by_type[facility_type]

    @property
    def status(self) -> SolveStatus:
        """The worst status of the facility types."""
        worst = max((r.status for r in self.by_type.values()), key=lambda s: STATUS_ORDER[s])
        return SolveStatus(worst)

    @property
    def gap(self) -> float:
        """The largest relative gap of the facility types."""
        return max((r.gap or 0.0) for r in self.by_type.values())

    @property
    def seconds(self) -> float:
        """Seconds spent in the solver core, all types together."""
        return round(sum(r.seconds for r in self.by_type.values()), 3)

    def to_dict(self) -> dict[str, Any]:
        """Return ``solver`` of plan.json: totals, ``by_type`` and the time budget."""
        reports = self.by_type.values()
        out: dict[str, Any] = {
            "status": str(self.status),
            "objective": sum(r.objective for r in reports),  # type: ignore[misc]
            "bound": sum(r.bound for r in reports),  # type: ignore[misc]
            "gap": max(r.gap for r in reports),  # type: ignore[type-var]
            "seconds": self.seconds,
            "by_type": {t: r.to_dict() for t, r in self.by_type.items()},
        }
        if self.budget is not None:
            out["time_budget"] = _plain(self.budget)
        return out


# ------------------------------------------------------------------ computing the figures


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


def _weights(tw: pd.DataFrame, weight: str) -> np.ndarray:
    return tw["population" if weight == "population" else "incidents"].to_numpy(dtype=float)


def type_metrics(tw: pd.DataFrame, f: pd.DataFrame, tp: TypePlan) -> TypeMetrics:
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

    def side(count: int, d: np.ndarray) -> Side:
        return Side(
            count=count,
            mean_distance_km=json_number(_wmean(w, d)),
            max_distance_km=json_number(_max(d)),
            population_per_facility=json_number(pop / count if count else None),
            incidents_per_facility=json_number(inc / count if count else None),
        )

    n_before = len(f)
    n_after = int((f["decision"] == "keep").sum())
    by_county = []
    for county, idx in tw.groupby("county_code").groups.items():
        pos = tw.index.get_indexer(idx)
        fc = f[f["county_code"] == county]
        b, a = len(fc), int((fc["decision"] == "keep").sum())
        dc, dbc, wc = d_after[pos], d_before[pos], w[pos]
        by_county.append(
            CountyMetrics(
                county_code=str(county),
                townships=len(pos),
                population=json_number(tw["population"].to_numpy()[pos].sum()),
                before=b,
                after=a,
                reduction=json_number(1 - a / b if b else 0.0),
                mean_distance_before_km=json_number(_wmean(wc, dbc)),
                mean_distance_after_km=json_number(_wmean(wc, dc)),
                max_distance_after_km=json_number(_max(dc)),
                population_per_facility_after=json_number(
                    tw["population"].to_numpy()[pos].sum() / a if a else None
                ),
            )
        )
    becomes = CLOSED_BECOMES[t]
    m_after = tw[f"minutes__{t}"].to_numpy(dtype=float)
    m_before = tw[f"minutes_before__{t}"].to_numpy(dtype=float)
    cost = m_after if tp.cost_basis == "time" else d_after
    ok = np.isfinite(cost)
    distance_term = float((w[ok] * cost[ok]).sum())
    grew = m_after - m_before
    order = np.argsort(-np.nan_to_num(m_after, nan=-1.0), kind="stable")[:10]
    travel = TravelMetrics(
        source=tp.travel_source,
        cost_basis=tp.cost_basis,
        mean_minutes_before=json_number(_wmean(w, m_before)),
        mean_minutes_after=json_number(_wmean(w, m_after)),
        max_minutes_after=json_number(_max(m_after)),
        by_road_share=json_number(float(np.mean(tw[f"by_road__{t}"].to_numpy(dtype=bool)))),
        worse_minutes=tp.worse_minutes,
        townships_worse=int(np.sum(np.nan_to_num(grew) > tp.worse_minutes)),
        worst_served=[
            WorstServed(
                code=str(tw["code"].iloc[i]),
                name=str(tw["name"].iloc[i]),
                served_by=tw[f"served_by__{t}"].iloc[i],
                minutes=json_number(m_after[i]),
                minutes_before=json_number(m_before[i]),
                distance_km=json_number(d_after[i]),
            )
            for i in order.tolist()
            if np.isfinite(m_after[i])
        ],
    )
    bonus = 0.0
    if tp.site_bonus is not None:
        bonus = float(np.asarray(tp.site_bonus)[(f["decision"] == "keep").to_numpy()].sum())
    return TypeMetrics(
        weight=tp.weight,
        before=side(n_before, d_before),
        after=side(n_after, d_after),
        reduction=json_number(1 - n_after / n_before if n_before else 0.0),
        central=int(f["central"].sum()),
        closed_becomes={becomes: int((f["becomes"] == becomes).sum())},
        closed_becomes_zh=CLOSED_BECOMES_ZH[becomes],
        objective=json_number(distance_term - bonus),
        objective_basis="minutes" if tp.cost_basis == "time" else "km",
        travel=travel,
        distance_term=json_number(distance_term),
        colocation_bonus=json_number(bonus),
        by_county=by_county,
    )


def staffing_metrics(counties: pd.DataFrame) -> StaffingMetrics:
    """Totals per facility type of the staffing proposal, and its county rows.

    Parameters
    ----------
    counties
        The county rows of the staffing proposal (one per facility type and county).

    Returns
    -------
    StaffingMetrics
        Totals per type (staff today, proposed, minimum needed, shortfall, recruits, share
        gap, counties short) and the county rows as plain data.
    """
    by_type: dict[str, StaffingTotals] = {}
    for t, rows in counties.groupby("type"):
        by_type[str(t)] = StaffingTotals(
            current=json_number(rows["current"].sum()),
            proposed=json_number(rows["proposed"].sum()),
            minimum_needed=json_number(rows["minimum_needed"].sum()),
            shortfall=json_number(rows["shortfall"].sum()),
            recruits_needed=json_number(rows["recruits_needed"].sum()),
            share_gap_staff=json_number(rows["share_gap_staff"].fillna(0).sum()),
            counties_short=int((rows["shortfall"] > 0).sum()),
        )
    rows_out: list[dict[str, Any]] = [
        {
            str(k): (
                json_number(v)
                if isinstance(v, int | float | np.number) and not isinstance(v, bool)
                else v
            )
            for k, v in r.items()
        }
        for r in counties.to_dict("records")
    ]
    return StaffingMetrics(by_type=by_type, by_county=rows_out)
