"""Recompute every rule check's status from the numbers in ``plan.json`` alone.

Nothing here imports the package: the decisions, the townships' numbers, the staffing rows and
the policy in ``plan.json`` are all it reads, so a check that says ``met`` while its numbers miss
the rule shows up as a mismatch.

Usage::

    mismatches = recheck(plan_json)
    assert not mismatches, mismatches

The outcomes: ``met`` when no unit breaks the rule; ``exceptions`` when the rule is 原则上 and
every breaking unit is listed with a reason and ``by`` in (model, planner); ``not_met``
otherwise. Connected jurisdictions need the adjacency graph and are left to
``multi_checker.contiguity_violations``.
"""

from __future__ import annotations

import copy
import math
from collections import defaultdict
from collections.abc import Callable, Mapping
from typing import Any

POLICE, JUDICIAL, COURT = "police_station", "judicial_office", "court"
BY = ("model", "planner")
KIND_MIN = {"乡": "station_min_township", "镇": "station_min_town", "街道": "station_min_street"}


def scope_of(county: str, scope: str) -> str:
    """Scope group of a county."""
    return "all" if scope == "province" else county[:4] if scope == "prefecture" else county


def outcome(breaking: set[str], listed: Mapping[str, Mapping[str, Any]], principle: bool) -> str:
    """Outcome of a rule from the units that break it and the exceptions the check lists."""
    if not breaking:
        return "met"
    ok = principle and all(
        u in listed and listed[u].get("reason") and listed[u].get("by") in BY for u in breaking
    )
    return "exceptions" if ok else "not_met"


def _listed(check: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(e["id"]): e for e in check["exceptions"]}


def _facilities(plan: Mapping[str, Any], t: str) -> list[dict[str, Any]]:
    return [f for f in plan["facilities"] if f["type"] == t]


def screened(town: Mapping[str, Any], police: Mapping[str, Any]) -> bool:
    """Clause 4 screen from the township's numbers."""
    small = (
        town["population"] < police["min_population"]
        and town["incidents"] < police["min_incidents"]
    )
    if town["code"] in police.get("exempt_townships", {}):
        return False
    return small and not (police["exempt_tibetan_area"] and town["tibetan_area"])


def served_once(plan: Mapping[str, Any], t: str, check: Mapping[str, Any]) -> set[str]:
    """Townships not served by a kept unit of their county (basic-court notes excepted)."""
    kept = {f["id"]: f["county_code"] for f in _facilities(plan, t) if f["decision"] == "keep"}
    noted = {str(n["id"]) for n in check["notes"]}
    return {
        w["code"]
        for w in plan["townships"]
        if w["code"] not in noted and kept.get(w["served_by"][t]) != w["county_code"]
    }


def one_per_township(plan: Mapping[str, Any], t: str, check: Mapping[str, Any]) -> set[str]:
    """Townships keeping more than one unit."""
    n: dict[str, int] = defaultdict(int)
    for f in _facilities(plan, t):
        n[f["township_code"]] += f["decision"] == "keep"
    return {c for c, k in n.items() if k > 1}


def count_cut(plan: Mapping[str, Any], t: str, check: Mapping[str, Any]) -> set[str]:
    """Scopes short of the cut; an exception must keep no more than its stated need."""
    pol = plan["policy"][{POLICE: "police", JUDICIAL: "judicial", COURT: "court"}[t]]
    before: dict[str, int] = defaultdict(int)
    kept: dict[str, int] = defaultdict(int)
    for f in _facilities(plan, t):
        g = scope_of(f["county_code"], pol["scope"])
        before[g] += 1
        kept[g] += f["decision"] == "keep"
    short = {g for g in before if 1 - kept[g] / before[g] + 1e-9 < pol["reduction"]}
    for e in check["exceptions"]:
        if e["id"] in short and not kept[e["id"]] <= e.get("need", -1):
            e["by"] = "unproven"  # keeps more than the stated minimum: not admissible
    return short


def township_rule(plan: Mapping[str, Any], t: str, check: Mapping[str, Any]) -> set[str]:
    """Townships outside the screen that have a station today and keep none."""
    pol = plan["policy"]["police"]
    towns = {w["code"]: w for w in plan["townships"]}
    have: dict[str, bool] = defaultdict(bool)
    for f in _facilities(plan, t):
        have[f["township_code"]] |= f["decision"] == "keep"
    return {c for c, k in have.items() if not k and not screened(towns[c], pol)}


def screen(plan: Mapping[str, Any], t: str, check: Mapping[str, Any]) -> set[str]:
    """Units kept in a screened township."""
    towns = {w["code"]: w for w in plan["townships"]}
    if t == POLICE:
        pol = plan["policy"]["police"]
        bad = {c for c, w in towns.items() if screened(w, pol)}
    else:
        bad = {e["township_code"] for e in check["exceptions"] + check["violations"]}
    return {
        f["id"]
        for f in _facilities(plan, t)
        if f["decision"] == "keep" and f["township_code"] in bad
    }


def limit(column: str, key: str) -> Callable[[Mapping[str, Any], str, Mapping[str, Any]], set[str]]:
    """Townships beyond a travel limit (km or minutes)."""

    def beyond(plan: Mapping[str, Any], t: str, check: Mapping[str, Any]) -> set[str]:
        lim = check["target"]
        return {w["code"] for w in plan["townships"] if (w[column][t] or 0) > lim + 1e-9}

    return beyond


def pins(plan: Mapping[str, Any], t: str, check: Mapping[str, Any]) -> set[str]:
    """Pins not respected."""
    pol = plan["policy"][{POLICE: "police", JUDICIAL: "judicial", COURT: "court"}[t]]
    dec = {f["id"]: f["decision"] for f in _facilities(plan, t)}
    return {i for i in pol["pin_open"] if dec[i] != "keep"} | {
        i for i in pol["pin_closed"] if dec[i] != "close"
    }


def caseload(plan: Mapping[str, Any], t: str, check: Mapping[str, Any]) -> set[str]:
    """Kept courts whose caseload (summed from their townships' cases) is below the floor."""
    cases = {w["code"]: w["cases"] for w in plan["townships"]}
    floor = plan["policy"]["court"]["min_cases"]
    low = set()
    for f in _facilities(plan, t):
        if f["decision"] != "keep":
            continue
        load = sum(cases[c] for c in f["serves"] if cases[c] is not None)
        if all(cases[c] is not None for c in f["serves"]):
            assert math.isclose(load, f["caseload"], abs_tol=1e-3), (f["id"], load, f["caseload"])
        if f["caseload"] < floor - 1e-9:
            low.add(f["id"])
    return low


def adjacent(plan: Mapping[str, Any], t: str, check: Mapping[str, Any]) -> set[str]:
    """Merges the check itself lists as wrong (the adjacency needs the graph)."""
    return {str(v["id"]) for v in check["violations"]}


def staff_minimum(plan: Mapping[str, Any], t: str, check: Mapping[str, Any]) -> set[str]:
    """Counties with a kept unit below its minimum after the proposal."""
    return {
        f["county_code"]
        for f in _facilities(plan, t)
        if f["decision"] == "keep" and (f["proposed_staff"] or 0) < f["minimum_staff"]
    }


#: The roles clauses 8 and 12 name, and their minimum per unit.
ROLE_MIN = {
    JUDICIAL: {"judicial_assistants": 1},
    COURT: {"judges": 1, "clerks": 1, "judicial_police": 1},
}


def role_minimum(plan: Mapping[str, Any], t: str, check: Mapping[str, Any]) -> set[str]:
    """Kept units short of a role: their own plus the closed units of the townships they serve."""
    facs = _facilities(plan, t)
    serving = {town["code"]: town["served_by"].get(t) for town in plan["townships"]}
    kept = {f["id"]: f for f in facs if f["decision"] == "keep"}
    have = {i: {r: f["roles"].get(r) or 0 for r in ROLE_MIN[t]} for i, f in kept.items()}
    for f in facs:
        to = serving.get(f["township_code"])
        if f["decision"] == "close" and to in kept and kept[to]["county_code"] == f["county_code"]:
            for r in ROLE_MIN[t]:
                have[to][r] += f["roles"].get(r) or 0
    return {i for i, h in have.items() if any(h[r] < n for r, n in ROLE_MIN[t].items())}


def office_posts(plan: Mapping[str, Any], t: str, check: Mapping[str, Any]) -> set[str]:
    """警务室 with fewer officers than the policy's post."""
    n = plan["policy"]["staffing"]["police_office_staff"]
    return {
        f["id"]
        for f in _facilities(plan, t)
        if f["decision"] == "close" and (f["proposed_staff"] or 0) < n
    }


def share(plan: Mapping[str, Any], t: str, check: Mapping[str, Any]) -> set[str]:
    """Counties whose units (kept plus 警务室) hold less than the target of the county total."""
    st = plan["policy"]["staffing"]
    target = st[
        "station_share_of_county_police" if t == POLICE else "office_share_of_establishment"
    ]
    held: dict[str, float] = defaultdict(float)
    for f in _facilities(plan, t):
        held[f["county_code"]] += f["proposed_staff"] or 0
    rows = {r["county_code"]: r for r in plan["metrics"]["staffing"]["by_county"] if r["type"] == t}
    out = set()
    for county, n in held.items():
        total = rows[county]["county_total"]
        if total is None or not total > 0 or n / total + 1e-9 < target:
            out.add(county)
    return out


def staffable(plan: Mapping[str, Any], t: str, check: Mapping[str, Any]) -> set[str]:
    """Counties keeping more units than their staff can man at the minimum."""
    return {
        r["county_code"]
        for r in plan["metrics"]["staffing"]["by_county"]
        if r["type"] == t and r["units_kept"] > r["staffable_units"]
    }


GRASSROOTS = "grassroots"


def _gr(plan: Mapping[str, Any]) -> Mapping[str, Any]:
    return plan["grassroots"]


def grid_sizes(plan: Mapping[str, Any], t: str, check: Mapping[str, Any]) -> set[str]:
    """Grids outside their household bounds or over the residents' maximum, villages in none."""
    g = _gr(plan)
    out = {
        r["code"]
        for r in g["grids"]
        if not r["min_households"] <= r["households"] <= r["max_households"]
        or (r["residents_over"] or 0) > 0
    }
    covered = {v for r in g["grids"] for v in r["villages"]}
    return out | {c["code"] for c in g["cameras"] if c["code"] not in covered}


def worker_gap(plan: Mapping[str, Any], t: str, check: Mapping[str, Any]) -> set[str]:
    """Counties whose roster lacks grid workers."""
    rows = _gr(plan)["grid_workers_by_county"]
    return {str(r["county_code"]) for r in rows if r["fulltime_gap"] > 0 or r["parttime_gap"] > 0}


def new_centres(plan: Mapping[str, Any], t: str, check: Mapping[str, Any]) -> set[str]:
    """Townships without a 综治中心 today (it must be built at the seat)."""
    return {str(r["township_code"]) for r in _gr(plan)["centres"] if r["existing"] is False}


def camera_points(plan: Mapping[str, Any], t: str, check: Mapping[str, Any]) -> set[str]:
    """Villages planned below their pre-merger count, and important places left uncovered."""
    g = _gr(plan)
    short = {str(c["code"]) for c in g["cameras"] if c["planned"] < c["rule_points"]}
    return short | {str(u["name"]) for u in g["places_uncovered"]}


def mediator_share(plan: Mapping[str, Any], t: str, check: Mapping[str, Any]) -> set[str]:
    """Counties below the mediator share after the proposal."""
    rows = _gr(plan)["mediators_by_county"]
    return {str(r["county_code"]) for r in rows if r["share_after"] < check["target"]}


def mediator_goal(plan: Mapping[str, Any], t: str, check: Mapping[str, Any]) -> set[str]:
    """Counties with committees still lacking a full-time mediator."""
    rows = _gr(plan)["mediators_by_county"]
    return {str(r["county_code"]) for r in rows if r["with_after"] < r["committees"]}


#: (facility type or None, words in the rule, breaking units, 原则上).
RULES: list[tuple[str | None, str, Callable[..., set[str]], bool]] = [
    (None, "every township served", served_once, False),
    (None, "at most one kept", one_per_township, False),
    (None, "fewer at scope", count_cut, True),
    (POLICE, "keeps a station of its own", township_rule, True),
    (None, "no police_station of its own", screen, True),
    (None, "no judicial_office of its own", screen, True),
    (None, "travel within the limit", limit("distance_km", "max_distance_km"), False),
    (None, "travel time within the limit", limit("minutes", "max_travel_minutes"), False),
    (None, "pins set by the planner", pins, False),
    (COURT, "cases a year", caseload, True),
    (COURT, "merges only into", adjacent, False),
    (None, "by role: each kept", role_minimum, False),
    (None, "officers in a", staff_minimum, False),
    (None, "kept office >=", staff_minimum, False),
    (None, "kept court >=", staff_minimum, False),
    (POLICE, "every police office of a closed station", office_posts, False),
    (None, "of the county total", share, False),
    (None, "can man at the minimum", staffable, False),
    (GRASSROOTS, "全域覆盖", grid_sizes, True),
    (GRASSROOTS, "一格一员", worker_gap, True),
    (GRASSROOTS, "在驻地设一个综治中心", new_centres, True),
    (GRASSROOTS, "雪亮工程", camera_points, True),
    (GRASSROOTS, "配备率达到", mediator_share, False),
    (GRASSROOTS, "逐步实现", mediator_goal, True),
]
#: Checks that need the township graph (see multi_checker).
GRAPH_RULES = ("connected piece",)


def recheck(plan: Mapping[str, Any]) -> list[str]:
    """Return every check whose status differs from the status its numbers give."""
    plan = copy.deepcopy(plan)
    out = []
    for check in plan["checks"]:
        t = check["facility_type"]
        if check["passed"] != (check["status"] != "not_met"):
            out.append(f"{check['rule']}: passed {check['passed']} vs status {check['status']}")
        if any(w in check["rule"] for w in GRAPH_RULES):
            continue
        rule = next((r for r in RULES if (r[0] in (None, t)) and r[1] in check["rule"]), None)
        if rule is None:
            out.append(f"{t} {check['rule']}: no independent recomputation")
            continue
        if rule[3] != check["principle"] and rule[2] is not count_cut:
            out.append(f"{check['rule']}: principle {check['principle']}, expected {rule[3]}")
        principle = check["principle"] if rule[2] is count_cut else rule[3]
        breaking = rule[2](plan, t, check)
        want = outcome(breaking, _listed(check), principle)
        if want != check["status"]:
            out.append(f"{t} {check['rule']}: status {check['status']}, numbers say {want}")
    return out
