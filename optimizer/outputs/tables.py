"""Office exports of a plan: CSV, an Excel workbook with Chinese headers, GeoPackage layers.

CSV files carry a UTF-8 byte-order mark so that Excel shows Chinese intact; the workbook has a
summary sheet a leader can read; GIS users get one GeoPackage layer per facility type.

Every writer produces the same bytes for the same plan (no timestamps, sorted rows).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pyogrio

from optimizer.outputs import office
from optimizer.outputs.grassroots import append_sheet, grassroots_sheets  # grassroots (14)
from optimizer.outputs.jurisdictions import jurisdictions
from optimizer.report.plan import Plan
from optimizer.schema import CLOSED_BECOMES_ZH, FACILITY_LABELS_ZH, POLICE, SOLVER_STATUS_ZH

__all__ = ["FIXED_TIME", "write_jurisdictions", "write_tables"]

#: A fixed timestamp for file metadata, so that the same plan gives the same bytes.
FIXED_TIME = dt.datetime(2020, 1, 1)

_DECISION_ZH = {"keep": "保留", "close": "撤并"}
_STATUS_ZH = {"met": "符合", "exceptions": "有例外（逐项列明）", "not_met": "未达到"}
_BY_ZH = {"model": "无其他可行方案", "planner": "规划人员决定"}
_PINNED_ZH = {"open": "指定保留", "closed": "指定撤并", "": ""}

_FACILITY_HEADERS = {
    "id": "编号",
    "type": "类型",
    "type_zh": "机构",
    "name": "名称",
    "township_code": "所在乡镇代码",
    "county_code": "区县代码",
    "decision_zh": "方案",
    "becomes_zh": "撤并后设为",
    "central": "中心派出所",
    "reason_code": "理由代码",
    "reason": "理由",
    "exception_by": "例外由谁认定",
    "exempt_by": "案件量豁免由谁认定",
    "min_cases": "案件量下限",
    "n_served": "管辖乡镇数",
    "serves": "管辖乡镇代码",
    "staff": "现有人员",
    "exception": "例外说明",
    "pinned": "人工指定",
    "lon": "经度",
    "lat": "纬度",
    "caseload": "年收案（方案）",
    "caseload_before": "年收案（调整前）",
    "merged_into": "并入",
    "min_cases_exempt": "案件量下限豁免原因",
    "population_served": "服务人口",
    "area_km2": "辖区面积（平方公里）",
    "max_distance_km": "最远乡镇距离（公里）",
    "minimum_staff": "最低配备人数",
    "proposed_staff": "建议配备人数",
}

_STAFFING_HEADERS = {
    "type": "机构",
    "county_code": "区县代码",
    "current": "现有人员",
    "proposed": "建议配备",
    "minimum_needed": "最低需要",
    "transfer_down": "从县级机关下沉",
    "shortfall": "下沉后缺口",
    "recruits_needed": "需新录用（总数）",
    "recruits_to_units": "其中到基层所庭",
    "county_total": "县级总数（警力/编制）",
    "share": "方案占比",
    "share_target": "占比目标",
    "share_gap_staff": "达到占比还需",
    "staffable_units": "可配齐的机构数",
}


def _facility_table(plan: Plan) -> pd.DataFrame:
    f = plan.facilities.copy()
    f["serves"] = f["serves"].map(lambda s: ";".join(s))
    f["type_zh"] = f["type"].map(FACILITY_LABELS_ZH)
    f["decision_zh"] = f["decision"].map(_DECISION_ZH)
    f["becomes_zh"] = f["becomes"].map(lambda b: CLOSED_BECOMES_ZH.get(b, "") if b else "")
    cols = [
        "id",
        "type",
        "name",
        "township_code",
        "county_code",
        "decision",
        "becomes",
        "central",
        "n_served",
        "serves",
        "staff",
        "reason_code",
        "reason",
        "exception",
        "exception_by",
        "pinned",
        "lon",
        "lat",
    ]
    extra = [
        c
        for c in (
            "caseload",
            "caseload_before",
            "merged_into",
            "min_cases",
            "min_cases_exempt",
            "exempt_by",
            "population_served",
            "area_km2",
            "max_distance_km",
            "minimum_staff",
            "proposed_staff",
        )
        if c in f.columns
    ]
    return f[cols + extra + ["type_zh", "decision_zh", "becomes_zh"]].sort_values(["type", "id"])


def _township_table(plan: Plan) -> pd.DataFrame:
    tw = pd.DataFrame(plan.townships.drop(columns="geometry"))
    cols = [
        "code",
        "name",
        "county_code",
        "kind",
        "population",
        "incidents",
        "tibetan_area",
        "below_threshold",
    ]
    for t in plan.types:
        cols += [
            f"in_township__{t}",
            f"served_by__{t}",
            f"distance_km__{t}",
            f"before_by__{t}",
            f"distance_before_km__{t}",
        ]
    out = tw[cols].copy()
    for c in out.columns:
        if c.startswith(("distance", "minutes")):
            out[c] = out[c].round(3)
    return out.sort_values("code")


def _township_headers(types: tuple[str, ...]) -> dict[str, str]:
    """Return the Chinese header of every township column (workbook, ``csv_headers: zh``)."""
    town_headers = {
        "code": "乡镇代码",
        "name": "乡镇名称",
        "county_code": "区县代码",
        "kind": "类型",
        "population": "常住人口",
        "incidents": "年警情",
        "tibetan_area": "涉藏地区",
        "below_threshold": "低于设所标准",
    }
    for t in types:
        label = FACILITY_LABELS_ZH[t]
        town_headers[f"in_township__{t}"] = f"本乡镇{label}（保留/撤并后设为）"
        town_headers[f"served_by__{t}"] = f"{label}（方案）"
        town_headers[f"distance_km__{t}"] = f"到{label}距离（公里，方案）"
        town_headers[f"before_by__{t}"] = f"{label}（调整前）"
        town_headers[f"distance_before_km__{t}"] = f"到{label}距离（公里，调整前）"
        town_headers[f"minutes__{t}"] = f"到{label}时间（分钟，方案）"
        town_headers[f"minutes_before__{t}"] = f"到{label}时间（分钟，调整前）"
    return town_headers


def write_tables(plan: Plan, d: Path) -> list[str]:
    """Write ``facilities.csv``, ``townships.csv`` (UTF-8 with BOM) and ``plan.xlsx``.

    Parameters
    ----------
    plan
        The plan.
    d
        Target folder.

    Returns
    -------
    list of str
        File names written.
    """
    fac = _facility_table(plan)
    towns = _township_table(plan)
    fac_csv = fac.drop(columns=["type_zh", "decision_zh", "becomes_zh"])
    towns_csv = towns
    if plan.policy.outputs.csv_headers == "zh":  # the workbook's Chinese names
        fac_csv = fac_csv.rename(
            columns={**_FACILITY_HEADERS, "decision": "方案", "becomes": "撤并后设为"}
        )
        towns_csv = towns.rename(columns=_township_headers(plan.types))
    office.csv_safe(fac_csv).to_csv(
        d / "facilities.csv", index=False, encoding="utf-8-sig", lineterminator="\n"
    )
    office.csv_safe(towns_csv).to_csv(
        d / "townships.csv", index=False, encoding="utf-8-sig", lineterminator="\n"
    )
    _write_workbook(plan, fac, towns, d / "plan.xlsx")
    return ["facilities.csv", "townships.csv", "plan.xlsx"]


def _summary_rows(plan: Plan) -> list[tuple[str, Any]]:
    rows: list[tuple[str, Any]] = [
        ("方案名称", plan.policy.name),
        ("数据", "合成示例数据（非真实数据）" if plan.synthetic else "用户提供的数据"),
        ("乡镇（街道）数", len(plan.townships)),
        ("常住人口", int(plan.townships["population"].sum())),
    ]
    for t in plan.types:
        m = plan.metrics[t]
        s = plan.solver[t]
        label = FACILITY_LABELS_ZH[t]
        rows += [
            (f"{label}：现有数量", m.before.count),
            (f"{label}：方案保留数量", m.after.count),
            (f"{label}：减少比例", f"{m.reduction:.1%}"),
            (
                "派出所：中心派出所（管辖2个以上乡镇）"
                if t == POLICE
                else f"{label}：管辖2个以上乡镇的数量",
                m.central
                if t == POLICE
                else int(
                    (plan.facilities.loc[plan.facilities["type"] == t, "n_served"] >= 2).sum()
                ),
            ),
            (f"{label}：撤并后设为{m.closed_becomes_zh}", sum(m.closed_becomes.values())),
            (
                f"{label}：平均距离（公里，调整前→后）",
                f"{m.before.mean_distance_km:.1f} → {m.after.mean_distance_km:.1f}",
            ),
            (
                f"{label}：最远距离（公里，调整前→后）",
                f"{m.before.max_distance_km:.1f} → {m.after.max_distance_km:.1f}",
            ),
            (
                f"{label}：求解状态",
                SOLVER_STATUS_ZH.get(s.status, s.status),
            ),
            (f"{label}：最优性差距", f"{s.gap:.4%}"),
        ]
    if plan.metrics.colocation is not None:
        rows.append(
            (
                "保留派出所、司法所、人民法庭同在一地的乡镇数",
                plan.metrics.colocation.townships_hosting_all,
            )
        )
    if plan.metrics.staffing is not None:
        for t in plan.types:
            st = plan.metrics.staffing.by_type.get(t)
            if st:
                label = FACILITY_LABELS_ZH[t]
                rows.append(
                    (
                        f"{label}：人员缺口 / 需新招录",
                        f"{st.shortfall:.0f} / {st.recruits_needed:.0f}",
                    )
                )
    n = plan.outcome_counts()
    rows.append(
        (
            "规则检查",
            f"{n['met']} 项符合，{n['exceptions']} 项有例外（逐项列明理由），{n['not_met']} 项未达到",
        )
    )
    return rows


#: Most characters of one cell (Excel holds 32,767); a longer list ends with how many are left.
_CELL_MAX = 30_000


def _joined(items: list[str]) -> str:
    """Join list items with 「；」 within one cell; the rest are counted (all are in plan.json)."""
    out: list[str] = []
    size = 0
    for i, item in enumerate(items):
        if size + len(item) + 1 > _CELL_MAX:
            return "；".join(out) + f"；……另有 {len(items) - i} 项，全部见 plan.json"
        out.append(item)
        size += len(item) + 1
    return "；".join(out)


def _write_workbook(plan: Plan, fac: pd.DataFrame, towns: pd.DataFrame, path: Path) -> None:
    checks = pd.DataFrame(
        [
            {
                "条款": c.clause,
                "机构": FACILITY_LABELS_ZH.get(c.facility_type, c.facility_type),
                "规则": c.rule,
                "目标": str(c.target),
                "实际": str(c.actual),
                "结果": _STATUS_ZH[c.status],
                "例外数": len(c.exceptions),
                "例外及原因": _joined(
                    [
                        f"{e['id']}（{_BY_ZH.get(e.get('by', ''), '')}）: {e['reason']}"
                        for e in c.exceptions
                    ]
                ),
                "未达到项": len(c.violations),
                "未达到项及原因": _joined([f"{e['id']}: {e['reason']}" for e in c.violations]),
                "说明": _joined([f"{e['id']}: {e['reason']}" for e in c.notes]),
            }
            for c in plan.checks
        ]
    )
    town_headers = _township_headers(plan.types)
    by_county = []
    for t in plan.types:
        for r in plan.metrics[t].by_county:
            by_county.append({"机构": FACILITY_LABELS_ZH[t], **dataclasses.asdict(r)})
    county_headers = {
        "county_code": "区县代码",
        "townships": "乡镇数",
        "population": "常住人口",
        "before": "现有数量",
        "after": "方案数量",
        "reduction": "减少比例",
        "mean_distance_before_km": "平均距离（调整前）",
        "mean_distance_after_km": "平均距离（方案）",
        "max_distance_after_km": "最远距离（方案）",
        "population_per_facility_after": "每所服务人口（方案）",
    }
    with office.excel_writer(path) as xw:
        pd.DataFrame(_summary_rows(plan), columns=["项目", "数值"]).to_excel(
            xw, sheet_name="汇总", index=False
        )
        for t in plan.types:
            sub = fac[fac["type"] == t].copy()
            sub["type"] = sub["type_zh"]
            sub["decision"] = sub["decision_zh"]
            sub["becomes"] = sub["becomes_zh"]
            sub["central"] = sub["central"].map({True: "中心派出所", False: ""})
            if t != POLICE:
                sub = sub.drop(columns=["central"])
            sub["pinned"] = sub["pinned"].map(lambda v: _PINNED_ZH.get(str(v or ""), str(v)))
            for col in ("exception_by", "exempt_by"):
                if col in sub:
                    sub[col] = sub[col].map(lambda v: _BY_ZH.get(str(v or ""), ""))
            sub = sub.drop(columns=["type_zh", "decision_zh", "becomes_zh"])
            sub = sub.rename(
                columns={
                    **_FACILITY_HEADERS,
                    "decision": "方案",
                    "becomes": "撤并后设为",
                    "type": "类型",
                }
            )
            sub.to_excel(xw, sheet_name=FACILITY_LABELS_ZH[t], index=False)
        towns_zh = towns.copy()
        for col in ("tibetan_area", "below_threshold"):
            towns_zh[col] = towns_zh[col].map({True: "是", False: ""})
        for col in [c for c in towns_zh.columns if c.startswith("in_township__")]:
            towns_zh[col] = towns_zh[col].map(
                lambda v: "保留" if v == "keep" else CLOSED_BECOMES_ZH.get(v, "") if v else ""
            )
        towns_zh.rename(columns=town_headers).to_excel(xw, sheet_name="乡镇", index=False)
        pd.DataFrame(by_county).rename(columns=county_headers).to_excel(
            xw, sheet_name="区县", index=False
        )
        if plan.staffing is not None:
            st = plan.staffing.copy()
            st["type"] = st["type"].map(FACILITY_LABELS_ZH).fillna(st["type"])
            keep = [c for c in _STAFFING_HEADERS if c in st.columns]
            st[keep].rename(columns=_STAFFING_HEADERS).to_excel(
                xw, sheet_name="人员配置", index=False
            )
        checks.to_excel(xw, sheet_name="规则检查", index=False)
        if plan.grassroots is not None:  # grassroots (issue 14): 网格 … 人民调解员
            for sheet, table in grassroots_sheets(plan.grassroots).items():
                append_sheet(xw.book, sheet, table)
        wb = xw.book
        wb.properties.created = FIXED_TIME
        wb.properties.modified = FIXED_TIME
        wb.properties.creator = "optimizer"
        for ws in wb.worksheets:
            ws.freeze_panes = "A2"
            for col in ws.iter_cols(max_row=200):  # not ws.columns: every cell of the sheet
                width = max(len(str(c.value or "")) for c in col)
                ws.column_dimensions[col[0].column_letter].width = min(60, max(8, width * 1.6))


def write_jurisdictions(plan: Plan, d: Path) -> list[str]:
    """Write ``jurisdictions.gpkg``: one layer per facility type, one polygon per kept unit.

    Polygons are in CGCS2000 (EPSG:4490), the CRS planners' GIS uses.

    Parameters
    ----------
    plan
        The plan.
    d
        Target folder.

    Returns
    -------
    list of str
        File names written.
    """
    path = d / "jurisdictions.gpkg"
    with pyogrio_fixed_time():
        for i, t in enumerate(plan.types):
            layer = jurisdictions(plan, t).to_crs("EPSG:4490")
            layer.to_file(
                path, layer=t, driver="GPKG", mode="w" if i == 0 else "a", engine="pyogrio"
            )
    return ["jurisdictions.gpkg"]


class pyogrio_fixed_time:
    """Make GDAL stamp GeoPackages with a fixed time, for byte-stable files."""

    def __enter__(self) -> None:
        self._old = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "2020-01-01T00:00:00.000Z"})

    def __exit__(self, *exc: object) -> None:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": self._old})
