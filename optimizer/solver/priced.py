"""Count bounds that span independent blocks, met by a price on the shared count.

When the blocks' own optima break a count bound that spans blocks (a province-wide limit on
stations over counties solved one by one), the bound is relaxed with a Lagrange multiplier
``λ``: every site of the group gets the price ``s·λ`` (``s = +1`` for a maximum that is
exceeded, ``-1`` for a minimum that is not reached), each block is solved on its own with that
price, and

    ``L(λ) = Σ_b Z_b(λ) - s·λ·B``

(``Z_b`` the block's priced optimum, ``B`` the bound) is a lower bound on the whole problem's
optimum for every ``λ >= 0``. ``λ`` grows until the count meets the bound, then moves to where the tangents of ``L`` at
the bracket's ends meet. ``Z_b`` is
concave in ``λ`` (a minimum of lines whose slopes are the counts), so a block whose plans at
both ends of the bracket keep the same count keeps it, and its value is linear, in between:
only the blocks whose count changes are solved again, and the others' bound at ``λ`` is the
interpolation of their bounds at the ends (valid by concavity whatever the solves' gaps).

The plan: the blocks' plans at the upper end of the bracket (which meet the bound), then the
blocks that save most per site switched back to their plans at the lower end while the bound
holds, then the best remaining block re-solved without a price and with its count fixed to use
the slack left. The result is proven optimal when that plan's cost meets the best ``L(λ)``
within the gap tolerance; otherwise it is ``feasible`` with the bound and gap.

It applies when the coupling groups are disjoint and every block meets at most one of them
(counties inside prefectures inside a province scope); otherwise :func:`price_coupling` returns
None and the whole problem is solved at once.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from optimizer.errors import InfeasibleError, SolverError
from optimizer.solver.budget import Budget
from optimizer.solver.highs import quiet_logs
from optimizer.solver.problem import LocationProblem, LocationResult, SiteGroup

logger = logging.getLogger(__name__)

BlockSolver = Callable[[LocationProblem, float | None], LocationResult]

MAX_BISECTIONS = 40
MAX_DOUBLINGS = 30


@dataclass(frozen=True)
class _Point:
    """One block solved at one price."""

    lam: float
    result: LocationResult  # the plan; its objective without the price
    count: int  # open sites of the block in the group
    bound: float  # a lower bound on the block's priced optimum Z_b(lam)


@dataclass
class _Group:
    """One violated coupling group and the blocks it meets."""

    group: SiteGroup
    sign: int  # +1: the maximum is exceeded; -1: the minimum is not reached
    limit: int
    blocks: list[int]
    points: dict[int, list[_Point]]  # per block, sorted by lam

    def viol(self, n: int) -> int:
        """Return how far a count ``n`` is beyond the bound (> 0: violated)."""
        return self.sign * (n - self.limit)


@dataclass(frozen=True)
class PricedPlan:
    """The blocks' plans that meet every coupling bound, and a lower bound on the optimum."""

    results: dict[int, LocationResult]
    bound: float
    solves: int


def price_coupling(
    subs: dict[int, LocationProblem],
    block_sites: list[np.ndarray],
    results: dict[int, LocationResult],
    coupling: list[SiteGroup],
    solve_block: BlockSolver,
    budget: Budget,
    gap: float,
) -> PricedPlan | None:
    """Meet the coupling count bounds by pricing them, block by block.

    Parameters
    ----------
    subs
        Per block index, its sub-problem (block numbering).
    block_sites
        Per block index, its sites (numbering of the whole problem).
    results
        Per block index, its optimum without a price.
    coupling
        The count bounds that span blocks (sites numbered in the whole problem).
    solve_block
        Solves a block's sub-problem in the given seconds (``None``: no limit).
    budget
        The call's time budget.
    gap
        The relative gap at which the search of a price stops.

    Returns
    -------
    PricedPlan or None
        None when the groups overlap, a block meets two of them, or no price meets a bound
        (the caller then solves the whole problem at once).
    """
    n_sites = max((int(s.max()) + 1 for s in block_sites if len(s)), default=0)
    for g in coupling:
        n_sites = max(n_sites, int(np.max(g.sites, initial=-1)) + 1)
    group_of = np.full(n_sites, -1, dtype=np.int64)
    for k, g in enumerate(coupling):
        members = np.asarray(g.sites, dtype=np.int64)
        if (group_of[members] >= 0).any():
            return None
        group_of[members] = k
    local_in: dict[int, dict[int, np.ndarray]] = {}  # block → group → local site indices
    for b, sites in enumerate(block_sites):
        gs = group_of[sites]
        touched = set(gs[gs >= 0].tolist())
        if len(touched) > 1:
            return None
        for k in touched:
            local_in.setdefault(k, {})[b] = np.flatnonzero(gs == k)
    chosen = dict(results)
    bound = sum(r.bound for r in results.values())
    solves = 0
    for k, g in enumerate(coupling):
        inside = local_in.get(k, {})
        n = sum(_count(results[b], inside[b]) for b in inside)
        sign = 1 if g.max_open is not None and n > g.max_open else -1 if n < g.min_open else 0
        if sign == 0:
            continue
        limit = int(g.max_open) if sign > 0 and g.max_open is not None else int(g.min_open)
        grp = _Group(
            g, sign, limit, sorted(inside), {b: [_first(results[b], inside[b])] for b in inside}
        )
        out = _search(grp, subs, inside, solve_block, budget, gap)
        if out is None:
            logger.debug("no price meets count bound %s", g.name)
            return None
        plans, lower, used = out
        solves += used
        bound += lower - sum(results[b].bound for b in inside)
        chosen.update(plans)
    return PricedPlan(chosen, bound, solves)


def _count(r: LocationResult, in_group: np.ndarray) -> int:
    """Return how many of a block plan's open sites lie in the group."""
    return int(np.isin(r.open_sites, in_group).sum())


def _first(r: LocationResult, in_group: np.ndarray) -> _Point:
    """Return the point of a block's unpriced optimum."""
    return _Point(0.0, r, _count(r, in_group), r.bound)


def _priced(sub: LocationProblem, in_group: np.ndarray, price: float) -> LocationProblem:
    """Return the block with ``price`` added to the cost of each of its sites in the group."""
    cost = np.zeros(sub.n_sites) if sub.site_cost is None else np.array(sub.site_cost, float)
    cost[in_group] += price
    return dataclasses.replace(sub, site_cost=cost)


def _solve_at(
    grp: _Group,
    b: int,
    lam: float,
    sub: LocationProblem,
    in_group: np.ndarray,
    solve_block: BlockSolver,
    budget: Budget,
) -> None:
    """Solve block ``b`` at price ``lam`` and record the point (objective without the price)."""
    price = grp.sign * lam
    with quiet_logs():
        r = solve_block(_priced(sub, in_group, price), budget.remaining())
    count = _count(r, in_group)
    plain = dataclasses.replace(
        r, objective=r.objective - price * count, bound=r.bound - price * count
    )
    grp.points[b].append(_Point(lam, plain, count, r.bound))
    grp.points[b].sort(key=lambda p: p.lam)


def _around(points: list[_Point], lam: float) -> tuple[_Point, _Point]:
    """Return the evaluated points nearest ``lam`` on its left and on its right (or at it)."""
    left = max((p for p in points if p.lam <= lam), key=lambda p: p.lam)
    right = min((p for p in points if p.lam >= lam), key=lambda p: p.lam, default=left)
    return left, right


def _lower(p: list[_Point], lam: float) -> float:
    """Return a lower bound on a block's priced optimum at ``lam`` (concave interpolation)."""
    left, right = _around(p, lam)
    if right.lam == left.lam:
        return max(left.bound, right.bound) if left.lam == lam else left.bound
    t = (lam - left.lam) / (right.lam - left.lam)
    return (1 - t) * left.bound + t * right.bound


def _evaluate(
    grp: _Group,
    lam: float,
    subs: dict[int, LocationProblem],
    inside: dict[int, np.ndarray],
    solve_block: BlockSolver,
    budget: Budget,
    everyone: bool,
) -> tuple[int, float, int]:
    """Solve the blocks whose count may change at ``lam``; return count, L(lam), solves."""
    solves = 0
    for b in grp.blocks:
        left, right = _around(grp.points[b], lam)
        if left.lam == lam or (not everyone and right.lam > lam and left.count == right.count):
            continue
        _solve_at(grp, b, lam, subs[b], inside[b], solve_block, budget)
        solves += 1
    n = sum(_around(grp.points[b], lam)[0].count for b in grp.blocks)
    lower = sum(_lower(grp.points[b], lam) for b in grp.blocks) - grp.sign * lam * grp.limit
    return n, lower, solves


def _grow(lam: float, prev: tuple[float, int], v: int) -> float:
    """Return the next price while the bound is still violated at ``lam`` (violation ``v``).

    The count's secant through the previous point is extrapolated to the bound and the step
    taken half as long again (the count falls ever more slowly as the price grows), between
    1.25 and 4 times the price.
    """
    lam0, v0 = prev
    step = (lam - lam0) * v / (v0 - v) if v0 > v else 3 * lam
    return min(4 * lam, max(1.25 * lam, lam + 1.5 * step))


def _between(lo: tuple[float, float, int], hi: tuple[float, float, int]) -> float:
    """Return the next price inside a bracket: where the tangents of ``L`` at its ends meet.

    ``lo`` and ``hi`` are ``(price, L(price), violation)``; the violation is the slope of the
    concave ``L``, positive at ``lo`` and not at ``hi``. The meeting point is kept within the
    middle 90 % of the bracket, so that every step shrinks it.
    """
    (a, la, va), (b, lb, vb) = lo, hi
    t = 0.5
    if va > vb:
        t = ((lb - la + va * a - vb * b) / (va - vb) - a) / (b - a)
    return a + (b - a) * min(0.95, max(0.05, t))


def _first_price(
    grp: _Group, subs: dict[int, LocationProblem], inside: dict[int, np.ndarray], excess: int
) -> float:
    """Return the first price to try: what closing the ``excess``-th cheapest site would cost.

    For a maximum exceeded by ``excess`` sites, each open site of the blocks' unpriced plans
    is priced by what closing it alone costs (its clients moved to their next open site, less
    its own site cost); the ``excess``-th smallest of these is where about that many sites
    close. Sites close together cost more than apart, so this tends to be low, and the search
    grows it from there. For a minimum, or when it cannot be told, the blocks' cost per open
    site.
    """
    r0 = [grp.points[b][0] for b in grp.blocks]
    mean = max(1e-9, abs(sum(p.result.objective for p in r0)) / max(1, excess + grp.limit))
    if grp.sign < 0:
        return mean
    drops = [_drop_costs(subs[b], grp.points[b][0].result, inside[b]) for b in grp.blocks]
    cost = np.sort(np.concatenate(drops)) if drops else np.zeros(0)
    if excess < 1 or excess > len(cost) or not np.isfinite(cost[excess - 1]):
        return mean
    return max(1e-9, float(cost[excess - 1]))


def _drop_costs(sub: LocationProblem, r: LocationResult, in_group: np.ndarray) -> np.ndarray:
    """Return, per open site of the group (not pinned open), what closing it alone costs."""
    is_open = np.zeros(sub.n_sites, dtype=bool)
    is_open[np.asarray(r.open_sites, dtype=np.int64)] = True
    client, site = np.asarray(sub.client, np.int64), np.asarray(sub.site, np.int64)
    cost = np.asarray(sub.cost, dtype=float)
    served = np.asarray(r.assignment, dtype=np.int64)
    other = is_open[site] & (site != served[client])
    nxt = np.full(sub.n_clients, np.inf)
    np.minimum.at(nxt, client[other], cost[other])
    mine = site == served[client]
    own = np.full(sub.n_clients, np.inf)
    own[client[mine]] = cost[mine]
    w = np.ones(sub.n_clients) if sub.weights is None else np.asarray(sub.weights, float)
    with np.errstate(invalid="ignore"):
        extra = np.where(np.isfinite(nxt), w * (nxt - own), np.inf)
    drop = np.zeros(sub.n_sites)
    np.add.at(drop, served[served >= 0], extra[served >= 0])
    if sub.site_cost is not None:
        drop -= np.asarray(sub.site_cost, dtype=float)
    sites = [j for j in np.asarray(in_group).tolist() if is_open[j] and j not in sub.fixed_open]
    return drop[sites]


def _search(
    grp: _Group,
    subs: dict[int, LocationProblem],
    inside: dict[int, np.ndarray],
    solve_block: BlockSolver,
    budget: Budget,
    gap: float,
) -> tuple[dict[int, LocationResult], float, int] | None:
    """Search the price of one group; return the blocks' plans, the bound and the solves.

    First the price grows until the blocks' plans meet the bound; then the bracket shrinks
    towards the maximum of the concave ``L`` (the tangents' meeting point, :func:`_between`)
    until the repaired plan's cost meets the best ``L`` within ``gap``.
    """
    r0 = [grp.points[b][0] for b in grp.blocks]
    best = sum(p.bound for p in r0)
    lo = (0.0, best, grp.viol(sum(p.count for p in r0)))
    hi: tuple[float, float, int] | None = None
    lam = _first_price(grp, subs, inside, lo[2])
    solves = 0
    for _ in range(MAX_DOUBLINGS):
        try:
            n, lower, used = _evaluate(grp, lam, subs, inside, solve_block, budget, True)
        except (InfeasibleError, SolverError):
            return None
        solves += used
        best = max(best, lower)
        logger.debug("price %.6g: count %d (bound %d), %d solves", lam, n, grp.limit, used)
        if grp.viol(n) <= 0:
            hi = (lam, lower, grp.viol(n))
            break
        prev, lo = (lo[0], lo[2]), (lam, lower, grp.viol(n))
        lam = _grow(lam, prev, lo[2])
    if hi is None:
        return None
    plans, cost = _repair(grp, lo[0], hi[0], subs, inside, solve_block, budget)
    for _ in range(MAX_BISECTIONS):
        if cost - best <= gap * abs(cost) or budget.expired():
            break
        if all(
            _around(grp.points[b], lo[0])[0].count == _around(grp.points[b], hi[0])[1].count
            for b in grp.blocks
        ):
            break
        mid = _between(lo, hi)
        try:
            n, lower, used = _evaluate(grp, mid, subs, inside, solve_block, budget, False)
        except (InfeasibleError, SolverError):
            break
        solves += used
        best = max(best, lower)
        logger.debug("price %.6g: count %d (bound %d), %d solves", mid, n, grp.limit, used)
        point = (mid, lower, grp.viol(n))
        lo, hi = (point, hi) if point[2] > 0 else (lo, point)
        new_plans, new_cost = _repair(grp, lo[0], hi[0], subs, inside, solve_block, budget)
        if new_cost < cost:
            plans, cost = new_plans, new_cost
    logger.debug(
        "count bound %s met at price %.6g: cost %.6g, bound %.6g, %d block solves",
        grp.group.name,
        hi[0],
        cost,
        best,
        solves,
    )
    return plans, best, solves


def _repair(
    grp: _Group,
    lo: float,
    hi: float,
    subs: dict[int, LocationProblem],
    inside: dict[int, np.ndarray],
    solve_block: BlockSolver,
    budget: Budget,
) -> tuple[dict[int, LocationResult], float]:
    """Return a plan meeting the bound from the blocks' plans at ``lo`` and ``hi``, and its cost.

    Start from the plans at ``hi`` (they meet the bound); switch back to the plan at ``lo``
    the blocks that save most per site while the bound holds; then re-solve the best block
    left, without a price, with its count fixed to use the slack.
    """
    at_hi = {b: _around(grp.points[b], hi)[1] for b in grp.blocks}
    at_lo = {b: _around(grp.points[b], lo)[0] for b in grp.blocks}
    plans = {b: p.result for b, p in at_hi.items()}
    n = sum(p.count for p in at_hi.values())
    moves = []
    for b in grp.blocks:
        extra = grp.sign * (at_lo[b].count - at_hi[b].count)
        saving = at_hi[b].result.objective - at_lo[b].result.objective
        if extra > 0 and saving > 0:
            moves.append((-saving / extra, b, extra))
    moves.sort()
    left_over = []
    for _, b, extra in moves:
        if grp.viol(n + grp.sign * extra) <= 0:
            plans[b] = at_lo[b].result
            n += grp.sign * extra
        else:
            left_over.append(b)
    slack = -grp.viol(n)
    if slack > 0 and left_over and not budget.expired():
        b = left_over[0]
        k = at_hi[b].count + grp.sign * slack
        fixed = SiteGroup(
            "priced_count", inside[b], k if grp.sign < 0 else 0, k if grp.sign > 0 else None
        )
        sub = dataclasses.replace(subs[b], groups=[*subs[b].groups, fixed])
        try:
            with quiet_logs():
                r = solve_block(sub, budget.remaining())
            if r.objective < plans[b].objective:
                plans[b] = r
        except (InfeasibleError, SolverError):
            pass
    return plans, sum(r.objective for r in plans.values())
