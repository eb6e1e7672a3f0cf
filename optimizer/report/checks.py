"""Rule checks of a plan against the work plan's clauses, from the decisions alone.

Nothing here reads the model: each check recomputes its numbers from which facilities are kept
and which township each serves, so a check can catch a model that is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from optimizer.planning.decode import TypePlan
from optimizer.rules.screens import scope_key
from optimizer.schema import (
    CLOSED_BECOMES,
    CLOSED_BECOMES_ZH,
    COURT,
    FACILITY_LABELS_ZH,
    JUDICIAL,
    POLICE,
)

__all__ = ["OUTCOMES", "Check", "type_checks"]

#: The three outcomes of a rule check, in the order summaries list them.
OUTCOMES = ("met", "exceptions", "not_met")

#: Clause numbers per facility type: (count cut, closed units, screen).
_CLAUSES = {POLICE: ("4", "5", "4"), JUDICIAL: ("7", "7", "7"), COURT: ("11", "11", "10")}
_SCOPE_ZH = {"province": "全省（全部数据）", "prefecture": "各市（州）", "county": "各县（市、区）"}


@dataclass(frozen=True)
class Check:
    """One rule of the work plan checked against the plan.

    Attributes
    ----------
    facility_type
        The facility type the rule is about.
    clause
        Clause number of the work plan (完善农村司法体系工作方案).
    rule
        The rule in words (Chinese, then English).
    target, actual
        What the rule asks and what the plan gives.
    passed
        True when the rule holds, counting the listed exceptions as explained.
    exceptions
        Each exception: ``id`` (facility, township or scope) and ``reason``.
    """

    facility_type: str
    clause: str
    rule: str
    target: Any
    actual: Any
    passed: bool
    exceptions: list[dict[str, str]] = field(default_factory=list)

    @property
    def status(self) -> str:
        """One of :data:`OUTCOMES`: ``met``, ``exceptions`` (every breach listed) or ``not_met``."""
        if not self.passed:
            return "not_met"
        return "exceptions" if self.exceptions else "met"

    def to_dict(self) -> dict[str, Any]:
        """Return the check as plain data for ``plan.json``."""
        return {
            "facility_type": self.facility_type,
            "clause": self.clause,
            "rule": self.rule,
            "target": self.target,
            "actual": self.actual,
            "status": self.status,
            "passed": self.passed,
            "exceptions": list(self.exceptions),
        }


def type_checks(
    tw: pd.DataFrame, f: pd.DataFrame, tp: TypePlan, graph: nx.Graph | None = None
) -> list[Check]:
    """Check one facility type's plan against its clauses.

    Parameters
    ----------
    tw
        Townships with ``served_by__<type>`` and ``distance_km__<type>``.
    f
        The type's facilities with ``decision``, ``becomes``, ``exception``, ``pinned`` and
        ``serves``.
    tp
        The type plan (for the policy numbers: scope, reduction, limits, distance limit).
    graph
        Township adjacency (needed when the type asks for connected jurisdictions).

    Returns
    -------
    list of Check
        In this order: served once, one per township, count cut, screen, closed units,
        distance, travel time, pins, contiguity, then the court clauses.
    """
    t = tp.type
    kept = f[f["decision"] == "keep"]
    checks = [_served_once_check(tw, f, kept, t), _one_per_township_check(kept, t)]
    optional = [
        _count_cut_check(f, tp),
        _screen_check(tw, kept, tp),
        _closed_becomes_check(f, t),
        _distance_check(tw, tp),
        _travel_time_check(tw, tp),
        _pins_check(f, tp),
        _contiguity_check(tw, kept, t, graph) if tp.contiguity and graph is not None else None,
    ]
    checks += [c for c in optional if c is not None]
    if t == COURT:
        checks += _court_checks(tw, f, tp)
    return checks


def _served_once_check(tw: pd.DataFrame, f: pd.DataFrame, kept: pd.DataFrame, t: str) -> Check:
    """Check that every township is served by one kept facility of its own county.

    Parameters
    ----------
    tw
        Townships with ``code``, ``county_code`` and ``served_by__<type>``.
    f
        All the type's facilities (a county with none is served by its basic court).
    kept
        The kept facilities.
    t
        The facility type.

    Returns
    -------
    Check
        Failing townships first, then the townships of counties without a facility.
    """
    kept_county = dict(zip(kept["id"], kept["county_code"], strict=True))
    served = tw[f"served_by__{t}"]
    has = served.notna().to_numpy()
    ok = np.array(
        [
            h and kept_county.get(s) == c
            for h, s, c in zip(has, served, tw["county_code"], strict=True)
        ]
    )
    counties_with = set(f["county_code"])
    basic = tw.loc[~has & ~tw["county_code"].isin(counties_with), "code"].tolist()
    bad = tw.loc[~ok & ~tw["code"].isin(basic), "code"].tolist()
    return Check(
        t,
        _CLAUSES[t][0],
        f"每个乡镇（街道）由本县一个保留的{FACILITY_LABELS_ZH[t]}管辖 / every township served by "
        f"one kept {t} of its county",
        len(tw),
        int(ok.sum()),
        not bad,
        [{"id": c, "reason": f"not served by a kept {t} of its county"} for c in bad]
        + [
            {
                "id": c,
                "reason": "the county has no people's court: served by its basic court (基层法院)",
            }
            for c in basic
        ],
    )


def _one_per_township_check(kept: pd.DataFrame, t: str) -> Check:
    """Check that no township holds more than one kept facility.

    Parameters
    ----------
    kept
        The kept facilities with ``township_code``.
    t
        The facility type.

    Returns
    -------
    Check
        The most kept in one township, with each township holding more than one.
    """
    per_town = kept.groupby("township_code").size()
    worst = int(per_town.max()) if len(per_town) else 0
    return Check(
        t,
        _CLAUSES[t][0],
        f"每个乡镇至多设一个{FACILITY_LABELS_ZH[t]} / at most one kept {t} per township",
        "<= 1",
        worst,
        worst <= 1,
        [{"id": str(c), "reason": f"{n} kept"} for c, n in per_town[per_town > 1].items()],
    )


def _count_cut_check(f: pd.DataFrame, tp: TypePlan) -> Check | None:
    """Check the reduction in the number of facilities per scope (province, prefecture, county).

    Parameters
    ----------
    f
        The type's facilities with ``county_code`` and ``decision``.
    tp
        The type plan: ``reduction``, ``scope`` and ``limits`` (a scope's reason for a smaller cut).

    Returns
    -------
    Check or None
        None when the type asks for no reduction. A scope short of the cut passes only with a
        reason; the actual value is the smallest reduction of any scope.
    """
    if tp.reduction is None:
        return None
    t = tp.type
    label = FACILITY_LABELS_ZH[t]
    groups = f.assign(g=f["county_code"].map(lambda c: scope_key(str(c), tp.scope)))
    reductions = {}
    excs = []
    passed = True
    for key, grp in groups.groupby("g"):
        before, after = len(grp), int((grp["decision"] == "keep").sum())
        red = 1.0 - after / before if before else 0.0
        reductions[key] = red
        if red + 1e-9 < tp.reduction:
            reason = tp.limits.get(str(key), {}).get("reason", "")
            passed &= bool(reason)
            excs.append(
                {
                    "id": str(key),
                    "reason": f"{after} of {before} kept ({red:.1%}): {reason or 'no reason'}",
                }
            )
    return Check(
        t,
        _CLAUSES[t][0],
        f"{label}数量减少{tp.reduction:.0%}以上（{_SCOPE_ZH[tp.scope]}）/ at least "
        f"{tp.reduction:.0%} fewer at scope {tp.scope}",
        round(tp.reduction, 6),
        round(min(reductions.values()), 6),
        passed,
        excs,
    )


def _screen_check(tw: pd.DataFrame, kept: pd.DataFrame, tp: TypePlan) -> Check | None:
    """Check that no facility is kept in a screened township without a stated exception.

    Parameters
    ----------
    tw
        Townships, in the order of ``tp.assignment``.
    kept
        The kept facilities with ``township_code`` and ``exception``.
    tp
        The type plan: ``screen_rule`` and ``assignment["screened"]``.

    Returns
    -------
    Check or None
        None when the type has no screen; fails when a kept facility in a screened township
        gives no reason.
    """
    if not tp.screen_rule:
        return None
    t = tp.type
    screened = set(tw.loc[tp.assignment["screened"].to_numpy(dtype=bool), "code"])
    breaking = kept[kept["township_code"].isin(screened)]
    exc = [
        {"id": str(r.id), "reason": str(r.exception)} for r in breaking.itertuples() if r.exception
    ]
    unexplained = [str(r.id) for r in breaking.itertuples() if not r.exception]
    rule = {
        POLICE: "涉藏地区外实有人口<2万且年警情<50的乡镇原则上不设派出所",
        JUDICIAL: "农村空心化严重、人口稀少的地方集中办公、分散服务",
    }.get(t, "")
    return Check(
        t,
        _CLAUSES[t][2],
        f"{rule} / no {t} of its own in a township with {tp.screen_rule}",
        0,
        len(breaking),
        not unexplained,
        exc + [{"id": i, "reason": "kept without a reason"} for i in unexplained],
    )


def _closed_becomes_check(f: pd.DataFrame, t: str) -> Check:
    """Check that every closed facility becomes what its type's clause asks.

    Parameters
    ----------
    f
        The type's facilities with ``decision`` and ``becomes``.
    t
        The facility type (police office, service point or merged court).

    Returns
    -------
    Check
        Target the number closed, actual the number that become the right thing.
    """
    closed = f[f["decision"] == "close"]
    n_become = int((closed["becomes"] == CLOSED_BECOMES[t]).sum())
    rule = {
        POLICE: "撤并的派出所改设警务室 / every closed station becomes a police office (警务室)",
        JUDICIAL: "撤并的司法所设服务点（集中办公、分散服务）/ every closed office becomes a service point",
        COURT: "撤并的人民法庭并入相邻法庭 / every closed court merges into another court",
    }[t]
    return Check(t, _CLAUSES[t][1], rule, len(closed), n_become, n_become == len(closed))


def _distance_check(tw: pd.DataFrame, tp: TypePlan) -> Check | None:
    """Check the distance from each township seat to its facility against the limit.

    Parameters
    ----------
    tw
        Townships with ``distance_km__<type>``.
    tp
        The type plan: ``max_distance_km``.

    Returns
    -------
    Check or None
        None when the type has no distance limit; else the farthest distance, with each
        township beyond the limit.
    """
    if tp.max_distance_km is None:
        return None
    t = tp.type
    d = tw[f"distance_km__{t}"]
    far = tw.loc[d > tp.max_distance_km + 1e-9, "code"].tolist()
    return Check(
        t,
        _CLAUSES[t][0],
        f"乡镇驻地到{FACILITY_LABELS_ZH[t]}不超过{tp.max_distance_km:g}公里 / travel within the limit",
        tp.max_distance_km,
        round(float(np.nanmax(d.to_numpy(dtype=float))), 3),
        not far,
        [{"id": c, "reason": "beyond the distance limit"} for c in far],
    )


def _travel_time_check(tw: pd.DataFrame, tp: TypePlan) -> Check | None:
    """Check the travel time from each township seat to its facility against the limit.

    Parameters
    ----------
    tw
        Townships with ``minutes__<type>``.
    tp
        The type plan: ``max_minutes``.

    Returns
    -------
    Check or None
        None when the type has no travel-time limit; else the longest time, with each
        township beyond the limit.
    """
    if tp.max_minutes is None:
        return None
    t = tp.type
    m = tw[f"minutes__{t}"]
    slow = tw.loc[m > tp.max_minutes + 1e-9, "code"].tolist()
    return Check(
        t,
        _CLAUSES[t][0],
        f"乡镇驻地到{FACILITY_LABELS_ZH[t]}不超过{tp.max_minutes:g}分钟 / travel time within the limit",
        tp.max_minutes,
        round(float(np.nanmax(m.to_numpy(dtype=float))), 3),
        not slow,
        [{"id": c, "reason": "beyond the travel-time limit"} for c in slow],
    )


def _pins_check(f: pd.DataFrame, tp: TypePlan) -> Check | None:
    """Check that the planner's pins (keep or close a given facility) are respected.

    Parameters
    ----------
    f
        The type's facilities with ``id`` and ``decision``.
    tp
        The type plan: ``pinned_open`` and ``pinned_closed``.

    Returns
    -------
    Check or None
        None when nothing is pinned; else the pins respected, with each one broken.
    """
    if not (tp.pinned_open or tp.pinned_closed):
        return None
    dec = dict(zip(f["id"], f["decision"], strict=True))
    broken = [i for i in tp.pinned_open if dec.get(i) != "keep"] + [
        i for i in tp.pinned_closed if dec.get(i) != "close"
    ]
    n_pins = len(tp.pinned_open) + len(tp.pinned_closed)
    return Check(
        tp.type,
        "III",
        f"规划人员指定保留或撤并的{FACILITY_LABELS_ZH[tp.type]} / pins set by the planner",
        n_pins,
        n_pins - len(broken),
        not broken,
        [{"id": i, "reason": "pin not respected"} for i in broken],
    )


def _contiguity_check(tw: pd.DataFrame, kept: pd.DataFrame, t: str, graph: nx.Graph) -> Check:
    """Check that every jurisdiction is one connected piece holding its facility's township.

    Parameters
    ----------
    tw
        Townships with ``code``, ``served_by__<type>`` and optionally ``geometry``.
    kept
        The kept facilities with ``id`` and ``township_code``.
    t
        The facility type.
    graph
        Township adjacency; edges of ``kind`` ``"island"`` link townships without a shared
        boundary.

    Returns
    -------
    Check
        Broken jurisdictions (failing), then notes on exclaves and island links (not failing).
    """
    label = FACILITY_LABELS_ZH[t]
    col = f"served_by__{t}"
    broken = []
    islands = []
    pieces: dict[str, int] = {}
    if "geometry" in tw:
        n_parts = tw.geometry.apply(lambda g: len(getattr(g, "geoms", [g])))
        pieces = {str(c): int(n) for c, n in zip(tw["code"], n_parts, strict=True) if n > 1}
    for r in kept.itertuples():
        area = tw.loc[tw[col] == r.id, "code"].tolist()
        split = [c for c in area if c in pieces]
        if split:
            islands.append(
                {
                    "id": str(r.id),
                    "reason": "its jurisdiction polygon has separate parts because township(s) "
                    + ", ".join(f"{c} ({pieces[c]} parts)" for c in split)
                    + " are themselves in several pieces (exclaves) in the input polygons",
                }
            )
        sub = graph.subgraph(area)
        if r.township_code not in area:
            broken.append({"id": str(r.id), "reason": "does not serve its own township"})
        elif area and not nx.is_connected(sub):
            parts = sorted(nx.connected_components(sub), key=len, reverse=True)
            broken.append({"id": str(r.id), "reason": f"jurisdiction in {len(parts)} pieces"})
        linked = [(a, b) for a, b, d in sub.edges(data=True) if d.get("kind") == "island"]
        if linked:
            islands.append(
                {
                    "id": str(r.id),
                    "reason": "connected through an island link (no shared boundary): "
                    + ", ".join(f"{a}-{b}" for a, b in linked),
                }
            )
    return Check(
        t,
        "4" if t == POLICE else "11" if t == COURT else "7",
        f"{label}辖区连片（在乡镇邻接图中连通，含驻地乡镇）/ every jurisdiction is one connected piece "
        "holding its facility's township",
        len(kept),
        len(kept) - len(broken),
        not broken,
        broken + islands,
    )


def _court_checks(tw: pd.DataFrame, f: pd.DataFrame, tp: TypePlan) -> list[Check]:
    """Check clauses 10-11: caseload, merging only into adjacent courts, the setting criteria.

    Parameters
    ----------
    tw
        Townships with ``before_by__court`` and ``served_by__court``.
    f
        The courts with ``decision``, ``caseload`` and the per-court criteria columns.
    tp
        The court type plan: ``min_load``, ``adjacent_only`` and ``court_neighbours``.

    Returns
    -------
    list of Check
        Caseload (when a minimum is set), adjacent merging (when asked), criteria (when any
        court is kept).
    """
    kept = f[f["decision"] == "keep"]
    checks = [_caseload_check(kept, tp), _adjacent_merge_check(tw, f, tp)]
    if len(kept):
        checks.append(_court_criteria_check(kept))
    return [c for c in checks if c is not None]


def _caseload_check(kept: pd.DataFrame, tp: TypePlan) -> Check | None:
    """Check that every kept court has enough cases, unless exempt (too remote to merge).

    Parameters
    ----------
    kept
        The kept courts with ``id``, ``caseload`` and ``min_cases_exempt``.
    tp
        The court type plan: ``min_load``.

    Returns
    -------
    Check or None
        None when no minimum is set; exempt courts listed first, then the unexplained ones.
    """
    if tp.min_load is None:
        return None
    low = kept[kept["caseload"] < tp.min_load - 1e-9]
    rows = low.to_dict("records")
    exempt = [
        {"id": str(r["id"]), "reason": f"{r['caseload']:,.0f} cases: {r['min_cases_exempt']}"}
        for r in rows
        if r["min_cases_exempt"]
    ]
    unexplained = [
        {"id": str(r["id"]), "reason": f"{r['caseload']:,.0f} cases, below the minimum"}
        for r in rows
        if not r["min_cases_exempt"]
    ]
    return Check(
        COURT,
        "11",
        f"保留的人民法庭案件来源充足（年收案≥{tp.min_load:g}）/ every kept court has at least "
        f"{tp.min_load:g} cases a year, unless too remote to merge",
        tp.min_load,
        round(float(kept["caseload"].min()), 3) if len(kept) else None,
        not unexplained,
        exempt + unexplained,
    )


def _adjacent_merge_check(tw: pd.DataFrame, f: pd.DataFrame, tp: TypePlan) -> Check | None:
    """Check that a closed court merges only into courts whose jurisdiction touches its own.

    Parameters
    ----------
    tw
        Townships with ``before_by__court`` (the court before) and ``served_by__court``.
    f
        The courts with ``id`` and ``decision``.
    tp
        The court type plan: ``adjacent_only`` and ``court_neighbours``.

    Returns
    -------
    Check or None
        None when merging is not limited to adjacent courts; else each wrong merge.
    """
    if not tp.adjacent_only:
        return None
    closed = f[f["decision"] == "close"]
    wrong = []
    for r in closed.itertuples():
        into = set(tw.loc[tw[f"before_by__{COURT}"] == r.id, f"served_by__{COURT}"].dropna())
        neighbours = set(tp.court_neighbours.get(str(r.id), []))
        for k in sorted(into):
            if k not in neighbours:
                wrong.append(
                    {
                        "id": str(r.id),
                        "reason": f"merged into {k}, whose jurisdiction does not touch",
                    }
                )
    return Check(
        COURT,
        "11",
        "管辖区域相邻的人民法庭方可合并 / a court merges only into a court whose jurisdiction touches its own",
        len(closed),
        len(closed) - len({w["id"] for w in wrong}),
        not wrong,
        wrong,
    )


def _court_criteria_check(kept: pd.DataFrame) -> Check:
    """Report the ranges of the court setting criteria over the kept courts (always passes).

    Parameters
    ----------
    kept
        The kept courts (at least one) with ``area_km2``, ``population_served``,
        ``caseload`` and ``max_distance_km``.

    Returns
    -------
    Check
        Actual: the ranges of area, population and cases, and the farthest township.
    """
    return Check(
        COURT,
        "10",
        "人民法庭设置标准：辖区面积、人口规模、案件情况、交通状况 / court criteria: area, "
        "population, caseload, travel (per court in the court sheet)",
        "assessed",
        (
            f"area {kept['area_km2'].min():,.0f}-{kept['area_km2'].max():,.0f} km²; "
            f"population {kept['population_served'].min():,.0f}-{kept['population_served'].max():,.0f}; "
            f"cases {kept['caseload'].min():,.0f}-{kept['caseload'].max():,.0f}; "
            f"farthest township {kept['max_distance_km'].max():,.1f} km"
        ),
        True,
    )


def closed_becomes_zh(t: str) -> str:
    """Return what a closed facility of the type becomes, in Chinese."""
    return CLOSED_BECOMES_ZH[CLOSED_BECOMES[t]]
