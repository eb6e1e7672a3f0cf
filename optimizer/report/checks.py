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

__all__ = ["Check", "type_checks"]

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

    def to_dict(self) -> dict[str, Any]:
        """Return the check as plain data for ``plan.json``."""
        return {
            "facility_type": self.facility_type,
            "clause": self.clause,
            "rule": self.rule,
            "target": self.target,
            "actual": self.actual,
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
    """
    t = tp.type
    label = FACILITY_LABELS_ZH[t]
    c_cut, c_closed, c_screen = _CLAUSES[t]
    checks: list[Check] = []
    kept = f[f["decision"] == "keep"]
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
    checks.append(
        Check(
            t,
            c_cut,
            f"每个乡镇（街道）由本县一个保留的{label}管辖 / every township served by one kept {t} of its county",
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
    )
    per_town = kept.groupby("township_code").size()
    worst = int(per_town.max()) if len(per_town) else 0
    checks.append(
        Check(
            t,
            c_cut,
            f"每个乡镇至多设一个{label} / at most one kept {t} per township",
            "<= 1",
            worst,
            worst <= 1,
            [{"id": str(c), "reason": f"{n} kept"} for c, n in per_town[per_town > 1].items()],
        )
    )
    if tp.reduction is not None:
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
        checks.append(
            Check(
                t,
                c_cut,
                f"{label}数量减少{tp.reduction:.0%}以上（{_SCOPE_ZH[tp.scope]}）/ at least "
                f"{tp.reduction:.0%} fewer at scope {tp.scope}",
                round(tp.reduction, 6),
                round(min(reductions.values()), 6),
                passed,
                excs,
            )
        )
    if tp.screen_rule:
        screened = set(tw.loc[tp.assignment["screened"].to_numpy(dtype=bool), "code"])
        breaking = kept[kept["township_code"].isin(screened)]
        exc = [
            {"id": str(r.id), "reason": str(r.exception)}
            for r in breaking.itertuples()
            if r.exception
        ]
        unexplained = [str(r.id) for r in breaking.itertuples() if not r.exception]
        rule = {
            POLICE: "涉藏地区外实有人口<2万且年警情<50的乡镇原则上不设派出所",
            JUDICIAL: "农村空心化严重、人口稀少的地方集中办公、分散服务",
        }.get(t, "")
        checks.append(
            Check(
                t,
                c_screen,
                f"{rule} / no {t} of its own in a township with {tp.screen_rule}",
                0,
                len(breaking),
                not unexplained,
                exc + [{"id": i, "reason": "kept without a reason"} for i in unexplained],
            )
        )
    closed = f[f["decision"] == "close"]
    becomes = CLOSED_BECOMES[t]
    n_become = int((closed["becomes"] == becomes).sum())
    rule = {
        POLICE: "撤并的派出所改设警务室 / every closed station becomes a police office (警务室)",
        JUDICIAL: "撤并的司法所设服务点（集中办公、分散服务）/ every closed office becomes a service point",
        COURT: "撤并的人民法庭并入相邻法庭 / every closed court merges into another court",
    }[t]
    checks.append(Check(t, c_closed, rule, len(closed), n_become, n_become == len(closed)))
    if tp.max_distance_km is not None:
        d = tw[f"distance_km__{t}"]
        far = tw.loc[d > tp.max_distance_km + 1e-9, "code"].tolist()
        checks.append(
            Check(
                t,
                c_cut,
                f"乡镇驻地到{label}不超过{tp.max_distance_km:g}公里 / travel within the limit",
                tp.max_distance_km,
                round(float(np.nanmax(d.to_numpy(dtype=float))), 3),
                not far,
                [{"id": c, "reason": "beyond the distance limit"} for c in far],
            )
        )
    if tp.max_minutes is not None:
        m = tw[f"minutes__{t}"]
        slow = tw.loc[m > tp.max_minutes + 1e-9, "code"].tolist()
        checks.append(
            Check(
                t,
                c_cut,
                f"乡镇驻地到{label}不超过{tp.max_minutes:g}分钟 / travel time within the limit",
                tp.max_minutes,
                round(float(np.nanmax(m.to_numpy(dtype=float))), 3),
                not slow,
                [{"id": c, "reason": "beyond the travel-time limit"} for c in slow],
            )
        )
    if tp.pinned_open or tp.pinned_closed:
        dec = dict(zip(f["id"], f["decision"], strict=True))
        broken = [i for i in tp.pinned_open if dec.get(i) != "keep"] + [
            i for i in tp.pinned_closed if dec.get(i) != "close"
        ]
        n_pins = len(tp.pinned_open) + len(tp.pinned_closed)
        checks.append(
            Check(
                t,
                "III",
                f"规划人员指定保留或撤并的{label} / pins set by the planner",
                n_pins,
                n_pins - len(broken),
                not broken,
                [{"id": i, "reason": "pin not respected"} for i in broken],
            )
        )
    if tp.contiguity and graph is not None:
        checks.append(_contiguity_check(tw, kept, t, graph))
    if t == COURT:
        checks += _court_checks(tw, f, tp)
    return checks


def _contiguity_check(tw: pd.DataFrame, kept: pd.DataFrame, t: str, graph: nx.Graph) -> Check:
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
    """Clauses 10-11: caseload, merging only into adjacent courts, the setting criteria."""
    checks = []
    kept = f[f["decision"] == "keep"]
    if tp.min_load is not None:
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
        checks.append(
            Check(
                COURT,
                "11",
                f"保留的人民法庭案件来源充足（年收案≥{tp.min_load:g}）/ every kept court has at least "
                f"{tp.min_load:g} cases a year, unless too remote to merge",
                tp.min_load,
                round(float(kept["caseload"].min()), 3) if len(kept) else None,
                not unexplained,
                exempt + unexplained,
            )
        )
    if tp.adjacent_only:
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
        checks.append(
            Check(
                COURT,
                "11",
                "管辖区域相邻的人民法庭方可合并 / a court merges only into a court whose jurisdiction touches its own",
                len(closed),
                len(closed) - len({w["id"] for w in wrong}),
                not wrong,
                wrong,
            )
        )
    if len(kept):
        checks.append(
            Check(
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
        )
    return checks


def closed_becomes_zh(t: str) -> str:
    """Return what a closed facility of the type becomes, in Chinese."""
    return CLOSED_BECOMES_ZH[CLOSED_BECOMES[t]]
