"""A reason for every facility decision: a stable English code and a Chinese text with numbers.

The codes are documented in ``docs/outputs.md``; the texts are what a planner reads (plan.json,
facilities.csv, the workbook, the map tooltip). Like the checks, the reasons are derived from the
decisions and the townships' numbers, not read back from the model.

Codes
-----
kept: ``pinned_open``, ``screen_exception`` (below the clause-4 / clause-7 screen, kept because
no alternative exists), ``central_station`` (a 中心派出所 serving several townships),
``township_station`` (a station kept as its township's own, 建制对应), ``office_kept``,
``court_kept`` (caseload at the floor), ``court_below_floor`` (kept with its own reason).
closed: ``pinned_closed``, ``same_township`` (another unit of the township is kept),
``below_threshold`` (clause 4), ``low_density`` (clause 7), ``reduction`` (closed to reach the
cut), ``court_merged`` (merged into a named adjacent court), ``merged_basic_court`` (merged
into the county's basic court).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from optimizer.planning.decode import TypePlan
from optimizer.schema import COURT, JUDICIAL, POLICE

__all__ = ["REASON_CODES", "facility_reasons"]

#: Every reason code, kept ones first.
REASON_CODES = (
    "pinned_open",
    "screen_exception",
    "central_station",
    "township_station",
    "office_kept",
    "court_kept",
    "court_below_floor",
    "pinned_closed",
    "same_township",
    "below_threshold",
    "low_density",
    "reduction",
    "court_merged",
    "merged_basic_court",
)


def _wan(x: float) -> str:
    """Return a population in 万 with two decimals."""
    return f"{x / 1e4:.2f}万"


def _f(x: Any) -> float:
    """Return a table cell as a float."""
    return float(x)


def facility_reasons(tw: pd.DataFrame, f: pd.DataFrame, tp: TypePlan, policy: Any) -> pd.DataFrame:
    """Return ``reason_code`` and ``reason`` per facility of one type, in the order of ``f``.

    Parameters
    ----------
    tw
        Townships with ``code``, ``name``, ``population``, ``incidents``, ``tibetan_area``,
        ``served_by__<type>`` and ``distance_km__<type>``; in the order of ``tp.assignment``.
    f
        The type's facilities with ``id``, ``name``, ``township_code``, ``decision``,
        ``pinned``, ``exception``, ``serves``, ``central`` (courts also ``caseload``,
        ``caseload_before``, ``merged_into``, ``min_cases_exempt``).
    tp
        The type plan (screen, reduction, pin reasons, caseload floor).
    policy
        The type's policy (``min_population``, ``min_incidents`` for police).

    Returns
    -------
    pandas.DataFrame
        Columns ``reason_code`` and ``reason``, indexed like ``f``.
    """
    t = tp.type
    towns = tw.set_index("code")
    screened = dict(zip(tw["code"], tp.assignment["screened"].to_numpy(dtype=bool), strict=True))
    names = dict(zip(f["id"], f["name"], strict=True))
    loads = {
        i: (_f(f.at[k, "caseload_before"]), _f(f.at[k, "caseload"]))
        for k, i in zip(f.index, f["id"], strict=True)
        if "caseload" in f
    }
    kept_in_town: dict[str, str] = {
        str(k): str(v)
        for k, v in f[f["decision"] == "keep"].groupby("township_code")["id"].first().items()
    }
    # plain dicts, not a pandas lookup per facility: the province's 10,000 units in a second less
    rows = towns.to_dict("index")
    town_pop = dict(zip(towns.index, towns["population"].to_numpy(dtype=float), strict=True))
    codes, texts = [], []
    for rec in f.to_dict("records"):
        r = {str(k): v for k, v in rec.items()}
        c = r["township_code"]
        ctx = {"town": rows[c], "names": names, "policy": policy, "tw": towns, "loads": loads}
        ctx |= {"pop": town_pop}
        if r["decision"] == "keep":
            code, text = _kept(r, t, tp, ctx, bool(screened.get(c, False)))
        else:
            code, text = _closed(r, t, tp, ctx, bool(screened.get(c, False)), kept_in_town)
        codes.append(code)
        texts.append(text)
    return pd.DataFrame({"reason_code": codes, "reason": texts}, index=f.index)


def policy_of(ctx: dict[str, Any]) -> Any:
    """Return the type's policy from a reason context."""
    return ctx["policy"]


def _served_text(r: dict[str, Any], ctx: dict[str, Any]) -> str:
    """Name the townships a kept unit serves, with their population."""
    serves = list(r["serves"])
    pops = ctx["pop"]
    known = [c for c in serves if c in pops]
    pop = float(np.sum(np.array([pops[c] for c in known], dtype=float))) if known else 0.0
    shown = "、".join(str(ctx["tw"].at[c, "name"]) for c in known[:6]) + (
        "等" if len(known) > 6 else ""
    )
    return f"管辖{len(serves)}个乡镇（{shown}；人口合计{_wan(pop)}）"


def _kept(
    r: dict[str, Any], t: str, tp: TypePlan, ctx: dict[str, Any], screened: bool
) -> tuple[str, str]:
    """Return the code and text of a kept unit."""
    town = ctx["town"]
    served = _served_text(r, ctx)
    if r["pinned"] == "open":
        why = tp.pin_reasons.get(str(r["id"]), "")
        return "pinned_open", f"规划人员指定保留{('：' + why) if why else ''}；{served}"
    if screened and r.get("exception"):
        nums = f"人口{_wan(float(town['population']))}、警情{float(town['incidents']):.0f}起"
        return "screen_exception", f"{nums}，{r['exception']}；{served}"
    if t == COURT:
        load, floor = float(r.get("caseload") or 0.0), tp.min_load
        if floor is not None and load < floor - 1e-9:
            why = str(r.get("min_cases_exempt") or "无可接受的理由（见规则检查）")
            return (
                "court_below_floor",
                f"年收案{load:,.0f}件，低于{floor:g}件，保留：{why}；{served}",
            )
        at = f"（不低于{floor:g}件）" if floor is not None else ""
        return "court_kept", f"年收案{load:,.0f}件{at}；{served}"
    if t == JUDICIAL:
        return "office_kept", f"保留：{served}"
    nums = (
        f"{town['name']}人口{_wan(float(town['population']))}、警情{float(town['incidents']):.0f}起"
    )
    tib = "（涉藏地区，不适用撤并门槛）" if bool(town.get("tibetan_area", False)) else ""
    planner = getattr(policy_of(ctx), "exempt_townships", {}).get(str(r["township_code"]))
    if planner:
        tib += f"（规划人员豁免撤并门槛：{planner}）"
    if r.get("central"):
        return "central_station", f"中心派出所：{nums}{tib}；{served}"
    return "township_station", f"建制对应：{nums}{tib}，保留本乡镇派出所；{served}"


def _closed(
    r: dict[str, Any],
    t: str,
    tp: TypePlan,
    ctx: dict[str, Any],
    screened: bool,
    kept_in_town: dict[str, str],
) -> tuple[str, str]:
    """Return the code and text of a closed unit."""
    town, names, policy = ctx["town"], ctx["names"], ctx["policy"]
    by = town.get(f"served_by__{t}")
    dist = town.get(f"distance_km__{t}")
    was = town.get(f"distance_before_km__{t}")
    was_text = f"（原{float(was):.1f}公里）" if was is not None and pd.notna(was) else ""
    after = (
        f"本乡镇改由{names.get(by, by)}（{by}）管辖，{float(dist):.1f}公里{was_text}"
        if isinstance(by, str) and pd.notna(dist)
        else "本乡镇由县级基层法院直接管辖"
    )
    becomes = {POLICE: "改设警务室", JUDICIAL: "设司法服务点", COURT: "并入"}[t]
    if r["pinned"] == "closed":
        why = tp.pin_reasons.get(str(r["id"]), "")
        return "pinned_closed", f"规划人员指定撤并{('：' + why) if why else ''}；{becomes}，{after}"
    if t == COURT:
        return _court_closed(r, tp, ctx, after)
    other = kept_in_town.get(r["township_code"])
    if other is not None:
        return "same_township", (
            f"本乡镇保留{names.get(other, other)}（{other}），每个乡镇至多设一个；{becomes}"
        )
    pop, inc = float(town["population"]), float(town["incidents"])
    if screened and t == POLICE:
        return "below_threshold", (
            f"人口{_wan(pop)}<{_wan(policy.min_population)}、警情{inc:.0f}起<"
            f"{policy.min_incidents:g}起，原则上不设派出所；{becomes}，{after}"
        )
    if screened and t == JUDICIAL:
        return (
            "low_density",
            f"人口稀少（{tp.screen_rule}），集中办公、分散服务；{becomes}，{after}",
        )
    cut = f"{tp.reduction:.0%}" if tp.reduction is not None else ""
    nums = f"人口{_wan(pop)}、警情{inc:.0f}起" if t == POLICE else f"人口{_wan(pop)}"
    if t == POLICE:
        tib = bool(town.get("tibetan_area", False))
        nums += (
            "；涉藏地区乡镇不适用撤并门槛，原则上应按建制保留，列为第4条例外"
            if tib
            else "；不低于撤并门槛，原则上应按建制保留，列为第4条例外"
        )
    return "reduction", (
        f"为达到数量减少{cut}的要求撤并（{nums}）；{becomes}，{after}；"
        f"保留它的代价可用 optimizer explain --facility {r['id']} 计算"
    )


def _court_closed(
    r: dict[str, Any], tp: TypePlan, ctx: dict[str, Any], after: str
) -> tuple[str, str]:
    """Return the code and text of a closed court: merged into an adjacent or the basic court."""
    names, loads = ctx["names"], ctx["loads"]
    into = str(r.get("merged_into") or "")
    before = float(r.get("caseload_before") or 0.0)
    if not into:
        km = getattr(ctx["policy"], "seat_merge_km", None)
        near = f"，位于县城{km:g}公里范围内" if km is not None else ""
        return "merged_basic_court", f"年收案{before:,.0f}件{near}，并入县级基层法院；{after}"
    floor = f"（低于{tp.min_load:g}件）" if tp.min_load is not None and before < tp.min_load else ""
    return "court_merged", (
        f"年收案{before:,.0f}件{floor}，并入管辖区域相邻的{names.get(into, into)}（{into}，原年收案"
        f"{loads.get(into, (0.0, 0.0))[0]:,.0f}件，合并后{loads.get(into, (0.0, 0.0))[1]:,.0f}件）；{after}"
    )
