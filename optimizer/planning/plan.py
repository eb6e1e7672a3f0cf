"""Turn planners' data and a policy into location problems, solve them, and return a Plan.

Each facility type becomes one problem for the geography-free solver core
(:mod:`optimizer.locate`):

- clients are townships, weighted by population (or incidents, or cases); sites are today's
  facilities of the type;
- allowed pairs: same county, within the distance limit (and, for courts, only the court's own
  or an adjacent court's current jurisdiction); costs are kilometres (straight line in a
  projected CRS times the circuity factor);
- at most one kept facility per township; a count limit per scope (province, prefecture or
  county) of ``(1 - reduction)`` times today's facilities;
- a screen (police: population < 20,000 and incidents < 50 outside the 涉藏地区; offices:
  optionally a density floor) closes the facilities of screened townships, except the fewest
  the rules force open, decided by a set cover before the main model and reported with reasons;
- optional connected jurisdictions (contiguity) and, for courts, a minimum caseload;
- pinned facilities are kept or closed as the planner says.

Types are planned in the order police stations, judicial offices, courts; with a co-location
bonus, an office or court in a township that keeps a station is preferred.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimizer.errors import DataError, InfeasibleError, PolicyError
from optimizer.inputs import Inputs
from optimizer.planning.decode import TypePlan
from optimizer.rules.policy import Policy, SolverSettings, TravelSettings
from optimizer.rules.screens import below_threshold, scope_key, township_cases
from optimizer.schema import (
    CLOSED_BECOMES,
    COURT,
    FACILITY_LABELS_ZH,
    FACILITY_TYPES,
    JUDICIAL,
    POLICE,
)
from optimizer.solver import locate
from optimizer.spatial import network
from optimizer.spatial.geography import Geography, project, site_xy, township_edges

__all__ = ["SUPPORTED_TYPES", "plan_types"]

logger = logging.getLogger(__name__)

#: Facility types the planner can plan.
SUPPORTED_TYPES: tuple[str, ...] = (POLICE, JUDICIAL, COURT)


@dataclass
class _Spec:
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
    notes: list[str] = field(default_factory=list)


def plan_types(
    inputs: Inputs,
    policy: Policy,
    *,
    types: Sequence[str] | None = None,
) -> tuple[list[TypePlan], list[str], Geography]:
    """Solve the facility types present in the data (or those selected), one after another.

    Parameters
    ----------
    inputs
        Validated inputs from :func:`optimizer.inputs.load_inputs`.
    policy
        Scenario settings.
    types
        Facility types to plan; default: every type present in the data.

    Returns
    -------
    type_plans : list of TypePlan
        One decoded plan per facility type, in planning order.
    notes : list of str
        Notes of the inputs and of the run.
    geography : Geography
        The projection, areas and adjacency computed on the way, for the report.

    Raises
    ------
    InfeasibleError
        When the rules cannot hold together; the message names the townships and numbers.
    PolicyError
        When a selected type is unknown.
    DataError
        When a selected type has no facilities in the data.
    """
    present = [t for t in FACILITY_TYPES if (inputs.facilities["type"] == t).any()]
    if types is None:
        chosen = [t for t in present if t in SUPPORTED_TYPES]
    else:
        unknown = [t for t in types if t not in FACILITY_TYPES]
        if unknown:
            raise PolicyError(
                f"unknown facility type(s) {unknown}; choose from {list(FACILITY_TYPES)}"
            )
        missing = [t for t in types if t not in present]
        if missing:
            raise DataError(f"the facilities file has no rows of type {missing}")
        chosen = [t for t in FACILITY_TYPES if t in types]
    if not chosen:
        raise DataError(
            f"no facilities of a plannable type ({', '.join(SUPPORTED_TYPES)}) in the data"
        )
    notes = list(inputs.notes)
    skipped = [t for t in present if t not in chosen]
    if skipped:
        notes.append(f"not planned in this run: {', '.join(skipped)}")
    g = project(inputs)
    tw = inputs.townships
    type_plans: list[TypePlan] = []
    station_towns: set[str] = set()
    for t in chosen:
        logger.info("planning %s (%s) ...", t, FACILITY_LABELS_ZH[t])
        spec = _spec_for(t, inputs, g, policy)
        if t != POLICE and policy.colocation_bonus_km > 0 and station_towns:
            host = tw["code"].isin(station_towns).to_numpy()
            spec.site_bonus = np.where(host, policy.colocation_bonus_km * spec.weights, 0.0)
        tp = _plan_type(inputs, g, spec, policy.solver, policy.travel)
        notes += spec.notes
        if t == POLICE:
            kept = tp.facilities[tp.facilities["decision"] == "keep"]
            station_towns = set(kept["township_code"])
        type_plans.append(tp)
    return type_plans, notes, g


def _spec_for(t: str, inputs: Inputs, g: Geography, policy: Policy) -> _Spec:
    tw = inputs.townships
    pop = tw["population"].to_numpy(dtype=float)
    inc = tw["incidents"].to_numpy(dtype=float)
    if t == POLICE:
        pol = policy.police
        return _Spec(
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
            screen_rule=(
                f"population < {pol.min_population:,.0f} and incidents < {pol.min_incidents:,.0f}"
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
        return _Spec(
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
            notes=notes if jud.weight == "cases" else [],
        )
    crt = policy.court
    weights = {"population": pop, "incidents": inc, "cases": cases}[crt.weight]
    return _Spec(
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
        notes=notes,
    )


def _travel(
    inputs: Inputs,
    g: Geography,
    s_xy: np.ndarray,
    s_county: np.ndarray,
    pairs_t: np.ndarray,
    pairs_s: np.ndarray,
    spec: _Spec,
    travel: TravelSettings,
) -> tuple[np.ndarray, np.ndarray]:
    """Travel minutes per (township, facility) pair: by road when roads are given."""
    if inputs.roads is None:
        g.travel_source = f"straight line × circuity {spec.circuity:g} at {travel.fallback_kmh:g} km/h (no road layer)"
        minutes = network.straight_line_minutes(
            g.seats_xy, s_xy, pairs_t, pairs_s, circuity=spec.circuity, kmh=travel.fallback_kmh
        )
        return minutes, np.zeros(len(pairs_t), dtype=bool)
    if g.road is None:
        g.road = network.road_graph(inputs.roads, g.crs, townships=inputs.townships)
    t_county = inputs.townships["county_code"].to_numpy().astype(str)
    minutes, used = network.travel_minutes(
        g.road,
        g.seats_xy,
        s_xy,
        pairs_t,
        pairs_s,
        groups_o=t_county,
        groups_d=s_county,
        access_kmh=travel.access_kmh,
        circuity=spec.circuity,
        fallback_kmh=travel.fallback_kmh,
    )
    share = float(used.mean()) if len(used) else 0.0
    g.travel_source = (
        f"road network ({share:.1%} of pairs by road; the rest straight line × circuity "
        f"{spec.circuity:g} at {travel.fallback_kmh:g} km/h)"
    )
    return minutes, used


def _plan_type(
    inputs: Inputs, g: Geography, spec: _Spec, settings: SolverSettings, travel: TravelSettings
) -> TypePlan:
    t = spec.type
    tw = inputs.townships
    fac = inputs.facilities[inputs.facilities["type"] == t].reset_index(drop=True)
    n_t, n_s = len(tw), len(fac)
    label = FACILITY_LABELS_ZH[t]
    t_index = {c: i for i, c in enumerate(tw["code"])}
    s_town = fac["township_code"].map(t_index).to_numpy(dtype=np.int64)
    s_xy = site_xy(fac, g.crs)
    t_county = tw["county_code"].to_numpy().astype(str)
    s_county = fac["county_code"].to_numpy().astype(str)
    ids = fac["id"].astype(str).tolist()
    id_index = {s: j for j, s in enumerate(ids)}

    problems = [
        f"pinned {t} '{p}' is not in the data"
        for p in (*spec.pin_open, *spec.pin_closed)
        if p not in id_index
    ]
    if problems:
        raise PolicyError(problems)
    pinned_open = {id_index[p] for p in spec.pin_open}
    pinned_closed = {id_index[p] for p in spec.pin_closed}
    screen = spec.screen if spec.screen is not None else np.zeros(n_t, dtype=bool)
    host_screened = screen[s_town]

    # ---- counties: which townships are served at all
    counties_with = set(s_county)
    served_mask = np.array([c in counties_with for c in t_county])
    lacking = sorted(set(t_county[~served_mask]))
    if lacking and not spec.county_may_lack:
        raise InfeasibleError(
            [
                f"county {c}: {int((t_county == c).sum())} townships but no {t} ({label}) in the data"
                for c in lacking
            ]
        )
    if lacking:
        spec.notes.append(
            f"{len(lacking)} count(y/ies) have no {t} ({label}); their {int((~served_mask).sum())} "
            f"townships are served directly by the county's basic court (基层法院): "
            + ", ".join(lacking[:12])
            + (" ..." if len(lacking) > 12 else "")
        )
    clients = np.flatnonzero(served_mask)
    c_of_t = np.full(n_t, -1, dtype=np.int64)
    c_of_t[clients] = np.arange(len(clients))

    # ---- distances and travel times, today's nearest facility, allowed pairs
    tables: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
    all_o: list[np.ndarray] = []
    all_d: list[np.ndarray] = []
    for county in sorted(counties_with & set(t_county)):
        ti = np.flatnonzero(t_county == county)
        si = np.flatnonzero(s_county == county)
        d = np.hypot(
            g.seats_xy[ti, None, 0] - s_xy[None, si, 0],
            g.seats_xy[ti, None, 1] - s_xy[None, si, 1],
        ) * (spec.circuity / 1000.0)
        d = np.round(d, 6)  # stable costs: the same inputs give the same plan
        tables[county] = (ti, si, d, np.zeros(d.shape), np.zeros(d.shape, dtype=bool))
        all_o.append(np.repeat(ti, len(si)))
        all_d.append(np.tile(si, len(ti)))
    minutes_flat, roads_flat = _travel(
        inputs, g, s_xy, s_county, np.concatenate(all_o), np.concatenate(all_d), spec, travel
    )
    pos = 0
    for _, _, d, mins, used in tables.values():
        n = d.size
        mins[:] = np.round(minutes_flat[pos : pos + n].reshape(d.shape), 4)
        used[:] = roads_flat[pos : pos + n].reshape(d.shape)
        pos += n
    use_time = travel.cost == "time"
    before_d = np.full(n_t, np.nan)
    before_m = np.full(n_t, np.nan)
    before_s = np.full(n_t, -1, dtype=np.int64)
    for ti, si, d, mins, _ in tables.values():
        cost = mins if use_time else d
        nearest = np.argmin(cost, axis=1)
        rows = np.arange(len(ti))
        before_d[ti] = d[rows, nearest]
        before_m[ti] = mins[rows, nearest]
        before_s[ti] = si[nearest]

    court_adj: dict[int, set[int]] = {}
    if spec.adjacent_only:
        court_adj = _current_neighbours(inputs, g, before_s, n_s)
    pair_t: list[np.ndarray] = []
    pair_s: list[np.ndarray] = []
    pair_d: list[np.ndarray] = []
    pair_m: list[np.ndarray] = []
    pair_r: list[np.ndarray] = []
    for ti, si, d, mins, used in tables.values():
        ok = np.ones(d.shape, dtype=bool)
        if spec.max_distance_km is not None:
            ok &= d <= spec.max_distance_km + 1e-9
        if spec.max_minutes is not None:
            ok &= mins <= spec.max_minutes + 1e-9
        ok &= ~np.isin(si, list(pinned_closed))[None, :]
        if spec.adjacent_only:
            for a, i in enumerate(ti):
                own = int(before_s[i])
                allowed = {own} | court_adj.get(own, set())
                ok[a] &= np.isin(si, list(allowed))
        r, c = np.nonzero(ok)
        pair_t.append(ti[r])
        pair_s.append(si[c])
        pair_d.append(d[r, c])
        pair_m.append(mins[r, c])
        pair_r.append(used[r, c])
    p_t = np.concatenate(pair_t) if pair_t else np.zeros(0, dtype=np.int64)
    p_s = np.concatenate(pair_s) if pair_s else np.zeros(0, dtype=np.int64)
    p_d = np.concatenate(pair_d) if pair_d else np.zeros(0)
    p_m = np.concatenate(pair_m) if pair_m else np.zeros(0)
    p_r = np.concatenate(pair_r) if pair_r else np.zeros(0, dtype=bool)

    unreachable = sorted(set(clients.tolist()) - set(p_t.tolist()))
    if unreachable:
        reach = (
            " and ".join(
                x
                for x in (
                    f"within {spec.max_distance_km:g} km" if spec.max_distance_km else "",
                    f"within {spec.max_minutes:g} minutes" if spec.max_minutes else "",
                )
                if x
            )
            or "in its county"
        )
        raise InfeasibleError(
            [
                f"township {tw.at[i, 'code']} {tw.at[i, 'name']} has no {t} ({label}) that may stay "
                f"open {reach}"
                for i in unreachable
            ]
            + [
                f"raise the {t.split('_')[0]} distance or travel-time limit, or unpin a closed facility"
            ],
        )

    # ---- eligibility and the fewest exceptions
    all_sites = np.arange(n_s)
    eligible = (~host_screened) | np.isin(all_sites, list(pinned_open))
    eligible &= ~np.isin(all_sites, list(pinned_closed))
    covered = np.zeros(n_t, dtype=bool)
    covered[p_t[eligible[p_s]]] = True
    covered[~served_mask] = True
    exception_reason: dict[int, str] = {
        j: "pinned open by the planner" for j in pinned_open if host_screened[j]
    }
    groups: list[locate.SiteGroup] = []
    fixed_closed = set(pinned_closed)
    candidates_all: set[int] = set()
    where = (
        f"within {spec.max_distance_km:g} km"
        if spec.max_distance_km
        else f"within {spec.max_minutes:g} minutes"
        if spec.max_minutes
        else "in the county"
    )
    for county in sorted(set(t_county[~covered])):
        lonely = [int(i) for i in np.flatnonzero((t_county == county) & ~covered)]
        mask = np.isin(p_t, lonely) & ~eligible[p_s]
        cand = sorted(set(p_s[mask].tolist()))
        sets = [sorted(set(p_t[mask & (p_s == j)].tolist())) for j in cand]
        local = {i: k for k, i in enumerate(lonely)}
        chosen = locate.min_cover([[local[i] for i in s] for s in sets], len(lonely))
        groups.append(locate.SiteGroup(f"exc_{county}", np.asarray(cand), 0, len(chosen)))
        candidates_all |= set(cand)
        for j in cand:
            served = [str(tw.at[i, "name"]) for i in sorted(set(p_t[mask & (p_s == j)].tolist()))]
            exception_reason[j] = (
                f"{spec.screen_rule}, but no {label} in a township outside the screen lies {where} "
                f"of {', '.join(served)}"
            )
        logger.info(
            "county %s: %d township(s) have no eligible %s in reach; %d exception(s) needed",
            county,
            len(lonely),
            t,
            len(chosen),
        )
    for j in np.flatnonzero(~eligible).tolist():
        if j not in candidates_all:
            fixed_closed.add(j)

    # ---- at most one kept facility per township
    for ti_ in np.unique(s_town).tolist():
        js = np.flatnonzero(s_town == ti_)
        if len(js) > 1:
            groups.append(locate.SiteGroup(f"town_{tw.at[ti_, 'code']}", js, 0, 1))

    # ---- count limit per scope
    limits: dict[str, dict[str, Any]] = {}
    if spec.reduction is not None:
        scope_of_site = np.array([scope_key(c, spec.scope) for c in s_county])
        may_open = eligible | np.isin(all_sites, list(candidates_all))
        for key in sorted(set(scope_of_site)):
            members = np.flatnonzero(scope_of_site == key)
            current = len(members)
            limit = int(math.floor((1.0 - spec.reduction) * current + 1e-9))
            need = _min_needed(
                key,
                spec.scope,
                t_county,
                served_mask,
                p_t,
                p_s,
                may_open,
                pinned_open,
                fixed_closed,
            )
            reason = ""
            if need > limit:
                reason = (
                    f"a {spec.reduction:.0%} cut leaves {limit} of {current}, but serving every "
                    f"township under the rules needs at least {need}"
                )
                logger.warning("%s, scope %s: %s; the limit is lifted to %d", t, key, reason, need)
                limit = need
            limits[key] = {"current": current, "limit": limit, "need": need, "reason": reason}
            groups.append(locate.SiteGroup(f"scope_{key}", members, 0, limit))

    # ---- minimum caseload, unless too remote to merge
    site_min = None
    remote: dict[int, str] = {}
    if spec.min_load is not None and spec.loads is not None:
        site_min = np.full(n_s, float(spec.min_load))
        for j in range(n_s):
            others = np.flatnonzero(s_county == s_county[j])
            others = others[others != j]
            gap_km = (
                float(np.min(np.hypot(*(s_xy[others] - s_xy[j]).T))) * spec.circuity / 1000.0
                if len(others)
                else math.inf
            )
            if spec.remote_km is not None and gap_km > spec.remote_km:
                site_min[j] = np.nan
                where_other = (
                    f"{gap_km:.0f} km" if math.isfinite(gap_km) else "no other court in the county"
                )
                remote[j] = (
                    f"too remote to merge: nearest other court {where_other} (> {spec.remote_km:g} km)"
                )
            elif j in pinned_open:
                site_min[j] = np.nan
                remote[j] = "pinned open by the planner"
        county_total = pd.Series(spec.loads[served_mask]).groupby(t_county[served_mask]).sum()
        for county, total in county_total.items():
            if total < spec.min_load:
                js = np.flatnonzero(s_county == county)
                site_min[js] = np.nan
                for j in js.tolist():
                    remote[j] = (
                        f"the county's {total:,.0f} cases a year are below the minimum "
                        f"{spec.min_load:,.0f} for any court"
                    )

    # ---- the problem on the served townships
    keep_pair = served_mask[p_t]
    p_t, p_s, p_d = p_t[keep_pair], p_s[keep_pair], p_d[keep_pair]
    p_m, p_r = p_m[keep_pair], p_r[keep_pair]
    client_edges = None
    site_home = None
    if spec.contiguity:
        edges = township_edges(inputs, g)
        both = served_mask[edges[:, 0]] & served_mask[edges[:, 1]]
        client_edges = c_of_t[edges[both]]
        site_home = c_of_t[s_town]
    site_cost = None
    if spec.site_bonus is not None:
        site_cost = -spec.site_bonus[s_town]
    prob = locate.LocationProblem(
        n_clients=len(clients),
        n_sites=n_s,
        client=c_of_t[p_t],
        site=p_s,
        cost=p_m if use_time else p_d,
        weights=spec.weights[clients],
        groups=groups,
        fixed_open=frozenset(pinned_open),
        fixed_closed=frozenset(fixed_closed),
        client_edges=client_edges,
        site_home=site_home,
        client_load=None if site_min is None else np.asarray(spec.loads)[clients],
        site_min_load=site_min,
        site_cost=site_cost,
    )
    logger.info(
        "%s model: %d townships, %d facilities, %d allowed pairs, %d closed by the screen%s",
        t,
        len(clients),
        n_s,
        len(p_d),
        int((~eligible).sum()) - len(candidates_all),
        ", connected jurisdictions" if spec.contiguity else "",
    )
    waived: set[str] = set()
    while True:
        try:
            res = locate.solve(
                prob,
                solver=settings.solver,
                time_limit=settings.time_limit,
                gap=settings.gap,
                threads=settings.threads,
                seed=settings.seed,
            )
            break
        except InfeasibleError as exc:
            counties = {
                str(t_county[clients[i]])
                for blk in exc.client_blocks
                for i in np.asarray(blk).tolist()
            }
            if site_min is None or not counties or counties <= waived:
                raise InfeasibleError(
                    [f"{t} ({label}): {p}" for p in exc.problems]
                    + _blocks_named(exc.client_blocks or [np.arange(len(clients))], clients, tw)
                    + _infeasibility_hints(spec)
                ) from exc
            # "in principle" (原则上): where the caseload floor cannot hold together with the
            # other rules, it is waived for that county and the plan says so
            for county in sorted(counties - waived):
                for j in np.flatnonzero(s_county == county).tolist():
                    site_min[j] = np.nan
                    remote.setdefault(
                        j,
                        f"the minimum of {spec.min_load:g} cases cannot hold in county {county} together "
                        "with merging only into adjacent courts and connected jurisdictions; waived there",
                    )
                logger.warning(
                    "%s: minimum caseload waived in county %s (infeasible with it)", t, county
                )
            waived |= counties
            prob = dataclasses.replace(prob, site_min_load=site_min)
    if waived:
        spec.notes.append(
            f"{t}: minimum caseload waived in {len(waived)} count(y/ies) where it cannot hold with the "
            "other court rules: " + ", ".join(sorted(waived))
        )

    kept = np.zeros(n_s, dtype=bool)
    kept[res.open_sites] = True
    served_by = np.full(n_t, -1, dtype=np.int64)
    served_by[clients] = res.assignment
    lookup = {(int(i), int(j)): k for k, (i, j) in enumerate(zip(p_t, p_s, strict=True))}
    k_of = np.array(
        [lookup[(i, int(served_by[i]))] if served_by[i] >= 0 else -1 for i in range(n_t)]
    )
    has_k = k_of >= 0
    dist = np.where(has_k, p_d[k_of], np.nan)
    mins = np.where(has_k, p_m[k_of], np.nan)
    by_road = np.where(has_k, p_r[k_of], False)

    fac = fac.copy()
    fac["decision"] = np.where(kept, "keep", "close")
    fac["becomes"] = [None if k else CLOSED_BECOMES[t] for k in kept]
    fac["host_screened"] = host_screened
    fac["exception"] = [
        exception_reason.get(j, "") if (kept[j] and host_screened[j]) else "" for j in range(n_s)
    ]
    fac["pinned"] = [
        "open" if j in pinned_open else "closed" if j in pinned_closed else "" for j in range(n_s)
    ]
    if spec.loads is not None and t == COURT:
        load = np.zeros(n_s)
        np.add.at(load, served_by[clients], np.asarray(spec.loads)[clients])
        fac["caseload"] = np.where(kept, np.round(load, 3), np.nan)
        before_load = np.zeros(n_s)
        ok = before_s >= 0
        np.add.at(before_load, before_s[ok], np.asarray(spec.loads)[ok])
        fac["caseload_before"] = np.round(before_load, 3)
        fac["min_cases_exempt"] = [remote.get(j, "") for j in range(n_s)]
        fac["merged_into"] = [
            "" if kept[j] else _absorber(j, s_town, served_by, ids) for j in range(n_s)
        ]
    assign = pd.DataFrame(
        {
            "code": tw["code"].to_numpy(),
            "served_by": [ids[j] if j >= 0 else None for j in served_by],
            "distance_km": dist,
            "before_by": [ids[j] if j >= 0 else None for j in before_s],
            "distance_before_km": before_d,
            "minutes": mins,
            "minutes_before": before_m,
            "by_road": by_road,
            "screened": screen,
        }
    )
    return TypePlan(
        type=t,
        facilities=fac,
        assignment=assign,
        result=res,
        weight=spec.weight_name,
        scope=spec.scope,
        reduction=spec.reduction,
        limits=limits,
        max_distance_km=spec.max_distance_km,
        circuity=spec.circuity,
        central_min_townships=spec.central_min,
        pinned_open=tuple(ids[j] for j in sorted(pinned_open)),
        pinned_closed=tuple(ids[j] for j in sorted(pinned_closed)),
        screen_rule=spec.screen_rule,
        contiguity=spec.contiguity,
        min_load=spec.min_load,
        adjacent_only=spec.adjacent_only,
        court_neighbours={ids[a]: sorted(ids[b] for b in bs) for a, bs in court_adj.items()},
        weights=spec.weights,
        site_bonus=None if spec.site_bonus is None else spec.site_bonus[s_town],
        cost_basis=travel.cost,
        travel_source=g.travel_source,
        max_minutes=spec.max_minutes,
        worse_minutes=travel.worse_minutes,
    )


def _absorber(j: int, s_town: np.ndarray, served_by: np.ndarray, ids: list[str]) -> str:
    """Return the kept facility that now serves the closed facility's own township."""
    k = served_by[s_town[j]]
    return ids[k] if k >= 0 else ""


def _current_neighbours(
    inputs: Inputs, g: Geography, before_s: np.ndarray, n_s: int
) -> dict[int, set[int]]:
    """Facilities whose current jurisdictions (nearest facility today) touch each other."""
    edges = township_edges(inputs, g)
    adj: dict[int, set[int]] = {j: set() for j in range(n_s)}
    for a, b in edges.tolist():
        fa, fb = int(before_s[a]), int(before_s[b])
        if fa >= 0 and fb >= 0 and fa != fb:
            adj[fa].add(fb)
            adj[fb].add(fa)
    return adj


def _blocks_named(blocks: list[Any], clients: np.ndarray, tw: pd.DataFrame) -> list[str]:
    """Name the townships of each independent part (county) that has no feasible plan."""
    out = []
    for blk in blocks:
        idx = clients[np.asarray(blk, dtype=np.int64)]
        if len(idx) == 0:
            continue
        codes = [f"{tw.at[int(i), 'code']!s} {tw.at[int(i), 'name']!s}" for i in idx[:15]]
        county = str(tw.at[int(idx[0]), "county_code"])
        more = f" and {len(idx) - 15} more" if len(idx) > 15 else ""
        out.append(f"county {county}: townships involved: {', '.join(codes)}{more}")
    return out


def _infeasibility_hints(spec: _Spec) -> list[str]:
    hints = []
    if spec.contiguity:
        hints.append(
            "connected jurisdictions are required (contiguity): a pinned-closed facility or a "
            "distance limit may cut a county in two; try contiguity: false to see whether it is the cause"
        )
    if spec.min_load is not None:
        hints.append(
            f"every kept court must reach {spec.min_load:g} cases a year: lower court.min_cases"
        )
    if spec.reduction is not None:
        hints.append("the count limit may be too tight: lower the reduction or change the scope")
    return hints


def _min_needed(
    key: str,
    scope: str,
    t_county: np.ndarray,
    served_mask: np.ndarray,
    p_t: np.ndarray,
    p_s: np.ndarray,
    may_open: np.ndarray,
    pinned_open: set[int],
    fixed_closed: set[int],
) -> int:
    """Fewest facilities that serve every township of a scope group (a set cover per county)."""
    total = 0
    counties = sorted({c for c in set(t_county[served_mask]) if scope_key(str(c), scope) == key})
    for county in counties:
        ti = np.flatnonzero((t_county == county) & served_mask)
        mask = np.isin(p_t, ti) & may_open[p_s] & ~np.isin(p_s, list(fixed_closed))
        sites = sorted(set(p_s[mask].tolist()))
        pinned_here = [j for j in sites if j in pinned_open]
        pinned_cover = set(p_t[mask & np.isin(p_s, pinned_here)].tolist())
        rest = [int(i) for i in ti if int(i) not in pinned_cover]
        if not rest:
            total += len(pinned_here)
            continue
        rl = {i: k for k, i in enumerate(rest)}
        sets = [
            [rl[int(i)] for i in p_t[mask & (p_s == j)].tolist() if int(i) in rl]
            for j in sites
            if j not in pinned_here
        ]
        total += len(pinned_here) + len(locate.min_cover(sets, len(rest)))
    return total
