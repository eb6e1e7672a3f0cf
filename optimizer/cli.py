"""The command line: ``optimizer plan``, ``compare``, ``sweep`` and ``sample``.

Bad input ends with one readable message that lists every problem, exit code 2, and no output
files; a solver failure exits with 3. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from optimizer import __version__
from optimizer.errors import DataError, InfeasibleError, OptimizerError, PolicyError, SolverError
from optimizer.inputs import load_inputs
from optimizer.outputs import write_plan
from optimizer.paths import sample_dir
from optimizer.pipeline import make_plan
from optimizer.report import Plan
from optimizer.rules import Policy, load_scenario
from optimizer.sample import build_sample, write_sample
from optimizer.scenarios import compare_table, run_scenarios, write_comparison
from optimizer.sweep import load_sweep, run_sweep

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


def _setup_logging(verbosity: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Elapsed())
    root = logging.getLogger("optimizer")
    root.handlers[:] = [handler]
    root.setLevel(
        logging.WARNING if verbosity < 0 else logging.INFO if verbosity == 0 else logging.DEBUG
    )
    root.propagate = False


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="optimizer",
        description="Plan police stations, judicial offices and people's courts after a township merger "
        "(Sichuan 2020 work plan, 完善农村司法体系工作方案).",
    )
    p.add_argument("--version", action="version", version=f"optimizer {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    pl = sub.add_parser(
        "plan", help="propose a layout and write plan.json, CSV, Excel, GeoPackage and map.html"
    )
    pl.add_argument(
        "--data",
        type=Path,
        help="folder with townships.*, facilities.* and optionally counties.* "
        "(default: the bundled synthetic sample)",
    )
    pl.add_argument("--townships", type=Path, help="township polygons (.gpkg, .shp, .geojson)")
    pl.add_argument(
        "--attributes", type=Path, help="township attributes (.csv/.xlsx) joined by code"
    )
    pl.add_argument("--facilities", type=Path, help="current facilities (.csv, .xlsx, .gpkg)")
    pl.add_argument("--counties", type=Path, help="county figures (.csv, .xlsx)")
    pl.add_argument(
        "--roads", type=Path, help="road lines (.gpkg, .shp) with a class or speed column"
    )
    pl.add_argument("--crs", help="CRS of township polygons that lack one, e.g. EPSG:4490")
    pl.add_argument(
        "--scenario", type=Path, help="scenario file (YAML) overriding the plan's defaults"
    )
    pl.add_argument("--types", help="comma-separated facility types to plan (default: all present)")
    pl.add_argument("--solver", choices=["highs", "cbc"], help="MIP solver (default: highs)")
    pl.add_argument("--time-limit", type=float, help="seconds per facility type")
    pl.add_argument(
        "--tiles", help="tile URL template of an office tile server for the map (default: none)"
    )
    pl.add_argument("--out", type=Path, default=Path("out"), help="output folder (default: ./out)")
    pl.add_argument("-q", "--quiet", action="store_true", help="only warnings and the summary")

    cp = sub.add_parser(
        "compare",
        help="run two or more scenario files and write comparison tables, charts and compare.html",
    )
    cp.add_argument("scenarios", nargs="+", type=Path, help="scenario files (YAML), at least two")
    for flag in ("--data", "--townships", "--attributes", "--facilities", "--counties", "--roads"):
        cp.add_argument(flag, type=Path, help=f"as for 'optimizer plan {flag}'")
    cp.add_argument("--crs", help="CRS of township polygons that lack one, e.g. EPSG:4490")
    cp.add_argument("--types", help="comma-separated facility types to plan (default: all present)")
    cp.add_argument("--workers", type=int, help="parallel processes (default: one per core)")
    cp.add_argument("--scheduler", help="address of a running Dask scheduler, tcp://HOST:PORT")
    cp.add_argument("--tiles", help="tile URL template of an office tile server for the maps")
    cp.add_argument("--out", type=Path, default=Path("out/compare"), help="output folder")
    cp.add_argument("-q", "--quiet", action="store_true", help="only warnings and the summary")

    sw = sub.add_parser(
        "sweep",
        help="run a grid of scenarios over regions on Dask: sweep.csv/xlsx, best runs, charts",
    )
    sw.add_argument("spec", type=Path, help="sweep file (YAML), e.g. scenarios/sweep-cuts.yaml")
    sw.add_argument("--data", type=Path, help="data folder (default: the bundled synthetic sample)")
    sw.add_argument("--out", type=Path, required=True, help="sweep folder")
    sw.add_argument("--scheduler", help="address of a running Dask scheduler, tcp://HOST:PORT")
    sw.add_argument(
        "--workers", type=int, help="local worker processes (default: one per core; 0: no Dask)"
    )
    sw.add_argument("--resume", action="store_true", help="skip the runs the folder holds finished")
    sw.add_argument(
        "--maps", help="runs that get map.html: none, best, all or run ids, comma-separated"
    )
    sw.add_argument("-q", "--quiet", action="store_true", help="only warnings and the summary")

    sp = sub.add_parser("sample", help="write a SYNTHETIC sample inside the real Sichuan frame")
    sp.add_argument(
        "--counties", default="all", help="county codes or prefixes, comma-separated, or 'all'"
    )
    sp.add_argument("--seed", type=int, default=2020)
    sp.add_argument("--out", type=Path, required=True, help="output folder")
    sp.add_argument("-q", "--quiet", action="store_true")
    return p


def _cmd_plan(args: argparse.Namespace) -> int:
    policy = load_scenario(args.scenario) if args.scenario else Policy()
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
    if not args.data and not explicit:
        logger.info("no data given: planning the bundled SYNTHETIC sample in %s", data_dir)
    inputs = load_inputs(
        data_dir,
        townships=args.townships,
        facilities=args.facilities,
        counties=args.counties,
        township_attributes=args.attributes,
        roads=args.roads,
        crs=args.crs,
        tibetan_prefixes=policy.police.tibetan_prefixes,
    )
    types = [t.strip() for t in args.types.split(",")] if args.types else None
    plan = make_plan(inputs, policy, types=types)
    written = write_plan(plan, args.out, map_tiles=args.tiles)
    print(_summary(plan, args.out, written))
    return 0


def _summary(plan: Plan, out: Path, written: Sequence[Path]) -> str:
    lines = [
        f"scenario: {plan.policy.name}" + ("  (SYNTHETIC sample data)" if plan.synthetic else "")
    ]
    for t in plan.types:
        m, s = plan.metrics[t], plan.solver[t]
        lines.append(
            f"{t}: {m.before.count} -> {m.after.count} ({m.reduction:.1%} fewer), "
            f"{m.central} central, mean distance {m.before.mean_distance_km:.1f} -> "
            f"{m.after.mean_distance_km:.1f} km; solver {s.status}, gap {s.gap:.4%}, {s.seconds:.1f} s"
        )
    for c in plan.checks:
        mark = "PASS" if c.passed else "FAIL"
        extra = (
            f" ({len(c.exceptions)} exception(s) explained)" if c.exceptions and c.passed else ""
        )
        lines.append(
            f"  [{mark}] clause {c.clause}: {c.rule.split(' / ')[-1]}: target {c.target}, actual {c.actual}{extra}"
        )
    lines.append(f"wrote {len(written)} files to {out}: {', '.join(p.name for p in written)}")
    return "\n".join(lines)


def _cmd_compare(args: argparse.Namespace) -> int:
    if len(args.scenarios) < 2:
        raise PolicyError("give at least two scenario files to compare")
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
    cache: dict[tuple[str, ...], object] = {}
    per = []
    for pol in policies:  # scenarios may read the 涉藏地区 differently
        key = pol.police.tibetan_prefixes
        if key not in cache:
            cache[key] = load_inputs(
                data_dir,
                townships=args.townships,
                facilities=args.facilities,
                counties=args.counties,
                township_attributes=args.attributes,
                roads=args.roads,
                crs=args.crs,
                tibetan_prefixes=key,
            )
        per.append(cache[key])
    types = [t.strip() for t in args.types.split(",")] if args.types else None
    plans = run_scenarios(
        per,  # type: ignore[arg-type]
        policies,
        workers=args.workers,
        types=types,
        scheduler=args.scheduler,
    )
    written = write_comparison(plans, args.out, map_tiles=args.tiles)
    table = compare_table(plans)
    short = {
        "kept": "kept",
        "reduction": "cut",
        "mean_distance_km": "mean km",
        "max_distance_km": "max km",
        "changed_townships": "changed",
    }
    view = table[["scenario"]].copy()
    for col in table.columns:
        what, _, ftype = col.partition("__")
        if what in short:
            label = short[what] if len(plans[0].types) == 1 else f"{short[what]} {ftype}"
            value = table[col].map("{:.1%}".format) if what == "reduction" else table[col]
            view[label] = value.round(1) if "km" in what else value
    for col in ("exceptions", "failed_checks", "solver_status"):
        view[col] = table[col]
    import pandas as pd

    with pd.option_context("display.width", 200, "display.unicode.east_asian_width", True):
        print(view.to_string(index=False))
    print(f"wrote {len(written)} items to {args.out}: {', '.join(p.name for p in written)}")
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
    args = _parser().parse_args(argv)
    _setup_logging(-1 if getattr(args, "quiet", False) else 0)
    try:
        if args.command == "plan":
            return _cmd_plan(args)
        if args.command == "compare":
            return _cmd_compare(args)
        if args.command == "sweep":
            return _cmd_sweep(args)
        return _cmd_sample(args)
    except (DataError, PolicyError, InfeasibleError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        print("nothing was written.", file=sys.stderr)
        return 2
    except SolverError as exc:
        print(f"solver error: {exc}", file=sys.stderr)
        return 3
    except OptimizerError as exc:  # pragma: no cover - every subclass is handled above
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; nothing was written.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
