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
    from browser import body_attributes, chromium_path, screenshot
except ImportError:  # pragma: no cover - when tests/ is imported as a package
    from tests.browser import body_attributes, chromium_path, screenshot

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


def plan_data(page: str) -> list[dict]:
    """Return the data object of every plan map on a saved page, in page order."""
    decoder = json.JSONDecoder()
    out = []
    for m in re.finditer(r"optimizerPlanMap\(\w+, ", page):
        obj, _ = decoder.raw_decode(page, m.end())
        out.append(obj)
    return out


def geojson_blocks(page: str) -> list[dict]:
    """Return the GeoJSON feature collections embedded in a page (folium's own layers)."""
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
    assert "<b>二号</b>" not in page
    # the data object carries no character that could end a script or start a tag
    (data,) = plan_data(page)
    start = page.index("optimizerPlanMap(")
    blob = page[start : page.index("\n", start)]
    assert "<" not in blob and ">" not in blob and "&" not in blob
    names = {f["properties"]["n"] for f in data["townships"]["features"]}
    assert EVIL in names  # decoded intact; the script escapes it when it builds a tooltip
    assert "<b>二号</b>法庭" in data["facilities"]["name"] and TICKY in data["facilities"]["name"]
    script = page[page.index("optimizer/assets/plan_map.js") :]
    assert "function esc(" in script and "esc(p.n)" in script and "esc(F.name[j])" in script


def test_township_data_for_tooltips(saved: tuple[Path, str]) -> None:
    _, page = saved
    (data,) = plan_data(page)
    assert [t["label"] for t in data["types"]] == ["派出所", "司法所", "人民法庭"]
    feats = data["townships"]["features"]
    assert len(feats) == N_ROWS * N_COLS
    first = next(f["properties"] for f in feats if f["properties"]["c"] == _code(0, 0))
    assert first["n"] == "测试00镇" and first["p"] == 8000 and first["i"] == 40
    fac = data["facilities"]
    assert fac["name"][first["s"][0]] == "一号派出所"  # served by P1
    assert first["d"] == [0.0, 0.0, 0.0]
    for label in ("乡镇名称", "常住人口", "警情", "距离", "km", "规则检查", "调整方案", "现状"):
        assert label in page, label


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
    (data,) = plan_data(page)
    fills = [data["palette"][f["properties"]["fp"][0]] for f in data["townships"]["features"]]
    expected = [colours[POLICE_OF[(r, c)]] for r in range(N_ROWS) for c in range(N_COLS)]
    assert fills == expected


def test_legend_title_panel_and_symbols(saved: tuple[Path, str]) -> None:
    _, page = saved
    assert 'id="plan-legend"' in page and "图例" in page
    assert 'id="plan-title"' in page
    assert "合成数据" in page
    assert re.search(r"<title>[^<]*合成数据[^<]*</title>", page)
    for text in ("中心派出所", "警务室", "司法服务点", "人民法庭", "并入", "搜索乡镇名称或代码"):
        assert text in page, text
    (data,) = plan_data(page)
    fac = data["facilities"]
    states = dict(zip(fac["id"], fac["state"], strict=True))
    assert states["P1"] == 2 and states["P5"] == 0 and states["C2"] == 0 and states["J1"] == 2
    assert fac["becomes"][fac["id"].index("P5")] == "改设警务室"
    assert fac["becomes"][fac["id"].index("C2")] == "并入相邻法庭"
    # J3 has no lon/lat: drawn at its township (2, 3)
    j3 = fac["id"].index("J3")
    assert 30.2 < fac["lat"][j3] < 30.3 and 104.3 < fac["lon"][j3] < 104.4
    # the summary: before / kept / closed per type
    assert data["summary"]["types"] == [[5, 4, 1], [3, 2, 1], [2, 1, 1]]


def test_summary_checks_and_reason_column(tmp_path: Path) -> None:
    townships, facilities = make_inputs()
    counts = {"met": 5, "exceptions": 2, "not_met": 1}
    m = plan_map(townships, facilities, title="t", checks=counts)
    (data,) = plan_data(save_map(m, tmp_path / "a.html").read_text(encoding="utf-8"))
    assert data["summary"]["checks"] == counts
    assert data["facilities"]["reason"] is None  # no column: nothing extra
    facilities["reason"] = ["", "", "", "", "人口不足两万且警情少于50起", "", "", "", "", ""]
    m = plan_map(townships, facilities, title="t")
    (data,) = plan_data(save_map(m, tmp_path / "b.html").read_text(encoding="utf-8"))
    reasons = dict(zip(data["facilities"]["id"], data["facilities"]["reason"], strict=True))
    assert reasons["P5"] == "人口不足两万且警情少于50起" and reasons["P1"] is None
    assert data["summary"]["checks"] is None


def test_simplification_keeps_shared_borders() -> None:
    import shapely
    from shapely.geometry import Polygon

    from optimizer.outputs.map_data import simplify_coverage

    # two townships sharing a wiggly border of 201 vertices (wiggles of about 3 m)
    ys = np.linspace(30.0, 30.2, 201)
    xs = 104.1 + 3e-5 * np.sin(np.arange(201))
    border = list(zip(xs, ys, strict=True))
    west = Polygon([(104.0, 30.0), *border, (104.0, 30.2)])
    east = Polygon([(104.2, 30.0), (104.2, 30.2), *border[::-1]])
    out = simplify_coverage(np.array([west, east], dtype=object), 5e-4)
    assert shapely.get_num_coordinates(out).sum() < 40  # the border lost its wiggles
    assert shapely.coverage_is_valid(out)  # no gap, no overlap: one shared border
    shared = shapely.intersection(out[0], out[1])
    assert shared.length > 0.19 and shapely.area(shared) == 0


def test_counties_prefectures_and_names(saved: tuple[Path, str]) -> None:
    _, page = saved
    (data,) = plan_data(page)
    assert [f["properties"]["c"] for f in data["counties"]["features"]] == ["510101"]
    assert [f["properties"]["c"] for f in data["prefectures"]["features"]] == ["5101"]
    assert data["labels"]["prefecture"][0][2] == "成都市"  # named from the bundled frame
    assert len(data["labels"]["township"]) == N_ROWS * N_COLS


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
    (data,) = plan_data(page)
    assert [t["key"] for t in data["types"]] == ["police_station"]
    assert len(data["facilities"]["id"]) == 5
    m = plan_map(townships, facilities, title="t", facility_types=["court"])
    (data,) = plan_data(save_map(m, tmp_path / "b.html").read_text(encoding="utf-8"))
    assert [t["key"] for t in data["types"]] == ["court"]
    assert sorted(data["facilities"]["id"]) == ["C1", "C2"]


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


def _dense_inputs(n: int = 40) -> tuple[gpd.GeoDataFrame, pd.DataFrame]:
    """``n`` x ``n`` townships of 0.02 degrees, each with its own police station."""
    rows, facs = [], []
    for r in range(n):
        for c in range(n):
            code = f"5101{r:02d}{c:03d}"
            rows.append(
                {
                    "code": code, "name": f"密{r}-{c}镇", "county_code": f"5101{r // 10:02d}",
                    "population": 1000, "incidents": 10,
                    "served_by__police_station": f"P{r}-{c}",
                    "distance_km__police_station": 0.0,
                    "geometry": box(104 + 0.02 * c, 30 + 0.02 * r, 104.02 + 0.02 * c, 30.02 + 0.02 * r),
                }
            )  # fmt: skip
            facs.append(
                {
                    "id": f"P{r}-{c}", "type": "police_station", "name": f"密{r}-{c}派出所",
                    "township_code": code, "lon": 104.01 + 0.02 * c, "lat": 30.01 + 0.02 * r,
                    "decision": "keep" if (r + c) % 3 else "close", "becomes": None,
                    "central": False, "n_served": 1,
                }
            )  # fmt: skip
    return gpd.GeoDataFrame(rows, crs="EPSG:4326"), pd.DataFrame(facs)


@needs_chromium
def test_browser_symbols_never_overlap_and_search_finds(tmp_path: Path) -> None:
    townships, facilities = _dense_inputs()
    path = save_map(plan_map(townships, facilities, title="密集"), tmp_path / "dense.html")
    attrs = body_attributes(path.resolve().as_uri(), width=800, height=600)
    assert attrs.get("data-plan-ready") == "1"
    # 1,600 stations in 800 x 600 px: thinned, and the drawn ones keep apart
    assert 0 < int(attrs["data-plan-symbols"]) < 1600
    assert int(attrs["data-plan-hidden"]) > 0
    assert float(attrs["data-plan-min-gap"]) >= 0
    assert int(attrs["data-plan-labels"]) >= 1  # the prefecture's name at least
    found = body_attributes(path.resolve().as_uri() + "#q=5101" + "12007", width=800, height=600)
    assert found.get("data-plan-found") == "510112007"
    assert found.get("data-plan-search-hits") == "1"
    zoomed_symbols = int(found["data-plan-symbols"])
    assert zoomed_symbols > 0 and float(found["data-plan-min-gap"]) >= 0
    assert int(found["data-plan-labels"]) > int(attrs["data-plan-labels"])  # names on zoom
