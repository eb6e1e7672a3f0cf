"""Benchmark the solver core: OR-Library pmed1-40, spopt + HiGHS side by side, the province plan.

Run from the repository root after ``pip install .`` and ``pip install -r benchmarks/requirements.txt``::

    python benchmarks/run.py                      # everything, defaults
    python benchmarks/run.py --instances pmed1,pmed2 --spopt pmed1 --no-plan   # smoke
    python benchmarks/run.py --suite tsplib       # TSPLIB n <= 3,038 with pbp-pmedian beside

Every solve runs in its own subprocess so that time and peak memory are per instance. See
benchmarks/README.md for what is measured and how to read the table.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import pmed  # noqa: E402

# Targets of issue 3
TARGET_PMED_SECONDS = 10.0
TARGET_SPOPT_RATIO = 50.0
TARGET_PLAN_SECONDS = 30.0
TARGET_PLAN_GAP = 1e-4
TARGET_PLAN_MEMORY_MB = 1536.0
DEFAULT_SPOPT = "pmed1-15"
SPOPT_GRACE = 30.0  # seconds for imports and loading on top of --spopt-timeout before a kill


# --------------------------------------------------------------------------------------------
# selection


def parse_selection(text: str) -> list[str]:
    """``all``, ``none`` or a comma list of names and ranges: ``pmed1-10,pmed16,20``."""
    t = text.strip().lower()
    if t in ("all", ""):
        return list(pmed.ALL_INSTANCES)
    if t == "none":
        return []
    out: list[str] = []
    for part in t.split(","):
        m = re.fullmatch(r"(?:pmed)?(\d+)(?:-(?:pmed)?(\d+))?", part.strip())
        if not m:
            raise SystemExit(f"bad instance selection {part!r}: use e.g. pmed1-10,pmed16 or all")
        a = int(m.group(1))
        b = int(m.group(2) or a)
        for k in range(a, b + 1):
            if not 1 <= k <= 40:
                raise SystemExit(f"no instance pmed{k}: OR-Library has pmed1 ... pmed40")
            if f"pmed{k}" not in out:
                out.append(f"pmed{k}")
    return out


# --------------------------------------------------------------------------------------------
# running a child process with a timeout, measuring its own peak RSS


def run_child(cmd: list[str], timeout: float, cwd: Path | None = None) -> dict[str, Any]:
    """Run ``cmd``; return wall seconds, exit code, timeout flag, peak RSS (MB) and output tails.

    The peak RSS comes from ``wait4`` on this very child (Linux: the max over the child and the
    descendants it waited for), so each instance is measured on its own. A child still running at
    ``timeout`` is killed with its whole process group; psutil polling (if installed) then gives a
    lower bound of its peak memory.
    """
    try:
        import psutil
    except ImportError:  # pragma: no cover
        psutil = None
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, cwd=cwd, start_new_session=True)
        polled = 0.0
        timed_out = False
        ps = psutil.Process(proc.pid) if psutil else None
        next_poll = 0.0
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            now = time.perf_counter() - t0
            if ps is not None and now >= next_poll:
                try:
                    rss = ps.memory_info().rss + sum(
                        c.memory_info().rss for c in ps.children(recursive=True)
                    )
                    polled = max(polled, rss / 2**20)
                except Exception:
                    pass
                next_poll = now + 0.25
            if now > timeout:
                timed_out = True
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                pid, status, ru = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    return {
        "wall": wall,
        "returncode": proc.returncode,
        "timed_out": timed_out,
        "peak_mb": max(ru.ru_maxrss / 1024.0, polled),
        "stdout": stdout,
        "stderr": stderr[-3000:],
    }


def last_line(text: str) -> str:
    """The last non-empty line of a traceback: the exception itself."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1].strip() if lines else "(no output)"


def child_result(run: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON line a worker printed last, if any."""
    for line in reversed(run["stdout"].splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


# --------------------------------------------------------------------------------------------
# workers (run inside the child process)


def worker_ours(args: argparse.Namespace) -> None:
    import numpy as np

    t0 = time.perf_counter()
    inst = pmed.load(args.instance, args.pmed_dir)
    load_s = time.perf_counter() - t0
    import optimizer

    options: dict[str, Any] = {"time_limit": args.time_limit, "gap": args.gap}
    if args.threads:
        options["threads"] = args.threads
    t0 = time.perf_counter()
    r = optimizer.p_median(inst.costs, inst.p, **options)
    wall = time.perf_counter() - t0
    # which solver code ran: the package may be edited while a benchmark runs
    import hashlib

    src = Path(optimizer.__file__).parent
    sha = hashlib.sha256()
    for py in sorted(src.glob("*.py")):
        sha.update(py.read_bytes())
    assign = np.asarray(r.assignment, dtype=np.int64)
    opened = np.asarray(r.open_sites, dtype=np.int64)
    recomputed = float(inst.costs[np.arange(inst.n), assign].sum()) if len(assign) else None
    valid = bool(
        len(assign) == inst.n
        and len(opened) == inst.p
        and np.isin(assign, opened).all()
        and recomputed is not None
        and abs(recomputed - r.objective) <= 1e-6 * max(1.0, abs(r.objective))
    )
    print(
        json.dumps(
            {
                "status": r.status,
                "objective": r.objective,
                "recomputed": recomputed,
                "valid": valid,
                "bound": r.bound,
                "gap": r.gap,
                "solver_seconds": r.seconds,
                "solve_wall": wall,
                "load_seconds": load_s,
                "n_variables": r.n_variables,
                "n_constraints": r.n_constraints,
                "n_nonzeros": r.n_nonzeros,
                "formulation": r.formulation,
                "solver": r.solver,
                "rounds": r.rounds,
                "nodes": r.nodes,
                "code_sha": sha.hexdigest()[:10],
            },
            default=float,
        )
    )


def worker_spopt(args: argparse.Namespace) -> None:
    import numpy as np
    import pulp
    from spopt.locate import PMedian

    inst = pmed.load(args.instance, args.pmed_dir)
    t0 = time.perf_counter()
    model = PMedian.from_cost_matrix(inst.costs, np.ones(inst.n), inst.p)
    build = time.perf_counter() - t0
    remaining = max(1.0, args.spopt_timeout - build)
    solver = pulp.HiGHS(msg=False, timeLimit=remaining)
    error = None
    try:
        model.solve(solver, results=False)
    except Exception as exc:  # spopt raises RuntimeError when the model is not solved
        error = f"{type(exc).__name__}: {exc}"
    wall = time.perf_counter() - t0
    prob = model.problem
    try:
        obj = pulp.value(prob.objective)
    except Exception:
        obj = None
    # proven optimal: pulp status Optimal and solution status Optimal (not merely integer feasible)
    proven = prob.status == pulp.LpStatusOptimal and prob.sol_status == pulp.LpSolutionOptimal
    print(
        json.dumps(
            {
                "status": "optimal" if proven else pulp.LpStatus.get(prob.status, str(prob.status)),
                "sol_status": pulp.LpSolution.get(prob.sol_status, str(prob.sol_status)),
                "objective": obj,
                "build_seconds": build,
                "solve_wall": wall,
                "n_variables": prob.numVariables(),
                "n_constraints": prob.numConstraints(),
                "error": error,
            },
            default=float,
        )
    )


def worker_plan(args: argparse.Namespace) -> None:
    """Load the province and make the plan in-process, without writing outputs."""
    from optimizer.inputs.reading import load_inputs
    from optimizer.pipeline import make_plan
    from optimizer.rules.policy import Policy

    policy = Policy()
    if args.plan_time_limit:
        policy = Policy.from_dict({"solver": {"time_limit": args.plan_time_limit}})
    t0 = time.perf_counter()
    inputs = load_inputs(args.instance, tibetan_prefixes=policy.police.tibetan_prefixes)
    t1 = time.perf_counter()
    plan = make_plan(inputs, policy)
    t2 = time.perf_counter()
    police = dict(plan.solver.get("police_station", {}))
    print(
        json.dumps(
            {
                "load_seconds": t1 - t0,
                "make_plan_seconds": t2 - t1,
                "townships": len(plan.townships),
                "facilities": len(plan.facilities),
                "solver": police,
                "all_types": {
                    t: {"status": v.get("status"), "seconds": v.get("seconds")}
                    for t, v in plan.solver.items()
                },
            },
            default=lambda x: x.item() if hasattr(x, "item") else str(x),
        )
    )


# --------------------------------------------------------------------------------------------
# the driver


def versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in ["optimizer", "numpy", "scipy", "pulp", "highspy", "spopt", "psutil", "pandas"]:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": None,
        "memory_gb": None,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "load_average_start": list(os.getloadavg()),
        "packages": versions(),
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gb"] = round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    try:
        info["git_commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=pmed.REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "optimizer"],
            cwd=pmed.REPO_ROOT,
            capture_output=True,
            text=True,
        ).stdout.strip()
        info["optimizer_dirty"] = bool(dirty)
    except (OSError, subprocess.CalledProcessError):
        info["git_commit"] = None
    return info


def self_cmd(args: argparse.Namespace, kind: str, name: str) -> list[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", kind, "--instance", name]
    cmd += ["--pmed-dir", str(args.pmed_dir), "--time-limit", str(args.time_limit)]
    cmd += ["--gap", str(args.gap)]
    cmd += ["--spopt-timeout", str(args.spopt_timeout)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    return cmd


def run_ours(args: argparse.Namespace, name: str, optimum: int | None) -> dict[str, Any]:
    # hard kill well past the solver's own limit (loading + model building + time limit)
    run = run_child(self_cmd(args, "ours", name), timeout=2 * args.time_limit + 120)
    res = child_result(run) or {}
    status = res.get("status", "timeout" if run["timed_out"] else "error")
    obj = res.get("objective")
    matches = obj is not None and optimum is not None and round(obj) == optimum
    bound = res.get("bound")
    # proven: the solver's own bound reaches the known optimum (to within the gap asked for)
    bound_ok = (
        bound is not None and optimum is not None and bound >= optimum * (1 - args.gap) - 1e-6
    )
    proven = bool(status == "optimal" and matches and bound_ok and res.get("valid"))
    seconds = res.get("solve_wall")
    row = {
        "ours_status": status,
        "ours_objective": obj,
        "ours_bound": res.get("bound"),
        "ours_gap": res.get("gap"),
        "ours_matches_optimum": bool(matches),
        "ours_valid_solution": res.get("valid"),
        "ours_proven_optimal": proven,
        "ours_seconds": seconds,
        "ours_solver_seconds": res.get("solver_seconds"),
        "ours_process_seconds": run["wall"],
        "ours_load_seconds": res.get("load_seconds"),
        "ours_peak_mb": run["peak_mb"],
        "ours_variables": res.get("n_variables"),
        "ours_constraints": res.get("n_constraints"),
        "ours_nonzeros": res.get("n_nonzeros"),
        "ours_formulation": res.get("formulation"),
        "ours_rounds": res.get("rounds"),
        "ours_nodes": res.get("nodes"),
        "ours_solver": res.get("solver"),
        "ours_code_sha": res.get("code_sha"),
        "ours_target_met": bool(proven and seconds is not None and seconds <= TARGET_PMED_SECONDS),
    }
    if not res:
        row["ours_error"] = run["stderr"][-1500:]
    return row


def run_spopt(args: argparse.Namespace, name: str, optimum: int | None) -> dict[str, Any]:
    run = run_child(self_cmd(args, "spopt", name), timeout=args.spopt_timeout + SPOPT_GRACE)
    res = child_result(run) or {}
    status = res.get("status", "timeout" if run["timed_out"] else "error")
    seconds = res.get("solve_wall", run["wall"] if run["timed_out"] else None)
    obj = res.get("objective")
    finished = bool(status == "optimal" and seconds is not None and seconds <= args.spopt_timeout)
    if not finished and status == "optimal":
        status = "over time"
    row = {
        "spopt_status": status,
        "spopt_objective": obj,
        "spopt_matches_optimum": obj is not None and optimum is not None and round(obj) == optimum,
        "spopt_finished": finished,
        "spopt_seconds": seconds,
        "spopt_build_seconds": res.get("build_seconds"),
        "spopt_process_seconds": run["wall"],
        "spopt_peak_mb": run["peak_mb"],
        "spopt_variables": res.get("n_variables"),
    }
    if res.get("error"):
        row["spopt_error"] = res["error"]
    if not res:
        row["spopt_error"] = ("killed at timeout; " if run["timed_out"] else "") + run["stderr"][
            -800:
        ]
    return row


def run_plan(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-plan-"))
    data, out = tmp / "data", tmp / "out"
    sample_cmd = [sys.executable, "-m", "optimizer", "sample", "--counties", "all"]
    sample_cmd += ["--seed", str(args.seed), "--out", str(data), "-q"]
    print(f"plan: writing the synthetic province ({' '.join(sample_cmd[1:])}) ...", flush=True)
    s = run_child(sample_cmd, timeout=args.plan_timeout)
    row: dict[str, Any] = {
        "sample_seconds": s["wall"],
        "sample_returncode": s["returncode"],
        "workdir": str(tmp),
    }
    if s["returncode"] != 0:
        row["error"] = f"optimizer sample failed: {last_line(s['stderr'])}"
        row["stderr_tail"] = s["stderr"][-3000:]
        return row
    plan_cmd = [sys.executable, "-m", "optimizer", "plan", "--data", str(data), "--out", str(out)]
    plan_cmd += ["-q"]
    if args.plan_time_limit:
        plan_cmd += ["--time-limit", str(args.plan_time_limit)]
    print(f"plan: timing {' '.join(plan_cmd[1:])} ...", flush=True)
    r = run_child(plan_cmd, timeout=args.plan_timeout)
    row.update(
        {
            "command": "optimizer plan --data DATA --out OUT",
            "returncode": r["returncode"],
            "timed_out": r["timed_out"],
            "process_seconds": r["wall"],
            "peak_mb": r["peak_mb"],
        }
    )
    # the same plan made in-process without writing outputs: model + solve only
    api_cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "plan"]
    api_cmd += ["--instance", str(data)]
    if args.plan_time_limit:
        api_cmd += ["--plan-time-limit", str(args.plan_time_limit)]
    print(
        "plan: timing load_inputs + make_plan in a subprocess (no outputs written) ...", flush=True
    )
    a = run_child(api_cmd, timeout=args.plan_timeout)
    api = child_result(a) or {}
    row.update(
        {
            "api_process_seconds": a["wall"],
            "api_load_seconds": api.get("load_seconds"),
            "api_make_plan_seconds": api.get("make_plan_seconds"),
            "api_peak_mb": a["peak_mb"],
        }
    )
    if not api:
        row["api_error"] = last_line(a["stderr"])
    pj = out / "plan.json"
    if pj.is_file():
        plan = json.loads(pj.read_text())
        total = plan.get("solver", {})
        sv = police = total.get("by_type", {}).get("police_station", {})
        row["all_types"] = {k: v for k, v in total.items() if k != "by_type"}
        row["townships"] = len(plan.get("townships", []))
        row["facilities"] = len(plan.get("facilities", []))
        row["checks_failed"] = [
            c.get("id", c.get("name")) for c in plan.get("checks", []) if c.get("passed") is False
        ]
        row["solver_from"] = "plan.json"
    else:
        row["error"] = f"no plan.json (exit {r['returncode']}): {last_line(r['stderr'])}"
        row["stderr_tail"] = r["stderr"][-3000:]
        if not api:
            return row
        sv = police = api["solver"]
        row["all_types"] = api.get("all_types")
        row["townships"], row["facilities"] = api.get("townships"), api.get("facilities")
        row["solver_from"] = "make_plan in-process (the plan command failed)"
    row.update(
        {
            "status": sv.get("status"),
            "gap": sv.get("gap"),
            "objective": sv.get("objective"),
            "bound": sv.get("bound"),
            "solver_seconds": sv.get("seconds"),
            "variables": police.get("variables"),
            "constraints": police.get("constraints"),
            "formulation": police.get("formulation"),
        }
    )
    gap_ok = row["gap"] is not None and row["gap"] <= TARGET_PLAN_GAP
    row["target_optimal"] = bool(row["status"] == "optimal" and gap_ok)
    row["target_time_solver"] = bool(
        row["solver_seconds"] is not None and row["solver_seconds"] <= TARGET_PLAN_SECONDS
    )
    row["plan_ok"] = pj.is_file()
    row["target_time_end_to_end"] = bool(r["wall"] <= TARGET_PLAN_SECONDS)
    row["target_memory"] = bool(max(r["peak_mb"], a["peak_mb"]) <= TARGET_PLAN_MEMORY_MB)
    return row


# --------------------------------------------------------------------------------------------
# formatting


def f(x: Any, fmt: str = "{:.2f}", none: str = "–") -> str:
    if x is None:
        return none
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float) and fmt == "{:g}" and x.is_integer():
        return str(int(x))
    try:
        return fmt.format(x)
    except (ValueError, TypeError):
        return str(x)


def ok(b: bool | None) -> str:
    return "–" if b is None else ("✅" if b else "❌")


def ratio_text(row: dict[str, Any]) -> str:
    r = row.get("ratio")
    if r is not None:
        return f"{r:.0f}×" if r >= 10 else f"{r:.1f}×"
    lb = row.get("ratio_lower_bound")
    return f">{lb:.0f}×" if lb is not None else "–"


def markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    a = results["settings"]
    lines = [
        "# Benchmark results",
        "",
        f"{results['started']} · {m['cpu_count']} CPUs ({m.get('cpu_model') or '?'}), "
        f"{m.get('memory_gb')} GB · Python {m['python']} · optimizer {m['packages'].get('optimizer')}"
        f" (git {m.get('git_commit')}{', optimizer/ modified' if m.get('optimizer_dirty') else ''})"
        f" · HiGHS (highspy) {m['packages'].get('highspy')} · pulp {m['packages'].get('pulp')}"
        f" · spopt {m['packages'].get('spopt')}",
        f"Load average at start {m['load_average_start'][0]:.2f}, at end "
        f"{m.get('load_average_end', [float('nan')])[0]:.2f} (a shared machine: compare ratios, "
        "not absolute times).",
        f"Time limit per instance {a['time_limit']} s (ours), {a['spopt_timeout']} s (spopt + HiGHS).",
        "",
    ]
    rows = results["pmed"]
    if rows:
        lines += [
            "## OR-Library pmed",
            "",
            "| instance | n | p | optimum | objective | bound | status | proven optimal | "
            "method | nodes | seconds | solver s | process s | peak MB | ≤ 10 s & proven | "
            "spopt s | spopt status | spopt MB | spopt/ours | ≥ 50× |",
            "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- | ---: | ---: | ---: | "
            "---: | ---: | :---: | ---: | --- | ---: | ---: | :---: |",
        ]
        for r in rows:
            sp = r.get("spopt_status") is not None
            lines.append(
                f"| {r['instance']} | {r['n']} | {r['p']} | {f(r['optimum'], '{:g}')} | "
                f"{f(r.get('ours_objective'), '{:g}')} | {f(r.get('ours_bound'), '{:g}')} | "
                f"{f(r.get('ours_status'), '{}')} | "
                f"{f(r.get('ours_proven_optimal'))} | {f(r.get('ours_solver'), '{}')} | "
                f"{f(r.get('ours_nodes'), '{:,}')} | {f(r.get('ours_seconds'), '{:.3f}')} | "
                f"{f(r.get('ours_solver_seconds'), '{:.3f}')} | {f(r.get('ours_process_seconds'))} | "
                f"{f(r.get('ours_peak_mb'), '{:.0f}')} | "
                f"{ok(r.get('ours_target_met')) if 'ours_status' in r else '–'} | "
                f"{f(r.get('spopt_seconds')) if sp else '–'} | "
                f"{f(r.get('spopt_status'), '{}') if sp else 'not run'} | "
                f"{f(r.get('spopt_peak_mb'), '{:.0f}') if sp else '–'} | {ratio_text(r)} | "
                f"{ok(r.get('ratio_target_met'))} |"
            )
        lines.append("")
    s = results["summary"]
    lines += ["## Targets (issue 3)", ""]
    if s.get("pmed_run"):
        miss = s["pmed_missed"]
        lines.append(
            f"- pmed, every instance proven optimal in ≤ {TARGET_PMED_SECONDS:g} s: "
            f"{ok(not miss and s['pmed_all_40'])} {s['pmed_met']}/{s['pmed_run']} met"
            + (f" (missed: {', '.join(miss)})" if miss else "")
            + ("" if s["pmed_all_40"] else " — not all 40 instances were run")
            + f"; slowest {s['pmed_slowest']}"
        )
    if s.get("spopt_run"):
        lines.append(
            f"- ≥ {TARGET_SPOPT_RATIO:g}× faster than spopt + HiGHS where it finishes within "
            f"{a['spopt_timeout']:g} s: {ok(not s['ratio_missed'] if s['spopt_finished'] else None)} "
            f"{s['spopt_finished'] - len(s['ratio_missed'])}/{s['spopt_finished']} met"
            + (f" (missed: {', '.join(s['ratio_missed'])})" if s["ratio_missed"] else "")
            + f"; smallest ratio {s['ratio_min']}; spopt did not finish: "
            + (", ".join(s["spopt_unfinished"]) or "none")
        )
    p = results.get("plan")
    if p:
        if "status" in p:
            lines += [
                f"- whole-province police plan, police-station solve ({p.get('townships')} townships, "
                f"{p.get('facilities')} facilities, {f(p.get('variables'), '{:,}')} variables; "
                f"solver figures from {p.get('solver_from')}): status {p['status']}, gap "
                f"{f(p.get('gap'), '{:.2e}')} {ok(p['target_optimal'])} (≤ 0.01 %); "
                f"solver {f(p.get('solver_seconds'))} s {ok(p['target_time_solver'])} "
                f"(≤ {TARGET_PLAN_SECONDS:g} s); peak memory {ok(p['target_memory'])} (≤ 1.5 GB): "
                f"`optimizer plan` command {f(p.get('peak_mb'), '{:.0f}')} MB in "
                f"{f(p.get('process_seconds'))} s "
                f"{'' if p.get('plan_ok') else '(FAILED: ' + p.get('error', '')[:300] + ') '}"
                f"({ok(p['process_seconds'] <= TARGET_PLAN_SECONDS) if p.get('plan_ok') else '–'} "
                f"≤ 30 s end to end), "
                f"load_inputs + make_plan {f(p.get('api_peak_mb'), '{:.0f}')} MB in "
                f"{f(p.get('api_process_seconds'))} s (make_plan "
                f"{f(p.get('api_make_plan_seconds'))} s)"
                + (
                    f"; failed checks: {', '.join(map(str, p['checks_failed']))}"
                    if p.get("checks_failed")
                    else ""
                ),
            ]
        else:
            lines.append(f"- whole-province police plan: ERROR {p.get('error', '')[:500]}")
    lines.append("")
    return "\n".join(lines)


def summarise(results: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    rows = [r for r in results["pmed"] if "ours_status" in r]
    missed = [
        f"{r['instance']} (n={r['n']}, p={r['p']}: {r['ours_status']}, "
        f"{f(r.get('ours_seconds'))} s)"
        for r in rows
        if not r["ours_target_met"]
    ]
    slow = max(rows, key=lambda r: r.get("ours_seconds") or 1e9, default=None)
    spr = [r for r in results["pmed"] if r.get("spopt_status") is not None]
    fin = [r for r in spr if r.get("spopt_finished")]
    ratios = [r["ratio"] for r in fin if r.get("ratio") is not None]
    return {
        "pmed_run": len(rows),
        "pmed_all_40": len(rows) == 40,
        "pmed_met": len(rows) - len(missed),
        "pmed_missed": missed,
        "pmed_slowest": (f"{slow['instance']} {f(slow.get('ours_seconds'))} s" if slow else None),
        "spopt_run": len(spr),
        "spopt_finished": len(fin),
        "spopt_unfinished": [f"{r['instance']} ({r['spopt_status']})" for r in spr if r not in fin],
        "ratio_missed": [
            f"{r['instance']} {ratio_text(r)}" for r in fin if not r.get("ratio_target_met")
        ],
        "ratio_min": f"{min(ratios):.1f}×" if ratios else None,
    }


def main(argv: list[str] | None = None) -> int:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--suite", choices=["pmed", "tsplib"], default="pmed")
    known, rest = pre.parse_known_args(argv)
    if known.suite == "tsplib":
        import tsplib_suite

        return tsplib_suite.main(rest)
    argv = rest
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--suite",
        choices=["pmed", "tsplib"],
        default="pmed",
        help="pmed (default: OR-Library and the province plan) or tsplib (see tsplib_suite.py)",
    )
    ap.add_argument(
        "--instances",
        default="all",
        help="pmed instances: all, none or e.g. pmed1-10,pmed16 (default all)",
    )
    ap.add_argument(
        "--spopt",
        default=DEFAULT_SPOPT,
        help=f"instances also run through spopt + HiGHS: all, none or a list (default {DEFAULT_SPOPT}); "
        "only those also in --instances",
    )
    ap.add_argument(
        "--time-limit", type=float, default=60.0, help="our solver's limit per instance, s (60)"
    )
    ap.add_argument(
        "--spopt-timeout", type=float, default=300.0, help="spopt's budget per instance, s (300)"
    )
    ap.add_argument(
        "--gap",
        type=float,
        default=0.0,
        help="our relative optimality gap (default 0: prove the exact optimum)",
    )
    ap.add_argument(
        "--threads", type=int, default=None, help="threads for our solver (default: its own)"
    )
    ap.add_argument(
        "--pmed-dir",
        type=Path,
        default=pmed.DEFAULT_PMED_DIR,
        help="OR-Library folder (default ../shared/benchmarks/pmed from the repo root)",
    )
    ap.add_argument("--no-plan", dest="plan", action="store_false", help="skip the province plan")
    ap.add_argument("--seed", type=int, default=2020, help="seed of the synthetic province (2020)")
    ap.add_argument(
        "--plan-time-limit",
        type=float,
        default=None,
        help="--time-limit for optimizer plan (default: the plan's own)",
    )
    ap.add_argument(
        "--plan-timeout",
        type=float,
        default=900.0,
        help="kill the plan command after this many s (900)",
    )
    ap.add_argument(
        "--out",
        type=Path,
        default=HERE / "results",
        help="folder for results.md and results.json (benchmarks/results)",
    )
    ap.add_argument("--worker", choices=["ours", "spopt", "plan"], help=argparse.SUPPRESS)
    ap.add_argument("--instance", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.worker:
        {"ours": worker_ours, "spopt": worker_spopt, "plan": worker_plan}[args.worker](args)
        return 0

    names = parse_selection(args.instances)
    spopt_names = set(parse_selection(args.spopt))
    if names:
        pmed.check_dir(args.pmed_dir)
        optimal = pmed.optimal_values(args.pmed_dir)
    if spopt_names & set(names):
        try:
            import spopt  # noqa: F401
        except ImportError:
            raise SystemExit(
                "spopt is not installed: pip install -r benchmarks/requirements.txt "
                "(or pass --spopt none)"
            ) from None
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "started": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "settings": {
            "instances": names,
            "spopt": sorted(spopt_names & set(names), key=lambda s: int(s[4:])),
            "time_limit": args.time_limit,
            "spopt_timeout": args.spopt_timeout,
            "threads": args.threads,
            "seed": args.seed,
            "targets": {
                "pmed_seconds": TARGET_PMED_SECONDS,
                "spopt_ratio": TARGET_SPOPT_RATIO,
                "plan_seconds": TARGET_PLAN_SECONDS,
                "plan_gap": TARGET_PLAN_GAP,
                "plan_memory_mb": TARGET_PLAN_MEMORY_MB,
            },
        },
        "machine": machine(),
        "pmed": [],
        "plan": None,
    }
    m = results["machine"]
    print(
        f"{m['cpu_count']} CPUs, Python {m['python']}, load {m['load_average_start'][0]:.2f}; "
        f"{len(names)} instances, spopt on {len(results['settings']['spopt'])}",
        flush=True,
    )

    def save() -> None:
        results["machine"]["load_average_end"] = list(os.getloadavg())
        results["summary"] = summarise(results, args)
        (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str))
        (args.out / "results.md").write_text(markdown(results))

    for name in names:
        n, p = pmed.header(name, args.pmed_dir)
        row: dict[str, Any] = {"instance": name, "n": n, "p": p, "optimum": optimal.get(name)}
        row.update(run_ours(args, name, row["optimum"]))
        print(
            f"{name:>7} n={n:<4} p={p:<4} ours: {row['ours_status']:<9} obj={f(row['ours_objective'], '{:g}')}"
            f" (opt {row['optimum']}) {f(row['ours_seconds'])} s, {row['ours_peak_mb']:.0f} MB"
            f" {'OK' if row['ours_target_met'] else 'MISSED'}"
            + (
                f"  [{row['ours_error'].strip().splitlines()[-1] if row['ours_error'].strip() else 'error'}]"
                if row.get("ours_error") is not None
                else ""
            ),
            end="",
            flush=True,
        )
        if name in spopt_names:
            row.update(run_spopt(args, name, row["optimum"]))
            ours = row.get("ours_seconds")
            if ours:
                if row["spopt_finished"]:
                    row["ratio"] = row["spopt_seconds"] / ours
                    row["ratio_target_met"] = row["ratio"] >= TARGET_SPOPT_RATIO
                elif row.get("spopt_seconds"):
                    row["ratio_lower_bound"] = row["spopt_seconds"] / ours
            print(
                f" | spopt: {row['spopt_status']} {f(row['spopt_seconds'])} s, "
                f"{row['spopt_peak_mb']:.0f} MB, ratio {ratio_text(row)}",
                end="",
            )
        print(flush=True)
        results["pmed"].append(row)
        save()

    if args.plan:
        results["plan"] = run_plan(args)
        p = results["plan"]
        print(
            f"plan: {p.get('status')} gap {f(p.get('gap'), '{:.2e}')}, solver {f(p.get('solver_seconds'))} s, "
            f"command {f(p.get('process_seconds'))} s, {f(p.get('peak_mb'), '{:.0f}')} MB, "
            f"make_plan {f(p.get('api_make_plan_seconds'))} s, {f(p.get('api_peak_mb'), '{:.0f}')} MB"
            + (f"  ERROR {p['error'][:300]}" if "error" in p else ""),
            flush=True,
        )
    save()
    print()
    print((args.out / "results.md").read_text())
    print(f"written: {args.out / 'results.md'} and results.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
