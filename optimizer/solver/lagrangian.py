r"""Lagrangian branch-and-bound for the pure p-median (private to the solver core).

Relaxing "every client is served exactly once" with one multiplier :math:`v_i` per client turns
the p-median into a problem that splits by site:

.. math::

    L(v) = \sum_i v_i + \min_{|S| = p} \sum_{j \in S} \rho_j(v), \qquad
    \rho_j(v) = f_j + \sum_i \min(0,\ c_{ij} - v_i),

a lower bound on the optimum for every :math:`v` (:math:`c_{ij}` is the weighted cost,
:math:`f_j` a per-site cost). Its maximum equals the LP bound of the strong formulation, because
the subproblem has the integrality property. Subgradient optimisation (Held, Wolfe & Crowder
1974, with Polyak's step) finds good multipliers in a few hundred cheap dense passes. The
reduced costs :math:`\rho_j` then fix sites: a site whose opening (or closing) would push the
bound past the best plan known is closed (or opened) for good. What is left is closed by a
depth-first branch-and-bound on sites, :math:`y_j = 1` then :math:`y_j = 0`, each node
warm-started from its parent's multipliers (Christofides & Beasley 1982; Beasley 1993). Every
node's Lagrangian solution is also tried as a plan, so the incumbent improves as the tree
is searched.

The search itself runs in single precision for speed; every bound used to prune or fix is
recomputed in double precision from the multipliers found, so a pruned node is proven, not
estimated. The module needs only numpy; the radius MIP (:mod:`optimizer.solver.radius`) takes
over when the tree does not close within its budget.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

logger = logging.getLogger(__name__)

# Subgradient schedule: the root gets a long run, nodes a short warm-started one. Chosen on the
# OR-Library pmed instances (benchmarks/): longer node runs give slightly fewer nodes but cost
# more time than they save.
_ROOT_ITERATIONS = 3000
_ROOT_PATIENCE = 15
_NODE_ITERATIONS = 100
_NODE_PATIENCE = 10
_MIN_STEP = 1e-4
_ROOT_PROBE = 25
_PROGRESS_SECONDS = 5.0  # log the search's state this often


@dataclass(frozen=True)
class TreeResult:
    """What :func:`branch_and_bound` returns.

    Attributes
    ----------
    proven
        Whether the tree was searched to the end: ``open_sites`` is then optimal within the
        tolerance.
    open_sites
        The best plan found (sorted site indices).
    objective
        Its cost (double precision, from the dense matrix).
    bound
        Lower bound on the optimum: the smallest bound among the nodes pruned or left open.
    nodes
        Nodes evaluated.
    root_closed
        Sites the root's reduced costs proved cannot be in a better plan (beyond those fixed
        closed by the caller); a MIP that takes over may leave them out.
    root_bound
        The root's Lagrangian bound (≈ the LP bound).
    root_v
        The root's multipliers, one per client (``None`` before the root is evaluated): in an
        optimal LP solution client *i* is served at a cost of at most about ``root_v[i]``.
    """

    proven: bool
    open_sites: list[int]
    objective: float
    bound: float
    nodes: int
    root_closed: np.ndarray
    root_bound: float
    root_v: np.ndarray | None = None


@dataclass
class _Node:
    opened: np.ndarray  # bool per site: fixed open in this subtree
    free: np.ndarray  # bool per site: still undecided
    v: np.ndarray  # warm-start multipliers (float64)
    parent_bound: float
    root: bool = False


class _Tree:
    """The state of one search: matrices, incumbent, tolerance and counters."""

    def __init__(
        self,
        costs: np.ndarray,
        p: int,
        site_cost: np.ndarray,
        integral: bool,
        gap: float,
        improve: Callable[[list[int]], list[int]] | None,
    ) -> None:
        self.c64 = costs
        self.c32 = costs.astype(np.float32)
        self.p = p
        self.f = site_cost
        self.integral = integral
        self.gap = gap
        self.improve = improve
        self.best: list[int] = []
        self.ub = math.inf

    # ---------------------------------------------------------------- incumbent

    def value(self, sites: np.ndarray) -> float:
        """Cost of opening ``sites``: each client at its cheapest one."""
        if len(sites) == 0:
            return math.inf
        return float(self.c64[:, sites].min(axis=1).sum() + self.f[sites].sum())

    def offer(self, sites: np.ndarray, *, polish: bool = False) -> None:
        """Take ``sites`` as the incumbent if it is better.

        It is first improved by local search if it already is better, or if ``polish`` asks
        for it (the root's Lagrangian plans, often near the optimum).
        """
        value = self.value(sites)
        if value >= self.ub and not polish:
            return
        chosen = sorted(int(j) for j in sites)
        if self.improve is not None and math.isfinite(value):
            improved = sorted(self.improve(chosen))
            better = self.value(np.asarray(improved, dtype=np.int64))
            if better < value:
                chosen, value = improved, better
        if value < self.ub:
            self.best, self.ub = chosen, value

    def threshold(self) -> float:
        """Return the bound at which a node cannot hold a plan better by more than the tolerance."""
        tol = self.gap * abs(self.ub)
        if self.integral:
            # every plan's cost is an integer: one below the incumbent is the next possible.
            # The margin covers rounding in a double-precision bound (~1e-13 relative).
            tol = max(tol, 1.0 - 1e-10 * max(1.0, abs(self.ub)))
        return self.ub - tol

    def rounded(self, bound: float) -> float:
        """Return a bound as reported: for integral costs, rounded up."""
        if self.integral and math.isfinite(bound):
            return float(math.ceil(bound - 1e-12 * max(1.0, abs(bound))))
        return bound

    # ---------------------------------------------------------------- bound

    def lagrangian(
        self, node: _Node, iterations: int, patience: int
    ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
        """Optimise the node's multipliers; return (bound, v, rho per site, chosen sites).

        ``rho`` is ``inf`` outside the node's sites; the bound and ``rho`` are in double
        precision for the multipliers returned. At the root, the Lagrangian plans of iterations
        25, 50, 100, 200, ... that are the best seen so far are polished by local search into
        candidate incumbents: a better incumbent both sharpens the step and lets the search
        stop early.
        """
        cols = np.flatnonzero(node.opened | node.free)
        c = self.c32[:, cols]
        f = self.f[cols].astype(np.float32)
        opened = node.opened[cols]
        free_idx = np.flatnonzero(node.free[cols])
        open_idx = np.flatnonzero(opened)
        k = self.p - len(open_idx)
        v = node.v.astype(np.float32)
        buf = np.empty_like(c)
        best_l, best_v = -math.inf, v
        alpha, stall = 2.0, 0
        target = self.threshold()
        probe_best, next_probe = math.inf, _ROOT_PROBE
        for it in range(iterations):
            np.subtract(c, v[:, None], out=buf)
            np.minimum(buf, 0.0, out=buf)
            rho = buf.sum(axis=0) + f
            chosen = _smallest(free_idx, rho, k)
            s = np.concatenate([open_idx, chosen])
            bound = float(v.sum(dtype=np.float64) + rho[s].sum(dtype=np.float64))
            if bound > best_l + 1e-9 * max(1.0, abs(bound)):
                best_l, best_v, stall = bound, v, 0
            else:
                stall += 1
                if stall >= patience:
                    alpha, stall = alpha / 2.0, 0
            if node.root and it + 1 == next_probe:
                next_probe *= 2
                plan = cols[s]
                value = self.value(plan)
                if value < probe_best:
                    probe_best = value
                    self.offer(plan, polish=True)
                    target = self.threshold()
            if best_l >= target or alpha < _MIN_STEP:
                break
            g = 1.0 - (c[:, s] < v[:, None]).sum(axis=1)
            norm = float(np.dot(g, g))
            if norm == 0.0:
                break  # every client served exactly once: the bound is the plan's cost
            step = alpha * (self.ub - bound + 1e-9 * max(1.0, abs(self.ub))) / norm
            v = (v + step * g).astype(np.float32)
        v64 = best_v.astype(np.float64)
        rho64 = np.minimum(self.c64[:, cols] - v64[:, None], 0.0).sum(axis=0) + self.f[cols]
        chosen = _smallest(free_idx, rho64, k)
        s = np.concatenate([open_idx, chosen])
        bound64 = float(v64.sum() + rho64[s].sum())
        full = np.full(len(self.f), np.inf)
        full[cols] = rho64
        return bound64, v64, full, cols[s]


def _smallest(idx: np.ndarray, values: np.ndarray, k: int) -> np.ndarray:
    """Return the ``k`` entries of ``idx`` with the smallest ``values``, in index order."""
    if k <= 0:
        return idx[:0]
    if k >= len(idx):
        return idx
    part = np.argpartition(values[idx], k - 1)[:k]
    return idx[np.sort(part)]


def branch_and_bound(
    costs: np.ndarray,
    p: int,
    start: list[int],
    *,
    site_cost: np.ndarray | None = None,
    fixed_open: frozenset[int] = frozenset(),
    fixed_closed: frozenset[int] = frozenset(),
    gap: float = 1e-4,
    deadline: float | None = None,
    improve: Callable[[list[int]], list[int]] | None = None,
    root_iterations: int = _ROOT_ITERATIONS,
) -> TreeResult:
    """Solve a pure p-median on a dense cost matrix by Lagrangian branch-and-bound.

    Parameters
    ----------
    costs
        Weighted costs, clients × sites, ``inf`` for forbidden pairs (float64).
    p
        Sites to open.
    start
        A feasible plan (the incumbent to beat).
    site_cost
        Cost of opening each site (default 0).
    fixed_open, fixed_closed
        Sites that must be open / closed.
    gap
        Relative tolerance: a node is pruned when it cannot beat the incumbent by more than
        this fraction (for integer costs, by at least 1).
    deadline
        ``time.monotonic()`` value at which the search stops unproven.
    improve
        Local search applied to every new incumbent.
    root_iterations
        Subgradient iterations at the root (at most).

    Returns
    -------
    TreeResult
        The best plan, whether it is proven, the bound and the root's fixings.
    """
    n_sites = costs.shape[1]
    f = np.zeros(n_sites) if site_cost is None else np.asarray(site_cost, dtype=np.float64)
    finite = costs[np.isfinite(costs)]
    integral = bool(np.all(finite == np.round(finite)) and np.all(f == np.round(f)))
    tree = _Tree(costs, p, f, integral, gap, improve)
    tree.offer(np.asarray(start, dtype=np.int64))

    stack = [_root_node(costs, fixed_open, fixed_closed)]
    fathomed = math.inf  # smallest bound among pruned nodes
    nodes = 0
    next_report = time.monotonic() + _PROGRESS_SECONDS
    root_closed = np.zeros(0, dtype=np.int64)
    root_bound = -math.inf
    root_v: np.ndarray | None = None
    while stack:
        if deadline is not None and time.monotonic() >= deadline and not stack[-1].root:
            left = min(nd.parent_bound for nd in stack)
            bound = min(fathomed, left, tree.ub)
            return TreeResult(
                proven=False,
                open_sites=tree.best,
                objective=tree.ub,
                bound=tree.rounded(bound),
                nodes=nodes,
                root_closed=root_closed,
                root_bound=root_bound,
                root_v=root_v,
            )
        node = stack.pop()
        nodes += 1
        if time.monotonic() >= next_report:
            next_report += _PROGRESS_SECONDS
            logger.debug(
                "Lagrangian tree: %d nodes searched, %d open, best plan %.6g, root bound %.6g",
                nodes,
                len(stack),
                tree.ub,
                root_bound,
            )
        k = p - int(node.opened.sum())
        n_free = int(node.free.sum())
        if k < 0 or n_free < k:
            continue  # no plan in this subtree
        if k == 0 or n_free == k:
            sites = np.flatnonzero(node.opened | node.free) if k else np.flatnonzero(node.opened)
            tree.offer(sites)
            fathomed = min(fathomed, tree.value(sites))
            continue
        iterations, patience = (
            (root_iterations, _ROOT_PATIENCE) if node.root else (_NODE_ITERATIONS, _NODE_PATIENCE)
        )
        bound, v, rho, chosen = tree.lagrangian(node, iterations, patience)
        tree.offer(chosen, polish=node.root)
        if node.root:
            root_bound, root_v = bound, v
        if bound >= tree.threshold():
            fathomed = min(fathomed, bound)
            continue
        closed_here = _branch(tree, node, bound, v, rho, chosen, stack)
        if node.root:
            root_closed = closed_here
    return TreeResult(
        proven=True,
        open_sites=tree.best,
        objective=tree.ub,
        bound=tree.rounded(min(fathomed, tree.ub)),
        nodes=nodes,
        root_closed=root_closed,
        root_bound=root_bound,
        root_v=root_v,
    )


def _root_node(
    costs: np.ndarray, fixed_open: frozenset[int], fixed_closed: frozenset[int]
) -> _Node:
    """Return the root of the search: the fixed sites decided, multipliers at second costs.

    Each client's multiplier starts at its second-cheapest cost (its cheapest if it has one
    allowed site, 0 if none).
    """
    n_sites = costs.shape[1]
    opened = np.zeros(n_sites, dtype=bool)
    opened[list(fixed_open)] = True
    free = ~opened
    free[list(fixed_closed)] = False
    with np.errstate(invalid="ignore"):
        ordered = np.sort(np.where(np.isfinite(costs), costs, np.inf), axis=1)
    second = ordered[:, min(1, n_sites - 1)]
    v0 = np.where(np.isfinite(second), second, ordered[:, 0])
    v0 = np.where(np.isfinite(v0), v0, 0.0)
    return _Node(opened, free, v0, -math.inf, root=True)


def _branch(
    tree: _Tree,
    node: _Node,
    bound: float,
    v: np.ndarray,
    rho: np.ndarray,
    chosen: np.ndarray,
    stack: list[_Node],
) -> np.ndarray:
    """Fix what the reduced costs decide, then push the node's children onto ``stack``.

    The branching site is the chosen free site that covers most clients below their
    multiplier; its ``y_j = 1`` child is pushed last, so it is searched first. When fixing
    decided every chosen site, the reduced node itself is pushed to be evaluated again.

    Returns
    -------
    numpy.ndarray
        The free sites that fixing closed at this node.
    """
    n_sites = len(node.free)
    opened_now, free_now = _fix(tree, node, bound, rho, chosen)
    closed = np.flatnonzero(node.free & ~free_now & ~opened_now)
    candidates = np.flatnonzero(free_now & np.isin(np.arange(n_sites), chosen))
    if len(candidates) == 0:
        # fixing decided every chosen site; evaluate the reduced node again
        stack.append(_Node(opened_now, free_now, v, bound))
        return closed
    covered = (tree.c64[:, candidates] < v[:, None]).sum(axis=0)
    j = int(candidates[int(np.argmax(covered))])
    without = free_now.copy()
    without[j] = False
    with_j = opened_now.copy()
    with_j[j] = True
    stack.append(_Node(opened_now, without, v, bound))
    stack.append(_Node(with_j, without.copy(), v, bound))
    return closed


def _fix(
    tree: _Tree, node: _Node, bound: float, rho: np.ndarray, chosen: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Reduced-cost fixing: close (open) free sites whose opening (closing) reaches the bound."""
    opened, free = node.opened.copy(), node.free.copy()
    in_s = np.zeros(len(free), dtype=bool)
    in_s[chosen] = True
    inside = np.flatnonzero(free & in_s)
    outside = np.flatnonzero(free & ~in_s)
    if len(inside) == 0 or len(outside) == 0:
        return opened, free
    target = tree.threshold()
    last_in = rho[inside].max()
    first_out = rho[outside].min()
    close = outside[bound + rho[outside] - last_in >= target]
    force = inside[bound - rho[inside] + first_out >= target]
    free[close] = False
    free[force] = False
    opened[force] = True
    return opened, free
