"""Charts for slides: how far people live from their station, and how many stations stay.

Drawn with matplotlib's Agg backend (no display needed) through the object API, so nothing
touches pyplot's global state. Labels are Chinese when a CJK font is installed (Debian:
``fonts-wqy-microhei``; Windows: Microsoft YaHei) and English otherwise, so a machine without
one gets readable English rather than empty boxes; scenario names that are not plain ASCII are
then shown as ``S1``, ``S2`` … with the mapping in the chart's note.
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
    "Source Han Sans SC",
    "Microsoft YaHei",
    "SimHei",
    "PingFang SC",
)
_TYPE_EN = {
    "police_station": "police stations",
    "judicial_office": "judicial offices",
    "court": "courts",
}
_BEFORE_COLOUR = "#9e9e9e"
_COLOURS = ("#1f4e9c", "#e6550d", "#31a354", "#756bb1", "#636363", "#d6616b")


@functools.cache
def cjk_font() -> str | None:
    """Return the name of an installed font with Chinese glyphs, or ``None``.

    Returns
    -------
    str or None
        The first of :data:`CJK_FONTS` that matplotlib can find.
    """
    from matplotlib import font_manager

    installed = {f.name for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in installed:
            return name
    logger.info("no CJK font found (install fonts-wqy-microhei): charts get English labels")
    return None


def _rc() -> dict[str, Any]:
    font = cjk_font()
    family = [font, "DejaVu Sans"] if font else ["DejaVu Sans"]
    return {"font.family": family, "axes.unicode_minus": False, "svg.hashsalt": "optimizer"}


def _labels(plans: Sequence[Plan], zh: bool) -> tuple[list[str], str]:
    names = [p.policy.name for p in plans]
    if zh or all(n.isascii() for n in names):
        return names, ""
    short = [f"S{i}" for i in range(1, len(names) + 1)]
    note = "; ".join(f"S{i}: scenario {i}" for i in range(1, len(names) + 1))
    return short, note


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


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
        fig = _new_figure(max(6.0, 1.4 * len(data) + 2), 4.5)
        ax = fig.add_subplot()
        box = ax.boxplot(
            data,
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
            ax.set_title(f"乡镇驻地到{label}的距离（各乡镇，菱形为平均值）")
            ax.set_ylabel("距离（公里）")
        else:
            ax.set_title(f"Distance from township seat to {label} (diamond: mean)")
            ax.set_ylabel("distance (km)")
        ax.grid(axis="y", alpha=0.3)
        if note:
            fig.text(0.01, 0.01, note, fontsize=7)
    return fig


def kept_chart(plans: Sequence[Plan]) -> Figure:
    """Bar chart of facilities kept per scenario and type, with today's count as a line.

    Parameters
    ----------
    plans
        The compared plans.

    Returns
    -------
    matplotlib.figure.Figure
        Grouped bars (one group per scenario), the reduction written above each bar.
    """
    import matplotlib as mpl

    zh = cjk_font() is not None
    names, note = _labels(plans, zh)
    types = list(plans[0].types)
    with mpl.rc_context(_rc()):  # type: ignore[arg-type]
        fig = _new_figure(max(6.0, 1.3 * len(plans) + 2), 4.5)
        ax = fig.add_subplot()
        x = np.arange(len(plans))
        w = 0.8 / len(types)
        for k, t in enumerate(types):
            kept = [p.metrics[t].after.count for p in plans]
            before = plans[0].metrics[t].before.count
            label = FACILITY_LABELS_ZH.get(t, t) if zh else _TYPE_EN.get(t, t)
            bars = ax.bar(x + k * w - 0.4 + w / 2, kept, w, label=label, color=_COLOURS[k])
            for b, p in zip(bars, plans, strict=True):
                red = p.metrics[t].reduction
                ax.annotate(
                    f"{b.get_height():.0f}\n(-{red:.1%})",
                    (b.get_x() + b.get_width() / 2, b.get_height()),
                    ha="center",
                    va="bottom",
                    fontsize=8,
                )
            ax.axhline(before, color=_BEFORE_COLOUR, linestyle="--", linewidth=1)
            ax.annotate(
                f"{'调整前' if zh else 'today'} {before}",
                (x[-1] + 0.4, before),
                ha="right",
                va="bottom",
                fontsize=8,
                color="#555555",
            )
        ax.set_xticks(x, names)
        ax.set_ylim(0, max(p.metrics[t].before.count for p in plans for t in types) * 1.15)
        ax.set_title("各方案保留的机构数量" if zh else "Facilities kept per scenario")
        ax.set_ylabel("数量" if zh else "count")
        ax.legend(loc="lower right")
        if note:
            fig.text(0.01, 0.01, note, fontsize=7)
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
    synthetic = any(p.synthetic for p in plans)
    mark = (
        "合成数据，非真实机构 / SYNTHETIC data"
        if cjk_font()
        else "SYNTHETIC data, not real facilities"
    )
    with mpl.rc_context(_rc()):  # type: ignore[arg-type]
        for name, fig in (
            ("chart_distance.png", distance_chart(plans, plans[0].types[0])),
            ("chart_kept.png", kept_chart(plans)),
        ):
            if synthetic:  # synthetic data is labelled wherever it appears, slides included
                fig.text(0.99, 0.005, mark, ha="right", va="bottom", fontsize=8, color="#c0392b")
            fig.savefig(d / name, metadata=meta)
            names.append(name)
    return names
