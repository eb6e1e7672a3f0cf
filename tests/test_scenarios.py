"""Tests of optimizer.scenarios and ``optimizer compare`` on the bundled sample."""

from __future__ import annotations

import copy
import json
import math
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optimizer.cli import bundled_sample, main
from optimizer.errors import PolicyError
from optimizer.inputs.reading import load_inputs
from optimizer.outputs.maps import FILL_OPACITY, PALETTE, external_references
from optimizer.outputs.plan_json import plan_to_dict
from optimizer.report.plan import Plan
from optimizer.rules.policy import Policy, load_scenario
from optimizer.scenarios import (
    compare_table,
    run_scenarios,
    township_differences,
    write_comparison,
)

try:
    from browser import chromium_path, screenshot
except ImportError:  # pragma: no cover
    from tests.browser import chromium_path, screenshot

ROOT = Path(__file__).resolve().parents[1]
SCEN = ROOT / "scenarios"
T = "police_station"
TYPES = [T]  # the other facility types are planned by their own issue; compare police here
FILES = (
    "comparison.xlsx",
    "comparison.csv",
    "township_differences.csv",
    "compare.html",
    "chart_distance.png",
    "chart_kept.png",
)


@pytest.fixture(scope="module")
def plans() -> list[Plan]:
    inputs = load_inputs(bundled_sample())
    policies = [load_scenario(SCEN / "baseline.yaml"), load_scenario(SCEN / "cut40.yaml")]
    return run_scenarios(inputs, policies, workers=1, types=TYPES)


@pytest.fixture(scope="module")
def out(plans: list[Plan], tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("compare") / "out"
    write_comparison(plans, d)
    return d


def test_scenario_files_load() -> None:
    base = load_scenario(SCEN / "baseline.yaml")
    cut = load_scenario(SCEN / "cut40.yaml")
    assert cut.police.reduction == pytest.approx(0.40)
    assert cut.solver.time_limit == base.solver.time_limit  # inherited through base:
    assert load_scenario(SCEN / "county_scope.yaml").police.scope == "county"
    assert load_scenario(SCEN / "limit30km.yaml").police.max_distance_km == 30


def test_compare_writes_all_files(out: Path) -> None:
    for name in FILES:
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    plan_dirs = sorted(p.name for p in (out / "plans").iterdir())
    assert len(plan_dirs) == 2 and all(
        (out / "plans" / p / "plan.json").is_file() for p in plan_dirs
    )
    for csv in ("comparison.csv", "township_differences.csv"):
        assert (out / csv).read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads Chinese
    sheets = pd.read_excel(out / "comparison.xlsx", sheet_name=None)
    assert list(sheets) == ["汇总", "方案对比", "乡镇差异"]
    assert "派出所保留数量" in sheets["方案对比"].columns
    assert "乡镇名称" in sheets["乡镇差异"].columns
    assert not list(out.parent.glob(".compare-*"))  # the temporary folder is gone


def _recompute(plan_json: dict, townships_csv: pd.DataFrame) -> dict:
    fac = [f for f in plan_json["facilities"] if f["type"] == T]
    tw = plan_json["townships"]
    pop = np.array([t["population"] for t in tw], dtype=float)
    dist = np.array([t["distance_km"][T] for t in tw], dtype=float)
    changed = (townships_csv[f"served_by__{T}"] != townships_csv[f"before_by__{T}"]).sum()
    kept = sum(f["decision"] == "keep" for f in fac)
    return {
        "scenario": plan_json["scenario"],
        f"before__{T}": len(fac),
        f"kept__{T}": kept,
        f"reduction__{T}": 1 - kept / len(fac),
        f"mean_distance_km__{T}": float((pop * dist).sum() / pop.sum()),
        f"max_distance_km__{T}": float(dist.max()),
        f"changed_townships__{T}": int(changed),
        "exceptions": sum(len(c["exceptions"]) for c in plan_json["checks"]),
        "failed_checks": sum(not c["passed"] for c in plan_json["checks"]),
        **{
            f"checks_{o}": sum(c["status"] == o for c in plan_json["checks"])
            for o in ("met", "exceptions", "not_met")
        },
        "solver_status": plan_json["solver"]["status"],
    }


def test_table_matches_each_plan_json(out: Path) -> None:
    table = pd.read_csv(out / "comparison.csv", encoding="utf-8-sig")
    assert len(table) == 2
    for i, row in enumerate(table.to_dict("records"), start=1):
        d = next((out / "plans").glob(f"{i}_*"))
        expected = _recompute(
            json.loads((d / "plan.json").read_text(encoding="utf-8")),
            pd.read_csv(d / "townships.csv", encoding="utf-8-sig", dtype=str),
        )
        for key, value in expected.items():
            if isinstance(value, float):
                assert row[key] == pytest.approx(value, rel=1e-6, abs=1e-6), key
            else:
                assert row[key] == value, key
        staffing = json.loads((d / "plan.json").read_text(encoding="utf-8"))["metrics"].get(
            "staffing", {}
        )
        short = [
            v["shortfall"] for v in staffing.values() if isinstance(v, dict) and "shortfall" in v
        ]
        if short:
            assert row["staffing_shortfall"] == pytest.approx(sum(short))
        else:
            assert math.isnan(row["staffing_shortfall"])
    assert table[f"kept__{T}"].tolist()[1] < table[f"kept__{T}"].tolist()[0]  # 40 % < 35 % kept


def test_differences_flag_exactly_the_changed_townships(plans: list[Plan]) -> None:
    diff = township_differences(plans)
    assert len(diff) == len(plans[0].townships)
    a = plans[0].townships.set_index("code")[f"served_by__{T}"]
    b = plans[1].townships.set_index("code")[f"served_by__{T}"]
    expected = set(a.index[a != b.reindex(a.index)])
    assert expected, "the two scenarios should differ somewhere on the sample"
    assert set(diff.loc[diff["differs"], "code"]) == expected
    names = [p.policy.name for p in plans]
    for n in names:
        assert {f"station__{n}", f"station_name__{n}", f"distance_km__{n}"} <= set(diff.columns)
    row = diff[diff["differs"]].iloc[0]
    assert row[f"station__{names[0]}"] != row[f"station__{names[1]}"]


@pytest.mark.loopback
def test_parallel_equals_serial(plans: list[Plan]) -> None:
    inputs = load_inputs(bundled_sample())
    policies = [p.policy for p in plans]
    parallel = run_scenarios(inputs, policies, workers=2, types=TYPES)

    def strip(p: Plan) -> dict:
        d = copy.deepcopy(plan_to_dict(p))
        d["solver"].pop("seconds")
        d["solver"].pop("time_budget")  # wall-clock seconds per stage
        for v in d["solver"]["by_type"].values():
            v.pop("seconds")
        return d

    assert [p.policy.name for p in parallel] == [p.policy.name for p in plans]
    for a, b in zip(parallel, plans, strict=True):
        assert strip(a) == strip(b)
    t1, t2 = compare_table(parallel), compare_table(plans)
    pd.testing.assert_frame_equal(t1.drop(columns="seconds"), t2.drop(columns="seconds"))


def test_duplicate_names_rejected() -> None:
    with pytest.raises(PolicyError, match="both named"):
        run_scenarios(load_inputs(bundled_sample()), [Policy(), Policy()], workers=1)


def test_cli_compare(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cli"
    code = main(
        [
            "compare",
            str(SCEN / "baseline.yaml"),
            str(SCEN / "county_scope.yaml"),
            "--types",
            T,
            "--workers",
            "1",
            "--out",
            str(out),
            "-q",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "各县分别压减35%" in printed and "派出所 保留（个）" in printed
    assert all((out / f).is_file() for f in FILES)


def test_cli_unknown_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"base: {SCEN / 'baseline.yaml'}\npolice:\n  reductoin: 0.4\n", encoding="utf-8")
    out = tmp_path / "never"
    code = main(["compare", str(SCEN / "baseline.yaml"), str(bad), "--out", str(out), "-q"])
    assert code == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "did you mean 'police.reduction'" in err
    assert not out.exists()


def test_failure_leaves_nothing(
    plans: list[Plan], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from optimizer.outputs import charts

    def boom(*a: object, **k: object) -> list[str]:
        raise RuntimeError("disk full")

    monkeypatch.setattr(charts, "write_charts", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_comparison(plans, tmp_path / "out", write_plans=False)
    assert list(tmp_path.iterdir()) == []


def test_compare_html_offline_and_stable(plans: list[Plan], out: Path, tmp_path: Path) -> None:
    page = (out / "compare.html").read_text(encoding="utf-8")
    assert external_references(page) == []
    assert not re.search(r"<script[^>]*\ssrc=", page, flags=re.IGNORECASE)
    assert not re.search(r"<link[^>]*\shref=", page, flags=re.IGNORECASE)
    assert "cdn.jsdelivr" not in page and "Leaflet.Sync" not in page
    assert page.count("L.map(") == 2
    assert "data-maps-synced" in page  # the inline synchronisation script
    for p in plans:
        assert f"方案{plans.index(p) + 1}：{p.policy.name}" in page
    assert "各方案间管辖不同的乡镇" in page and "图例" in page and "合成数据" in page
    write_comparison(plans, tmp_path / "again", write_plans=False)
    assert (tmp_path / "again" / "compare.html").read_bytes() == (out / "compare.html").read_bytes()


needs_chromium = pytest.mark.skipif(
    chromium_path() is None and not os.environ.get("CI"),
    reason="chromium not installed (apt-get install chromium fonts-wqy-microhei); required in CI",
)


@needs_chromium
def test_compare_html_renders_offline(out: Path, tmp_path: Path) -> None:
    from PIL import Image

    result = screenshot(out / "compare.html", tmp_path / "compare.png", width=1400, height=800)
    assert result.errors == [], "\n".join(result.errors)
    assert result.page_requests == []
    with Image.open(result.screenshot) as img:
        pixels = np.asarray(img.convert("RGB")).astype(int)
    fills = np.array(
        [[round(FILL_OPACITY * int(c[i : i + 2], 16) + (1 - FILL_OPACITY) * 255) for i in (1, 3, 5)]
         for c in PALETTE]
    )  # fmt: skip
    for half in (pixels[:, :700], pixels[:, 700:]):  # each map drew its township fills
        near = (np.abs(half[:, :, None, :] - fills[None, None]) <= 6).all(axis=-1).any(axis=-1)
        assert near.sum() > 5000, f"only {near.sum()} fill pixels in one half"
        red = (np.abs(half - np.array([0xE3, 0x1A, 0x1C])) <= 30).all(axis=-1).sum()
        assert red > 200  # the townships that differ are outlined in red
