"""Odd but usable files are read (with a note); damaged ones are named for what they are."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import pytest
from conftest import build_facilities, build_townships, write_data_dir
from openpyxl import Workbook

from optimizer.errors import DataError
from optimizer.inputs import load_inputs
from optimizer.inputs.files import UnreadableFile, read_error_message, read_table


def test_a_semicolon_csv_is_read_with_a_note(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("code;name\n510122001;东升街道\n", encoding="utf-8")
    table, notes = read_table(p)
    assert list(table.columns) == ["code", "name"] and table.loc[0, "name"] == "东升街道"
    assert any("';'" in n for n in notes)


def test_a_title_row_above_the_headers_is_skipped_and_rows_keep_their_numbers(
    tmp_path: Path,
) -> None:
    facs = build_facilities().astype(object)
    facs.loc[2, "staff"] = "很多"
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["机构名单"])
    ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(facs.columns))
    ws.append(list(facs.columns))
    for r in facs.itertuples(index=False):
        ws.append(list(r))
    data = write_data_dir(tmp_path / "d")
    (data / "facilities.csv").unlink()
    wb.save(data / "facilities.xlsx")
    with pytest.raises(DataError) as info:
        load_inputs(data)
    # header on sheet row 2, so the third facility is on sheet row 5
    assert "facilities.xlsx: staff is not a number in row 5" in str(info.value)


def test_zero_width_and_control_characters_are_removed_with_a_note(tmp_path: Path) -> None:
    facs = build_facilities().astype(object)
    facs.loc[0, "township_code"] = "510122001\u200b"
    facs.loc[1, "name"] = "九江\x07派出所"
    data = write_data_dir(tmp_path / "d", facilities=facs)
    inputs = load_inputs(data)
    assert "510122001" in set(inputs.facilities["township_code"])
    assert "九江派出所" in set(inputs.facilities["name"])
    assert any("invisible characters" in n for n in inputs.notes)


def test_a_csv_cut_in_the_middle_of_a_line_is_named(tmp_path: Path) -> None:
    p = tmp_path / "facilities.csv"
    p.write_text(
        "id,type,name,township_code\nPS01,police_station,东升,510122001\nPS02,pol", encoding="utf-8"
    )
    with pytest.raises(UnreadableFile, match="looks cut off.*row 3"):
        read_table(p)


@pytest.mark.parametrize(
    ("content", "text"),
    [(b"", "is empty"), (b"hello world, not sqlite", "is not a GeoPackage")],
)
def test_broken_geopackages_are_named(tmp_path: Path, content: bytes, text: str) -> None:
    data = write_data_dir(tmp_path / "d")
    (data / "townships.gpkg").write_bytes(content)
    with pytest.raises(DataError, match=text):
        load_inputs(data)


def test_an_old_xls_renamed_is_named(tmp_path: Path) -> None:
    p = tmp_path / "f.xlsx"
    p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(UnreadableFile) as info:
        read_table(p)
    assert ".xls" in read_error_message(p, info.value)


def test_an_unknown_crs_is_refused_with_examples(tmp_path: Path) -> None:
    data = write_data_dir(tmp_path / "d")
    with pytest.raises(DataError, match=r"--crs EPSG:99999.*EPSG:4490"):
        load_inputs(data, crs="EPSG:99999")


def test_degrees_labelled_as_metres_blame_the_crs_once(tmp_path: Path) -> None:
    towns = build_townships().set_crs(4547, allow_override=True)
    data = write_data_dir(tmp_path / "d", townships=towns)
    with pytest.raises(DataError) as info:
        load_inputs(data)
    assert len(info.value.problems) == 1
    assert "look like lon/lat degrees" in info.value.problems[0]


def test_a_layer_far_from_china_blames_the_crs(tmp_path: Path) -> None:
    towns = build_townships()
    towns = gpd.GeoDataFrame(towns, geometry=towns.geometry.translate(-150.0, 0.0), crs=towns.crs)
    data = write_data_dir(tmp_path / "d", townships=towns)
    with pytest.raises(DataError, match="outside China"):
        load_inputs(data)
