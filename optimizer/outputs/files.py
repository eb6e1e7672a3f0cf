"""Write a plan's files into a folder, all or nothing."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from optimizer.outputs import maps, tables
from optimizer.outputs.grassroots import add_grassroots_layers  # grassroots (issue 14)
from optimizer.outputs.plan_json import plan_json_text
from optimizer.report.plan import Plan
from optimizer.schema import FACILITY_LABELS_ZH

__all__ = ["write_plan"]


def write_plan(plan: Plan, out_dir: str | Path, *, map_tiles: str | None = None) -> list[Path]:
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
        names = _write_all(plan, tmp, map_tiles=map_tiles)
        out.mkdir(parents=True, exist_ok=True)
        written = []
        for name in names:
            os.replace(tmp / name, out / name)
            written.append(out / name)
        return written
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _write_all(plan: Plan, d: Path, *, map_tiles: str | None) -> list[str]:
    """Write each file into the folder ``d``; return their names in writing order."""
    (d / "plan.json").write_text(plan_json_text(plan), encoding="utf-8")
    names = ["plan.json"]
    names += tables.write_tables(plan, d)
    names += tables.write_jurisdictions(plan, d)
    label = "、".join(FACILITY_LABELS_ZH[t] for t in plan.types)
    title = f"{label}布局方案：{plan.policy.name}"
    m = maps.plan_map(
        plan.townships,
        plan.facilities,
        title=title,
        facility_types=list(plan.types),
        tiles=map_tiles,
        synthetic=plan.synthetic,
    )
    if plan.grassroots is not None:  # grassroots (issue 14): 网格 and 村（社区） layers
        add_grassroots_layers(m, plan.grassroots)
    maps.save_map(m, d / "map.html")
    names.append("map.html")
    return names
