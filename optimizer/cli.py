"""The command line: ``optimizer plan``, ``compare``, ``sweep`` and ``sample``.

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
from pathlib import Path

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
from optimizer.inputs import load_inputs
from optimizer.outputs import write_plan
from optimizer.outputs.files import PLAN_FILES, destination_problems, input_overlap
from optimizer.paths import sample_dir
from optimizer.pipeline import make_plan
from optimizer.report import Plan
from optimizer.rules import Policy, load_scenario
from optimizer.sample import build_sample, write_sample
from optimizer.scenarios import COMPARE_FILES, compare_table, run_scenarios, write_comparison
from optimizer.schema import POLICE
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

    ep = sub.add_parser(
        "explain", help="what keeping a closed facility would cost: pin it open and re-solve"
    )
    ep.add_argument("--facility", required=True, help="facility id (column id)")
    for flag in ("--data", "--roads", "--scenario"):
        ep.add_argument(flag, type=Path, help=f"as for 'optimizer plan {flag}'")
    ep.add_argument("--time-limit", type=float, help="seconds for each of the two plans")
    ep.add_argument("-q", "--quiet", action="store_true", help="only warnings and the result")
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
    _check_out(args, PLAN_FILES)
    policy = load_scenario(args.scenario) if args.scenario else Policy()
    overrides: dict[str, object] = {}
    if args.solver:
        overrides["solver"] = args.solver
    if args.time_limit is not None:
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
    args.township_names = dict(zip(inputs.townships["code"], inputs.townships["name"], strict=True))
    plan = make_plan(inputs, policy, types=types)
    written = write_plan(plan, args.out, map_tiles=args.tiles, inputs=_input_paths(args))
    print(_summary(plan, args.out, written))
    return 0


def _summary(plan: Plan, out: Path, written: Sequence[Path]) -> str:
    lines = [
        f"scenario: {plan.policy.name}" + ("  (SYNTHETIC sample data)" if plan.synthetic else "")
    ]
    for t in plan.types:
        m, s = plan.metrics[t], plan.solver[t]
        central = f"{m.central} central (中心派出所), " if t == POLICE else ""
        lines.append(
            f"{t}: {m.before.count} -> {m.after.count} ({m.reduction:.1%} fewer), "
            f"{central}mean distance {m.before.mean_distance_km:.1f} -> "
            f"{m.after.mean_distance_km:.1f} km; solver {s.status}, gap {s.gap:.4%}, {s.seconds:.1f} s"
        )
    marks = {"met": "MET", "exceptions": "EXCEPTIONS", "not_met": "NOT MET"}
    for c in plan.checks:
        extra = f" ({len(c.exceptions)} exception(s) listed)" if c.exceptions else ""
        extra += f" ({len(c.violations)} violation(s))" if c.violations else ""
        rule = c.rule.split(" / ")[-1]
        lines.append(
            f"  [{marks[c.status]}] clause {c.clause}: {rule}: target {c.target}, "
            f"actual {c.actual}{extra}"
        )
    n = plan.outcome_counts()
    lines.append(
        f"checks: {n['met']} met, {n['exceptions']} met with listed exceptions, {n['not_met']} not met"
        f" (规则检查：{n['met']}项符合，{n['exceptions']}项有例外，{n['not_met']}项未达到)"
    )
    lines.append(f"wrote {len(written)} files to {out}: {', '.join(p.name for p in written)}")
    return "\n".join(lines)


def _cmd_explain(args: argparse.Namespace) -> int:
    policy = load_scenario(args.scenario) if args.scenario else Policy()
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
    _setup_logging(-1 if getattr(args, "quiet", False) else 0)
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
        if isinstance(exc, InfeasibleError):
            exc = InfeasibleError(
                [_planner_terms(p, getattr(args, "township_names", {})) for p in exc.problems]
            )
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

_GROUP = re.compile(r"group (town|exc|scope)_(\S+?):")


def _planner_terms(problem: str, names: dict[str, str]) -> str:
    """Say a model block in the planner's words: ``group town_513201206`` -> the township."""

    def say(m: re.Match[str]) -> str:
        kind, key = m.group(1), m.group(2)
        if kind == "town":
            name = names.get(key)
            return f"township {key}{f' {name}' if name else ''} (one kept unit at most):"
        if kind == "exc":
            return f"county {key} (townships below the clause-4 threshold):"
        return f"count limit of {key} (1 - reduction of today's units):"

    text = _GROUP.sub(say, problem)
    return text.replace("sites pinned open", "units pinned to stay open").replace(
        "may open", "may stay open"
    )


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
