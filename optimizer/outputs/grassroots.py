"""Grassroots outputs (clauses 13-18): the plan.json section, the sheets and the map layers.

- :func:`grassroots_json` gives ``plan.json``'s ``grassroots`` section (codes in English,
  documented in ``docs/outputs.md``);
- :func:`grassroots_sheets` gives the workbook's sheets 网格, 网格员, 综治中心, 雪亮工程 and
  人民调解员 with Chinese headers;
- :func:`add_grassroots_layers` adds a 网格 layer and a 村（社区） layer to the plan map.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.errors
from branca.element import Element, MacroElement
from folium.template import Template

from optimizer.outputs.map_data import simplify_coverage
from optimizer.report.grassroots import GrassrootsReport

__all__ = [
    "MAP_MAX_FEATURES",
    "add_grassroots_layers",
    "grassroots_json",
    "grassroots_map_data",
    "grassroots_sheets",
]

#: Simplification of the polygons drawn on the map (degrees, about 10 m).
_MAP_TOLERANCE = 1e-4
#: Most grids (and villages) drawn on the map; above it, only the grids outside their bounds
#: are drawn and no village layer (every grid is in plan.xlsx, plan.json).
MAP_MAX_FEATURES = 20_000


def _num(x: Any) -> float | int | None:
    """Return a JSON number (None for NaN)."""
    if x is None:
        return None
    if isinstance(x, bool | np.bool_):
        return int(x)
    f = float(x)
    if not np.isfinite(f):
        return None
    return int(f) if f.is_integer() else round(f, 4)


def _records(df: pd.DataFrame, cols: list[str]) -> list[dict[str, Any]]:
    """Return plain records of some columns (numbers as JSON numbers, text as text)."""
    out = []
    for row in df[cols].itertuples(index=False):
        rec: dict[str, Any] = {}
        for c, x in zip(cols, row, strict=True):
            if isinstance(x, bool | np.bool_):
                rec[c] = bool(x)
            elif isinstance(x, str) or x is None:
                rec[c] = x
            else:
                rec[c] = _num(x)
        out.append(rec)
    return out


def grassroots_json(g: GrassrootsReport) -> dict[str, Any]:
    """Return the ``grassroots`` section of ``plan.json``.

    Parameters
    ----------
    g
        The grassroots report of a plan.

    Returns
    -------
    dict
        ``summary``, ``grids``, ``grid_workers_by_county``, ``centres``, ``cameras``,
        ``places_uncovered``, ``mediators_by_county``, ``mediators_proposed``,
        ``grid_bounds_relaxed``, ``grid_method`` and ``notes``.
    """
    grids = g.grids.assign(villages=g.grids["villages"].str.split(";"))
    grid_recs = _records(
        grids,
        [
            "code",
            "township_code",
            "county_code",
            "urban",
            "households",
            "residents",
            "min_households",
            "max_households",
            "deviation",
            "residents_over",
            "workers",
            "fulltime",
        ],
    )
    for rec, vill in zip(grid_recs, grids["villages"], strict=True):
        rec["villages"] = list(vill)
    proposed = g.mediators[g.mediators["proposed"]]
    return {
        "summary": {k: _num(v) if not isinstance(v, int) else v for k, v in g.summary().items()},
        "grids": grid_recs,
        "grid_workers_by_county": _records(g.workers_by_county, list(g.workers_by_county.columns)),
        "centres": _records(
            g.centres.assign(merged_townships=g.centres["merged_townships"]),
            [
                "township_code",
                "name",
                "centre",
                "existing",
                "merged_townships",
                "merged_centres",
                "staff",
                "screens",
            ],
        ),
        "cameras": _records(
            g.cameras.villages,
            [
                "code",
                "township_code",
                "villages_before",
                "rule_points",
                "cover_points",
                "planned",
                "existing",
                "gap",
            ],
        ),
        "places_uncovered": _records(
            pd.DataFrame(g.cameras.uncovered.drop(columns="geometry")),
            ["name", "kind", "reason"],
        ),
        "mediators_by_county": _records(g.mediators_by_county, list(g.mediators_by_county.columns)),
        "mediators_proposed": _records(
            proposed,
            ["code", "county_code", "score", "rank", "for_threshold", "cost_yuan"],
        ),
        "grid_bounds_relaxed": [
            {"township_code": t, "kind": k, "min_households": _num(v)}
            for (t, k), v in sorted(g.grid_plan.relaxed.items())
        ],
        "grid_method": {
            "pieces_exact": g.grid_plan.exact_pieces,
            "pieces_model": g.grid_plan.problems_solved,
            "zones_cut": g.grid_plan.zones_split,
            "models_timed_out": g.grid_plan.zones_timed_out,
        },
        "notes": list(g.notes),
    }


_GRID_HEADERS = {
    "code": "网格编码",
    "township_code": "乡镇代码",
    "county_code": "区县代码",
    "urban": "城镇网格",
    "villages": "所含村（社区）",
    "households": "户数",
    "residents": "常住人口",
    "min_households": "户数下限",
    "max_households": "户数上限",
    "deviation": "超出范围户数（负为不足）",
    "residents_over": "超出人口上限",
    "workers": "网格员数",
    "fulltime": "专职",
}
_WORKER_HEADERS = {
    "township_code": "乡镇代码",
    "name": "乡镇名称",
    "county_code": "区县代码",
    "grids": "网格数",
    "fulltime_needed": "需专职网格员",
    "parttime_needed": "需兼职网格员",
    "fulltime_roster": "现有专职",
    "parttime_roster": "现有兼职",
    "fulltime_gap": "专职缺口",
    "parttime_gap": "兼职缺口",
}
_CENTRE_HEADERS = {
    "township_code": "乡镇代码",
    "name": "乡镇名称",
    "county_code": "区县代码",
    "centre": "综治中心（驻地）",
    "existing": "现有综治中心",
    "merged_townships": "整合的被撤并乡镇",
    "merged_centres": "整合的综治中心",
    "staff": "人员合计",
    "screens": "坐席合计",
}
_CAMERA_HEADERS = {
    "code": "村（社区）代码",
    "township_code": "乡镇代码",
    "villages_before": "合并前村数",
    "rule_points": "按原村数应建点位",
    "cover_points": "重要场所覆盖所需点位",
    "planned": "规划点位",
    "existing": "现有点位",
    "gap": "缺口",
}
_MEDIATOR_HEADERS = {
    "code": "村（社区）代码",
    "name": "名称",
    "township_code": "乡镇代码",
    "county_code": "区县代码",
    "residents": "常住人口",
    "disputes": "年矛盾纠纷",
    "remoteness_km": "距乡镇驻地（公里）",
    "mediators_fulltime": "现有专职调解员",
    "score": "优先得分",
    "rank": "县内排序",
    "for_threshold": "达到配备率所需",
    "proposed": "建议配备",
    "cost_yuan": "年费用（元）",
}


def grassroots_sheets(g: GrassrootsReport) -> dict[str, pd.DataFrame]:
    """Return the workbook sheets (name -> table with Chinese headers).

    Parameters
    ----------
    g
        The grassroots report of a plan.

    Returns
    -------
    dict
        ``网格``, ``网格员``, ``综治中心``, ``雪亮工程`` and ``人民调解员``.
    """
    yes = {True: "是", False: ""}
    grids = pd.DataFrame(g.grids.drop(columns="geometry"))
    grids["urban"] = grids["urban"].map(yes)
    grids["fulltime"] = grids["fulltime"].map(yes)
    centres = g.centres.copy()
    centres["existing"] = centres["existing"].map({True: "有", False: "无", None: ""})
    med = g.mediators.copy()
    med["for_threshold"] = med["for_threshold"].map(yes)
    med["proposed"] = med["proposed"].map(yes)
    return {
        "网格": grids[list(_GRID_HEADERS)].rename(columns=_GRID_HEADERS),
        "网格员": g.workers[list(_WORKER_HEADERS)].rename(columns=_WORKER_HEADERS),
        "综治中心": centres[list(_CENTRE_HEADERS)].rename(columns=_CENTRE_HEADERS),
        "雪亮工程": g.cameras.villages[list(_CAMERA_HEADERS)].rename(columns=_CAMERA_HEADERS),
        "人民调解员": med[list(_MEDIATOR_HEADERS)].rename(columns=_MEDIATOR_HEADERS),
    }


def append_sheet(book: Any, name: str, table: pd.DataFrame) -> None:
    """Write a table as a new sheet of an openpyxl workbook, a row at a time.

    The same cells as ``DataFrame.to_excel(index=False)`` (header row, then the values; a
    missing value is an empty cell) at a fraction of its cost: the province's grid, camera and
    mediator sheets hold some two million cells.

    Parameters
    ----------
    book
        The ``openpyxl.Workbook`` (``ExcelWriter.book``).
    name
        The sheet's name.
    table
        The table (Chinese headers).
    """
    ws = book.create_sheet(name)
    ws.append([str(c) for c in table.columns])
    cols = []
    for col in table.columns:
        values = table[col].to_numpy(dtype=object, copy=True)
        missing = pd.isna(table[col]).to_numpy()
        values[missing] = None
        cols.append(values.tolist())
    for row in zip(*cols, strict=True):
        ws.append(row)


def _geojson(gdf: gpd.GeoDataFrame, props: list[str], *, coverage: bool) -> dict[str, Any]:
    """Return a compact GeoJSON (simplified, 5 decimals, about 1 m) of some columns.

    Grids tile their township, so they are simplified as a coverage (a shared border stays
    shared, :func:`~optimizer.outputs.map_data.simplify_coverage`); villages per polygon.
    """
    geo = gdf[[*props, "geometry"]].copy()
    geoms = geo.geometry.to_numpy()
    simple = None
    if coverage:
        try:
            simple = simplify_coverage(geoms, _MAP_TOLERANCE)
        except shapely.errors.GEOSException:  # not a clean coverage: per polygon
            simple = None
    if simple is None:
        geo["geometry"] = geo.geometry.simplify(_MAP_TOLERANCE, preserve_topology=True)
    else:
        geo["geometry"] = simple
    data: dict[str, Any] = json.loads(geo.to_json(drop_id=True, to_wgs84=False))

    def rounded(c: Any) -> Any:
        if isinstance(c, list):
            return [rounded(x) for x in c]
        return round(c, 5) if isinstance(c, float) else c

    for feat in data["features"]:
        if feat["geometry"] is not None:
            feat["geometry"]["coordinates"] = rounded(feat["geometry"]["coordinates"])
    return data


def grassroots_map_data(g: GrassrootsReport) -> dict[str, Any] | None:
    """Return the data of the 网格 and 村（社区） layers (None when the grids have no polygons).

    Above :data:`MAP_MAX_FEATURES` grids only those outside their bounds are drawn, and no
    village layer, so that a province's page stays within its size target.

    Parameters
    ----------
    g
        The grassroots report.

    Returns
    -------
    dict or None
        ``grids`` (GeoJSON, properties ``t`` tooltip and ``o`` = 1 outside the bounds),
        ``gridsName``, ``villages`` (GeoJSON with ``t``, or None).
    """
    if not len(g.grids) or g.grids.geometry.isna().any():
        return None
    grids = g.grids.assign(
        t=[
            f"网格 {c}：{h:.0f} 户" + (f"（超出范围 {d:+.0f} 户）" if d else "")
            for c, h, d in zip(
                g.grids["code"], g.grids["households"], g.grids["deviation"], strict=True
            )
        ],
        o=(g.grids["deviation"] != 0).astype(int),
    )
    name = "网格（多网合一）"
    many = len(grids) > MAP_MAX_FEATURES
    if many:
        grids = grids[grids["o"] == 1]
        name = f"网格（多网合一）：仅显示超出户数范围的 {len(grids):,} 个，全部见 plan.xlsx"
    villages = None
    drawable = g.villages.geometry.notna().all() and not g.villages.geometry.is_empty.any()
    if not many and len(g.villages) <= MAP_MAX_FEATURES and drawable:
        vill = g.villages.assign(
            t=[
                f"{n}（{k}）：{h:.0f} 户，{n_g} 个网格"
                for n, k, h, n_g in zip(
                    g.villages["name"],
                    g.villages["kind"],
                    g.villages["households"].fillna(0),
                    g.villages["grids"],
                    strict=True,
                )
            ],
        )
        villages = _geojson(vill, ["t"], coverage=False)
    return {
        "grids": _geojson(grids, ["t", "o"], coverage=not many) if len(grids) else None,
        "gridsName": name,
        "villages": villages,
    }


class _GrassrootsLayers(MacroElement):
    """The 网格 and 村（社区） layers: canvas GeoJSON, off at start, in a layer switch.

    They are drawn in their own pane above the townships and under the facility symbols, by
    ``optimizer/assets/grassroots_map.js`` (shared by every map of a page).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        optimizerGrassrootsLayers({{ this._parent.get_name() }}, {{ this.data_json }});
        {% endmacro %}
        """
    )

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()
        self._name = "GrassrootsLayers"
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        # safe inside an HTML <script> element
        self.data_json = text.replace("<", "\\u003c").replace(">", "\\u003e")
        self.data_json = self.data_json.replace("&", "\\u0026")

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        """Add the shared script to the page, then render the call."""
        script = (resources.files("optimizer") / "assets" / "grassroots_map.js").read_text(
            encoding="utf-8"
        )
        self.get_root().header.add_child(  # type: ignore[attr-defined]
            Element(f"<script>/* optimizer/assets/grassroots_map.js */\n{script}\n</script>"),
            name="grassroots_map_script",
        )
        super().render(**kwargs)


def add_grassroots_layers(m: folium.Map, g: GrassrootsReport) -> None:
    """Add the 网格 and 村（社区） layers (off at start) to the plan map.

    Parameters
    ----------
    m
        The plan map (from :func:`optimizer.outputs.maps.plan_map`).
    g
        The grassroots report; nothing is drawn when the grids carry no polygons.
    """
    data = grassroots_map_data(g)
    if data is None:
        return
    _GrassrootsLayers(data).add_to(m)
