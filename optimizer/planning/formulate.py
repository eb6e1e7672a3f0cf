"""Formulate one facility type as a :class:`~optimizer.solver.LocationProblem`.

Clients are the townships served by the type (weighted by population, incidents or cases);
sites are today's facilities of the type. The steps, in order:

1. the type's sites and pins (:func:`site_context`);
2. which townships are served at all (a county may lack courts) (:func:`served_townships`);
3. distances and travel times per county, today's nearest facility (:func:`pair_tables`,
   :func:`today_nearest`);
4. the allowed pairs: same county, within the limits, courts only into adjacent ones
   (:func:`allowed_pairs`), and a clear error where a township has none;
5. the named rule blocks of site groups: the fewest screen exceptions per county
   (``exc_<county>``), at most one kept facility per township (``town_<code>``) and the count
   limit per scope (``scope_<key>``);
6. the minimum caseload per kept court unless too remote to merge (:func:`caseload_floors`);
7. the problem itself (:func:`formulate`).
"""

from __future__ import annotations

import hashlib
import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optimizer.errors import InfeasibleError, PolicyError
from optimizer.inputs import Inputs
from optimizer.planning.budget import TimeBudget
from optimizer.planning.spec import TypeRules
from optimizer.rules.policy import TravelSettings
from optimizer.rules.screens import scope_key
from optimizer.schema import FACILITY_LABELS_ZH
from optimizer.solver import LocationProblem, SiteGroup, min_cover
from optimizer.spatial import Geography, network, site_xy, township_edges

__all__ = ["Formulated", "Pairs", "SiteContext", "formulate"]

logger = logging.getLogger(__name__)

#: Per county: township indices, site indices, km, minutes, by-road flags (townships × sites).
Tables = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]]


@dataclass
class SiteContext:
    """A facility type's sites and the townships, as index arrays."""

    spec: TypeRules
    tw: pd.DataFrame
    fac: pd.DataFrame
    label: str
    s_town: np.ndarray
    s_xy: np.ndarray
    t_county: np.ndarray
    s_county: np.ndarray
    ids: list[str]
    pinned_open: set[int]
    pinned_closed: set[int]
    screen: np.ndarray
    host_screened: np.ndarray
    merged_basic: set[int] = field(default_factory=set)

    @property
    def n_t(self) -> int:
        """Number of townships."""
        return len(self.tw)

    @property
    def n_s(self) -> int:
        """Number of sites (today's facilities of the type)."""
        return len(self.fac)


@dataclass
class Pairs:
    """Allowed (township, site) pairs with km, minutes and whether by road."""

    t: np.ndarray
    s: np.ndarray
    d: np.ndarray
    m: np.ndarray
    r: np.ndarray

    def select(self, keep: np.ndarray) -> Pairs:
        """Return the pairs where ``keep`` is True."""
        return Pairs(self.t[keep], self.s[keep], self.d[keep], self.m[keep], self.r[keep])


@dataclass
class Formulated:
    """A facility type's problem and everything needed to decode and explain its solution."""

    ctx: SiteContext
    problem: LocationProblem
    clients: np.ndarray
    served_mask: np.ndarray
    pairs: Pairs
    before_d: np.ndarray
    before_m: np.ndarray
    before_s: np.ndarray
    court_adj: dict[int, set[int]]
    exception_reason: dict[int, str]
    limits: dict[str, dict[str, Any]]
    site_min: np.ndarray | None
    remote: dict[int, str]
    remote_by: dict[int, str]
    own_groups: list[str]
    travel_source: str
    notes: list[str] = field(default_factory=list)


def site_context(inputs: Inputs, g: Geography, spec: TypeRules) -> SiteContext:
    """Return the type's sites as arrays; raise when a pinned id is not in the data."""
    t = spec.type
    tw = inputs.townships
    fac = inputs.facilities[inputs.facilities["type"] == t].reset_index(drop=True)
    t_index = {c: i for i, c in enumerate(tw["code"])}
    s_town = fac["township_code"].map(t_index).to_numpy(dtype=np.int64)
    ids = fac["id"].astype(str).tolist()
    id_index = {s: j for j, s in enumerate(ids)}
    problems = [
        f"pinned {t} '{p}' is not in the data"
        for p in (*spec.pin_open, *spec.pin_closed)
        if p not in id_index
    ]
    if problems:
        raise PolicyError(problems)
    screen = spec.screen if spec.screen is not None else np.zeros(len(tw), dtype=bool)
    return SiteContext(
        spec=spec,
        tw=tw,
        fac=fac,
        label=FACILITY_LABELS_ZH[t],
        s_town=s_town,
        s_xy=site_xy(fac, g.crs),
        t_county=tw["county_code"].to_numpy().astype(str),
        s_county=fac["county_code"].to_numpy().astype(str),
        ids=ids,
        pinned_open={id_index[p] for p in spec.pin_open},
        pinned_closed={id_index[p] for p in spec.pin_closed},
        screen=screen,
        host_screened=screen[s_town],
    )


def served_townships(ctx: SiteContext) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return which townships are served (their county has such a facility) and their indices.

    Returns
    -------
    served_mask : numpy.ndarray of bool
        Per township.
    clients : numpy.ndarray
        Township indices of the served townships (the problem's clients).
    c_of_t : numpy.ndarray
        Client index per township, -1 where not served.
    """
    spec, t, label = ctx.spec, ctx.spec.type, ctx.label
    counties_with = set(ctx.s_county)
    served_mask = np.array([c in counties_with for c in ctx.t_county])
    lacking = sorted(set(ctx.t_county[~served_mask]))
    if lacking and not spec.county_may_lack:
        raise InfeasibleError(
            [
                f"county {c}: {int((ctx.t_county == c).sum())} townships but no {t} ({label}) in the data"
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
    c_of_t = np.full(ctx.n_t, -1, dtype=np.int64)
    c_of_t[clients] = np.arange(len(clients))
    return served_mask, clients, c_of_t


def pair_tables(
    inputs: Inputs, g: Geography, ctx: SiteContext, travel: TravelSettings
) -> tuple[Tables, str]:
    """Return km, minutes and by-road flags per county (townships × sites) and the travel source."""
    spec = ctx.spec
    tables: Tables = {}
    all_o: list[np.ndarray] = []
    all_d: list[np.ndarray] = []
    for county in sorted(set(ctx.s_county) & set(ctx.t_county)):
        ti = np.flatnonzero(ctx.t_county == county)
        si = np.flatnonzero(ctx.s_county == county)
        d = np.hypot(
            g.seats_xy[ti, None, 0] - ctx.s_xy[None, si, 0],
            g.seats_xy[ti, None, 1] - ctx.s_xy[None, si, 1],
        ) * (spec.circuity / 1000.0)
        d = np.round(d, 6)  # stable costs: the same inputs give the same plan
        tables[county] = (ti, si, d, np.zeros(d.shape), np.zeros(d.shape, dtype=bool))
        all_o.append(np.repeat(ti, len(si)))
        all_d.append(np.tile(si, len(ti)))
    minutes_flat, roads_flat, source = travel_minutes(
        inputs, g, ctx, np.concatenate(all_o), np.concatenate(all_d), travel
    )
    pos = 0
    for _, _, d, mins, used in tables.values():
        n = d.size
        mins[:] = np.round(minutes_flat[pos : pos + n].reshape(d.shape), 4)
        used[:] = roads_flat[pos : pos + n].reshape(d.shape)
        pos += n
    return tables, source


def travel_minutes(
    inputs: Inputs,
    g: Geography,
    ctx: SiteContext,
    pairs_t: np.ndarray,
    pairs_s: np.ndarray,
    travel: TravelSettings,
) -> tuple[np.ndarray, np.ndarray, str]:
    """Return travel minutes and by-road flags per (township, facility) pair, and their source.

    By road when the inputs carry a road layer (the road graph is built once per plan and
    kept in ``g``), else straight line × circuity at the fallback speed.
    """
    spec = ctx.spec
    if inputs.roads is None:
        source = f"straight line × circuity {spec.circuity:g} at {travel.fallback_kmh:g} km/h (no road layer)"
        minutes = network.straight_line_minutes(
            g.seats_xy, ctx.s_xy, pairs_t, pairs_s, circuity=spec.circuity, kmh=travel.fallback_kmh
        )
        return minutes, np.zeros(len(pairs_t), dtype=bool), source
    if g.road is None:
        g.road = network.road_graph(inputs.roads, g.crs, townships=inputs.townships)
    speeds = (travel.access_kmh, spec.circuity, travel.fallback_kmh)
    key = _travel_key(g, ctx, pairs_t, pairs_s, speeds)
    if key not in g.travel_cache:
        g.travel_cache[key] = network.travel_minutes(
            g.road,
            g.seats_xy,
            ctx.s_xy,
            pairs_t,
            pairs_s,
            groups_o=ctx.t_county,
            groups_d=ctx.s_county,
            access_kmh=travel.access_kmh,
            circuity=spec.circuity,
            fallback_kmh=travel.fallback_kmh,
        )
        while len(g.travel_cache) > TRAVEL_CACHE_SIZE:
            g.travel_cache.pop(next(iter(g.travel_cache)))  # the oldest first
    minutes, used = (a.copy() for a in g.travel_cache[key])
    share = float(used.mean()) if len(used) else 0.0
    source = (
        f"road network ({share:.1%} of pairs by road; the rest straight line × circuity "
        f"{spec.circuity:g} at {travel.fallback_kmh:g} km/h)"
    )
    g.travel_source = source
    return minutes, used, source


#: Travel tables kept per geography (a few per facility type and travel setting of a sweep).
TRAVEL_CACHE_SIZE = 12


def _travel_key(
    g: Geography,
    ctx: SiteContext,
    pairs_t: np.ndarray,
    pairs_s: np.ndarray,
    speeds: tuple[float, float, float],
) -> str:
    """Return a digest of everything the road travel minutes of these pairs depend on."""
    h = hashlib.blake2b(repr(speeds).encode(), digest_size=16)
    for a in (g.seats_xy, ctx.s_xy, pairs_t, pairs_s):
        arr = np.ascontiguousarray(a)
        h.update(repr((arr.dtype.str, arr.shape)).encode())
        h.update(arr.tobytes())
    for groups in (ctx.t_county, ctx.s_county):
        h.update("\x1f".join(map(str, np.asarray(groups).tolist())).encode())
    return h.hexdigest()


def today_nearest(
    ctx: SiteContext, tables: Tables, use_time: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return each township's km, minutes and index of its nearest facility today."""
    before_d = np.full(ctx.n_t, np.nan)
    before_m = np.full(ctx.n_t, np.nan)
    before_s = np.full(ctx.n_t, -1, dtype=np.int64)
    for ti, si, d, mins, _ in tables.values():
        cost = mins if use_time else d
        nearest = np.argmin(cost, axis=1)
        rows = np.arange(len(ti))
        before_d[ti] = d[rows, nearest]
        before_m[ti] = mins[rows, nearest]
        before_s[ti] = si[nearest]
    return before_d, before_m, before_s


def current_neighbours(
    inputs: Inputs, g: Geography, before_s: np.ndarray, n_s: int
) -> dict[int, set[int]]:
    """Return, per facility, the facilities whose current jurisdictions touch its own."""
    edges = township_edges(inputs, g)
    adj: dict[int, set[int]] = {j: set() for j in range(n_s)}
    for a, b in edges.tolist():
        fa, fb = int(before_s[a]), int(before_s[b])
        if fa >= 0 and fb >= 0 and fa != fb:
            adj[fa].add(fb)
            adj[fb].add(fa)
    return adj


def allowed_pairs(
    ctx: SiteContext, tables: Tables, before_s: np.ndarray, court_adj: dict[int, set[int]]
) -> Pairs:
    """Return the pairs within the limits, not pinned closed, and (courts) adjacent only."""
    spec = ctx.spec
    parts: list[tuple[np.ndarray, ...]] = []
    for ti, si, d, mins, used in tables.values():
        ok = np.ones(d.shape, dtype=bool)
        if spec.max_distance_km is not None:
            ok &= d <= spec.max_distance_km + 1e-9
        if spec.max_minutes is not None:
            ok &= mins <= spec.max_minutes + 1e-9
        ok &= ~np.isin(si, list(ctx.pinned_closed | ctx.merged_basic))[None, :]
        if spec.adjacent_only:
            for a, i in enumerate(ti):
                own = int(before_s[i])
                allowed = {own} | court_adj.get(own, set())
                ok[a] &= np.isin(si, list(allowed))
        _keep_assigned(ctx, ti, si, ok)
        r, c = np.nonzero(ok)
        parts.append((ti[r], si[c], d[r, c], mins[r, c], used[r, c]))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return Pairs(empty, empty, np.zeros(0), np.zeros(0), np.zeros(0, dtype=bool))
    return Pairs(*(np.concatenate([p[k] for p in parts]) for k in range(5)))


def _keep_assigned(ctx: SiteContext, ti: np.ndarray, si: np.ndarray, ok: np.ndarray) -> None:
    """Leave a township the planner assigned (``assign_townships``) only its assigned facility.

    Raises
    ------
    InfeasibleError
        When the assigned facility is beyond a limit (distance, travel time, adjacency) of
        that township: the planner's choice and the rules cannot both hold.
    """
    spec = ctx.spec
    if not spec.assign:
        return
    codes = ctx.tw["code"].astype(str).to_numpy()
    index = {p: j for j, p in enumerate(ctx.ids)}
    section = {"police_station": "police", "judicial_office": "judicial"}.get(spec.type, "court")
    problems = []
    for a, i in enumerate(ti.tolist()):
        fid = spec.assign.get(str(codes[i]))
        if fid is None:
            continue
        col = si == index.get(fid, -1)
        if not (ok[a] & col).any():
            problems.append(
                f"{section}.assign_townships.{codes[i]}: '{fid}' may not serve township "
                f"{codes[i]} {ctx.tw.at[int(i), 'name']!s} under the other rules (distance or "
                "travel-time limit, or courts: adjacent jurisdictions only); raise the limit "
                "or assign another facility"
            )
        ok[a] &= col
    if problems:
        raise InfeasibleError(problems)


def check_reachable(
    ctx: SiteContext,
    tables: Tables,
    pairs: Pairs,
    clients: np.ndarray,
    court_adj: dict[int, set[int]],
    before_s: np.ndarray,
) -> None:
    """Raise when a served township has no allowed facility, saying what would fix it.

    Each message names the township (code and name), its nearest facility of the type in its
    county (id and name) with its distance or travel time, the limit it breaks and the setting
    to change (the limit rounded up, the pin, courts: the adjacency or the seat merge).
    """
    unreachable = sorted(set(clients.tolist()) - set(pairs.t.tolist()))
    if not unreachable:
        return
    row = {int(i): (table, k) for table in tables.values() for k, i in enumerate(table[0])}
    raise InfeasibleError(
        [unreachable_text(ctx, *row[i], i, court_adj, before_s) for i in unreachable]
    )


def unreachable_text(
    ctx: SiteContext,
    table: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    row: int,
    i: int,
    court_adj: dict[int, set[int]],
    before_s: np.ndarray,
) -> str:
    """Return the message of one township that no facility of the type may serve."""
    spec, tw = ctx.spec, ctx.tw
    section = {"police_station": "police", "judicial_office": "judicial"}.get(spec.type, "court")
    kind = {"police_station": "police station", "judicial_office": "judicial office"}.get(
        spec.type, "people's court"
    )
    _, si, d, mins, _ = table
    d, mins = d[row], mins[row]
    town = f"township {tw.at[i, 'code']!s} {tw.at[i, 'name']!s}"

    def who(k: int) -> str:
        j = int(si[k])
        return f"{ctx.ids[j]} {ctx.fac.at[j, 'name']!s}"

    fixes = []
    k_d = int(np.argmin(d))
    if spec.max_distance_km is not None and d[k_d] > spec.max_distance_km + 1e-9:
        fixes.append(
            f"the nearest {kind} ({ctx.label}) is {who(k_d)}, {d[k_d]:.1f} km away, beyond the "
            f"{spec.max_distance_km:g} km limit: raise {section}.max_distance_km to "
            f"{math.ceil(d[k_d] - 1e-9)}"
        )
    k_m = int(np.argmin(mins))
    if spec.max_minutes is not None and mins[k_m] > spec.max_minutes + 1e-9:
        fixes.append(
            f"the quickest {kind} ({ctx.label}) to reach is {who(k_m)}, {mins[k_m]:.0f} minutes "
            f"away, beyond the {spec.max_minutes:g} minute limit: raise "
            f"{section}.max_travel_minutes to {math.ceil(mins[k_m] - 1e-9)}"
        )
    if fixes:
        return f"{town}: " + "; ".join(fixes)
    within = np.ones(len(si), dtype=bool)
    if spec.max_distance_km is not None:
        within &= d <= spec.max_distance_km + 1e-9
    if spec.max_minutes is not None:
        within &= mins <= spec.max_minutes + 1e-9
    k = int(np.argmin(np.where(within, d, np.inf)))
    j = int(si[k])
    if j in ctx.pinned_closed:
        why = f"pinned closed: take it out of {section}.pin_closed"
    elif j in ctx.merged_basic:
        why = "merged into the basic court (基层法院) by court.seat_merge_km: lower it"
    elif spec.adjacent_only:
        own = int(before_s[i])
        own_text = f"{ctx.ids[own]} {ctx.fac.at[own, 'name']!s}" if own >= 0 else "none"
        why = (
            f"not its court today ({own_text}) nor adjacent to it (court.adjacent_only): "
            "pin its court open (court.pin_open) or raise the distance limit"
        )
    else:  # pragma: no cover - every reason an allowed pair is dropped is named above
        why = "excluded by the rules"
    text = (
        f"{town}: the nearest {kind} ({ctx.label}) within the limits is {who(k)}, "
        f"{d[k]:.1f} km away, but it is {why}"
    )
    may = ~np.isin(si, list(ctx.pinned_closed | ctx.merged_basic))
    if may.any() and not spec.adjacent_only:
        k2 = int(np.argmin(np.where(may, mins if spec.max_minutes else d, np.inf)))
        far = ""
        if spec.max_minutes is not None and mins[k2] > spec.max_minutes + 1e-9:
            far = (
                f"{mins[k2]:.0f} minutes away, beyond the {spec.max_minutes:g} minute limit: "
                f"or raise {section}.max_travel_minutes to {math.ceil(mins[k2] - 1e-9)}"
            )
        elif spec.max_distance_km is not None and d[k2] > spec.max_distance_km + 1e-9:
            far = (
                f"{d[k2]:.1f} km away, beyond the {spec.max_distance_km:g} km limit: or raise "
                f"{section}.max_distance_km to {math.ceil(d[k2] - 1e-9)}"
            )
        if far:
            text += f"; the nearest that may stay open is {who(k2)}, {far}"
    return text


def check_groups(ctx: SiteContext, groups: list[SiteGroup], fixed_closed: set[int]) -> None:
    """Raise when pins make a block of the model impossible, in the planner's words.

    The blocks are those of :func:`formulate`: at most one kept facility per township
    (``town_``), the fewest exceptions of a county (``exc_``), the count limit of a scope
    (``scope_``). The solver would find the same conflicts, but name only the blocks. A
    township keeping one of its own (``own_``) is left to the solver: those groups are dropped
    with a note when they cannot hold (:mod:`optimizer.planning.plan`).
    """
    spec, tw = ctx.spec, ctx.tw
    section = {"police_station": "police", "judicial_office": "judicial"}.get(spec.type, "court")
    pins = f"{section}.pin_open / {section}.assign_townships"
    problems = []
    for g in groups:
        members = [int(j) for j in g.sites]
        fixed = [j for j in members if j in ctx.pinned_open]
        free = [j for j in members if j not in fixed_closed]
        listed = ", ".join(f"{ctx.ids[j]} {ctx.fac.at[j, 'name']!s}" for j in fixed)
        kind, _, key = g.name.partition("_")
        if kind == "own":
            continue
        if kind == "town":
            i = int(ctx.s_town[members[0]])
            where = f"township {tw.at[i, 'code']!s} {tw.at[i, 'name']!s}"
        elif kind == "exc":
            where = f"county {key} (townships below the clause-4 threshold)"
        else:
            where = f"scope {key} (at most {g.max_open} of today's {len(members)} {ctx.label} kept)"
        if g.max_open is not None and len(fixed) > g.max_open:
            what = "a township keeps one at most" if kind == "town" else "the cut leaves fewer"
            problems.append(
                f"{where}: {len(fixed)} {ctx.label} pinned to stay open ({listed}) but {what}: "
                f"unpin {len(fixed) - g.max_open} of them ({pins})"
                + ("" if kind == "town" else f" or lower {section}.reduction")
            )
        if g.min_open > len(free):
            problems.append(
                f"{where}: needs {g.min_open} {ctx.label} kept but only {len(free)} may stay "
                f"open: take some out of {section}.pin_closed"
            )
    if problems:
        raise InfeasibleError(problems)


@dataclass
class ScreenBlocks:
    """The screen's consequences: eligible sites, the fewest exceptions and the closed sites."""

    eligible: np.ndarray
    groups: list[SiteGroup]
    fixed_closed: set[int]
    candidates: set[int]
    reason: dict[int, str]


def screen_blocks(
    ctx: SiteContext, pairs: Pairs, served_mask: np.ndarray, budget: TimeBudget
) -> ScreenBlocks:
    """Close the facilities of screened townships except the fewest the rules force open.

    Per county, townships with no eligible facility in reach are covered by the fewest
    screened ones (a set cover, on the shared time budget), each listed with its reason.
    """
    spec, tw = ctx.spec, ctx.tw
    all_sites = np.arange(ctx.n_s)
    eligible = (~ctx.host_screened) | np.isin(all_sites, list(ctx.pinned_open))
    eligible &= ~np.isin(all_sites, list(ctx.pinned_closed))
    covered = np.zeros(ctx.n_t, dtype=bool)
    covered[pairs.t[eligible[pairs.s]]] = True
    covered[~served_mask] = True
    reason: dict[int, str] = {
        j: pin_text(ctx, j, "规划人员指定保留") for j in ctx.pinned_open if ctx.host_screened[j]
    }
    groups: list[SiteGroup] = []
    candidates: set[int] = set()
    where = (
        f"{spec.max_distance_km:g}公里内"
        if spec.max_distance_km
        else f"{spec.max_minutes:g}分钟内"
        if spec.max_minutes
        else "本县内"
    )
    for county in sorted(set(ctx.t_county[~covered])):
        lonely = [int(i) for i in np.flatnonzero((ctx.t_county == county) & ~covered)]
        mask = np.isin(pairs.t, lonely) & ~eligible[pairs.s]
        cand = sorted(set(pairs.s[mask].tolist()))
        sets = [sorted(set(pairs.t[mask & (pairs.s == j)].tolist())) for j in cand]
        local = {i: k for k, i in enumerate(lonely)}
        with budget.solving():
            chosen = min_cover(
                [[local[i] for i in s] for s in sets], len(lonely), time_limit=budget.remaining()
            )
        groups.append(SiteGroup(f"exc_{county}", np.asarray(cand), 0, len(chosen)))
        candidates |= set(cand)
        for j in cand:
            served = [
                str(tw.at[i, "name"]) for i in sorted(set(pairs.t[mask & (pairs.s == j)].tolist()))
            ]
            reason[j] = (
                f"低于撤并门槛，但{'、'.join(served)}{where}没有门槛以上乡镇的{ctx.label}可以管辖，"
                "需保留本所（按最少保留数求解）"
            )
        logger.debug(
            "county %s: %d township(s) have no eligible %s in reach; %d exception(s) needed",
            county,
            len(lonely),
            spec.type,
            len(chosen),
        )
    fixed_closed = set(ctx.pinned_closed) | ctx.merged_basic
    for j in np.flatnonzero(~eligible).tolist():
        if j not in candidates:
            fixed_closed.add(j)
    return ScreenBlocks(eligible, groups, fixed_closed, candidates, reason)


def pin_text(ctx: SiteContext, j: int, head: str) -> str:
    """Return the planner's reason for pin ``j`` (``head`` plus the justification when given)."""
    why = ctx.spec.pin_reasons.get(ctx.ids[j], "")
    return f"{head}：{why}" if why else head


def own_township_groups(
    ctx: SiteContext, screen: ScreenBlocks, limits: dict[str, dict[str, Any]]
) -> list[SiteGroup]:
    """Clause 4: stations follow townships (原则上与乡镇建制相对应), where the cut allows.

    Per scope, when every township outside the screen that has a station today, plus the
    screen exceptions the rules need, fits within the scope's count limit, each such township
    keeps one of its stations (an ``own_<code>`` group with at least one open). Where they do
    not fit, the model chooses and each township left without one is reported with the numbers
    (:func:`optimizer.report.checks.township_station_check`). A township whose stations are all
    pinned closed is the planner's choice and gets no group.
    """
    spec = ctx.spec
    if not spec.follow_townships:
        return []
    outside = ~ctx.screen
    scope_of_site = np.array([scope_key(c, spec.scope) for c in ctx.s_county])
    per_scope: dict[str, list[np.ndarray]] = {}
    elsewhere = _assigned_elsewhere(ctx)
    for ti_ in np.unique(ctx.s_town[outside[ctx.s_town]]).tolist():
        if ti_ in elsewhere:
            continue  # the planner has it served by another township's station
        js = np.flatnonzero(ctx.s_town == ti_)
        free = np.array([j for j in js.tolist() if j not in ctx.pinned_closed], dtype=np.int64)
        if len(free):
            per_scope.setdefault(str(scope_of_site[js[0]]), []).append(free)
    exc_need = {g.name: g.max_open or 0 for g in screen.groups}
    groups = []
    for key, sets in sorted(per_scope.items()):
        exc = sum(
            n
            for name, n in exc_need.items()
            if scope_key(name.removeprefix("exc_"), spec.scope) == key
        )
        limit = limits.get(key, {}).get("limit")
        fits = limit is None or len(sets) + exc <= limit
        if key in limits:
            limits[key]["own_townships"] = len(sets)
            limits[key]["own_forced"] = fits
        if fits:
            groups += [
                SiteGroup(f"own_{ctx.tw.at[int(ctx.s_town[js[0]]), 'code']!s}", js, 1, None)
                for js in sets
            ]
    return groups


def _assigned_elsewhere(ctx: SiteContext) -> set[int]:
    """Return the townships the planner assigned to a facility in another township."""
    codes = ctx.tw["code"].astype(str).tolist()
    index = {p: j for j, p in enumerate(ctx.ids)}
    out = set()
    for i, code in enumerate(codes):
        fid = ctx.spec.assign.get(code)
        if fid is not None and fid in index and int(ctx.s_town[index[fid]]) != i:
            out.add(i)
    return out


def seat_merges(
    ctx: SiteContext, g: Geography, served_mask: np.ndarray, before_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge the courts near their county seat into the basic court (``seat_merge_km``).

    The county seat is the county's first 街道 by code, else its first township. A court whose
    site lies within ``seat_merge_km`` (straight line × circuity) of it closes, and the
    townships it serves today are served directly by the basic court (基层法院).

    Returns
    -------
    served_mask, clients, c_of_t
        As :func:`served_townships` returns them, without the merged courts' townships.
    """
    spec = ctx.spec
    if spec.seat_merge_km is not None:
        tw = ctx.tw
        kinds = tw["kind"].astype(str).to_numpy() if "kind" in tw else np.full(ctx.n_t, "")
        for county in sorted(set(ctx.s_county)):
            idx = np.flatnonzero(ctx.t_county == county)
            streets = idx[kinds[idx] == "街道"]
            pool = streets if len(streets) else idx
            seat = int(pool[np.argmin(tw["code"].to_numpy()[pool].astype(str))])
            for j in np.flatnonzero(ctx.s_county == county).tolist():
                km = float(np.hypot(*(ctx.s_xy[j] - g.seats_xy[seat]))) * spec.circuity / 1000.0
                if km <= spec.seat_merge_km + 1e-9 and j not in ctx.pinned_open:
                    ctx.merged_basic.add(j)
        if ctx.merged_basic:
            served_mask = served_mask & ~np.isin(before_s, list(ctx.merged_basic))
            spec.notes.append(
                f"{spec.type}: {len(ctx.merged_basic)} court(s) within {spec.seat_merge_km:g} km "
                "of their county seat merge into the basic court (基层法院): "
                + ", ".join(ctx.ids[j] for j in sorted(ctx.merged_basic))
            )
    clients = np.flatnonzero(served_mask)
    c_of_t = np.full(ctx.n_t, -1, dtype=np.int64)
    c_of_t[clients] = np.arange(len(clients))
    return served_mask, clients, c_of_t


def township_groups(ctx: SiteContext) -> list[SiteGroup]:
    """Return one group per township with several facilities: at most one of them is kept."""
    groups = []
    for ti_ in np.unique(ctx.s_town).tolist():
        js = np.flatnonzero(ctx.s_town == ti_)
        if len(js) > 1:
            groups.append(SiteGroup(f"town_{ctx.tw.at[ti_, 'code']!s}", js, 0, 1))
    return groups


def count_groups(
    ctx: SiteContext,
    pairs: Pairs,
    served_mask: np.ndarray,
    screen: ScreenBlocks,
    budget: TimeBudget,
) -> tuple[dict[str, dict[str, Any]], list[SiteGroup]]:
    """Return the count limit per scope group, lifted to the fewest the rules need.

    Returns
    -------
    limits : dict
        Per scope key: ``current``, ``limit``, ``need`` and the ``reason`` when lifted.
    groups : list of SiteGroup
        One ``scope_<key>`` group per scope key.
    """
    spec = ctx.spec
    limits: dict[str, dict[str, Any]] = {}
    groups: list[SiteGroup] = []
    if spec.reduction is None:
        return limits, groups
    scope_of_site = np.array([scope_key(c, spec.scope) for c in ctx.s_county])
    may_open = screen.eligible | np.isin(np.arange(ctx.n_s), list(screen.candidates))
    for key in sorted(set(scope_of_site)):
        members = np.flatnonzero(scope_of_site == key)
        current = len(members)
        limit = int(math.floor((1.0 - spec.reduction) * current + 1e-9))
        need = min_needed(key, ctx, served_mask, pairs, may_open, screen.fixed_closed, budget)
        reason = ""
        if need > limit:
            reason = (
                f"a {spec.reduction:.0%} cut leaves {limit} of {current}, but serving every "
                f"township under the rules needs at least {need}"
            )
            logger.warning(
                "%s, scope %s: %s; the limit is lifted to %d", spec.type, key, reason, need
            )
            limit = need
        limits[key] = {"current": current, "limit": limit, "need": need, "reason": reason}
        groups.append(SiteGroup(f"scope_{key}", members, 0, limit))
    return limits, groups


def min_needed(
    key: str,
    ctx: SiteContext,
    served_mask: np.ndarray,
    pairs: Pairs,
    may_open: np.ndarray,
    fixed_closed: set[int],
    budget: TimeBudget,
) -> int:
    """Return the fewest facilities that serve every township of a scope group (cover per county)."""
    total = 0
    scope = ctx.spec.scope
    t_county, p_t, p_s = ctx.t_county, pairs.t, pairs.s
    counties = sorted({c for c in set(t_county[served_mask]) if scope_key(str(c), scope) == key})
    closed = np.asarray(sorted(fixed_closed), dtype=np.int64)
    for county in counties:
        ti = np.flatnonzero((t_county == county) & served_mask)
        # the county's pairs only (in their order), not a mask over the whole scope per site
        own = np.flatnonzero(np.isin(p_t, ti))
        keep = may_open[p_s[own]] & ~np.isin(p_s[own], closed)
        p_t_c, p_s_c = p_t[own][keep], p_s[own][keep]
        sites = sorted(set(p_s_c.tolist()))
        pinned_here = [j for j in sites if j in ctx.pinned_open]
        pinned_cover = set(p_t_c[np.isin(p_s_c, pinned_here)].tolist())
        rest = [int(i) for i in ti if int(i) not in pinned_cover]
        if not rest:
            total += len(pinned_here)
            continue
        rl = {i: k for k, i in enumerate(rest)}
        sets = [
            [rl[int(i)] for i in p_t_c[p_s_c == j].tolist() if int(i) in rl]
            for j in sites
            if j not in pinned_here
        ]
        with budget.solving():
            total += len(pinned_here) + len(
                min_cover(sets, len(rest), time_limit=budget.remaining())
            )
    return total


def caseload_floors(
    ctx: SiteContext,
    served_mask: np.ndarray,
    tables: Tables,
    court_adj: dict[int, set[int]],
    *,
    use_roads: bool,
    travel: TravelSettings,
) -> tuple[np.ndarray | None, dict[int, str], dict[int, str]]:
    """Return the minimum caseload per court (NaN where exempt), each exemption's reason and who.

    The floor applies to each court; where a county's whole caseload is below it, the floor is
    the county's caseload (one court holds the county). A court is exempt only for a reason of
    its own: pinned open (``planner``); no adjacent court to merge into, or merging into the
    nearest adjacent court would push travel from its seat beyond ``remote_km`` (by road when
    a road layer is given: ``remote_km`` driven at ``travel.fallback_kmh``) (``model``).

    Returns
    -------
    site_min : numpy.ndarray or None
        Per court; None when no minimum is set.
    remote : dict
        Reason (Chinese, with the numbers) per exempt court.
    remote_by : dict
        ``model`` or ``planner`` per exempt court.
    """
    spec = ctx.spec
    remote: dict[int, str] = {}
    by: dict[int, str] = {}
    if spec.min_load is None or spec.loads is None:
        return None, remote, by
    county_total = (
        pd.Series(spec.loads[served_mask]).groupby(ctx.t_county[served_mask]).sum().to_dict()
    )
    site_min = np.array(
        [min(float(spec.min_load), float(county_total.get(c, 0.0))) for c in ctx.s_county]
    )
    where: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
    for ti, si, d, mins, _ in tables.values():
        for a, i in enumerate(ti.tolist()):
            where[i] = (si, d[a], mins[a], np.zeros(0))
    limit_min = None if spec.remote_km is None else spec.remote_km / travel.fallback_kmh * 60.0
    for j in range(ctx.n_s):
        if j in ctx.merged_basic:
            continue
        if j in ctx.pinned_open:
            site_min[j], remote[j], by[j] = np.nan, pin_text(ctx, j, "规划人员指定保留"), "planner"
            continue
        if spec.adjacent_only:
            others = sorted(court_adj.get(j, set()) - ctx.pinned_closed - ctx.merged_basic)
        else:
            others = [k for k in np.flatnonzero(ctx.s_county == ctx.s_county[j]).tolist() if k != j]
        if not others:
            site_min[j], remote[j], by[j] = np.nan, "无管辖区域相邻的人民法庭可并入", "model"
            continue
        if spec.remote_km is None or int(ctx.s_town[j]) not in where:
            continue
        si, d, mins, _ = where[int(ctx.s_town[j])]
        pos = np.isin(si, others)
        if not pos.any():
            continue
        if use_roads and limit_min is not None:
            k = int(np.argmin(np.where(pos, mins, np.inf)))
            far, text = (
                mins[k] > limit_min + 1e-9,
                (
                    f"并入最近的相邻法庭{ctx.ids[int(si[k])]}需行车{mins[k]:.0f}分钟（按道路），"
                    f"超过{spec.remote_km:g}公里按{travel.fallback_kmh:g}公里/小时折合的{limit_min:.0f}分钟"
                ),
            )
        else:
            k = int(np.argmin(np.where(pos, d, np.inf)))
            far, text = (
                d[k] > spec.remote_km + 1e-9,
                (
                    f"并入最近的相邻法庭{ctx.ids[int(si[k])]}需{d[k]:.0f}公里（直线×{spec.circuity:g}），"
                    f"超过{spec.remote_km:g}公里"
                ),
            )
        if far:
            site_min[j], remote[j], by[j] = np.nan, text, "model"
    return site_min, remote, by


def formulate(
    inputs: Inputs,
    g: Geography,
    spec: TypeRules,
    travel: TravelSettings,
    budget: TimeBudget,
) -> Formulated:
    """Return the location problem of one facility type, with what decoding it needs.

    Raises
    ------
    PolicyError
        When a pinned id is not in the data.
    InfeasibleError
        When a county has no facility of a type that every county needs, or a township has no
        facility that may stay open within the limits.
    """
    ctx = site_context(inputs, g, spec)
    served_mask, clients, c_of_t = served_townships(ctx)
    tables, source = pair_tables(inputs, g, ctx, travel)
    use_time = travel.cost == "time"
    before_d, before_m, before_s = today_nearest(ctx, tables, use_time)
    served_mask, clients, c_of_t = seat_merges(ctx, g, served_mask, before_s)
    court_adj = current_neighbours(inputs, g, before_s, ctx.n_s) if spec.adjacent_only else {}
    pairs = allowed_pairs(ctx, tables, before_s, court_adj)
    check_reachable(ctx, tables, pairs, clients, court_adj, before_s)
    screen = screen_blocks(ctx, pairs, served_mask, budget)
    groups = screen.groups + township_groups(ctx)
    limits, count_blocks = count_groups(ctx, pairs, served_mask, screen, budget)
    groups += count_blocks
    own_groups = own_township_groups(ctx, screen, limits)
    groups += own_groups
    check_groups(ctx, groups, screen.fixed_closed)
    site_min, remote, remote_by = caseload_floors(
        ctx, served_mask, tables, court_adj, use_roads=inputs.roads is not None, travel=travel
    )
    pairs = pairs.select(served_mask[pairs.t])
    client_edges = site_home = None
    if spec.contiguity:
        edges = township_edges(inputs, g)
        both = served_mask[edges[:, 0]] & served_mask[edges[:, 1]]
        client_edges = c_of_t[edges[both]]
        site_home = c_of_t[ctx.s_town]
    problem = LocationProblem(
        n_clients=len(clients),
        n_sites=ctx.n_s,
        client=c_of_t[pairs.t],
        site=pairs.s,
        cost=pairs.m if use_time else pairs.d,
        weights=spec.weights[clients],
        groups=groups,
        fixed_open=frozenset(ctx.pinned_open),
        fixed_closed=frozenset(screen.fixed_closed),
        client_edges=client_edges,
        site_home=site_home,
        client_load=None if site_min is None else np.asarray(spec.loads)[clients],
        site_min_load=site_min,
        site_cost=None if spec.site_bonus is None else -spec.site_bonus[ctx.s_town],
    )
    logger.debug(
        "%s model: %d townships, %d facilities, %d allowed pairs, %d closed by the screen%s",
        spec.type,
        len(clients),
        ctx.n_s,
        len(pairs.d),
        int((~screen.eligible).sum()) - len(screen.candidates),
        ", connected jurisdictions" if spec.contiguity else "",
    )
    return Formulated(
        ctx=ctx,
        problem=problem,
        clients=clients,
        served_mask=served_mask,
        pairs=pairs,
        before_d=before_d,
        before_m=before_m,
        before_s=before_s,
        court_adj=court_adj,
        exception_reason=screen.reason,
        limits=limits,
        site_min=site_min,
        remote=remote,
        remote_by=remote_by,
        own_groups=[g.name for g in own_groups],
        travel_source=source,
    )
