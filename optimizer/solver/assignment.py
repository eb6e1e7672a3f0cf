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
import pulp

from optimizer.errors import InfeasibleError, SolverError
from optimizer.solver.budget import Budget
from optimizer.solver.greedy import greedy_start
from optimizer.solver.highs import MipOptions, add_count_bounds, cutoff_of, run_model
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
    """The assignment model and the indices the rounds need."""

    model: pulp.LpProblem
    x: list[pulp.LpVariable]
    y: list[pulp.LpVariable]
    nnz: int
    pair_of: dict[tuple[int, int], int]
    nbrs: list[list[int]]
    contiguous: bool


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
        size=(len(m.x) + len(m.y), len(m.model.constraints), m.nnz),
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
    if prob.client_edges is not None:
        home = prob.site_home if prob.site_home is not None else np.full(prob.n_sites, -1)
        for j in range(prob.n_sites):
            if j in fixed_closed:
                continue
            k = pair_of[(int(home[j]), j)]
            model.addConstraint(
                pulp.LpConstraint([(x[k], 1.0), (y[j], -1.0)], pulp.LpConstraintGE, f"home{j}", 0)
            )
            nnz += 2
    nnz += _add_loads(model, x, y, prob, fixed_closed, by_site)
    nnz += add_count_bounds(model, y, prob)
    return _Model(model, x, y, nnz, pair_of, nbrs, prob.client_edges is not None)


def _add_loads(
    model: pulp.LpProblem,
    x: list[pulp.LpVariable],
    y: list[pulp.LpVariable],
    prob: LocationProblem,
    fixed_closed: set[int],
    by_site: list[list[int]],
) -> int:
    """Add each open site's load bounds; return the nonzeros added."""
    if prob.client_load is None:
        return 0
    nnz = 0
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
    return nnz


def _cut_rounds(
    prob: LocationProblem, m: _Model, s: _Rounds, opts: MipOptions, budget: Budget
) -> None:
    """Solve the model, cut off disconnected pieces, and solve again until none is left.

    Stops early, with the best connected plan so far, when the time runs out.
    """
    while True:
        if budget.expired():
            s.timed_out = True
            s.status = SolveStatus.FEASIBLE if s.best is not None else s.status
            return
        s.rounds += 1
        start_values = None
        if s.best is not None:
            start_values = {f"y{j}": 1.0 for j in s.best[2]}
            for i, j in enumerate(s.best[1].tolist()):
                start_values[f"x{m.pair_of[(i, j)]}"] = 1.0
        logger.debug(
            "round %d: assignment model with %s variables, %s constraints (%d contiguity cuts)",
            s.rounds,
            f"{len(m.x) + len(m.y):,}",
            f"{len(m.model.constraints):,}",
            s.n_cuts,
        )
        cutoff = None
        if opts.solver == "highs" and s.best is not None:  # a cutoff, not a MIP start
            cutoff, start_values = cutoff_of(s.best[0], m.model), None
        outcome = run_model(m.model, start_values, opts, budget, cutoff=cutoff)
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
        found = _solution(prob, m)
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


def _solution(prob: LocationProblem, m: _Model) -> tuple[np.ndarray, list[int]] | None:
    """Return the solver's assignment and open sites, or None when it has no full solution."""
    xs = np.array([v.varValue or 0.0 for v in m.x])
    chosen = xs > 0.5
    if chosen.sum() != prob.n_clients:
        return None
    assignment = np.full(prob.n_clients, -1, dtype=np.int64)
    assignment[prob.client[chosen]] = prob.site[chosen]
    open_now = sorted(
        set(assignment.tolist()) | {j for j, v in enumerate(m.y) if (v.varValue or 0) > 0.5}
    )
    return assignment, open_now


def _add_cuts(m: _Model, pieces: list[tuple[int, list[int]]], n_cuts: int) -> int:
    """Add a contiguity cut for every client of every cut-off piece; return the cut count."""
    for j, comp in pieces:
        comp_set = set(comp)
        boundary = sorted({v for u in comp for v in m.nbrs[u] if v not in comp_set})
        rhs = [(m.x[m.pair_of[(v, j)]], -1.0) for v in boundary if (v, j) in m.pair_of]
        for i in comp:
            m.model.addConstraint(
                pulp.LpConstraint(
                    [(m.x[m.pair_of[(i, j)]], 1.0)] + rhs, pulp.LpConstraintLE, f"cut{n_cuts}", 0
                )
            )
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
