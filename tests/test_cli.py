"""The command line end to end: outputs of `plan`, bad data, bad scenarios, `sample`."""

from __future__ import annotations

import hashlib
import json
import math
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from conftest import build_facilities, build_townships
from openpyxl import load_workbook

from optimizer.cli import main

OUTPUTS = {
    "plan.json",
    "facilities.csv",
    "townships.csv",
    "plan.xlsx",
    "jurisdictions.gpkg",
    "map.html",
}


def digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def sample_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "sample"
    assert main(["plan", "--out", str(out), "-q"]) == 0
    return out


def test_plan_writes_every_output(sample_out: Path) -> None:
    assert {p.name for p in sample_out.iterdir()} == OUTPUTS
    plan = json.loads((sample_out / "plan.json").read_text(encoding="utf-8"))
    assert plan["synthetic"] is True
    assert plan["schema_version"] == 1
    assert all(c["passed"] for c in plan["checks"])
    assert plan["metrics"]["police_station"]["reduction"] >= 0.35 - 1e-9


def test_facilities_csv_has_bom_and_chinese(sample_out: Path) -> None:
    raw = (sample_out / "facilities.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    assert "派出所" in text
    assert (sample_out / "townships.csv").read_bytes().startswith(b"\xef\xbb\xbf")


def test_excel_has_the_documented_sheets(sample_out: Path) -> None:
    wb = load_workbook(sample_out / "plan.xlsx", read_only=True)
    try:
        assert {"汇总", "派出所", "乡镇", "区县", "规则检查"} <= set(wb.sheetnames)
    finally:
        wb.close()


def test_jurisdictions_one_valid_polygon_per_kept_station(sample_out: Path) -> None:
    plan = json.loads((sample_out / "plan.json").read_text(encoding="utf-8"))
    kept = sorted(
        f["id"]
        for f in plan["facilities"]
        if f["type"] == "police_station" and f["decision"] == "keep"
    )
    assert "police_station" in [
        name for name, _ in pyogrio.list_layers(sample_out / "jurisdictions.gpkg")
    ]
    gdf = gpd.read_file(sample_out / "jurisdictions.gpkg", layer="police_station")
    assert len(gdf) == len(kept)
    assert sorted(gdf["facility_id"]) == kept
    assert gdf.geometry.is_valid.all()
    assert not gdf.geometry.is_empty.any()
    assert set(gdf.geom_type) <= {"Polygon", "MultiPolygon"}
    assert gdf.crs is not None and gdf.crs.to_epsg() == 4490


def test_python_dash_m_plan(tmp_path: Path, tiny_data: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "optimizer", "plan", "--data", str(tiny_data), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert {p.name for p in out.iterdir()} == OUTPUTS
    assert "派出所" in proc.stdout and "规则检查" in proc.stdout


def test_bad_data_lists_every_problem_and_writes_nothing(
    make_data_dir: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    towns = build_townships().drop(columns=["incidents"])
    towns.loc[1, "code"] = towns.loc[0, "code"]
    towns.loc[2, "population"] = -5.0
    facs = build_facilities()
    facs.loc[0, "township_code"] = "510122999"
    facs.loc[1, "lon"] = 500.0
    data = make_data_dir("bad", townships=towns, facilities=facs)
    before = digest(data)
    out = tmp_path / "out_bad"
    assert main(["plan", "--data", str(data), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "missing column 'incidents'" in err
    assert "510122001 appears 2 times" in err
    assert "population is negative" in err
    assert "510122999" in err
    assert "out of range" in err and "500" in err
    assert "nothing was written" in err
    assert not out.exists() or not any(out.iterdir())
    assert digest(data) == before


def test_unknown_scenario_key_suggests_the_name(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "s.yaml"
    scenario.write_text("police:\n  reduktion: 0.4\n", encoding="utf-8")
    out = tmp_path / "out_s"
    code = main(["plan", "--data", str(tiny_data), "--scenario", str(scenario), "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert "did you mean 'police.reduction'" in err
    assert "Traceback" not in err
    assert not out.exists()


def test_infeasible_scenario_exits_2_and_writes_nothing(
    make_data_dir: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    facs = build_facilities()
    facs = facs[~((facs["type"] == "police_station") & (facs["township_code"] == "510122202"))]
    data = make_data_dir("nostation", facilities=facs)
    scenario = tmp_path / "near.yaml"
    scenario.write_text("police:\n  max_distance_km: 3\n", encoding="utf-8")
    out = tmp_path / "out_inf"
    code = main(["plan", "--data", str(data), "--scenario", str(scenario), "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert "infeasible" in err
    # the township in the planner's words, its nearest station and the setting that fixes it
    line = next(x for x in err.split(": township ")[1:] if x.startswith("510122202"))
    assert "510122202 " in line and "beyond the 3 km limit" in line, err
    km = float(re.search(r"(\d+\.\d) km away", line).group(1))  # type: ignore[union-attr]
    assert km > 3
    assert f"raise police.max_distance_km to {math.ceil(km)}" in line
    assert re.search(r"nearest police station \(派出所\) is PS\d+ \S+派出所", line), line
    assert "group " not in err and "town_" not in err
    assert "Traceback" not in err
    assert not out.exists()


def test_pins_that_break_a_block_are_named_in_planner_words(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 510122001 has two police stations (PS01, PS13): a township keeps one at most
    scenario = tmp_path / "pins.yaml"
    scenario.write_text("police:\n  pin_open: [PS01, PS13]\n", encoding="utf-8")
    out = tmp_path / "out_pins"
    code = main(["plan", "--data", str(tiny_data), "--scenario", str(scenario), "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert "township 510122001 " in err and "2 派出所 pinned to stay open (PS01 " in err, err
    assert "PS13 " in err and "a township keeps one at most: unpin 1 of them" in err
    assert "group " not in err and "town_" not in err and "sites pinned" not in err
    assert not out.exists()


def test_sample_is_reproducible_and_plannable(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["sample", "--counties", "5118", "--seed", "3", "--out", str(a), "-q"]) == 0
    assert main(["sample", "--counties", "5118", "--seed", "3", "--out", str(b), "-q"]) == 0
    da, db = digest(a), digest(b)
    assert {"townships.gpkg", "facilities.csv"} <= set(da)
    assert da == db
    out = tmp_path / "plan"
    assert main(["plan", "--data", str(a), "--out", str(out), "-q"]) == 0
    plan = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert plan["synthetic"] is True
    assert {t["county_code"][:4] for t in plan["townships"]} == {"5118"}
    assert all(c["passed"] for c in plan["checks"])


def test_a_pin_closing_the_only_station_in_reach_is_named_with_its_setting(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # PS06 is 510122202's own station; within 3 km it is the only one, and it is pinned closed
    scenario = tmp_path / "closed.yaml"
    scenario.write_text("police:\n  max_distance_km: 3\n  pin_closed: [PS06]\n", encoding="utf-8")
    code = main(
        [
            "plan",
            "--data",
            str(tiny_data),
            "--scenario",
            str(scenario),
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "township 510122202 " in err and "within the limits is PS06 " in err, err
    assert "pinned closed: take it out of police.pin_closed" in err
