"""Folium maps of a plan that open offline, from a single HTML file.

One layer per facility type: townships filled with one colour per jurisdiction (the facility that
serves them; touching jurisdictions get different colours), and the facilities drawn as inline-SVG
symbols (kept, 中心 and closed-and-converted ones look different). The map carries a Chinese title,
a Chinese legend and a layer control. :func:`save_map` writes one self-contained HTML file: Leaflet
is inlined from ``optimizer/assets`` (no CDN), element ids are deterministic, so the same plan
always gives the same bytes, and the file is replaced atomically.

Every user string (township and facility names, ids, the title) is HTML-escaped before it reaches
the page.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import folium
import geopandas as gpd
import pandas as pd
from branca.element import Element, Figure, MacroElement
from folium.template import Template

from optimizer.errors import DataError
from optimizer.outputs.map_data import (
    CLOSED_COLOUR,
    PALETTE,
    TYPE_COLOURS,
    UNSERVED_COLOUR,
    facility_key,
    is_missing,
    jurisdiction_colours,
    plan_map_data,
)
from optimizer.schema import CLOSED_BECOMES_ZH, FACILITY_LABELS_ZH, FACILITY_TYPES, POLICE

__all__ = [
    "PALETTE",
    "UNSERVED_COLOUR",
    "compare_map",
    "external_references",
    "inline",
    "jurisdiction_colours",
    "plan_map",
    "save_map",
]

logger = logging.getLogger(__name__)

#: Fill opacity of township polygons.
FILL_OPACITY = 0.75
_CLOSED_COLOUR = CLOSED_COLOUR

_FONT = "'Microsoft YaHei','PingFang SC','WenQuanYi Micro Hei','Noto Sans CJK SC',sans-serif"

#: Vendored assets that replace folium's CDN links, by the file name the link ends with.
_ASSETS: dict[str, str] = {"leaflet.js": "leaflet/leaflet.js", "leaflet.css": "leaflet/leaflet.css"}
_LEAFLET_JS_URL = "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js"
_LEAFLET_CSS_URL = "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css"

_STATE_ZH = {"central": "中心", "kept": "保留", "closed": "撤并"}


# --------------------------------------------------------------------------------------------
# escaping and formatting


def _esc(value: object) -> str:
    """Return ``value`` as text safe inside HTML and inside a JavaScript template literal.

    Folium puts tooltip text into a back-quoted JavaScript string, so back quotes, dollar signs
    and backslashes are turned into character references as well.
    """
    text = "" if value is None else str(value)
    text = html.escape(text, quote=True)
    return text.replace("`", "&#96;").replace("$", "&#36;").replace("\\", "&#92;")


def _fmt_int(value: object, unit: str = "") -> str:
    if is_missing(value):
        return "—"
    try:
        return f"{round(float(value)):,}{unit}"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return _esc(value)


def _fmt_km(value: object) -> str:
    if is_missing(value):
        return "—"
    try:
        return f"{float(value):.1f} km"  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return _esc(value)


# --------------------------------------------------------------------------------------------
# symbols


def _symbol_svg(ftype: str, state: str, becomes: str | None = None) -> tuple[str, int]:
    """Return the inline SVG of a facility symbol and its size in pixels.

    Shapes tell the type (派出所 circle, 司法所 square, 人民法庭 diamond); size and fill tell the
    state (中心 large with a white dot, kept filled, closed small, white with a red dashed edge;
    a court merged away also gets a red cross).
    """
    colour = TYPE_COLOURS.get(ftype, "#444444")
    size = {"central": 24, "kept": 16, "closed": 14}[state]
    h = size / 2
    if state == "closed":
        fill, stroke, extra_style = "#ffffff", _CLOSED_COLOUR, ' stroke-dasharray="3 2"'
    else:
        fill, stroke, extra_style = colour, "#ffffff", ""
    sw = 2
    r = h - sw
    if ftype == "judicial_office":
        shape = f'<rect x="{sw}" y="{sw}" width="{size - 2 * sw}" height="{size - 2 * sw}"'
    elif ftype == "court":
        shape = (
            f'<polygon points="{h},{sw / 2} {size - sw / 2},{h} {h},{size - sw / 2} {sw / 2},{h}"'
        )
    else:
        shape = f'<circle cx="{h}" cy="{h}" r="{r}"'
    shape += f' fill="{fill}" stroke="{stroke}" stroke-width="{sw}"{extra_style}/>'
    inner = ""
    if state == "central":
        inner = f'<circle cx="{h}" cy="{h}" r="{size / 7:.1f}" fill="#ffffff"/>'
    elif state == "closed" and becomes == "merged":
        a, b = size * 0.3, size * 0.7
        inner = (
            f'<path d="M{a:.1f},{a:.1f}L{b:.1f},{b:.1f}M{b:.1f},{a:.1f}L{a:.1f},{b:.1f}" '
            f'stroke="{_CLOSED_COLOUR}" stroke-width="1.5"/>'
        )
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}" style="display:block;overflow:visible">{shape}{inner}</svg>'
    )
    return svg, size


def _state(row: Mapping[str, Any] | pd.Series) -> str:
    decision = str(row.get("decision", "keep")).strip().lower()
    if decision == "close":
        return "closed"
    central = row.get("central", False)
    return "central" if (not is_missing(central) and bool(central)) else "kept"


def _state_label(ftype: str, state: str, becomes: object) -> str:
    label = FACILITY_LABELS_ZH.get(ftype, ftype)
    if state == "central":
        return f"保留（中心{label}）"
    if state == "kept":
        return "保留"
    if is_missing(becomes):
        return "撤并"
    target = CLOSED_BECOMES_ZH.get(str(becomes), str(becomes))
    if str(becomes) == "merged":
        return "撤并，并入相邻法庭"
    return f"撤并，改设{_esc(target)}"


def _legend_entries(ftype: str) -> list[tuple[str, str]]:
    label = FACILITY_LABELS_ZH.get(ftype, ftype)
    becomes_zh = {"police_station": "改设警务室", "judicial_office": "改设司法服务点"}
    closed = becomes_zh.get(ftype, "并入相邻法庭")
    entries = [
        ("kept", None, f"保留的{label}"),
        ("closed", "merged" if ftype == "court" else None, f"撤并的{label}：{closed}"),
    ]
    if ftype == POLICE:  # 中心 only where the plan uses it: 中心派出所
        entries.insert(0, ("central", None, "中心派出所（保留，服务 ≥ 2 个乡镇）"))
    out = []
    for state, becomes, text in entries:
        svg, _ = _symbol_svg(ftype, state, becomes)
        out.append((svg, text))
    return out


# --------------------------------------------------------------------------------------------
# map building


def _check_inputs(
    townships: gpd.GeoDataFrame, facilities: pd.DataFrame, facility_types: Sequence[str]
) -> None:
    problems: list[str] = []
    for col in ("code", "name", "population", "incidents"):
        if col not in townships.columns:
            problems.append(f"townships lack column {col!r}")
    for col in ("id", "type", "name", "decision"):
        if col not in facilities.columns:
            problems.append(f"facilities lack column {col!r}")
    for t in facility_types:
        if t not in FACILITY_TYPES:
            problems.append(f"unknown facility type {t!r}; expected one of {FACILITY_TYPES}")
        for col in (f"served_by__{t}", f"distance_km__{t}"):
            if col not in townships.columns:
                problems.append(f"townships lack column {col!r} needed to map {t}")
    if townships.crs is None:
        problems.append("townships have no CRS; set it (EPSG:4326) with .set_crs()")
    if len(townships) == 0:
        problems.append("townships are empty: nothing to map")
    if problems:
        raise DataError(problems, title="cannot draw the plan map")


def _title_html(title: str, synthetic: bool) -> str:
    badge = (
        '<span style="background:#c0392b;color:#fff;border-radius:3px;padding:1px 6px;'
        'margin-left:8px;font-size:13px">合成数据</span>'
        if synthetic
        else ""
    )
    return (
        '<div id="plan-title" style="position:fixed;top:10px;left:50%;transform:translateX(-50%);'
        "z-index:1000;background:rgba(255,255,255,0.92);padding:6px 14px;border-radius:4px;"
        f"box-shadow:0 1px 4px rgba(0,0,0,0.3);font-family:{_FONT};"
        'font-size:17px;font-weight:bold">'
        f"{_esc(title)}{badge}</div>"
    )


def _legend_html(facility_types: Sequence[str], synthetic: bool, tiles: str | None) -> str:
    parts = [
        '<div id="plan-legend" class="plan-legend" style="position:fixed;bottom:24px;right:10px;'
        "z-index:1000;background:rgba(255,255,255,0.94);padding:8px 10px;border-radius:4px;"
        f"box-shadow:0 1px 4px rgba(0,0,0,0.3);font-family:{_FONT};font-size:12px;"
        'line-height:1.5;max-width:320px">',
        '<div style="font-weight:bold;font-size:13px;margin-bottom:2px">图例</div>',
    ]
    if synthetic:
        parts.append(
            '<div style="color:#c0392b;font-weight:bold">合成数据：仅供演示，非真实机构或辖区</div>'
        )
    for ftype in facility_types:
        label = FACILITY_LABELS_ZH.get(ftype, ftype)
        parts.append(f'<div style="font-weight:bold;margin-top:4px">{label}</div>')
        for svg, text in _legend_entries(ftype):
            parts.append(
                '<div style="display:flex;align-items:center;gap:6px">'
                f'<span style="display:inline-flex;width:26px;justify-content:center">{svg}</span>'
                f"<span>{text}</span></div>"
            )
    swatches = "".join(
        f'<span style="display:inline-block;width:12px;height:12px;background:{c};'
        f'opacity:{FILL_OPACITY};border:1px solid #555;margin-right:1px"></span>'
        for c in PALETTE[:5]
    )
    parts.append(
        f'<div style="margin-top:4px">{swatches} 乡镇填色：所属辖区（相邻辖区颜色不同）</div>'
        f'<div><span style="display:inline-block;width:12px;height:12px;'
        f'background:{UNSERVED_COLOUR};border:1px solid #555"></span> 未分配</div>'
        "<div>右上角面板：切换机构类型、调整方案与现状，搜索乡镇</div>"
    )
    if tiles is None:
        parts.append('<div style="color:#777">无底图（离线）</div>')
    parts.append("</div>")
    return "".join(parts)


def _page_parts(root: Element) -> list[Element]:
    """Return the header, body and script parts of a page (not children of the figure)."""
    parts = (getattr(root, name, None) for name in ("header", "html", "script"))
    return [p for p in parts if isinstance(p, Element)]


def _stabilise_ids(m: folium.Map | Figure) -> None:
    """Replace folium's random element ids by ids derived from the map's tree and title."""
    root = m.get_root()
    seed = getattr(m, "_plan_seed", "plan")
    prefix = hashlib.sha1(str(seed).encode("utf-8")).hexdigest()[:6]
    stack: list[Element] = [root, *_page_parts(root)]
    seen: set[int] = set()
    i = 0
    while stack:
        el = stack.pop(0)
        if id(el) in seen:
            continue
        seen.add(id(el))
        el._id = f"{prefix}{i:05d}"
        i += 1
        stack.extend(el._children.values())


def _render(m: folium.Map | Figure) -> str:
    """Render the map's page without leaving anything behind in the map.

    Folium adds elements (e.g. tooltip styles) to the page while rendering; they are removed
    again so that rendering the same map twice gives the same text.
    """
    _stabilise_ids(m)
    root = m.get_root()
    saved: list[tuple[Element, dict[str, Element]]] = []
    stack: list[Element] = [root, *_page_parts(root)]
    while stack:
        el = stack.pop()
        saved.append((el, dict(el._children)))
        stack.extend(el._children.values())
    try:
        return root.render()
    finally:
        for el, children in saved:
            el._children.clear()
            el._children.update(children)


def _fill_data(m: folium.Map | Figure, page: str) -> str:
    """Put each plan layer's data where its placeholder is (the data cannot hold a tag)."""
    stack: list[Element] = [m.get_root()]
    while stack:
        el = stack.pop()
        if isinstance(el, _PlanLayers):
            page = page.replace(el.placeholder, el.data_json, 1)
        stack.extend(el._children.values())
    return page


_PLAN_CSS = (
    ".plan-panel{background:rgba(255,255,255,0.95);padding:8px 10px;border-radius:4px;"
    "box-shadow:0 1px 4px rgba(0,0,0,0.3);font-size:12px;line-height:1.5;width:250px}"
    ".plan-panel-title{font-weight:bold;font-size:14px}"
    ".plan-checks .ok{color:#1b7a3a}.plan-checks .ex{color:#b36b00}.plan-checks .no{color:#c0392b}"
    ".plan-counts{border-collapse:collapse;margin:4px 0}.plan-counts td,.plan-counts th"
    "{padding:0 6px 0 0;text-align:right}.plan-counts td:first-child{text-align:left}"
    ".plan-search{width:100%;box-sizing:border-box;margin-top:4px;font-size:12px}"
    ".plan-results a{display:block;color:#1f4e9c;text-decoration:none;padding:1px 0}"
    ".plan-results a:hover{background:#eef}"
    ".plan-label{white-space:nowrap;text-align:center;color:#222;"
    "text-shadow:0 0 3px #fff,0 0 3px #fff,0 0 3px #fff}"
    ".plan-label-prefecture{font-size:15px;font-weight:bold}"
    ".plan-label-county{font-size:13px;font-weight:bold;color:#333}"
    ".plan-label-township{font-size:11px;color:#444}"
    ".plan-tooltip{font-size:12px;line-height:1.4}.plan-tip{font-size:12px}"
    ".plan-tip th{text-align:left;padding-right:8px}"
)


class _PlanLayers(MacroElement):
    """The plan's data and the script that draws it (``optimizer/assets/plan_map.js``).

    The script is put once into the page's header (several maps on a comparison page share
    it); each map gets one call with its own data object.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        optimizerPlanMap({{ this._parent.get_name() }}, {{ this.placeholder }});
        {% endmacro %}
        """
    )

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()
        self._name = "PlanLayers"
        self.data_json = _script_json(data)

    @property
    def placeholder(self) -> str:
        """Token the page carries until :func:`_fill_data` puts the data in (after checks)."""
        return f"__optimizer_plan_data_{self.get_name()}__"

    def render(self, **kwargs: Any) -> None:  # type: ignore[override]
        """Add the shared script and style to the page, then render the call."""
        root = self.get_root()
        root.header.add_child(  # type: ignore[attr-defined]
            Element(
                f"<style>{_PLAN_CSS}</style>\n<script>/* optimizer/assets/plan_map.js */\n"
                f"{_inline_js('plan_map.js')}\n</script>"
            ),
            name="plan_map_script",
        )
        super().render(**kwargs)


def _script_json(data: Any) -> str:
    """Return ``data`` as JSON that is safe inside an HTML ``<script>`` element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _drawable(townships: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    geo = townships.to_crs("EPSG:4326") if townships.crs != "EPSG:4326" else townships
    geo = geo[~(geo.geometry.isna() | geo.geometry.is_empty)]
    invalid = ~geo.geometry.is_valid
    if invalid.any():
        logger.debug("repairing %d invalid township geometries for drawing", int(invalid.sum()))
        geo = geo.copy()
        geo.loc[invalid, "geometry"] = geo.geometry[invalid].make_valid()
    return geo.reset_index(drop=True)


def _decorate_page(
    m: folium.Map,
    title: str,
    facility_types: Sequence[str],
    *,
    synthetic: bool,
    tiles: str | None,
) -> None:
    """Add the page's style, title box, legend and browser title to the map.

    Parameters
    ----------
    m
        The map being built.
    title
        The plan's title (escaped here).
    facility_types
        Types the legend lists, in order.
    synthetic
        Mark the title and legend as 合成数据.
    tiles
        The basemap template, if any (the legend says when there is none).
    """
    root = m.get_root()
    root.header.add_child(  # type: ignore[attr-defined]
        Element(
            "<style>html body .leaflet-container{background:#ffffff;font-family:"
            + _FONT
            + "}.plan-symbol{background:none;border:none}"
            ".leaflet-control-layers{font-family:" + _FONT + ";font-size:13px}</style>"
        ),
        name="plan_style",
    )
    root.html.add_child(Element(_title_html(title, synthetic)), name="plan_title")  # type: ignore[attr-defined]
    root.html.add_child(  # type: ignore[attr-defined]
        Element(_legend_html(facility_types, synthetic, tiles)), name="plan_legend"
    )
    page_title = f"{title}（合成数据）" if synthetic else title
    root.title = html.escape(page_title, quote=True)  # type: ignore[attr-defined]


def plan_map(
    townships: gpd.GeoDataFrame,
    facilities: pd.DataFrame,
    *,
    title: str,
    facility_types: Sequence[str] | None = None,
    tiles: str | None = None,
    tiles_attribution: str | None = None,
    synthetic: bool = False,
    checks: Mapping[str, int] | None = None,
    area_names: Mapping[str, str] | None = None,
) -> folium.Map:
    """Draw a plan: jurisdictions, boundaries, names and facility decisions, for any area.

    The townships are one canvas layer filled by jurisdiction (touching jurisdictions differ),
    under the county and prefecture outlines; names appear as one zooms in (prefectures, then
    counties, then townships), placed so that none overlap; facility symbols are drawn on a
    canvas and thinned at each zoom so that none overlap (a symbol's tooltip says how many
    others it stands for). A panel shows the plan's summary (rule checks, kept and closed per
    type), switches the facility type and today's layout / the proposal, and searches a township
    by name or code. The polygons are simplified as a coverage (shared borders stay shared).

    Parameters
    ----------
    townships
        Township polygons (any CRS; drawn in EPSG:4326) with ``code``, ``name``,
        ``county_code``, ``population``, ``incidents`` and, per facility type ``T`` drawn,
        ``served_by__T`` (id of the serving facility), ``distance_km__T`` and optionally
        ``before_by__T`` (today's facility), ``minutes__T``.
    facilities
        One row per facility: ``id``, ``type``, ``name``, ``township_code``, ``lon``, ``lat``,
        ``decision`` ("keep"/"close"), ``becomes``, ``central``, ``n_served`` and optionally
        ``reason`` (shown in its tooltip). A facility without ``lon``/``lat`` is drawn at its
        township's representative point.
    title
        Title shown at the top of the map (escaped).
    facility_types
        Types in the panel's order; the first is shown. Default: the types present in
        ``facilities``, in schema order.
    tiles
        ``None`` (default) draws no basemap, so the map needs no network at all. Otherwise an
        XYZ URL template of an office tile server, e.g. ``http://gis.local/{z}/{x}/{y}.png``.
    tiles_attribution
        Attribution text of ``tiles``; default names the tile server's host.
    synthetic
        Mark the map as 合成数据 (synthetic data) in the title and the legend.
    checks
        Outcome counts of the rule checks (``Plan.outcome_counts()``) for the summary panel.
    area_names
        County and prefecture code -> name (default: the bundled Sichuan frame).

    Returns
    -------
    folium.Map
        The map; write it with :func:`save_map` to get an offline, byte-stable HTML file.

    Raises
    ------
    DataError
        When columns needed for the requested types are missing, a type is unknown, the
        townships have no CRS or are empty, or ``tiles`` is not an XYZ template.

    See Also
    --------
    save_map : write the map as one self-contained HTML file.
    """
    if facility_types is None:
        present = set(facilities["type"].astype(str)) if "type" in facilities.columns else set()
        facility_types = [t for t in FACILITY_TYPES if t in present]
    facility_types = list(facility_types)
    _check_inputs(townships, facilities, facility_types)
    if tiles is not None and not all(p in tiles for p in ("{z}", "{x}", "{y}")):
        raise DataError(
            f"tiles {tiles!r} is not an XYZ URL template: it needs {{z}}, {{x}} and {{y}}",
            title="cannot draw the plan map",
        )
    geo = _drawable(townships)
    minx, miny, maxx, maxy = (float(v) for v in geo.total_bounds) if len(geo) else (math.nan,) * 4
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise DataError("townships have no usable geometry", title="cannot draw the plan map")

    m = folium.Map(
        location=[(miny + maxy) / 2, (minx + maxx) / 2],
        zoom_start=9,
        tiles=None,
        control_scale=True,
        zoom_snap=0.25,
        prefer_canvas=True,
    )
    # Only Leaflet is needed: no popups with HTML children, no awesome markers, no bootstrap.
    m.default_js = [("leaflet", _LEAFLET_JS_URL)]
    m.default_css = [("leaflet_css", _LEAFLET_CSS_URL)]
    m._plan_seed = title  # type: ignore[attr-defined]
    if tiles is not None:
        host = urlsplit(tiles).netloc or "本地瓦片服务"
        attribution = tiles_attribution if tiles_attribution is not None else f"底图：{host}"
        folium.TileLayer(
            tiles=tiles, attr=_esc(attribution), name="底图", overlay=False, control=False
        ).add_to(m)
    data = plan_map_data(geo, facilities, facility_types, checks=checks, area_names=area_names)
    data["bounds"] = [[miny, minx], [maxy, maxx]]
    _PlanLayers(data).add_to(m)  # fits the view to the bounds itself, without animation

    _decorate_page(m, title, facility_types, synthetic=synthetic, tiles=tiles)
    _stabilise_ids(m)
    logger.debug("plan map %r: %d types, %d townships", title, len(facility_types), len(geo))
    return m


# --------------------------------------------------------------------------------------------
# saving


def _asset_text(rel: str) -> str:
    return resources.files("optimizer").joinpath("assets", rel).read_text(encoding="utf-8")


def _asset_data_uri(rel: str) -> str:
    data = resources.files("optimizer").joinpath("assets", rel).read_bytes()
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _inline_css(rel: str) -> str:
    css = _asset_text(rel)
    folder = rel.rsplit("/", 1)[0]

    def to_data(match: re.Match[str]) -> str:
        return f"url({_asset_data_uri(folder + '/' + match.group(1))})"

    return re.sub(r"url\((images/[\w.-]+\.png)\)", to_data, css)


def _inline_js(rel: str) -> str:
    js = _asset_text(rel)
    js = re.sub(r"^//# sourceMappingURL=.*$", "", js, flags=re.MULTILINE)
    return js.replace("</script", "<\\/script")


_SCRIPT_LINK = re.compile(r'<script\s+src="(https?://[^"]+)"\s*>\s*</script>')
_CSS_LINK = re.compile(r'<link\s+rel="stylesheet"\s+href="(https?://[^"]+)"\s*/?>')


def _inline_assets(page: str) -> str:
    def asset_for(url: str) -> str | None:
        return _ASSETS.get(urlsplit(url).path.rsplit("/", 1)[-1])

    def script(match: re.Match[str]) -> str:
        rel = asset_for(match.group(1))
        if rel is None or not rel.endswith(".js"):
            return match.group(0)
        return f"<script>/* {rel} (vendored) */\n{_inline_js(rel)}\n</script>"

    def style(match: re.Match[str]) -> str:
        rel = asset_for(match.group(1))
        if rel is None or not rel.endswith(".css"):
            return match.group(0)
        return f"<style>/* {rel} (vendored) */\n{_inline_css(rel)}\n</style>"

    page = _SCRIPT_LINK.sub(script, page)
    return _CSS_LINK.sub(style, page)


class _RefParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.refs: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href", "srcset", "data", "poster", "action"} and value:
                if re.match(r"\s*(https?:)?//", value, flags=re.IGNORECASE):
                    self.refs.append(f"<{tag} {name}={value}>")
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            for url in re.findall(r"(?:url\(|@import)\s*['\"]?((?:https?:)?//[^'\")\s]+)", data):
                self.refs.append(f"<style> {url}")


def external_references(page: str) -> list[str]:
    """Return every reference of an HTML page that would load something over the network.

    Looks at ``src``/``href``-like attributes of all tags and at ``url()``/``@import`` in style
    blocks. Text inside scripts (e.g. a tile URL template, Leaflet's own attribution link) is
    not a load and is not reported.

    Parameters
    ----------
    page
        The HTML text.

    Returns
    -------
    list of str
        One description per external reference, in document order; empty when self-contained.
    """
    parser = _RefParser()
    parser.feed(page)
    parser.close()
    return parser.refs


def save_map(m: folium.Map | Figure, path: str | Path) -> Path:
    """Write a map as one self-contained HTML file that works with no network.

    Folium's CDN links are replaced by the vendored copies in ``optimizer/assets`` (inlined,
    images as ``data:`` URIs), element ids are made deterministic (the same map gives the same
    bytes), and the file is written to a temporary file beside ``path`` and renamed over it.

    Parameters
    ----------
    m
        A map, normally from :func:`plan_map`, or a page of maps from :func:`compare_map`.
    path
        Where to write the HTML; missing parent folders are created.

    Returns
    -------
    pathlib.Path
        The written path.

    Raises
    ------
    DataError
        When the map references a script or stylesheet that is not vendored (for example a
        folium plugin loaded from a CDN); nothing is written then.
    """
    path = Path(path)
    page = _inline_assets(_render(m))
    refs = external_references(page)
    if refs:
        raise DataError(
            [f"external reference not vendored in optimizer/assets: {r}" for r in refs],
            title=f"map {path} would need the network",
        )
    page = _fill_data(m, page)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(page.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    logger.info("wrote map %s (%s KiB)", path, f"{len(page) // 1024:,}")
    return path


# --------------------------------------------------------------------------------------------
# scenarios side by side

#: Outline colour of the townships whose facility differs between the compared scenarios.
DIFFER_COLOUR = "#e31a1c"
_HEADER_PX = 40


class _SyncMaps(MacroElement):
    """Keep the view (centre and zoom) of several Leaflet maps in step, no plugin needed.

    Folium's ``DualMap`` loads Leaflet.Sync from a CDN; this dozen lines of inline script does
    what the comparison needs: moving or zooming one map moves the others the same way.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function () {
            var maps = [{% for m in this.maps %}{{ m.get_name() }}{% if not loop.last %}, {% endif %}{% endfor %}];
            var busy = false;
            maps.forEach(function (a) {
                a.on("move zoom", function () {
                    if (busy) { return; }
                    busy = true;
                    try {
                        var c = a.getCenter(), z = a.getZoom();
                        maps.forEach(function (b) {
                            if (b !== a) { b.setView(c, z, {animate: false}); }
                        });
                    } finally {
                        busy = false;
                    }
                });
            });
            document.body.setAttribute("data-maps-synced", String(maps.length));
        })();
        {% endmacro %}
        """
    )

    def __init__(self, maps: Sequence[folium.Map]) -> None:
        super().__init__()
        self._name = "SyncMaps"
        self.maps = list(maps)


def _differ_layer(
    m: folium.Map,
    panels: Sequence[tuple[str, gpd.GeoDataFrame, pd.DataFrame]],
    differ: Sequence[str],
    ftype: str,
) -> None:
    """Outline the townships whose facility differs between scenarios, with a tooltip."""
    tw0 = panels[0][1]
    tw0 = tw0.to_crs("EPSG:4326") if tw0.crs != "EPSG:4326" else tw0
    sel = tw0[tw0["code"].astype(str).isin(set(differ))]
    if not len(sel):
        return
    label = FACILITY_LABELS_ZH.get(ftype, ftype)
    per_panel = []
    for name, tw, fac in panels:
        names = {
            facility_key(i): str(n)
            for i, n in zip(
                fac.loc[fac["type"].astype(str) == ftype, "id"],
                fac.loc[fac["type"].astype(str) == ftype, "name"],
                strict=True,
            )
        }
        served = dict(zip(tw["code"].astype(str), tw[f"served_by__{ftype}"], strict=True))
        per_panel.append((name, served, names))
    tips = []
    for code, tname in zip(sel["code"].astype(str), sel["name"], strict=True):
        rows = "".join(
            f"<tr><th style='text-align:left;padding-right:8px'>{_esc(n)}</th>"
            f"<td>{_esc(nm.get(facility_key(sv.get(code)), facility_key(sv.get(code)) or '未分配'))}</td></tr>"
            for n, sv, nm in per_panel
        )
        tips.append(
            f'<div style="font-family:{_FONT};font-size:12px"><b>{_esc(tname)}</b>'
            f"（{_esc(code)}）<br>各方案的{label}：<table>{rows}</table></div>"
        )
    layer = gpd.GeoDataFrame(
        {"tip": tips}, geometry=sel.geometry.to_numpy(), crs="EPSG:4326"
    ).reset_index(drop=True)
    folium.GeoJson(
        layer,
        name="方案间管辖不同的乡镇",
        style_function=lambda f: {"fill": False, "color": DIFFER_COLOUR, "weight": 3.5},
        tooltip=folium.GeoJsonTooltip(fields=["tip"], labels=False, sticky=True),
        smooth_factor=0.5,
    ).add_to(m)
    # the layer control must come after every layer it lists: move it to the end
    controls = [k for k, v in m._children.items() if isinstance(v, folium.LayerControl)]
    for k in controls:
        m._children.move_to_end(k)


def compare_map(
    panels: Sequence[tuple[str, gpd.GeoDataFrame, pd.DataFrame]],
    *,
    title: str,
    differ: Sequence[str] = (),
    facility_types: Sequence[str] | None = None,
    tiles: str | None = None,
    tiles_attribution: str | None = None,
    synthetic: bool = False,
) -> Figure:
    """Draw two or more plans side by side as synchronised maps on one page.

    Each panel is a full :func:`plan_map` (same layers, colours, symbols and tooltips) with the
    scenario's name above it; moving or zooming one map moves the others. The townships in
    ``differ`` are outlined in red on every map. One Chinese legend serves all panels.

    Parameters
    ----------
    panels
        ``(scenario name, townships, facilities)`` per map, left to right; the frames are as
        :func:`plan_map` takes them.
    title
        Page title (escaped).
    differ
        Township codes to outline (those whose facility differs between scenarios).
    facility_types
        Types to draw (see :func:`plan_map`); the red outlines follow the first.
    tiles, tiles_attribution
        Optional office tile server (see :func:`plan_map`); default no basemap.
    synthetic
        Mark the page as 合成数据.

    Returns
    -------
    branca.element.Figure
        The page; write it with :func:`save_map` (offline and byte-stable like a plan map).

    Raises
    ------
    DataError
        With fewer than two panels, or when a panel cannot be drawn (see :func:`plan_map`).
    """
    if len(panels) < 2:
        raise DataError("give at least two plans to compare", title="cannot draw the comparison")
    if facility_types is None:
        present = set().union(*(set(f["type"].astype(str)) for _, _, f in panels))
        facility_types = [t for t in FACILITY_TYPES if t in present]
    facility_types = list(facility_types)
    fig = Figure()
    n = len(panels)
    width = 100.0 / n
    maps: list[folium.Map] = []
    headers = []
    for i, (name, townships, facilities) in enumerate(panels):
        m = plan_map(
            townships,
            facilities,
            title=str(name),
            facility_types=facility_types,
            tiles=tiles,
            tiles_attribution=tiles_attribution,
            synthetic=synthetic,
        )
        if differ and facility_types:
            _differ_layer(m, panels, differ, facility_types[0])
        # move the map from its own page onto the comparison page, in its column
        # (folium renders width[0] + width[1] as CSS, so a calc() expression fits in)
        m._parent = None  # type: ignore[assignment]
        m.position = "absolute"
        m.width = (f"calc({width:.4f}% - 2px)", "")  # type: ignore[assignment]
        m.left = (f"calc({i * width:.4f}% + {1 if i else 0}px)", "")  # type: ignore[assignment]
        m.top = (_HEADER_PX, "px")
        m.height = (f"calc(100% - {_HEADER_PX}px)", "")  # type: ignore[assignment]
        fig.add_child(m, name=f"compare_map_{i}")
        maps.append(m)
        headers.append(
            f'<div class="compare-name" style="position:absolute;top:0;left:{i * width:.4f}%;'
            f"width:{width:.4f}%;height:{_HEADER_PX}px;line-height:{_HEADER_PX}px;"
            f"text-align:center;font-family:{_FONT};font-size:16px;font-weight:bold;"
            f'background:#f4f6f8;border-bottom:1px solid #ccd;overflow:hidden">'
            f"方案{i + 1}：{_esc(name)}</div>"
        )
    fig.add_child(_SyncMaps(maps), name="sync_maps")
    fig.header.add_child(
        Element(
            "<style>html body .leaflet-container{background:#ffffff;font-family:"
            + _FONT
            + "}.plan-symbol{background:none;border:none}"
            ".leaflet-control-layers{font-family:" + _FONT + ";font-size:13px}</style>"
        ),
        name="plan_style",
    )
    badge = "（合成数据）" if synthetic else ""
    fig.html.add_child(Element("".join(headers)), name="compare_names")
    legend = _legend_html(facility_types, synthetic, tiles)
    extra = (
        f'<div style="margin-top:4px"><span style="display:inline-block;width:12px;height:12px;'
        f'border:3px solid {DIFFER_COLOUR};box-sizing:border-box"></span> '
        "各方案间管辖不同的乡镇（红框）</div><div>拖动或缩放任一地图，其他地图同步</div>"
    )
    assert legend.endswith("</div>")
    fig.html.add_child(Element(legend[: -len("</div>")] + extra + "</div>"), name="plan_legend")
    fig.title = html.escape(f"{title}{badge}", quote=True)
    fig._plan_seed = title + "|" + "|".join(str(p[0]) for p in panels)  # type: ignore[attr-defined]
    _stabilise_ids(fig)
    logger.info("comparison map %r: %d panels, %d townships outlined", title, n, len(differ))
    return fig


class InlineMap:
    """A map shown in a notebook as the same self-contained page :func:`save_map` writes.

    Folium's own notebook display loads Leaflet from a CDN, which an office network may block;
    this one inlines it, so the map shows with no network.
    """

    def __init__(self, m: folium.Map | Figure, *, height: int = 600) -> None:
        self.m = m
        self.height = height

    def _repr_html_(self) -> str:
        page = _fill_data(self.m, _inline_assets(_render(self.m)))
        return (
            f'<iframe srcdoc="{html.escape(page, quote=True)}" width="100%" '
            f'height="{self.height}" style="border:none"></iframe>'
        )


def inline(m: folium.Map | Figure, *, height: int = 600) -> InlineMap:
    """Return an object that shows ``m`` in a notebook with no network.

    Parameters
    ----------
    m
        A map from :func:`plan_map` or a page from :func:`compare_map`.
    height
        Height of the frame in pixels.

    Returns
    -------
    InlineMap
        Displayed by Jupyter through its ``_repr_html_``.
    """
    return InlineMap(m, height=height)
