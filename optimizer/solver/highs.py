"""The MIP solvers behind pulp: HiGHS (with a cutoff start and its dual bound) and CBC.

Everything the radius and assignment models share once they are built: the solver options, a
quiet HiGHS (its banner is printed from C), the run itself under the call's time budget, and
the count bounds on open sites that both models carry.
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

from optimizer.errors import SolverError
from optimizer.solver.budget import Budget
from optimizer.solver.problem import LocationProblem, SolveStatus

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
        lp.solverModel.run()
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


def run_model(
    model: pulp.LpProblem,
    start_values: dict[str, float] | None,
    opts: MipOptions,
    budget: Budget,
    cutoff: float | None = None,
) -> MipOutcome:
    """Solve a built model with HiGHS or CBC in the time the budget has left.

    Parameters
    ----------
    model
        The model; its ``objective_constant`` attribute (if set) is added to the bound.
    start_values
        A MIP start (variable name to value), or ``None``.
    opts
        Which solver and how.
    budget
        The call's budget.
    cutoff
        (HiGHS only) an objective value, without the model's constant, that a solution must
        beat; when none does, the outcome is ``cutoff`` and its bound is the cutoff.

    Returns
    -------
    MipOutcome
        The dual bound and status.

    Raises
    ------
    SolverError
        If the solver crashes.
    """
    if opts.solver == "highs":
        return _run_highs(model, start_values, opts, budget, cutoff)
    return _run_cbc(model, start_values, opts, budget)


def _run_highs(
    model: pulp.LpProblem,
    start_values: dict[str, float] | None,
    opts: MipOptions,
    budget: Budget,
    cutoff: float | None,
) -> MipOutcome:
    """Run HiGHS on ``model`` (see :func:`run_model`)."""
    extra = {} if cutoff is None else {"objective_bound": float(cutoff)}
    engine = HiGHS(
        msg=opts.msg,
        timeLimit=budget.remaining(),
        gapRel=opts.gap,
        threads=opts.threads,
        start=start_values,
        deadline=budget.deadline,
        random_seed=int(opts.seed),
        **HIGHS_OPTIONS,
        **extra,
        mip_abs_gap=1e-9,
    )
    try:
        model.solve(engine)
    except Exception as exc:  # pragma: no cover - solver crash
        raise SolverError(f"HiGHS failed: {exc}") from exc
    hs = engine.model_status.lower()
    timed_out = "time limit" in hs
    const = float(getattr(model, "objective_constant", 0.0))
    if cutoff is not None and ("infeasible" in hs or "bound" in hs):
        # nothing beats the cutoff: the plan that set it is optimal
        return MipOutcome(cutoff + const, SolveStatus.OPTIMAL, cutoff=True)
    if "infeasible" in hs:
        return MipOutcome(-math.inf, SolveStatus.INFEASIBLE)
    bound = engine.mip_dual_bound + const
    status = SolveStatus.OPTIMAL if hs == "optimal" else SolveStatus.FEASIBLE
    return MipOutcome(bound, status, timed_out=timed_out)


def _run_cbc(
    model: pulp.LpProblem,
    start_values: dict[str, float] | None,
    opts: MipOptions,
    budget: Budget,
) -> MipOutcome:
    """Run CBC on ``model`` (see :func:`run_model`)."""
    if start_values is not None:
        for v in model.variables():
            v.setInitialValue(start_values.get(v.name, 0.0))
    options = [f"randomSeed {int(opts.seed) + 1}", f"randomCbcSeed {int(opts.seed) + 1}"]
    engine = pulp.PULP_CBC_CMD(
        msg=opts.msg,
        timeLimit=budget.remaining(),
        gapRel=opts.gap,
        threads=opts.threads,
        warmStart=start_values is not None,
        options=options,
    )
    try:
        model.solve(engine)
    except Exception as exc:  # pragma: no cover - solver crash
        raise SolverError(f"CBC failed: {exc}") from exc
    if pulp.LpStatus[model.status] == "Infeasible":
        return MipOutcome(-math.inf, SolveStatus.INFEASIBLE)
    # pulp does not expose CBC's bound; optimal means the objective is the bound
    if model.sol_status == pulp.LpSolutionOptimal:
        return MipOutcome(float(pulp.value(model.objective)), SolveStatus.OPTIMAL)
    return MipOutcome(-math.inf, SolveStatus.FEASIBLE, timed_out=budget.deadline is not None)


def cutoff_of(value: float, model: pulp.LpProblem | None = None) -> float:
    """Return the cutoff a plan of cost ``value`` sets: a solution must beat it.

    HiGHS 1.16 can misjudge a full MIP start after presolve (it reported a start as optimal
    although a better plan existed), so a start's value is passed as a cutoff instead: every
    node that cannot beat it is pruned, and the start itself stays the fallback.

    Parameters
    ----------
    value
        The plan's cost, including the model's constant.
    model
        The model, whose ``objective_constant`` (excluded from HiGHS's objective) is taken off.

    Returns
    -------
    float
        The cutoff in HiGHS's objective units.
    """
    const = float(getattr(model, "objective_constant", 0.0)) if model is not None else 0.0
    return value - const + 1e-6 * max(1.0, abs(value))


def add_count_bounds(model: pulp.LpProblem, y: list[pulp.LpVariable], prob: LocationProblem) -> int:
    """Add ``p`` and the group bounds on open sites; return the nonzeros added.

    Parameters
    ----------
    model
        The model to extend.
    y
        The site-open variables, one per site.
    prob
        The problem whose ``p`` and groups are added.

    Returns
    -------
    int
        Nonzeros added.
    """
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
