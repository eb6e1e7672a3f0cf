r"""The solver core: facility location on a sparse cost table; the only module that imports pulp.

It knows nothing of townships or geography. A :class:`LocationProblem` holds clients with
weights, candidate sites, the allowed (client, site) pairs with their costs, and side
constraints on which sites open (fixed open / closed sites, count bounds per group of sites).
Every client is served by its cheapest open allowed site, so the model needs no assignment
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

import contextlib
import heapq
import logging
import math
import os
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pulp

from optimizer.errors import InfeasibleError, PolicyError, SolverError
from optimizer.solver import dense
from optimizer.solver.lagrangian import TreeResult, branch_and_bound
from optimizer.solver.swap import local_search

__all__ = [
    "LocationProblem",
    "LocationResult",
    "SiteGroup",
    "p_median",
    "solve",
]

logger = logging.getLogger(__name__)

SolverName = Literal["highs", "cbc"]
Method = Literal["auto", "mip"]
Status = Literal["optimal", "feasible", "infeasible", "no_solution", "cutoff"]


@dataclass(frozen=True)
class SiteGroup:
    """Bounds on the number of open sites among a group of sites.

    Parameters
    ----------
    name
        ASCII identifier of the group, used to name the constraint.
    sites
        Indices of the sites in the group.
    min_open, max_open
        Inclusive bounds on how many of them open; ``None`` for no upper bound.
    """

    name: str
    sites: np.ndarray
    min_open: int = 0
    max_open: int | None = None


@dataclass
class LocationProblem:
    """A facility-location problem on a sparse cost table.

    Parameters
    ----------
    n_clients, n_sites
        Numbers of clients and candidate sites.
    client, site, cost
        Parallel arrays of the allowed pairs: client index, site index, cost. Pairs not listed
        are forbidden.
    weights
        Client weights (for example population); default 1.
    p
        If given, exactly this many sites open.
    groups
        Count bounds on groups of sites (for example at most one per township, at most 65 % of
        today's stations in a province).
    fixed_open, fixed_closed
        Sites that must be open or closed.
    client_edges
        Adjacency between clients (an ``(E, 2)`` array of client indices). When given, every
        open site's clients form a connected set that contains the site's home client.
    site_home
        The client each site stands in (``-1`` for none); with ``client_edges``, an open site
        serves its home client.
    client_load, site_min_load, site_max_load
        Load of each client and bounds on the load an open site serves (``nan`` for no bound).
    site_cost
        A cost added for each open site (negative for a bonus), in the objective's units.
    """

    n_clients: int
    n_sites: int
    client: np.ndarray
    site: np.ndarray
    cost: np.ndarray
    weights: np.ndarray | None = None
    p: int | None = None
    groups: list[SiteGroup] = field(default_factory=list)
    fixed_open: frozenset[int] = frozenset()
    fixed_closed: frozenset[int] = frozenset()
    client_edges: np.ndarray | None = None
    site_home: np.ndarray | None = None
    client_load: np.ndarray | None = None
    site_min_load: np.ndarray | None = None
    site_max_load: np.ndarray | None = None
    site_cost: np.ndarray | None = None

    @property
    def needs_assignment(self) -> bool:
        """Whether side constraints need explicit assignment variables (not nearest-site)."""
        return self.client_edges is not None or self.client_load is not None

    def __post_init__(self) -> None:
        self.client = np.asarray(self.client, dtype=np.int64)
        self.site = np.asarray(self.site, dtype=np.int64)
        self.cost = np.asarray(self.cost, dtype=np.float64)
        w = np.ones(self.n_clients) if self.weights is None else self.weights
        self.weights = np.asarray(w, dtype=np.float64)
        problems = []
        if not (len(self.client) == len(self.site) == len(self.cost)):
            problems.append("client, site and cost arrays differ in length")
        if len(self.weights) != self.n_clients:
            problems.append(f"{len(self.weights)} weights for {self.n_clients} clients")
        if len(self.client) and (self.client.min() < 0 or self.client.max() >= self.n_clients):
            problems.append("a client index is out of range")
        if len(self.site) and (self.site.min() < 0 or self.site.max() >= self.n_sites):
            problems.append("a site index is out of range")
        if not np.all(np.isfinite(self.cost)):
            problems.append("costs must be finite (leave forbidden pairs out instead)")
        if np.any(self.weights < 0) or not np.all(np.isfinite(self.weights)):
            problems.append("weights must be finite and non-negative")
        if self.fixed_open & self.fixed_closed:
            problems.append(
                f"sites both fixed open and closed: {sorted(self.fixed_open & self.fixed_closed)}"
            )
        if self.p is not None and not 1 <= self.p <= self.n_sites:
            problems.append(f"p = {self.p} must lie between 1 and the {self.n_sites} sites")
        if problems:
            raise PolicyError(problems, title="invalid location problem")

    def objective_of(self, open_sites: Sequence[int]) -> tuple[float, np.ndarray]:
        """Return the objective and assignment that a set of open sites gives.

        Each client goes to its cheapest open allowed site (lowest site index on ties).

        Parameters
        ----------
        open_sites
            Indices of open sites.

        Returns
        -------
        objective : float
            Weighted cost; ``inf`` if a client has no open allowed site.
        assignment : numpy.ndarray
            Site index per client, -1 where none is open.
        """
        is_open = np.zeros(self.n_sites, dtype=bool)
        is_open[np.asarray(list(open_sites), dtype=np.int64)] = True
        mask = is_open[self.site]
        c, s, k = self.client[mask], self.site[mask], self.cost[mask]
        order = np.lexsort((s, k, c))
        c, s, k = c[order], s[order], k[order]
        first = np.ones(len(c), dtype=bool)
        first[1:] = c[1:] != c[:-1]
        assignment = np.full(self.n_clients, -1, dtype=np.int64)
        assignment[c[first]] = s[first]
        best = np.full(self.n_clients, np.inf)
        best[c[first]] = k[first]
        assert self.weights is not None
        with np.errstate(invalid="ignore"):
            total = float(np.sum(np.where(self.weights > 0, self.weights * best, 0.0)))
        if self.site_cost is not None:
            total += float(np.asarray(self.site_cost)[is_open].sum())
        if np.any(assignment < 0):
            total = math.inf
        return total, assignment


@dataclass(frozen=True)
class LocationResult:
    """What a solve returns.

    Attributes
    ----------
    status
        ``optimal`` (proven within the gap tolerance), ``feasible`` (a plan with a gap, e.g. at
        the time limit), ``infeasible``, or ``no_solution``.
    objective
        Weighted cost of the returned plan, recomputed from the assignment.
    bound
        Best proven lower bound on the optimum.
    gap
        Relative gap ``(objective - bound) / objective``.
    seconds
        Wall time of model building and solving.
    open_sites
        Sorted indices of open sites.
    assignment
        Site index serving each client.
    solver
        What proved the result: ``highs`` or ``cbc`` (the MIP), or ``lagrangian`` (the
        Lagrangian branch-and-bound of pure p-median problems, which needs no MIP solver).
    formulation
        The model solved (``radius``, ``assignment``, ``lagrangian``, or a block count).
    n_variables, n_constraints, n_nonzeros
        Size of the last model (for ``lagrangian``: sites, clients and allowed pairs).
    rounds
        MIP rounds (more cost levels or contiguity cuts added between them).
    nodes
        Nodes of the Lagrangian search tree (0 when it did not run).
    """

    status: Status
    objective: float
    bound: float
    gap: float
    seconds: float
    open_sites: np.ndarray
    assignment: np.ndarray
    solver: str
    formulation: str
    n_variables: int
    n_constraints: int
    n_nonzeros: int
    rounds: int
    nodes: int = 0

    def __repr__(self) -> str:
        return (
            f"LocationResult(status={self.status!r}, objective={self.objective:,.6g}, "
            f"bound={self.bound:,.6g}, gap={self.gap:.2e}, open={len(self.open_sites)}, "
            f"seconds={self.seconds:.2f}, variables={self.n_variables:,})"
        )


# --------------------------------------------------------------------------- checks


def _presolve_checks(prob: LocationProblem) -> None:
    """Raise InfeasibleError with numbers when the problem cannot be feasible."""
    problems: list[str] = []
    usable = np.ones(len(prob.site), dtype=bool)
    if prob.fixed_closed:
        usable &= ~np.isin(prob.site, np.fromiter(prob.fixed_closed, dtype=np.int64))
    served = np.zeros(prob.n_clients, dtype=bool)
    served[prob.client[usable]] = True
    if not served.all():
        missing = np.flatnonzero(~served)
        problems.append(
            f"{len(missing)} client(s) have no allowed site that may open: "
            + ", ".join(map(str, missing[:20]))
            + (" ..." if len(missing) > 20 else "")
        )
    for g in prob.groups:
        members = set(map(int, g.sites))
        fixed = len(members & prob.fixed_open)
        free = len(members - prob.fixed_closed)
        if g.max_open is not None and fixed > g.max_open:
            problems.append(
                f"group {g.name}: {fixed} sites pinned open but at most {g.max_open} may open"
            )
        if g.min_open > free:
            problems.append(f"group {g.name}: needs {g.min_open} open but only {free} may open")
        if g.max_open is not None and g.min_open > g.max_open:
            problems.append(f"group {g.name}: minimum {g.min_open} exceeds maximum {g.max_open}")
    if prob.p is not None:
        if len(prob.fixed_open) > prob.p:
            problems.append(f"{len(prob.fixed_open)} sites pinned open but p = {prob.p}")
        if prob.n_sites - len(prob.fixed_closed) < prob.p:
            problems.append(
                f"p = {prob.p} but only {prob.n_sites - len(prob.fixed_closed)} sites may open"
            )
    if problems:
        raise InfeasibleError(problems)


# --------------------------------------------------------------------------- heuristic


def _greedy_start(prob: LocationProblem) -> list[int] | None:
    """Return a feasible set of open sites found greedily, or None.

    Opens the pinned sites, covers the clients left without an open site (heaviest first),
    then adds the site with the largest weighted saving while the count limits allow.
    Savings are computed for all sites at once from the pair arrays.
    """
    assert prob.weights is not None
    limits = [(set(map(int, g.sites)), g.max_open) for g in prob.groups if g.max_open is not None]
    group_of: dict[int, list[int]] = {}
    for gi, (members, _) in enumerate(limits):
        for j in members:
            group_of.setdefault(j, []).append(gi)
    counts = [0] * len(limits)
    open_mask = np.zeros(prob.n_sites, dtype=bool)
    blocked = np.zeros(prob.n_sites, dtype=bool)
    if prob.fixed_closed:
        blocked[list(prob.fixed_closed)] = True
    target = prob.p

    def can_open(j: int) -> bool:
        if open_mask[j] or blocked[j]:
            return False
        if target is not None and open_mask.sum() >= target:
            return False
        return all(counts[g] < (limits[g][1] or 0) for g in group_of.get(j, []))

    def do_open(j: int) -> None:
        open_mask[j] = True
        for g in group_of.get(j, []):
            counts[g] += 1

    for j in sorted(prob.fixed_open):
        open_mask[j] = True
        for g in group_of.get(j, []):
            counts[g] += 1
    order = np.lexsort((prob.site, prob.cost, prob.client))
    c_sorted, s_sorted = prob.client[order], prob.site[order]
    bounds = np.searchsorted(c_sorted, np.arange(prob.n_clients + 1))
    for c in np.argsort(-prob.weights, kind="stable").tolist():
        options = s_sorted[bounds[c] : bounds[c + 1]].tolist()
        if any(open_mask[s] for s in options):
            continue
        for s in options:
            if can_open(s):
                do_open(s)
                break
        else:
            return None
    best = np.full(prob.n_clients, np.inf)
    np.minimum.at(best, prob.client[open_mask[prob.site]], prob.cost[open_mask[prob.site]])
    w_pair = prob.weights[prob.client]
    while target is None or open_mask.sum() < target:
        saving = w_pair * np.maximum(0.0, best[prob.client] - prob.cost)
        gain = np.bincount(prob.site, weights=saving, minlength=prob.n_sites)
        if prob.site_cost is not None:
            gain = gain - np.asarray(prob.site_cost, dtype=float)
        gain[open_mask | blocked] = -1.0
        picked = -1
        for j in np.argsort(-gain, kind="stable").tolist():
            if gain[j] <= 0 and target is None:
                break
            if gain[j] < 0:
                break
            if can_open(j):
                picked = j
                break
        if picked < 0:
            break
        do_open(picked)
        sel = prob.site == picked
        np.minimum.at(best, prob.client[sel], prob.cost[sel])
    if target is not None and open_mask.sum() != target:
        return None
    open_set = set(np.flatnonzero(open_mask).tolist())
    for group in prob.groups:
        if len(open_set & set(map(int, group.sites))) < group.min_open:
            return None
    return sorted(open_set)


# --------------------------------------------------------------------------- model


@dataclass
class _Levels:
    """Per-client distinct cost levels and the sites at each level (sorted)."""

    costs: list[np.ndarray]
    sites: list[list[np.ndarray]]


def _levels(prob: LocationProblem) -> _Levels:
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
    return _Levels(costs, sites)


_HIGHS_OPTIONS: dict[str, Any] = {"mip_heuristic_effort": 0.0}


class _HiGHS(pulp.HiGHS):  # type: ignore[misc, name-defined]
    """pulp's HiGHS interface, plus a MIP start and the dual bound read back."""

    def __init__(self, *args: Any, start: dict[str, float] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._start = start or {}
        self.mip_dual_bound: float = -math.inf
        self.model_status: str = ""

    def createAndConfigureSolver(self, lp: Any) -> None:
        if self.msg:
            super().createAndConfigureSolver(lp)
            return
        with _quiet_stdout():  # HiGHS prints its banner from C when the first model is made
            super().createAndConfigureSolver(lp)

    def callSolver(self, lp: Any) -> None:
        if self._start:
            import highspy

            values = [float(self._start.get(v.name, 0.0)) for v in lp.variables()]
            sol = highspy.HighsSolution()
            sol.col_value = values
            sol.value_valid = True
            lp.solverModel.setSolution(sol)
        lp.solverModel.run()
        info = lp.solverModel.getInfo()
        self.mip_dual_bound = float(info.mip_dual_bound)
        self.model_status = lp.solverModel.modelStatusToString(lp.solverModel.getModelStatus())


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence file descriptor 1 (C-level printing) for the duration of the block."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no real stdout (e.g. some notebook kernels)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)
        os.close(devnull)


def _build(
    prob: LocationProblem, lv: _Levels, depth: np.ndarray
) -> tuple[pulp.LpProblem, list[pulp.LpVariable], int]:
    """Build the chained radius model with the first ``depth[i]`` levels of each client."""
    model = pulp.LpProblem("location", pulp.LpMinimize)
    y = [pulp.LpVariable(f"y{j}", cat=pulp.LpBinary) for j in range(prob.n_sites)]
    for j in prob.fixed_open:
        y[j].lowBound = 1
    for j in prob.fixed_closed:
        y[j].upBound = 0
    assert prob.weights is not None
    objective: list[tuple[pulp.LpVariable, float]] = []
    constant = 0.0
    nnz = 0
    for i in range(prob.n_clients):
        w = float(prob.weights[i])
        costs, sites = lv.costs[i], lv.sites[i]
        n_levels = len(costs)
        # coverage: the client has an open allowed site
        cover = [(y[j], 1.0) for lvl in sites for j in lvl.tolist()]
        model.addConstraint(pulp.LpConstraint(cover, pulp.LpConstraintGE, f"cover{i}", 1.0))
        nnz += len(cover)
        if w == 0.0 or n_levels <= 1:
            constant += w * (float(costs[0]) if n_levels else 0.0)
            continue
        constant += w * float(costs[0])
        d = int(min(depth[i], n_levels - 1))
        prev: pulp.LpVariable | None = None
        for k in range(d):
            z = pulp.LpVariable(f"z{i}_{k}", lowBound=0)
            terms = [(z, 1.0)] + [(y[j], 1.0) for j in sites[k].tolist()]
            if prev is None:
                rhs = 1.0
            else:
                terms.append((prev, -1.0))
                rhs = 0.0
            model.addConstraint(pulp.LpConstraint(terms, pulp.LpConstraintGE, f"lvl{i}_{k}", rhs))
            nnz += len(terms)
            objective.append((z, w * float(costs[k + 1] - costs[k])))
            prev = z
    if prob.site_cost is not None:
        objective += [(y[j], float(c)) for j, c in enumerate(prob.site_cost) if c != 0]
    nnz += _add_count_bounds(model, y, prob)
    model.setObjective(pulp.LpAffineExpression(objective, constant=constant))
    model.objective_constant = constant  # HiGHS sees no constant: its bound excludes it
    return model, y, nnz


def _add_count_bounds(
    model: pulp.LpProblem, y: list[pulp.LpVariable], prob: LocationProblem
) -> int:
    """Add ``p`` and the group bounds on open sites; return the nonzeros added."""
    nnz = 0
    if prob.p is not None:
        model.addConstraint(
            pulp.LpConstraint([(v, 1.0) for v in y], pulp.LpConstraintEQ, "p", prob.p)
        )
        nnz += len(y)
    for g in prob.groups:
        terms = [(y[int(j)], 1.0) for j in g.sites]
        nnz += len(terms)
        if g.max_open is not None:
            model.addConstraint(
                pulp.LpConstraint(terms, pulp.LpConstraintLE, f"gmax_{g.name}", g.max_open)
            )
        if g.min_open > 0:
            model.addConstraint(
                pulp.LpConstraint(terms, pulp.LpConstraintGE, f"gmin_{g.name}", g.min_open)
            )
    return nnz


def _finish(
    *,
    status: Status,
    objective: float,
    bound: float,
    gap: float,
    t0: float,
    open_sites: Sequence[int],
    assignment: np.ndarray,
    solver: str,
    formulation: str,
    size: tuple[int, int, int],
    rounds: int,
    nodes: int = 0,
) -> LocationResult:
    """Turn a solve's outcome into a result: clamp the bound, compute the gap, settle status.

    A run reported optimal whose recomputed gap exceeds the tolerance, or one that ended
    without its own incumbent, is reported ``feasible``.
    """
    bound = min(bound, objective) if np.isfinite(bound) else bound
    rel_gap = 0.0 if objective == 0 else max(0.0, (objective - bound) / abs(objective))
    if status == "optimal" and rel_gap > gap * 1.0001 + 1e-12:
        status = "feasible"
    if status == "no_solution":
        status = "feasible"
    result = LocationResult(
        status=status,
        objective=objective,
        bound=bound,
        gap=rel_gap,
        seconds=time.perf_counter() - t0,
        open_sites=np.asarray(sorted(open_sites), dtype=np.int64),
        assignment=assignment,
        solver=solver,
        formulation=formulation,
        n_variables=size[0],
        n_constraints=size[1],
        n_nonzeros=size[2],
        rounds=rounds,
        nodes=nodes,
    )
    logger.info("%r", result)
    return result


def solve(
    prob: LocationProblem,
    *,
    solver: SolverName = "highs",
    time_limit: float | None = 300.0,
    gap: float = 1e-4,
    threads: int | None = None,
    seed: int = 0,
    msg: bool = False,
    initial_levels: int | None = None,
    heuristic_seconds: float = 10.0,
    level_margin: int | None = 10,
    decompose: bool = True,
    method: Method = "auto",
) -> LocationResult:
    """Solve a location problem to proven optimality (or the best plan within the time limit).

    Parameters
    ----------
    prob
        The problem.
    solver
        ``"highs"`` (default) or ``"cbc"``.
    time_limit
        Seconds for the whole solve (all rounds); at the limit the best plan found is returned
        with status ``feasible`` and its gap.
    gap
        Relative optimality gap at which the solver stops.
    threads
        Solver threads (default: the solver's own choice).
    seed
        Solver random seed, for reproducible runs.
    msg
        Show the solver log.
    initial_levels
        Cost levels per client in the first round (default: chosen from the problem size).
    heuristic_seconds
        Time allowed for the swap local search that builds the starting plan.
    level_margin
        The first round models each client only this many cost levels beyond its cost in the
        starting plan (default 10; ``None`` models all levels up to ``initial_levels``). Far
        levels make the LP large and degenerate; when a solution needs them, the next round
        adds them. On OR-Library pmed28/33/37/40 this cut solve times 5-10 fold.
    decompose
        Solve independent blocks (for example counties, when pairs never cross them) one by
        one, then check the count bounds that span blocks; if those hold, the union is optimal
        for the whole problem, otherwise the whole problem is solved at once.
    method
        ``"auto"`` (default): a pure p-median (``p`` given; no groups, loads or contiguity) whose
        dense cost matrix fits in memory is first solved by Lagrangian branch-and-bound, which
        needs no MIP solver and proves most instances in a fraction of the MIP's time; if its
        tree does not close within 60 % of the time limit, the MIP takes over from its best
        plan. ``"mip"``: always the MIP (``solver``).

    Returns
    -------
    LocationResult
        The plan, its status, objective, bound, gap and model size.

    Raises
    ------
    InfeasibleError
        If the problem has no feasible plan (checked before solving where possible).
    SolverError
        If the solver fails without any plan.
    """
    if solver not in ("highs", "cbc"):
        raise PolicyError(f"solver must be 'highs' or 'cbc', not {solver!r}")
    if method not in ("auto", "mip"):
        raise PolicyError(f"method must be 'auto' or 'mip', not {method!r}")
    t0 = time.perf_counter()
    _presolve_checks(prob)
    if decompose and prob.p is None:
        split = _solve_blocks(
            prob,
            solver=solver,
            time_limit=time_limit,
            gap=gap,
            threads=threads,
            seed=seed,
            msg=msg,
            heuristic_seconds=heuristic_seconds,
            t0=t0,
        )
        if split is not None:
            return split
    if prob.needs_assignment:
        return _solve_assignment(
            prob,
            solver=solver,
            time_limit=time_limit,
            gap=gap,
            threads=threads,
            seed=seed,
            msg=msg,
            heuristic_seconds=heuristic_seconds,
            t0=t0,
        )
    floor = -math.inf  # a lower bound proven before the MIP runs
    tree_start: list[int] | None = None
    tree_nodes = 0
    if method == "auto" and _tree_applies(prob):
        tree = _solve_tree(
            prob, gap=gap, time_limit=time_limit, t0=t0, heuristic_seconds=heuristic_seconds
        )
        if tree is not None and tree.proven:
            objective, assignment = prob.objective_of(tree.open_sites)
            return _finish(
                status="optimal",
                objective=objective,
                bound=tree.bound,
                gap=gap,
                t0=t0,
                open_sites=tree.open_sites,
                assignment=assignment,
                solver="lagrangian",
                formulation="lagrangian",
                size=(prob.n_sites, prob.n_clients, len(prob.cost)),
                rounds=0,
                nodes=tree.nodes,
            )
        if tree is not None:
            logger.info(
                "Lagrangian tree not closed after %d nodes (bound %.6g, plan %.6g); "
                "the MIP takes over",
                tree.nodes,
                tree.bound,
                tree.objective,
            )
            tree_start, floor, tree_nodes = tree.open_sites, tree.bound, tree.nodes
    lv = _levels(prob)
    n_levels = np.array([len(c) for c in lv.costs], dtype=np.int64)
    initial_levels_given = initial_levels
    if initial_levels is None:
        open_guess = prob.p or max(1, prob.n_sites // 2)
        initial_levels = max(
            8, int(math.ceil(4.0 * len(prob.cost) / max(prob.n_clients, 1) / open_guess))
        )
    depth = np.minimum(n_levels - 1, initial_levels).clip(min=0)

    start = tree_start if tree_start is not None else _greedy_start(prob)
    if start is not None and tree_start is None:
        start = local_search(prob, start, time_limit=heuristic_seconds)
    best_open: list[int] | None = start
    best_obj = prob.objective_of(start)[0] if start is not None else math.inf
    if start is not None:
        logger.info("heuristic start: %d sites open, objective %.6g", len(start), best_obj)
        if initial_levels_given is None and level_margin is not None:
            # model each client down to the cost its start site gives, plus a margin: the optimum
            # rarely sends a client farther, and if it does the next round adds the levels
            _, start_assign = prob.objective_of(start)
            reach = np.array(
                [
                    int(np.searchsorted(lv.costs[i], _pair_cost(prob, lv, i, int(start_assign[i]))))
                    for i in range(prob.n_clients)
                ]
            )
            depth = np.minimum(n_levels - 1, reach + level_margin).clip(min=0)

    rounds = 0
    bound = -math.inf
    status: Status = "no_solution"
    n_vars = n_cons = nnz = 0
    while True:
        rounds += 1
        t_build = time.perf_counter()
        model, y, nnz = _build(prob, lv, depth)
        n_vars, n_cons = len(model.variables()), len(model.constraints)
        logger.info(
            "round %d: built model with %s variables, %s constraints, %s nonzeros in %.1f s",
            rounds,
            f"{n_vars:,}",
            f"{n_cons:,}",
            f"{nnz:,}",
            time.perf_counter() - t_build,
        )
        remaining = (
            None if time_limit is None else max(1.0, time_limit - (time.perf_counter() - t0))
        )
        mip_bound, solved_status, open_now = _run(
            model, y, prob, best_open, solver, remaining, gap, threads, seed, msg
        )
        if open_now is not None:
            value, assignment = prob.objective_of(open_now)
            if value < best_obj - 1e-9 * max(1.0, abs(value)):
                best_obj, best_open = value, open_now
        # a client served beyond its last modelled level means the model under-costed it
        truncated = np.flatnonzero(depth < n_levels - 1)
        deepen: list[int] = []
        if open_now is not None and len(truncated):
            _, assignment = prob.objective_of(open_now)
            for i in truncated.tolist():
                j = assignment[i]
                if j < 0:
                    continue
                c_ij = _pair_cost(prob, lv, i, j)
                if c_ij > lv.costs[i][depth[i]] + 1e-12:
                    deepen.append(i)
        if solved_status == "infeasible":
            raise InfeasibleError(
                "the solver proved that no plan satisfies every constraint at once "
                "(the count limits, pinned sites and allowed pairs conflict)"
            )
        if not deepen:
            bound = mip_bound if np.isfinite(mip_bound) else bound
            status = solved_status
            break
        # the round's bound is still a valid lower bound of the full problem (a relaxation)
        bound = max(bound, mip_bound) if np.isfinite(mip_bound) else bound
        out_of_time = time_limit is not None and time.perf_counter() - t0 >= time_limit
        if out_of_time:
            status = "feasible" if best_open is not None else "no_solution"
            break
        # a client pushed past its last level means the margin was too thin for this
        # instance: widen it for every client, not only those, to avoid many rounds
        for i in truncated.tolist():
            depth[i] = min(n_levels[i] - 1, max(2 * depth[i], depth[i] + 16))
        for i in deepen:
            depth[i] = n_levels[i] - 1
        logger.info(
            "round %d: %d clients need more cost levels; solving again", rounds, len(deepen)
        )

    if best_open is None:
        raise SolverError(
            f"{solver} found no feasible plan within {time_limit} s; raise the time limit"
        )
    objective, assignment = prob.objective_of(best_open)
    return _finish(
        status=status,
        objective=objective,
        bound=max(bound, floor),
        gap=gap,
        t0=t0,
        open_sites=best_open,
        assignment=assignment,
        solver=solver,
        formulation="radius",
        size=(n_vars, n_cons, nnz),
        rounds=rounds,
        nodes=tree_nodes,
    )


# Largest clients × sites matrix the Lagrangian tree works on densely (float64 and float32
# copies, the local search's sorted order and work arrays). Measured: 3000 × 3000 (9 M entries)
# peaks at 1.1 GB for the whole p_median call.
_TREE_MAX_ENTRIES = 10_000_000


def _tree_applies(prob: LocationProblem) -> bool:
    """Whether the Lagrangian branch-and-bound can solve ``prob``: a pure p-median that fits."""
    return (
        prob.p is not None
        and not prob.groups
        and not prob.needs_assignment
        and prob.n_clients * prob.n_sites <= _TREE_MAX_ENTRIES
    )


def _solve_tree(
    prob: LocationProblem,
    *,
    gap: float,
    time_limit: float | None,
    t0: float,
    heuristic_seconds: float,
) -> TreeResult | None:
    """Run the Lagrangian branch-and-bound on the dense weighted cost matrix of ``prob``.

    Returns ``None`` when the greedy start leaves a client unserved (the MIP path then decides
    feasibility).
    """
    assert prob.weights is not None and prob.p is not None
    costs = np.full((prob.n_clients, prob.n_sites), np.inf)
    weighted = prob.weights[prob.client] * prob.cost
    costs[prob.client, prob.site] = weighted
    if np.count_nonzero(np.isfinite(costs)) < len(prob.client):
        costs[prob.client, prob.site] = np.inf
        np.minimum.at(costs, (prob.client, prob.site), weighted)  # repeated pairs: cheapest
    site_cost = np.zeros(prob.n_sites) if prob.site_cost is None else np.asarray(prob.site_cost)
    fixed_open = np.asarray(sorted(prob.fixed_open), dtype=np.int64)
    allowed = np.ones(prob.n_sites, dtype=bool)
    allowed[list(prob.fixed_closed)] = False

    search = dense.LocalSearch(costs, site_cost, fixed_open, allowed)

    def improve(sites: list[int], seconds: float = min(2.0, heuristic_seconds)) -> list[int]:
        return [int(j) for j in search.improve(np.asarray(sites), seconds)]

    start = improve(search.greedy(prob.p).tolist(), heuristic_seconds)
    if not np.isfinite(costs[:, start].min(axis=1)).all():
        return None
    tree = branch_and_bound(
        costs,
        prob.p,
        start,
        site_cost=site_cost,
        fixed_open=prob.fixed_open,
        fixed_closed=prob.fixed_closed,
        gap=gap,
        deadline=None if time_limit is None else t0 + 0.6 * time_limit,
        improve=improve,
    )
    logger.info(
        "Lagrangian tree: %d nodes, root bound %.6g, plan %.6g, %s",
        tree.nodes,
        tree.root_bound,
        tree.objective,
        "proven" if tree.proven else "not closed",
    )
    return tree


def _pair_cost(prob: LocationProblem, lv: _Levels, i: int, j: int) -> float:
    for k, lvl in enumerate(lv.sites[i]):
        if j in lvl:
            return float(lv.costs[i][k])
    return math.inf


def _run(
    model: pulp.LpProblem,
    y: list[pulp.LpVariable],
    prob: LocationProblem,
    start: list[int] | None,
    solver: SolverName,
    time_limit: float | None,
    gap: float,
    threads: int | None,
    seed: int,
    msg: bool,
) -> tuple[float, Status, list[int] | None]:
    """Run one solve of the radius model; return (dual bound, status, open sites or None)."""
    # HiGHS 1.16 can misjudge a full MIP start after presolve (it reported a start as optimal
    # although a better plan existed), so the start's value is passed as a cutoff instead:
    # every node that cannot beat it is pruned, and the start itself stays our fallback.
    cutoff = None
    if start is not None:
        const = float(getattr(model, "objective_constant", 0.0))
        value = prob.objective_of(start)[0]
        cutoff = value - const + 1e-6 * max(1.0, abs(value))
    start_values = None
    if solver == "cbc" and start is not None:
        start_values, cutoff = _start_values(model, prob, start), None
    bound, solved = _run_model(
        model, start_values, solver, time_limit, gap, threads, seed, msg, cutoff=cutoff
    )
    if solved == "cutoff":
        return bound, "optimal", None
    if solved == "infeasible":
        return bound, solved, None
    values = [v.varValue for v in y]
    if any(v is None for v in values):
        return bound, solved, None
    open_now = [j for j, v in enumerate(values) if v is not None and v > 0.5]
    if not open_now:
        return bound, solved, None
    return bound, solved, open_now


def _run_model(
    model: pulp.LpProblem,
    start_values: dict[str, float] | None,
    solver: SolverName,
    time_limit: float | None,
    gap: float,
    threads: int | None,
    seed: int,
    msg: bool,
    cutoff: float | None = None,
) -> tuple[float, Status]:
    """Solve a built model with HiGHS or CBC; return (dual bound incl. constant, status).

    ``cutoff`` (HiGHS only) is an objective value, without the model's constant, that a
    solution must beat; when none does, the status is ``cutoff`` and the bound is the cutoff.
    """
    if solver == "highs":
        extra = {} if cutoff is None else {"objective_bound": float(cutoff)}
        engine = _HiGHS(
            msg=msg,
            timeLimit=time_limit,
            gapRel=gap,
            threads=threads,
            start=start_values,
            random_seed=int(seed),
            **_HIGHS_OPTIONS,
            **extra,
            mip_abs_gap=1e-9,
        )
        try:
            model.solve(engine)
        except Exception as exc:  # pragma: no cover - solver crash
            raise SolverError(f"HiGHS failed: {exc}") from exc
        hs = engine.model_status.lower()
        const = float(getattr(model, "objective_constant", 0.0))
        if cutoff is not None and ("infeasible" in hs or "bound" in hs):
            # nothing beats the cutoff: the plan that set it is optimal
            return cutoff + const, "cutoff"
        if "infeasible" in hs:
            return -math.inf, "infeasible"
        bound = engine.mip_dual_bound + const
        return bound, ("optimal" if hs == "optimal" else "feasible")
    if start_values is not None:
        for v in model.variables():
            v.setInitialValue(start_values.get(v.name, 0.0))
    options = [f"randomSeed {int(seed) + 1}", f"randomCbcSeed {int(seed) + 1}"]
    engine2 = pulp.PULP_CBC_CMD(
        msg=msg,
        timeLimit=time_limit,
        gapRel=gap,
        threads=threads,
        warmStart=start_values is not None,
        options=options,
    )
    try:
        model.solve(engine2)
    except Exception as exc:  # pragma: no cover - solver crash
        raise SolverError(f"CBC failed: {exc}") from exc
    if pulp.LpStatus[model.status] == "Infeasible":
        return -math.inf, "infeasible"
    # pulp does not expose CBC's bound; optimal means the objective is the bound
    solved: Status = "optimal" if model.sol_status == pulp.LpSolutionOptimal else "feasible"
    bound = float(pulp.value(model.objective)) if solved == "optimal" else -math.inf
    return bound, solved


def _start_values(
    model: pulp.LpProblem, prob: LocationProblem, open_sites: list[int]
) -> dict[str, float]:
    """Variable values of a start solution: y from the open sites, z from their costs."""
    values: dict[str, float] = {f"y{j}": 1.0 for j in open_sites}
    lv = _levels(prob)
    _, assignment = prob.objective_of(open_sites)
    for i in range(prob.n_clients):
        j = int(assignment[i])
        if j < 0:
            continue
        c = _pair_cost(prob, lv, i, j)
        for k, level_cost in enumerate(lv.costs[i][:-1]):
            if level_cost < c - 1e-12:
                values[f"z{i}_{k}"] = 1.0
    return values


# --------------------------------------------------------------------------- decomposition


def _blocks(prob: LocationProblem) -> list[tuple[np.ndarray, np.ndarray]]:
    """Independent blocks of (clients, sites) linked by allowed pairs and client adjacency."""
    parent = list(range(prob.n_clients + prob.n_sites))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for i, j in zip(prob.client.tolist(), prob.site.tolist(), strict=True):
        union(i, prob.n_clients + j)
    if prob.client_edges is not None:
        for a, b in np.asarray(prob.client_edges, dtype=np.int64).tolist():
            union(a, b)
    if prob.site_home is not None:
        for j, h in enumerate(np.asarray(prob.site_home).tolist()):
            if h >= 0:
                union(int(h), prob.n_clients + j)
    roots = np.array([find(a) for a in range(prob.n_clients + prob.n_sites)])
    out = []
    for r in sorted(set(roots[: prob.n_clients].tolist())):
        members = np.flatnonzero(roots == r)
        clients = members[members < prob.n_clients]
        sites = members[members >= prob.n_clients] - prob.n_clients
        out.append((clients, sites))
    return out


def _solve_blocks(
    prob: LocationProblem,
    *,
    solver: SolverName,
    time_limit: float | None,
    gap: float,
    threads: int | None,
    seed: int,
    msg: bool,
    heuristic_seconds: float,
    t0: float,
) -> LocationResult | None:
    """Solve independent blocks separately; None when there is one block or bounds couple them."""
    blocks = _blocks(prob)
    if len(blocks) < 2:
        return None
    block_of_site = np.full(prob.n_sites, -1, dtype=np.int64)
    for b, (_, sites) in enumerate(blocks):
        block_of_site[sites] = b
    local: list[list[SiteGroup]] = [[] for _ in blocks]
    coupling: list[SiteGroup] = []
    for g in prob.groups:
        bs = set(block_of_site[np.asarray(g.sites, dtype=np.int64)].tolist())
        if len(bs) == 1 and -1 not in bs:
            local[bs.pop()].append(g)
        else:
            coupling.append(g)
    logger.info(
        "solving %d independent blocks; %d count bound(s) span blocks and are checked after",
        len(blocks),
        len(coupling),
    )
    open_all: list[int] = []
    assignment = np.full(prob.n_clients, -1, dtype=np.int64)
    objective = bound = 0.0
    statuses: list[str] = []
    n_vars = n_cons = nnz = rounds = 0
    pair_block = block_of_site[prob.site]
    failed: list[tuple[np.ndarray, list[str]]] = []
    for b, (clients, sites) in enumerate(blocks):
        c_map = np.full(prob.n_clients, -1, dtype=np.int64)
        c_map[clients] = np.arange(len(clients))
        s_map = np.full(prob.n_sites, -1, dtype=np.int64)
        s_map[sites] = np.arange(len(sites))
        sel = pair_block == b
        edges = None
        if prob.client_edges is not None:
            e = np.asarray(prob.client_edges, dtype=np.int64).reshape(-1, 2)
            keep = (c_map[e[:, 0]] >= 0) & (c_map[e[:, 1]] >= 0)
            edges = c_map[e[keep]]
        sub = LocationProblem(
            n_clients=len(clients),
            n_sites=len(sites),
            client=c_map[prob.client[sel]],
            site=s_map[prob.site[sel]],
            cost=prob.cost[sel],
            weights=None if prob.weights is None else prob.weights[clients],
            groups=[
                SiteGroup(
                    g.name, s_map[np.asarray(g.sites, dtype=np.int64)], g.min_open, g.max_open
                )
                for g in local[b]
            ],
            fixed_open=frozenset(int(s_map[j]) for j in prob.fixed_open if s_map[j] >= 0),
            fixed_closed=frozenset(int(s_map[j]) for j in prob.fixed_closed if s_map[j] >= 0),
            client_edges=edges,
            site_home=None
            if prob.site_home is None
            else np.array([c_map[h] if h >= 0 else -1 for h in np.asarray(prob.site_home)[sites]]),
            client_load=None if prob.client_load is None else np.asarray(prob.client_load)[clients],
            site_min_load=None
            if prob.site_min_load is None
            else np.asarray(prob.site_min_load)[sites],
            site_max_load=None
            if prob.site_max_load is None
            else np.asarray(prob.site_max_load)[sites],
            site_cost=None if prob.site_cost is None else np.asarray(prob.site_cost)[sites],
        )
        remaining = (
            None if time_limit is None else max(1.0, time_limit - (time.perf_counter() - t0))
        )
        try:
            with _quiet_logs():
                r = solve(
                    sub,
                    solver=solver,
                    time_limit=remaining,
                    gap=gap,
                    threads=threads,
                    seed=seed,
                    msg=msg,
                    heuristic_seconds=heuristic_seconds,
                    decompose=False,
                )
        except InfeasibleError as exc:
            failed.append((clients, exc.problems))
            continue
        open_all += sites[r.open_sites].tolist()
        assignment[clients] = sites[r.assignment]
        objective += r.objective
        bound += r.bound
        statuses.append(r.status)
        n_vars += r.n_variables
        n_cons += r.n_constraints
        nnz += r.n_nonzeros
        rounds = max(rounds, r.rounds)
        if (b + 1) % 20 == 0 or b + 1 == len(blocks):
            logger.info(
                "solved %d of %d blocks (%.1f s)", b + 1, len(blocks), time.perf_counter() - t0
            )
    if failed:
        err = InfeasibleError(
            [
                f"clients {c[:8].tolist()}{' ...' if len(c) > 8 else ''}: {p}"
                for c, ps in failed
                for p in ps
            ]
        )
        err.client_blocks = [c for c, _ in failed]
        raise err
    opened = set(open_all)
    for g in coupling:
        n = len(opened & set(np.asarray(g.sites).tolist()))
        if n < g.min_open or (g.max_open is not None and n > g.max_open):
            logger.info(
                "count bound %s is not met by the blocks' optima; solving as a whole", g.name
            )
            return None
    return _finish(
        status="optimal" if all(st == "optimal" for st in statuses) else "feasible",
        objective=objective,
        bound=bound,
        gap=gap,
        t0=t0,
        open_sites=sorted(opened),
        assignment=assignment,
        solver=solver,
        formulation=f"{len(blocks)} blocks",
        size=(n_vars, n_cons, nnz),
        rounds=rounds,
    )


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """Keep per-block solver chatter at debug level."""
    old = logger.level
    logger.setLevel(max(old, logging.WARNING))
    swap_logger = logging.getLogger("optimizer.solver.swap")
    old_swap = swap_logger.level
    swap_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(old)
        swap_logger.setLevel(old_swap)


# --------------------------------------------------------------------------- assignment model


def _contiguous_assignment(prob: LocationProblem, open_sites: Sequence[int]) -> np.ndarray | None:
    """Grow connected service areas from the open sites' homes, cheapest claim first.

    Each client is claimed by the open site with the cheapest allowed pair among the areas it
    touches, so every area is connected by construction. Returns None when some client cannot
    be reached this way (or a site has no home).
    """
    assert prob.site_home is not None and prob.client_edges is not None
    cost = {
        (int(i), int(j)): float(c)
        for i, j, c in zip(prob.client, prob.site, prob.cost, strict=True)
    }
    nbrs: list[list[int]] = [[] for _ in range(prob.n_clients)]
    for a, b in prob.client_edges.tolist():
        nbrs[a].append(b)
        nbrs[b].append(a)
    owner = np.full(prob.n_clients, -1, dtype=np.int64)
    heap: list[tuple[float, int, int]] = []
    for j in sorted(open_sites):
        h = int(prob.site_home[j])
        if h < 0 or (h, j) not in cost or owner[h] >= 0:
            return None
        owner[h] = j
    for j in sorted(open_sites):
        for k in nbrs[int(prob.site_home[j])]:
            if (k, j) in cost:
                heapq.heappush(heap, (cost[(k, j)], k, j))
    while heap:
        _, i, j = heapq.heappop(heap)
        if owner[i] >= 0:
            continue
        owner[i] = j
        for k in nbrs[i]:
            if owner[k] < 0 and (k, j) in cost:
                heapq.heappush(heap, (cost[(k, j)], k, j))
    if np.any(owner < 0):
        return None
    return owner


def _loads_ok(prob: LocationProblem, assignment: np.ndarray, open_sites: Sequence[int]) -> bool:
    if prob.client_load is None:
        return True
    load = np.bincount(assignment, weights=prob.client_load, minlength=prob.n_sites)
    for j in open_sites:
        lo = np.nan if prob.site_min_load is None else prob.site_min_load[j]
        hi = np.nan if prob.site_max_load is None else prob.site_max_load[j]
        if np.isfinite(lo) and load[j] < lo - 1e-9:
            return False
        if np.isfinite(hi) and load[j] > hi + 1e-9:
            return False
    return True


def _disconnected(
    prob: LocationProblem, assignment: np.ndarray, open_sites: Sequence[int], nbrs: list[list[int]]
) -> list[tuple[int, list[int]]]:
    """Pieces of service areas cut off from their site's home: (site, clients) per piece."""
    assert prob.site_home is not None
    pieces = []
    members: dict[int, list[int]] = {}
    for i, j in enumerate(assignment.tolist()):
        members.setdefault(j, []).append(i)
    for j in sorted(open_sites):
        area = set(members.get(j, []))
        home = int(prob.site_home[j])
        seen: set[int] = set()
        if home in area:
            stack = [home]
            seen.add(home)
            while stack:
                u = stack.pop()
                for v in nbrs[u]:
                    if v in area and v not in seen:
                        seen.add(v)
                        stack.append(v)
        rest = sorted(area - seen)
        while rest:
            comp = {rest[0]}
            stack = [rest[0]]
            while stack:
                u = stack.pop()
                for v in nbrs[u]:
                    if v in area and v not in comp and v not in seen:
                        comp.add(v)
                        stack.append(v)
            pieces.append((j, sorted(comp)))
            rest = [i for i in rest if i not in comp]
    return pieces


def _solve_assignment(
    prob: LocationProblem,
    *,
    solver: SolverName,
    time_limit: float | None,
    gap: float,
    threads: int | None,
    seed: int,
    msg: bool,
    heuristic_seconds: float,
    t0: float,
) -> LocationResult:
    """Solve with explicit assignment variables: loads and contiguity (cuts added in rounds).

    Contiguity cuts: if client ``i`` is served by site ``j`` and a set ``C`` holds ``i`` but not
    ``j``'s home, then some neighbour of ``C`` outside it is served by ``j`` too:
    ``x_ij <= sum(x_kj for k in N(C))``. Cuts are added for every cut-off piece of every
    solution until none is left, so the final plan is optimal for the contiguous problem.
    """
    contiguous = prob.client_edges is not None
    home = prob.site_home if prob.site_home is not None else np.full(prob.n_sites, -1)
    nbrs: list[list[int]] = [[] for _ in range(prob.n_clients)]
    if contiguous:
        assert prob.client_edges is not None
        for a, b in np.asarray(prob.client_edges, dtype=np.int64).tolist():
            if a != b:
                nbrs[a].append(b)
                nbrs[b].append(a)
    pair_of = {
        (int(i), int(j)): k for k, (i, j) in enumerate(zip(prob.client, prob.site, strict=True))
    }
    fixed_closed = set(prob.fixed_closed)
    if contiguous:
        # a site whose home may not be served by it can never open
        for j in range(prob.n_sites):
            if home[j] < 0 or (int(home[j]), j) not in pair_of:
                fixed_closed.add(j)
        bad = sorted(prob.fixed_open & fixed_closed)
        if bad:
            raise InfeasibleError(f"sites {bad} are pinned open but cannot serve their own home")

    # starting plan: nearest-site optimum, then connected areas grown from it
    start_assign: np.ndarray | None = None
    start_open: list[int] | None = None
    relaxed = LocationProblem(
        prob.n_clients,
        prob.n_sites,
        prob.client,
        prob.site,
        prob.cost,
        prob.weights,
        prob.p,
        prob.groups,
        prob.fixed_open,
        frozenset(fixed_closed),
        site_cost=prob.site_cost,
    )
    greedy = _greedy_start(relaxed)
    if greedy is not None:
        greedy = local_search(relaxed, greedy, time_limit=heuristic_seconds)
        cand = (
            _contiguous_assignment(prob, greedy) if contiguous else relaxed.objective_of(greedy)[1]
        )
        if cand is not None and np.all(cand >= 0) and _loads_ok(prob, cand, greedy):
            start_open, start_assign = greedy, cand

    model = pulp.LpProblem("assignment", pulp.LpMinimize)
    y = [pulp.LpVariable(f"y{j}", cat=pulp.LpBinary) for j in range(prob.n_sites)]
    for j in prob.fixed_open:
        y[j].lowBound = 1
    for j in fixed_closed:
        y[j].upBound = 0
    x = [pulp.LpVariable(f"x{k}", cat=pulp.LpBinary) for k in range(len(prob.cost))]
    assert prob.weights is not None
    model.setObjective(
        pulp.LpAffineExpression(
            [
                (x[k], float(prob.weights[i] * c))
                for k, (i, c) in enumerate(zip(prob.client, prob.cost, strict=True))
            ]
            + (
                []
                if prob.site_cost is None
                else [(y[j], float(c)) for j, c in enumerate(prob.site_cost) if c != 0]
            )
        )
    )
    by_client: list[list[int]] = [[] for _ in range(prob.n_clients)]
    by_site: list[list[int]] = [[] for _ in range(prob.n_sites)]
    for k, (i, j) in enumerate(zip(prob.client.tolist(), prob.site.tolist(), strict=True)):
        by_client[i].append(k)
        by_site[j].append(k)
    nnz = 0
    for i, ks in enumerate(by_client):
        model.addConstraint(
            pulp.LpConstraint([(x[k], 1.0) for k in ks], pulp.LpConstraintEQ, f"assign{i}", 1)
        )
        nnz += len(ks)
    for k, j in enumerate(prob.site.tolist()):
        model.addConstraint(
            pulp.LpConstraint([(x[k], 1.0), (y[j], -1.0)], pulp.LpConstraintLE, f"link{k}", 0)
        )
        nnz += 2
    if contiguous:
        for j in range(prob.n_sites):
            if j in fixed_closed:
                continue
            k = pair_of[(int(home[j]), j)]
            model.addConstraint(
                pulp.LpConstraint([(x[k], 1.0), (y[j], -1.0)], pulp.LpConstraintGE, f"home{j}", 0)
            )
            nnz += 2
    if prob.client_load is not None:
        load = np.asarray(prob.client_load, dtype=float)
        for j in range(prob.n_sites):
            if j in fixed_closed or not by_site[j]:
                continue
            terms = [(x[k], float(load[prob.client[k]])) for k in by_site[j]]
            lo = np.nan if prob.site_min_load is None else float(prob.site_min_load[j])
            hi = np.nan if prob.site_max_load is None else float(prob.site_max_load[j])
            if np.isfinite(lo) and lo > 0:
                model.addConstraint(
                    pulp.LpConstraint(terms + [(y[j], -lo)], pulp.LpConstraintGE, f"minload{j}", 0)
                )
                nnz += len(terms) + 1
            if np.isfinite(hi):
                model.addConstraint(
                    pulp.LpConstraint(terms + [(y[j], -hi)], pulp.LpConstraintLE, f"maxload{j}", 0)
                )
                nnz += len(terms) + 1
    nnz += _add_count_bounds(model, y, prob)

    rounds, n_cuts = 0, 0
    best: tuple[float, np.ndarray, list[int]] | None = None
    if start_assign is not None and start_open is not None:
        best = (_assign_objective(prob, start_assign, start_open), start_assign, sorted(start_open))
        logger.info("heuristic start: %d sites open, objective %.6g", len(start_open), best[0])
    bound = -math.inf
    status: Status = "no_solution"
    while True:
        rounds += 1
        remaining = (
            None if time_limit is None else max(1.0, time_limit - (time.perf_counter() - t0))
        )
        start_values = None
        if best is not None:
            start_values = {f"y{j}": 1.0 for j in best[2]}
            for i, j in enumerate(best[1].tolist()):
                start_values[f"x{pair_of[(i, j)]}"] = 1.0
        logger.info(
            "round %d: assignment model with %s variables, %s constraints (%d contiguity cuts)",
            rounds,
            f"{len(x) + len(y):,}",
            f"{len(model.constraints):,}",
            n_cuts,
        )
        cutoff = None
        if solver == "highs" and best is not None:  # see _run: a cutoff, not a MIP start
            cutoff, start_values = best[0] + 1e-6 * max(1.0, abs(best[0])), None
        mip_bound, solved = _run_model(
            model, start_values, solver, remaining, gap, threads, seed, msg, cutoff=cutoff
        )
        if solved == "cutoff":
            # nothing in this round's model beats the best connected plan: it is optimal
            bound = max(bound, mip_bound)
            status = "optimal"
            break
        if solved == "infeasible":
            raise InfeasibleError(
                "no plan satisfies every constraint at once"
                + (" with connected service areas" if contiguous else "")
                + " (count limits, pins, allowed pairs and load bounds conflict)"
            )
        xs = np.array([v.varValue or 0.0 for v in x])
        chosen = xs > 0.5
        if chosen.sum() != prob.n_clients:
            break  # no incumbent (time limit): keep the heuristic start, if any
        assignment = np.full(prob.n_clients, -1, dtype=np.int64)
        assignment[prob.client[chosen]] = prob.site[chosen]
        open_now = sorted(
            set(assignment.tolist()) | {j for j, v in enumerate(y) if (v.varValue or 0) > 0.5}
        )
        pieces = _disconnected(prob, assignment, open_now, nbrs) if contiguous else []
        if not pieces:
            value = _assign_objective(prob, assignment, open_now)
            if best is None or value < best[0] - 1e-9 * max(1.0, abs(value)) or solved == "optimal":
                best = (value, assignment, open_now)
            bound = mip_bound if np.isfinite(mip_bound) else bound
            status = solved
            break
        bound = max(bound, mip_bound) if np.isfinite(mip_bound) else bound
        for j, comp in pieces:
            comp_set = set(comp)
            boundary = sorted({v for u in comp for v in nbrs[u] if v not in comp_set})
            rhs = [(x[pair_of[(v, j)]], -1.0) for v in boundary if (v, j) in pair_of]
            for i in comp:
                model.addConstraint(
                    pulp.LpConstraint(
                        [(x[pair_of[(i, j)]], 1.0)] + rhs, pulp.LpConstraintLE, f"cut{n_cuts}", 0
                    )
                )
                n_cuts += 1
        logger.info(
            "round %d: %d cut-off piece(s) of service areas; adding cuts", rounds, len(pieces)
        )
        if time_limit is not None and time.perf_counter() - t0 >= time_limit:
            status = "feasible" if best is not None else "no_solution"
            break
        if best is not None and contiguous:
            # repair this round's open sites into connected areas as the next start
            repaired = _contiguous_assignment(prob, open_now)
            if repaired is not None and _loads_ok(prob, repaired, open_now):
                value = _assign_objective(prob, repaired, open_now)
                if value < best[0]:
                    best = (value, repaired, open_now)

    if best is None:
        raise SolverError(
            f"{solver} found no feasible plan within {time_limit} s; raise the time limit"
        )
    objective, assignment, open_sites = best
    return _finish(
        status=status,
        objective=objective,
        bound=bound,
        gap=gap,
        t0=t0,
        open_sites=open_sites,
        assignment=assignment,
        solver=solver,
        formulation="assignment+contiguity" if contiguous else "assignment",
        size=(len(x) + len(y), len(model.constraints), nnz),
        rounds=rounds,
    )


def _assign_objective(
    prob: LocationProblem, assignment: np.ndarray, open_sites: Sequence[int]
) -> float:
    cost = {
        (int(i), int(j)): float(c)
        for i, j, c in zip(prob.client, prob.site, prob.cost, strict=True)
    }
    assert prob.weights is not None
    total = float(
        sum(prob.weights[i] * cost[(i, int(j))] for i, j in enumerate(assignment.tolist()))
    )
    if prob.site_cost is not None:
        total += float(np.asarray(prob.site_cost)[sorted(open_sites)].sum())
    return total


# --------------------------------------------------------------------------- public p-median


def p_median(
    costs: Any,
    p: int,
    weights: Sequence[float] | np.ndarray | None = None,
    **options: Any,
) -> LocationResult:
    """Solve a p-median problem on a cost matrix to proven optimality.

    Parameters
    ----------
    costs
        Rows are clients, columns are candidate sites. A dense 2-D array (``inf`` or ``nan``
        marks a forbidden pair), a scipy sparse matrix (stored entries are the allowed pairs),
        or a long table (pandas DataFrame with columns ``client``, ``site``, ``cost`` holding
        0-based integer indices).
    p
        Number of sites to open.
    weights
        Client weights (default 1 each).
    **options
        Passed to :func:`solve`: ``solver``, ``time_limit``, ``gap``, ``threads``, ``seed``,
        ``msg``, plus ``fixed_open`` / ``fixed_closed`` (iterables of site indices).

    Returns
    -------
    LocationResult
        ``objective``, ``open_sites`` (column indices), ``assignment`` (column index per row),
        ``status``, ``bound``, ``gap`` and ``seconds``.

    Examples
    --------
    >>> import numpy as np
    >>> from optimizer import p_median
    >>> d = np.array([[0, 4, 9], [4, 0, 5], [9, 5, 0]], dtype=float)
    >>> r = p_median(d, 1)
    >>> r.open_sites.tolist(), r.objective
    ([1], 9.0)
    """
    client, site, cost, n_clients, n_sites = _cost_table(costs)
    fixed_open = frozenset(int(j) for j in options.pop("fixed_open", ()))
    fixed_closed = frozenset(int(j) for j in options.pop("fixed_closed", ()))
    prob = LocationProblem(
        n_clients=n_clients,
        n_sites=n_sites,
        client=client,
        site=site,
        cost=cost,
        weights=None if weights is None else np.asarray(weights, dtype=np.float64),
        p=int(p),
        fixed_open=fixed_open,
        fixed_closed=fixed_closed,
    )
    return solve(prob, **options)


def _cost_table(costs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
    """Turn a dense, sparse or long cost table into parallel pair arrays."""
    # pandas is imported only for a table that comes from it (the import alone costs ~0.3 s)
    pd = sys.modules.get("pandas") if type(costs).__module__.startswith("pandas") else None
    if pd is not None and isinstance(costs, pd.DataFrame):
        missing = {"client", "site", "cost"} - set(costs.columns)
        if missing:
            raise PolicyError(
                f"a long cost table needs columns client, site, cost; missing {sorted(missing)}"
            )
        client = costs["client"].to_numpy(dtype=np.int64)
        site = costs["site"].to_numpy(dtype=np.int64)
        cost = costs["cost"].to_numpy(dtype=np.float64)
        return client, site, cost, int(client.max()) + 1, int(site.max()) + 1
    try:
        import scipy.sparse as sp

        if sp.issparse(costs):
            coo = sp.coo_array(costs)
            return (
                coo.row.astype(np.int64),
                coo.col.astype(np.int64),
                coo.data.astype(np.float64),
                int(coo.shape[0]),
                int(coo.shape[1]),
            )
    except ImportError:  # pragma: no cover
        pass
    dense = np.asarray(costs, dtype=np.float64)
    if dense.ndim != 2:
        raise PolicyError(f"costs must be a 2-D matrix, got {dense.ndim} dimension(s)")
    rows, cols = np.nonzero(np.isfinite(dense))
    return (
        rows.astype(np.int64),
        cols.astype(np.int64),
        dense[rows, cols],
        dense.shape[0],
        dense.shape[1],
    )


def min_cover(
    sets: Sequence[Sequence[int]], n_items: int, *, time_limit: float = 60.0
) -> list[int]:
    """Return a smallest family of sets that covers every item (lowest indices on ties).

    Used to decide the fewest exceptions a rule needs, before the main model runs.

    Parameters
    ----------
    sets
        ``sets[k]`` lists the items that set ``k`` covers.
    n_items
        Items are ``0 .. n_items - 1``; every one must be covered by some set.
    time_limit
        Seconds for the solver.

    Returns
    -------
    list of int
        Indices of the chosen sets.

    Raises
    ------
    InfeasibleError
        If some item lies in no set.
    """
    covering: list[list[int]] = [[] for _ in range(n_items)]
    for k, members in enumerate(sets):
        for item in members:
            covering[int(item)].append(k)
    lonely = [i for i, c in enumerate(covering) if not c]
    if lonely:
        raise InfeasibleError(f"items {lonely[:20]} lie in no set")
    if n_items == 0:
        return []
    model = pulp.LpProblem("cover", pulp.LpMinimize)
    x = [pulp.LpVariable(f"s{k}", cat=pulp.LpBinary) for k in range(len(sets))]
    # a tiny tie-break towards low indices keeps the answer deterministic
    model.setObjective(
        pulp.LpAffineExpression([(v, 1.0 + 1e-6 * k / max(1, len(x))) for k, v in enumerate(x)])
    )
    for i, ks in enumerate(covering):
        model.addConstraint(
            pulp.LpConstraint([(x[k], 1.0) for k in ks], pulp.LpConstraintGE, f"c{i}", 1)
        )
    model.solve(_HiGHS(msg=False, timeLimit=time_limit))
    return [k for k, v in enumerate(x) if (v.varValue or 0.0) > 0.5]
