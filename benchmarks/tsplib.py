"""Load the TSPLIB p-median instances as dense (or k-nearest sparse) cost matrices.

The files ``*.tsp`` (TSPLIB95, ``EDGE_WEIGHT_TYPE: EUC_2D``, ``NODE_COORD_SECTION`` of
``id x y`` lines) and ``optimal.csv`` (``instance,n,p,optimum,published_seconds``) live outside
the repository, in ``../shared/benchmarks/tsplib`` relative to the repository root. As p-median
instances every node is a client of weight 1 and a candidate site, and the cost between two
nodes is their Euclidean distance rounded DOWN (the convention of Duran-Mateluna, Ales & Elloumi
2023, whose optima ``optimal.csv`` holds; TSPLIB's own tour convention rounds to nearest).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TSPLIB_DIR = REPO_ROOT.parent / "shared" / "benchmarks" / "tsplib"


class TsplibDataMissing(SystemExit):
    """The TSPLIB folder is not where it was looked for (exits with a clear message)."""


@dataclass(frozen=True)
class Row:
    """One line of ``optimal.csv``: an instance and p with its proven optimum."""

    instance: str
    n: int
    p: int
    optimum: int
    published_seconds: float

    @property
    def key(self) -> str:
        return f"{self.instance}-p{self.p}"


def check_dir(tsplib_dir: Path | str | None = None) -> Path:
    """Return the TSPLIB folder, or stop with a message saying where it was expected."""
    d = Path(tsplib_dir) if tsplib_dir else DEFAULT_TSPLIB_DIR
    if not (d / "optimal.csv").is_file():
        raise TsplibDataMissing(
            f"TSPLIB p-median data not found in {d} (need optimal.csv and the *.tsp files). It "
            "lives outside the repository, by default in ../shared/benchmarks/tsplib relative "
            "to the repository root; pass --tsplib-dir DIR."
        )
    return d


def table(tsplib_dir: Path | str | None = None) -> list[Row]:
    """Read ``optimal.csv`` in file order."""
    d = check_dir(tsplib_dir)
    with open(d / "optimal.csv", newline="") as fh:
        return [
            Row(
                r["instance"],
                int(r["n"]),
                int(r["p"]),
                int(r["optimum"]),
                float(r["published_seconds"]),
            )
            for r in csv.DictReader(fh)
        ]


def coordinates(name: str, tsplib_dir: Path | str | None = None) -> np.ndarray:
    """Return the ``n × 2`` node coordinates of ``name.tsp`` (EUC_2D)."""
    path = check_dir(tsplib_dir) / f"{name}.tsp"
    if not path.is_file():
        raise TsplibDataMissing(f"{path} does not exist")
    xy: list[tuple[float, float]] = []
    in_coords = False
    for line in path.read_text().splitlines():
        s = line.strip()
        if s.startswith("EDGE_WEIGHT_TYPE") and "EUC_2D" not in s:
            raise ValueError(f"{path}: only EUC_2D is supported, got {s!r}")
        if s == "NODE_COORD_SECTION":
            in_coords = True
            continue
        if not in_coords or not s or s == "EOF":
            continue
        parts = s.split()
        xy.append((float(parts[1]), float(parts[2])))
    return np.asarray(xy, dtype=np.float64)


def dense_costs(xy: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """Return the ``n × n`` matrix of floor(Euclidean distance), built row block by row block."""
    n = len(xy)
    out = np.empty((n, n), dtype=dtype)
    step = max(1, 4_000_000 // max(n, 1))
    for a in range(0, n, step):
        d = np.hypot(
            xy[a : a + step, None, 0] - xy[None, :, 0], xy[a : a + step, None, 1] - xy[None, :, 1]
        )
        out[a : a + step] = np.floor(d)
    return out
