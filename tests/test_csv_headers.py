"""``outputs.csv_headers``: the CSVs meant for people with the workbook's Chinese header row."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from optimizer.cli import main
from optimizer.errors import PolicyError
from optimizer.rules.policy import Policy


def _run(tiny_data: Path, tmp_path: Path, headers: str | None) -> Path:
    out = tmp_path / f"out_{headers}"
    args = ["plan", "--data", str(tiny_data), "--out", str(out), "-q", "--types", "police_station"]
    if headers:
        scenario = tmp_path / f"{headers}.yaml"
        scenario.write_text(f"outputs:\n  csv_headers: {headers}\n", encoding="utf-8")
        args += ["--scenario", str(scenario)]
    assert main(args) == 0
    return out


def test_chinese_headers_same_cells(tiny_data: Path, tmp_path: Path) -> None:
    en, zh = _run(tiny_data, tmp_path, None), _run(tiny_data, tmp_path, "zh")
    for name, first in (("facilities.csv", "编号"), ("townships.csv", "乡镇代码")):
        a = pd.read_csv(en / name, dtype=str, encoding="utf-8-sig")
        b = pd.read_csv(zh / name, dtype=str, encoding="utf-8-sig")
        assert b.columns[0] == first
        assert not any(c.isascii() for c in b.columns), list(b.columns)
        assert a.shape == b.shape and (a.fillna("").to_numpy() == b.fillna("").to_numpy()).all()
    fac = pd.read_csv(zh / "facilities.csv", dtype=str, encoding="utf-8-sig")
    assert {"方案", "撤并后设为", "理由代码", "中心派出所"} <= set(fac.columns)
    towns = pd.read_csv(zh / "townships.csv", dtype=str, encoding="utf-8-sig")
    assert "到派出所距离（公里，方案）" in towns.columns
    # the default stays English (scripts read these names)
    assert pd.read_csv(en / "facilities.csv", encoding="utf-8-sig").columns[0] == "id"


def test_unknown_header_language_is_refused() -> None:
    with pytest.raises(PolicyError, match=r"outputs.csv_headers.*choose one of en, zh"):
        Policy.from_dict({"outputs": {"csv_headers": "fr"}})
