"""Charts for slides: how far people live from their facility, and how many facilities stay.

Drawn with matplotlib's Agg backend (no display needed) through the object API, so nothing
touches pyplot's global state. Titles, labels and scenario names are Chinese, in a CJK font
found on the machine (WenQuanYi Micro Hei, Noto Sans CJK, Source Han Sans, Microsoft YaHei,
SimHei, PingFang; font files in the usual system folders are registered if matplotlib's cache
missed them). Without one, the charts fall back to English labels with a note saying which font
to install, and scenario names that need one become ``S1``, ``S2`` ….

Layout keeps every label readable: today's counts are a bar group of their own (not lines that
can collide), the legend sits above the axes, long scenario names wrap, and the synthetic-data
mark is a figure label the layout makes room for.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from optimizer.schema import FACILITY_LABELS_ZH

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from optimizer.report.plan import Plan

__all__ = ["cjk_font", "distance_chart", "kept_chart", "write_charts"]

logger = logging.getLogger(__name__)

#: CJK fonts looked for, in order of preference.
CJK_FONTS: tuple[str, ...] = (
    "WenQuanYi Micro Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
)
#: File name parts of CJK font files registered when matplotlib's font cache lacks them.
_CJK_FILES = ("wqy", "notosanscjk", "notoserifcjk", "sourcehansans", "msyh", "simhei", "pingfang")
#: The note a chart carries when no CJK font is installed.
NO_CJK_NOTE = (
    "no Chinese font found: install fonts-wqy-microhei or fonts-noto-cjk for Chinese labels"
)
_TYPE_EN = {
    "police_station": "police stations",
    "judicial_office": "judicial offices",
    "court": "courts",
}
_BEFORE_COLOUR = "#9e9e9e"
_COLOURS = ("#1f4e9c", "#31a354", "#7b2d8e", "#e6550d", "#636363", "#d6616b")
_NAME_WRAP = 10  # characters per line of a scenario name under its bar group or box


@functools.cache
def cjk_font() -> str | None:
    """Return the name of an installed font with Chinese glyphs, or ``None``.

    Looks in matplotlib's font list first, then registers CJK font files found in the system
    font folders (a font installed after matplotlib built its cache).

    Returns
    -------
    str or None
        The first of :data:`CJK_FONTS` that matplotlib can use.
    """
    from matplotlib import font_manager

    def pick() -> str | None:
        installed = {f.name for f in font_manager.fontManager.ttflist}
        return next((name for name in CJK_FONTS if name in installed), None)

    found = pick()
    if found is None:
        for path in font_manager.findSystemFonts():
            if any(k in Path(path).name.lower().replace("-", "") for k in _CJK_FILES):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # pragma: no cover - broken file
                    continue
        found = pick()
    if found is None:
        logger.warning("%s; the charts get English labels", NO_CJK_NOTE)
    return found


def _rc() -> dict[str, Any]:
    font = cjk_font()
    family = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    return {"font.family": family, "axes.unicode_minus": False, "svg.hashsalt": "optimizer"}


def _wrap(name: str, width: int = _NAME_WRAP) -> str:
    """Break a scenario name into lines of at most ``width`` characters.

    Chinese has no spaces: a line ends after a comma or before an opening bracket when one lies
    in the line, so that ``基准方案（压减35%）`` becomes ``基准方案`` / ``（压减35%）``.
    """
    lines, rest = [], name.strip()
    while len(rest) > width:
        head = rest[: width + 1]
        cut = max(head.rfind("，"), head.rfind(","), head.rfind(" "))
        cut = cut + 1 if cut > 0 else max(head.rfind("（"), head.rfind("("))
        if cut <= 0:
            cut = width
        lines.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    return "\n".join([*lines, rest])


def _labels(plans: Sequence[Plan], zh: bool) -> tuple[list[str], str]:
    """Return the scenarios' names as the charts show them, and a note when they were replaced."""
    names = [str(p.policy.name) for p in plans]
    if zh or all(n.isascii() for n in names):
        return [_wrap(n) for n in names], ""
    return [f"S{i}" for i in range(1, len(names) + 1)], NO_CJK_NOTE


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _footer(fig: Figure, note: str, synthetic: bool, zh: bool) -> None:
    """Put the notes under the plot, where the layout makes room for them."""
    parts = []
    if synthetic:
        parts.append("合成数据，非真实机构 / SYNTHETIC data" if zh else "SYNTHETIC data, not real")
    if note:
        parts.append(note)
    if parts:
        fig.supxlabel("；".join(parts) if zh else "; ".join(parts), fontsize=8, color="#c0392b")


def distance_chart(plans: Sequence[Plan], facility_type: str = "police_station") -> Figure:
    """Box plot of the township-to-facility distance: today, then each scenario.

    Parameters
    ----------
    plans
        The compared plans.
    facility_type
        Which facility type.

    Returns
    -------
    matplotlib.figure.Figure
        One box per scenario (plus today's on the left), means marked with a diamond.
    """
    import matplotlib as mpl

    zh = cjk_font() is not None
    names, note = _labels(plans, zh)
    t = facility_type
    before = plans[0].townships[f"distance_before_km__{t}"].to_numpy(dtype=float)
    data = [before] + [p.townships[f"distance_km__{t}"].to_numpy(dtype=float) for p in plans]
    labels = ["调整前" if zh else "today"] + names
    with mpl.rc_context(_rc()):  # type: ignore[arg-type]
        fig = _new_figure(max(6.4, 1.5 * len(data) + 2), 4.8)
        ax = fig.add_subplot()
        box = ax.boxplot(
            [d[np.isfinite(d)] for d in data],
            tick_labels=labels,
            showmeans=True,
            patch_artist=True,
            meanprops={"marker": "D", "markerfacecolor": "white", "markeredgecolor": "black"},
            flierprops={"marker": ".", "markersize": 4, "alpha": 0.5},
        )
        for i, patch in enumerate(box["boxes"]):
            patch.set_facecolor(_BEFORE_COLOUR if i == 0 else _COLOURS[(i - 1) % len(_COLOURS)])
            patch.set_alpha(0.6)
        label = FACILITY_LABELS_ZH.get(t, t) if zh else _TYPE_EN.get(t, t)
        if zh:
            ax.set_title(f"乡镇驻地到{label}的距离（每个乡镇一个值，菱形为平均值）")
            ax.set_ylabel("距离（公里）")
        else:
            ax.set_title(f"Distance from township seat to {label} (diamond: mean)")
            ax.set_ylabel("distance (km)")
        ax.grid(axis="y", alpha=0.3)
        _footer(fig, note, any(p.synthetic for p in plans), zh)
    return fig


def _type_label(t: str, zh: bool) -> str:
    return FACILITY_LABELS_ZH.get(t, t) if zh else _TYPE_EN.get(t, t)


def kept_chart(plans: Sequence[Plan]) -> Figure:
    """Bar chart of the facilities of each type: today, then kept in each scenario.

    Parameters
    ----------
    plans
        The compared plans.

    Returns
    -------
    matplotlib.figure.Figure
        Grouped bars (today's group first, then one per scenario), each labelled with its count
        and, for the scenarios, the reduction; the legend above the axes.
    """
    import matplotlib as mpl
    from matplotlib.patches import Patch

    zh = cjk_font() is not None
    names, note = _labels(plans, zh)
    types = list(plans[0].types)
    groups = ["调整前" if zh else "today", *names]
    with mpl.rc_context(_rc()):  # type: ignore[arg-type]
        fig = _new_figure(max(6.4, (0.55 * len(types) + 0.5) * len(groups) + 1.5), 5.0)
        ax = fig.add_subplot()
        x = np.arange(len(groups))
        w = 0.8 / len(types)
        top = 0
        for k, t in enumerate(types):
            counts = [plans[0].metrics[t].before.count] + [p.metrics[t].after.count for p in plans]
            cuts = [None] + [p.metrics[t].reduction for p in plans]
            label = _type_label(t, zh)
            colours = [_BEFORE_COLOUR] + [_COLOURS[k % len(_COLOURS)]] * len(plans)
            bars = ax.bar(x + k * w - 0.4 + w / 2, counts, w * 0.92, label=label, color=colours)
            bars[0].set_edgecolor(_COLOURS[k % len(_COLOURS)])
            bars[0].set_linewidth(1.5)
            texts = [
                f"{c:,}" if cut is None else f"{c:,}\n−{cut:.0%}"
                for c, cut in zip(counts, cuts, strict=True)
            ]
            ax.bar_label(bars, texts, padding=2, fontsize=7.5, linespacing=1.1)
            top = max(top, *counts)
        ax.set_xticks(x, groups)
        ax.set_ylim(0, top * 1.22)
        ax.set_title(
            "各方案保留的机构数量（灰色为调整前）"
            if zh
            else "Facilities kept per scenario (grey: today)"
        )
        ax.set_ylabel("数量（个）" if zh else "count")
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        handles = [
            Patch(facecolor=_COLOURS[k % len(_COLOURS)], label=_type_label(t, zh))
            for k, t in enumerate(types)
        ]
        fig.legend(
            handles=handles, loc="outside upper right", ncols=len(types), frameon=False, fontsize=9
        )
        _footer(fig, note, any(p.synthetic for p in plans), zh)
    return fig


def write_charts(plans: Sequence[Plan], d: Path) -> list[str]:
    """Write ``chart_distance.png`` (first facility type) and ``chart_kept.png`` into ``d``.

    Parameters
    ----------
    plans
        The compared plans.
    d
        Target folder.

    Returns
    -------
    list of str
        File names written.
    """
    import matplotlib as mpl

    names = []
    meta = {"Software": None}
    with mpl.rc_context(_rc()):  # type: ignore[arg-type]
        for name, fig in (
            ("chart_distance.png", distance_chart(plans, plans[0].types[0])),
            ("chart_kept.png", kept_chart(plans)),
        ):
            fig.savefig(d / name, metadata=meta)
            names.append(name)
    return names
