"""Tests of optimizer.maps: offline HTML, escaping, Chinese labels, determinism, rendering."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import box

from optimizer.errors import DataError
from optimizer.outputs.maps import (
    FILL_OPACITY,
    PALETTE,
    external_references,
    jurisdiction_colours,
    plan_map,
    save_map,
)

try:  # pytest's default rootdir/prepend import puts tests/ on sys.path
    from browser import chromium_path, screenshot
except ImportError:  # pragma: no cover - when tests/ is imported as a package
    from tests.browser import chromium_path, screenshot

EVIL = "<script>alert(1)</script>"
TICKY = "`${x}`\\"

# 4 x 3 grid of 0.1-degree squares near 104 E 30 N; code = 5101011RC (row, column)
N_COLS, N_ROWS = 4, 3
POLICE_OF = {  # jurisdiction per (row, col)
    (0, 0): "P1", (0, 1): "P1", (1, 0): "P1",
    (0, 2): "P2", (0, 3): "P2", (1, 3): "P2",
    (1, 1): "P3", (1, 2): "P3", (2, 2): "P3", (2, 3): "P3",
    (2, 0): "P4", (2, 1): "P4",
}  # fmt: skip


def _code(r: int, c: int) -> str:
    return f"5101011{r}{c}"


def make_inputs() -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    rows = []
    for r in range(N_ROWS):
        for c in range(N_COLS):
            rows.append(
                {
                    "code": _code(r, c),
                    "name": f"测试{r}{c}镇",
                    "county_code": "510101",
                    "population": 8000 + 1000 * (r * N_COLS + c),
                    "incidents": 40 + r * N_COLS + c,
                    "served_by__police_station": POLICE_OF[(r, c)],
                    "distance_km__police_station": 1.5 * (r + c),
                    "served_by__judicial_office": "J1" if c < 2 else "J2",
                    "distance_km__judicial_office": 2.0 * c,
                    "served_by__court": "C1",
                    "distance_km__court": 3.0 * (r + c),
                    "geometry": box(104 + 0.1 * c, 30 + 0.1 * r, 104.1 + 0.1 * c, 30.1 + 0.1 * r),
                }
            )
    townships = gpd.GeoDataFrame(rows, crs="EPSG:4326")
    townships.loc[townships["code"] == _code(1, 1), "name"] = EVIL

    def fac(fid, ftype, name, r, c, decision="keep", becomes=None, central=False, n=1):
        return {
            "id": fid, "type": ftype, "name": name, "township_code": _code(r, c),
            "lon": 104.05 + 0.1 * c, "lat": 30.05 + 0.1 * r, "decision": decision,
            "becomes": becomes, "central": central, "n_served": n,
        }  # fmt: skip

    facilities = pd.DataFrame(
        [
            fac("P1", "police_station", "一号派出所", 0, 0, central=True, n=3),
            fac("P2", "police_station", "二号派出所", 0, 3, central=True, n=3),
            fac("P3", "police_station", TICKY, 1, 2, central=True, n=4),
            fac("P4", "police_station", "四号派出所", 2, 0, central=True, n=2),
            fac("P5", "police_station", "五号派出所", 1, 1, "close", "police_office", n=0),
            fac("J1", "judicial_office", "一号司法所", 0, 1, central=True, n=6),
            fac("J2", "judicial_office", "二号司法所", 1, 2, central=True, n=6),
            fac("J3", "judicial_office", "三号司法所", 2, 3, "close", "service_point", n=0),
            fac("C1", "court", "中心人民法庭", 1, 1, central=True, n=12),
            fac("C2", "court", "<b>二号</b>法庭", 2, 2, "close", "merged", n=0),
        ]
    )
    facilities.loc[facilities["id"] == "J3", ["lon", "lat"]] = None  # drawn at its township
    return townships, facilities


def geojson_blocks(page: str) -> list[dict]:
    """Return the GeoJSON feature collections embedded in a folium page."""
    decoder = json.JSONDecoder()
    out = []
    for m in re.finditer(r"_add\(", page):
        try:
            obj, _ = decoder.raw_decode(page, m.end())
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict) and obj.get("type") == "FeatureCollection":
            out.append(obj)
    return out


@pytest.fixture
def saved(tmp_path: Path) -> tuple[Path, str]:
    townships, facilities = make_inputs()
    m = plan_map(townships, facilities, title="测试计划 <i>A</i>", synthetic=True)
    path = save_map(m, tmp_path / "out" / "plan.html")
    return path, path.read_text(encoding="utf-8")


def test_no_external_resources(saved: tuple[Path, str]) -> None:
    _, page = saved
    assert external_references(page) == []
    assert not re.search(r"<script[^>]*\ssrc=", page, flags=re.IGNORECASE)
    assert not re.search(r"<link[^>]*\shref=", page, flags=re.IGNORECASE)
    assert "cdn.jsdelivr" not in page and "cdnjs" not in page and "code.jquery" not in page
    assert "L.map(" in page and "Leaflet 1.9.3" in page  # vendored Leaflet is inlined
    assert "url(images/" not in page  # Leaflet's images became data: URIs


def test_external_references_detects_links() -> None:
    page = (
        '<link rel="stylesheet" href="https://x.org/a.css"><script src="//x.org/a.js"></script>'
        "<style>.a{background:url(http://x.org/i.png)}</style>"
        '<script>var t = "<a href=\\"https://leafletjs.com\\">";</script>'
    )
    refs = external_references(page)
    assert len(refs) == 3
    assert all("x.org" in r for r in refs)


def test_tile_url_is_the_only_http(tmp_path: Path) -> None:
    townships, facilities = make_inputs()
    url = "http://tiles.office.local/{z}/{x}/{y}.png"
    m = plan_map(townships, facilities, title="t", tiles=url, tiles_attribution="办公网底图")
    page = save_map(m, tmp_path / "t.html").read_text(encoding="utf-8")
    assert external_references(page) == []
    assert json.dumps(url) in page
    assert "办公网底图" in json.loads(re.search(r'"attribution":\s*("[^"]*")', page).group(1))


def test_bad_tiles_rejected() -> None:
    townships, facilities = make_inputs()
    with pytest.raises(DataError, match="XYZ"):
        plan_map(townships, facilities, title="t", tiles="http://tiles.office.local/")


def test_user_strings_escaped(saved: tuple[Path, str]) -> None:
    _, page = saved
    assert "<script>alert" not in page
    assert "<i>A</i>" not in page and "&lt;i&gt;A&lt;/i&gt;" in page
    assert "<b>二号</b>" not in page and "&lt;b&gt;二号&lt;/b&gt;" in page
    # a back quote or ${ in a name must not break folium's JavaScript template literals
    assert "&#96;&#36;{x}&#96;&#92;" in page
    assert TICKY not in page
    tips = [
        f["properties"]["tip"]
        for fc in geojson_blocks(page)
        for f in fc["features"]
        if "tip" in f["properties"]
    ]
    evil = [t for t in tips if "alert(1)" in t]
    assert evil and all("&lt;script&gt;alert(1)&lt;/script&gt;" in t for t in evil)
    assert all("<script" not in t for t in tips)


def test_township_tooltips_in_chinese(saved: tuple[Path, str]) -> None:
    _, page = saved
    blocks = [fc for fc in geojson_blocks(page) if "tip" in fc["features"][0]["properties"]]
    assert len(geojson_blocks(page)) == 6  # plus one outline layer per type
    assert len(blocks) == 3  # one filled layer per facility type
    tips = {f["properties"]["tip"] for fc in blocks for f in fc["features"]}
    police_tips = [t for t in tips if "派出所" in t]
    assert len(police_tips) == N_ROWS * N_COLS
    for label in ("乡镇名称", "常住人口", "警情", "距离", " km"):
        assert all(label in t for t in police_tips), label
    assert any("测试00镇" in t and "一号派出所" in t and "8,000 人" in t for t in police_tips)
    assert any("司法所" in t for t in tips) and any("人民法庭" in t for t in tips)


def test_fill_colours_follow_jurisdictions(saved: tuple[Path, str]) -> None:
    townships, _ = make_inputs()
    colours = jurisdiction_colours(townships, "served_by__police_station")
    assert set(colours) == set(POLICE_OF.values())
    assert set(colours.values()) <= set(PALETTE)
    for (r, c), fid in POLICE_OF.items():  # touching (incl. corners) jurisdictions differ
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                other = POLICE_OF.get((r + dr, c + dc))
                if other is not None and other != fid:
                    assert colours[other] != colours[fid]
    _, page = saved
    police = next(
        fc
        for fc in geojson_blocks(page)
        if "派出所" in fc["features"][0]["properties"].get("tip", "")
    )
    fills = [f["properties"]["fill"] for f in police["features"]]
    expected = [colours[POLICE_OF[(r, c)]] for r in range(N_ROWS) for c in range(N_COLS)]
    assert fills == expected


def test_legend_title_and_symbols(saved: tuple[Path, str]) -> None:
    _, page = saved
    assert 'id="plan-legend"' in page and "图例" in page
    assert 'id="plan-title"' in page
    assert "合成数据" in page
    assert re.search(r"<title>[^<]*合成数据[^<]*</title>", page)
    for text in ("中心派出所", "警务室", "司法服务点", "人民法庭", "并入"):
        assert text in page, text
    for cls in (
        "plan-police_station-central",
        "plan-police_station-closed",
        "plan-judicial_office-closed",
        "plan-court-central",
        "plan-court-closed",
    ):
        assert cls in page, cls
    assert "L.control.layers" in page


def test_not_synthetic_has_no_synthetic_mark(tmp_path: Path) -> None:
    townships, facilities = make_inputs()
    m = plan_map(townships, facilities, title="正式方案")
    page = save_map(m, tmp_path / "p.html").read_text(encoding="utf-8")
    assert "合成数据" not in page
    assert "图例" in page


def test_facility_types_default_and_choice(tmp_path: Path) -> None:
    townships, facilities = make_inputs()
    police_only = facilities[facilities["type"] == "police_station"]
    page = save_map(plan_map(townships, police_only, title="t"), tmp_path / "a.html").read_text(
        encoding="utf-8"
    )
    assert len(geojson_blocks(page)) == 2  # fills + jurisdiction outlines
    assert "司法所辖区" not in json.dumps(page, ensure_ascii=False)
    m = plan_map(townships, facilities, title="t", facility_types=["court"])
    page = save_map(m, tmp_path / "b.html").read_text(encoding="utf-8")
    assert "plan-court-central" in page and "plan-police_station" not in page


def test_missing_columns_reported_together() -> None:
    townships, facilities = make_inputs()
    townships = townships.drop(columns=["served_by__court", "distance_km__court", "incidents"])
    with pytest.raises(DataError) as err:
        plan_map(townships, facilities, title="t")
    assert len(err.value.problems) == 3
    assert "served_by__court" in str(err.value) and "incidents" in str(err.value)


def test_deterministic_output(tmp_path: Path) -> None:
    a = save_map(plan_map(*make_inputs(), title="同一方案"), tmp_path / "a.html")
    m = plan_map(*make_inputs(), title="同一方案")
    b = save_map(m, tmp_path / "b.html")
    c = save_map(m, tmp_path / "c.html")  # saving the same map twice
    assert a.read_bytes() == b.read_bytes() == c.read_bytes()
    assert not re.search(r"_[0-9a-f]{32}\b", a.read_text(encoding="utf-8"))


def test_atomic_overwrite_leaves_no_temp_files(tmp_path: Path) -> None:
    path = tmp_path / "plan.html"
    path.write_text("old", encoding="utf-8")
    save_map(plan_map(*make_inputs(), title="t"), path)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.html"]


def test_cdn_plugin_is_refused(tmp_path: Path) -> None:
    from folium.plugins import Fullscreen

    m = plan_map(*make_inputs(), title="t")
    Fullscreen().add_to(m)
    with pytest.raises(DataError, match="would need the network"):
        save_map(m, tmp_path / "p.html")
    assert not any(tmp_path.iterdir())


# --------------------------------------------------------------------------------------------
# in a real browser, offline

needs_chromium = pytest.mark.skipif(
    chromium_path() is None and not os.environ.get("CI"),
    reason="chromium not installed (apt-get install chromium fonts-wqy-microhei); required in CI",
)


def _blend(hex_colour: str, alpha: float = FILL_OPACITY) -> tuple[int, int, int]:
    rgb = [int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)]
    return tuple(round(alpha * v + (1 - alpha) * 255) for v in rgb)  # over the white map


def _count_near(pixels: np.ndarray, target: tuple[int, int, int], tol: int) -> int:
    diff = np.abs(pixels.astype(int) - np.array(target, dtype=int))
    return int((diff <= tol).all(axis=-1).sum())


@needs_chromium
def test_browser_renders_offline(saved: tuple[Path, str], tmp_path: Path) -> None:
    from PIL import Image

    path, _ = saved
    result = screenshot(path, tmp_path / "plan.png", width=1200, height=900)
    assert result.errors == [], "\n".join(result.errors)
    assert result.page_requests == []

    with Image.open(result.screenshot) as img:
        rgb = img.convert("RGB")
        assert rgb.size == (1200, 900)
        pixels = np.asarray(rgb)
    townships, _ = make_inputs()
    colours = set(jurisdiction_colours(townships, "served_by__police_station").values())
    for colour in colours:
        n = _count_near(pixels, _blend(colour), tol=6)
        assert n > 2000, f"fill {colour} (blended {_blend(colour)}) covers only {n} pixels"
    # central police stations are dark blue symbols
    assert _count_near(pixels, (0x1F, 0x4E, 0x9C), tol=10) > 50


@needs_chromium
def test_browser_helper_reports_script_errors_and_requests(tmp_path: Path) -> None:
    page = tmp_path / "bad.html"
    page.write_text(
        '<html><body><script>undefinedFn();</script><img src="https://example.com/x.png">'
        "</body></html>",
        encoding="utf-8",
    )
    result = screenshot(page, tmp_path / "bad.png", width=400, height=300, budget_ms=2000)
    assert any("undefinedFn is not defined" in e for e in result.errors)
    assert result.page_requests == ["https://example.com/x.png"]
