"""optimizer sweep: the sweep file, runs on Dask equal to runs one by one, failures, resume."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from optimizer.cli import main
from optimizer.engine import Engine, Job, plan_job, prepare
from optimizer.inputs import load_inputs
from optimizer.outputs.plan_json import plan_json_text
from optimizer.paths import sample_dir
from optimizer.pipeline import make_plan
from optimizer.sweep import load_sweep, run_sweep, runs_of
from optimizer.sweep.regions import region_inputs

#: These tests run a Dask scheduler and workers on 127.0.0.1.
pytestmark = pytest.mark.loopback

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
TIMING_KEYS = {"seconds", "timing", "stage_seconds", "time_budget"}

# two small counties of the bundled sample, police stations only: four runs of about a second
SPEC = f"""
name: 测试扫描
base: {SCENARIOS / "baseline.yaml"}
types: [police_station]
grid:
  police.reduction: [0.35, 0.5]
regions: ["511826", "511827"]
run_time_limit: 120
"""


@pytest.fixture(scope="module")
def sample():
    return load_inputs(sample_dir())


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return path


def _strip(value):
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _plan(path: Path) -> dict:
    return _strip(json.loads(path.read_text(encoding="utf-8")))


def test_bad_sweep_file_lists_every_problem_and_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "typs: [police_station]\n"
        "grid:\n  police.reductio: [0.3]\n  police.scope: [kounty]\n"
        "regions: [51, {each: town}]\nbest: fastest\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    assert main(["sweep", str(bad), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    for text in (
        "'typs'; did you mean 'types'",
        "police.reductio",
        "kounty",
        "51",
        "town",
        "fastest",
    ):
        assert text in err
    assert "Traceback" not in err
    assert not out.exists()


def test_region_code_not_in_the_data_is_reported(sample, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("grid: {police.reduction: [0.4]}\nregions: ['5101', '511826']\n", "utf-8")
    with pytest.raises(Exception, match="5101"):
        runs_of(load_sweep(path), sample.townships["county_code"].tolist())


def test_local_cluster_of_two_equals_runs_one_by_one(sample, spec_file, tmp_path):
    spec = load_sweep(spec_file)
    result = run_sweep(spec, sample, tmp_path / "out", workers=2)
    table = result.table
    assert len(table) == 4 and (table["status"] == "ok").all()
    assert set(table["region"]) == {"511826", "511827"}
    for run in runs_of(spec, sample.townships["county_code"].tolist()):
        alone = make_plan(region_inputs(sample, run.region), run.policy, types=spec.types)
        on_dask = _plan(tmp_path / "out" / "runs" / run.run_id / "plan.json")
        assert on_dask == _strip(json.loads(plan_json_text(alone)))
        row = table.set_index("run_id").loc[run.run_id]
        assert row["kept__police_station"] == alone.metrics["police_station"].after.count
        assert row["not_met"] == alone.outcome_counts()["not_met"]
    # the written table is what the result says; the workbook has the Chinese sheets
    csv = pd.read_csv(tmp_path / "out" / "sweep.csv", dtype={"region": str})
    assert list(csv["run_id"]) == list(table["run_id"])
    sheets = pd.read_excel(tmp_path / "out" / "sweep.xlsx", sheet_name=None)
    assert list(sheets) == ["汇总", "全部运行", "各地区最优"]
    assert "派出所保留数量" in sheets["全部运行"].columns
    assert len(result.best) == 2
    assert (tmp_path / "out" / "chart_tradeoff_police_station.png").stat().st_size > 10_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_sweep_on_a_dask_scheduler_and_worker_started_here(spec_file, tmp_path, capsys):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    bin_dir = Path(sys.executable).parent
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    procs = [
        subprocess.Popen(
            [bin_dir / "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port),
             "--no-dashboard"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        )
    ]  # fmt: skip
    try:
        procs.append(
            subprocess.Popen(
                [bin_dir / "dask", "worker", address, "--nthreads", "1", "--no-dashboard",
                 "--host", "127.0.0.1"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
            )
        )  # fmt: skip
        out = tmp_path / "out"
        rc = main(["sweep", str(spec_file), "--out", str(out), "--scheduler", address, "-q"])
        assert rc == 0
        table = pd.read_csv(out / "sweep.csv")
        assert len(table) == 4 and (table["status"] == "ok").all()
        assert "4 ok" in capsys.readouterr().out
    finally:
        for p in reversed(procs):
            p.terminate()
            p.wait(timeout=30)


def test_a_run_whose_worker_is_killed_is_reported_and_the_rest_complete(
    sample, spec_file, tmp_path
):
    spec = load_sweep(spec_file)

    def dies_on_deep_cut(data, policy, types):
        if (
            policy.police.reduction == 0.5
            and data.inputs.townships["county_code"].iloc[0] == "511827"
        ):
            os._exit(1)  # the worker process dies mid-run (as when killed or out of memory)
        return plan_job(data, policy, types)

    result = run_sweep(spec, sample, tmp_path / "out", workers=2, fn=dies_on_deep_cut)
    table = result.table.set_index(["region", "police.reduction"])
    assert table.loc[("511827", 0.5), "status"] == "failed"
    assert "died" in table.loc[("511827", 0.5), "reason"]
    assert (table.drop(("511827", 0.5))["status"] == "ok").all()
    assert len(result.table) == 4


def test_a_run_over_its_wall_clock_limit_times_out_and_the_rest_complete(sample):
    data = {"a": prepare(region_inputs(sample, "511826"))}
    policy = load_sweep(SCENARIOS / "sweep-cuts.yaml").policies[0]

    def slow_on_b(data, policy, types):
        if policy.name == "slow":
            time.sleep(120)
        return plan_job(data, policy, types)

    import dataclasses

    jobs = [
        Job("slow", "a", dataclasses.replace(policy, name="slow"), ("police_station",)),
        Job("fast", "a", policy, ("police_station",)),
    ]
    t0 = time.perf_counter()
    with Engine(workers=2, run_time_limit=2, grace=0) as engine:
        outcomes = {o.key: o for o in engine.run(data, jobs, fn=slow_on_b)}
    assert time.perf_counter() - t0 < 100
    assert outcomes["slow"].status == "timeout" and "2 s" in outcomes["slow"].reason
    assert outcomes["fast"].status == "ok" and outcomes["fast"].plan is not None


def test_resume_skips_finished_runs(sample, spec_file, tmp_path, capsys):
    out = tmp_path / "out"
    calls = []

    def counted(data, policy, types):
        calls.append(policy.name)
        return plan_job(data, policy, types)

    spec = load_sweep(spec_file)
    first = run_sweep(spec, sample, out, workers=0, fn=counted)
    assert len(calls) == 4
    lost = first.table["run_id"].iloc[1]
    (out / "runs" / lost / "row.json").unlink()  # as if the sweep had stopped before it
    # without --resume the folder is refused; with it only the missing run is made again
    assert main(["sweep", str(spec_file), "--out", str(out), "--workers", "0", "-q"]) == 2
    assert "--resume" in capsys.readouterr().err
    calls.clear()
    again = run_sweep(spec, sample, out, workers=0, resume=True, fn=counted)
    assert len(calls) == 1 and again.skipped == 3
    assert list(again.table["run_id"]) == list(first.table["run_id"])
    assert (again.table["status"] == "ok").all()


def test_each_run_on_a_worker_has_its_solver_pinned_to_one_thread(sample):
    """HiGHS keeps a scheduler per thread: the pin must reach the thread the run goes in."""
    data = {"a": prepare(region_inputs(sample, "511826"))}
    policy = load_sweep(SCENARIOS / "sweep-cuts.yaml").policies[0]

    def refused_two_threads(data, policy, types):
        import highspy
        import numpy as np

        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("threads", 2)
        h.addVars(1, np.zeros(1), np.ones(1))
        if h.run() != highspy.HighsStatus.kError:  # a pinned thread refuses another count
            raise RuntimeError("the run's HiGHS is not pinned to one thread")
        return plan_job(data, policy, types)

    with Engine(workers=1) as engine:
        (outcome,) = engine.run(
            data, [Job("one", "a", policy, ("police_station",))], fn=refused_two_threads
        )
    assert outcome.status == "ok", outcome.reason
