"""Run several scenarios on the same data and put their plans side by side.

A planner rarely adopts the first plan: a 35 % or a 40 % cut? a distance limit? the cut counted
per county? :func:`run_scenarios` solves one plan per :class:`~optimizer.rules.policy.Policy` (on
a local Dask cluster where the machine has more than one core, see :mod:`optimizer.engine`),
:func:`compare_table` gives one row per scenario with the numbers leaders ask about,
:func:`township_differences` lists, per township, the station each scenario gives it, and
:func:`write_comparison` writes the tables, the charts and ``compare.html`` (synchronised maps
side by side) into one folder, all or nothing.

Examples
--------
>>> from optimizer.inputs.reading import load_inputs
>>> from optimizer.rules.policy import load_scenario
>>> from optimizer.scenarios import compare_table, run_scenarios, write_comparison
>>> inputs = load_inputs("data/sample")  # doctest: +SKIP
>>> plans = run_scenarios(inputs, [load_scenario("scenarios/baseline.yaml"),
...                                load_scenario("scenarios/cut40.yaml")])  # doctest: +SKIP
>>> compare_table(plans)  # doctest: +SKIP
>>> write_comparison(plans, "out/compare")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import math
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optimizer.engine import Engine, Job, prepare
from optimizer.errors import DataError, InfeasibleError, OptimizerError, PolicyError, SolverError
from optimizer.inputs import Inputs
from optimizer.outputs import charts, maps, office, write_plan
from optimizer.outputs.files import staged_output
from optimizer.outputs.tables import FIXED_TIME
from optimizer.report import Plan
from optimizer.rules import Policy
from optimizer.schema import FACILITY_LABELS_ZH, SOLVER_STATUS_ZH

__all__ = [
    "compare_table",
    "run_scenarios",
    "scenario_slug",
    "township_differences",
    "write_comparison",
]

logger = logging.getLogger(__name__)


#: Chinese headers of the comparison table (per facility type columns get the type's label).
_COMPARE_HEADERS_ZH = {
    "scenario": "方案",
    "exceptions": "例外数",
    # grassroots (issue 14)
    "grids": "网格数",
    "grids_outside_bounds": "超出户数范围网格",
    "grid_worker_gap": "网格员缺口",
    "camera_points_gap": "雪亮工程点位缺口",
    "mediators_proposed": "建议新配专职调解员",
    "mediator_cost_yuan": "调解员年费用（元）",
    "failed_checks": "未通过的规则检查",
    "checks_met": "规则检查：达标",
    "checks_exceptions": "规则检查：有例外",
    "checks_not_met": "规则检查：未达标",
    "checks": "规则检查项数",
    "staffing_shortfall": "人员缺口",
    "objective": "目标值（加权公里）",
    "solver_status": "求解状态",
    "gap": "最优性差距",
    "seconds": "求解时间（秒）",
}
_TYPE_HEADERS_ZH = {
    "before": "{label}现有数量",
    "kept": "{label}保留数量",
    "reduction": "{label}减少比例",
    "central": "中心{label}数",
    "mean_distance_km": "到{label}平均距离（公里，加权）",
    "max_distance_km": "到{label}最远距离（公里）",
    "changed_townships": "{label}变更的乡镇数",
}


# --------------------------------------------------------------------------------------------
# running


def _check_names(policies: Sequence[Policy]) -> None:
    seen: dict[str, int] = {}
    problems = []
    for i, p in enumerate(policies, start=1):
        if p.name in seen:
            problems.append(
                f"scenarios {seen[p.name]} and {i} are both named {p.name!r}; "
                "give each a distinct 'name:' so their columns and maps can be told apart"
            )
        seen.setdefault(p.name, i)
    if problems:
        raise PolicyError(problems)


def run_scenarios(
    inputs: Inputs | Sequence[Inputs],
    policies: Sequence[Policy],
    *,
    workers: int | None = None,
    types: Sequence[str] | None = None,
    scheduler: str | None = None,
) -> list[Plan]:
    """Plan every scenario on the same data, on the engine :mod:`optimizer.sweep` uses too.

    Parameters
    ----------
    inputs
        Validated inputs (:func:`optimizer.inputs.reading.load_inputs`), or one per scenario (for scenarios
        that read the data differently, e.g. other ``police.tibetan_prefixes``).
    policies
        One policy per scenario; names must differ.
    workers
        Dask worker processes of a local cluster; default: the number of cores, at most the
        number of scenarios. ``1`` runs them one by one in this process. The plans are the same
        either way (only wall times differ); each worker's solver runs on one thread.
    types
        Facility types to plan (see :func:`optimizer.pipeline.make_plan`); default: all present.
    scheduler
        Address of a running Dask scheduler (``tcp://HOST:PORT``) to run them on instead.

    Returns
    -------
    list of Plan
        One plan per policy, in the order given.

    Raises
    ------
    PolicyError
        When two scenarios share a name or a setting cannot be planned.
    InfeasibleError
        When a scenario's rules cannot hold; the message names the scenario.
    """
    policies = list(policies)
    if not policies:
        raise PolicyError("no scenarios to run: give at least one")
    _check_names(policies)
    per = [inputs] * len(policies) if isinstance(inputs, Inputs) else list(inputs)
    if len(per) != len(policies):
        raise PolicyError(f"{len(per)} inputs for {len(policies)} scenarios: give one each")
    keys = {id(i): f"inputs{n}" for n, i in reversed(list(enumerate(per)))}
    data = {keys[id(i)]: prepare(i) for i in {id(i): i for i in per}.values()}
    chosen = None if types is None else tuple(types)
    jobs = [
        Job(str(n), keys[id(i)], p, chosen)
        for n, (i, p) in enumerate(zip(per, policies, strict=True))
    ]
    n = min(len(jobs), workers if workers is not None else (os.cpu_count() or 1))
    logger.info("running %d scenarios %s", len(jobs), "one by one" if n <= 1 else f"on {n} workers")
    with Engine(workers=0 if n <= 1 else n, scheduler=scheduler) as engine:
        outcomes = engine.run(data, jobs)
    if engine.interrupted:
        raise KeyboardInterrupt
    plans = []
    for outcome, policy in zip(outcomes, policies, strict=True):
        if outcome.plan is None:
            error = _ERRORS.get(outcome.error, SolverError)
            problems = outcome.problems or (outcome.reason,)
            raise error([f"scenario {policy.name!r}: {p}" for p in problems])
        plans.append(outcome.plan)
    return plans


#: The errors a failed run is raised again as, by the name the engine recorded.
_ERRORS: dict[str, type[OptimizerError]] = {
    "PolicyError": PolicyError,
    "InfeasibleError": InfeasibleError,
    "DataError": DataError,
}


# --------------------------------------------------------------------------------------------
# tables


def _float(x: float | None) -> float:
    """Return a metric as a float for the table: NaN where it is missing."""
    return math.nan if x is None else float(x)


def compare_table(plans: Sequence[Plan]) -> pd.DataFrame:
    """Return one row per scenario with the numbers a comparison needs.

    Parameters
    ----------
    plans
        Plans of differently named scenarios on the same townships.

    Returns
    -------
    pandas.DataFrame
        ``scenario``; per facility type ``T``: ``before__T``, ``kept__T``, ``reduction__T``,
        ``central__T``, ``mean_distance_km__T`` (weighted as the policy says),
        ``max_distance_km__T`` and ``changed_townships__T`` (townships whose facility differs
        from today's nearest one); then ``exceptions`` (all rule-check exceptions),
        ``failed_checks``, ``checks``, ``checks_met``, ``checks_exceptions`` and
        ``checks_not_met`` (the three outcomes of the rule checks), ``staffing_shortfall``
        (NaN until staffing is planned), ``objective``, ``solver_status`` (worst over types),
        ``gap`` (largest) and ``seconds``.
    """
    _check_names([p.policy for p in plans])
    rows = []
    for p in plans:
        row: dict[str, Any] = {"scenario": p.policy.name}
        for t in p.types:
            m = p.metrics[t]
            tw = p.townships
            changed = int((tw[f"served_by__{t}"] != tw[f"before_by__{t}"]).sum())
            row |= {
                f"before__{t}": int(m.before.count),
                f"kept__{t}": int(m.after.count),
                f"reduction__{t}": _float(m.reduction),
                f"central__{t}": int(m.central),
                f"mean_distance_km__{t}": _float(m.after.mean_distance_km),
                f"max_distance_km__{t}": _float(m.after.max_distance_km),
                f"changed_townships__{t}": changed,
            }
        if p.grassroots is not None:  # grassroots (issue 14): clauses 13-18 figures
            g = p.grassroots.summary()
            row |= {
                "grids": g["grids"],
                "grids_outside_bounds": g["grids_outside_bounds"],
                "grid_worker_gap": g["grid_worker_gap_fulltime"] + g["grid_worker_gap_parttime"],
                "camera_points_gap": g["camera_points_gap"],
                "mediators_proposed": g["mediators_proposed"],
                "mediator_cost_yuan": g["mediator_cost_yuan"],
            }
        row |= {
            "exceptions": sum(len(c.exceptions) for c in p.checks),
            "failed_checks": sum(not c.passed for c in p.checks),
            "checks": len(p.checks),
            **{f"checks_{o}": n for o, n in p.outcome_counts().items()},
            "staffing_shortfall": p.staffing_shortfall(),
            "objective": float(sum(p.solver[t].objective or 0.0 for t in p.types)),
            "solver_status": str(p.solver.status),
            "gap": float(p.solver.gap),
            "seconds": p.solver.seconds,
        }
        rows.append(row)
    return pd.DataFrame(rows)


def township_differences(plans: Sequence[Plan]) -> pd.DataFrame:
    """Return, per township and facility type, the facility each scenario gives it.

    Parameters
    ----------
    plans
        Plans of differently named scenarios on the same townships.

    Returns
    -------
    pandas.DataFrame
        ``code``, ``name``, ``county_code``, ``facility_type``; per scenario ``S``:
        ``station__S`` (facility id), ``station_name__S`` and ``distance_km__S``; and
        ``differs`` (True when the scenarios do not all give the township the same facility).
        Sorted by facility type and township code.
    """
    if not plans:
        return pd.DataFrame(columns=["code", "name", "county_code", "facility_type", "differs"])
    _check_names([p.policy for p in plans])
    types = [t for t in plans[0].types if all(t in p.types for p in plans)]
    base = pd.DataFrame(plans[0].townships[["code", "name", "county_code"]]).sort_values("code")
    codes = base["code"].tolist()
    frames = []
    for t in types:
        out = base.copy()
        out.insert(3, "facility_type", t)
        stations = []
        for p in plans:
            s = p.policy.name
            tw = pd.DataFrame(p.townships).set_index("code").reindex(codes)
            names = p.facilities[p.facilities["type"] == t].set_index("id")["name"]
            out[f"station__{s}"] = tw[f"served_by__{t}"].to_numpy()
            out[f"station_name__{s}"] = tw[f"served_by__{t}"].map(names).to_numpy()
            out[f"distance_km__{s}"] = tw[f"distance_km__{t}"].to_numpy(dtype=float).round(3)
            stations.append(out[f"station__{s}"].astype(str).to_numpy())
        arr = np.vstack(stations)
        out["differs"] = (arr != arr[0]).any(axis=0)
        frames.append(out)
    return pd.concat(frames, ignore_index=True)


# --------------------------------------------------------------------------------------------
# writing


def scenario_slug(name: str, index: int) -> str:
    """Return a folder name for a scenario: its position and its name's letters and digits.

    Parameters
    ----------
    name
        Scenario name (Chinese is kept).
    index
        1-based position of the scenario.

    Returns
    -------
    str
        For example ``"2_压减40"``.
    """
    slug = re.sub(r"[^\w]+", "_", name, flags=re.UNICODE).strip("_")[:40]
    return f"{index}_{slug}" if slug else str(index)


def _zh_compare(table: pd.DataFrame) -> pd.DataFrame:
    out = table.copy()
    headers: dict[str, str] = {}
    for col in out.columns:
        if col in _COMPARE_HEADERS_ZH:
            headers[col] = _COMPARE_HEADERS_ZH[col]
        elif "__" in col:
            key, t = col.split("__", 1)
            if key in _TYPE_HEADERS_ZH:
                headers[col] = _TYPE_HEADERS_ZH[key].format(label=FACILITY_LABELS_ZH.get(t, t))
        if col.startswith("reduction__"):
            out[col] = out[col].map(lambda v: f"{v:.1%}")
    out["solver_status"] = out["solver_status"].map(lambda s: SOLVER_STATUS_ZH.get(s, s))
    out["gap"] = out["gap"].map(lambda v: f"{v:.4%}")
    return out.rename(columns=headers)


def _zh_differences(diff: pd.DataFrame) -> pd.DataFrame:
    out = diff.copy()
    out["facility_type"] = out["facility_type"].map(lambda t: FACILITY_LABELS_ZH.get(t, t))
    out["differs"] = out["differs"].map({True: "是", False: ""})
    headers = {
        "code": "乡镇代码",
        "name": "乡镇名称",
        "county_code": "区县代码",
        "facility_type": "机构",
        "differs": "方案间不同",
    }
    for col in out.columns:
        for key, zh in (
            ("station__", "编号"),
            ("station_name__", "名称"),
            ("distance_km__", "距离（公里）"),
        ):
            if col.startswith(key):
                headers[col] = f"{col[len(key) :]}：{zh}"
    return out.rename(columns=headers)


def _summary_rows(
    plans: Sequence[Plan], table: pd.DataFrame, diff: pd.DataFrame
) -> list[tuple[str, Any]]:
    synthetic = any(p.synthetic for p in plans)
    rows: list[tuple[str, Any]] = [
        ("比较的方案", "；".join(p.policy.name for p in plans)),
        ("数据", "合成示例数据（非真实数据）" if synthetic else "用户提供的数据"),
        ("乡镇（街道）数", len(plans[0].townships)),
    ]
    for t in plans[0].types:
        label = FACILITY_LABELS_ZH.get(t, t)
        sub = diff[diff["facility_type"] == t]
        rows.append((f"{label}：各方案管辖不同的乡镇数", int(sub["differs"].sum())))
        for d in table.to_dict("records"):
            rows.append(
                (
                    f"{label}：{d['scenario']}",
                    f"保留 {d[f'kept__{t}']} / {d[f'before__{t}']}（减少 {d[f'reduction__{t}']:.1%}），"
                    f"平均距离 {d[f'mean_distance_km__{t}']:.1f} 公里，"
                    f"最远 {d[f'max_distance_km__{t}']:.1f} 公里",
                )
            )
    for d in table.to_dict("records"):
        rows.append(
            (
                f"规则检查：{d['scenario']}",
                f"达标 {d['checks_met']} 项，有例外 {d['checks_exceptions']} 项，"
                f"未达标 {d['checks_not_met']} 项（例外 {d['exceptions']} 个）；"
                f"求解{SOLVER_STATUS_ZH.get(d['solver_status'], d['solver_status'])}",
            )
        )
    return rows


def _write_workbook(
    plans: Sequence[Plan], table: pd.DataFrame, diff: pd.DataFrame, path: Path
) -> None:
    with office.excel_writer(path) as xw:
        pd.DataFrame(_summary_rows(plans, table, diff), columns=["项目", "数值"]).to_excel(
            xw, sheet_name="汇总", index=False
        )
        _zh_compare(table).to_excel(xw, sheet_name="方案对比", index=False)
        _zh_differences(diff).to_excel(xw, sheet_name="乡镇差异", index=False)
        wb = xw.book
        wb.properties.created = FIXED_TIME
        wb.properties.modified = FIXED_TIME
        wb.properties.creator = "optimizer"
        for ws in wb.worksheets:
            ws.freeze_panes = "A2"
            for col in ws.columns:
                width = max(len(str(c.value or "")) for c in col[:200])
                ws.column_dimensions[col[0].column_letter].width = min(60, max(8, width * 1.6))


def compare_page(plans: Sequence[Plan], *, tiles: str | None = None) -> Any:
    """Return the side-by-side map of the plans (see :func:`optimizer.outputs.maps.compare_map`).

    Parameters
    ----------
    plans
        Plans of differently named scenarios on the same townships.
    tiles
        Optional tile URL template of an office tile server.

    Returns
    -------
    branca.element.Figure
        Write it with :func:`optimizer.outputs.maps.save_map`; show it in a notebook with
        :func:`optimizer.outputs.maps.inline`.
    """
    diff = township_differences(plans)
    differ = sorted(set(diff.loc[diff["differs"], "code"]))
    label = "、".join(FACILITY_LABELS_ZH.get(t, t) for t in plans[0].types)
    return maps.compare_map(
        [(p.policy.name, p.townships, p.facilities) for p in plans],
        title=f"{label}布局方案比较",
        differ=differ,
        facility_types=list(plans[0].types),
        tiles=tiles,
        synthetic=any(p.synthetic for p in plans),
    )


COMPARE_FILES: tuple[str, ...] = (
    "comparison.xlsx",
    "comparison.csv",
    "township_differences.csv",
    "compare.html",
    "chart_distance.png",
    "chart_kept.png",
)
"""The files :func:`write_comparison` writes (and the folder ``plans``)."""


def write_comparison(
    plans: Sequence[Plan],
    out_dir: str | Path,
    *,
    write_plans: bool = True,
    map_tiles: str | None = None,
) -> list[Path]:
    """Write the comparison of several plans into ``out_dir``, all or nothing.

    Files: ``comparison.xlsx`` (汇总, 方案对比, 乡镇差异; Chinese headers),
    ``comparison.csv`` and ``township_differences.csv`` (UTF-8 with BOM), ``compare.html``
    (synchronised maps side by side, townships that differ outlined in red; opens offline),
    ``chart_distance.png`` and ``chart_kept.png``, and with ``write_plans`` every scenario's
    own plan files in ``plans/<n>_<name>/``. Everything is written to a temporary folder beside
    ``out_dir`` first and moved in only when all succeeded.

    Parameters
    ----------
    plans
        Plans of differently named scenarios on the same townships.
    out_dir
        Output folder (created if needed).
    write_plans
        Also write each scenario's plan (``plan.json``, tables, ``map.html`` ...).
    map_tiles
        Optional tile URL template of an office tile server for the maps.

    Returns
    -------
    list of pathlib.Path
        The files and folders written (top level of ``out_dir``).
    """
    plans = list(plans)
    if not plans:
        raise PolicyError("no plans to compare")
    table = compare_table(plans)
    diff = township_differences(plans)
    out = Path(out_dir)
    sources = [v for p in plans for v in p.sources.values()]
    with staged_output(out, COMPARE_FILES, ("plans",), inputs=sources) as tmp:
        names: list[str] = []
        table = table.drop(columns="seconds")  # wall-clock time only in plans/*/plan.json
        _write_workbook(plans, table, diff, tmp / "comparison.xlsx")
        names.append("comparison.xlsx")
        office.csv_safe(table).to_csv(
            tmp / "comparison.csv", index=False, encoding="utf-8-sig", lineterminator="\n"
        )
        names.append("comparison.csv")
        office.csv_safe(diff).to_csv(
            tmp / "township_differences.csv",
            index=False,
            encoding="utf-8-sig",
            lineterminator="\n",
        )
        names.append("township_differences.csv")
        maps.save_map(compare_page(plans, tiles=map_tiles), tmp / "compare.html")
        names.append("compare.html")
        names += charts.write_charts(plans, tmp)
        if write_plans:
            for i, p in enumerate(plans, start=1):
                write_plan(p, tmp / "plans" / scenario_slug(p.policy.name, i), map_tiles=map_tiles)
            names.append("plans")
    logger.info("wrote the comparison of %d scenarios to %s", len(plans), out)
    return [out / name for name in names]
