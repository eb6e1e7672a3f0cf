"""The village layer: the synthetic villages and the reader's checks."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import shapely

from optimizer.errors import DataError
from optimizer.inputs.reading import load_inputs
from optimizer.paths import sample_dir
from optimizer.sample import build_sample
from optimizer.sample.villages import build_villages

SAMPLE = Path(str(sample_dir()))


@pytest.fixture(scope="module")
def bundled():
    return load_inputs(SAMPLE)


def test_bundled_villages_nested_in_their_townships(bundled):
    villages = bundled.villages.villages.to_crs("EPSG:32648")
    towns = bundled.townships.set_index("code").to_crs("EPSG:32648")
    assert bundled.villages.has_polygons
    for code, group in villages.groupby("township_code"):
        town = towns.geometry[code].buffer(5.0)
        assert shapely.within(group.geometry.to_numpy(), town).all(), code
        # the villages tile the township: their area sums to the township's
        assert group.geometry.area.sum() == pytest.approx(towns.geometry[code].area, rel=1e-3)
    assert villages["code"].str[:9].eq(villages["township_code"]).all()


def test_bundled_households_and_reform_ratios(bundled):
    v = bundled.villages.villages
    towns = bundled.townships.set_index("code")
    per_town = v.groupby("township_code")["households"].sum()
    assert per_town.to_dict() == towns["households"][per_town.index].to_dict()
    before = bundled.villages.before
    vill_before = (before["kind"] == "村").sum()
    vill_after = (v["kind"] == "村").sum()
    assert vill_before == towns["villages_before"].sum()  # the townships' own counts
    assert 0.52 < vill_after / vill_before < 0.64  # 45,447 -> 26,369 is 0.58
    assert (v["kind"] == "社区").sum() >= (before["kind"] == "社区").sum()  # 7,804 -> 8,261
    counted = before["merged_into"].value_counts()
    assert v.set_index("code")["villages_before"].to_dict() == {
        c: float(counted.get(c, 0)) for c in v["code"]
    }


def test_villages_labelled_synthetic():
    text = (SAMPLE / "README.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in text and "villages.gpkg" in text
    with sqlite3.connect(SAMPLE / "villages.gpkg") as db:
        ident, desc = db.execute(
            "select identifier, description from gpkg_contents where table_name='villages'"
        ).fetchone()
    assert "SYNTHETIC" in ident and "SYNTHETIC" in desc


def test_village_build_is_deterministic_and_leaves_townships_alone():
    a = build_sample("511827", seed=3)
    b = build_villages(a.townships, a.townships_before, seed=3)
    assert a.villages is not None
    pd.testing.assert_frame_equal(a.villages.before, b.before)
    assert a.villages.after.drop(columns="geometry").equals(b.after.drop(columns="geometry"))
    assert shapely.equals_exact(
        a.villages.after.geometry.to_numpy(), b.after.geometry.to_numpy()
    ).all()
    c = build_villages(a.townships, a.townships_before, seed=4)
    assert not c.after["households"].equals(b.after["households"])


def _copy_sample(tmp_path: Path) -> Path:
    out = tmp_path / "data"
    shutil.copytree(SAMPLE, out, ignore=shutil.ignore_patterns("__init__.py"))
    return out


def test_bad_village_table_names_every_problem(tmp_path):
    data = _copy_sample(tmp_path)
    (data / "villages.gpkg").unlink()
    v = gpd.read_file(SAMPLE / "villages.gpkg").drop(columns="geometry").head(5)
    v = v.astype({"code": str, "households": object, "kind": object, "township_code": str})
    v.loc[1, "code"] = "5118"  # too short
    v.loc[2, "households"] = -3
    v.loc[3, "township_code"] = "511899999"
    v.loc[4, "kind"] = "城市"
    v.loc[0, "households"] = None
    v.to_csv(data / "villages.csv", index=False)
    (data / "villages_before.csv").unlink()
    with pytest.raises(DataError) as err:
        load_inputs(data)
    text = str(err.value)
    for needle in (
        "villages.csv: code is not a 12-digit code in row 3 '5118'",
        "villages.csv: households is negative in row 4",
        "villages.csv: township_code not in the townships layer for row 5",
        "villages.csv: kind is not 村 or 社区 in row 6 '城市'",
        "villages.csv: households is missing in row 2",
    ):
        assert needle in text, text


def test_only_code_and_households_required(tmp_path):
    data = _copy_sample(tmp_path)
    (data / "villages.gpkg").unlink()
    (data / "villages_before.csv").unlink()
    v = gpd.read_file(SAMPLE / "villages.gpkg")[["code", "households"]].head(20)
    v.to_csv(data / "villages.csv", index=False)
    inputs = load_inputs(data)
    got = inputs.villages.villages
    assert got["township_code"].eq(got["code"].str[:9]).all()
    assert set(got["kind"]) <= {"村", "社区"}
    assert not inputs.villages.has_polygons
    assert any("kind derived from the code" in n for n in inputs.notes)


def test_unknown_merged_into_reported(tmp_path):
    data = _copy_sample(tmp_path)
    before = pd.read_csv(data / "villages_before.csv", dtype=str)
    before.loc[7, "merged_into"] = "511802001999"
    before.to_csv(data / "villages_before.csv", index=False)
    with pytest.raises(DataError) as err:
        load_inputs(data)
    assert "villages_before.csv: merged_into not in the village layer for row 9" in str(err.value)
