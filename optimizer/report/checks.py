"""Rule checks of a plan against the work plan's clauses, from the decisions alone.

Nothing here reads the model: each check recomputes its numbers from which facilities are kept
and which township each serves, so a check can catch a model that is wrong.

Every check decides one of three outcomes (:data:`OUTCOMES`) from its numbers:

- ``met``: no unit breaks the rule;
- ``exceptions``: the clause says 原则上 (in principle) and every unit that breaks it is listed
  in ``exceptions`` with its reason, its numbers and who allowed it (``by``: ``model`` when no
  alternative exists under the other rules, ``planner`` for the planner's override);
- ``not_met``: a unit breaks the rule and no admissible reason covers it (listed in
  ``violations``), or the clause admits no exception.

Facts that are not breaches (exclaves, island links, counties without a court) go in ``notes``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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

__all__ = ["ALLOWED_BY", "OUTCOMES", "Check", "decide", "make_check", "type_checks"]

#: The three outcomes of a rule check, in the order summaries list them.
OUTCOMES = ("met", "exceptions", "not_met")
#: Who may allow an exception to a 原则上 rule.
ALLOWED_BY = ("model", "planner")

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
    status
        One of :data:`OUTCOMES`, decided by the check from its numbers (:func:`decide`).
    exceptions
        Each admissible breach of a 原则上 rule: ``id``, ``reason`` (Chinese, with the
        numbers), ``by`` (``model`` or ``planner``) and the numbers themselves.
    violations
        Each breach no admissible reason covers: ``id``, ``reason`` and the numbers.
    notes
        Facts that are not breaches.
    principle
        True when the clause says 原则上, so that listed exceptions may stand.
    """

    facility_type: str
    clause: str
    rule: str
    target: Any
    actual: Any
    status: str
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    violations: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    principle: bool = False

    def __post_init__(self) -> None:
        if self.status not in OUTCOMES:
            raise ValueError(f"status {self.status!r} is not one of {OUTCOMES}")

    @property
    def passed(self) -> bool:
        """True unless the status is ``not_met``."""
        return self.status != "not_met"

    def to_dict(self) -> dict[str, Any]:
        """Return the check as plain data for ``plan.json``."""
        return {
            "facility_type": self.facility_type,
            "clause": self.clause,
            "rule": self.rule,
            "principle": self.principle,
            "target": self.target,
            "actual": self.actual,
            "status": self.status,
            "passed": self.passed,
            "exceptions": list(self.exceptions),
            "violations": list(self.violations),
            "notes": list(self.notes),
        }


def decide(
    violations: Iterable[Mapping[str, Any]],
    exceptions: Iterable[Mapping[str, Any]],
    *,
    principle: bool,
) -> str:
    """Return the outcome of a check from its breaches.

    Parameters
    ----------
    violations
        Breaches without an admissible reason.
    exceptions
        Breaches listed with a reason and who allowed them.
    principle
        Whether the clause says 原则上 (exceptions may stand).

    Returns
    -------
    str
        ``not_met`` when any violation remains, or any exception where the rule admits none,
        or an exception lacks its reason or a valid ``by``; ``exceptions`` when every breach is
        an admissible exception; ``met`` when nothing breaks the rule.
    """
    exc = list(exceptions)
    if list(violations):
        return "not_met"
    if not exc:
        return "met"
    admissible = principle and all(e.get("reason") and e.get("by") in ALLOWED_BY for e in exc)
    return "exceptions" if admissible else "not_met"


def make_check(
    facility_type: str,
    clause: str,
    rule: str,
    target: Any,
    actual: Any,
    *,
    violations: Iterable[dict[str, Any]] = (),
    exceptions: Iterable[dict[str, Any]] = (),
    notes: Iterable[dict[str, Any]] = (),
    principle: bool = False,
) -> Check:
    """Return a :class:`Check` whose status :func:`decide` takes from its breaches.

    An exception without a reason or a valid ``by``, or any exception of a rule that admits
    none, is moved to the violations, so the lists say exactly why the status is what it is.
    """
    v, e = list(violations), []
    for x in exceptions:
        if principle and x.get("reason") and x.get("by") in ALLOWED_BY:
            e.append(x)
        else:
            v.append(x)
    return Check(
        facility_type,
        clause,
        rule,
        target,
        actual,
        decide(v, e, principle=principle),
        e,
        v,
        list(notes),
        principle,
    )


def _num(x: Any) -> float:
    """Return a table cell as a float."""
    return float(x)


def type_checks(
    tw: pd.DataFrame, f: pd.DataFrame, tp: TypePlan, graph: nx.Graph | None = None
) -> list[Check]:
    """Check one facility type's plan against its clauses.

    Parameters
    ----------
    tw
        Townships with ``served_by__<type>`` and ``distance_km__<type>``.
    f
        The type's facilities with ``decision``, ``becomes``, ``exception``, ``exception_by``,
        ``pinned`` and ``serves``.
    tp
        The type plan (for the policy numbers: scope, reduction, limits, distance limit).
    graph
        Township adjacency (needed when the type asks for connected jurisdictions).

    Returns
    -------
    list of Check
        In this order: served once, one per township, count cut, stations follow townships
        (police), screen, distance, travel time, pins, contiguity, then the court clauses.
    """
    t = tp.type
    kept = f[f["decision"] == "keep"]
    checks = [_served_once_check(tw, f, kept, t), _one_per_township_check(kept, t)]
    optional = [
        _count_cut_check(f, tp),
        township_station_check(tw, f, tp) if t == POLICE else None,
        _screen_check(tw, kept, tp),
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
        ``met`` or ``not_met`` (a hard rule); townships of counties without a court, or whose
        court merged into the basic court, are notes.
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
    basic_col = f"basic_court__{t}"
    to_basic = (
        tw[basic_col].fillna(False).astype(bool)
        if basic_col in tw
        else pd.Series(False, index=tw.index)
    )
    counties_with = set(f["county_code"])
    basic = tw.loc[~has & (~tw["county_code"].isin(counties_with) | to_basic), "code"].tolist()
    bad = tw.loc[~ok & ~tw["code"].isin(basic), "code"].tolist()
    label = FACILITY_LABELS_ZH[t]
    return make_check(
        t,
        _CLAUSES[t][0],
        f"每个乡镇（街道）由本县一个保留的{label}管辖 / every township served by one kept {t} "
        "of its county",
        len(tw) - len(basic),
        int(ok.sum()),
        violations=[{"id": c, "reason": f"未由本县保留的{label}管辖"} for c in bad],
        notes=[
            {"id": c, "reason": "由县级基层法院直接管辖（无人民法庭或并入基层法院）"} for c in basic
        ],
    )


def _one_per_township_check(kept: pd.DataFrame, t: str) -> Check:
    """Check that no township holds more than one kept facility (a hard rule).

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
    return make_check(
        t,
        _CLAUSES[t][0],
        f"每个乡镇至多设一个{FACILITY_LABELS_ZH[t]} / at most one kept {t} per township",
        "<= 1",
        worst,
        violations=[
            {"id": str(c), "reason": f"保留{n}个", "kept": int(n)}
            for c, n in per_town[per_town > 1].items()
        ],
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
        None when the type asks for no reduction. The plan states the cut for the whole
        province (确保, a hard rule there). At a finer scope (the planner's distribution of the
        cut) a scope short of it is an exception when the other rules need at least the units it
        keeps (``model``, the proven minimum cover), else a violation. The actual value is the
        smallest reduction of any scope.
    """
    if tp.reduction is None:
        return None
    t = tp.type
    label = FACILITY_LABELS_ZH[t]
    groups = f.assign(g=f["county_code"].map(lambda c: scope_key(str(c), tp.scope)))
    reductions = {}
    short = []
    for key, grp in groups.groupby("g"):
        before, after = len(grp), int((grp["decision"] == "keep").sum())
        red = 1.0 - after / before if before else 0.0
        reductions[key] = red
        if red + 1e-9 < tp.reduction:
            lim = tp.limits.get(str(key), {})
            why, need = lim.get("reason", ""), lim.get("need")
            entry = {
                "id": str(key),
                "reason": f"现有{before}个，保留{after}个（减少{red:.1%}）"
                + (f"：{why}" if why else ""),
                "before": before,
                "kept": after,
                "reduction": round(red, 6),
            }
            if why and need is not None and after <= need:
                entry = {**entry, "need": int(need), "by": "model"}
                entry["reason"] = (
                    f"现有{before}个，保留{after}个（减少{red:.1%}）：按本范围的距离、门槛等规则，"
                    f"管辖全部乡镇至少需要{int(need)}个，无其他可行方案"
                )
            short.append(entry)
    return make_check(
        t,
        _CLAUSES[t][0],
        f"{label}数量减少{tp.reduction:.0%}以上（{_SCOPE_ZH[tp.scope]}）/ at least "
        f"{tp.reduction:.0%} fewer at scope {tp.scope}",
        round(tp.reduction, 6),
        round(min(reductions.values()), 6),
        exceptions=short,
        principle=tp.scope != "province",
    )


def _township_numbers(
    towns: pd.DataFrame, c: str, stations: int, screened: bool
) -> tuple[str, dict[str, Any]]:
    """Return a township's reason head (why it should keep a station) and its numbers."""
    pop, inc = _num(towns.at[c, "population"]), _num(towns.at[c, "incidents"])
    tibetan = bool(towns.at[c, "tibetan_area"]) if "tibetan_area" in towns else False
    head = (
        f"涉藏地区乡镇（人口{pop / 1e4:.2f}万、警情{inc:.0f}起），不适用撤并门槛"
        if tibetan and not screened
        else f"人口{pop / 1e4:.2f}万、警情{inc:.0f}起，不低于撤并门槛"
    )
    nums = {
        "id": str(c),
        "name": str(towns.at[c, "name"]),
        "population": pop,
        "incidents": inc,
        "stations_today": stations,
    }
    return head, nums


def township_station_check(tw: pd.DataFrame, f: pd.DataFrame, tp: TypePlan) -> Check:
    """Check clause 4's first rule: stations follow townships (设置原则上与乡镇建制相对应).

    A township outside the screen (at or above the threshold, or 涉藏 and exempt) that has a
    station today keeps one of its own. Each such township without one is an exception when
    the planner closed all its stations or assigned the township to another township's
    station (``planner``), or when its scope cannot keep one per
    such township within the cut (``model``: the townships that must keep one, plus the
    screen exceptions kept, exceed the scope's limit, or the model found no feasible plan with
    one per township in the township's county: ``own_dropped_counties`` in the scope's limits);
    otherwise a violation.

    Parameters
    ----------
    tw
        Townships with ``code``, ``name``, ``county_code``, ``population``, ``incidents``;
        in the order of ``tp.assignment`` (``screened``).
    f
        The stations with ``township_code``, ``decision`` and ``pinned``.
    tp
        The police type plan: ``scope``, ``limits``, ``pin_reasons``.

    Returns
    -------
    Check
        Target the townships that should keep one, actual those that do.
    """
    t = tp.type
    screened = dict(zip(tw["code"], tp.assignment["screened"].to_numpy(dtype=bool), strict=True))
    towns = tw.set_index("code")
    by_town = f.groupby("township_code")
    own = [c for c in by_town.groups if not screened.get(c, False)]
    kept_town = set(f.loc[f["decision"] == "keep", "township_code"])
    scope_of = {c: scope_key(str(towns.at[c, "county_code"]), tp.scope) for c in own}
    n_own = pd.Series(scope_of).value_counts().to_dict() if own else {}
    kept_exc = (
        f[(f["decision"] == "keep") & f["township_code"].map(lambda c: screened.get(c, False))]
        .assign(g=lambda d: d["county_code"].map(lambda c: scope_key(str(c), tp.scope)))
        .groupby("g")
        .size()
        .to_dict()
    )
    exceptions: list[dict[str, Any]] = []
    violations: list[dict[str, Any]] = []
    for c in sorted(own, key=str):
        if c in kept_town:
            continue
        g = by_town.get_group(c)
        key = scope_of[c]
        limit = tp.limits.get(key, {}).get("limit")
        head, nums = _township_numbers(towns, str(c), len(g), screened.get(c, False))
        fid = tp.assigned.get(str(c))
        if fid is not None and fid not in set(g["id"].astype(str)):
            exceptions.append(
                {
                    **nums,
                    "by": "planner",
                    "reason": f"规划人员指定由{fid}服务：{tp.pin_reasons.get(fid, '')}",
                }
            )
            continue
        if (g["pinned"] == "closed").all():
            why = "；".join(
                tp.pin_reasons.get(str(i), "") for i in g["id"] if tp.pin_reasons.get(str(i))
            )
            exceptions.append(
                {
                    **nums,
                    "by": "planner",
                    "reason": f"规划人员指定撤并{'、'.join(g['id'])}" + (f"：{why}" if why else ""),
                }
            )
            continue
        need = n_own.get(key, 0) + kept_exc.get(key, 0)
        county = str(towns.at[c, "county_code"])
        if county in tp.limits.get(key, {}).get("own_dropped_counties", ()):
            exceptions.append(
                {
                    **nums,
                    "by": "model",
                    "scope": key,
                    "county": county,
                    "reason": f"{head}，但本县（{county}）每乡一所与辖区连片、距离限制一并无法满足"
                    "（模型在本县无可行方案），由模型选择保留的派出所",
                }
            )
        elif limit is not None and need > limit:
            exceptions.append(
                {
                    **nums,
                    "by": "model",
                    "scope": key,
                    "limit": int(limit),
                    "townships_to_keep": int(need),
                    "reason": f"{head}，但本范围（{key}）"
                    f"减少比例下至多保留{int(limit)}个派出所，而应保留的乡镇及必须保留的例外共{int(need)}个，"
                    "无法每个乡镇各设一所",
                }
            )
        else:
            violations.append({**nums, "reason": f"{head}，本乡镇未保留派出所且无可接受的理由"})
    return make_check(
        t,
        "4",
        "公安派出所设置原则上与乡镇（街道）建制相对应 / a township at or above the threshold "
        "keeps a station of its own (in principle)",
        len(own),
        sum(c in kept_town for c in own),
        violations=violations,
        exceptions=exceptions,
        principle=True,
    )


def _screen_check(tw: pd.DataFrame, kept: pd.DataFrame, tp: TypePlan) -> Check | None:
    """Check that no facility is kept in a screened township without an admissible reason.

    Parameters
    ----------
    tw
        Townships, in the order of ``tp.assignment``.
    kept
        The kept facilities with ``township_code``, ``exception`` and ``exception_by``.
    tp
        The type plan: ``screen_rule`` and ``assignment["screened"]``.

    Returns
    -------
    Check or None
        None when the type has no screen. The clause says 原则上: a kept facility in a
        screened township is an exception when the model (no eligible facility in reach) or
        the planner (pinned open) allowed it, else a violation.
    """
    if not tp.screen_rule:
        return None
    t = tp.type
    screened = set(tw.loc[tp.assignment["screened"].to_numpy(dtype=bool), "code"])
    towns = tw.set_index("code")
    breaking = kept[kept["township_code"].isin(screened)]
    rows = []
    for r in breaking.itertuples():
        c = r.township_code
        rows.append(
            {
                "id": str(r.id),
                "township_code": str(c),
                "population": _num(towns.at[c, "population"]),
                "incidents": _num(towns.at[c, "incidents"]),
                "reason": str(r.exception or "保留但无理由"),
                "by": str(getattr(r, "exception_by", "") or ""),
            }
        )
    rule = {
        POLICE: "涉藏地区外实有人口<2万且年警情<50的乡镇原则上不设派出所",
        JUDICIAL: "农村空心化严重、人口稀少的地方集中办公、分散服务",
    }.get(t, "")
    return make_check(
        t,
        _CLAUSES[t][2],
        f"{rule} / no {t} of its own in a township with {tp.screen_rule}",
        0,
        len(breaking),
        exceptions=rows,
        principle=True,
    )


def _limit_check(
    tw: pd.DataFrame, tp: TypePlan, column: str, limit: float | None, unit: str
) -> Check | None:
    """Check one travel limit (km or minutes) per township (a hard rule set by the planner).

    Parameters
    ----------
    tw
        Townships with ``<column>__<type>``.
    tp
        The type plan.
    column
        ``distance_km`` or ``minutes``.
    limit
        The limit, or None (no check).
    unit
        ``公里`` or ``分钟``.

    Returns
    -------
    Check or None
        The farthest value, with each township beyond the limit.
    """
    if limit is None:
        return None
    t = tp.type
    d = tw[f"{column}__{t}"]
    far = tw[d > limit + 1e-9]
    en = "travel within the limit" if column == "distance_km" else "travel time within the limit"
    return make_check(
        t,
        _CLAUSES[t][0],
        f"乡镇驻地到{FACILITY_LABELS_ZH[t]}不超过{limit:g}{unit} / {en}",
        limit,
        round(float(np.nanmax(d.to_numpy(dtype=float))), 3),
        violations=[
            {
                "id": str(c),
                "reason": f"{v:.1f}{unit}，超过{limit:g}{unit}",
                column: round(float(v), 3),
            }
            for c, v in zip(far["code"], far[f"{column}__{t}"], strict=True)
        ],
    )


def _distance_check(tw: pd.DataFrame, tp: TypePlan) -> Check | None:
    """Check the distance from each township seat to its facility against the limit."""
    return _limit_check(tw, tp, "distance_km", tp.max_distance_km, "公里")


def _travel_time_check(tw: pd.DataFrame, tp: TypePlan) -> Check | None:
    """Check the travel time from each township seat to its facility against the limit."""
    return _limit_check(tw, tp, "minutes", tp.max_minutes, "分钟")


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
    return make_check(
        tp.type,
        "III",
        f"规划人员指定保留或撤并的{FACILITY_LABELS_ZH[tp.type]} / pins set by the planner",
        n_pins,
        n_pins - len(broken),
        violations=[{"id": i, "reason": "未按指定保留或撤并"} for i in broken],
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
        Broken jurisdictions are violations; exclaves and island links are notes.
    """
    label = FACILITY_LABELS_ZH[t]
    col = f"served_by__{t}"
    broken = []
    islands = []
    pieces: dict[str, int] = {}
    if "geometry" in tw:
        n_parts = tw.geometry.apply(lambda g: len(getattr(g, "geoms", [g])))
        pieces = {str(c): int(n) for c, n in zip(tw["code"], n_parts, strict=True) if n > 1}
    area_of = tw.groupby(col)["code"].apply(list).to_dict()
    for r in kept.itertuples():
        area = area_of.get(r.id, [])
        split = [c for c in area if c in pieces]
        if split:
            islands.append(
                {
                    "id": str(r.id),
                    "reason": "辖区图斑分为多块，因乡镇"
                    + "、".join(f"{c}（{pieces[c]}块）" for c in split)
                    + "在输入图层中本身为飞地",
                }
            )
        sub = graph.subgraph(area)
        if r.township_code not in area:
            broken.append({"id": str(r.id), "reason": "辖区不含驻地乡镇"})
        elif area and not nx.is_connected(sub):
            parts = nx.number_connected_components(sub)
            broken.append({"id": str(r.id), "reason": f"辖区分为{parts}块", "pieces": parts})
        linked = [(a, b) for a, b, d in sub.edges(data=True) if d.get("kind") == "island"]
        if linked:
            islands.append(
                {
                    "id": str(r.id),
                    "reason": "经岛屿连接（无共同边界）连通："
                    + "、".join(f"{a}-{b}" for a, b in linked),
                }
            )
    return make_check(
        t,
        "4" if t == POLICE else "11" if t == COURT else "7",
        f"{label}辖区连片（在乡镇邻接图中连通，含驻地乡镇）/ every jurisdiction is one connected piece "
        "holding its facility's township",
        len(kept),
        len(kept) - len(broken),
        violations=broken,
        notes=islands,
    )


def _court_checks(tw: pd.DataFrame, f: pd.DataFrame, tp: TypePlan) -> list[Check]:
    """Check clause 11: caseload per court, merging only into adjacent courts.

    Parameters
    ----------
    tw
        Townships with ``before_by__court`` and ``served_by__court``.
    f
        The courts with ``decision``, ``caseload`` and ``min_cases_exempt``.
    tp
        The court type plan: ``min_load``, ``adjacent_only`` and ``court_neighbours``.

    Returns
    -------
    list of Check
        Caseload (when a minimum is set), adjacent merging (when asked).
    """
    checks = [caseload_check(tw, f, tp), _adjacent_merge_check(tw, f, tp)]
    return [c for c in checks if c is not None]


def caseload_check(tw: pd.DataFrame, f: pd.DataFrame, tp: TypePlan) -> Check | None:
    """Check that every kept court reaches the caseload floor, or is kept with its own reason.

    A court below the floor is an exception only for a reason of its own: the planner pinned
    it open (``planner``); no adjacent court is kept to merge into, merging would push travel
    beyond the limit, or it is the only court its county keeps (``model``). Anything else,
    such as a floor waived for a whole county, is a violation.

    Parameters
    ----------
    tw
        Townships with ``county_code`` and ``served_by__court``.
    f
        The courts with ``id``, ``decision``, ``caseload``, ``min_cases_exempt`` and
        ``exempt_by``.
    tp
        The court type plan: ``min_load``.

    Returns
    -------
    Check or None
        None when no minimum is set.
    """
    if tp.min_load is None:
        return None
    kept = f[f["decision"] == "keep"]
    low = kept[kept["caseload"] < tp.min_load - 1e-9]
    served_counties = tw.loc[tw[f"served_by__{COURT}"].notna(), "county_code"]
    kept_per_county = kept.groupby("county_code").size()
    exceptions, violations = [], []
    for r in low.to_dict("records"):
        nums = {
            "id": str(r["id"]),
            "caseload": round(float(r["caseload"]), 3),
            "floor": tp.min_load,
        }
        why, by = str(r.get("min_cases_exempt") or ""), str(r.get("exempt_by") or "")
        head = f"年收案{r['caseload']:,.0f}件，低于{tp.min_load:g}件"
        if kept_per_county.get(r["county_code"], 0) == 1 and r["county_code"] in set(
            served_counties
        ):
            exceptions.append(
                {
                    **nums,
                    "by": "model",
                    "reason": f"{head}；本县唯一保留的人民法庭，无可并入的本县法庭",
                }
            )
        elif by in ("model", "planner") and why:
            exceptions.append({**nums, "by": by, "reason": f"{head}；{why}"})
        else:
            violations.append(
                {**nums, "reason": f"{head}" + (f"；{why}" if why else "，无可接受的保留理由")}
            )
    return make_check(
        COURT,
        "11",
        f"保留的人民法庭案件来源充足（年收案≥{tp.min_load:g}）/ every kept court has at least "
        f"{tp.min_load:g} cases a year, or its own reason to stay",
        tp.min_load,
        round(float(kept["caseload"].min()), 3) if len(kept) else None,
        violations=violations,
        exceptions=exceptions,
        principle=True,
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
                wrong.append({"id": str(r.id), "reason": f"并入{k}，两者辖区不相邻", "into": k})
    return make_check(
        COURT,
        "11",
        "管辖区域相邻的人民法庭方可合并 / a court merges only into a court whose jurisdiction touches its own",
        len(closed),
        len(closed) - len({w["id"] for w in wrong}),
        violations=wrong,
    )


def report_items(f: pd.DataFrame, t: str) -> list[str]:
    """Return the facts of a type's plan that hold by construction, as report lines (Chinese).

    Parameters
    ----------
    f
        The type's facilities with ``decision`` and ``becomes`` (courts also with
        ``area_km2``, ``population_served``, ``caseload``, ``max_distance_km``).
    t
        The facility type.

    Returns
    -------
    list of str
        What the closed units become (clauses 5, 7, 11) and, for courts, the ranges of the
        setting criteria of clause 10.
    """
    closed = f[f["decision"] == "close"]
    label = FACILITY_LABELS_ZH[t]
    items = [
        f"{label}：撤并{len(closed)}个，均设为{CLOSED_BECOMES_ZH[CLOSED_BECOMES[t]]}"
        + ("（原办公用房变更为警务室办公设施；用房数据未提供，未核查）" if t == POLICE else "")
    ]
    kept = f[f["decision"] == "keep"]
    if t == COURT and len(kept):
        items.append(
            "人民法庭设置标准（第10条）：保留法庭辖区面积"
            f"{kept['area_km2'].min():,.0f}-{kept['area_km2'].max():,.0f}平方公里，服务人口"
            f"{kept['population_served'].min():,.0f}-{kept['population_served'].max():,.0f}人，年收案"
            f"{kept['caseload'].min():,.0f}-{kept['caseload'].max():,.0f}件，最远乡镇"
            f"{kept['max_distance_km'].max():,.1f}公里（逐庭见法庭表）"
        )
    return items


def closed_becomes_zh(t: str) -> str:
    """Return what a closed facility of the type becomes, in Chinese."""
    return CLOSED_BECOMES_ZH[CLOSED_BECOMES[t]]
