r"""The exact LP bound of a dense pure p-median by Benders cuts, and its Lagrangian multipliers.

The strong LP of the p-median projects onto the site variables :math:`y` and one cost
variable :math:`\theta_i` per client (Duran-Mateluna, Ales & Elloumi 2023):

.. math::

    \min \sum_i \theta_i \quad\text{s.t.}\quad
    \theta_i \ge D - \sum_{j:\ c_{ij} < D} (D - c_{ij})\, y_j \ \ (\text{every client } i,
    \text{ every cost } D), \qquad \sum_j y_j = p, \qquad 0 \le y \le 1.

Given a master solution :math:`y^*`, the most violated cut of client *i* is found in linear
time from the client's sites sorted by cost: :math:`D` is the first cost at which the
cumulative :math:`y^*` reaches 1 (the client's fractional service in the LP). The master is
solved by HiGHS's dual simplex and re-solved warm after each round of cuts, until no cut is
violated: its value is then the LP bound.

The duals :math:`\pi_c` of client *i*'s cuts sum to 1, and :math:`v_i = \sum_c \pi_c D_c`
are optimal Lagrangian multipliers of the assignment rows: :math:`L(v)` (see
:mod:`optimizer.solver.lagrangian`) equals the LP bound. The Lagrangian tree starts from them
instead of from its subgradient run, which on clustered instances (TSPLIB fl1400) stops 1 %
short of the LP value.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import numpy as np

from optimizer.solver.highs import quiet_stdout

logger = logging.getLogger(__name__)

_MAX_ROUNDS = 200
_TOL = 1e-7


@dataclass(frozen=True)
class LpDual:
    """What :func:`lp_multipliers` returns.

    Attributes
    ----------
    bound
        The master's value when it stopped: the LP bound when ``exact``, else the value of a
        relaxation that is still missing cuts (not a valid bound).
    v
        Lagrangian multipliers, one per client (``L(v)`` is a valid bound in every case).
    y
        The master's site values.
    exact
        Whether no cut was violated at the end.
    rounds, cuts, seconds
        Master solves, cuts added, wall seconds.
    """

    bound: float
    v: np.ndarray
    y: np.ndarray
    exact: bool
    rounds: int
    cuts: int
    seconds: float


def _cuts(
    order: np.ndarray,
    ordered: np.ndarray,
    y: np.ndarray,
    theta: np.ndarray,
    rows: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the most violated cut of each client in ``rows`` that is violated at ``y``.

    Returns the clients cut, their critical cost ``D``, and the cuts' CSR (starts, sites,
    coefficients ``D - c``).
    """
    cum = np.cumsum(y[order[rows]], axis=1)
    k = np.minimum((cum < 1.0 - 1e-9).sum(axis=1), order.shape[1] - 1)
    d = ordered[rows, k]
    below = ordered[rows] < d[:, None]
    value = d - np.where(below, (d[:, None] - ordered[rows]) * y[order[rows]], 0.0).sum(axis=1)
    violated = value > theta[rows] + _TOL * np.maximum(1.0, np.abs(value))
    clients = rows[violated]
    below = below[violated]
    d = d[violated]
    ci, pos = np.nonzero(below)
    sites = order[clients[ci], pos]
    coef = d[ci] - ordered[clients[ci], pos]
    starts = np.searchsorted(ci, np.arange(len(clients) + 1))
    return clients, d, starts.astype(np.int32), sites.astype(np.int32), coef


def lp_multipliers(
    costs: np.ndarray,
    p: int,
    start: list[int],
    *,
    site_cost: np.ndarray | None = None,
    fixed_open: np.ndarray | None = None,
    closed: np.ndarray | None = None,
    deadline: float | None = None,
    order: np.ndarray | None = None,
) -> LpDual | None:
    """Solve the Benders LP of a dense pure p-median; return its bound and multipliers.

    Parameters
    ----------
    costs
        Weighted costs, clients × sites, all finite (float64).
    p
        Sites to open.
    start
        A feasible plan: its cuts start the master (may be empty).
    site_cost
        Cost of opening each site (the master's ``y`` costs), or ``None``.
    fixed_open, closed
        Sites fixed at 1 and at 0, or ``None``.
    deadline
        ``time.monotonic()`` value at which the rounds stop (the result is then not exact).
    order
        Each client's sites sorted by cost (``argsort(costs, axis=1)``), if already known.

    Returns
    -------
    LpDual or None
        ``None`` when HiGHS fails on the master.
    """
    if order is None:
        order = np.argsort(costs, axis=1, kind="stable")
    ordered = np.take_along_axis(costs, order, axis=1)
    return lp_sorted(
        order,
        ordered,
        costs.shape[1],
        p,
        start,
        site_cost=site_cost,
        fixed_open=fixed_open,
        closed=closed,
        deadline=deadline,
    )


def lp_sorted(
    order: np.ndarray,
    ordered: np.ndarray,
    n: int,
    p: int,
    start: list[int],
    *,
    site_cost: np.ndarray | None = None,
    fixed_open: np.ndarray | None = None,
    closed: np.ndarray | None = None,
    deadline: float | None = None,
) -> LpDual | None:
    """Solve the Benders LP given each client's sites sorted by cost.

    ``order[i]`` lists sites (of ``0 … n-1``) by ascending cost ``ordered[i]``. A row may be
    truncated (the k nearest sites) when every site it leaves out costs the client at least
    its last listed cost: the cuts then stop at that cost, the LP is a relaxation of the full
    one and its value and ``L(v)`` are valid bounds of the full problem.

    Parameters
    ----------
    order, ordered, n
        The sorted sites and costs per client, and the number of sites.
    p, start, site_cost, fixed_open, closed, deadline
        As in :func:`lp_multipliers`.

    Returns
    -------
    LpDual or None
        ``None`` when HiGHS fails on the master.
    """
    import highspy

    from optimizer.solver.threads import run_highs

    t0 = time.perf_counter()
    m = order.shape[0]
    with quiet_stdout():
        h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("solver", "simplex")
    upper, low_y = np.ones(n), np.zeros(n)
    if closed is not None and len(closed):
        upper[closed] = 0.0
    if fixed_open is not None and len(fixed_open):
        low_y[fixed_open] = 1.0
    # columns: y (n), theta (m); theta_i >= the client's cheapest cost
    lower = np.concatenate([low_y, ordered[:, 0]])
    h.addVars(n + m, lower, np.concatenate([upper, np.full(m, np.inf)]))
    col_cost = np.concatenate([np.zeros(n) if site_cost is None else site_cost, np.ones(m)])
    h.changeColsCost(n + m, np.arange(n + m, dtype=np.int32), col_cost)
    h.addRow(float(p), float(p), n, np.arange(n, dtype=np.int32), np.ones(n))
    cut_client: list[np.ndarray] = []
    cut_d: list[np.ndarray] = []
    y = np.zeros(n)
    y[start] = 1.0
    theta = np.full(m, -np.inf)
    everyone = np.arange(m)
    rounds, exact, value = 0, False, -math.inf
    sol = None
    while rounds < _MAX_ROUNDS:
        clients, d, starts, sites, coef = _cuts(order, ordered, y, theta, everyone)
        if len(clients) == 0:
            exact = rounds > 0
            break
        if deadline is not None and time.monotonic() >= deadline:
            break
        # theta_i + sum (D - c_ij) y_j >= D
        index = np.empty(len(sites) + len(clients), dtype=np.int32)
        values = np.empty(len(index))
        row_starts = starts[:-1] + np.arange(len(clients), dtype=np.int32)
        for_theta = row_starts
        mask = np.ones(len(index), dtype=bool)
        mask[for_theta] = False
        index[for_theta] = n + clients
        values[for_theta] = 1.0
        index[mask] = sites
        values[mask] = coef
        h.addRows(
            len(clients), d, np.full(len(clients), np.inf), len(index), row_starts, index, values
        )
        if deadline is not None:
            h.setOptionValue("time_limit", max(0.05, deadline - time.monotonic()))
        run_highs(h)
        if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
            logger.info(
                "Benders LP: HiGHS stopped with %s", h.modelStatusToString(h.getModelStatus())
            )
            if sol is None:
                return None
            break  # the last solved master (its cuts and duals) is what is returned
        cut_client.append(clients)
        cut_d.append(d)
        sol = h.getSolution()
        x = np.asarray(sol.col_value)
        y, theta = x[:n], x[n:]
        value = float(h.getInfo().objective_function_value)
        rounds += 1
    if sol is None:
        return None
    all_clients = np.concatenate(cut_client)
    duals = np.asarray(sol.row_dual)[1 : 1 + len(all_clients)]
    all_d = np.concatenate(cut_d)
    v = np.bincount(all_clients, weights=np.abs(duals) * all_d, minlength=m)
    weight = np.bincount(all_clients, weights=np.abs(duals), minlength=m)
    # a client whose cuts carry no dual (its theta at its lower bound): its cheapest cost
    v = np.where(weight > 1e-12, v, ordered[:, 0])
    seconds = time.perf_counter() - t0
    logger.info(
        "Benders LP: value %.10g (%s) after %d rounds, %d cuts, %.1f s",
        value,
        "exact" if exact else "cuts missing",
        rounds,
        len(all_clients),
        seconds,
    )
    return LpDual(value, v, y, exact, rounds, len(all_clients), seconds)
