"""The commands: ``plan``, ``compare``, ``explain``, ``sweep`` and ``sample``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from optimizer.cli.common import (
    baseline_scenario,
    bundled_sample,
    check_out,
    input_paths,
    read_inputs,
    stage_display,
)
from optimizer.errors import (
    PolicyError,
)
from optimizer.explain import explain_facility
from optimizer.inputs import Inputs, load_inputs
from optimizer.outputs import write_plan
from optimizer.outputs.files import PLAN_FILES
from optimizer.pipeline import make_plan
from optimizer.report import Plan
from optimizer.rules import Policy, load_scenario
from optimizer.sample import build_sample, write_sample
from optimizer.scenarios import COMPARE_FILES, compare_table, run_scenarios, write_comparison
from optimizer.schema import FACILITY_LABELS_ZH, POLICE
from optimizer.sweep import load_sweep, run_sweep


def cmd_plan(args: argparse.Namespace) -> int:
    """Run ``optimizer plan``: plan one scenario and write its files; return the exit code."""
    check_out(args, PLAN_FILES)
    policy = load_scenario(args.scenario or baseline_scenario())
    overrides: dict[str, object] = {}
    if args.solver:
        overrides["solver"] = args.solver
    if args.time_limit:
        overrides["time_limit"] = args.time_limit
    if overrides:
        data = policy.to_dict()
        data["solver"].update(overrides)
        policy = Policy.from_dict(data)
    explicit = any([args.townships, args.facilities, args.counties, args.attributes])
    data_dir = args.data if (args.data or explicit) else bundled_sample()
    with stage_display(args) as progress:
        inputs = read_inputs(args, progress, data_dir, policy.police.tibetan_prefixes)
        plan = make_plan(inputs, policy, types=args.types, progress=progress)
        written = write_plan(
            plan, args.out, map_tiles=args.tiles, progress=progress, inputs=input_paths(args)
        )
    print(_summary(plan, args.out, written))
    return 0


_OUTCOME_ZH = {"met": "符合", "exceptions": "有例外", "not_met": "未符合"}


_STATUS_ZH = {
    "optimal": "已证明最优",
    "feasible": "可行解（时间内未证明最优）",
    "no_solution": "无解",
    "infeasible": "不可行",
}


def _summary(plan: Plan, out: Path, written: Sequence[Path]) -> str:
    """Return the plan in a few Chinese lines: per type, the rule checks, the files."""
    badge = "（合成数据，仅供演示）" if plan.synthetic else ""
    lines = [f"方案：{plan.policy.name}{badge}"]
    for t in plan.types:
        m, s = plan.metrics[t], plan.solver[t]
        label = FACILITY_LABELS_ZH[t]
        status = _STATUS_ZH.get(getattr(s.status, "value", str(s.status)), str(s.status))
        central = f"中心派出所 {m.central:,} 个，" if t == POLICE else ""
        lines.append(
            f"  {label}：{m.before.count:,} → {m.after.count:,}（减少 {m.reduction:.1%}），"
            f"{central}平均距离 {m.before.mean_distance_km:.1f} → "
            f"{m.after.mean_distance_km:.1f} km；求解：{status}，差距 {s.gap:.2%}，{s.seconds:.0f} 秒"
        )
    counts = plan.outcome_counts()
    lines.append(
        "规则检查："
        + " · ".join(f"{_OUTCOME_ZH[k]} {n} 项" for k, n in counts.items())
        + "（逐条见 plan.xlsx 的「规则检查」表）"
    )
    for c in plan.checks:
        if c.status == "not_met":
            rule = c.rule.split("/ ")[0].strip()
            lines.append(
                f"  [未符合] 第{c.clause}条 {FACILITY_LABELS_ZH.get(c.facility_type, '')}："
                f"{rule}（目标 {c.target}，实际 {c.actual}）"
            )
    if counts.get("exceptions"):
        lines.append(
            f"  有例外的 {counts['exceptions']} 项，每个例外都列有理由（plan.xlsx、plan.json）"
        )
    lines.append(f"已写出 {len(written)} 个文件到 {out}：{'、'.join(p.name for p in written)}")
    return "\n".join(lines)


def cmd_compare(args: argparse.Namespace) -> int:
    """Run ``optimizer compare``: plan several scenarios and write the comparison."""
    if len(args.scenarios) < 2:
        raise PolicyError("give at least two scenario files to compare")
    check_out(args, COMPARE_FILES)
    policies, problems = [], []
    for path in args.scenarios:
        try:
            policies.append(load_scenario(path))
        except PolicyError as exc:
            problems += [f"{path}: {p}" for p in exc.problems]
    if problems:
        raise PolicyError(problems, title="invalid scenario file(s)")
    explicit = any([args.townships, args.facilities, args.counties, args.attributes])
    data_dir = args.data if (args.data or explicit) else bundled_sample()
    cache: dict[tuple[str, ...], Inputs] = {}
    per = []
    with stage_display(args) as progress:
        for pol in policies:  # scenarios may read the 涉藏地区 differently
            key = pol.police.tibetan_prefixes
            if key not in cache:
                cache[key] = read_inputs(args, progress, data_dir, key)
            per.append(cache[key])
        names = "、".join(p.name for p in policies)
        with progress.stage("scenarios", f"求解 {len(policies)} 个方案：{names}"):
            plans = run_scenarios(
                per, policies, workers=args.workers, types=args.types, scheduler=args.scheduler
            )
        with progress.stage("write:comparison", "写出 对比表、图表、compare.html 和各方案文件"):
            written = write_comparison(plans, args.out, map_tiles=args.tiles)
    _console_out().print(compare_view(compare_table(plans), list(plans[0].types)))
    print(f"已写出 {len(written)} 项到 {args.out}：{'、'.join(p.name for p in written)}")
    return 0


_COMPARE_ROWS = (
    ("before", "调整前（个）", "{:,.0f}"),
    ("kept", "保留（个）", "{:,.0f}"),
    ("reduction", "压减比例", "{:.1%}"),
    ("central", "中心所（个）", "{:,.0f}"),
    ("mean_distance_km", "平均距离（km）", "{:.1f}"),
    ("max_distance_km", "最远距离（km）", "{:.1f}"),
    ("changed_townships", "管辖变化的乡镇", "{:,.0f}"),
)


def _cell(value: Any, fmt: str) -> str:
    try:
        return fmt.format(value)
    except (TypeError, ValueError):
        return str(value)


def compare_view(table: Any, types: Sequence[str]) -> Table:
    """Return the comparison as a terminal table: one column per scenario, under its own name.

    Parameters
    ----------
    table
        :func:`optimizer.scenarios.compare_table` of the plans.
    types
        Facility types compared.

    Returns
    -------
    rich.table.Table
        Rows per facility type (today, kept, cut, 中心所, distances, townships that change
        facility), then exceptions, failed checks and the solver's status. Rich measures
        Chinese text by its terminal width, so the columns line up and wrap to fit.
    """
    names = [str(n) for n in table["scenario"]]
    view = Table(title="方案对比", title_justify="left", show_lines=False, pad_edge=False)
    view.add_column("指标", no_wrap=True)
    for n in names:
        view.add_column(n, justify="right", overflow="fold")
    for t in types:
        view.add_section()
        for key, label, fmt in _COMPARE_ROWS:
            col = f"{key}__{t}"
            if col in table:
                view.add_row(
                    f"{FACILITY_LABELS_ZH.get(t, t)} {label}",
                    *(_cell(v, fmt) for v in table[col]),
                )
    view.add_section()
    for col, label in (
        ("checks_met", "规则检查：达标"),
        ("checks_exceptions", "规则检查：有例外"),
        ("checks_not_met", "规则检查：未达标"),
        ("exceptions", "例外（个）"),
    ):
        view.add_row(label, *(_cell(v, "{:,.0f}") for v in table[col]))
    view.add_row("求解状态", *(str(v) for v in table["solver_status"]))
    return view


def _console_out() -> Console:
    """Return a stdout console at most 100 cells wide (100 when stdout is not a terminal)."""
    probe = Console()
    width = min(100, probe.width) if probe.is_terminal else 100
    return Console(width=width, highlight=False)


def cmd_explain(args: argparse.Namespace) -> int:
    """Run ``optimizer explain``: print why one facility is kept or closed."""
    policy = load_scenario(args.scenario or baseline_scenario())
    if args.time_limit:
        data = policy.to_dict()
        data["solver"]["time_limit"] = args.time_limit
        policy = Policy.from_dict(data)
    inputs = load_inputs(
        args.data or bundled_sample(),
        roads=args.roads,
        tibetan_prefixes=policy.police.tibetan_prefixes,
    )
    print(explain_facility(inputs, policy, args.facility).text())
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run ``optimizer sweep``: every (scenario, region) of a sweep file, on Dask."""
    spec = load_sweep(args.spec)
    data_dir = args.data or bundled_sample()
    inputs = load_inputs(data_dir, tibetan_prefixes=spec.policies[0].police.tibetan_prefixes)
    maps = args.maps if args.maps in (None, "none", "best", "all") else args.maps.split(",")
    result = run_sweep(
        spec,
        inputs,
        args.out,
        workers=args.workers,
        scheduler=args.scheduler,
        resume=args.resume,
        maps=maps,
    )
    counts = result.table["status"].value_counts().to_dict()
    print(
        f"sweep {spec.name!r}: {len(result.table)} runs ({result.skipped} finished before), "
        + ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    )
    print(f"wrote {', '.join(p.name for p in result.written)} to {args.out}")
    if result.interrupted:
        print("interrupted: the finished runs are kept; rerun with --resume", file=sys.stderr)
        return 130
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    """Run ``optimizer sample``: write a synthetic sample inside the real frame."""
    check_out(args, ())
    sample = build_sample(args.counties, seed=args.seed)
    written = write_sample(sample, args.out)
    n = len(sample.townships)
    print(
        f"wrote a SYNTHETIC sample of {n:,} townships (seed {args.seed}) to {args.out}: "
        + ", ".join(p.name for p in written)
    )
    return 0
