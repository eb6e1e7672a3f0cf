"""Write a plan's files into a folder, all or nothing."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from optimizer.outputs import maps, tables
from optimizer.outputs.plan_json import plan_json_text
from optimizer.progress import NO_PROGRESS, Progress
from optimizer.report.plan import Plan
from optimizer.schema import FACILITY_LABELS_ZH

__all__ = ["write_plan"]


def write_plan(
    plan: Plan,
    out_dir: str | Path,
    *,
    map_tiles: str | None = None,
    progress: Progress = NO_PROGRESS,
) -> list[Path]:
    """Write every output file of ``plan`` into ``out_dir``, all or nothing.

    Files are first written to a temporary folder beside ``out_dir`` and moved in only when all
    succeeded, so a failure leaves no half-written plan.

    Parameters
    ----------
    plan
        The plan to write.
    out_dir
        Output folder (created if needed).
    map_tiles
        Optional tile URL template of an office tile server for the map.
    progress
        Told of each file (or group of files) being written; default: silent.

    Returns
    -------
    list of pathlib.Path
        The files written: ``plan.json``, ``facilities.csv``, ``townships.csv``, ``plan.xlsx``,
        ``jurisdictions.gpkg`` and ``map.html``.
    """
    out = Path(out_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".plan-", dir=out.parent))
    try:
        names = _write_all(plan, tmp, map_tiles=map_tiles, progress=progress)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name in names:
            os.replace(tmp / name, out / name)
            written.append(out / name)
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_all(plan: Plan, d: Path, *, map_tiles: str | None, progress: Progress) -> list[str]:
    """Write each file into the folder ``d``; return their names in writing order."""
    n_towns, n_fac = len(plan.townships), len(plan.facilities)
    with progress.stage("write:plan.json", "写出 plan.json"):
        (d / "plan.json").write_text(plan_json_text(plan), encoding="utf-8")
    names = ["plan.json"]
    with progress.stage("write:tables", "写出 表格（facilities.csv、townships.csv、plan.xlsx）"):
        names += tables.write_tables(plan, d)
    with progress.stage("write:jurisdictions", "写出 辖区图层 jurisdictions.gpkg"):
        names += tables.write_jurisdictions(plan, d)
    label = "、".join(FACILITY_LABELS_ZH[t] for t in plan.types)
    title = f"{label}布局方案：{plan.policy.name}"
    with progress.stage("write:map", f"写出 地图 map.html（{n_towns:,} 个乡镇，{n_fac:,} 个机构）"):
        m = maps.plan_map(
            plan.townships,
            plan.facilities,
            title=title,
            facility_types=list(plan.types),
            tiles=map_tiles,
            synthetic=plan.synthetic,
            checks=plan.outcome_counts(),
        )
        maps.save_map(m, d / "map.html")
    names.append("map.html")
    return names
