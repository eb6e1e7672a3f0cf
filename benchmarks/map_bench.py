"""Benchmark the province map: size, writing time and drawing time, old and new side by side.

Run from the repository root (needs git and Debian's ``chromium``)::

    python benchmarks/map_bench.py                       # plans the synthetic province first
    python benchmarks/map_bench.py --data /work/prov     # an existing `optimizer sample` folder
    python benchmarks/map_bench.py --plan-cache /tmp/prov_plan.pkl   # reuse a pickled plan

One plan of the whole synthetic province (``optimizer sample --counties all --seed 0``) is drawn
twice: by the map code of another git revision (``--old-ref``, default ``main``: its
``optimizer/outputs/maps.py`` is read with ``git show`` and imported beside this checkout's
package) and by this checkout's. Each map is written ``--rounds`` times (the best time counts);
then both are drawn in headless Chromium, alternately, ``--rounds`` times each, in the same run
and with the same flags, with an empty page as a third contender to measure the browser's own
start-up. *Drawing time* is the wall time of the browser process minus the empty page's median.
Targets (issue 13): map.html at most 8 MB, written in at most 3 s, drawn in at most a third of
the old map's time.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pickle
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_MB = 8.0
TARGET_WRITE_S = 3.0
TARGET_DRAW_RATIO = 1 / 3


def _old_maps(ref: str) -> ModuleType:
    """Import ``optimizer/outputs/maps.py`` of git revision ``ref`` as a module of its own."""
    text = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{ref}:optimizer/outputs/maps.py"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="old-maps-"))
    path = folder / "old_maps.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("old_maps", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _plan(args: argparse.Namespace) -> Any:
    if args.plan_cache and Path(args.plan_cache).exists():
        with open(args.plan_cache, "rb") as fh:
            return pickle.load(fh)
    from optimizer import load_inputs, make_plan
    from optimizer.rules import load_scenario

    data = args.data
    if data is None:
        from optimizer.sample import build_sample, write_sample

        data = Path(tempfile.mkdtemp(prefix="province-")) / "data"
        print("writing the synthetic province (optimizer sample --counties all --seed 0) ...")
        write_sample(build_sample("all", seed=0), data)
    print(f"planning {data} with scenarios/baseline.yaml ...")
    plan = make_plan(load_inputs(data), load_scenario(ROOT / "scenarios" / "baseline.yaml"))
    if args.plan_cache:
        with open(args.plan_cache, "wb") as fh:
            pickle.dump(plan, fh)
    return plan


def _write(module: ModuleType, plan: Any, path: Path, new: bool) -> float:
    from optimizer.schema import FACILITY_LABELS_ZH

    title = f"{'、'.join(FACILITY_LABELS_ZH[t] for t in plan.types)}布局方案：{plan.policy.name}"
    extra = {"checks": plan.outcome_counts()} if new else {}
    t0 = time.perf_counter()
    m = module.plan_map(
        plan.townships,
        plan.facilities,
        title=title,
        facility_types=list(plan.types),
        synthetic=plan.synthetic,
        **extra,
    )
    module.save_map(m, path)
    return time.perf_counter() - t0


def _chromium() -> str:
    for cand in ("/usr/bin/chromium", "chromium", "chromium-browser"):
        found = shutil.which(cand)
        if found:
            return found
    raise SystemExit("chromium is not installed (apt-get install chromium)")


def _draw(exe: str, page: Path, png: Path, budget_ms: int, timeout_s: float) -> float:
    """Return the wall time of a headless Chromium that opens ``page`` and screenshots it.

    A browser still busy after ``timeout_s`` is stopped and counted as ``timeout_s`` (so the
    ratio errs in the old map's favour).
    """
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as profile:
        cmd = [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-extensions",
            "--proxy-server=127.0.0.1:9",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "--window-size=1400,1000",
            f"--virtual-time-budget={budget_ms}",
            f"--screenshot={png}",
            page.resolve().as_uri(),
        ]
        t0 = time.perf_counter()
        try:
            subprocess.run(cmd, capture_output=True, check=False, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            print(f"  {page.name}: still drawing after {timeout_s:.0f} s, stopped")
            return timeout_s
        return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table; exit 1 when a target is missed."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, help="an `optimizer sample --counties all` folder")
    ap.add_argument("--plan-cache", type=Path, help="pickle of the plan, read if present")
    ap.add_argument("--old-ref", default="main", help="git revision of the old map (main)")
    ap.add_argument("--rounds", type=int, default=3, help="writes and draws per map (3)")
    ap.add_argument("--budget-ms", type=int, default=5000, help="virtual time per draw (5000)")
    ap.add_argument("--out", type=Path, help="keep the maps and screenshots in this folder")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per draw at most (300)")
    args = ap.parse_args(argv)

    load0 = os.getloadavg()
    out = args.out or Path(tempfile.mkdtemp(prefix="map-bench-"))
    out.mkdir(parents=True, exist_ok=True)
    plan = _plan(args)
    from optimizer.outputs import maps as new_maps

    old_maps = _old_maps(args.old_ref)
    pages = {"old": out / "old_map.html", "new": out / "new_map.html"}
    write = {
        name: min(
            _write(old_maps if name == "old" else new_maps, plan, pages[name], name == "new")
            for _ in range(args.rounds)
        )
        for name in pages
    }
    empty = out / "empty.html"
    empty.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    exe = _chromium()
    draws: dict[str, list[float]] = {"empty": [], "old": [], "new": []}
    for _ in range(args.rounds):
        for name, page in (("empty", empty), ("old", pages["old"]), ("new", pages["new"])):
            draws[name].append(_draw(exe, page, out / f"{name}.png", args.budget_ms, args.timeout))
    base = statistics.median(draws["empty"])
    draw = {k: max(statistics.median(draws[k]) - base, 0.0) for k in pages}
    size = {k: p.stat().st_size / 1e6 for k, p in pages.items()}
    ratio = draw["new"] / draw["old"] if draw["old"] > 0 else float("nan")

    print(f"load average at the end: {os.getloadavg()} (at the start: {load0})")
    print(f"{'map':<6}{'MB':>8}{'write s':>10}{'draw s':>10}   (draw = median wall − empty page)")
    for k in pages:
        print(f"{k:<6}{size[k]:>8.2f}{write[k]:>10.2f}{draw[k]:>10.2f}")
    print(f"empty page wall time {base:.2f} s; raw walls: {draws}")
    print(f"new draw / old draw = {ratio:.3f} (target ≤ {TARGET_DRAW_RATIO:.3f})")
    ok = size["new"] <= TARGET_MB and write["new"] <= TARGET_WRITE_S and ratio <= TARGET_DRAW_RATIO
    print(
        f"targets: ≤ {TARGET_MB} MB, ≤ {TARGET_WRITE_S} s, ratio ≤ 1/3: {'met' if ok else 'MISSED'}"
    )
    print(f"files in {out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
