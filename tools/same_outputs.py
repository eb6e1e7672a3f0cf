"""Compare two `optimizer plan` output folders: the same plan, timing fields aside.

Used to show that a refactoring keeps behaviour::

    python tools/same_outputs.py OLD_DIR NEW_DIR

Compares plan.json (keys named in ``TIMING_KEYS`` removed at every depth), every CSV byte for
byte, every cell of every sheet of plan.xlsx, and every layer of jurisdictions.gpkg (attributes
and geometry as WKB). Prints one line per difference and exits 1 when there is any.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import geopandas as gpd
import openpyxl
import pyogrio

#: Keys whose values are wall-clock measurements and may differ between runs.
TIMING_KEYS = {"seconds", "timing", "stage_seconds", "time_budget"}


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in TIMING_KEYS}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _diff_json(a: Any, b: Any, path: str, out: list[str]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            if key not in a or key not in b:
                out.append(f"{path}.{key}: only in {'new' if key in b else 'old'}")
            else:
                _diff_json(a[key], b[key], f"{path}.{key}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} items before, {len(b)} after")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            _diff_json(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: {a!r} -> {b!r}")


def _workbook_cells(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    book = openpyxl.load_workbook(path, read_only=True)
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}


def compare(old: Path, new: Path) -> list[str]:
    """Return the differences between two output folders, one line each."""
    out: list[str] = []
    if (old / "plan.json").exists():
        a = _strip(json.loads((old / "plan.json").read_text(encoding="utf-8")))
        b = _strip(json.loads((new / "plan.json").read_text(encoding="utf-8")))
        _diff_json(a, b, "plan.json", out)
    for csv in sorted(old.glob("*.csv")):
        if csv.read_bytes() != (new / csv.name).read_bytes():
            out.append(f"{csv.name}: bytes differ")
    for book in sorted(old.glob("*.xlsx")):
        a_cells, b_cells = _workbook_cells(book), _workbook_cells(new / book.name)
        if list(a_cells) != list(b_cells):
            out.append(f"{book.name}: sheets {list(a_cells)} -> {list(b_cells)}")
        for sheet, rows in a_cells.items():
            if b_cells.get(sheet) != rows:
                out.append(f"{book.name}[{sheet}]: cells differ")
    for gpkg in sorted(old.glob("*.gpkg")):
        layers = [name for name, _ in pyogrio.list_layers(gpkg)]
        new_layers = [name for name, _ in pyogrio.list_layers(new / gpkg.name)]
        if layers != new_layers:
            out.append(f"{gpkg.name}: layers {layers} -> {new_layers}")
            continue
        for layer in layers:
            a_df = gpd.read_file(gpkg, layer=layer)
            b_df = gpd.read_file(new / gpkg.name, layer=layer)
            a_wkb, b_wkb = a_df.geometry.to_wkb(), b_df.geometry.to_wkb()
            a_attr = a_df.drop(columns=a_df.geometry.name)
            b_attr = b_df.drop(columns=b_df.geometry.name)
            if not (a_attr.equals(b_attr) and list(a_wkb) == list(b_wkb)):
                out.append(f"{gpkg.name}[{layer}]: features differ")
    return out


def main() -> int:
    """Compare the two folders named on the command line."""
    old, new = Path(sys.argv[1]), Path(sys.argv[2])
    differences = compare(old, new)
    for line in differences:
        print(line)
    print(f"{old} vs {new}: {'same' if not differences else f'{len(differences)} differences'}")
    return 1 if differences else 0


if __name__ == "__main__":
    raise SystemExit(main())
