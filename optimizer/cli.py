"""The command line: ``optimizer plan``, ``compare``, ``sweep``, ``explain`` and ``sample``.

Bad input ends with one readable message that lists every problem, exit code 2, and no output
files; a solver failure exits with 3. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import logging
import math
import re
import signal
import sys
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

from rich.cells import cell_len
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from optimizer import __version__
from optimizer.errors import (
    DataError,
    InfeasibleError,
    OptimizerError,
    OutputError,
    PolicyError,
    SolverError,
)
from optimizer.explain import explain_facility
from optimizer.inputs import Inputs, load_inputs
from optimizer.outputs import write_plan
from optimizer.outputs.files import PLAN_FILES, destination_problems, input_overlap
from optimizer.paths import sample_dir, scenarios_dir
from optimizer.pipeline import make_plan
from optimizer.progress import NO_PROGRESS, Progress
from optimizer.report import Plan
from optimizer.rules import Policy, load_scenario
from optimizer.sample import build_sample, write_sample
from optimizer.scenarios import COMPARE_FILES, compare_table, run_scenarios, write_comparison
from optimizer.schema import FACILITY_LABELS_ZH, FACILITY_TYPES, POLICE
from optimizer.sweep import load_sweep, run_sweep
from optimizer.terminal import TerminalProgress

__all__ = ["bundled_sample", "main"]

logger = logging.getLogger("optimizer")


def bundled_sample() -> Path:
    """Return the folder of the bundled synthetic sample (installed with the package).

    Returns
    -------
    pathlib.Path
        A data folder with ``townships.gpkg``, ``facilities.csv`` and ``counties.csv``.
    """
    return sample_dir()


class _Elapsed(logging.Formatter):
    def __init__(self) -> None:
        super().__init__()
        self.t0 = time.perf_counter()

    def format(self, record: logging.LogRecord) -> str:
        return f"[{time.perf_counter() - self.t0:6.1f}s] {record.getMessage()}"


def _setup_logging(verbosity: int, console: Console | None = None) -> None:
    """Route the package's log to stderr: warnings by default, ``-v`` info, ``-vv`` debug."""
    handler: logging.Handler
    if console is not None and console.is_terminal:
        handler = RichHandler(
            console=console, show_time=False, show_path=False, markup=False, highlighter=None
        )
    else:
        handler = logging.StreamHandler(sys.stderr)
        if verbosity > 0:
            handler.setFormatter(_Elapsed())
        else:
            handler.setFormatter(logging.Formatter("注意 / note: %(message)s"))
    root = logging.getLogger("optimizer")
    root.handlers[:] = [handler]
    root.setLevel(
        logging.ERROR
        if verbosity < 0
        else logging.WARNING
        if verbosity == 0
        else logging.INFO
        if verbosity == 1
        else logging.DEBUG
    )
    root.propagate = False


def _baseline() -> Path:
    return scenarios_dir() / "baseline.yaml"


_TYPES_ZH = "、".join(f"{t}（{FACILITY_LABELS_ZH[t]}）" for t in FACILITY_TYPES)

_MAIN_EXAMPLES = """\
示例 / examples:
  optimizer plan                                   # 规划随包附带的合成样例（雅安 + 阿坝）
  optimizer plan --data 我的县数据 --out out/我的县     # 规划自己的数据文件夹
  optimizer compare scenarios/baseline.yaml scenarios/cut40.yaml --out out/compare
  optimizer sweep scenarios/sweep-cuts.yaml --out out/sweep   # 多方案 × 多地区批量运行（Dask）
  optimizer explain --facility PS-513222205        # 保留一个被撤并的机构要付出多少代价
  optimizer sample --counties all --out prov        # 生成全省合成数据（3,101 个乡镇）

每个命令的说明：optimizer plan --help、compare --help、sweep --help、explain --help、sample --help
"""

_PLAN_EXAMPLES = """\
示例 / examples:
  optimizer plan
      规划随包附带的合成样例（雅安 + 阿坝，270 个乡镇），写入 ./out
  optimizer plan --scenario scenarios/cut40.yaml --out out/cut40
      按方案文件规划（派出所压减 40%）
  optimizer plan --data prov --scenario scenarios/county_scope.yaml --out out/county
      按县分别核定压减比例
  optimizer sample --counties 511823 --out hanyuan
  optimizer plan --data hanyuan --out out/hanyuan
      一个县（汉源县）：先生成合成数据，再规划
  optimizer sample --counties all --out prov
  optimizer plan --data prov --scenario scenarios/baseline.yaml --out out/prov
      全省 3,101 个乡镇（约 1-2 分钟）
  optimizer plan --townships 乡镇.shp --attributes 乡镇属性.xlsx --facilities 机构.xlsx --out out/x
      逐个指定文件
  optimizer plan --types police_station,court --time-limit 60
      只规划派出所和人民法庭，限时 60 秒
"""

_COMPARE_EXAMPLES = """\
示例 / examples:
  optimizer compare scenarios/baseline.yaml scenarios/cut40.yaml --out out/compare
      对比基准方案与压减 40%（随包样例数据）
  optimizer compare scenarios/baseline.yaml scenarios/limit30km.yaml scenarios/county_scope.yaml \\
      --data prov --out out/prov-compare
      全省三个方案并排对比
  optimizer compare scenarios/baseline.yaml scenarios/cut40.yaml --types police_station
      只对比派出所
"""

_SWEEP_EXAMPLES = """\
示例 / examples:
  optimizer sweep scenarios/sweep-cuts.yaml --out out/sweep
      随包样例：方案文件中的参数网格 × 地区，本机 Dask 集群（每核一个进程）
  optimizer sweep scenarios/sweep-cuts.yaml --data prov --out out/prov-sweep --maps best
      全省；只为各地区最优的运行画地图
  optimizer sweep scenarios/sweep-cuts.yaml --out out/sweep --resume
      中断后继续：跳过已完成的运行
  optimizer sweep scenarios/sweep-cuts.yaml --out out/sweep --scheduler tcp://10.0.0.5:8786
      交给已有的 Dask 集群（dask scheduler / dask worker）
"""

_EXPLAIN_EXAMPLES = """\
示例 / examples:
  optimizer explain --facility PS-513222205
      随包样例：把这个被撤并的派出所钉为保留，重新求解，报告目标值增加多少、换掉了谁
  optimizer explain --facility JO-511823101 --data hanyuan --scenario scenarios/cut40.yaml
"""

_SAMPLE_EXAMPLES = """\
示例 / examples:
  optimizer sample --counties 511823 --out hanyuan       # 一个县（汉源县）
  optimizer sample --counties 5118,5132 --out yaan-aba   # 雅安市 + 阿坝州（代码前缀）
  optimizer sample --counties all --seed 0 --out prov    # 全省，与 /work/prov 相同
"""


class _Help(argparse.RawDescriptionHelpFormatter):
    """Keep the examples' line breaks; wrap option help by terminal cells (CJK = 2 cells)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=26, width=100)

    def _split_lines(self, text: str, width: int) -> list[str]:
        lines, line = [], ""
        for token in re.findall(r"[\x21-\x7e]+|\s+|.", " ".join(text.split())):
            if line and cell_len(line + token) > width:
                lines.append(line.rstrip())
                line = token.lstrip()
            else:
                line += token
        return [*lines, line.rstrip()] if line.strip() else lines


def _types_arg(text: str) -> list[str]:
    types = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in types if t not in FACILITY_TYPES]
    if unknown or not types:
        raise argparse.ArgumentTypeError(
            f"未知的机构类型 {', '.join(unknown) or text!r}；可选：{', '.join(FACILITY_TYPES)}"
        )
    return types


def _add_data_options(sp: argparse.ArgumentParser) -> None:
    """Add the options that say where the planners' files are (plan and compare)."""
    g = sp.add_argument_group("数据 / data")
    g.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="数据文件夹，含 townships.*、facilities.*，可选 counties.*、roads.*"
        "（默认：随包附带的合成样例）",
    )
    g.add_argument(
        "--townships", type=Path, metavar="FILE", help="乡镇面图层（.gpkg、.shp、.geojson）"
    )
    g.add_argument(
        "--attributes", type=Path, metavar="FILE", help="乡镇属性表（.csv、.xlsx），按乡镇代码连接"
    )
    g.add_argument(
        "--facilities", type=Path, metavar="FILE", help="现有机构表（.csv、.xlsx、.gpkg）"
    )
    g.add_argument("--counties", type=Path, metavar="FILE", help="区县指标表（.csv、.xlsx）")
    g.add_argument(
        "--roads",
        type=Path,
        metavar="FILE",
        help="道路线图层（.gpkg、.shp），含等级或速度列；给出时按路网计算通行时间（默认：无）",
    )
    g.add_argument("--crs", metavar="CRS", help="乡镇图层缺少坐标系时使用，如 EPSG:4490")


def _add_run_options(sp: argparse.ArgumentParser, *, out: str) -> None:
    g = sp.add_argument_group("运行 / run")
    g.add_argument(
        "--types",
        type=_types_arg,
        metavar="T[,T]",
        help=f"只规划这些机构类型，逗号分隔；可选：{_TYPES_ZH}（默认：数据中有的全部类型）",
    )
    g.add_argument(
        "--tiles",
        metavar="URL",
        help="地图底图的内网瓦片地址模板，如 http://gis.local/{z}/{x}/{y}.png（默认：无底图，离线）",
    )
    g.add_argument(
        "--out", type=Path, default=Path(out), metavar="DIR", help=f"输出文件夹（默认：{out}）"
    )
    _add_verbosity(g)


def _add_verbosity(g: argparse._ActionsContainer) -> None:
    g.add_argument("-q", "--quiet", action="store_true", help="不显示进度，只显示错误和结果摘要")
    g.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="显示开发日志（-v 信息，-vv 调试细节）；默认只显示进度、警告和摘要",
    )


def _add_sweep_parser(sub: Any) -> None:
    """Add ``optimizer sweep``: a grid of scenarios over regions, on Dask."""
    sw = sub.add_parser(
        "sweep",
        help="多方案 × 多地区批量运行（Dask）：sweep.csv、sweep.xlsx、各地区最优、权衡图",
        description="按方案网格文件（YAML）批量运行：参数网格中的每种取值 × 每个地区各运行一次，\n"
        "在本机 Dask 集群或已有的调度器上并行；结果逐个写入 sweep.csv，最后写出\n"
        "sweep.xlsx、各地区最优方案表和权衡图（说明见 docs/sweep.md）。",
        epilog=_SWEEP_EXAMPLES,
        formatter_class=_Help,
    )
    sw.add_argument(
        "spec", type=Path, metavar="YAML", help="方案网格文件，如 scenarios/sweep-cuts.yaml"
    )
    sw.add_argument(
        "--data", type=Path, metavar="DIR", help="数据文件夹（默认：随包附带的合成样例）"
    )
    sw.add_argument("--out", type=Path, required=True, metavar="DIR", help="输出文件夹（必填）")
    sw.add_argument(
        "--scheduler", metavar="tcp://HOST:PORT", help="交给已运行的 Dask 调度器（默认：本机集群）"
    )
    sw.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="本机集群的工作进程数（默认：每个处理器核心一个；0：不用 Dask，在本进程中逐个运行）",
    )
    sw.add_argument("--resume", action="store_true", help="跳过输出文件夹中已完成的运行")
    sw.add_argument(
        "--maps",
        metavar="WHICH",
        help="哪些运行写出 map.html：none、best、all 或逗号分隔的运行编号（默认：网格文件的 maps，否则 none）",
    )
    _add_verbosity(sw)


def _add_explain_parser(sub: Any) -> None:
    """Add ``optimizer explain``: what keeping one closed facility would cost."""
    ep = sub.add_parser(
        "explain",
        help="保留一个被撤并的机构要付出多少代价：钉为保留后重新求解",
        description="把一个方案中撤并的机构钉为保留，重新求解，报告目标值（人口加权距离）增加多少、\n"
        "因此改为撤并的是哪个机构。",
        epilog=_EXPLAIN_EXAMPLES,
        formatter_class=_Help,
    )
    ep.add_argument("--facility", required=True, metavar="ID", help="机构编号（机构表的 id 列）")
    ep.add_argument(
        "--data", type=Path, metavar="DIR", help="数据文件夹（默认：随包附带的合成样例）"
    )
    ep.add_argument(
        "--roads", type=Path, metavar="FILE", help="道路线图层，同 optimizer plan --roads"
    )
    ep.add_argument(
        "--scenario",
        type=Path,
        metavar="YAML",
        help="方案文件（默认：随包的 scenarios/baseline.yaml）",
    )
    ep.add_argument(
        "--time-limit",
        type=float,
        metavar="SECONDS",
        help="两次求解各自的时间上限（秒）（默认：方案文件的 solver.time_limit）",
    )
    _add_verbosity(ep)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="optimizer",
        description="两所一庭布局优化：乡镇撤并后，提出保留、撤并哪些派出所、司法所、人民法庭，\n"
        "各自管辖哪些乡镇，并逐条对照《完善农村司法体系工作方案》（2020）检查。\n"
        "Plan police stations, judicial offices and people's courts after a township merger.",
        epilog=_MAIN_EXAMPLES,
        formatter_class=_Help,
    )
    p.add_argument("--version", action="version", version=f"optimizer {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    pl = sub.add_parser(
        "plan",
        help="提出布局方案，写出 plan.json、CSV、Excel、GeoPackage 和 map.html",
        description="提出一个布局方案：求解每类机构的保留与撤并、各乡镇由谁管辖，检查每条规则，\n"
        "提出人员配置，写出 plan.json、facilities.csv、townships.csv、plan.xlsx、\n"
        "jurisdictions.gpkg 和离线地图 map.html。",
        epilog=_PLAN_EXAMPLES,
        formatter_class=_Help,
    )
    _add_data_options(pl)
    g = pl.add_argument_group("方案 / scenario")
    g.add_argument(
        "--scenario",
        type=Path,
        metavar="YAML",
        help="方案文件（YAML），如 scenarios/cut40.yaml（默认：随包的 scenarios/baseline.yaml，"
        "即工作方案原值）",
    )
    g.add_argument(
        "--solver",
        choices=["highs", "cbc"],
        help="整数规划求解器：highs 或 cbc（默认：方案文件的 solver.solver，否则 highs）",
    )
    g.add_argument(
        "--time-limit",
        type=float,
        metavar="SECONDS",
        help="整个规划的时间上限（秒），所有机构类型共用（默认：方案文件的 solver.time_limit；"
        f"scenarios/baseline.yaml 为 {load_scenario(_baseline()).solver.time_limit:g} 秒）",
    )
    _add_run_options(pl, out="out")

    cp = sub.add_parser(
        "compare",
        help="并排运行两个以上方案文件，写出对比表、图表和同步地图 compare.html",
        description="并排运行两个以上方案文件：写出对比表（CSV、Excel）、逐乡镇差异、图表和\n"
        "同步缩放的对比地图 compare.html，每个方案的完整输出在其子文件夹中。",
        epilog=_COMPARE_EXAMPLES,
        formatter_class=_Help,
    )
    cp.add_argument("scenarios", nargs="+", type=Path, metavar="YAML", help="方案文件（至少两个）")
    _add_data_options(cp)
    cp.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="并行进程数（默认：每个处理器核心一个；1：在本进程中逐个运行）",
    )
    cp.add_argument(
        "--scheduler",
        metavar="tcp://HOST:PORT",
        help="交给已运行的 Dask 调度器（默认：本机集群）",
    )
    _add_run_options(cp, out="out/compare")
    _add_sweep_parser(sub)
    _add_explain_parser(sub)

    sp = sub.add_parser(
        "sample",
        help="在真实四川区划框架内生成合成样例数据（非真实数据）",
        description="在真实的四川区县框架内生成合成（SYNTHETIC）样例数据：乡镇面、人口、警情、\n"
        "案件、现有机构和道路。所有数值均为合成，仅供演示和测试。",
        epilog=_SAMPLE_EXAMPLES,
        formatter_class=_Help,
    )
    sp.add_argument(
        "--counties",
        default="all",
        metavar="CODES",
        help="区县代码或代码前缀，逗号分隔，或 all（全省）（默认：all）",
    )
    sp.add_argument(
        "--seed",
        type=int,
        default=2020,
        metavar="N",
        help="随机种子：同一种子和区县得到逐字节相同的文件（默认：2020）",
    )
    sp.add_argument("--out", type=Path, required=True, metavar="DIR", help="输出文件夹（必填）")
    _add_verbosity(sp)
    return p


_CONSOLE: Console | None = None


def _console() -> Console:
    """Return the stderr console the progress display and the log share (made once)."""
    global _CONSOLE
    if _CONSOLE is None:
        _CONSOLE = Console(stderr=True, highlight=False)
    return _CONSOLE


def _verbosity(args: argparse.Namespace) -> int:
    return -1 if getattr(args, "quiet", False) else int(getattr(args, "verbose", 0) or 0)


def _progress(args: argparse.Namespace) -> AbstractContextManager[Progress]:
    """Return the stage display of a command: none with ``-q``, else one line per stage."""
    if getattr(args, "quiet", False):
        return nullcontext(NO_PROGRESS)
    return TerminalProgress(_console())


def _read(args: argparse.Namespace, progress: Progress, data_dir: Path, prefixes: Any) -> Inputs:
    with progress.stage("read", f"读取数据 {data_dir}") as st:
        inputs = load_inputs(
            data_dir,
            townships=args.townships,
            facilities=args.facilities,
            counties=args.counties,
            township_attributes=args.attributes,
            roads=args.roads,
            crs=args.crs,
            tibetan_prefixes=prefixes,
        )
        st.detail = f"{len(inputs.townships):,} 个乡镇，{len(inputs.facilities):,} 个机构"
    return inputs


def _cmd_plan(args: argparse.Namespace) -> int:
    _check_out(args, PLAN_FILES)
    policy = load_scenario(args.scenario or _baseline())
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
    with _progress(args) as progress:
        inputs = _read(args, progress, data_dir, policy.police.tibetan_prefixes)
        plan = make_plan(inputs, policy, types=args.types, progress=progress)
        written = write_plan(
            plan, args.out, map_tiles=args.tiles, progress=progress, inputs=_input_paths(args)
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


def _cmd_compare(args: argparse.Namespace) -> int:
    if len(args.scenarios) < 2:
        raise PolicyError("give at least two scenario files to compare")
    _check_out(args, COMPARE_FILES)
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
    with _progress(args) as progress:
        for pol in policies:  # scenarios may read the 涉藏地区 differently
            key = pol.police.tibetan_prefixes
            if key not in cache:
                cache[key] = _read(args, progress, data_dir, key)
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


def _cmd_explain(args: argparse.Namespace) -> int:
    policy = load_scenario(args.scenario or _baseline())
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


def _cmd_sweep(args: argparse.Namespace) -> int:
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


def _cmd_sample(args: argparse.Namespace) -> int:
    _check_out(args, ())
    sample = build_sample(args.counties, seed=args.seed)
    written = write_sample(sample, args.out)
    n = len(sample.townships)
    print(
        f"wrote a SYNTHETIC sample of {n:,} townships (seed {args.seed}) to {args.out}: "
        + ", ".join(p.name for p in written)
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 for bad data, policy or an infeasible scenario, 3 for a solver failure.
    """
    parser = _parser()
    args = parser.parse_args(argv)
    bad = _argument_problems(args)
    if bad:
        parser.exit(2, "".join(f"optimizer {args.command}: error: {b}\n" for b in bad))
    _setup_logging(_verbosity(args), _console())
    with _sigterm_as_interrupt():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    """Run one command and turn every expected failure into a message and an exit code."""
    try:
        if args.command == "plan":
            return _cmd_plan(args)
        if args.command == "compare":
            return _cmd_compare(args)
        if args.command == "explain":
            return _cmd_explain(args)
        if args.command == "sweep":
            return _cmd_sweep(args)
        return _cmd_sample(args)
    except (DataError, PolicyError, InfeasibleError, OutputError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        print("nothing was written.", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        print(f"error: cannot read or write{where}: {exc.strerror or exc}", file=sys.stderr)
        print("nothing was written.", file=sys.stderr)
        return 2
    except SolverError as exc:
        print(f"solver error: {exc}", file=sys.stderr)
        return 3
    except OptimizerError as exc:  # pragma: no cover - every subclass is handled above
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(
            "interrupted; nothing half-written was left: the output folder holds the previous "
            "or the new complete files.",
            file=sys.stderr,
        )
        return 130


_TIME_LIMIT_MAX = 7 * 24 * 3600.0


def _argument_problems(args: argparse.Namespace) -> list[str]:
    """Return one message per command-line value that cannot be used (before any work)."""
    problems = []
    limit = getattr(args, "time_limit", None)
    if limit is not None and not (math.isfinite(limit) and 0 < limit <= _TIME_LIMIT_MAX):
        problems.append(
            f"--time-limit {limit}: give seconds, a number above 0 and at most "
            f"{_TIME_LIMIT_MAX:.0f} (7 days), e.g. --time-limit 300"
        )
    workers = getattr(args, "workers", None)
    least = 0 if args.command == "sweep" else 1  # sweep --workers 0: in this process, no Dask
    if workers is not None and workers < least:
        problems.append(
            f"--workers {workers}: give {least} or more processes (default: one per core)"
        )
    return problems


def _input_paths(args: argparse.Namespace) -> list[Path]:
    """Every input path of the command: data folder, explicit files, roads, scenario files."""
    paths: list[Path] = []
    for name in ("data", "townships", "attributes", "facilities", "counties", "roads"):
        value = getattr(args, name, None)
        if isinstance(value, Path):
            paths.append(value)
    if args.command in ("plan", "compare") and not paths:
        paths.append(bundled_sample())
    scenarios = list(getattr(args, "scenarios", None) or [])
    if getattr(args, "scenario", None):
        scenarios.append(args.scenario)
    for path in scenarios:
        paths += _scenario_chain(Path(path))
    return paths


def _scenario_chain(path: Path) -> list[Path]:
    """Return a scenario file and the files it extends (``base:``); refuse one not in UTF-8."""
    import yaml

    chain: list[Path] = []
    while path.is_file() and path.resolve() not in chain and len(chain) < 50:
        chain.append(path.resolve())
        try:
            data = yaml.safe_load(path.read_bytes().decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise PolicyError(
                f"{path}: not UTF-8 text (byte {exc.start}); save the scenario file as UTF-8"
            ) from exc
        except yaml.YAMLError:
            break  # load_scenario reports it with the line
        base = data.get("base") if isinstance(data, dict) else None
        if base is None:
            break
        path = path.parent / str(base)
    return chain


def _check_out(args: argparse.Namespace, files: Sequence[str]) -> None:
    """Refuse, before any work, an --out that is an input or cannot take the files."""
    inputs = _input_paths(args)
    problems = input_overlap(args.out, inputs) + destination_problems(args.out, files)
    if problems:
        raise OutputError(problems)


class _sigterm_as_interrupt:
    """Turn SIGTERM into KeyboardInterrupt during a command, so temporary files are removed."""

    def __enter__(self) -> None:
        self._old: object = None
        try:
            self._old = signal.signal(signal.SIGTERM, self._raise)
        except ValueError:  # not the main thread: leave signals alone
            pass

    @staticmethod
    def _raise(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    def __exit__(self, *exc: object) -> None:
        if self._old is not None:
            signal.signal(signal.SIGTERM, self._old)  # type: ignore[arg-type]


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
