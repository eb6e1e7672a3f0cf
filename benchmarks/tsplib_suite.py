"""The TSPLIB p-median suite: ours, pbp-pmedian and (where it fits) spopt, side by side.

Run from the repository root (``python benchmarks/run.py --suite tsplib [options]``, which
calls :func:`main`; see benchmarks/README.md). Every solve runs in its own subprocess, ours and
the peer alternately instance by instance, so both see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import tsplib  # noqa: E402

DEFAULT_MAX_N = 3038
TARGET_SECONDS = 60.0
HARD = {("fl1400", 300), ("fl1400", 400), ("u1432", 50)}  # hours for the published method
TARGET_HARD_SECONDS = 600.0
# spopt builds n² + n binaries; measured on pmed40 (n = 900): 4.3 GB, so about 5.3 kB a pair
SPOPT_BYTES_PER_PAIR = 5300.0


def select(rows: list[tsplib.Row], text: str, max_n: int) -> list[tsplib.Row]:
    """``all`` (n ≤ ``max_n``), or a comma list of ``name`` or ``name-pP`` (e.g. rl1304-p200)."""
    t = text.strip().lower()
    if t in ("", "all"):
        return [r for r in rows if r.n <= max_n]
    out: list[tsplib.Row] = []
    for part in t.split(","):
        m = re.fullmatch(r"([a-z]+\d+)(?:-p(\d+))?", part.strip())
        if not m:
            raise SystemExit(f"bad selection {part!r}: use e.g. rl1304,fl1400-p200 or all")
        hit = [
            r
            for r in rows
            if r.instance == m.group(1) and (not m.group(2) or r.p == int(m.group(2)))
        ]
        if not hit:
            raise SystemExit(f"{part!r} is not in optimal.csv")
        out += [r for r in hit if r not in out]
    return out


# --------------------------------------------------------------------------------------------
# workers (inside the child process)


def _load(args: argparse.Namespace) -> tuple[Any, int]:
    xy = tsplib.coordinates(args.instance, args.tsplib_dir)
    return tsplib.dense_costs(xy), int(args.p)


def worker_ours(args: argparse.Namespace) -> None:
    import numpy as np

    t0 = time.perf_counter()
    costs, p = _load(args)
    load_s = time.perf_counter() - t0
    import optimizer

    options: dict[str, Any] = {"time_limit": args.time_limit, "gap": 0.0}
    if args.method:
        options["method"] = args.method
    t0 = time.perf_counter()
    r = optimizer.p_median(costs, p, **options)
    wall = time.perf_counter() - t0
    assign = np.asarray(r.assignment, dtype=np.int64)
    opened = np.asarray(r.open_sites, dtype=np.int64)
    recomputed = float(costs[np.arange(len(costs)), assign].sum()) if len(assign) else None
    valid = bool(
        len(assign) == len(costs)
        and len(opened) == p
        and np.isin(assign, opened).all()
        and recomputed is not None
        and abs(recomputed - r.objective) <= 1e-6 * max(1.0, abs(r.objective))
    )
    print(
        json.dumps(
            {
                "status": str(r.status),
                "objective": r.objective,
                "bound": r.bound,
                "valid": valid,
                "seconds": wall,
                "load_seconds": load_s,
                "solver": r.solver,
                "formulation": r.formulation,
                "nodes": r.nodes,
                "rounds": r.rounds,
            },
            default=float,
        )
    )


def worker_pbp(args: argparse.Namespace) -> None:
    import pbp_pmedian

    costs, p = _load(args)
    t0 = time.perf_counter()
    value, sites, _secs, status, engine = pbp_pmedian.solve(costs, p, time_limit=args.peer_timeout)
    wall = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "status": "optimal" if status == 0 and value is not None else f"status {status}",
                "objective": value,
                "seconds": wall,
                "engine": engine,
                "n_open": None if sites is None else len(sites),
            },
            default=float,
        )
    )


def worker_spopt(args: argparse.Namespace) -> None:
    import numpy as np
    import pulp
    from spopt.locate import PMedian

    costs, p = _load(args)
    t0 = time.perf_counter()
    model = PMedian.from_cost_matrix(costs, np.ones(len(costs)), p)
    model.solve(pulp.HiGHS(msg=False, timeLimit=args.peer_timeout), results=False)
    prob = model.problem
    proven = prob.status == pulp.LpStatusOptimal and prob.sol_status == pulp.LpSolutionOptimal
    print(
        json.dumps(
            {
                "status": "optimal" if proven else pulp.LpStatus.get(prob.status, str(prob.status)),
                "objective": pulp.value(prob.objective),
                "seconds": time.perf_counter() - t0,
            },
            default=float,
        )
    )


# --------------------------------------------------------------------------------------------
# the driver


def limit_of(args: argparse.Namespace, row: tsplib.Row) -> float:
    """Our time limit for ``row``: ``--time-limit``, else its target (60 s, 600 s if hard)."""
    if args.time_limit is not None:
        return float(args.time_limit)
    return TARGET_HARD_SECONDS if (row.instance, row.p) in HARD else TARGET_SECONDS


def child_cmd(args: argparse.Namespace, kind: str, row: tsplib.Row) -> list[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind]
    cmd += ["--instance", row.instance, "--p", str(row.p), "--tsplib-dir", str(args.tsplib_dir)]
    cmd += ["--time-limit", str(limit_of(args, row)), "--peer-timeout", str(args.peer_timeout)]
    if args.method:
        cmd += ["--method", args.method]
    return cmd


def run_one(args: argparse.Namespace, kind: str, row: tsplib.Row, timeout: float) -> dict[str, Any]:
    import run as driver

    r = driver.run_child(child_cmd(args, kind, row), timeout=timeout)
    res = driver.child_result(r) or {}
    out = {
        "status": res.get("status", "timeout" if r["timed_out"] else "error"),
        "objective": res.get("objective"),
        "bound": res.get("bound"),
        "seconds": res.get("seconds", r["wall"] if r["timed_out"] else None),
        "process_seconds": r["wall"],
        "peak_mb": r["peak_mb"],
        **{k: res.get(k) for k in ("solver", "formulation", "nodes", "engine", "valid")},
    }
    if not res:
        out["error"] = driver.last_line(r["stderr"])
    obj = out["objective"]
    out["matches"] = obj is not None and round(obj) == row.optimum
    return out


def proven_ours(o: dict[str, Any], row: tsplib.Row) -> bool:
    b = o.get("bound")
    return bool(
        o["status"] == "optimal"
        and o["matches"]
        and o.get("valid")
        and b is not None
        and b >= row.optimum - 1e-6
    )


def fmt(x: Any, spec: str = "{:.1f}") -> str:
    if x is None:
        return "–"
    try:
        return spec.format(x)
    except (ValueError, TypeError):
        return str(x)


def markdown(res: dict[str, Any]) -> str:
    lines = [
        "# TSPLIB p-median benchmark",
        "",
        f"{res['started']} · git {res['git']} · {res['cpu_count']} CPUs · "
        f"`uptime` at start: {res['uptime_start']} · at end: {res.get('uptime_end')}",
        f"Command: `{res['command']}`; ours `time_limit="
        f"{'60 (600 for the hard three)' if res['time_limit'] is None else res['time_limit']}, gap=0`"
        f"{', method=' + res['method'] if res['method'] else ''}; pbp-pmedian "
        f"{res['pbp_version']} `solve(C, p, time_limit={res['peer_timeout']:g})`.",
        "",
        "| instance | p | optimum | published s | ours | status | bound | proven | method | "
        "nodes | seconds | peak MB | target | pbp-pmedian s | pbp status | pbp MB | pbp/ours | "
        "spopt |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | :---: | --- | ---: | ---: | ---: | "
        ":---: | ---: | --- | ---: | ---: | --- |",
    ]
    for r in res["rows"]:
        o, q = r["ours"], r.get("pbp") or {}
        ratio = r.get("ratio")
        lines.append(
            f"| {r['instance']} | {r['p']} | {r['optimum']} | {r['published_seconds']:g} | "
            f"{fmt(o['objective'], '{:.0f}')} | {o['status']} | {fmt(o.get('bound'), '{:.0f}')} | "
            f"{'yes' if r['proven'] else 'no'} | {o.get('formulation') or '–'} | "
            f"{fmt(o.get('nodes'), '{:,}')} | {fmt(o['seconds'], '{:.2f}')} | "
            f"{fmt(o['peak_mb'], '{:.0f}')} | {'✅' if r['target_met'] else '❌'} | "
            f"{fmt(q.get('seconds'), '{:.2f}')} | {q.get('status', 'not run')}"
            f"{'' if not q or q.get('matches') or q.get('objective') is None else ' (wrong value)'} | "
            f"{fmt(q.get('peak_mb'), '{:.0f}')} | "
            f"{('>' if q and q.get('status') != 'optimal' else '') + fmt(ratio, '{:.1f}×') if ratio else '–'} | "
            f"{r.get('spopt', '–')} |"
        )
    s = res["summary"]
    lines += [
        "",
        f"- proven optimal within the target (60 s; 600 s for fl1400 p=300/400 and u1432 p=50): "
        f"{s['met']}/{s['run']}" + (f"; missed: {', '.join(s['missed'])}" if s["missed"] else ""),
        f"- faster than pbp-pmedian (its time / ours > 1; unfinished peer runs count at their "
        f"limit): {s['faster']}/{s['compared']}"
        + (f"; not faster: {', '.join(s['slower'])}" if s["slower"] else ""),
        "",
    ]
    return "\n".join(lines)


def summarise(res: dict[str, Any]) -> dict[str, Any]:
    rows = res["rows"]
    missed = [f"{r['instance']} p={r['p']}" for r in rows if not r["target_met"]]
    cmp = [r for r in rows if r.get("ratio") is not None]
    slower = [f"{r['instance']} p={r['p']} ({r['ratio']:.2f}×)" for r in cmp if r["ratio"] <= 1.0]
    return {
        "run": len(rows),
        "met": len(rows) - len(missed),
        "missed": missed,
        "compared": len(cmp),
        "faster": len(cmp) - len(slower),
        "slower": slower,
    }


def uptime() -> str:
    la = os.getloadavg()
    return f"load average {la[0]:.2f}, {la[1]:.2f}, {la[2]:.2f}"


def drive(args: argparse.Namespace) -> int:
    import subprocess

    rows = select(tsplib.table(args.tsplib_dir), args.instances, args.max_n)
    have_pbp = args.peer
    pbp_version = None
    if have_pbp:
        try:
            from importlib import metadata

            pbp_version = metadata.version("pbp-pmedian")
        except Exception:
            raise SystemExit(
                "pbp-pmedian is not installed: pip install -e '.[bench]' (or pass --no-peer)"
            ) from None
    git = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=HERE.parent, capture_output=True, text=True
    ).stdout.strip()
    res: dict[str, Any] = {
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join(["python", *sys.argv]),
        "git": git,
        "cpu_count": os.cpu_count(),
        "uptime_start": uptime(),
        "time_limit": args.time_limit,
        "peer_timeout": args.peer_timeout,
        "method": args.method,
        "pbp_version": pbp_version,
        "rows": [],
    }
    args.out.mkdir(parents=True, exist_ok=True)
    mem_total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    for row in rows:
        hard = (row.instance, row.p) in HARD
        limit = TARGET_HARD_SECONDS if hard else TARGET_SECONDS
        ours = run_one(args, "ours", row, timeout=2 * limit_of(args, row) + 120)
        out: dict[str, Any] = {**row.__dict__, "ours": ours}
        out["proven"] = proven_ours(ours, row)
        out["target_met"] = bool(
            out["proven"] and ours["seconds"] is not None and ours["seconds"] <= limit
        )
        if have_pbp:
            q = run_one(args, "pbp", row, timeout=args.peer_timeout + 120)
            out["pbp"] = q
            if q.get("seconds") and ours.get("seconds") and out["proven"]:
                out["ratio"] = q["seconds"] / ours["seconds"]
        est = SPOPT_BYTES_PER_PAIR * row.n * row.n
        if args.spopt and est < args.spopt_max_gb * 2**30 and est < 0.5 * mem_total:
            sp = run_one(args, "spopt", row, timeout=args.peer_timeout + 60)
            out["spopt"] = f"{sp['status']} {fmt(sp['seconds'], '{:.1f}')} s {sp['peak_mb']:.0f} MB"
        else:
            out["spopt"] = f"not run: needs ≈{est / 2**30:.0f} GB"
        res["rows"].append(out)
        q = out.get("pbp") or {}
        print(
            f"{row.instance:>8} p={row.p:<4} ours {ours['status']:<9} {fmt(ours['objective'], '{:.0f}')}"
            f" (opt {row.optimum}) {fmt(ours['seconds'], '{:.2f}')} s {ours['peak_mb']:.0f} MB "
            f"{'OK' if out['target_met'] else 'MISSED'} {ours.get('formulation')}"
            + (f" | pbp {q.get('status')} {fmt(q.get('seconds'), '{:.2f}')} s" if q else "")
            + (f"  [{ours['error']}]" if ours.get("error") else ""),
            flush=True,
        )
        res["uptime_end"] = uptime()
        res["summary"] = summarise(res)
        (args.out / "tsplib.json").write_text(json.dumps(res, indent=2, default=str))
        (args.out / "tsplib.md").write_text(markdown(res))
    res["uptime_end"] = uptime()
    res["summary"] = summarise(res)
    (args.out / "tsplib.json").write_text(json.dumps(res, indent=2, default=str))
    (args.out / "tsplib.md").write_text(markdown(res))
    print()
    print(markdown(res))
    print(f"written: {args.out / 'tsplib.md'} and tsplib.json")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--instances",
        default="all",
        help="all (n ≤ --max-n) or e.g. rl1304,fl1400-p200 (default all)",
    )
    ap.add_argument("--max-n", type=int, default=DEFAULT_MAX_N, help="n of 'all' (3038)")
    ap.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="ours per instance, s (default: the target, 60; 600 for fl1400 p=300/400, u1432 p=50)",
    )
    ap.add_argument(
        "--peer-timeout",
        type=float,
        default=300.0,
        help="pbp-pmedian's (and spopt's) limit per instance, s (300)",
    )
    ap.add_argument("--method", default=None, help="force our method (auto, tree, dense, mip)")
    ap.add_argument("--no-peer", dest="peer", action="store_false", help="skip pbp-pmedian")
    ap.add_argument(
        "--spopt",
        action="store_true",
        help="also run spopt + HiGHS where its model fits (see --spopt-max-gb)",
    )
    ap.add_argument(
        "--spopt-max-gb",
        type=float,
        default=6.0,
        help="run spopt only where its estimated memory is below this (6)",
    )
    ap.add_argument("--tsplib-dir", type=Path, default=tsplib.DEFAULT_TSPLIB_DIR)
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--worker", choices=["ours", "pbp", "spopt"], help=argparse.SUPPRESS)
    ap.add_argument("--instance", help=argparse.SUPPRESS)
    ap.add_argument("--p", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        {"ours": worker_ours, "pbp": worker_pbp, "spopt": worker_spopt}[args.worker](args)
        return 0
    return drive(args)


if __name__ == "__main__":
    sys.exit(main())
