"""The comparison charts: Chinese, in a CJK font from the machine, with no overlapping text."""

from __future__ import annotations

from itertools import combinations
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from optimizer.outputs import charts

TYPES = ("police_station", "judicial_office", "court")
# today's counts of the synthetic province, and what three scenarios keep
BEFORE = {"police_station": 4564, "judicial_office": 4536, "court": 960}
KEPT = {
    "基准方案（压减35%）": (2723, 3062, 832),
    "压减40%": (2710, 3062, 832),
    "压减35%，30公里上限": (2741, 3062, 835),
}


def _plan(name: str, kept: tuple[int, ...], seed: int) -> Any:
    rng = np.random.default_rng(seed)
    tw = {}
    for t in TYPES:
        tw[f"distance_before_km__{t}"] = rng.gamma(2.0, 2.0, 3101)
        tw[f"distance_km__{t}"] = rng.gamma(2.2, 2.4, 3101)
    metrics = {
        t: SimpleNamespace(
            before=SimpleNamespace(count=BEFORE[t]),
            after=SimpleNamespace(count=k),
            reduction=1 - k / BEFORE[t],
        )
        for t, k in zip(TYPES, kept, strict=True)
    }
    return SimpleNamespace(
        policy=SimpleNamespace(name=name),
        townships=pd.DataFrame(tw),
        metrics=metrics,
        types=TYPES,
        synthetic=True,
    )


@pytest.fixture(scope="module")
def plans() -> list[Any]:
    return [_plan(n, k, i) for i, (n, k) in enumerate(KEPT.items())]


def _texts(fig: Any) -> list[Any]:
    from matplotlib.text import Text

    fig.canvas.draw()
    return [
        t
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and t.get_window_extent().width > 0
    ]


def _overlaps(fig: Any) -> list[tuple[str, str]]:
    renderer = fig.canvas.get_renderer()
    boxes = [(t.get_text(), t.get_window_extent(renderer)) for t in _texts(fig)]
    return [(a, b) for (a, ba), (b, bb) in combinations(boxes, 2) if ba.overlaps(bb)]


needs_cjk = pytest.mark.skipif(
    charts.cjk_font() is None, reason="no CJK font (apt-get install fonts-wqy-microhei)"
)


@needs_cjk
@pytest.mark.parametrize("which", ["distance", "kept"])
def test_chart_is_chinese_in_a_cjk_font_and_nothing_overlaps(which: str, plans: list[Any]) -> None:
    from matplotlib import font_manager

    fig = charts.distance_chart(plans) if which == "distance" else charts.kept_chart(plans)
    texts = _texts(fig)
    words = " ".join(t.get_text() for t in texts)
    for name in KEPT:  # the scenarios' own names, wrapped but complete
        assert name in words.replace("\n", "")
    assert "调整前" in words and "合成数据" in words
    assert ("距离" if which == "distance" else "保留的机构数量") in words
    cjk = charts.cjk_font()
    for t in texts:
        if any("\u4e00" <= ch <= "\u9fff" for ch in t.get_text()):
            path = font_manager.findfont(t.get_fontproperties(), fallback_to_default=False)
            assert font_manager.get_font(path).family_name == cjk, (t.get_text(), path)
    assert _overlaps(fig) == []


@needs_cjk
def test_legend_hides_no_bar(plans: list[Any]) -> None:
    from matplotlib.patches import Rectangle

    fig = charts.kept_chart(plans)
    fig.canvas.draw()
    legend = fig.legends[0].get_window_extent()
    ax = fig.axes[0]
    bars = [p for p in ax.patches if isinstance(p, Rectangle)]
    assert len(bars) == 3 * (len(KEPT) + 1)
    assert not any(b.get_window_extent().overlaps(legend) for b in bars)
    assert not legend.overlaps(ax.get_window_extent())


def test_write_charts_writes_png(plans: list[Any], tmp_path: Path) -> None:
    from PIL import Image

    names = charts.write_charts(plans, tmp_path)
    assert names == ["chart_distance.png", "chart_kept.png"]
    for n in names:
        with Image.open(tmp_path / n) as img:
            assert img.size[0] >= 700 and img.size[1] >= 500
