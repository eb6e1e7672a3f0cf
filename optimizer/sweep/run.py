"""Run a sweep on the engine and write its folder as the runs finish.

The folder ``OUT`` holds ``runs/<run_id>/plan.json`` (and the full plan files with
``map.html`` for the runs whose maps were asked for) and ``runs/<run_id>/row.json`` (the run's
row, written last: a run is finished when it is there), ``sweep.csv`` rewritten as each run
finishes, and at the end ``sweep.xlsx``, ``best.csv`` and one ``chart_tradeoff_<type>.png`` per
facility type, moved in together.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from optimizer.engine import Engine, Job, Outcome, RegionData, plan_job, prepare
from optimizer.errors import PolicyError
from optimizer.inputs import Inputs
from optimizer.outputs import write_plan
from optimizer.outputs.files import PLAN_FILES, staged_output
from optimizer.outputs.plan_json import plan_json_text
from optimizer.report import Plan
from optimizer.schema import FACILITY_TYPES
from optimizer.sweep.regions import region_inputs
from optimizer.sweep.spec import BEST_CRITERIA, Run, SweepSpec, runs_of
from optimizer.sweep.table import (
    CRITERIA_ZH,
    best_table,
    plan_row,
    sweep_frame,
    tradeoff_chart,
    write_workbook,
    zh_table,
)

__all__ = ["SweepResult", "run_sweep"]

logger = logging.getLogger(__name__)


@dataclass
class SweepResult:
    """What a sweep did.

    Attributes
    ----------
    table
        The sweep table (one row per run, finished earlier or now).
    best
        The best run of each region.
    written
        The files and folders at the top of the output folder.
    skipped
        Runs found finished in the folder (``--resume``) and not run again.
    interrupted
        True when ``Ctrl-C`` stopped the sweep before every run finished.
    seconds
        Wall-clock seconds of its steps: ``prepare`` (the regions' geography), ``startup``
        (the cluster), ``runs`` (first run submitted to last one written), ``final`` (the
        table, workbook and charts).
    finished_at
        Seconds after the runs began at which each run was written, in finishing order.
    """

    table: pd.DataFrame
    best: pd.DataFrame
    written: list[Path] = field(default_factory=list)
    skipped: int = 0
    interrupted: bool = False
    seconds: dict[str, float] = field(default_factory=dict)
    finished_at: list[float] = field(default_factory=list)


#: What the sweep writes at the top of its folder (every other entry is left alone).
SWEEP_FILES: tuple[str, ...] = (
    "sweep.csv",
    "best.csv",
    "sweep.xlsx",
    *(f"chart_tradeoff_{t}.png" for t in FACILITY_TYPES),
)
RUN_FILES: tuple[str, ...] = (*PLAN_FILES, "row.json")


def _write_files(folder: Path, texts: dict[str, str], names: Sequence[str]) -> None:
    """Write the files ``texts`` into ``folder`` together, all or nothing (staged, renamed in).

    ``names`` are all the files the sweep may write there (the others are not its own).
    """
    with staged_output(folder, names, ("runs",) if "sweep.csv" in names else ()) as tmp:
        for name, text in texts.items():
            (tmp / name).write_text(text, encoding="utf-8", newline="")


def finish_run(plan: Plan) -> dict[str, Any]:
    """Return what a sweep writes of a finished plan: its ``plan.json`` text and its row.

    Run on the worker (:meth:`optimizer.engine.Engine.run` ``finish``), inside the run's time,
    so that this process only writes files while the workers go on planning.
    """
    return {"plan_json": plan_json_text(plan), "row": plan_row(plan)}


def _csv_text(frame: pd.DataFrame) -> str:
    return "\ufeff" + frame.to_csv(index=False, lineterminator="\n")


def _finished_rows(out: Path, runs: Sequence[Run]) -> dict[str, dict[str, Any]]:
    wanted = {r.run_id for r in runs}
    rows = {}
    for path in sorted((out / "runs").glob("*/row.json")):
        row = json.loads(path.read_text(encoding="utf-8"))
        if row.get("run_id") in wanted and row.get("status") == "ok":
            rows[row["run_id"]] = row
    return rows


def _synthetic_run(out: Path, run_id: str) -> bool:
    plan = json.loads((out / "runs" / run_id / "plan.json").read_text(encoding="utf-8"))
    return bool(plan.get("synthetic", False))


def _maps_wanted(maps: str | Sequence[str], run_id: str) -> bool:
    return maps == "all" or (not isinstance(maps, str) and run_id in maps)


class _Recorder:
    """Writes each finished run, keeps the rows and the table current, shows progress."""

    def __init__(
        self, spec: SweepSpec, out: Path, runs: Sequence[Run], maps: Any, rows: dict
    ) -> None:
        self.spec, self.out, self.maps = spec, out, maps
        self.by_id = {r.run_id: r for r in runs}
        self.order = [r.run_id for r in runs]
        self.rows: dict[str, dict[str, Any]] = rows
        self.best: dict[str, tuple[tuple[Any, ...], str, Plan]] = {}
        self.synthetic = any(_synthetic_run(out, i) for i in rows)
        self.todo = len(runs) - len(rows)
        self.count = 0
        self.t0 = time.perf_counter()
        self.finished_at: list[float] = []

    def __call__(self, job: Job, outcome: Outcome) -> None:
        run = self.by_id[job.key]
        row: dict[str, Any] = {"run_id": run.run_id, "region": run.region, **run.settings}
        row |= {"status": outcome.status, "reason": outcome.reason}
        folder = self.out / "runs" / run.run_id
        texts: dict[str, str] = {}
        if outcome.plan is not None:
            extra = outcome.extra or finish_run(outcome.plan)
            row |= extra["row"]
            if _maps_wanted(self.maps, run.run_id):
                write_plan(outcome.plan, folder, known=RUN_FILES)
            else:
                texts["plan.json"] = extra["plan_json"]
            self._keep_best(run, row, outcome.plan)
            self.synthetic |= outcome.plan.synthetic
        row["seconds"] = round(outcome.seconds, 2)
        row["cpu_seconds"] = round(outcome.cpu_seconds, 2)
        # a run's folder appears whole: plan.json and row.json (which marks it finished) together
        texts["row.json"] = json.dumps(row, ensure_ascii=False, indent=1)
        _write_files(folder, texts, RUN_FILES)
        self.rows[run.run_id] = row
        _write_files(self.out, {"sweep.csv": _csv_text(self.table())}, SWEEP_FILES)
        self.count += 1
        elapsed = time.perf_counter() - self.t0
        self.finished_at.append(elapsed)
        eta = elapsed / self.count * (self.todo - self.count)
        logger.info(
            "[%d/%d] %s %s: %s%s, %.1f s (elapsed %.0f s, about %.0f s to go)",
            self.count, self.todo, run.region, run.policy.name, outcome.status,
            f" ({outcome.reason[:120]})" if outcome.reason else "", outcome.seconds, elapsed, eta,
        )  # fmt: skip

    def _keep_best(self, run: Run, row: dict[str, Any], plan: Plan) -> None:
        if self.maps != "best":
            return
        rank = (row["not_met"] > 0, row[BEST_CRITERIA[self.spec.best]], row["kept"], run.run_id)
        if run.region not in self.best or rank < self.best[run.region][0]:
            self.best[run.region] = (rank, run.run_id, plan)

    def table(self) -> pd.DataFrame:
        rows = [self.rows[i] for i in self.order if i in self.rows]
        return sweep_frame(rows, list(self.spec.grid))


def _write_final(
    rec: _Recorder, table: pd.DataFrame, best: pd.DataFrame, types: Sequence[str], synthetic: bool
) -> list[Path]:
    """Write sweep.csv, sweep.xlsx, best.csv and the charts together (all or nothing)."""
    out = rec.out
    summary = pd.DataFrame(
        [
            ("扫描", rec.spec.name),
            ("数据", "合成示例数据（非真实数据）" if synthetic else "用户提供的数据"),
            ("运行数", len(table)),
            ("完成", int((table["status"] == "ok").sum())),
            ("失败或超时", int((table["status"] != "ok").sum())),
            ("择优标准", CRITERIA_ZH[rec.spec.best]),
        ],
        columns=["项目", "数值"],
    )
    names = ["sweep.csv", "best.csv", "sweep.xlsx"]
    with staged_output(out, SWEEP_FILES, ("runs",)) as tmp:
        (tmp / "sweep.csv").write_text(_csv_text(table), encoding="utf-8", newline="")
        (tmp / "best.csv").write_text(_csv_text(best), encoding="utf-8", newline="")
        write_workbook(
            tmp / "sweep.xlsx",
            [("汇总", summary), ("全部运行", zh_table(table)), ("各地区最优", zh_table(best))],
        )
        for t in types:
            if f"reduction__{t}" in table:
                name = f"chart_tradeoff_{t}.png"
                tradeoff_chart(table, t, tmp / name, synthetic=synthetic)
                names.append(name)
    return [out / name for name in names]


def run_sweep(
    spec: SweepSpec,
    inputs: Inputs,
    out_dir: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    resume: bool = False,
    maps: str | Sequence[str] | None = None,
    fn: Callable[[RegionData, Any, Any], Plan] = plan_job,
) -> SweepResult:
    """Run every (scenario, region) pair of a sweep and write the sweep folder.

    Parameters
    ----------
    spec
        The sweep (:func:`optimizer.sweep.spec.load_sweep`).
    inputs
        The whole data set; each region is cut from it.
    out_dir
        The sweep folder.
    workers, scheduler
        Where the runs go (see :class:`optimizer.engine.Engine`).
    resume
        Skip the runs the folder already holds as finished; without it the folder must not
        hold a sweep yet.
    maps
        ``none``, ``best``, ``all`` or run ids (default: the sweep file's ``maps``).
    fn
        What a worker runs for each run (default: :func:`optimizer.engine.plan_job`).

    Returns
    -------
    SweepResult
        The table, the best runs and what was written.

    Raises
    ------
    PolicyError
        For a region the data does not hold, or a folder holding a sweep without ``resume``.
    """
    out = Path(out_dir)
    runs = runs_of(spec, inputs.townships["county_code"].tolist())
    if (out / "runs").exists() and not resume:
        raise PolicyError(
            f"{out} already holds a sweep; pass --resume to finish it or choose another folder"
        )
    out.mkdir(parents=True, exist_ok=True)
    rows = _finished_rows(out, runs) if resume else {}
    skipped = len(rows)
    todo = [r for r in runs if r.run_id not in rows]
    logger.info("sweep %r: %d runs, %d already finished", spec.name, len(runs), len(rows))
    maps = spec.maps if maps is None else maps
    unknown = [] if isinstance(maps, str) else sorted(set(maps) - {r.run_id for r in runs})
    if unknown:
        logger.warning("maps: no run has the id(s) %s; see run_id in sweep.csv", ", ".join(unknown))
    rec = _Recorder(spec, out, runs, maps, rows)
    clock = time.perf_counter()
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 3)
        clock = now

    data = {}
    for region in dict.fromkeys(r.region for r in todo):
        logger.info("region %s: projection, adjacency and travel network ...", region)
        data[region] = prepare(region_inputs(inputs, region))
    lap("prepare")
    jobs = [Job(r.run_id, r.region, r.policy, spec.types) for r in todo]
    interrupted = False
    if jobs:
        limit = spec.run_time_limit
        with Engine(workers=workers, scheduler=scheduler, run_time_limit=limit) as engine:
            lap("startup")
            rec.t0 = time.perf_counter()  # progress counts from the first run, not the start-up
            engine.run(data, jobs, on_outcome=rec, fn=fn, finish=finish_run)
            interrupted = engine.interrupted
            lap("runs")
    for _, run_id, plan in rec.best.values():
        write_plan(plan, out / "runs" / run_id, known=RUN_FILES)
    table = rec.table()
    best = best_table(table, spec.best, BEST_CRITERIA[spec.best])
    types = spec.types or [t for t in FACILITY_TYPES if f"kept__{t}" in table]
    written = _write_final(rec, table, best, types, rec.synthetic)
    written.append(out / "runs")
    lap("final")
    return SweepResult(
        table, best, written, skipped, interrupted, seconds, finished_at=rec.finished_at
    )
