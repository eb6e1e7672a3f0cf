"""TSPLIB usa13509 (n = 13,509): large p through k-nearest lists, small p as plan + bound.

    python benchmarks/tsplib_large.py                        # p = 5000, 2000, 25, 10
    python benchmarks/tsplib_large.py --p 5000 --k 16 --time-limit 600

Every p runs in its own subprocess (wall seconds and the child's peak RSS from ``wait4``):

- ``p >= 1000``: each client's ``--k`` nearest sites (scipy's cKDTree; cost = floor of the
  Euclidean distance, as in ``optimal.csv``) through
  :func:`optimizer.solver.nearest.p_median_nearest`, whose certificate proves the pruned pairs
  cannot matter or widens k (the callback queries the tree again with 2k);
- smaller ``p``: the float32 dense matrix (730 MB) through
  :func:`optimizer.solver.big_dense.plan_and_bound` (greedy + alternation, Lagrangian bound).

Prints one JSON line per p and writes ``--out``/``tsplib_large.json``; the known optima are
from ``optimal.csv``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import run as driver  # noqa: E402
import tsplib  # noqa: E402

NAME = "usa13509"


def worker(args: argparse.Namespace) -> None:
    """Solve one p in this process; print a JSON line."""
    from scipy.spatial import cKDTree

    if args.log:
        logging.basicConfig(
            filename=args.log, level=logging.INFO, format="%(asctime)s %(name)s %(message)s"
        )
    xy = tsplib.coordinates(NAME, args.tsplib_dir)
    t0 = time.perf_counter()
    out: dict[str, Any] = {"p": args.p}
    if args.p >= 1000:
        from optimizer.solver.nearest import p_median_nearest

        tree = cKDTree(xy)

        def lists(k: int) -> tuple[np.ndarray, np.ndarray]:
            d, nb = tree.query(xy, k=min(k, len(xy)))
            return nb.astype(np.int64), np.floor(d)

        nb, cc = lists(args.list_k or args.k)
        r = p_median_nearest(
            nb,
            cc,
            args.p,
            widen=lists,
            time_limit=args.time_limit,
            gap=0.0,
            depth_k=args.k if args.list_k else None,
        )
        # the plan's cost on the full problem (every site), from the tree of its open sites
        d, _ = cKDTree(xy[r.open_sites]).query(xy)
        out.update(
            method=r.formulation,
            status=str(r.status),
            objective=float(np.floor(d).sum()),
            bound=float(r.bound),
        )
    else:
        from optimizer.solver.big_dense import plan_and_bound

        costs = tsplib.dense_costs(xy, np.float32)
        b = plan_and_bound(costs, args.p, time_limit=args.time_limit)
        out.update(
            method="big dense (plan + Lagrangian bound)",
            status="feasible",
            objective=b.objective,
            bound=b.bound,
        )
    out["seconds"] = time.perf_counter() - t0
    out["self_peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out), flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--p", default="5000,2000,25,10", help="comma-separated p values")
    ap.add_argument("--k", type=int, default=16, help="nearest sites per client (p >= 1000)")
    ap.add_argument(
        "--list-k",
        type=int,
        default=None,
        help="list this many sites per client but model --k of them first (lazy levels)",
    )
    ap.add_argument("--time-limit", type=float, default=600.0, help="seconds per p (600)")
    ap.add_argument("--tsplib-dir", type=Path, default=tsplib.DEFAULT_TSPLIB_DIR)
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--log", type=Path, default=None, help="the solver's INFO log to this file")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        args.p = int(args.p)
        worker(args)
        return 0
    optima = {r.p: r.optimum for r in tsplib.table(args.tsplib_dir) if r.instance == NAME}
    rows = []
    for p in [int(x) for x in args.p.split(",")]:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--p", str(p)]
        cmd += ["--k", str(args.k), "--time-limit", str(args.time_limit)]
        cmd += ["--list-k", str(args.list_k)] if args.list_k else []
        cmd += ["--tsplib-dir", str(args.tsplib_dir)]
        cmd += ["--log", str(args.log.with_suffix(f".p{p}.log"))] if args.log else []
        run = driver.run_child(cmd, args.time_limit + 120)
        row = driver.child_result(run) or {"p": p, "error": driver.last_line(run["stderr"])}
        row.update(wall=run["wall"], peak_mb=run["peak_mb"], optimum=optima.get(p))
        row["load"] = [round(x, 2) for x in os.getloadavg()]
        if "objective" in row and "bound" in row:
            row["gap"] = (row["objective"] - row["bound"]) / row["objective"]
            row["proven"] = row["status"] == "optimal" and row["objective"] == optima.get(p)
        print(json.dumps(row), flush=True)
        rows.append(row)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "tsplib_large.json").write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
