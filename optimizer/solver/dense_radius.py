r"""The radius MIP of a dense pure p-median, built with numpy and solved by HiGHS directly.

The large-p regime of the p-median (many open sites, every client close to one) has a tight LP
bound: the radius (distance-level) formulation of Elloumi (2010) closes it at or near the root,
while the Lagrangian tree (:mod:`optimizer.solver.lagrangian`), whose subgradient bound stops a
few units short of the LP value, needs thousands of nodes. This module builds that formulation
for a dense cost matrix with vectorised numpy (no per-client Python loop, no modelling layer):

.. math::

    \min \sum_i \Big(D_i^0 + \sum_{k=0}^{d_i-1} (D_i^{k+1}-D_i^k) z_i^k\Big)
    \quad\text{s.t.}\quad z_i^k \ge z_i^{k-1} - \sum_{j: c_{ij} = D_i^k} y_j,\ z_i^{-1} = 1,
    \quad \sum_j y_j = p,

with :math:`D_i^k` the distinct (weighted) costs of client *i*, :math:`y_j` binary and
:math:`z_i^k \ge 0`. Every site is allowed for every client, so the covering rows of the sparse
model are implied by :math:`\sum_j y_j = p \ge 1` and left out.

Exactness of the truncation (García, Labbé & Marín 2011): client *i* is modelled only down to
its level :math:`d_i` (the start plan's level plus a margin); beyond it the model charges
:math:`D_i^{d_i}`, a lower bound of its true cost, so the truncated model is a relaxation.
When its optimum serves every client within its modelled levels, it is optimal for the full
problem; otherwise those clients get all their levels and the model is solved again.

Sites that the Lagrangian root's reduced costs proved cannot be in a better plan than the start
are left out (reduced-cost fixing): the bound of every plan that opens one of them is at least
the start's cost (less the tolerance), so the model's bound over the others, capped by the
start's cost, is a bound of the whole problem.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizer.solver.highs import quiet_stdout

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DenseRadiusResult:
    """What :func:`solve_dense_radius` returns.

    Attributes
    ----------
    status
        ``"optimal"`` (proven within the tolerance), ``"time_limit"`` or ``"error"``.
    open_sites
        The best plan found (column indices of the full matrix).
    objective
        Its cost on the full matrix.
    bound
        The proven lower bound.
    rounds
        Models solved (one more per widening of the levels).
    size
        Variables, constraints and nonzeros of the last model.
    """

    status: str
    open_sites: list[int]
    objective: float
    bound: float
    rounds: int
    size: tuple[int, int, int]


@dataclass
class Levels:
    """Each client's sorted sites, level index per position and distinct level costs."""

    order: np.ndarray  # clients × sites: site columns, cheapest first
    level: np.ndarray  # clients × sites: level index of each sorted position
    n_levels: np.ndarray  # per client
    offset: np.ndarray  # per client: start of its levels in ``costs``
    costs: np.ndarray  # all clients' distinct level costs, concatenated


def _levels(costs: np.ndarray) -> Levels:
    """Sort every row once and number its distinct costs."""
    order = np.argsort(costs, axis=1, kind="stable")
    return levels_sorted(order, np.take_along_axis(costs, order, axis=1))


def levels_sorted(order: np.ndarray, ordered: np.ndarray) -> Levels:
    """Return the levels of rows already sorted (each ``ordered[i]`` ascending)."""
    step = np.zeros(ordered.shape, dtype=bool)
    step[:, 1:] = np.diff(ordered, axis=1) > 0
    level = np.cumsum(step, axis=1, dtype=np.int32)
    n_levels = level[:, -1].astype(np.int64) + 1
    first = step
    first[:, 0] = True
    level_costs = ordered[first]  # row-major: client by client, cheapest first
    offset = np.concatenate([[0], np.cumsum(n_levels)[:-1]])
    return Levels(order.astype(np.int32), level, n_levels, offset, level_costs)


def level_of(lv: Levels, values: np.ndarray) -> np.ndarray:
    """Return the level index of each client's cost ``values[i]``."""
    out = np.empty(len(values), dtype=np.int64)
    for i, c in enumerate(values.tolist()):
        lo, hi = lv.offset[i], lv.offset[i] + lv.n_levels[i]
        out[i] = int(np.searchsorted(lv.costs[lo:hi], c - 1e-9 * max(1.0, abs(c))))
    return out


def _build(
    lv: Levels, depth: np.ndarray, n_sites: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Return the model's CSR rows (starts, columns, values), its column costs and constant.

    Columns: the ``n_sites`` y first, then each client's z in order. Rows: each client's
    ``depth[i]`` level rows, then the count row.
    """
    n_clients = len(depth)
    z_start = n_sites + np.concatenate([[0], np.cumsum(depth)[:-1]])
    n_z = int(depth.sum())
    # y entries: positions whose level is modelled (level < depth)
    keep = lv.level < depth[:, None]
    ci, pos = np.nonzero(keep)
    y_row = z_start[ci] - n_sites + lv.level[ci, pos]
    y_col = lv.order[ci, pos].astype(np.int64)
    # z entries: +z_i^k in row (i, k); -z_i^{k-1} in row (i, k) for k >= 1
    zi = np.repeat(np.arange(n_clients), depth)
    zk = np.arange(n_z) - np.repeat(z_start - n_sites, depth)
    z_col = n_sites + np.arange(n_z)
    prev = zk > 0
    rows = np.concatenate([y_row, np.arange(n_z), np.flatnonzero(prev), np.full(n_sites, n_z)])
    cols = np.concatenate([y_col, z_col, z_col[prev] - 1, np.arange(n_sites)])
    vals = np.concatenate(
        [np.ones(len(y_row)), np.ones(n_z), -np.ones(int(prev.sum())), np.ones(n_sites)]
    )
    sort = np.lexsort((cols, rows))
    rows, cols, vals = rows[sort], cols[sort], vals[sort]
    starts = np.searchsorted(rows, np.arange(n_z + 2)).astype(np.int32)
    base = lv.offset[zi] + zk
    col_cost = np.concatenate([np.zeros(n_sites), lv.costs[base + 1] - lv.costs[base]])
    constant = float(lv.costs[lv.offset].sum()) if n_clients else 0.0
    return starts, cols.astype(np.int32), vals, col_cost, constant


def _start_vector(
    lv: Levels, depth: np.ndarray, n_sites: int, open_sites: list[int], reach: np.ndarray
) -> np.ndarray:
    """Return the model's column values for a plan: y from its sites, z from its levels."""
    x = np.zeros(n_sites + int(depth.sum()))
    x[open_sites] = 1.0
    z_start = n_sites + np.concatenate([[0], np.cumsum(depth)[:-1]])
    for i in np.flatnonzero(reach > 0).tolist():
        k = min(int(reach[i]), int(depth[i]))
        x[z_start[i] : z_start[i] + k] = 1.0
    return x


def _model(
    lv: Levels,
    depth: np.ndarray,
    p: int,
    n_sites: int,
    bounds: tuple[np.ndarray, np.ndarray],
    start: tuple[list[int], np.ndarray],
    *,
    options: dict[str, bool | int | float],
) -> tuple[Any, tuple[int, int, int]]:
    """Return a HiGHS instance holding one round's model and start, and the model's size.

    Parameters
    ----------
    lv, depth
        The levels and the levels modelled per client.
    p, n_sites
        Sites to open, of ``n_sites`` model columns.
    bounds
        Lower and upper bound of each site's ``y`` (fixed open: 1; closed: 0).
    start
        The start plan (model columns) and its cost per client.
    options
        HiGHS options.
    """
    import highspy

    starts, index, values, col_cost, constant = _build(lv, depth, n_sites)
    n_rows = len(starts) - 1
    with quiet_stdout():  # HiGHS prints its banner from C when the first instance is made
        h = highspy.Highs()
    for key, value in options.items():
        h.setOptionValue(key, value)
    n_cols = len(col_cost)
    upper = np.full(n_cols, np.inf)
    upper[:n_sites] = bounds[1]
    lower = np.zeros(n_cols)
    lower[:n_sites] = bounds[0]
    h.addVars(n_cols, lower, upper)
    h.changeColsCost(n_cols, np.arange(n_cols, dtype=np.int32), col_cost)
    h.changeObjectiveOffset(constant)
    row_lo = np.zeros(n_rows)
    row_up = np.full(n_rows, np.inf)
    row_lo[np.r_[0, np.cumsum(depth)[:-1]][depth > 0]] = 1.0  # z_i^0 + level-0 sites >= 1
    row_lo[-1] = row_up[-1] = float(p)
    h.addRows(n_rows, row_lo, row_up, len(index), starts[:-1], index, values)
    h.changeColsIntegrality(
        n_sites,
        np.arange(n_sites, dtype=np.int32),
        np.full(n_sites, highspy.HighsVarType.kInteger),
    )
    if start[0]:
        sol = highspy.HighsSolution()
        sol.col_value = _start_vector(lv, depth, n_sites, start[0], level_of(lv, start[1]))
        sol.value_valid = True
        h.setSolution(sol)
    return h, (n_cols, n_rows, len(index))


def solve_levels(
    lv: Levels,
    n_sites: int,
    p: int,
    start: list[int],
    serve: Callable[[list[int]], np.ndarray],
    *,
    bounds: tuple[np.ndarray, np.ndarray],
    depth: np.ndarray,
    integral: bool,
    gap: float,
    deadline: float | None,
    options: dict[str, bool | int | float],
    margin: int,
    refix: Callable[[float, list[int]], tuple[np.ndarray, np.ndarray]] | None = None,
) -> tuple[DenseRadiusResult, np.ndarray]:
    """Solve the radius model over levels ``lv`` in rounds until no client is under-costed.

    Parameters
    ----------
    lv, n_sites
        Each client's levels over ``n_sites`` model columns.
    p, start
        Sites to open and a start plan (model columns; may be empty).
    serve
        Cost per client of a plan (model columns), on the full problem.
    bounds, depth
        The sites' bounds and the first round's levels per client.
    integral, gap, deadline, options, margin
        Whether costs are integers, the tolerance, the deadline, HiGHS options and the margin
        every client widens by in a new round.
    refix
        ``refix(value, plan)``: the sites' bounds that a plan better than ``value`` must meet
        (reduced-cost fixing), called before a new round when the incumbent improved.

    Returns
    -------
    result : DenseRadiusResult
        Plan (model columns), bound and status (``"uncertified"``: a client is served beyond
        every level the model has, so more levels must come from the caller).
    overflow : numpy.ndarray
        The clients served beyond the last level the caller gave.
    """
    from optimizer.solver.threads import run_highs

    best = sorted(start)
    best_obj = float(serve(best).sum()) if best else math.inf
    bound, rounds, size, status = -math.inf, 0, (0, 0, 0), "time_limit"
    overflow = np.zeros(0, dtype=np.int64)
    while True:
        left = None if deadline is None else deadline - time.monotonic()
        if left is not None and left <= 0.05:
            break
        rounds += 1
        t0 = time.perf_counter()
        opts = dict(options, mip_rel_gap=float(gap))
        if integral:
            opts["mip_abs_gap"] = 1.0 - 1e-6
        if left is not None:
            opts["time_limit"] = float(left)
        h, size = _model(
            lv,
            depth,
            p,
            n_sites,
            bounds,
            (best, serve(best) if best else lv.costs[lv.offset]),
            options=opts,
        )
        logger.info(
            "dense radius round %d: %s variables, %s rows, %s nonzeros built in %.1f s",
            rounds,
            f"{size[0]:,}",
            f"{size[1]:,}",
            f"{size[2]:,}",
            time.perf_counter() - t0,
        )
        run_highs(h)
        model_status = h.modelStatusToString(h.getModelStatus())
        round_bound = float(h.getInfo().mip_dual_bound)
        y = np.asarray(h.getSolution().col_value[:n_sites])
        del h
        opened = np.flatnonzero(y > 0.5).tolist() if len(y) else []
        bound = max(bound, round_bound if math.isfinite(round_bound) else -math.inf)
        if len(opened) != p:
            status = "time_limit" if model_status == "Time limit reached" else "error"
            break
        served = serve(opened)
        total = float(served.sum())
        if math.isfinite(total) and (
            not math.isfinite(best_obj) or total < best_obj - 1e-9 * max(1.0, abs(best_obj))
        ):
            best, best_obj = sorted(opened), total
        top = lv.costs[lv.offset + depth]
        deepen = np.flatnonzero(served > top + 1e-9 * np.maximum(1.0, np.abs(top)))
        overflow = deepen[depth[deepen] >= lv.n_levels[deepen] - 1]
        deepen = deepen[depth[deepen] < lv.n_levels[deepen] - 1]
        if len(overflow):
            status = "uncertified"
            if not best:
                best = sorted(opened)  # a start for the caller's wider model
            break
        if len(deepen) == 0:
            status = "optimal" if model_status == "Optimal" else "time_limit"
            break
        logger.info("dense radius: %d clients need more levels; solving again", len(deepen))
        if refix is not None and best:
            bounds = refix(best_obj, best)
            logger.info(
                "dense radius: %d sites closed for %.10g", int((bounds[1] == 0).sum()), best_obj
            )
        # the others widen by the margin too: one client pushed past its levels often means
        # its neighbours are next, and each round is a new model
        depth = np.minimum(lv.n_levels - 1, depth + margin)
        depth[deepen] = lv.n_levels[deepen] - 1
    return DenseRadiusResult(status, best, best_obj, min(bound, best_obj), rounds, size), overflow


def solve_dense_radius(
    costs: np.ndarray,
    p: int,
    start: list[int],
    *,
    closed: np.ndarray,
    fixed_open: frozenset[int] = frozenset(),
    gap: float = 1e-4,
    deadline: float | None = None,
    threads: int | None = None,
    seed: int = 0,
    margin: int = 10,
    reach: np.ndarray | None = None,
    msg: bool = False,
) -> DenseRadiusResult:
    """Solve a dense pure p-median by the radius MIP with lazily widened levels.

    Parameters
    ----------
    costs
        Weighted costs, clients × sites, all finite (float64).
    p
        Sites to open.
    start
        A feasible plan: the incumbent, the levels' reach and HiGHS's start.
    closed
        Sites that may not open: those fixed closed and those the Lagrangian root's reduced
        costs excluded (they are dropped from the model).
    fixed_open
        Sites that must be open.
    gap
        Relative optimality gap; for integer costs HiGHS also stops at an absolute gap below 1.
    deadline
        ``time.monotonic()`` value at which the search stops with the best plan.
    threads, seed, msg
        HiGHS's threads, random seed and log.
    margin
        Levels per client in the first round beyond its level in the start plan (or at
        ``reach``, if that is farther).
    reach
        A cost per client to model at least down to (the Lagrangian multipliers: the LP
        serves a client at most about that far), or ``None``.

    Returns
    -------
    DenseRadiusResult
        The best plan (columns of ``costs``), its bound and status.
    """
    # a start site may be among the closed ones (fixing closes the sites of the incumbent that
    # no *better* plan can use): it stays in the model, which only widens the relaxation
    closed = np.setdiff1d(np.asarray(closed, dtype=np.int64), np.asarray(start, dtype=np.int64))
    cols = np.setdiff1d(np.arange(costs.shape[1]), closed)
    sub = np.ascontiguousarray(costs[:, cols])
    local = {int(j): k for k, j in enumerate(cols.tolist())}
    lv = _levels(sub)
    begin = [local[int(j)] for j in start]
    far = sub[:, begin].min(axis=1)
    if reach is not None:
        far = np.maximum(far, reach)
    lower = np.zeros(len(cols))
    lower[[local[j] for j in fixed_open]] = 1.0
    result, _ = solve_levels(
        lv,
        len(cols),
        p,
        begin,
        lambda sites: sub[:, sites].min(axis=1),
        bounds=(lower, np.ones(len(cols))),
        depth=np.minimum(lv.n_levels - 1, level_of(lv, far) + margin),
        integral=bool(np.all(sub == np.round(sub))),
        gap=gap,
        deadline=deadline,
        options={
            "output_flag": bool(msg),
            "random_seed": int(seed),
            **({"threads": int(threads)} if threads else {}),
        },
        margin=margin,
    )
    plan = sorted(int(cols[k]) for k in result.open_sites)
    return DenseRadiusResult(
        result.status, plan, result.objective, result.bound, result.rounds, result.size
    )
