"""The problem and result types of the solver core, and the checks every solve starts with.

A :class:`LocationProblem` holds clients with weights, candidate sites, the allowed (client,
site) pairs with their costs, and side constraints on which sites open; a
:class:`LocationResult` holds the plan a solve returns, with its :class:`SolveStatus`.
"""

from __future__ import annotations

import enum
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from optimizer.errors import InfeasibleError, PolicyError
from optimizer.solver.budget import Budget

__all__ = [
    "LocationProblem",
    "LocationResult",
    "SiteGroup",
    "SolveStatus",
    "check_presolve",
    "finish",
]

logger = logging.getLogger(__name__)


class SolveStatus(enum.StrEnum):
    """How a solve ended; compares equal to its string value (``status == "optimal"``)."""

    OPTIMAL = "optimal"
    """Proven optimal within the gap tolerance."""
    FEASIBLE = "feasible"
    """A plan with a gap (for example at the time limit)."""
    NO_SOLUTION = "no_solution"
    """The solver stopped without a plan of its own."""
    INFEASIBLE = "infeasible"
    """No plan satisfies the constraints."""


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

    def simple_bound(self) -> float:
        """Return a lower bound that needs no solver: every client at its cheapest allowed site.

        Site costs count only where negative (a bonus every site could take). Used as the bound
        of a plan returned at the time limit before any solver bound was proven.

        Returns
        -------
        float
            The bound (``-inf`` when a client has no allowed pair).
        """
        assert self.weights is not None
        best = np.full(self.n_clients, np.inf)
        np.minimum.at(best, self.client, self.cost)
        if not np.all(np.isfinite(best)):
            return -math.inf
        total = float(np.sum(self.weights * best))
        if self.site_cost is not None:
            total += float(np.minimum(np.asarray(self.site_cost, dtype=float), 0.0).sum())
        return total


@dataclass(frozen=True)
class LocationResult:
    """What a solve returns.

    Attributes
    ----------
    status
        A :class:`SolveStatus`: ``optimal`` (proven within the gap tolerance), ``feasible`` (a
        plan with a gap, e.g. at the time limit), ``infeasible``, or ``no_solution``.
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
    time_limit_reached
        Whether the call stopped because its time ran out: the plan is the best found so far,
        with its bound and gap (status ``feasible``).
    """

    status: SolveStatus
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
    time_limit_reached: bool = False

    def __repr__(self) -> str:
        return (
            f"LocationResult(status={str(self.status)!r}, objective={self.objective:,.6g}, "
            f"bound={self.bound:,.6g}, gap={self.gap:.2e}, open={len(self.open_sites)}, "
            f"seconds={self.seconds:.2f}, variables={self.n_variables:,})"
        )


# --------------------------------------------------------------------------- checks


def check_presolve(prob: LocationProblem) -> None:
    """Raise InfeasibleError with numbers when the problem cannot be feasible.

    Parameters
    ----------
    prob
        The problem to check before any model is built.

    Raises
    ------
    InfeasibleError
        Listing every problem found (clients without a usable site, group and ``p`` bounds
        that pinned or closed sites make impossible).
    """
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


def finish(
    prob: LocationProblem,
    *,
    status: SolveStatus | str,
    objective: float,
    bound: float,
    gap: float,
    budget: Budget,
    open_sites: Sequence[int],
    assignment: np.ndarray,
    solver: str,
    formulation: str,
    size: tuple[int, int, int],
    rounds: int,
    nodes: int = 0,
    time_limit_reached: bool = False,
) -> LocationResult:
    """Turn a solve's outcome into a result: clamp the bound, compute the gap, settle status.

    A run reported optimal whose recomputed gap exceeds the tolerance, or one that ended
    without its own incumbent, is reported ``feasible``. A plan returned at the time limit
    keeps at least the bound of :meth:`LocationProblem.simple_bound`.

    Parameters
    ----------
    prob
        The problem solved.
    status
        The status the solver reported.
    objective, bound
        The plan's cost and the best proven lower bound.
    gap
        The relative gap tolerance asked for.
    budget
        The call's budget (for the wall time).
    open_sites, assignment
        The plan.
    solver, formulation, size, rounds, nodes
        What ran, as reported in :class:`LocationResult`.
    time_limit_reached
        Whether the time ran out before the solve finished.

    Returns
    -------
    LocationResult
        The result, also logged.
    """
    status = SolveStatus(status)
    if status == SolveStatus.OPTIMAL:
        time_limit_reached = False
    if time_limit_reached:
        bound = max(bound, prob.simple_bound())
    bound = min(bound, objective) if np.isfinite(bound) else bound
    rel_gap = 0.0 if objective == 0 else max(0.0, (objective - bound) / abs(objective))
    if status == SolveStatus.OPTIMAL and rel_gap > gap * 1.0001 + 1e-12:
        status = SolveStatus.FEASIBLE
    if status == SolveStatus.NO_SOLUTION:
        status = SolveStatus.FEASIBLE
    result = LocationResult(
        status=status,
        objective=objective,
        bound=bound,
        gap=rel_gap,
        seconds=budget.elapsed(),
        open_sites=np.asarray(sorted(open_sites), dtype=np.int64),
        assignment=assignment,
        solver=solver,
        formulation=formulation,
        n_variables=size[0],
        n_constraints=size[1],
        n_nonzeros=size[2],
        rounds=rounds,
        nodes=nodes,
        time_limit_reached=time_limit_reached,
    )
    logger.debug("%r", result)
    return result
