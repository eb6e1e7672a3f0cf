"""The sweep table: one row per run, the best run of each region, and the trade-off charts.

Column codes are English in ``sweep.csv`` and ``best.csv`` (for scripts; listed in
``docs/sweep.md``); the workbook ``sweep.xlsx`` and the charts carry Chinese headers and labels.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.outputs.charts import cjk_font
from optimizer.outputs.office import excel_writer
from optimizer.report import Plan
from optimizer.schema import FACILITY_LABELS_ZH, SOLVER_STATUS_ZH

__all__ = [
    "best_table",
    "plan_row",
    "sweep_frame",
    "tradeoff_chart",
    "write_workbook",
    "zh_table",
]

#: Per facility type ``T``, the columns ``KEY__T`` of a row.
TYPE_COLUMNS_ZH: dict[str, str] = {
    "before": "{label}现有数量",
    "kept": "{label}保留数量",
    "closed": "{label}撤并数量",
    "reduction": "{label}减少比例",
    "mean_distance_km": "到{label}平均距离（公里，加权）",
    "max_distance_km": "到{label}最远距离（公里）",
    "mean_travel_min": "到{label}平均用时（分钟）",
    "max_travel_min": "到{label}最长用时（分钟）",
    "changed_townships": "{label}变更的乡镇数",
}
#: Columns shared by all types.
COLUMNS_ZH: dict[str, str] = {
    "run_id": "运行编号",
    "region": "地区",
    "status": "运行结果",
    "reason": "失败原因",
    "met": "规则检查：达标",
    "exceptions": "规则检查：有例外",
    "not_met": "规则检查：未达标",
    "staffing_shortfall": "人员缺口",
    "objective": "目标值",
    "solver_status": "求解状态",
    "gap": "最优性差距",
    "seconds": "运行时间（秒）",
    "cpu_seconds": "CPU时间（秒）",
    "mean_distance_km": "平均距离合计（公里）",
    "max_distance_km": "最远距离（公里）",
    "mean_travel_min": "平均用时合计（分钟）",
    "kept": "保留机构合计",
    "criterion": "择优标准",
}
_COUNTS = {"before", "kept", "closed", "changed_townships", "met", "exceptions", "not_met"}
STATUS_ZH = {"ok": "完成", "failed": "失败", "timeout": "超时"}
CRITERIA_ZH = {
    "mean_distance": "各类机构平均距离之和最小",
    "max_distance": "最远距离最小",
    "mean_travel": "各类机构平均用时之和最小",
    "objective": "目标值最小",
}


def _num(x: float | None, digits: int = 6) -> float:
    return math.nan if x is None else round(float(x), digits)


def plan_row(plan: Plan) -> dict[str, Any]:
    """Return the figures of one plan for the sweep table.

    Parameters
    ----------
    plan
        A finished plan.

    Returns
    -------
    dict
        Per type ``T``: ``before__T``, ``kept__T``, ``closed__T``, ``reduction__T``,
        ``mean_distance_km__T``, ``max_distance_km__T``, ``mean_travel_min__T``,
        ``max_travel_min__T``, ``changed_townships__T``; then ``met``, ``exceptions``,
        ``not_met`` (:meth:`Plan.outcome_counts`), ``staffing_shortfall``, ``objective``,
        ``solver_status``, ``gap``, and the totals ``kept``, ``mean_distance_km``,
        ``max_distance_km``, ``mean_travel_min`` used to choose the best run.
    """
    row: dict[str, Any] = {}
    tw = plan.townships
    for t in plan.types:
        m = plan.metrics[t]
        row |= {
            f"before__{t}": int(m.before.count),
            f"kept__{t}": int(m.after.count),
            f"closed__{t}": int(m.before.count - m.after.count),
            f"reduction__{t}": _num(m.reduction),
            f"mean_distance_km__{t}": _num(m.after.mean_distance_km, 3),
            f"max_distance_km__{t}": _num(m.after.max_distance_km, 3),
            f"mean_travel_min__{t}": _num(m.travel.mean_minutes_after, 2),
            f"max_travel_min__{t}": _num(m.travel.max_minutes_after, 2),
            f"changed_townships__{t}": int((tw[f"served_by__{t}"] != tw[f"before_by__{t}"]).sum()),
        }
    row |= plan.outcome_counts()
    row |= {
        "staffing_shortfall": _num(plan.staffing_shortfall(), 1),
        "objective": _num(sum(plan.solver[t].objective or 0.0 for t in plan.types), 3),
        "solver_status": str(plan.solver.status),
        "gap": _num(plan.solver.gap),
        "kept": sum(row[f"kept__{t}"] for t in plan.types),
        "mean_distance_km": _num(sum(row[f"mean_distance_km__{t}"] for t in plan.types), 3),
        "max_distance_km": max(row[f"max_distance_km__{t}"] for t in plan.types),
        "mean_travel_min": _num(sum(row[f"mean_travel_min__{t}"] for t in plan.types), 2),
    }
    return row


def sweep_frame(rows: Sequence[Mapping[str, Any]], grid_keys: Sequence[str]) -> pd.DataFrame:
    """Return the rows as the sweep table, columns in a fixed order.

    Parameters
    ----------
    rows
        One mapping per run (``run_id``, ``region``, the swept settings, ``status``,
        ``reason``, ``seconds``, ``cpu_seconds`` and, for finished runs, :func:`plan_row`'s
        figures).
    grid_keys
        The swept settings, in the sweep file's order.

    Returns
    -------
    pandas.DataFrame
        ``run_id``, ``region``, the swept settings, ``status``, ``reason``, the figures,
        ``seconds``, ``cpu_seconds``.
    """
    head = ["run_id", "region", *grid_keys, "status", "reason"]
    tail = ["seconds", "cpu_seconds"]
    frame = pd.DataFrame(list(rows))
    for col in head + tail:
        if col not in frame.columns:
            frame[col] = pd.NA
    middle = [c for c in frame.columns if c not in head and c not in tail]
    frame = frame[head + middle + tail].copy()
    for col in frame.columns:
        if col.split("__")[0] in _COUNTS:
            frame[col] = frame[col].astype("Int64")
    return frame


def best_table(table: pd.DataFrame, criterion: str, column: str) -> pd.DataFrame:
    """Return the best finished run of each region.

    Among a region's finished runs with no ``not_met`` rule check (all its finished runs when
    none qualifies) the one with the smallest ``column``; ties go to fewer kept facilities, then
    to the run id.

    Parameters
    ----------
    table
        The sweep table.
    criterion
        Name of the criterion (a key of :data:`optimizer.sweep.spec.BEST_CRITERIA`).
    column
        Its column.

    Returns
    -------
    pandas.DataFrame
        One row per region: ``criterion``, then the row of its best run.
    """
    ok = table[table["status"] == "ok"]
    if ok.empty:
        return pd.DataFrame(columns=["criterion", *table.columns])
    picks = []
    for _, runs in ok.groupby("region", sort=False):
        clean = runs[runs["not_met"] == 0]
        pool = clean if len(clean) else runs
        picks.append(pool.sort_values([column, "kept", "run_id"]).iloc[0])
    best = pd.DataFrame(picks).reset_index(drop=True)
    best.insert(0, "criterion", criterion)
    return best


def zh_table(table: pd.DataFrame) -> pd.DataFrame:
    """Return the table with Chinese headers and values for the workbook.

    Parameters
    ----------
    table
        :func:`sweep_frame` or :func:`best_table`.

    Returns
    -------
    pandas.DataFrame
        Swept settings keep their dotted key, prefixed ``参数：``.
    """
    out = table.copy()
    headers: dict[str, str] = {}
    for col in out.columns:
        key, _, t = col.partition("__")
        if t and key in TYPE_COLUMNS_ZH:
            headers[col] = TYPE_COLUMNS_ZH[key].format(label=FACILITY_LABELS_ZH.get(t, t))
        elif col in COLUMNS_ZH:
            headers[col] = COLUMNS_ZH[col]
        elif "." in col:
            headers[col] = f"参数：{col}"
    if "status" in out:
        out["status"] = out["status"].map(lambda s: STATUS_ZH.get(s, s))
    if "solver_status" in out:
        out["solver_status"] = out["solver_status"].map(lambda s: SOLVER_STATUS_ZH.get(s, s))
    if "criterion" in out:
        out["criterion"] = out["criterion"].map(lambda s: CRITERIA_ZH.get(s, s))
    out["region"] = out["region"].map(lambda r: "全部" if r == "all" else r)
    return out.rename(columns=headers)


def write_workbook(path: Path, sheets: Sequence[tuple[str, pd.DataFrame]]) -> None:
    """Write sheets to an Excel file with the shared workbook writer (formula-safe, same bytes).

    Parameters
    ----------
    path
        Target ``.xlsx``.
    sheets
        Sheet name and its table, in order.
    """
    with excel_writer(path) as xw:  # formula-like text made literal, fixed times, same bytes
        for name, frame in sheets:
            frame.to_excel(xw, sheet_name=name, index=False)
        wb: Any = xw.book
        wb.properties.creator = "optimizer"
        for ws in wb.worksheets:
            ws.freeze_panes = "A2"
            for col in ws.columns:
                width = max(len(str(c.value or "")) for c in col[:200])
                ws.column_dimensions[col[0].column_letter].width = min(60, max(8, width * 1.6))


def tradeoff_chart(table: pd.DataFrame, facility_type: str, path: Path, *, synthetic: bool) -> None:
    """Draw the cut against the mean distance, one line per region: the price of each extra cut.

    For each region and realised cut the smallest mean distance among its finished runs is
    plotted (the frontier the planner chooses on).

    Parameters
    ----------
    table
        The sweep table.
    facility_type
        The type whose ``reduction__T`` and ``mean_distance_km__T`` are drawn.
    path
        Target PNG.
    synthetic
        Label the chart as synthetic data.
    """
    import matplotlib as mpl
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    font = cjk_font()
    zh = font is not None
    rc: dict[str, Any] = {"font.family": [font, "DejaVu Sans"] if font else ["DejaVu Sans"]}
    rc |= {"axes.unicode_minus": False}
    red, dist = f"reduction__{facility_type}", f"mean_distance_km__{facility_type}"
    ok = table[(table["status"] == "ok") & table[red].notna()]
    label = FACILITY_LABELS_ZH.get(facility_type, facility_type)
    with mpl.rc_context(rc):  # type: ignore[arg-type]
        fig = Figure(figsize=(7.5, 4.8), dpi=120, layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        for region, runs in ok.groupby("region", sort=False):
            front = runs.groupby(runs[red].round(4))[dist].min().sort_index()
            name = ("全部" if zh else "all") if region == "all" else str(region)
            ax.plot(front.index * 100, front.to_numpy(), marker="o", label=name)
        ax.set_xlabel(f"{label}减少比例（%）" if zh else f"cut of {facility_type} (%)")
        ax.set_ylabel("平均距离（公里，加权）" if zh else "mean distance (km, weighted)")
        ax.set_title(f"{label}：压减比例与平均距离" if zh else f"{facility_type}: cut vs distance")
        ax.grid(alpha=0.3)
        if len(ok):
            ax.legend(title="地区" if zh else "region", fontsize=8, ncol=2)
        if synthetic:
            mark = "合成数据，非真实机构 / SYNTHETIC data" if zh else "SYNTHETIC data"
            fig.text(0.99, 0.005, mark, ha="right", va="bottom", fontsize=8, color="#c0392b")
        fig.savefig(path, metadata={"Software": None})
