"""Run every notebook in notebooks/ on the bundled sample with papermill, from two folders.

Each notebook runs from the repository root and from an unrelated folder (paths come from the
package, not the working folder); papermill must parse every parameter of the cell tagged
``parameters``. Notebooks must be committed without outputs (the nbstripout rule), which is
checked too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
papermill = pytest.importorskip("papermill")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"

#: notebook -> files it must write into out_dir
EXPECTED = {
    "01_baseline_plan.ipynb": ["plan.json", "plan.xlsx", "map.html", "townships.csv"],
    "02_compare_merge_options.ipynb": [
        "comparison.xlsx",
        "comparison.csv",
        "township_differences.csv",
        "compare.html",
        "chart_distance.png",
        "chart_kept.png",
    ],
    "03_county_deep_dive.ipynb": [
        "511823_townships.csv",
        "511823_stations.csv",
        "511823_map.html",
    ],
}


ROOT = NOTEBOOKS.parent


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_papermill_parses_every_parameter(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1, "exactly one cell must be tagged 'parameters'"
    assigned = [line.split("=")[0].strip() for line in cells[0].source.splitlines() if "=" in line]
    params = papermill.inspect_notebook(str(NOTEBOOKS / name))
    assert sorted(params) == sorted(assigned)
    for p in params.values():
        assert p["help"], f"{name}: parameter {p['name']} has no comment"
    assert params["facility_types"]["default"] == "None"  # all three types by default


def test_every_notebook_is_listed() -> None:
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_committed_without_outputs(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{name}: strip outputs before committing (nbstripout)"
            )


@pytest.mark.parametrize("where", ["root", "elsewhere"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs(name: str, where: str, tmp_path: Path) -> None:
    cwd = ROOT if where == "root" else tmp_path / "somewhere"
    cwd.mkdir(exist_ok=True)
    out = tmp_path / "out"
    params: dict[str, object] = {"out_dir": str(out)}
    if name.startswith("02"):
        params["workers"] = 1
    nb = papermill.execute_notebook(
        str(NOTEBOOKS / name),
        str(tmp_path / name),
        parameters=params,
        cwd=str(cwd),
        kernel_name="python3",
        progress_bar=False,
        execution_timeout=300,
    )
    for f in EXPECTED[name]:
        assert (out / f).is_file(), f"{name} did not write {f}"
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    maps = [h for h in html if h.startswith("<iframe srcdoc=")]
    assert maps, f"{name} shows no map"
    assert all("cdn.jsdelivr" not in h for h in maps)  # the inline maps work offline too
    text = " ".join(str(o.get("text", "")) + str(o.get("data", {})) for o in outputs)
    for label in ("派出所", "司法所", "人民法庭"):  # all three types by default
        assert label in text, f"{name} does not show {label}"
    assert not list(cwd.glob("out")) or where == "root"  # wrote only where told
