"""Benchmark the sweep: 50 whole-province scenarios, sequential vs 1 and 2 Dask workers.

Not part of the test run. From the repository root, after ``pip install .``::

    python benchmarks/sweep_bench.py --data /work/prov --modes 2            # the 50, ~10 min
    python benchmarks/sweep_bench.py --data /work/prov --scenarios 12       # seq, 1, 2 on 12
    python benchmarks/sweep_bench.py --data /work/prov --scenarios 2        # smoke

The grid is 5 police cuts × 2 scopes × 5 travel-time limits = 50 scenarios (``--scenarios N``
takes the first N; ``--every K`` every K-th of them instead, a subset spread over the grid),
each planning all three facility types over the whole data set (region ``all``). Each mode
(``--modes seq,1,2``) runs the same sweep the way ``optimizer sweep SPEC --out DIR --maps none``
does, into its own folder: ``seq`` in this process without Dask (``--workers 0``), ``1`` and
``2`` on a local Dask cluster of that many worker processes. Every step is counted: the
region's geography (once per mode), the cluster's start-up, the runs (each one's plan,
``plan.json`` text and table row on its worker; this process writes ``runs/<id>/`` and
``sweep.csv`` as they finish) and the final table, workbook and charts.

Reported per mode: wall-clock of each step and in all; per run its wall and CPU seconds on the
worker, status, solver status and gap; the engine overhead, i.e. worker-seconds of the runs'
wall-clock not spent inside a run, ``(runs wall × workers − Σ run seconds) / Σ run seconds``,
once with and once without the idle end (the last run going on alone while the other worker
has nothing left: the grid's imbalance, not the engine's cost); the CPU seconds of this
process and of the workers; the load average before and after. The plans of every mode are
checked to be the same (kept and closed per type, objective, per run).

Targets (issue 16): 50 runs in at most 600 s on 2 cores (2 workers); 2 workers at least
1.7x faster than 1; engine overhead under 5 % of the run time (in every mode).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import logging
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

# Dask sets its loggers from its config when it starts (INFO for distributed): keep its lines
# about workers starting and stopping out of the benchmark's output, here and in the workers
os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")

from optimizer.inputs import load_inputs
from optimizer.sweep import load_sweep, run_sweep

CUTS = [0.35, 0.40, 0.45, 0.50, 0.55]
SCOPES = ["province", "county"]
LIMITS: list[float | None] = [None, 240, 300, 360, 480]
TARGET_SECONDS_50 = 600.0
TARGET_SPEEDUP = 1.7
TARGET_OVERHEAD = 0.05
SAME = ["objective"]  # with every kept__/closed__ column: what must match across modes


def _spec_file(folder: Path, n: int, every: int, time_limit: float) -> Path:
    combos = list(itertools.product(CUTS, SCOPES, LIMITS))[::every][:n]
    # one grid entry per scenario keeps the chosen ones of the full 5 x 2 x 5 grid exactly
    grid = {"police": [{"reduction": c, "scope": s, "max_travel_minutes": m} for c, s, m in combos]}
    spec = {
        "name": "benchmark",
        "settings": {"solver.time_limit": time_limit},
        "grid": grid,
        "regions": ["all"],
        "run_time_limit": time_limit,
        "maps": "none",
    }
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _overheads(table: pd.DataFrame, runs_wall: float, finished: list[float], slots: int) -> dict:
    own = float(table["seconds"].sum())
    ends = sorted(finished)
    # the idle end: from each of the last (slots - 1) finishes to the last one, a worker idles
    tail = sum(ends[-1] - t for t in ends[-slots:-1]) if len(ends) >= slots else 0.0
    idle = runs_wall * slots - own
    return {
        "runs_seconds_sum": round(own, 1),
        "idle_end_worker_s": round(tail, 1),
        "overhead_share": round(idle / own, 4) if own else None,
        "engine_overhead_share": round((idle - tail) / own, 4) if own else None,
        "engine_overhead_per_run_s": round((idle - tail) / max(1, len(table)), 3),
    }


def _mode(mode: str, spec: Any, inputs: Any, out: Path) -> dict[str, Any]:
    workers = 0 if mode == "seq" else int(mode)
    load0, cpu0, child0 = os.getloadavg(), time.process_time(), _children_cpu()
    t0 = time.perf_counter()
    result = run_sweep(spec, inputs, out, workers=workers, maps="none")
    wall = time.perf_counter() - t0
    table = result.table
    s = result.seconds
    runs = [
        {
            "run_id": r["run_id"],
            "scenario": {k: r[k] for k in spec.grid},
            "status": r["status"],
            "solver_status": r.get("solver_status"),
            "gap": None if pd.isna(r.get("gap")) else float(r["gap"]),
            "seconds": float(r["seconds"]),
            "cpu_seconds": float(r["cpu_seconds"]),
            "reason": "" if pd.isna(r["reason"]) else str(r["reason"])[:160],
        }
        for r in table.to_dict("records")
    ]
    ok = table[table["status"] == "ok"]
    return {
        "mode": mode,
        "runs": len(table),
        "wall_s": round(wall, 1),
        "steps_s": {k: round(v, 1) for k, v in s.items()},
        "per_run_wall_s": round(s.get("runs", 0.0) / max(1, len(table)), 2),
        "run_seconds_mean": round(float(table["seconds"].mean()), 2),
        "run_cpu_seconds_mean": round(float(table["cpu_seconds"].mean()), 2),
        "run_cpu_seconds_sum": round(float(table["cpu_seconds"].sum()), 1),
        **_overheads(table, s.get("runs", 0.0), result.finished_at, max(1, workers)),
        "cpu_s_this_process": round(time.process_time() - cpu0, 1),
        "cpu_s_workers": round(_children_cpu() - child0, 1),
        "load_before": [round(x, 2) for x in load0],
        "load_after": [round(x, 2) for x in os.getloadavg()],
        "statuses": {k: int((table["status"] == k).sum()) for k in ("ok", "failed", "timeout")},
        "solver_status": sorted(ok["solver_status"].dropna().unique().tolist()),
        "max_gap": float(ok["gap"].max()) if len(ok) else None,
        "run_list": runs,
        "_plans": table.set_index("run_id")[
            [c for c in table.columns if c.split("__")[0] in ("kept", "closed")] + SAME
        ],
    }


def _summary(results: list[dict[str, Any]], n: int, read_s: float) -> dict[str, Any]:
    by = {r["mode"]: r for r in results}
    first = results[0]["_plans"]
    same = all(r["_plans"].equals(first) for r in results)
    out: dict[str, Any] = {
        "scenarios": n,
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "read_s": round(read_s, 2),
        "plans_identical_across_modes": same,
        "all_runs_ok": all(r["statuses"]["ok"] == r["runs"] for r in results),
    }
    if "1" in by and "2" in by:
        out["speedup_2_vs_1"] = round(by["1"]["wall_s"] / by["2"]["wall_s"], 3)
        out["speedup_2_vs_1_runs_only"] = round(
            by["1"]["steps_s"]["runs"] / by["2"]["steps_s"]["runs"], 3
        )
        out["target_speedup_met"] = out["speedup_2_vs_1"] >= TARGET_SPEEDUP
    if "seq" in by and "2" in by:
        out["speedup_2_vs_seq"] = round(by["seq"]["wall_s"] / by["2"]["wall_s"], 3)
    if "2" in by:
        wall = by["2"]["wall_s"] + read_s
        out["seconds_2_workers_incl_read"] = round(wall, 1)
        key = "measured_50_runs_s" if n == 50 else "projected_50_runs_s"
        out[key] = round(wall if n == 50 else wall / n * 50, 1)
        out["target_50_in_600s_met"] = out[key] <= TARGET_SECONDS_50
    shares = {r["mode"]: r["engine_overhead_share"] for r in results}
    out["engine_overhead_share_by_mode"] = shares
    out["overhead_share_incl_idle_end_by_mode"] = {r["mode"]: r["overhead_share"] for r in results}
    out["target_overhead_met_every_mode"] = all(
        v is not None and v < TARGET_OVERHEAD for v in shares.values()
    )
    return out


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, default=Path("/work/prov"), help="data folder (read only)")
    ap.add_argument("--scenarios", type=int, default=50, help="first N of the 50 scenarios")
    ap.add_argument("--every", type=int, default=1, help="every K-th of the 50 (then the first N)")
    ap.add_argument("--modes", default="seq,1,2", help="comma-separated: seq, 1, 2")
    ap.add_argument("--time-limit", type=float, default=300.0, help="time budget per run (s)")
    ap.add_argument("--out", type=Path, help="keep each mode's sweep folder here (default: temp)")
    ap.add_argument("--report", type=Path, help="write the results as JSON here")
    ap.add_argument(
        "--villages",
        action="store_true",
        help="keep the data's villages (grids, centres, cameras and mediators in every run); "
        "default: the township level, the three facility types only",
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s")
    logging.getLogger("optimizer.sweep").setLevel(logging.INFO)  # the progress lines
    logging.getLogger("distributed").setLevel(logging.ERROR)

    with tempfile.TemporaryDirectory() as tmp:
        spec = load_sweep(_spec_file(Path(tmp), args.scenarios, args.every, args.time_limit))
        root = args.out or Path(tmp)
        t0 = time.perf_counter()
        inputs = load_inputs(args.data)
        if inputs.villages is not None and not args.villages:
            inputs = dataclasses.replace(inputs, villages=None)
            print("villages in the data left out (township level; --villages keeps them)")
        read_s = time.perf_counter() - t0
        n = len(spec.policies)
        print(f"{n} scenarios on {len(inputs.townships):,} townships, all types; read {read_s:.1f} s;"
              f" load {os.getloadavg()}", flush=True)  # fmt: skip
        results = []
        for mode in [m.strip() for m in args.modes.split(",")]:
            res = _mode(mode, spec, inputs, root / f"mode-{mode}")
            shown = {k: v for k, v in res.items() if not k.startswith("_") and k != "run_list"}
            print(json.dumps(shown, ensure_ascii=False), flush=True)
            results.append(res)
    summary = _summary(results, n, read_s)
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    if args.report:
        clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in results]
        report = {"command": " ".join(sys.argv), "summary": summary, "modes": clean}
        args.report.write_text(json.dumps(report, ensure_ascii=False, indent=1), "utf-8")
    return 0 if summary["plans_identical_across_modes"] else 1


if __name__ == "__main__":
    sys.exit(main())
