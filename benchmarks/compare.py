"""Time this checkout's solver against an earlier commit's, instance by instance, alternately.

    python benchmarks/compare.py --base 9e0abc8                     # pmed1-40
    python benchmarks/compare.py --base 9e0abc8 --tsplib rl1304-p200,fl1400-p100
    python benchmarks/compare.py --base 9e0abc8 --instances none --plan /work/prov

The base commit's ``optimizer`` package is extracted with ``git archive`` into a temporary
folder and put first on ``PYTHONPATH`` of its child processes; the same worker of run.py (or
tsplib_suite.py) then times ``p_median`` for the base and for this checkout, one after the other
for each instance, so both see the same machine load. ``--plan DATA`` also times
``optimizer plan --data DATA --types police_station`` both ways (whole command, in its own process).
The ratio is base seconds / our seconds (above 1: we are faster).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as driver  # noqa: E402


def extract(rev: str, into: Path) -> Path:
    """Extract ``optimizer/`` of commit ``rev`` into ``into``; return that folder."""
    data = subprocess.run(
        ["git", "archive", rev, "optimizer"], cwd=HERE.parent, capture_output=True, check=True
    ).stdout
    tar = into / "base.tar"
    tar.write_bytes(data)
    with tarfile.open(tar) as t:
        t.extractall(into, filter="data")
    return into


def timed(cmd: list[str], base: Path | None, timeout: float) -> dict[str, Any]:
    env = dict(os.environ)
    if base is not None:
        env["PYTHONPATH"] = str(base) + os.pathsep + env.get("PYTHONPATH", "")
    old = os.environ.copy()
    os.environ.clear()
    os.environ.update(env)
    try:
        r = driver.run_child(cmd, timeout=timeout)
    finally:
        os.environ.clear()
        os.environ.update(old)
    res = driver.child_result(r) or {}
    if r["returncode"] != 0:
        print(driver.last_line(r["stdout"] + r["stderr"]), file=sys.stderr)
    return {
        "seconds": res.get("solve_wall", res.get("seconds")),
        "wall": r["wall"],
        "status": res.get("status"),
        "objective": res.get("objective"),
        "peak_mb": r["peak_mb"],
        "rc": r["returncode"],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--base", required=True, help="the commit to compare against")
    ap.add_argument("--instances", default="all", help="pmed instances (run.py's syntax)")
    ap.add_argument("--tsplib", default="", help="TSPLIB rows (tsplib_suite.py's syntax)")
    ap.add_argument("--plan", type=Path, default=None, help="province data for the police plan")
    ap.add_argument("--scenario", type=Path, default=None, help="scenario file for --plan")
    ap.add_argument("--time-limit", type=float, default=60.0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="solver-base-"))
    base = extract(args.base, tmp)
    print(f"base {args.base} in {base}; load {os.getloadavg()[0]:.2f}", flush=True)
    rows: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    for name in driver.parse_selection(args.instances):
        cmd = [
            sys.executable,
            str(HERE / "run.py"),
            "--worker",
            "ours",
            "--instance",
            name,
            "--time-limit",
            str(args.time_limit),
            "--gap",
            "0",
        ]
        rows.append(
            (name, timed(cmd, base, 3 * args.time_limit), timed(cmd, None, 3 * args.time_limit))
        )
        print_row(*rows[-1])
    if args.tsplib:
        import tsplib
        import tsplib_suite

        for row in tsplib_suite.select(tsplib.table(), args.tsplib, 10**9):
            cmd = [
                sys.executable,
                str(HERE / "tsplib_suite.py"),
                "--worker",
                "ours",
                "--instance",
                row.instance,
                "--p",
                str(row.p),
                "--time-limit",
                str(args.time_limit),
            ]
            rows.append(
                (
                    row.key,
                    timed(cmd, base, 3 * args.time_limit + 60),
                    timed(cmd, None, 3 * args.time_limit + 60),
                )
            )
            print_row(*rows[-1])
    if args.plan:
        for tag in ("plan",):
            out_b, out_h = tmp / "plan-base", tmp / "plan-head"
            extra = ["--scenario", str(args.scenario)] if args.scenario else []
            mk = [
                sys.executable,
                "-m",
                "optimizer.cli",
                "plan",
                "--data",
                str(args.plan),
                "--types",
                "police_station",
                *extra,
                "--out",
            ]
            b = timed([*mk, str(out_b)], base, 1800)
            h = timed([*mk, str(out_h)], None, 1800)
            for r in (b, h):
                r["seconds"], r["status"] = r["wall"], "ok" if r["rc"] == 0 else f"exit {r['rc']}"
            rows.append((tag, b, h))
            print_row(*rows[-1])
    print(f"load at end {os.getloadavg()[0]:.2f}")
    return 0


def print_row(name: str, b: dict[str, Any], h: dict[str, Any]) -> None:
    ratio = (b["seconds"] / h["seconds"]) if b.get("seconds") and h.get("seconds") else None
    print(
        f"{name:>14}  base {b['status']} {fmt(b['seconds'])} s  ours {h['status']} "
        f"{fmt(h['seconds'])} s  base/ours {fmt(ratio)}"
        + (
            ""
            if b.get("objective") == h.get("objective")
            else f"  objectives differ: {b.get('objective')} vs {h.get('objective')}"
        ),
        flush=True,
    )


def fmt(x: Any) -> str:
    return "–" if x is None else f"{x:.2f}"


if __name__ == "__main__":
    sys.exit(main())
