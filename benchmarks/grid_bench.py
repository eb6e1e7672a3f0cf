"""Benchmark the grids (issue 14): the sample's grid stage, and the province plan with villages.

Run from the repository root::

    python benchmarks/grid_bench.py --sample-only
    python benchmarks/grid_bench.py --villages /tmp/provv --towns /work/prov \\
        --main /work/venv/bin/optimizer --rounds 1

1. **Grid stage on the bundled sample**: :func:`optimizer.planning.grids.plan_grids` on the
   SYNTHETIC sample villages, ``--rounds`` times (best wall and CPU seconds). Target: a few
   seconds.
2. **The whole province, side by side**: ``optimizer plan`` of this checkout on a folder with
   villages (``--villages``, e.g. ``optimizer sample --counties all --villages --out D``) and the
   township-level command of another install (``--main``: an ``optimizer`` executable, usually
   main's venv) on the same province without villages (``--towns``), alternately, in one session.
   For each: wall seconds, CPU seconds of the child (user + system), the stage seconds from
   ``plan.json`` (``solver.time_budget.stage_seconds``) and the size of ``map.html``. Target:
   the plan with villages within 60 s of the township-level plan; map.html at most 8 MB.

The machine's load average (``os.getloadavg``) is printed beside each run: compare the numbers
of one session only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_EXTRA_S = 60.0
TARGET_MAP_MB = 8.0


def sample_grid_stage(rounds: int) -> tuple[float, float, int]:
    """Return the best wall and CPU seconds of the sample's grid stage, and its grid count."""
    from optimizer.inputs.reading import load_inputs
    from optimizer.paths import sample_dir
    from optimizer.planning.budget import TimeBudget
    from optimizer.planning.grids import plan_grids
    from optimizer.rules.grassroots import GrassrootsPolicy

    villages = load_inputs(sample_dir()).villages
    assert villages is not None
    walls, cpus, n = [], [], 0
    for _ in range(rounds):
        t0, c0 = time.perf_counter(), time.process_time()
        plan = plan_grids(villages, GrassrootsPolicy(), budget=TimeBudget(600))
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        n = len(plan.grids)
    return min(walls), min(cpus), n


def run_plan(cmd: list[str], out: Path) -> dict[str, object]:
    """Run one ``optimizer plan`` and return its wall, CPU, stage seconds and map size."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    subprocess.run([*cmd, "--out", str(out)], check=True, capture_output=True)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    stages = plan["solver"]["time_budget"].get("stage_seconds", {})
    return {
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "load": round(load, 2),
        "stages": stages,
        "map_mb": round((out / "map.html").stat().st_size / 1e6, 2),
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table; return 1 when a target is missed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--sample-only", action="store_true")
    ap.add_argument("--villages", type=Path, help="province folder with villages.gpkg")
    ap.add_argument("--towns", type=Path, help="the same province without villages")
    ap.add_argument("--main", default="optimizer", help="the township-level optimizer to compare")
    args = ap.parse_args(argv)
    wall, cpu, n = sample_grid_stage(max(1, args.rounds))
    print(f"sample grid stage: {wall:.2f} s wall, {cpu:.2f} s CPU, {n:,} grids (best of rounds)")
    if args.sample_only or args.villages is None or args.towns is None:
        return 0
    here = [sys.executable, "-m", "optimizer", "plan", "--data", str(args.villages)]
    other = [args.main, "plan", "--data", str(args.towns)]
    missed = False
    with tempfile.TemporaryDirectory(prefix="grid-bench-") as tmp:
        for r in range(args.rounds):
            base = run_plan(other, Path(tmp) / f"main{r}")
            vill = run_plan(here, Path(tmp) / f"villages{r}")
            print(f"round {r + 1}: township-level (main) {json.dumps(base, ensure_ascii=False)}")
            print(f"round {r + 1}: with villages (here)  {json.dumps(vill, ensure_ascii=False)}")
            extra = float(vill["wall_s"]) - float(base["wall_s"])  # type: ignore[arg-type]
            extra_cpu = float(vill["cpu_s"]) - float(base["cpu_s"])  # type: ignore[arg-type]
            print(f"  villages add {extra:.1f} s wall, {extra_cpu:.1f} s CPU")
            missed |= extra > TARGET_EXTRA_S or float(vill["map_mb"]) > TARGET_MAP_MB  # type: ignore[arg-type]
    print(
        "targets:", "missed" if missed else "met", f"(+{TARGET_EXTRA_S:g} s, {TARGET_MAP_MB:g} MB)"
    )
    return 1 if missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
