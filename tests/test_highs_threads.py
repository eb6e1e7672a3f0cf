"""A solve that asks HiGHS for another thread count than its thread runs with is still solved.

HiGHS starts one task scheduler per calling thread, with the count of that thread's first
solve, and refuses (no solution, model status "not set") a later solve in the same thread that
asks for another count. A notebook that plans once with the default and then runs a scenario
with ``solver.threads: 1`` used to get the heuristic start back as a "feasible" plan with no
bound. Each test runs in a fresh thread, so that its scheduler starts with the test's count.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from optimizer.solver import LocationProblem, SiteGroup, SolveStatus, solve


def _in_fresh_thread(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` in a new thread (a new HiGHS scheduler) and return what it returns."""
    out: list[Any] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if errors:
        raise errors[0]
    return out[0]


def _grouped() -> LocationProblem:
    """Eight clients = sites on a line, at most one site open per pair (the MIP path)."""
    xs = np.array([0.0, 1.0, 3.0, 4.5, 7.0, 8.0, 11.0, 12.5])
    pairs = list(itertools.product(range(8), repeat=2))
    return LocationProblem(
        n_clients=8,
        n_sites=8,
        client=np.array([i for i, _ in pairs]),
        site=np.array([j for _, j in pairs]),
        cost=np.array([abs(xs[i] - xs[j]) for i, j in pairs]),
        site_cost=np.full(8, 2.0),
        groups=[SiteGroup(f"pair{k}", np.array([2 * k, 2 * k + 1]), 0, 1) for k in range(4)],
    )


def test_a_second_solve_with_one_thread_is_solved_after_one_with_the_default() -> None:
    prob = _grouped()

    def both() -> tuple[Any, Any]:
        first = solve(prob, gap=0.0, time_limit=30)
        second = solve(prob, gap=0.0, time_limit=30, threads=1)
        return first, second

    first, second = _in_fresh_thread(both)
    assert first.status == SolveStatus.OPTIMAL
    assert second.status == SolveStatus.OPTIMAL
    assert np.isfinite(second.bound)
    assert second.objective == first.objective
