r"""The radius (distance-level) MIP of nearest-site location problems, with lazily added levels.

When every client is served by its cheapest open allowed site, the model needs no assignment
variables: it uses the *radius* (distance-level) formulation of Elloumi (2010) in its sparse,
chained form, whose LP bound equals that of the strong assignment formulation but which has
one variable per distinct cost level instead of one per pair:

.. math::

    \min \sum_i w_i \Big(D_i^1 + \sum_{k\ge1} (D_i^{k+1}-D_i^k) z_i^k\Big)
    \quad\text{s.t.}\quad z_i^k \ge z_i^{k-1} - \sum_{j: c_{ij} = D_i^k} y_j,\ z_i^0 = 1,

with :math:`y_j` binary (site open) and :math:`z_i^k \ge 0` ("client *i* is farther than its
*k*-th cost level"). Levels are generated lazily (García, Labbé & Marín 2011): each client
starts with its first few levels, the last one costed as a lower bound of everything beyond;
when a solution sends a client past its last level, more levels are added and the model is
solved again, so the final answer is optimal for the full problem.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field

import numpy as np

from optimizer.errors import InfeasibleError, SolverError
from optimizer.solver.budget import Budget
from optimizer.solver.greedy import greedy_start
from optimizer.solver.highs import MipOptions, MipOutcome, cutoff_of
from optimizer.solver.matrix import MatrixModel, MatrixSolver, add_count_rows
from optimizer.solver.problem import LocationProblem, LocationResult, SolveStatus, finish
from optimizer.solver.swap import local_search

logger = logging.getLogger(__name__)


@dataclass
class Levels:
    """Per-client distinct cost levels and the sites at each level (sorted)."""

    costs: list[np.ndarray]
    sites: list[list[np.ndarray]]


def levels(prob: LocationProblem) -> Levels:
    """Return each client's distinct cost levels and the sites at each (cheapest first)."""
    order = np.lexsort((prob.site, prob.cost, prob.client))
    c, s, k = prob.client[order], prob.site[order], prob.cost[order]
    bounds = np.searchsorted(c, np.arange(prob.n_clients + 1))
    costs: list[np.ndarray] = []
    sites: list[list[np.ndarray]] = []
    for i in range(prob.n_clients):
        kk, ss = k[bounds[i] : bounds[i + 1]], s[bounds[i] : bounds[i + 1]]
        if len(kk) == 0:
            costs.append(kk)
            sites.append([])
            continue
        cut = np.flatnonzero(np.diff(kk) > 0) + 1
        costs.append(kk[np.r_[0, cut]])
        sites.append(np.split(ss, cut))
    return Levels(costs, sites)


@dataclass
class _Model:
    """The radius model: the ``y`` are columns ``0..n_sites-1``, then each client's ``z``.

    Attributes
    ----------
    matrix
        The model without its constant.
    constant
        The objective's constant (every client's first cost level).
    z_first, z_count
        Per client, the column of its first ``z`` and how many it has (consecutive).
    """

    matrix: MatrixModel
    constant: float
    z_first: np.ndarray
    z_count: np.ndarray


def _build(prob: LocationProblem, lv: Levels, depth: np.ndarray) -> _Model:
    """Build the chained radius model with the first ``depth[i]`` levels of each client."""
    assert prob.weights is not None
    w = np.asarray(prob.weights, dtype=float)
    n_levels = np.array([len(c) for c in lv.costs], dtype=np.int64)
    with_z = (w != 0.0) & (n_levels > 1)
    n_z = np.where(with_z, np.minimum(depth, n_levels - 1), 0)
    z_first = prob.n_sites + np.r_[0, np.cumsum(n_z)[:-1]]
    n_cols = prob.n_sites + int(n_z.sum())
    cost = np.zeros(n_cols)
    if prob.site_cost is not None:
        cost[: prob.n_sites] = np.asarray(prob.site_cost, dtype=float)
    upper = np.full(n_cols, np.inf)
    upper[: prob.n_sites] = 1.0
    lower = np.zeros(n_cols)
    lower[list(prob.fixed_open)] = 1.0
    upper[list(prob.fixed_closed)] = 0.0
    integer = np.zeros(n_cols, dtype=bool)
    integer[: prob.n_sites] = True
    mat = MatrixModel(cost, lower, upper, integer)
    constant = 0.0
    for i in range(prob.n_clients):
        costs, sites = lv.costs[i], lv.sites[i]
        # coverage: the client has an open allowed site
        cover = np.concatenate(sites) if sites else np.zeros(0, dtype=np.int64)
        mat.add_row(cover, np.ones(len(cover)), 1.0, np.inf)
        constant += w[i] * (float(costs[0]) if len(costs) else 0.0)
        for k in range(int(n_z[i])):
            z = int(z_first[i]) + k
            cost[z] = w[i] * float(costs[k + 1] - costs[k])
            lvl = np.asarray(sites[k], dtype=np.int64)
            if k == 0:
                mat.add_row(np.r_[z, lvl], np.ones(len(lvl) + 1), 1.0, np.inf)
            else:
                vals = np.r_[1.0, np.ones(len(lvl)), -1.0]
                mat.add_row(np.r_[z, lvl, z - 1], vals, 0.0, np.inf)
    add_count_rows(mat, 0, prob)
    return _Model(mat, constant, z_first, n_z)


def pair_cost(prob: LocationProblem, lv: Levels, i: int, j: int) -> float:
    """Return the cost of pair (``i``, ``j``) from the levels; ``inf`` if not allowed."""
    for k, lvl in enumerate(lv.sites[i]):
        if j in lvl:
            return float(lv.costs[i][k])
    return math.inf


@dataclass(frozen=True)
class RadiusStart:
    """What is known before the radius MIP runs (from the Lagrangian tree, when it ran).

    Attributes
    ----------
    open_sites
        A plan to start from; ``None``: build one greedily and improve it by swaps.
    floor
        A lower bound proven before the MIP.
    nodes
        Tree nodes searched.
    """

    open_sites: list[int] | None = None
    floor: float = -math.inf
    nodes: int = 0


@dataclass
class _Search:
    """The state of the rounds: model depth per client, the best plan, bound and status."""

    prob: LocationProblem
    lv: Levels
    n_levels: np.ndarray
    depth: np.ndarray
    best_open: list[int] | None
    best_obj: float
    bound: float = -math.inf
    status: SolveStatus = SolveStatus.NO_SOLUTION
    rounds: int = 0
    size: tuple[int, int, int] = field(default=(0, 0, 0))
    timed_out: bool = False


def solve_radius(
    prob: LocationProblem,
    opts: MipOptions,
    budget: Budget,
    *,
    heuristic_seconds: float,
    initial_levels: int | None,
    level_margin: int | None,
    given: RadiusStart | None = None,
) -> LocationResult:
    """Solve a nearest-site problem with the radius MIP, adding cost levels in rounds.

    Parameters
    ----------
    prob
        The problem (no loads or contiguity).
    opts
        The MIP solver and its options.
    budget
        The call's time budget; at its end the best plan so far is returned.
    heuristic_seconds
        Time for the swap search that improves the greedy start.
    initial_levels, level_margin
        How many cost levels per client the first round models (see :func:`solve`).
    given
        A start plan, bound and node count from the Lagrangian tree.

    Returns
    -------
    LocationResult
        The plan, optimal unless the time ran out.

    Raises
    ------
    InfeasibleError
        If the solver proves no plan exists.
    SolverError
        If no plan at all was found in time.
    """
    given = given or RadiusStart()
    lv = levels(prob)
    n_levels = np.array([len(c) for c in lv.costs], dtype=np.int64)
    depth = _first_depth(prob, n_levels, initial_levels)
    start = given.open_sites
    if start is None:
        start = greedy_start(prob)
        if start is not None:
            start = local_search(prob, start, time_limit=budget.cap(heuristic_seconds))
    best_obj = prob.objective_of(start)[0] if start is not None else math.inf
    if start is not None:
        logger.debug("heuristic start: %d sites open, objective %.6g", len(start), best_obj)
        if initial_levels is None and level_margin is not None:
            depth = _margin_depth(prob, lv, n_levels, start, level_margin)
    search = _Search(prob, lv, n_levels, depth, start, best_obj)
    _run_rounds(search, opts, budget)
    if search.best_open is None:
        raise SolverError(
            f"{opts.solver} found no feasible plan within {budget.seconds} s; raise the time limit"
        )
    objective, assignment = prob.objective_of(search.best_open)
    return finish(
        prob,
        status=search.status,
        objective=objective,
        bound=max(search.bound, given.floor),
        gap=opts.gap,
        budget=budget,
        open_sites=search.best_open,
        assignment=assignment,
        solver=opts.solver,
        formulation="radius",
        size=search.size,
        rounds=search.rounds,
        nodes=given.nodes,
        time_limit_reached=search.timed_out,
    )


def _first_depth(
    prob: LocationProblem, n_levels: np.ndarray, initial_levels: int | None
) -> np.ndarray:
    """Return the levels per client of the first round: ``initial_levels`` or a size guess."""
    if initial_levels is None:
        open_guess = prob.p or max(1, prob.n_sites // 2)
        initial_levels = max(
            8, int(math.ceil(4.0 * len(prob.cost) / max(prob.n_clients, 1) / open_guess))
        )
    return np.minimum(n_levels - 1, initial_levels).clip(min=0)


def _margin_depth(
    prob: LocationProblem, lv: Levels, n_levels: np.ndarray, start: list[int], margin: int
) -> np.ndarray:
    """Return the levels per client down to the start plan's cost, plus ``margin``.

    The optimum rarely sends a client farther than the start does; if it does, the next
    round adds the levels.
    """
    _, start_assign = prob.objective_of(start)
    reach = np.array(
        [
            int(np.searchsorted(lv.costs[i], pair_cost(prob, lv, i, int(start_assign[i]))))
            for i in range(prob.n_clients)
        ]
    )
    return np.minimum(n_levels - 1, reach + margin).clip(min=0)


def _run_rounds(s: _Search, opts: MipOptions, budget: Budget) -> None:
    """Solve rounds of the radius model until no client is under-costed or time runs out."""
    while True:
        if budget.expired():
            s.timed_out = True
            s.status = SolveStatus.FEASIBLE if s.best_open is not None else s.status
            return
        s.rounds += 1
        t_build = time.perf_counter()
        model = _build(s.prob, s.lv, s.depth)
        s.size = (model.matrix.n_cols, model.matrix.n_rows, model.matrix.nnz)
        logger.debug(
            "round %d: built model with %s variables, %s constraints, %s nonzeros in %.1f s",
            s.rounds,
            f"{s.size[0]:,}",
            f"{s.size[1]:,}",
            f"{s.size[2]:,}",
            time.perf_counter() - t_build,
        )
        outcome, open_now = _run_radius(model, s.prob, s.best_open, opts, budget)
        s.timed_out = outcome.timed_out
        if open_now is not None:
            value, _ = s.prob.objective_of(open_now)
            if value < s.best_obj - 1e-9 * max(1.0, abs(value)):
                s.best_obj, s.best_open = value, open_now
        truncated, deepen = _under_costed(s, open_now)
        if outcome.status == SolveStatus.INFEASIBLE:
            raise InfeasibleError(
                "the solver proved that no plan satisfies every constraint at once "
                "(the count limits, pinned sites and allowed pairs conflict)"
            )
        if not deepen:
            s.bound = outcome.bound if np.isfinite(outcome.bound) else s.bound
            s.status = outcome.status
            return
        # the round's bound is still a valid lower bound of the full problem (a relaxation)
        s.bound = max(s.bound, outcome.bound) if np.isfinite(outcome.bound) else s.bound
        if budget.expired():
            s.timed_out = True
            s.status = SolveStatus.FEASIBLE if s.best_open is not None else s.status
            return
        # a client pushed past its last level means the margin was too thin for this
        # instance: widen it for every client, not only those, to avoid many rounds
        for i in truncated.tolist():
            s.depth[i] = min(s.n_levels[i] - 1, max(2 * s.depth[i], s.depth[i] + 16))
        for i in deepen:
            s.depth[i] = s.n_levels[i] - 1
        logger.debug(
            "round %d: %d clients need more cost levels; solving again", s.rounds, len(deepen)
        )


def _under_costed(s: _Search, open_now: list[int] | None) -> tuple[np.ndarray, list[int]]:
    """Return the clients with levels left out, and those served beyond their last level.

    A client served beyond its last modelled level means the model under-costed it.
    """
    truncated = np.flatnonzero(s.depth < s.n_levels - 1)
    deepen: list[int] = []
    if open_now is not None and len(truncated):
        _, assignment = s.prob.objective_of(open_now)
        for i in truncated.tolist():
            j = assignment[i]
            if j < 0:
                continue
            c_ij = pair_cost(s.prob, s.lv, i, j)
            if c_ij > s.lv.costs[i][s.depth[i]] + 1e-12:
                deepen.append(i)
    return truncated, deepen


def _run_radius(
    m: _Model,
    prob: LocationProblem,
    start: list[int] | None,
    opts: MipOptions,
    budget: Budget,
) -> tuple[MipOutcome, list[int] | None]:
    """Run one solve of the radius model; return its outcome and open sites (or None).

    HiGHS gets the start's value as a cutoff (see :func:`~optimizer.solver.highs.cutoff_of`),
    CBC the start itself. The outcome's bound includes the model's constant.
    """
    cutoff = values = None
    if start is not None and opts.solver == "highs":
        cutoff = cutoff_of(prob.objective_of(start)[0]) - m.constant
    elif start is not None:
        values = _start_values(m, prob, start)
    run = MatrixSolver(m.matrix, opts).run(budget, cutoff=cutoff, start=values)
    outcome = dataclasses.replace(run.outcome, bound=run.outcome.bound + m.constant)
    if outcome.cutoff or outcome.status == SolveStatus.INFEASIBLE or run.values is None:
        return outcome, None
    open_now = np.flatnonzero(run.values[: prob.n_sites] > 0.5).tolist()
    if not open_now:
        return outcome, None
    return outcome, open_now


def _start_values(m: _Model, prob: LocationProblem, open_sites: list[int]) -> np.ndarray:
    """Return the column values of a start plan: y from the open sites, z from their costs.

    Parameters
    ----------
    m
        The radius model.
    prob
        The problem.
    open_sites
        The plan's open sites.

    Returns
    -------
    numpy.ndarray
        One value per column (CBC's MIP start).
    """
    values = np.zeros(m.matrix.n_cols)
    values[open_sites] = 1.0
    lv = levels(prob)
    _, assignment = prob.objective_of(open_sites)
    for i in range(prob.n_clients):
        j = int(assignment[i])
        if j < 0:
            continue
        c = pair_cost(prob, lv, i, j)
        for k, level_cost in enumerate(lv.costs[i][: m.z_count[i]]):
            if level_cost < c - 1e-12:
                values[m.z_first[i] + k] = 1.0
    return values
