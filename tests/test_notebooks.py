"""Run every notebook in notebooks/ on the bundled sample, papermill-style, with nbclient.

Parameters are injected by appending assignments to the cell tagged ``parameters`` (what
papermill does with an extra cell), so papermill itself is not needed. Notebooks must be
committed without outputs (the nbstripout rule), which is checked too.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

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


def inject(nb: object, params: dict[str, object]) -> None:
    """Append ``name = value`` lines to the cell tagged ``parameters``."""
    cells = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]  # type: ignore[attr-defined]
    assert len(cells) == 1, "exactly one cell must be tagged 'parameters'"
    lines = [f"{k} = {v!r}" for k, v in params.items()]
    cells[0].source += "\n# injected by the test\n" + "\n".join(lines) + "\n"


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


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_notebook_runs(name: str, tmp_path: Path) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    out = tmp_path / "out"
    params: dict[str, object] = {"out_dir": str(out)}
    if name.startswith("02"):
        params["workers"] = 1
    inject(nb, params)
    client = nbclient.NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    t0 = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - t0
    assert seconds < 60, f"{name} took {seconds:.0f} s"
    for f in EXPECTED[name]:
        assert (out / f).is_file(), f"{name} did not write {f}"
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    maps = [h for h in html if h.startswith("<iframe srcdoc=")]
    assert maps, f"{name} shows no map"
    assert all("cdn.jsdelivr" not in h for h in maps)  # the inline maps work offline too
