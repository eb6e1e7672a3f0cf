"""The entry points of the solver core: which method runs, independent blocks, p-median.

:func:`solve` checks the problem, splits it into independent blocks when it can, and sends
each part to the model that suits it: the assignment MIP (:mod:`optimizer.solver.assignment`)
for loads and contiguity, the Lagrangian tree (:mod:`optimizer.solver.tree`) for a pure
p-median, and the radius MIP (:mod:`optimizer.solver.radius`) otherwise. All of them share one
time budget (:mod:`optimizer.solver.budget`).
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from optimizer.errors import InfeasibleError, PolicyError, SolverError
from optimizer.solver import dense
from optimizer.solver.assignment import solve_assignment
from optimizer.solver.blocks import independent_blocks, split_groups, sub_problem
from optimizer.solver.budget import Budget
from optimizer.solver.dense_radius import solve_dense_radius
from optimizer.solver.highs import MipOptions, SolverName, quiet_logs
from optimizer.solver.lagrangian import TreeResult
from optimizer.solver.priced import price_coupling
from optimizer.solver.problem import (
    LocationProblem,
    LocationResult,
    SiteGroup,
    SolveStatus,
    check_presolve,
    finish,
)
from optimizer.solver.radius import RadiusStart, solve_radius
from optimizer.solver.tree import solve_tree, tree_applies

__all__ = ["p_median", "solve"]

logger = logging.getLogger(__name__)

Method = Literal["auto", "tree", "dense", "mip"]
METHODS = ("auto", "tree", "dense", "mip")

# The automatic choice between the Lagrangian tree and the dense radius MIP for a pure dense
# p-median (see :func:`choose_method`), measured on TSPLIB and OR-Library (benchmarks/README.md).
DENSE_MIN_P = 50
DENSE_MIN_ENTRIES = 1_000_000  # clients × sites: below it (OR-Library, n <= 900) the tree wins
POLISH_SECONDS = 2.0  # at most, kept from the dense MIP's time for a swap search of its plan
DENSE_ROOT_ITERATIONS = 600  # the root's subgradient before the dense MIP: fixing, not proof


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
        Wall-clock seconds for the whole call (``None``: no limit): the starting heuristics, the
        Lagrangian tree, every MIP round and every independent block share it, each getting
        only what is left. When it runs out, the best plan found so far is returned with
        status ``feasible``, ``time_limit_reached`` set, and its bound and gap.
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
        Time allowed for the swap local search that builds the starting plan (at most what
        is left of ``time_limit``).
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
        ``"auto"`` (default): chosen by :func:`choose_method` from the problem's size and ``p``.
        ``"tree"``: a pure p-median whose dense matrix fits is solved by Lagrangian
        branch-and-bound; if its tree does not close within 60 % of the time limit, the dense
        radius MIP (:mod:`optimizer.solver.dense_radius`) takes over from its plan and
        fixings. ``"dense"``: the Lagrangian root only (plan, bound, reduced-cost fixing), then
        the dense radius MIP, the large-p method. ``"mip"``: always the sparse radius MIP
        (``solver``). Problems with groups, loads or contiguity always use their MIP.

    Returns
    -------
    LocationResult
        The plan, its status, objective, bound, gap and model size.

    Raises
    ------
    InfeasibleError
        If the problem has no feasible plan (checked before solving where possible).
    SolverError
        If the solver fails without any plan, or none is found within ``time_limit``.
    """
    if solver not in ("highs", "cbc"):
        raise PolicyError(f"solver must be 'highs' or 'cbc', not {solver!r}")
    if method not in METHODS:
        raise PolicyError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    budget = Budget.of(time_limit)
    opts = MipOptions(solver=solver, gap=gap, threads=threads, seed=seed, msg=msg)
    check_presolve(prob)
    if decompose and prob.p is None:
        split = _solve_blocks(prob, opts, budget, heuristic_seconds=heuristic_seconds)
        if split is not None:
            return split
    if prob.needs_assignment:
        return solve_assignment(prob, opts, budget, heuristic_seconds=heuristic_seconds)
    given = None
    chosen = choose_method(prob) if method == "auto" else method
    if chosen in ("tree", "dense") and tree_applies(prob):
        given, result = _try_tree(
            prob, opts, budget, heuristic_seconds=heuristic_seconds, root_only=chosen == "dense"
        )
        if result is not None:
            return result
    return solve_radius(
        prob,
        opts,
        budget,
        heuristic_seconds=heuristic_seconds,
        initial_levels=initial_levels,
        level_margin=level_margin,
        given=given,
    )


def choose_method(prob: LocationProblem) -> str:
    """Return the method ``method="auto"`` uses for ``prob``.

    The rule, from the benchmarks (benchmarks/README.md, TSPLIB n = 1,304-3,038 and OR-Library
    pmed1-40):

    - a problem with groups, loads or contiguity, or one whose dense matrix does not fit
      (:func:`~optimizer.solver.tree.tree_applies`): ``"mip"``, the sparse radius MIP;
    - a pure dense p-median with ``p >= DENSE_MIN_P`` (50) and at least ``DENSE_MIN_ENTRIES``
      (10⁶) client-site pairs: ``"dense"``: the Lagrangian root
      (a plan, a bound, reduced-cost fixing), then the radius MIP built densely and solved by
      HiGHS, whose LP bound is tight in this regime (the subgradient bound stops a few units
      short of it and the tree then needs thousands of nodes);
    - a smaller ``p`` or a smaller matrix: ``"tree"``, the Lagrangian branch-and-bound, which
      branches hundreds of times a second on cheap dense bounds where the LP gap is wide
      (OR-Library pmed1-40, n <= 900, all within 4 s; TSPLIB p <= 20); if it does not close in
      60 % of the time limit, the dense radius MIP continues from its plan and fixings.

    Measured (rl1304, 2 loaded cores): p = 200 the tree 97 s, dense 4.7 s; p = 500 the tree
    186 s, dense 8.5 s; p = 100 the tree 99 s, dense 30-40 s. At p = 50 (load 7): dense proved
    fl1400 in 12 s, vm1748 in 27 s and rl1304 in 7.6 s, where the tree (load 12) failed 60 s,
    failed 60 s and took 18-24 s. At p = 20 the two are mixed (fl1400 dense 25 s vs the tree
    unproven; vm1748 neither in 60 s; u1432 23 s vs 20 s), so the tree keeps p < 50.

    Parameters
    ----------
    prob
        The problem.

    Returns
    -------
    str
        ``"tree"``, ``"dense"`` or ``"mip"``.
    """
    if not tree_applies(prob) or prob.p is None:
        return "mip"
    large = prob.n_clients * prob.n_sites >= DENSE_MIN_ENTRIES
    return "dense" if large and prob.p >= DENSE_MIN_P else "tree"


def _try_tree(
    prob: LocationProblem,
    opts: MipOptions,
    budget: Budget,
    *,
    heuristic_seconds: float,
    root_only: bool = False,
) -> tuple[RadiusStart | None, LocationResult | None]:
    """Run the Lagrangian tree, then the dense radius MIP if it did not close.

    Parameters
    ----------
    prob
        A pure p-median.
    opts
        The MIP options (their gap is the tree's).
    budget
        The call's budget; the tree uses up to 60 % of it.
    heuristic_seconds
        Time for the dense swap search.
    root_only
        Evaluate only the tree's root (its plan, bound and fixings) before the dense MIP.

    Returns
    -------
    given : RadiusStart or None
        ``None``: the tree did not run (the sparse MIP builds its own start), or it or the
        dense MIP settled the problem.
    result : LocationResult or None
        The result when the tree or the dense MIP proved its plan, or when time ran out.
    """
    out = solve_tree(
        prob,
        gap=opts.gap,
        budget=budget,
        heuristic_seconds=heuristic_seconds,
        share=0.0 if root_only else 0.6,
        root_iterations=DENSE_ROOT_ITERATIONS if root_only else None,
    )
    if out is None:
        return None, None
    tree, costs = out
    if not tree.proven and not budget.expired():
        no_site_cost = prob.site_cost is None or not np.any(prob.site_cost)
        if no_site_cost and np.isfinite(costs).all():
            return None, _dense_mip(prob, opts, budget, tree, costs)
        logger.debug(
            "Lagrangian tree not closed after %d nodes (bound %.6g, plan %.6g); the MIP takes over",
            tree.nodes,
            tree.bound,
            tree.objective,
        )
        return RadiusStart(tree.open_sites, tree.bound, tree.nodes), None
    objective, assignment = prob.objective_of(tree.open_sites)
    result = finish(
        prob,
        status=SolveStatus.OPTIMAL if tree.proven else SolveStatus.FEASIBLE,
        objective=objective,
        bound=tree.bound,
        gap=opts.gap,
        budget=budget,
        open_sites=tree.open_sites,
        assignment=assignment,
        solver="lagrangian",
        formulation="lagrangian",
        size=(prob.n_sites, prob.n_clients, len(prob.cost)),
        rounds=0,
        nodes=tree.nodes,
        time_limit_reached=not tree.proven,
    )
    return None, result


def _dense_mip(
    prob: LocationProblem, opts: MipOptions, budget: Budget, tree: TreeResult, costs: np.ndarray
) -> LocationResult:
    """Continue from the Lagrangian tree with the dense radius MIP (every pair allowed).

    The sites the root's reduced costs closed are left out; every plan that opens one costs at
    least the tree's plan less the tolerance, so the bound is the smaller of the MIP's bound
    and that.
    """
    closed = np.union1d(
        np.asarray(sorted(prob.fixed_closed), dtype=np.int64), tree.root_closed
    ).astype(np.int64)
    logger.info(
        "Lagrangian %s: bound %.6g, plan %.6g; %d of %d sites closed by reduced costs; "
        "the dense radius MIP continues",
        "root" if tree.nodes <= 1 else f"tree ({tree.nodes} nodes)",
        tree.bound,
        tree.objective,
        len(closed),
        prob.n_sites,
    )
    # a reserve at the end for polishing a plan the MIP did not prove (HiGHS's incumbent at
    # the limit may be a swap or two from the optimum its bound already reaches)
    reserve = min(POLISH_SECONDS, 0.05 * (budget.seconds or 0.0))
    r = solve_dense_radius(
        costs,
        int(prob.p or 0),
        tree.open_sites,
        closed=closed,
        fixed_open=prob.fixed_open,
        gap=opts.gap,
        deadline=None if budget.deadline is None else budget.deadline - reserve,
        threads=opts.threads,
        seed=opts.seed,
        msg=opts.msg,
        reach=tree.root_v,
    )
    finite = costs[np.isfinite(costs)]
    integral = bool(np.all(finite == np.round(finite)))  # no site costs on this path
    excluded = tree.objective if integral else tree.objective * (1.0 - opts.gap)
    bound = max(min(r.bound, excluded), tree.bound)
    if integral and math.isfinite(bound):
        bound = float(math.ceil(bound - 1e-6))  # every plan's cost is an integer
    plan = r.open_sites
    if r.status != "optimal":
        plan = _polish(prob, costs, plan, max(0.1, reserve))
    objective, assignment = prob.objective_of(plan)
    # the bound holds for every plan: a polished plan that reaches it is optimal
    proven = r.status == "optimal" or objective <= bound + 1e-9 * max(1.0, abs(bound))
    return finish(
        prob,
        status=SolveStatus.OPTIMAL if proven else SolveStatus.FEASIBLE,
        objective=objective,
        bound=bound,
        gap=opts.gap,
        budget=budget,
        open_sites=plan,
        assignment=assignment,
        solver="highs",
        formulation="dense radius",
        size=r.size,
        rounds=r.rounds,
        nodes=tree.nodes,
        time_limit_reached=not proven,
    )


def _polish(prob: LocationProblem, costs: np.ndarray, plan: list[int], seconds: float) -> list[int]:
    """Return ``plan`` improved by the dense swap search for ``seconds`` (or as it was)."""
    allowed = np.ones(prob.n_sites, dtype=bool)
    allowed[list(prob.fixed_closed)] = False
    search = dense.LocalSearch(
        costs, np.zeros(prob.n_sites), np.asarray(sorted(prob.fixed_open), dtype=np.int64), allowed
    )
    polished = [int(j) for j in search.improve(np.asarray(plan), seconds)]
    if costs[:, polished].min(axis=1).sum() < costs[:, plan].min(axis=1).sum():
        logger.info("swaps improved the dense MIP's plan at the limit")
        return sorted(polished)
    return plan


def _solve_blocks(
    prob: LocationProblem, opts: MipOptions, budget: Budget, *, heuristic_seconds: float
) -> LocationResult | None:
    """Solve independent blocks separately; None when there is one block or bounds couple them.

    Blocks are solved smallest first, each with a share of the time left in proportion to its
    allowed pairs; time a block leaves unused goes to the larger blocks after it. The plans
    are joined in block order.

    Raises
    ------
    InfeasibleError
        Listing the blocks that have no feasible plan (``client_blocks`` holds their clients).
    """
    blocks = independent_blocks(prob)
    if len(blocks) < 2:
        return None
    block_of_site, local, coupling = split_groups(prob, blocks)
    logger.debug(
        "solving %d independent blocks; %d count bound(s) span blocks and are checked after",
        len(blocks),
        len(coupling),
    )
    pair_block = block_of_site[prob.site]
    # smallest blocks first: the time they leave unused goes to the larger ones after them
    weight = np.bincount(pair_block[pair_block >= 0], minlength=len(blocks)) + 1.0
    order = np.argsort(weight, kind="stable").tolist()
    results: dict[int, LocationResult] = {}
    subs: dict[int, LocationProblem] = {}
    failed: dict[int, list[str]] = {}
    for done, b in enumerate(order, start=1):
        clients, sites = blocks[b]
        sub = subs[b] = sub_problem(prob, clients, sites, pair_block == b, local[b])
        seconds = _block_seconds(
            budget, weight[b], float(weight[order[done - 1 :]].sum()), len(order) - done
        )
        try:
            with quiet_logs():
                try:
                    results[b] = solve_block(
                        sub, opts, seconds, heuristic_seconds=heuristic_seconds
                    )
                except SolverError:
                    # no plan within its share: a block may use all that remains rather than
                    # leave the whole plan without one
                    left = budget.remaining()
                    if left is None or seconds is None or left < 0.1:
                        raise
                    results[b] = solve_block(sub, opts, left, heuristic_seconds=heuristic_seconds)
        except InfeasibleError as exc:
            failed[b] = exc.problems
            continue
        if done % 20 == 0 or done == len(blocks):
            logger.debug("solved %d of %d blocks (%.1f s)", done, len(blocks), budget.elapsed())
    if failed:
        bad = [(blocks[b][0], failed[b]) for b in sorted(failed)]
        err = InfeasibleError(
            [
                f"clients {c[:8].tolist()}{' ...' if len(c) > 8 else ''}: {p}"
                for c, ps in bad
                for p in ps
            ]
        )
        err.client_blocks = [c for c, _ in bad]
        raise err
    solved = [(blocks[b][0], blocks[b][1], results[b]) for b in sorted(results)]
    combined = _combine(prob, opts, budget, solved, coupling, len(blocks))
    if combined is not None or not coupling:
        return combined
    priced = price_coupling(
        subs,
        [s for _, s in blocks],
        results,
        coupling,
        lambda sub, seconds: solve_block(sub, opts, seconds, heuristic_seconds=heuristic_seconds),
        budget,
        opts.gap,
    )
    if priced is None:
        return None
    solved = [(blocks[b][0], blocks[b][1], priced.results[b]) for b in sorted(priced.results)]
    logger.debug("count bounds across blocks met by a price: %d more block solves", priced.solves)
    return _combine(
        prob, opts, budget, solved, coupling, len(blocks), bound=priced.bound, priced=True
    )


def _block_seconds(budget: Budget, weight: float, total: float, after: int) -> float | None:
    """Return the seconds of one block: all that remains but a reserve for the blocks after it.

    The reserve (0.5 s per later block, at most half of what remains) lets every later block
    find a feasible plan; a block never gets less than its share by size.
    """
    share = budget.share(weight, total)
    left = budget.remaining()
    if share is None or left is None:
        return share
    return max(share, left - min(0.5 * after, 0.5 * left))


def solve_block(
    sub: LocationProblem, opts: MipOptions, seconds: float | None, *, heuristic_seconds: float
) -> LocationResult:
    """Solve one independent block as a problem of its own, in ``seconds``.

    Parameters
    ----------
    sub
        The block (:func:`~optimizer.solver.blocks.sub_problem`).
    opts
        The MIP options.
    seconds
        The block's share of the time (``None``: no limit).
    heuristic_seconds
        Time for the swap search of its start.

    Returns
    -------
    LocationResult
        The block's result, in its own numbering.
    """
    return solve(
        sub,
        solver=opts.solver,
        time_limit=seconds,
        gap=opts.gap,
        threads=opts.threads,
        seed=opts.seed,
        msg=opts.msg,
        heuristic_seconds=heuristic_seconds,
        decompose=False,
    )


def _combine(
    prob: LocationProblem,
    opts: MipOptions,
    budget: Budget,
    results: list[tuple[np.ndarray, np.ndarray, LocationResult]],
    coupling: list[SiteGroup],
    n_blocks: int,
    *,
    bound: float | None = None,
    priced: bool = False,
) -> LocationResult | None:
    """Join the blocks' plans; None when a count bound across blocks is not met.

    ``bound`` replaces the sum of the blocks' bounds (the Lagrangian bound of a priced count,
    :mod:`optimizer.solver.priced`); the status is then settled by the gap alone.
    """
    open_all: list[int] = []
    assignment = np.full(prob.n_clients, -1, dtype=np.int64)
    objective = total_bound = 0.0
    n_vars = n_cons = nnz = rounds = 0
    for clients, sites, r in results:
        open_all += sites[r.open_sites].tolist()
        assignment[clients] = sites[r.assignment]
        objective += r.objective
        total_bound += r.bound
        n_vars += r.n_variables
        n_cons += r.n_constraints
        nnz += r.n_nonzeros
        rounds = max(rounds, r.rounds)
    opened = set(open_all)
    for g in coupling:
        n = len(opened & set(np.asarray(g.sites).tolist()))
        if n < g.min_open or (g.max_open is not None and n > g.max_open):
            logger.debug("count bound %s is not met by the blocks' optima", g.name)
            return None
    optimal = priced or all(r.status == SolveStatus.OPTIMAL for _, _, r in results)
    return finish(
        prob,
        status=SolveStatus.OPTIMAL if optimal else SolveStatus.FEASIBLE,
        objective=objective,
        bound=total_bound if bound is None else bound,
        gap=opts.gap,
        budget=budget,
        open_sites=sorted(opened),
        assignment=assignment,
        solver=opts.solver,
        formulation=f"{n_blocks} blocks" + (", priced count" if priced else ""),
        size=(n_vars, n_cons, nnz),
        rounds=rounds,
        time_limit_reached=any(r.time_limit_reached for _, _, r in results),
    )


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
