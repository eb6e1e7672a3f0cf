"""Turn planners' data and a policy into location problems, solve them, and return a Plan.

The police-station model (clauses 4-5) is built here from geography and the policy and handed
to the geography-free solver core in :mod:`optimizer.locate`:

- clients are townships, weighted by population (or incidents); sites are today's stations;
- allowed pairs: same county, within the distance limit; costs are kilometres (straight line in
  a projected CRS times the circuity factor);
- at most one kept station per township; a count limit per scope (province, prefecture or
  county) of ``(1 - reduction)`` times today's stations;
- stations in below-threshold townships (population < 20,000 and incidents < 50 outside the
  涉藏地区) are closed, except the fewest the rules force open (a township with no other station
  in reach), decided by a set cover before the main model and reported with reasons;
- pinned stations are kept or closed as the planner says.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optimizer import geo, locate
from optimizer.errors import DataError, InfeasibleError, PolicyError
from optimizer.io import Inputs
from optimizer.policy import PolicePolicy, Policy, SolverSettings
from optimizer.results import Plan, TypePlan, build_plan
from optimizer.schema import CLOSED_BECOMES, FACILITY_TYPES, POLICE

__all__ = ["below_threshold", "make_plan", "scope_key"]

logger = logging.getLogger(__name__)

#: Facility types the planner can plan today.
SUPPORTED_TYPES: tuple[str, ...] = (POLICE,)


def scope_key(county_code: str, scope: str) -> str:
    """Return the scope group a county belongs to.

    Parameters
    ----------
    county_code
        6-digit county code.
    scope
        ``province``, ``prefecture`` or ``county``.

    Returns
    -------
    str
        ``"all"``, the 4-digit prefecture code, or the county code.
    """
    if scope == "province":
        return "all"
    if scope == "prefecture":
        return county_code[:4]
    return county_code


def below_threshold(townships: pd.DataFrame, police: PolicePolicy) -> pd.Series:
    """Return which townships the clause-4 screen says should keep no station of their own.

    Parameters
    ----------
    townships
        Canonical townships (``population``, ``incidents``, ``tibetan_area``).
    police
        The police policy with the thresholds.

    Returns
    -------
    pandas.Series of bool
        True where population < ``min_population`` and incidents < ``min_incidents``, outside
        the 涉藏地区 when those are exempt.
    """
    small = (townships["population"] < police.min_population) & (
        townships["incidents"] < police.min_incidents
    )
    if police.exempt_tibetan_area:
        small &= ~townships["tibetan_area"].astype(bool)
    return small


@dataclass
class _Geometry:
    """Projected seats and sites, shared by the facility types."""

    seats_xy: np.ndarray  # (n_townships, 2) metres
    crs: str


def _project(inputs: Inputs) -> _Geometry:
    crs = geo.projected_crs(inputs.townships)
    seats = geo.township_seats(inputs.townships).to_crs(crs)
    return _Geometry(np.column_stack([seats.x.to_numpy(), seats.y.to_numpy()]), crs.to_string())


def _site_xy(facilities: pd.DataFrame, crs: str) -> np.ndarray:
    pts = geo.facility_points(facilities).to_crs(crs)
    return np.column_stack([pts.x.to_numpy(), pts.y.to_numpy()])


def make_plan(
    inputs: Inputs,
    policy: Policy | None = None,
    *,
    types: Sequence[str] | None = None,
) -> Plan:
    """Plan the facility types present in the data (or those selected).

    Parameters
    ----------
    inputs
        Validated inputs from :func:`optimizer.io.load_inputs`.
    policy
        Scenario settings; default: the work plan's values.
    types
        Facility types to plan; default: every supported type present in the data.

    Returns
    -------
    Plan
        Decisions, jurisdictions, metrics, rule checks and solver reports.

    Raises
    ------
    InfeasibleError
        When the rules cannot hold together; the message names the townships and numbers.
    PolicyError
        When a selected type is unknown or cannot be planned.
    """
    policy = policy or Policy()
    present = [t for t in FACILITY_TYPES if (inputs.facilities["type"] == t).any()]
    if types is None:
        chosen = [t for t in present if t in SUPPORTED_TYPES]
    else:
        unknown = [t for t in types if t not in FACILITY_TYPES]
        if unknown:
            raise PolicyError(
                f"unknown facility type(s) {unknown}; choose from {list(FACILITY_TYPES)}"
            )
        unsupported = [t for t in types if t not in SUPPORTED_TYPES]
        if unsupported:
            raise PolicyError(
                f"planning {unsupported} is not available yet; this version plans {list(SUPPORTED_TYPES)}"
            )
        missing = [t for t in types if t not in present]
        if missing:
            raise DataError(f"the facilities file has no rows of type {missing}")
        chosen = list(types)
    if not chosen:
        raise DataError(
            f"no facilities of a plannable type ({', '.join(SUPPORTED_TYPES)}) in the data"
        )
    notes = list(inputs.notes)
    skipped = [t for t in present if t not in chosen]
    if skipped:
        notes.append(f"not planned in this run: {', '.join(skipped)}")
    g = _project(inputs)
    type_plans: list[TypePlan] = []
    for t in chosen:
        logger.info("planning %s ...", t)
        if t == POLICE:
            type_plans.append(_plan_police(inputs, g, policy.police, policy.solver))
    return build_plan(inputs, policy, type_plans, notes=notes)


def _plan_police(
    inputs: Inputs, g: _Geometry, pol: PolicePolicy, settings: SolverSettings
) -> TypePlan:
    tw = inputs.townships
    fac = inputs.facilities[inputs.facilities["type"] == POLICE].reset_index(drop=True)
    n_t, n_s = len(tw), len(fac)
    t_index = {c: i for i, c in enumerate(tw["code"])}
    s_town = fac["township_code"].map(t_index).to_numpy(dtype=np.int64)
    s_xy = _site_xy(fac, g.crs)
    t_county = tw["county_code"].to_numpy()
    s_county = fac["county_code"].to_numpy()
    ids = fac["id"].astype(str).tolist()
    id_index = {s: j for j, s in enumerate(ids)}

    problems = [
        f"pinned station '{p}' is not a police station in the data"
        for p in (*pol.pin_open, *pol.pin_closed)
        if p not in id_index
    ]
    if problems:
        raise PolicyError(problems)
    pinned_open = {id_index[p] for p in pol.pin_open}
    pinned_closed = {id_index[p] for p in pol.pin_closed}

    small = below_threshold(tw, pol).to_numpy()
    host_small = small[s_town]

    # ---- allowed pairs: same county, within reach, site not pinned closed
    pair_t: list[np.ndarray] = []
    pair_s: list[np.ndarray] = []
    pair_d: list[np.ndarray] = []
    before_d = np.full(n_t, np.inf)
    before_s = np.full(n_t, -1, dtype=np.int64)
    no_station: list[str] = []
    for county in sorted(set(t_county)):
        ti = np.flatnonzero(t_county == county)
        si = np.flatnonzero(s_county == county)
        if len(si) == 0:
            no_station.append(
                f"county {county}: {len(ti)} townships but no police station in the data"
            )
            continue
        d = np.hypot(
            g.seats_xy[ti, None, 0] - s_xy[None, si, 0], g.seats_xy[ti, None, 1] - s_xy[None, si, 1]
        ) * (pol.circuity / 1000.0)
        d = np.round(d, 6)  # stable costs: the same inputs give the same plan
        nearest = np.argmin(d, axis=1)
        before_d[ti] = d[np.arange(len(ti)), nearest]
        before_s[ti] = si[nearest]
        ok = np.ones(d.shape, dtype=bool)
        if pol.max_distance_km is not None:
            ok &= d <= pol.max_distance_km + 1e-9
        ok &= ~np.isin(si, list(pinned_closed))[None, :]
        r, c = np.nonzero(ok)
        pair_t.append(ti[r])
        pair_s.append(si[c])
        pair_d.append(d[r, c])
    if no_station:
        raise InfeasibleError(no_station)
    p_t = np.concatenate(pair_t)
    p_s = np.concatenate(pair_s)
    p_d = np.concatenate(pair_d)

    unreachable = sorted(set(range(n_t)) - set(p_t.tolist()))
    if unreachable:
        reach = f"within {pol.max_distance_km:g} km" if pol.max_distance_km else "in its county"
        raise InfeasibleError(
            [
                f"township {tw.at[i, 'code']} {tw.at[i, 'name']} has no station that may stay open {reach}"
                for i in unreachable
            ]
            + ["raise police.max_distance_km or unpin a closed station"],
        )

    # ---- eligibility and the fewest exceptions
    eligible = (~host_small) | np.isin(np.arange(n_s), list(pinned_open))
    eligible &= ~np.isin(np.arange(n_s), list(pinned_closed))
    covered = np.zeros(n_t, dtype=bool)
    covered[p_t[eligible[p_s]]] = True
    exception_reason: dict[int, str] = {
        j: "pinned open by the planner" for j in pinned_open if host_small[j]
    }
    groups: list[locate.SiteGroup] = []
    fixed_closed = set(pinned_closed)
    candidates_all: set[int] = set()
    for county in sorted(set(t_county[~covered])):
        lonely = [i for i in np.flatnonzero((t_county == county) & ~covered)]
        mask = np.isin(p_t, lonely) & ~eligible[p_s]
        cand = sorted(set(p_s[mask].tolist()))
        sets = [sorted(set(p_t[mask & (p_s == j)].tolist())) for j in cand]
        local = {i: k for k, i in enumerate(lonely)}
        chosen = locate.min_cover([[local[i] for i in s] for s in sets], len(lonely))
        groups.append(locate.SiteGroup(f"exc_{county}", np.asarray(cand), 0, len(chosen)))
        candidates_all |= set(cand)
        names = ", ".join(f"{tw.at[i, 'code']} {tw.at[i, 'name']}" for i in lonely)
        where = f"within {pol.max_distance_km:g} km" if pol.max_distance_km else "in the county"
        for j in cand:
            served = [str(tw.at[i, "name"]) for i in sorted(set(p_t[mask & (p_s == j)].tolist()))]
            exception_reason[j] = (
                f"no station in a township above the threshold lies {where} of {', '.join(served)}"
            )
        logger.info(
            "county %s: %d township(s) have no eligible station in reach (%s); %d exception(s) needed",
            county,
            len(lonely),
            names,
            len(chosen),
        )
    for j in np.flatnonzero(~eligible).tolist():
        if j not in candidates_all:
            fixed_closed.add(j)

    # ---- at most one kept station per township
    for ti_ in np.unique(s_town).tolist():
        js = np.flatnonzero(s_town == ti_)
        if len(js) > 1:
            groups.append(locate.SiteGroup(f"town_{tw.at[ti_, 'code']}", js, 0, 1))

    # ---- count limit per scope
    scope_of_site = np.array([scope_key(c, pol.scope) for c in s_county])
    limits: dict[str, dict[str, float | int | str]] = {}
    for key in sorted(set(scope_of_site)):
        members = np.flatnonzero(scope_of_site == key)
        current = len(members)
        limit = int(math.floor((1.0 - pol.reduction) * current + 1e-9))
        need = _min_stations_needed(
            key,
            pol.scope,
            t_county,
            p_t,
            p_s,
            eligible | np.isin(np.arange(n_s), list(candidates_all)),
            pinned_open,
            fixed_closed,
        )
        reason = ""
        if need > limit:
            reason = (
                f"a {pol.reduction:.0%} cut leaves {limit} of {current} stations, but serving every "
                f"township under the rules needs at least {need}"
            )
            logger.warning("scope %s: %s; the limit is lifted to %d", key, reason, need)
            limit = need
        limits[key] = {"current": current, "limit": limit, "need": need, "reason": reason}
        groups.append(locate.SiteGroup(f"scope_{key}", members, 0, limit))

    weights = tw["population" if pol.weight == "population" else "incidents"].to_numpy(dtype=float)
    prob = locate.LocationProblem(
        n_clients=n_t,
        n_sites=n_s,
        client=p_t,
        site=p_s,
        cost=p_d,
        weights=weights,
        groups=groups,
        fixed_open=frozenset(pinned_open),
        fixed_closed=frozenset(fixed_closed),
    )
    logger.info(
        "police model: %d townships, %d stations, %d allowed pairs, %d closed by the threshold screen",
        n_t,
        n_s,
        len(p_d),
        int((~eligible).sum()) - len(candidates_all),
    )
    res = locate.solve(
        prob,
        solver=settings.solver,
        time_limit=settings.time_limit,
        gap=settings.gap,
        threads=settings.threads,
        seed=settings.seed,
    )

    kept = np.zeros(n_s, dtype=bool)
    kept[res.open_sites] = True
    served_by = res.assignment
    dist = np.full(n_t, np.nan)
    lookup = pd.Series(p_d, index=pd.MultiIndex.from_arrays([p_t, p_s]))
    dist[:] = lookup.loc[list(zip(range(n_t), served_by.tolist(), strict=True))].to_numpy()

    fac = fac.copy()
    fac["decision"] = np.where(kept, "keep", "close")
    fac["becomes"] = [None if k else CLOSED_BECOMES[POLICE] for k in kept]
    fac["host_below_threshold"] = host_small
    fac["exception"] = [
        exception_reason.get(j, "") if (kept[j] and host_small[j]) else "" for j in range(n_s)
    ]
    fac["pinned"] = [
        "open" if j in pinned_open else "closed" if j in pinned_closed else "" for j in range(n_s)
    ]
    assign = pd.DataFrame(
        {
            "code": tw["code"].to_numpy(),
            "served_by": [ids[j] for j in served_by],
            "distance_km": dist,
            "before_by": [ids[j] for j in before_s],
            "distance_before_km": before_d,
            "below_threshold": small,
        }
    )
    return TypePlan(
        type=POLICE,
        facilities=fac,
        assignment=assign,
        result=res,
        weight=pol.weight,
        scope=pol.scope,
        reduction=pol.reduction,
        limits=limits,
        max_distance_km=pol.max_distance_km,
        circuity=pol.circuity,
        central_min_townships=pol.central_min_townships,
        pinned_open=tuple(ids[j] for j in sorted(pinned_open)),
        pinned_closed=tuple(ids[j] for j in sorted(pinned_closed)),
    )


def _min_stations_needed(
    key: str,
    scope: str,
    t_county: np.ndarray,
    p_t: np.ndarray,
    p_s: np.ndarray,
    may_open: np.ndarray,
    pinned_open: set[int],
    fixed_closed: set[int],
) -> int:
    """Fewest stations that serve every township of a scope group (a set cover per county)."""
    total = 0
    counties = sorted({c for c in set(t_county) if scope_key(str(c), scope) == key})
    for county in counties:
        ti = np.flatnonzero(t_county == county)
        local = {int(i): k for k, i in enumerate(ti)}
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
        del local
        total += len(pinned_here) + len(locate.min_cover(sets, len(rest)))
    return total
