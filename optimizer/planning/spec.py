"""A facility type's rules in the terms the generic planner needs, read off the policy."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optimizer.inputs import Inputs
from optimizer.rules.policy import Policy
from optimizer.rules.screens import below_threshold, tibetan_disagreement, township_cases
from optimizer.schema import JUDICIAL, POLICE
from optimizer.spatial import Geography

__all__ = ["TypeRules", "rules_for"]


@dataclass
class TypeRules:
    """One facility type's rules, in the terms the generic planner needs."""

    type: str
    reduction: float | None
    scope: str
    weights: np.ndarray
    weight_name: str
    max_distance_km: float | None
    circuity: float
    max_minutes: float | None
    pin_open: tuple[str, ...]
    pin_closed: tuple[str, ...]
    central_min: int
    contiguity: bool
    screen: np.ndarray | None = None  # townships whose own facility should close
    screen_rule: str = ""
    min_load: float | None = None
    loads: np.ndarray | None = None
    remote_km: float | None = None
    adjacent_only: bool = False
    county_may_lack: bool = False  # townships of a county without such facility are not served
    site_bonus: np.ndarray | None = None  # per township hosting a kept unit of another type
    pin_reasons: dict[str, str] = field(default_factory=dict)
    seat_merge_km: float | None = None
    follow_townships: bool = False  # clause 4: a township outside the screen keeps its own
    assign: dict[str, str] = field(default_factory=dict)  # township code: the planner's facility
    notes: list[str] = field(default_factory=list)


def rules_for(t: str, inputs: Inputs, g: Geography, policy: Policy) -> TypeRules:
    """Return the rules of facility type ``t`` under ``policy``: weights, limits, screens, pins.

    A facility the planner assigns a township to (``assign_townships``) is kept as if pinned
    open, and its pin reason quotes the assignment and its justification.
    """
    rules = _rules_for(t, inputs, g, policy)
    section = {POLICE: policy.police, JUDICIAL: policy.judicial}.get(t, policy.court)
    table = section.assign_townships
    if not table:
        return rules
    names = dict(zip(inputs.townships["code"].astype(str), inputs.townships["name"], strict=True))
    rules.assign = {code: e["facility"] for code, e in sorted(table.items())}
    opened = list(rules.pin_open)
    for code, entry in sorted(table.items()):
        fid = entry["facility"]
        if fid not in opened:
            opened.append(fid)
        text = f"指定服务{code}{names.get(code, '')}（{entry['reason']}）"
        old = rules.pin_reasons.get(fid)
        rules.pin_reasons[fid] = f"{old}；{text}" if old else text
    rules.pin_open = tuple(opened)
    return rules


def _rules_for(t: str, inputs: Inputs, g: Geography, policy: Policy) -> TypeRules:
    """Return the rules of ``t`` as the policy's sections state them."""
    tw = inputs.townships
    pop = tw["population"].to_numpy(dtype=float)
    inc = tw["incidents"].to_numpy(dtype=float)
    if t == POLICE:
        pol = policy.police
        tib_note = tibetan_disagreement(tw, pol) if pol.exempt_tibetan_area else ""
        return TypeRules(
            type=t,
            reduction=pol.reduction,
            scope=pol.scope,
            weights=pop if pol.weight == "population" else inc,
            weight_name=pol.weight,
            max_distance_km=pol.max_distance_km,
            circuity=pol.circuity,
            max_minutes=pol.max_travel_minutes,
            pin_open=pol.pin_open,
            pin_closed=pol.pin_closed,
            central_min=pol.central_min_townships,
            contiguity=pol.contiguity,
            screen=below_threshold(tw, pol).to_numpy(),
            pin_reasons=dict(pol.pin_reasons),
            follow_townships=True,
            notes=[tib_note] if tib_note else [],
            screen_rule=(
                f"population < {pol.min_population:,.0f} and incidents < {pol.min_incidents:,.0f}"
                + (" outside the 涉藏地区" if pol.exempt_tibetan_area else "")
            ),
        )
    cases, n_est = township_cases(tw, policy.court.cases_per_10k)
    notes = []
    if n_est:
        notes.append(
            f"cases estimated from population at {policy.court.cases_per_10k:g} per 10,000 "
            f"residents for {n_est} township(s) without a `cases` figure"
        )
    if t == JUDICIAL:
        jud = policy.judicial
        screen = None
        rule = ""
        if jud.min_density_per_km2 is not None:
            density = pop / np.maximum(g.area_km2, 1e-9)
            screen = density < jud.min_density_per_km2
            rule = f"population density < {jud.min_density_per_km2:g} per km²"
        weights = {"population": pop, "incidents": inc, "cases": cases}[jud.weight]
        return TypeRules(
            type=t,
            reduction=jud.reduction,
            scope=jud.scope,
            weights=weights,
            weight_name=jud.weight,
            max_distance_km=jud.max_distance_km,
            circuity=jud.circuity,
            max_minutes=jud.max_travel_minutes,
            pin_open=jud.pin_open,
            pin_closed=jud.pin_closed,
            central_min=jud.central_min_townships,
            contiguity=jud.contiguity,
            screen=screen,
            screen_rule=rule,
            pin_reasons=dict(jud.pin_reasons),
            notes=notes if jud.weight == "cases" else [],
        )
    crt = policy.court
    weights = {"population": pop, "incidents": inc, "cases": cases}[crt.weight]
    return TypeRules(
        type=t,
        reduction=crt.reduction,
        scope=crt.scope,
        weights=weights,
        weight_name=crt.weight,
        max_distance_km=crt.max_distance_km,
        circuity=crt.circuity,
        max_minutes=crt.max_travel_minutes,
        pin_open=crt.pin_open,
        pin_closed=crt.pin_closed,
        central_min=crt.central_min_townships,
        contiguity=crt.contiguity,
        min_load=crt.min_cases if crt.min_cases > 0 else None,
        loads=cases,
        remote_km=crt.remote_km,
        adjacent_only=crt.adjacent_only,
        county_may_lack=True,
        pin_reasons=dict(crt.pin_reasons),
        seat_merge_km=crt.seat_merge_km,
        notes=notes,
    )
