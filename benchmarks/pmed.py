"""Load the OR-Library p-median instances (J.E. Beasley 1990) as dense cost matrices.

Each file ``pmedK.txt`` starts with ``n m p`` and then lists ``m`` undirected edges ``i j cost``
(1-based). Where an edge appears more than once, the LAST occurrence stands. The cost between two
vertices is the shortest-path length over this graph; every vertex is both a client (weight 1) and
a candidate site. ``optimal.txt`` holds the proven optimal objective of each instance.

The data lives outside the repository, in ``../shared/benchmarks/pmed`` relative to the repository
root; pass another folder with ``--pmed-dir`` to :mod:`run` (or ``pmed_dir=`` here).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import shortest_path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PMED_DIR = REPO_ROOT.parent / "shared" / "benchmarks" / "pmed"
ALL_INSTANCES = [f"pmed{k}" for k in range(1, 41)]


class PmedDataMissing(SystemExit):
    """The OR-Library folder is not where it was looked for (exits with a clear message)."""


@dataclass(frozen=True)
class Instance:
    name: str
    n: int
    p: int
    costs: np.ndarray  # n x n shortest-path lengths (float64)
    optimum: int | None  # from optimal.txt


def check_dir(pmed_dir: Path | str | None = None) -> Path:
    """Return the pmed folder, or stop with a message saying where it was expected."""
    d = Path(pmed_dir) if pmed_dir else DEFAULT_PMED_DIR
    if not (d / "pmed1.txt").is_file() or not (d / "optimal.txt").is_file():
        raise PmedDataMissing(
            f"OR-Library p-median data not found in {d} (need pmed1.txt ... pmed40.txt and "
            "optimal.txt). It lives outside the repository, by default in "
            "../shared/benchmarks/pmed relative to the repository root; pass --pmed-dir DIR."
        )
    return d


def optimal_values(pmed_dir: Path | str | None = None) -> dict[str, int]:
    """Read ``optimal.txt`` (a header line, then ``pmedK value`` lines)."""
    d = check_dir(pmed_dir)
    out: dict[str, int] = {}
    for line in (d / "optimal.txt").read_text().splitlines():
        m = re.match(r"\s*(pmed\d+)\s+(\d+)\s*$", line)
        if m:
            out[m.group(1)] = int(m.group(2))
    return out


def read_graph(path: Path) -> tuple[int, int, dict[tuple[int, int], float]]:
    """Return ``n``, ``p`` and the edge costs (0-based, ``i < j``; the last duplicate wins)."""
    tokens = path.read_text().split()
    n, m, p = int(tokens[0]), int(tokens[1]), int(tokens[2])
    vals = np.asarray(tokens[3 : 3 + 3 * m], dtype=np.float64).reshape(m, 3)
    if len(vals) != m:
        raise ValueError(f"{path}: header says {m} edges, found {len(vals)}")
    edges: dict[tuple[int, int], float] = {}
    for i, j, c in vals:
        a, b = int(i) - 1, int(j) - 1
        if a == b:
            continue
        edges[(min(a, b), max(a, b))] = float(c)  # later lines overwrite earlier ones
    return n, p, edges


def all_pairs(n: int, edges: dict[tuple[int, int], float]) -> np.ndarray:
    """Dense matrix of shortest-path lengths over the undirected graph."""
    ij = np.array(list(edges.keys()), dtype=np.int64).reshape(-1, 2)
    c = np.array(list(edges.values()), dtype=np.float64)
    g = coo_matrix((c, (ij[:, 0], ij[:, 1])), shape=(n, n)).tocsr()
    d = shortest_path(g, method="D", directed=False)
    if not np.isfinite(d).all():
        raise ValueError("graph is not connected")
    return d


def load(name: str, pmed_dir: Path | str | None = None) -> Instance:
    """Load one instance: its dense cost matrix, ``p`` and the known optimum."""
    d = check_dir(pmed_dir)
    path = d / f"{name}.txt"
    if not path.is_file():
        raise PmedDataMissing(f"{path} does not exist")
    n, p, edges = read_graph(path)
    return Instance(name, n, p, all_pairs(n, edges), optimal_values(d).get(name))


def header(name: str, pmed_dir: Path | str | None = None) -> tuple[int, int]:
    """``(n, p)`` of an instance without building its matrix."""
    with open(check_dir(pmed_dir) / f"{name}.txt") as f:
        n, _m, p = (int(t) for t in f.readline().split()[:3])
    return n, p


if __name__ == "__main__":  # quick self-check: python benchmarks/pmed.py [pmed-dir]
    import sys

    pd = sys.argv[1] if len(sys.argv) > 1 else None
    for nm in ALL_INSTANCES:
        inst = load(nm, pd)
        print(nm, inst.n, inst.p, inst.optimum, inst.costs.shape)
