"""The sweep folder is written all or nothing, and its workbook is safe to open."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest

from optimizer.errors import OutputError
from optimizer.inputs import load_inputs
from optimizer.paths import sample_dir
from optimizer.sweep import load_sweep, run_sweep
from optimizer.sweep import run as sweep_run

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"

# one small county of the bundled sample, police stations only: two runs of about a second
SPEC = f"""
name: "=HYPERLINK(\\"http://example.invalid\\", \\"扫描\\")"
base: {SCENARIOS / "baseline.yaml"}
types: [police_station]
grid:
  police.reduction: [0.35, 0.5]
regions: ["511826"]
run_time_limit: 120
"""


@pytest.fixture(scope="module")
def sample():
    return load_inputs(sample_dir())


@pytest.fixture
def spec(tmp_path: Path):
    path = tmp_path / "sweep.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return load_sweep(path)


def _leftovers(folder: Path) -> list[str]:
    """Temporary folders a staged write would leave behind, anywhere under ``folder``."""
    return sorted(str(p) for p in folder.rglob(".*") if "partial" in p.name or "sweep-" in p.name)


def test_each_run_folder_is_whole_and_the_workbook_text_is_literal(sample, spec, tmp_path):
    out = tmp_path / "out"
    result = run_sweep(spec, sample, out, workers=0)
    assert (result.table["status"] == "ok").all() and len(result.table) == 2
    for run_id in result.table["run_id"]:
        folder = out / "runs" / run_id
        assert sorted(p.name for p in folder.iterdir()) == ["plan.json", "row.json"]
        row = json.loads((folder / "row.json").read_text(encoding="utf-8"))
        assert row["status"] == "ok" and row["cpu_seconds"] > 0
    assert _leftovers(tmp_path) == []
    # the sweep's name looks like a formula: the workbook holds it as text, not as a link
    book = openpyxl.load_workbook(out / "sweep.xlsx")
    cells = [c for row in book["汇总"].iter_rows() for c in row if "HYPERLINK" in str(c.value)]
    assert cells and all(c.data_type == "s" for c in cells)
    assert {"seconds", "cpu_seconds"} <= set(result.table.columns)


def test_a_failing_final_write_keeps_the_previous_table_and_leaves_no_temporary_files(
    sample, spec, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    run_sweep(spec, sample, out, workers=0)
    before = {n: (out / n).read_bytes() for n in ("sweep.csv", "best.csv", "sweep.xlsx")}

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    # a rerun whose workbook cannot be written: nothing of its final files goes in
    monkeypatch.setattr(sweep_run, "write_workbook", disk_full)
    (out / "runs" / sorted(p.name for p in (out / "runs").iterdir())[0] / "row.json").unlink()
    with pytest.raises(OutputError, match="space"):
        run_sweep(spec, sample, out, workers=0, resume=True)
    assert (out / "best.csv").read_bytes() == before["best.csv"]
    assert (out / "sweep.xlsx").read_bytes() == before["sweep.xlsx"]
    assert _leftovers(tmp_path) == []
    # the rerun's run itself was finished and is kept: a later --resume only rewrites the table
    assert len(list((out / "runs").glob("*/row.json"))) == 2


def test_the_best_runs_maps_go_beside_their_rows_without_a_false_note(
    sample, spec, tmp_path, caplog
):
    out = tmp_path / "out"
    with caplog.at_level("WARNING"):
        result = run_sweep(spec, sample, out, workers=0, maps="best")
    assert not [r for r in caplog.records if "did not write" in r.getMessage()]
    (best,) = result.best["run_id"].tolist()
    names = sorted(p.name for p in (out / "runs" / best).iterdir())
    assert "map.html" in names and "row.json" in names and "plan.json" in names
