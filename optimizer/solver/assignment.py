"""The assignment MIP: explicit client-to-site variables for loads and contiguous areas.

Contiguity cuts: if client ``i`` is served by site ``j`` and a set ``C`` holds ``i`` but not
``j``'s home, then some neighbour of ``C`` outside it is served by ``j`` too:
``x_ij <= sum(x_kj for k in N(C))``. Cuts are added for every cut-off piece of every solution
until none is left, so the final plan is optimal for the contiguous problem.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from optimizer.errors import InfeasibleError, SolverError
from optimizer.solver.budget import Budget
from optimizer.solver.greedy import greedy_start
from optimizer.solver.highs import MipOptions, cutoff_of
from optimizer.solver.matrix import MatrixModel, MatrixSolver, add_count_rows
from optimizer.solver.problem import LocationProblem, LocationResult, SolveStatus, finish
from optimizer.solver.swap import local_search

logger = logging.getLogger(__name__)

Plan = tuple[float, np.ndarray, list[int]]
"""A plan of the assignment model: (objective, site per client, sorted open sites)."""


def contiguous_assignment(prob: LocationProblem, open_sites: Sequence[int]) -> np.ndarray | None:
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


def loads_ok(prob: LocationProblem, assignment: np.ndarray, open_sites: Sequence[int]) -> bool:
    """Return whether every open site's load lies within its bounds (True without loads)."""
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


def disconnected(
    prob: LocationProblem, assignment: np.ndarray, open_sites: Sequence[int], nbrs: list[list[int]]
) -> list[tuple[int, list[int]]]:
    """Return the pieces of service areas cut off from their site's home: (site, clients)."""
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


@dataclass
class _Model:
    """The assignment model and the indices the rounds need.

    Columns ``0..n_pairs-1`` are the pairs' ``x``, then one ``y`` per site.
    """

    matrix: MatrixModel
    n_pairs: int
    pair_of: dict[tuple[int, int], int]
    nbrs: list[list[int]]
    contiguous: bool

    def y(self, j: int) -> int:
        """Return the column of site ``j``'s ``y``."""
        return self.n_pairs + j


@dataclass
class _Rounds:
    """The state of the cut rounds: the best connected plan, bound, status and counters."""

    best: Plan | None
    bound: float = -math.inf
    status: SolveStatus = SolveStatus.NO_SOLUTION
    rounds: int = 0
    n_cuts: int = 0
    timed_out: bool = False


def solve_assignment(
    prob: LocationProblem, opts: MipOptions, budget: Budget, *, heuristic_seconds: float
) -> LocationResult:
    """Solve with explicit assignment variables: loads and contiguity (cuts added in rounds).

    Parameters
    ----------
    prob
        The problem (with loads, or adjacency and homes for contiguity).
    opts
        The MIP solver and its options.
    budget
        The call's time budget; at its end the best connected plan so far is returned.
    heuristic_seconds
        Time for the swap search of the starting plan.

    Returns
    -------
    LocationResult
        The plan, optimal unless the time ran out.

    Raises
    ------
    InfeasibleError
        If no plan can satisfy the constraints.
    SolverError
        If no plan at all was found in time.
    """
    contiguous = prob.client_edges is not None
    nbrs = _neighbours(prob)
    pair_of = {
        (int(i), int(j)): k for k, (i, j) in enumerate(zip(prob.client, prob.site, strict=True))
    }
    fixed_closed = _closed_sites(prob, pair_of)
    best = _start_plan(prob, fixed_closed, heuristic_seconds, budget)
    m = _build(prob, fixed_closed, pair_of, nbrs)
    state = _Rounds(best)
    if best is not None:
        logger.debug("heuristic start: %d sites open, objective %.6g", len(best[2]), best[0])
    _cut_rounds(prob, m, state, opts, budget)
    if state.best is None:
        raise SolverError(
            f"{opts.solver} found no feasible plan within {budget.seconds} s; raise the time limit"
        )
    objective, assignment, open_sites = state.best
    return finish(
        prob,
        status=state.status,
        objective=objective,
        bound=state.bound,
        gap=opts.gap,
        budget=budget,
        open_sites=open_sites,
        assignment=assignment,
        solver=opts.solver,
        formulation="assignment+contiguity" if contiguous else "assignment",
        size=(m.matrix.n_cols, m.matrix.n_rows, m.matrix.nnz),
        rounds=state.rounds,
        time_limit_reached=state.timed_out,
    )


def _neighbours(prob: LocationProblem) -> list[list[int]]:
    """Return each client's neighbours in the adjacency (empty lists without contiguity)."""
    nbrs: list[list[int]] = [[] for _ in range(prob.n_clients)]
    if prob.client_edges is not None:
        for a, b in np.asarray(prob.client_edges, dtype=np.int64).tolist():
            if a != b:
                nbrs[a].append(b)
                nbrs[b].append(a)
    return nbrs


def _closed_sites(prob: LocationProblem, pair_of: dict[tuple[int, int], int]) -> set[int]:
    """Return the sites that may not open: fixed closed, and with contiguity homeless ones.

    A site whose home may not be served by it can never open.

    Raises
    ------
    InfeasibleError
        If such a site is pinned open.
    """
    fixed_closed = set(prob.fixed_closed)
    if prob.client_edges is None:
        return fixed_closed
    home = prob.site_home if prob.site_home is not None else np.full(prob.n_sites, -1)
    for j in range(prob.n_sites):
        if home[j] < 0 or (int(home[j]), j) not in pair_of:
            fixed_closed.add(j)
    bad = sorted(prob.fixed_open & fixed_closed)
    if bad:
        raise InfeasibleError(f"sites {bad} are pinned open but cannot serve their own home")
    return fixed_closed


def _start_plan(
    prob: LocationProblem, fixed_closed: set[int], heuristic_seconds: float, budget: Budget
) -> Plan | None:
    """Return a starting plan: the nearest-site heuristic, then connected areas grown from it.

    ``None`` when the heuristic finds no plan, or its areas break a load bound.
    """
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
    greedy = greedy_start(relaxed)
    if greedy is None:
        return None
    greedy = local_search(relaxed, greedy, time_limit=budget.cap(heuristic_seconds))
    if prob.client_edges is not None:
        cand = contiguous_assignment(prob, greedy)
    else:
        cand = relaxed.objective_of(greedy)[1]
    if cand is None or not np.all(cand >= 0) or not loads_ok(prob, cand, greedy):
        return None
    return assign_objective(prob, cand, greedy), cand, sorted(greedy)


def _build(
    prob: LocationProblem,
    fixed_closed: set[int],
    pair_of: dict[tuple[int, int], int],
    nbrs: list[list[int]],
) -> _Model:
    """Build the assignment model: assign, link, home, load and count constraints."""
    n_pairs, n_sites = len(prob.cost), prob.n_sites
    assert prob.weights is not None
    cost = np.zeros(n_pairs + n_sites)
    cost[:n_pairs] = np.asarray(prob.weights, float)[prob.client] * np.asarray(prob.cost, float)
    if prob.site_cost is not None:
        cost[n_pairs:] = np.asarray(prob.site_cost, dtype=float)
    upper = np.ones(n_pairs + n_sites)
    lower = np.zeros(n_pairs + n_sites)
    lower[[n_pairs + j for j in prob.fixed_open]] = 1.0
    upper[[n_pairs + j for j in fixed_closed]] = 0.0
    mat = MatrixModel(cost, lower, upper, np.ones(n_pairs + n_sites, dtype=bool))
    m = _Model(mat, n_pairs, pair_of, nbrs, prob.client_edges is not None)
    client = np.asarray(prob.client, dtype=np.int64)
    order = np.argsort(client, kind="stable")
    bounds = np.searchsorted(client[order], np.arange(prob.n_clients + 1))
    for i in range(prob.n_clients):
        ks = order[bounds[i] : bounds[i + 1]]
        mat.add_row(ks, np.ones(len(ks)), 1.0, 1.0)  # assign
    site = np.asarray(prob.site, dtype=np.int64)
    mat.add_pairs(np.arange(n_pairs), n_pairs + site, -1.0, -np.inf, 0.0)  # link x <= y
    if prob.client_edges is not None:
        home = prob.site_home if prob.site_home is not None else np.full(n_sites, -1)
        js = [j for j in range(n_sites) if j not in fixed_closed]
        homes = np.array([pair_of[(int(home[j]), j)] for j in js], dtype=np.int64)
        mat.add_pairs(homes, n_pairs + np.array(js, dtype=np.int64), -1.0, 0.0, np.inf)  # x >= y
    _add_loads(m, prob, fixed_closed, site)
    add_count_rows(mat, n_pairs, prob)
    return m


def _add_loads(m: _Model, prob: LocationProblem, fixed_closed: set[int], site: np.ndarray) -> None:
    """Add each open site's load bounds: ``lo·y_j <= Σ load_i x_ij <= hi·y_j``."""
    if prob.client_load is None:
        return
    load = np.asarray(prob.client_load, dtype=float)[np.asarray(prob.client)]
    order = np.argsort(site, kind="stable")
    bounds = np.searchsorted(site[order], np.arange(prob.n_sites + 1))
    for j in range(prob.n_sites):
        ks = order[bounds[j] : bounds[j + 1]]
        if j in fixed_closed or not len(ks):
            continue
        idx = np.append(ks, m.y(j))
        lo = np.nan if prob.site_min_load is None else float(prob.site_min_load[j])
        hi = np.nan if prob.site_max_load is None else float(prob.site_max_load[j])
        if np.isfinite(lo) and lo > 0:
            m.matrix.add_row(idx, np.append(load[ks], -lo), 0.0, np.inf)
        if np.isfinite(hi):
            m.matrix.add_row(idx, np.append(load[ks], -hi), -np.inf, 0.0)


def _cut_rounds(
    prob: LocationProblem, m: _Model, s: _Rounds, opts: MipOptions, budget: Budget
) -> None:
    """Solve the model, cut off disconnected pieces, and solve again until none is left.

    Stops early, with the best connected plan so far, when the time runs out. One solver
    instance serves every round: a round passes it only the cuts it adds.
    """
    solver = MatrixSolver(m.matrix, opts)
    while True:
        if budget.expired():
            s.timed_out = True
            s.status = SolveStatus.FEASIBLE if s.best is not None else s.status
            return
        s.rounds += 1
        logger.debug(
            "round %d: assignment model with %s variables, %s constraints (%d contiguity cuts)",
            s.rounds,
            f"{m.matrix.n_cols:,}",
            f"{m.matrix.n_rows:,}",
            s.n_cuts,
        )
        cutoff = start = None
        if s.best is not None:
            if opts.solver == "highs":  # a cutoff, not a MIP start
                cutoff = cutoff_of(s.best[0])
            else:
                start = _start_vector(m, s.best)
        run = solver.run(budget, cutoff=cutoff, start=start)
        outcome = run.outcome
        s.timed_out = outcome.timed_out
        if outcome.cutoff:
            # nothing in this round's model beats the best connected plan: it is optimal
            s.bound = max(s.bound, outcome.bound)
            s.status = SolveStatus.OPTIMAL
            return
        if outcome.status == SolveStatus.INFEASIBLE:
            raise InfeasibleError(
                "no plan satisfies every constraint at once"
                + (" with connected service areas" if m.contiguous else "")
                + " (count limits, pins, allowed pairs and load bounds conflict)"
            )
        found = _solution(prob, m, run.values)
        if found is None:
            return  # no incumbent (time limit): keep the heuristic start, if any
        assignment, open_now = found
        pieces = disconnected(prob, assignment, open_now, m.nbrs) if m.contiguous else []
        if not pieces:
            value = assign_objective(prob, assignment, open_now)
            if (
                s.best is None
                or value < s.best[0] - 1e-9 * max(1.0, abs(value))
                or outcome.status == SolveStatus.OPTIMAL
            ):
                s.best = (value, assignment, open_now)
            s.bound = outcome.bound if np.isfinite(outcome.bound) else s.bound
            s.status = outcome.status
            return
        s.bound = max(s.bound, outcome.bound) if np.isfinite(outcome.bound) else s.bound
        s.n_cuts = _add_cuts(m, pieces, s.n_cuts)
        logger.debug(
            "round %d: %d cut-off piece(s) of service areas; adding cuts", s.rounds, len(pieces)
        )
        if budget.expired():
            s.timed_out = True
            s.status = SolveStatus.FEASIBLE if s.best is not None else s.status
            return
        if s.best is not None and m.contiguous:
            _repair(prob, s, open_now)


def _start_vector(m: _Model, plan: Plan) -> np.ndarray:
    """Return a plan as column values (a MIP start)."""
    values = np.zeros(m.matrix.n_cols)
    values[[m.y(j) for j in plan[2]]] = 1.0
    values[[m.pair_of[(i, j)] for i, j in enumerate(plan[1].tolist())]] = 1.0
    return values


def _solution(
    prob: LocationProblem, m: _Model, values: np.ndarray | None
) -> tuple[np.ndarray, list[int]] | None:
    """Return the solver's assignment and open sites, or None when it has no full solution."""
    if values is None:
        return None
    chosen = values[: m.n_pairs] > 0.5
    if chosen.sum() != prob.n_clients:
        return None
    assignment = np.full(prob.n_clients, -1, dtype=np.int64)
    assignment[prob.client[chosen]] = prob.site[chosen]
    opened = np.flatnonzero(values[m.n_pairs :] > 0.5).tolist()
    return assignment, sorted(set(assignment.tolist()) | set(opened))


def _add_cuts(m: _Model, pieces: list[tuple[int, list[int]]], n_cuts: int) -> int:
    """Add a contiguity cut for every client of every cut-off piece; return the cut count."""
    for j, comp in pieces:
        comp_set = set(comp)
        boundary = sorted({v for u in comp for v in m.nbrs[u] if v not in comp_set})
        rhs = [m.pair_of[(v, j)] for v in boundary if (v, j) in m.pair_of]
        vals = np.array([1.0] + [-1.0] * len(rhs))
        for i in comp:
            m.matrix.add_row(np.array([m.pair_of[(i, j)], *rhs]), vals, -np.inf, 0.0)
            n_cuts += 1
    return n_cuts


def _repair(prob: LocationProblem, s: _Rounds, open_now: list[int]) -> None:
    """Repair a round's open sites into connected areas; keep them if they beat the best."""
    assert s.best is not None
    repaired = contiguous_assignment(prob, open_now)
    if repaired is not None and loads_ok(prob, repaired, open_now):
        value = assign_objective(prob, repaired, open_now)
        if value < s.best[0]:
            s.best = (value, repaired, open_now)


def assign_objective(
    prob: LocationProblem, assignment: np.ndarray, open_sites: Sequence[int]
) -> float:
    """Return the weighted cost of an explicit assignment, plus the open sites' costs."""
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
