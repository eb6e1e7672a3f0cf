"""Benchmark the sweep engine: whole-province scenarios, sequential vs 1 and 2 Dask workers.

Not part of the test run. From the repository root, after ``pip install .``::

    python benchmarks/sweep_bench.py --data /work/prov                 # 50 scenarios, ~1 h
    python benchmarks/sweep_bench.py --data /work/prov --scenarios 2   # smoke, a few minutes

The grid is 5 police cuts × 2 scopes × 5 travel-time limits = 50 scenarios (``--scenarios N``
takes the first N), each planning all three facility types over the whole data set (region
``all``). The region's geography is prepared once (timed apart); then the same runs are made in
each mode (``--modes seq,1,2``): ``seq`` in this process without Dask, ``1`` and ``2`` on a local
Dask cluster of that many worker processes. Reported per mode: cluster start-up, wall-clock of
the runs, the sum of the runs' own seconds (measured on the workers), the engine overhead
(wall-clock beyond the runs' own time, per run and as a share), statuses and gaps. The plans of
every mode are checked to be the same (kept facilities and objective per run).

Targets (issue 16): 50 runs in at most 600 s on 2 cores; 2 workers at least 1.7x faster than 1;
engine overhead under 5 % of the run time.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from optimizer.engine import Engine, Job, prepare
from optimizer.inputs import load_inputs
from optimizer.sweep import load_sweep, runs_of
from optimizer.sweep.regions import region_inputs
from optimizer.sweep.table import plan_row

CUTS = [0.35, 0.40, 0.45, 0.50, 0.55]
SCOPES = ["province", "county"]
LIMITS: list[float | None] = [None, 240, 300, 360, 480]
TARGET_SECONDS_50 = 600.0
TARGET_SPEEDUP = 1.7
TARGET_OVERHEAD = 0.05


def _spec_file(folder: Path, n: int, time_limit: float) -> Path:
    combos = list(itertools.product(CUTS, SCOPES, LIMITS))[:n]
    # one grid entry per scenario keeps the first N of the full 5 x 2 x 5 grid exactly
    grid = {"police": [{"reduction": c, "scope": s, "max_travel_minutes": m} for c, s, m in combos]}
    spec = {
        "name": "benchmark",
        "settings": {"solver.time_limit": time_limit},
        "grid": grid,
        "regions": ["all"],
        "run_time_limit": time_limit * 3,
    }
    path = folder / "bench.yaml"
    path.write_text(yaml.safe_dump(spec, allow_unicode=True), encoding="utf-8")
    return path


def _mode(mode: str, data: dict, jobs: list[Job], limit: float) -> dict[str, Any]:
    workers = 0 if mode == "seq" else int(mode)
    t0 = time.perf_counter()
    with Engine(workers=workers, run_time_limit=limit) as engine:
        started = time.perf_counter()
        outcomes = engine.run(data, jobs)
        wall = time.perf_counter() - started
    startup = started - t0
    own = sum(o.seconds for o in outcomes)
    rows = [plan_row(o.plan) if o.plan is not None else {} for o in outcomes]
    slots = max(1, workers)
    overhead = wall * slots - own  # worker-seconds not spent inside a run
    return {
        "mode": mode,
        "runs": len(outcomes),
        "startup_s": round(startup, 2),
        "wall_s": round(wall, 2),
        "run_seconds_sum": round(own, 2),
        "overhead_share": round(overhead / own, 4) if own else None,
        "overhead_per_run_s": round(overhead / max(1, len(outcomes)), 3),
        "statuses": {s: sum(o.status == s for o in outcomes) for s in ("ok", "failed", "timeout")},
        "solver_status": sorted({r.get("solver_status", "-") for r in rows}),
        "max_gap": max((r["gap"] for r in rows if r), default=None),
        "reasons": sorted({o.reason[:160] for o in outcomes if o.reason}),
        "_plans": [
            (o.key, r.get("kept"), r.get("objective")) for o, r in zip(outcomes, rows, strict=True)
        ],
    }


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--data", type=Path, default=Path("/work/prov"), help="data folder (read only)")
    ap.add_argument("--scenarios", type=int, default=50, help="first N of the 50 scenarios")
    ap.add_argument("--modes", default="seq,1,2", help="comma-separated: seq, 1, 2")
    ap.add_argument("--time-limit", type=float, default=600.0, help="time budget per run (s)")
    ap.add_argument("--report", type=Path, help="write the results as JSON here")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        spec = load_sweep(_spec_file(Path(tmp), args.scenarios, args.time_limit))
    t0 = time.perf_counter()
    inputs = load_inputs(args.data)
    read_s = time.perf_counter() - t0
    runs = runs_of(spec, inputs.townships["county_code"].tolist())
    t0 = time.perf_counter()
    data = {"all": prepare(region_inputs(inputs, "all"))}
    prepare_s = time.perf_counter() - t0
    jobs = [Job(r.run_id, r.region, r.policy, None) for r in runs]
    print(f"{len(jobs)} runs on {len(inputs.townships):,} townships; read {read_s:.1f} s, "
          f"geography once {prepare_s:.1f} s; load {os.getloadavg()}", flush=True)  # fmt: skip
    results = []
    for mode in args.modes.split(","):
        res = _mode(mode.strip(), data, jobs, args.time_limit * 3)
        print(
            json.dumps({k: v for k, v in res.items() if not k.startswith("_")}, ensure_ascii=False),
            flush=True,
        )
        results.append(res)
    same = all(r["_plans"] == results[0]["_plans"] for r in results)
    by = {r["mode"]: r for r in results}
    summary: dict[str, Any] = {
        "scenarios": len(jobs),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "loadavg_end": os.getloadavg(),
        "read_s": round(read_s, 2),
        "prepare_s": round(prepare_s, 2),
        "plans_identical_across_modes": same,
    }
    if "1" in by and "2" in by:
        summary["speedup_2_vs_1"] = round(by["1"]["wall_s"] / by["2"]["wall_s"], 3)
        summary["target_speedup_met"] = summary["speedup_2_vs_1"] >= TARGET_SPEEDUP
    if "2" in by:
        per50 = by["2"]["wall_s"] + by["2"]["startup_s"] + prepare_s
        summary["seconds_2_workers_incl_startup"] = round(per50, 1)
        summary["projected_50_runs_s"] = round(per50 / len(jobs) * 50, 1)
        summary["target_50_in_600s_met"] = summary["projected_50_runs_s"] <= TARGET_SECONDS_50
    if "1" in by and by["1"]["overhead_share"] is not None:
        summary["target_overhead_met"] = by["1"]["overhead_share"] < TARGET_OVERHEAD
    print(json.dumps(summary, ensure_ascii=False, indent=1))
    if args.report:
        clean = [{k: v for k, v in r.items() if not k.startswith("_")} for r in results]
        args.report.write_text(json.dumps({"summary": summary, "modes": clean}, indent=1), "utf-8")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
