"""The argument parser of every command, with its Chinese help and examples."""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from rich.cells import cell_len

from optimizer import __version__
from optimizer.cli.common import (
    baseline_scenario,
)
from optimizer.rules import load_scenario
from optimizer.schema import FACILITY_LABELS_ZH, FACILITY_TYPES

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


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of every command, with its Chinese help and examples."""
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
        f"scenarios/baseline.yaml 为 {load_scenario(baseline_scenario()).solver.time_limit:g} 秒）",
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
