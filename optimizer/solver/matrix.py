"""A MIP held as arrays, solved by HiGHS directly (one instance kept across cut rounds) or CBC.

Models that are solved many times over (the assignment model of every county, at every price
of a shared count, in every cut round) spend most of their time in building a pulp model and
having pulp pass it on one coefficient at a time. Here the model is a set of numpy arrays:
columns with their cost, bounds and integrality, and rows added in blocks (a row block is
compressed-row: starts, column indices, values and the row bounds). HiGHS receives each block
with one ``addRows`` call and keeps its instance between the rounds of a cut loop, so a round
only passes the rows it adds. CBC, which has no such interface in pulp, gets the same arrays as
a pulp model (:func:`to_pulp`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pulp

from optimizer.errors import SolverError
from optimizer.solver.budget import Budget
from optimizer.solver.highs import HIGHS_OPTIONS, MipOptions, MipOutcome, quiet_stdout
from optimizer.solver.problem import LocationProblem, SolveStatus


@dataclass
class MatrixModel:
    """A minimisation MIP as arrays.

    Attributes
    ----------
    cost, lower, upper
        Per column: objective coefficient and bounds.
    integer
        Per column: whether it is integer.
    starts, index, value, row_lower, row_upper
        The rows, compressed-row (``starts`` has one entry per row plus the end).
    """

    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    integer: np.ndarray
    starts: list[int] = field(default_factory=lambda: [0])
    index: list[np.ndarray] = field(default_factory=list)
    value: list[np.ndarray] = field(default_factory=list)
    row_lower: list[float] = field(default_factory=list)
    row_upper: list[float] = field(default_factory=list)

    @property
    def n_cols(self) -> int:
        """Number of columns."""
        return len(self.cost)

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return len(self.row_lower)

    @property
    def nnz(self) -> int:
        """Number of nonzero coefficients."""
        return self.starts[-1]

    def add_row(self, index: np.ndarray, value: np.ndarray, lo: float, hi: float) -> None:
        """Append the row ``lo <= value · x[index] <= hi`` (``±inf`` for an open side)."""
        self.index.append(np.asarray(index, dtype=np.int32))
        self.value.append(np.asarray(value, dtype=np.float64))
        self.starts.append(self.starts[-1] + len(index))
        self.row_lower.append(float(lo))
        self.row_upper.append(float(hi))

    def add_pairs(self, a: np.ndarray, b: np.ndarray, coef_b: float, lo: float, hi: float) -> None:
        """Append the rows ``lo <= x[a_r] + coef_b · x[b_r] <= hi``, one per ``r``, at once."""
        a = np.asarray(a, dtype=np.int32)
        b = np.asarray(b, dtype=np.int32)
        pairs = np.stack([a, b], axis=1)
        vals = np.tile(np.array([1.0, coef_b]), (len(a), 1))
        end = self.starts[-1]
        self.index.extend(pairs)
        self.value.extend(vals)
        self.starts.extend((end + 2 * np.arange(1, len(a) + 1)).tolist())
        self.row_lower.extend([float(lo)] * len(a))
        self.row_upper.extend([float(hi)] * len(a))

    def rows_from(self, first: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return rows ``first..`` as compressed-row arrays (starts relative to their first)."""
        base = self.starts[first]
        starts = np.asarray(self.starts[first:-1], dtype=np.int32) - base
        if first >= self.n_rows:
            return starts, np.zeros(0, np.int32), np.zeros(0)
        return starts, np.concatenate(self.index[first:]), np.concatenate(self.value[first:])


@dataclass(frozen=True)
class MatrixOutcome:
    """One run: the outcome and the column values of the best solution (``None``: none)."""

    outcome: MipOutcome
    values: np.ndarray | None


class MatrixSolver:
    """Solve a :class:`MatrixModel` again and again as rows are added to it.

    Parameters
    ----------
    model
        The model; rows appended to it between runs are passed on at the next run.
    opts
        Which solver and how.
    """

    def __init__(self, model: MatrixModel, opts: MipOptions) -> None:
        self.model = model
        self.opts = opts
        self._highs: Any = None
        self._rows = 0

    def run(
        self, budget: Budget, *, cutoff: float | None = None, start: np.ndarray | None = None
    ) -> MatrixOutcome:
        """Solve in the time the budget has left.

        Parameters
        ----------
        budget
            The call's budget.
        cutoff
            (HiGHS) a value a solution must beat; when none does the outcome is ``cutoff``.
        start
            (CBC) column values of a MIP start.

        Returns
        -------
        MatrixOutcome
            The outcome and the solution's column values.

        Raises
        ------
        SolverError
            If the solver crashes.
        """
        if self.opts.solver == "highs":
            return self._run_highs(budget, cutoff)
        return _run_cbc(self.model, self.opts, budget, start)

    def _instance(self) -> Any:
        """Return the HiGHS instance with every row of the model passed on."""
        import highspy

        m = self.model
        if self._highs is None:
            with quiet_stdout():  # HiGHS prints its banner from C when an instance is made
                h = highspy.Highs()
            h.setOptionValue("output_flag", bool(self.opts.msg))
            h.setOptionValue("mip_rel_gap", float(self.opts.gap))
            h.setOptionValue("mip_abs_gap", 1e-9)
            h.setOptionValue("random_seed", int(self.opts.seed))
            if self.opts.threads is not None:
                h.setOptionValue("threads", int(self.opts.threads))
            for key, val in HIGHS_OPTIONS.items():
                h.setOptionValue(key, val)
            h.addVars(m.n_cols, m.lower, m.upper)
            h.changeColsCost(m.n_cols, np.arange(m.n_cols, dtype=np.int32), m.cost)
            ints = np.flatnonzero(m.integer).astype(np.int32)
            h.changeColsIntegrality(
                len(ints), ints, np.full(len(ints), highspy.HighsVarType.kInteger)
            )
            self._highs = h
        if self._rows < m.n_rows:
            starts, index, value = m.rows_from(self._rows)
            lo = np.asarray(m.row_lower[self._rows :])
            hi = np.asarray(m.row_upper[self._rows :])
            self._highs.addRows(len(lo), lo, hi, len(index), starts, index, value)
            self._rows = m.n_rows
        return self._highs

    def _run_highs(self, budget: Budget, cutoff: float | None) -> MatrixOutcome:
        """Run HiGHS (see :meth:`run`)."""
        from optimizer.solver.threads import run_highs

        h = self._instance()
        left = budget.remaining()
        h.setOptionValue("time_limit", math.inf if left is None else max(0.0, float(left)))
        h.setOptionValue("objective_bound", math.inf if cutoff is None else float(cutoff))
        try:
            run_highs(h)
        except Exception as exc:  # pragma: no cover - solver crash
            raise SolverError(f"HiGHS failed: {exc}") from exc
        hs = h.modelStatusToString(h.getModelStatus()).lower()
        info = h.getInfo()
        values = None
        if int(info.primal_solution_status) == 2:  # kSolutionStatusFeasible
            values = np.asarray(h.getSolution().col_value, dtype=np.float64)
        if cutoff is not None and ("infeasible" in hs or "bound" in hs):
            return MatrixOutcome(MipOutcome(cutoff, SolveStatus.OPTIMAL, cutoff=True), None)
        if "infeasible" in hs:
            return MatrixOutcome(MipOutcome(-math.inf, SolveStatus.INFEASIBLE), None)
        status = SolveStatus.OPTIMAL if hs == "optimal" else SolveStatus.FEASIBLE
        bound = float(info.mip_dual_bound)
        return MatrixOutcome(MipOutcome(bound, status, timed_out="time limit" in hs), values)


def to_pulp(model: MatrixModel) -> tuple[pulp.LpProblem, list[pulp.LpVariable]]:
    """Return the model as a pulp model (for CBC) and its variables in column order."""
    lp = pulp.LpProblem("matrix", pulp.LpMinimize)
    cols = [
        pulp.LpVariable(
            f"c{k}",
            lowBound=None if not np.isfinite(lo) else float(lo),
            upBound=None if not np.isfinite(hi) else float(hi),
            cat=pulp.LpInteger if integer else pulp.LpContinuous,
        )
        for k, (lo, hi, integer) in enumerate(
            zip(model.lower, model.upper, model.integer, strict=True)
        )
    ]
    lp.setObjective(
        pulp.LpAffineExpression([(cols[k], float(c)) for k, c in enumerate(model.cost)])
    )
    for r, (idx, val) in enumerate(zip(model.index, model.value, strict=True)):
        expr = pulp.LpAffineExpression(
            [(cols[int(k)], float(v)) for k, v in zip(idx, val, strict=True)]
        )
        lo, hi = model.row_lower[r], model.row_upper[r]
        if lo == hi:
            lp.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintEQ, f"r{r}", lo))
            continue
        if np.isfinite(lo):
            lp.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintGE, f"r{r}l", lo))
        if np.isfinite(hi):
            lp.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintLE, f"r{r}u", hi))
    return lp, cols


def _run_cbc(
    model: MatrixModel, opts: MipOptions, budget: Budget, start: np.ndarray | None
) -> MatrixOutcome:
    """Run CBC on the model through pulp (see :meth:`MatrixSolver.run`)."""
    lp, cols = to_pulp(model)
    if start is not None:
        for v, s in zip(cols, start.tolist(), strict=True):
            v.setInitialValue(s)
    options = [f"randomSeed {int(opts.seed) + 1}", f"randomCbcSeed {int(opts.seed) + 1}"]
    engine = pulp.PULP_CBC_CMD(
        msg=opts.msg,
        timeLimit=budget.remaining(),
        gapRel=opts.gap,
        threads=opts.threads,
        warmStart=start is not None,
        options=options,
    )
    try:
        lp.solve(engine)
    except Exception as exc:  # pragma: no cover - solver crash
        raise SolverError(f"CBC failed: {exc}") from exc
    if pulp.LpStatus[lp.status] == "Infeasible":
        return MatrixOutcome(MipOutcome(-math.inf, SolveStatus.INFEASIBLE), None)
    values = np.array([v.varValue if v.varValue is not None else np.nan for v in cols])
    found = None if np.isnan(values).any() else values
    # pulp does not expose CBC's bound; optimal means the objective is the bound
    if lp.sol_status == pulp.LpSolutionOptimal:
        return MatrixOutcome(
            MipOutcome(float(pulp.value(lp.objective)), SolveStatus.OPTIMAL), found
        )
    outcome = MipOutcome(-math.inf, SolveStatus.FEASIBLE, timed_out=budget.deadline is not None)
    return MatrixOutcome(outcome, found)


def add_count_rows(model: MatrixModel, first_y: int, prob: LocationProblem) -> None:
    """Add ``p`` and the group bounds on open sites (site ``j``'s ``y`` is column ``first_y + j``).

    Parameters
    ----------
    model
        The model to extend.
    first_y
        The column of site 0's ``y``.
    prob
        The problem whose ``p`` and groups are added.
    """
    if prob.p is not None:
        cols = first_y + np.arange(prob.n_sites)
        model.add_row(cols, np.ones(len(cols)), float(prob.p), float(prob.p))
    for g in prob.groups:
        cols = first_y + np.asarray(g.sites, dtype=np.int64)
        hi = np.inf if g.max_open is None else float(g.max_open)
        if g.max_open is not None or g.min_open > 0:
            model.add_row(cols, np.ones(len(cols)), float(g.min_open), hi)
