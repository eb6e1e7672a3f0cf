"""Decoded plans: the solver's open sites and assignment turned back into facilities and townships."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimizer.planning.formulate import Formulated
from optimizer.rules.policy import TravelSettings
from optimizer.schema import CLOSED_BECOMES, COURT
from optimizer.solver import LocationResult

__all__ = ["TypePlan", "decode"]


@dataclass
class TypePlan:
    """The solved plan of one facility type, before checks and metrics are derived."""

    type: str
    facilities: pd.DataFrame
    assignment: pd.DataFrame
    result: LocationResult
    weight: str
    scope: str
    reduction: float | None
    limits: dict[str, dict[str, Any]]
    max_distance_km: float | None
    circuity: float
    central_min_townships: int
    pinned_open: tuple[str, ...] = ()
    pinned_closed: tuple[str, ...] = ()
    screen_rule: str = ""
    contiguity: bool = False
    min_load: float | None = None
    adjacent_only: bool = False
    court_neighbours: dict[str, list[str]] = field(default_factory=dict)
    weights: np.ndarray | None = None
    site_bonus: np.ndarray | None = None
    cost_basis: str = "distance"
    travel_source: str = ""
    max_minutes: float | None = None
    worse_minutes: float = 15.0
    pin_reasons: dict[str, str] = field(default_factory=dict)
    assigned: dict[str, str] = field(default_factory=dict)  # township code: planner's facility


def decode(f: Formulated, res: LocationResult, travel: TravelSettings) -> TypePlan:
    """Turn the solver's open sites and assignment back into facilities and townships.

    Parameters
    ----------
    f
        The formulated facility type.
    res
        The solver core's result for ``f.problem``.
    travel
        The travel settings (cost basis and the "worse by" threshold).

    Returns
    -------
    TypePlan
        Decisions per facility, the township assignment with distances and travel times
        before and after, and the rules that shaped them.
    """
    ctx, spec = f.ctx, f.ctx.spec
    kept = np.zeros(ctx.n_s, dtype=bool)
    kept[res.open_sites] = True
    served_by = np.full(ctx.n_t, -1, dtype=np.int64)
    served_by[f.clients] = res.assignment
    return TypePlan(
        type=spec.type,
        facilities=_facility_decisions(f, kept, served_by),
        assignment=_assignment(f, served_by),
        result=res,
        weight=spec.weight_name,
        scope=spec.scope,
        reduction=spec.reduction,
        limits=f.limits,
        max_distance_km=spec.max_distance_km,
        circuity=spec.circuity,
        central_min_townships=spec.central_min,
        pinned_open=tuple(ctx.ids[j] for j in sorted(ctx.pinned_open)),
        pinned_closed=tuple(ctx.ids[j] for j in sorted(ctx.pinned_closed)),
        screen_rule=spec.screen_rule,
        contiguity=spec.contiguity,
        min_load=spec.min_load,
        adjacent_only=spec.adjacent_only,
        court_neighbours={
            ctx.ids[a]: sorted(ctx.ids[b] for b in bs) for a, bs in f.court_adj.items()
        },
        weights=spec.weights,
        site_bonus=None if spec.site_bonus is None else spec.site_bonus[ctx.s_town],
        cost_basis=travel.cost,
        travel_source=f.travel_source,
        max_minutes=spec.max_minutes,
        worse_minutes=travel.worse_minutes,
        pin_reasons=dict(spec.pin_reasons),
        assigned=dict(spec.assign),
    )


def _facility_decisions(f: Formulated, kept: np.ndarray, served_by: np.ndarray) -> pd.DataFrame:
    """Return the type's facilities with decision, what a closed one becomes, and reasons."""
    ctx, spec = f.ctx, f.ctx.spec
    n_s, t = ctx.n_s, spec.type
    fac = ctx.fac.copy()
    fac["decision"] = np.where(kept, "keep", "close")
    fac["becomes"] = [None if k else CLOSED_BECOMES[t] for k in kept]
    fac["host_screened"] = ctx.host_screened
    fac["exception"] = [
        f.exception_reason.get(j, "") if (kept[j] and ctx.host_screened[j]) else ""
        for j in range(n_s)
    ]
    fac["exception_by"] = [
        ("planner" if j in ctx.pinned_open else "model") if reason else ""
        for j, reason in enumerate(fac["exception"])
    ]
    fac["pinned"] = [
        "open" if j in ctx.pinned_open else "closed" if j in ctx.pinned_closed else ""
        for j in range(n_s)
    ]
    if spec.loads is not None and t == COURT:
        loads = np.asarray(spec.loads)
        load = np.zeros(n_s)
        np.add.at(load, served_by[f.clients], loads[f.clients])
        fac["caseload"] = np.where(kept, np.round(load, 3), np.nan)
        before_load = np.zeros(n_s)
        ok = f.before_s >= 0
        np.add.at(before_load, f.before_s[ok], loads[ok])
        fac["caseload_before"] = np.round(before_load, 3)
        fac["min_cases_exempt"] = [f.remote.get(j, "") for j in range(n_s)]
        fac["exempt_by"] = [f.remote_by.get(j, "") for j in range(n_s)]
        if f.site_min is not None:
            fac["min_cases"] = np.round(f.site_min, 3)
        fac["merged_into"] = [
            "" if kept[j] else _absorber(j, ctx.s_town, served_by, ctx.ids) for j in range(n_s)
        ]
    return fac


def _assignment(f: Formulated, served_by: np.ndarray) -> pd.DataFrame:
    """Return, per township, who serves it now and today, at what distance and travel time."""
    ctx, p = f.ctx, f.pairs
    lookup = {(int(i), int(j)): k for k, (i, j) in enumerate(zip(p.t, p.s, strict=True))}
    k_of = np.array(
        [lookup[(i, int(served_by[i]))] if served_by[i] >= 0 else -1 for i in range(ctx.n_t)]
    )
    has_k = k_of >= 0
    ids = ctx.ids
    return pd.DataFrame(
        {
            "code": ctx.tw["code"].to_numpy(),
            "served_by": [ids[j] if j >= 0 else None for j in served_by],
            "distance_km": np.where(has_k, p.d[k_of], np.nan),
            "before_by": [ids[j] if j >= 0 else None for j in f.before_s],
            "distance_before_km": f.before_d,
            "minutes": np.where(has_k, p.m[k_of], np.nan),
            "minutes_before": f.before_m,
            "by_road": np.where(has_k, p.r[k_of], False),
            "screened": ctx.screen,
            "basic_court": np.isin(f.before_s, list(ctx.merged_basic)) & (served_by < 0),
        }
    )


def _absorber(j: int, s_town: np.ndarray, served_by: np.ndarray, ids: list[str]) -> str:
    """Return the kept facility that now serves the closed facility's own township."""
    k = served_by[s_town[j]]
    return ids[k] if k >= 0 else ""
