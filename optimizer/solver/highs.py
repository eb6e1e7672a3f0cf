"""What every MIP run shares: the solver options and outcome, a quiet HiGHS, the cutoff start.

The radius and assignment models are built and run as arrays (:mod:`optimizer.solver.matrix`);
the set cover (:mod:`optimizer.solver.cover`) still goes through pulp, with :class:`HiGHS`
(pulp's interface plus a deadline and the dual bound read back).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import pulp

from optimizer.solver.problem import SolveStatus

SolverName = Literal["highs", "cbc"]

HIGHS_OPTIONS: dict[str, Any] = {"mip_heuristic_effort": 0.0}


@dataclass(frozen=True)
class MipOptions:
    """How to run the MIP solver: which one, the gap, threads, seed and whether to log.

    Attributes
    ----------
    solver
        ``"highs"`` or ``"cbc"``.
    gap
        Relative optimality gap at which the solver stops.
    threads
        Solver threads (``None``: the solver's own choice).
    seed
        Solver random seed.
    msg
        Show the solver log.
    """

    solver: SolverName
    gap: float
    threads: int | None
    seed: int
    msg: bool


@dataclass(frozen=True)
class MipOutcome:
    """What one MIP run gives back.

    Attributes
    ----------
    bound
        Dual bound including the model's constant (``-inf`` when none is known).
    status
        ``optimal``, ``feasible`` or ``infeasible``.
    cutoff
        Nothing beat the cutoff: the plan that set it is optimal (``bound`` is the cutoff).
    timed_out
        The solver stopped at its time limit.
    """

    bound: float
    status: SolveStatus
    cutoff: bool = False
    timed_out: bool = False


class HiGHS(pulp.HiGHS):  # type: ignore[misc, name-defined]
    """pulp's HiGHS interface, plus a MIP start, a deadline and the dual bound read back.

    Parameters
    ----------
    *args, **kwargs
        Passed to ``pulp.HiGHS``.
    start
        Variable values of a MIP start.
    deadline
        ``time.monotonic()`` value at which the run must end; the time limit is set from it
        just before HiGHS starts, so time pulp spends passing the model on is counted.
    """

    def __init__(
        self,
        *args: Any,
        start: dict[str, float] | None = None,
        deadline: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._start = start or {}
        self._deadline = deadline
        self.mip_dual_bound: float = -math.inf
        self.model_status: str = ""

    def createAndConfigureSolver(self, lp: Any) -> None:
        """Create the HiGHS model, without its banner on stdout unless ``msg`` asks for it."""
        if self.msg:
            super().createAndConfigureSolver(lp)
            return
        with quiet_stdout():  # HiGHS prints its banner from C when the first model is made
            super().createAndConfigureSolver(lp)

    def callSolver(self, lp: Any) -> None:
        """Pass the start and the time left, run HiGHS, read back the dual bound and status."""
        from optimizer.solver.threads import run_highs

        if self._start:
            import highspy

            values = [float(self._start.get(v.name, 0.0)) for v in lp.variables()]
            sol = highspy.HighsSolution()
            sol.col_value = values
            sol.value_valid = True
            lp.solverModel.setSolution(sol)
        if self._deadline is not None:
            left = max(0.0, self._deadline - time.monotonic())
            lp.solverModel.setOptionValue("time_limit", float(left))
        run_highs(lp.solverModel)
        info = lp.solverModel.getInfo()
        self.mip_dual_bound = float(info.mip_dual_bound)
        self.model_status = lp.solverModel.modelStatusToString(lp.solverModel.getModelStatus())


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
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


@contextlib.contextmanager
def quiet_logs() -> Iterator[None]:
    """Keep the solver core's chatter (for example per independent block) below warnings."""
    core = logging.getLogger("optimizer.solver")
    old = core.level
    core.setLevel(max(old, logging.WARNING))
    try:
        yield
    finally:
        core.setLevel(old)


def cutoff_of(value: float) -> float:
    """Return the cutoff a plan of cost ``value`` sets: a solution must beat it.

    HiGHS 1.16 can misjudge a full MIP start after presolve (it reported a start as optimal
    although a better plan existed), so a start's value is passed as a cutoff instead: every
    node that cannot beat it is pruned, and the start itself stays the fallback.

    Parameters
    ----------
    value
        The plan's cost, in the model's objective units (a caller whose model leaves out a
        constant takes it off the result).

    Returns
    -------
    float
        The cutoff in HiGHS's objective units.
    """
    return value + 1e-6 * max(1.0, abs(value))
