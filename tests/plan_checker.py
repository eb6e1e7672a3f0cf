"""An independent checker of a police-station plan (``plan.json``), from the decisions alone.

It does not import :mod:`optimizer.plan`, :mod:`optimizer.results` or :mod:`optimizer.locate`:
every number is recomputed here from the raw inputs and the decisions the plan reports, so a
wrong model, a wrong check or a wrong metric in the package shows up as a violation.

Usage::

    violations = check_plan(plan_to_dict(plan), townships, facilities, police_policy)
    assert not violations, violations

``townships`` needs ``code``, ``county_code``, ``population``, ``incidents``, ``tibetan_area``
and, for the distance check, ``seat_lon`` / ``seat_lat`` (the township seat). ``facilities``
needs ``id``, ``township_code``, ``county_code`` and, for the distance check, ``lon`` / ``lat``.
``police`` is a mapping with the policy numbers (as in ``plan.json``'s ``policy.police``).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Mapping
from typing import Any

import pandas as pd
from pyproj import Geod

POLICE = "police_station"
_GEOD = Geod(ellps="WGS84")


def scope_of(county_code: str, scope: str) -> str:
    """Scope group of a county: ``all``, the 4-digit prefecture, or the county itself."""
    if scope == "province":
        return "all"
    if scope == "prefecture":
        return county_code[:4]
    return county_code


def screened(town: Mapping[str, Any], police: Mapping[str, Any]) -> bool:
    """Clause 4 screen: population and incidents both below the thresholds, outside 涉藏地区."""
    small = float(town["population"]) < float(police.get("min_population", 20_000)) and float(
        town["incidents"]
    ) < float(police.get("min_incidents", 50))
    if police.get("exempt_tibetan_area", True) and bool(town["tibetan_area"]):
        return False
    return small


def geodesic_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Geodesic distance on the WGS84 ellipsoid in km."""
    _, _, metres = _GEOD.inv(lon1, lat1, lon2, lat2)
    return float(metres) / 1000.0


def _close(a: float, b: float, rel: float, abs_: float = 0.0) -> bool:
    return abs(a - b) <= max(rel * max(abs(a), abs(b)), abs_)


def _find_check(checks: list[dict[str, Any]], ftype: str, needle: str) -> dict[str, Any] | None:
    for c in checks:
        if c["facility_type"] == ftype and needle in c["rule"]:
            return c
    return None


def check_plan(
    plan: Mapping[str, Any],
    townships: pd.DataFrame,
    facilities: pd.DataFrame,
    police: Mapping[str, Any],
    *,
    solver_gap: float | None = None,
    distance_rtol: float = 0.005,
    distance_atol_km: float = 0.02,
) -> list[str]:
    """Return every violation of the police-station rules found in ``plan`` (empty = OK).

    Parameters
    ----------
    plan
        The ``plan.json`` structure.
    townships, facilities
        The raw inputs (see the module docstring); ``facilities`` may hold other types, only
        police stations are used.
    police
        Policy numbers: ``reduction``, ``scope``, ``min_population``, ``min_incidents``,
        ``exempt_tibetan_area``, ``max_distance_km``, ``circuity``, ``weight``, ``pin_open``,
        ``pin_closed``, ``central_min_townships``.
    solver_gap
        Relative gap the solver was asked for; an ``optimal`` status must lie within it.
    distance_rtol, distance_atol_km
        Tolerance of the distance check (the tool measures in a UTM projection, this checker on
        the ellipsoid).
    """
    v: list[str] = []
    t = POLICE
    circuity = float(police.get("circuity", 1.3))
    reduction = police.get("reduction", 0.35)
    scope = str(police.get("scope", "province"))
    weight_col = "population" if police.get("weight", "population") == "population" else "incidents"
    central_min = int(police.get("central_min_townships", 2))
    max_km = police.get("max_distance_km")

    towns = {str(r["code"]): r for r in townships.to_dict("records")}
    raw_fac = facilities
    if "type" in raw_fac.columns:
        raw_fac = raw_fac[raw_fac["type"] == t]
    sites = {str(r["id"]): r for r in raw_fac.to_dict("records")}

    # ---- the plan's records match the inputs
    pf = [f for f in plan["facilities"] if f["type"] == t]
    by_id = {f["id"]: f for f in pf}
    if len(by_id) != len(pf):
        v.append("duplicate facility ids in plan.facilities")
    if set(by_id) != set(sites):
        v.append(
            f"plan facilities differ from the inputs: missing {sorted(set(sites) - set(by_id))}, "
            f"extra {sorted(set(by_id) - set(sites))}"
        )
    for fid, f in by_id.items():
        raw = sites.get(fid)
        if raw is None:
            continue
        if str(f["township_code"]) != str(raw["township_code"]) or str(f["county_code"]) != str(
            raw["county_code"]
        ):
            v.append(f"{fid}: township/county differ from the input")
    ptowns = {tw["code"]: tw for tw in plan["townships"]}
    if set(ptowns) != set(towns):
        v.append("plan townships differ from the input townships")

    kept = {fid for fid, f in by_id.items() if f["decision"] == "keep"}
    for fid, f in by_id.items():
        if f["decision"] not in ("keep", "close"):
            v.append(f"{fid}: decision {f['decision']!r}")

    # ---- every township served exactly once by a kept station of its own county
    served: dict[str, list[str]] = defaultdict(list)
    for code, tw in ptowns.items():
        s = (tw.get("served_by") or {}).get(t)
        if s is None:
            v.append(f"township {code} is not served")
            continue
        if s not in kept:
            v.append(f"township {code} is served by {s}, which is not kept")
        elif str(by_id[s]["county_code"]) != str(towns.get(code, tw)["county_code"]):
            v.append(f"township {code} is served by {s} of another county")
        served[s].append(code)

    # ---- at most one kept station per township
    per_town = Counter(str(by_id[fid]["township_code"]) for fid in kept)
    for code, n in per_town.items():
        if n > 1:
            v.append(f"township {code} keeps {n} stations")

    checks = list(plan.get("checks", []))

    # ---- count limit per scope group
    if reduction is not None:
        red_check = _find_check(checks, t, "fewer at scope")
        if red_check is None:
            v.append("no reduction check in plan.checks")
        listed = {e["id"]: e["reason"] for e in (red_check or {}).get("exceptions", [])}
        groups: dict[str, list[str]] = defaultdict(list)
        for fid, raw in sites.items():
            groups[scope_of(str(raw["county_code"]), scope)].append(fid)
        for key, members in groups.items():
            current = len(members)
            limit = math.floor((1.0 - float(reduction)) * current + 1e-9)
            n_kept = sum(fid in kept for fid in members)
            if n_kept > limit:
                if key not in listed or not listed[key].strip():
                    v.append(
                        f"scope group {key}: {n_kept} of {current} kept, limit {limit}, "
                        "not listed as an exception"
                    )
            elif key in listed:
                v.append(f"scope group {key} is listed as an exception but meets the limit")
        if red_check is not None and not red_check["passed"]:
            v.append("the reduction check failed")

    # ---- the clause-4 threshold screen
    thr_check = _find_check(checks, t, "no police_station of its own")
    thr_listed = {e["id"]: e["reason"] for e in (thr_check or {}).get("exceptions", [])}
    for code, raw in towns.items():
        expect = screened(raw, police)
        got = ptowns.get(code, {}).get("below_threshold")
        if got is not None and bool(got) != expect:
            v.append(f"township {code}: below_threshold {got}, expected {expect}")
    for fid in sorted(kept):
        code = str(by_id[fid]["township_code"])
        if code in towns and screened(towns[code], police):
            if not (thr_listed.get(fid) or "").strip():
                v.append(
                    f"{fid} is kept in below-threshold township {code} without a listed reason"
                )
            if not by_id[fid].get("exception"):
                v.append(f"{fid} is kept in below-threshold township {code}; exception field empty")
    if thr_check is None:
        v.append("no threshold check in plan.checks")
    elif not thr_check["passed"]:
        v.append("the threshold check failed")
    for fid in thr_listed:
        if fid not in kept:
            v.append(f"{fid} listed as a threshold exception but not kept")

    # ---- closed stations become police offices; kept ones do not
    for fid, f in by_id.items():
        if f["decision"] == "close":
            if f["becomes"] != "police_office":
                v.append(f"closed {fid} becomes {f['becomes']!r}, not police_office")
            if f["serves"]:
                v.append(f"closed {fid} serves {f['serves']}")
        elif f["becomes"] is not None:
            v.append(f"kept {fid} becomes {f['becomes']!r}")

    # ---- pins
    pin_open = set(police.get("pin_open", ()) or ())
    pin_closed = set(police.get("pin_closed", ()) or ())
    for fid in pin_open:
        if fid not in kept:
            v.append(f"{fid} is pinned open but closed")
    for fid in pin_closed:
        if fid in kept:
            v.append(f"{fid} is pinned closed but kept")
    for fid, f in by_id.items():
        want = "open" if fid in pin_open else "closed" if fid in pin_closed else None
        if f.get("pinned") != want:
            v.append(f"{fid}: pinned {f.get('pinned')!r}, expected {want!r}")

    # ---- serves and central
    for fid, f in by_id.items():
        if fid in kept and sorted(f["serves"]) != sorted(served.get(fid, [])):
            v.append(
                f"{fid}: serves {f['serves']} but served_by says {sorted(served.get(fid, []))}"
            )
        want_central = fid in kept and len(served.get(fid, [])) >= central_min
        if bool(f["central"]) != want_central:
            v.append(f"{fid}: central {f['central']}, expected {want_central}")

    # ---- distances
    has_seats = {"seat_lon", "seat_lat"} <= set(townships.columns)
    has_sites = {"lon", "lat"} <= set(raw_fac.columns)
    obj = 0.0
    weight_sum = 0.0
    max_seen = 0.0
    for code, tw in ptowns.items():
        s = (tw.get("served_by") or {}).get(t)
        d = (tw.get("distance_km") or {}).get(t)
        if s is None:
            continue
        if d is None or not math.isfinite(d) or d < 0:
            v.append(f"township {code}: distance {d!r}")
            continue
        max_seen = max(max_seen, d)
        w = float(towns[code][weight_col]) if code in towns else float(tw[weight_col])
        obj += w * d
        weight_sum += w
        if has_seats and has_sites and code in towns and s in sites:
            raw = towns[code]
            site = sites[s]
            exp = circuity * geodesic_km(
                float(raw["seat_lon"]),
                float(raw["seat_lat"]),
                float(site["lon"]),
                float(site["lat"]),
            )
            if not _close(d, exp, distance_rtol, distance_atol_km):
                v.append(f"township {code} -> {s}: distance {d:.4f} km, expected {exp:.4f} km")
            if police.get("contiguity") is False:
                # without connected jurisdictions each township goes to its nearest kept station
                nearest = min(
                    circuity
                    * geodesic_km(
                        float(raw["seat_lon"]),
                        float(raw["seat_lat"]),
                        float(x["lon"]),
                        float(x["lat"]),
                    )
                    for fid, x in sites.items()
                    if fid in kept and str(x["county_code"]) == str(raw["county_code"])
                )
                if d > nearest * (1 + distance_rtol) + distance_atol_km:
                    v.append(
                        f"township {code}: served at {d:.4f} km, nearest kept {nearest:.4f} km"
                    )
        if max_km is not None and d > float(max_km) + 1e-6:
            v.append(f"township {code}: {d:.3f} km beyond the limit {max_km} km")
        # distance before: the nearest current station of the county
        before = (tw.get("distance_before_km") or {}).get(t)
        if has_seats and has_sites and code in towns and before is not None:
            raw = towns[code]
            cands = [
                circuity
                * geodesic_km(
                    float(raw["seat_lon"]), float(raw["seat_lat"]), float(x["lon"]), float(x["lat"])
                )
                for x in sites.values()
                if str(x["county_code"]) == str(raw["county_code"])
            ]
            if cands and not _close(before, min(cands), distance_rtol, distance_atol_km):
                v.append(
                    f"township {code}: distance before {before:.4f}, expected {min(cands):.4f}"
                )

    # ---- objective, bound, gap
    m = plan["metrics"][t]
    tol_abs = 1e-6 * max(weight_sum, 1.0)
    if not _close(float(m["objective"]), obj, 1e-6, tol_abs):
        v.append(f"metrics objective {m['objective']} != Σ weight × distance {obj}")
    s = plan["solver"]["by_type"][t]
    if not _close(float(s["objective"]), obj, 1e-6, tol_abs):
        v.append(f"solver objective {s['objective']} != Σ weight × distance {obj}")
    if s["bound"] is None or float(s["bound"]) > float(s["objective"]) * (1 + 1e-9) + 1e-6:
        v.append(f"solver bound {s['bound']} exceeds objective {s['objective']}")
    elif float(s["objective"]) > 0:
        gap = (float(s["objective"]) - float(s["bound"])) / float(s["objective"])
        if s["gap"] is None or s["gap"] < 0 or not _close(float(s["gap"]), gap, 1e-4, 1e-6):
            v.append(
                f"solver gap {s['gap']} inconsistent with (objective - bound) / objective {gap}"
            )
    if s["status"] not in ("optimal", "feasible"):
        v.append(f"solver status {s['status']!r}")
    if s["status"] == "optimal" and solver_gap is not None and s["gap"] > solver_gap * 1.001 + 1e-9:
        v.append(f"status optimal with gap {s['gap']} above the requested {solver_gap}")

    # ---- metrics
    n_before, n_after = len(sites), len(kept)
    if m["before"]["count"] != n_before:
        v.append(f"metrics before.count {m['before']['count']} != {n_before}")
    if m["after"]["count"] != n_after:
        v.append(f"metrics after.count {m['after']['count']} != {n_after}")
    if n_before and not _close(float(m["reduction"]), 1 - n_after / n_before, 1e-6, 1e-6):
        v.append(f"metrics reduction {m['reduction']} != {1 - n_after / n_before}")
    n_central = sum(bool(by_id[f]["central"]) for f in kept)
    if m["central"] != n_central:
        v.append(f"metrics central {m['central']} != {n_central}")
    if m["closed_becomes"].get("police_office") != n_before - n_after:
        v.append(f"metrics closed_becomes {m['closed_becomes']} != {n_before - n_after}")
    if m["after"]["max_distance_km"] is not None and not _close(
        float(m["after"]["max_distance_km"]), max_seen, 1e-6, 1e-6
    ):
        v.append(f"metrics after.max_distance_km {m['after']['max_distance_km']} != {max_seen}")
    if weight_sum > 0 and m["after"]["mean_distance_km"] is not None:
        if not _close(float(m["after"]["mean_distance_km"]), obj / weight_sum, 1e-6, 1e-6):
            v.append(
                f"metrics mean distance {m['after']['mean_distance_km']} != {obj / weight_sum}"
            )
    for row in m.get("by_county", []):
        c = str(row["county_code"])
        b = sum(str(x["county_code"]) == c for x in sites.values())
        a = sum(str(by_id[f]["county_code"]) == c for f in kept)
        if row["before"] != b or row["after"] != a:
            v.append(f"by_county {c}: {row['before']} -> {row['after']}, expected {b} -> {a}")
    return v


def seats_of(townships: Any) -> pd.DataFrame:
    """Return ``code``, ``seat_lon``, ``seat_lat``: a point inside each polygon.

    The representative point is taken in a UTM projection of the data, so that it matches the
    "point inside the polygon" the docs describe up to a few metres.
    """
    geo = townships.to_crs("EPSG:4326")
    lon = float(geo.total_bounds[[0, 2]].mean())
    zone = int((lon + 180.0) // 6.0) + 1
    pts = geo.geometry.to_crs(32600 + zone).representative_point().to_crs("EPSG:4326")
    return pd.DataFrame({"code": geo["code"].astype(str), "seat_lon": pts.x, "seat_lat": pts.y})
