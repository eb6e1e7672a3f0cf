"""One time budget for a whole planning call, a fair share of it for each facility type.

The run's ``solver.time_limit`` is one deadline. Facility types are planned one after another;
each type's solve gets what remains when it starts less a reserve for every type still to come
(:meth:`TimeBudget.fair_share`: half of each later type's fair part, which is half an equal
share, half in proportion to its number of facilities). The formulation before it (with the
travel times and the adjacency the first type builds for all) draws on the whole budget, not
on the type's share. Time a type leaves unused goes to the types after it, and a type that
overruns its share (a slow machine) cannot take the later types' reserve, since each share is a
deadline of its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

__all__ = ["TimeBudget"]


class TimeBudget:
    """A wall-clock deadline shared by every solve of a planning call.

    Every facility type, every waive-and-resolve round and every cover problem draws on the same
    deadline: each solver call gets what remains of the current type's share (see
    :meth:`allot`), but at least ``floor`` seconds so that a call started at the deadline can
    still return a feasible plan (with its gap) instead of none.

    Parameters
    ----------
    seconds
        The budget, from the moment the object is made.
    floor
        Least time given to a solver call that starts after the deadline.
    """

    def __init__(self, seconds: float, *, floor: float = 1.0) -> None:
        self.seconds = float(seconds)
        self.floor = float(floor)
        self._start = time.monotonic()
        self.stage_seconds: dict[str, float] = {}
        self.solving_seconds = 0.0
        #: Seconds allotted to each facility type when it started.
        self.shares: dict[str, float] = {}
        #: Seconds of the budget spent before each facility type started.
        self.share_began: dict[str, float] = {}
        self._share_end: float | None = None
        self._promised: dict[int, float] = {}
        self._share_start = self._start

    def __repr__(self) -> str:
        return f"TimeBudget({self.elapsed():.1f} of {self.seconds:g} s used)"

    def elapsed(self) -> float:
        """Return the seconds since the budget started."""
        return time.monotonic() - self._start

    def left(self) -> float:
        """Return the seconds left of the whole budget (never negative)."""
        return max(0.0, self.seconds - self.elapsed())

    def remaining(self) -> float:
        """Return the seconds a solver call may take now, at least ``floor``.

        Inside :meth:`allot`, what is left of the current share; otherwise what is left of
        the whole budget.
        """
        left = self.seconds - self.elapsed()
        if self._share_end is not None:
            left = min(left, self._share_end - time.monotonic())
        return max(self.floor, left)

    def fair_share(self, weight: float, weights_to_come: Sequence[float]) -> float:
        """Return the seconds the next facility type gets of what is left.

        What is left, less a reserve for each type still to come: half of that type's fair
        part (half an equal share, half in proportion to its size) of what was left when the
        reserve was first promised, in seconds, so the formulations of the types before it
        cannot shrink it. The type starting now may so use most of the time, yet every later
        type is sure of its reserve, and gets more when the types before it finish early.
        After an overrun the later types hold at most an equal share each of what is left.
        At least ``floor``; the last type gets all that is left.

        Parameters
        ----------
        weight
            Size of the type starting now (its number of facilities).
        weights_to_come
            Sizes of the types planned after it.

        Returns
        -------
        float
            Seconds for the type.
        """
        left = self.left()
        n = 1 + len(weights_to_come)
        total = weight + float(sum(weights_to_come))
        later = len(weights_to_come)
        promised = 0.0
        for k, w in enumerate(weights_to_come):
            part = 1.0 / n if total <= 0 else 0.5 / n + 0.5 * w / total
            # a type's reserve is kept in seconds from the first promise, so the formulations
            # of the types before it cannot shrink it
            key = later - 1 - k  # types after it: the same key at every call of the run
            self._promised[key] = max(self._promised.get(key, 0.0), 0.5 * part * left)
            promised += self._promised[key]
        # after an overrun, the later types hold at most an equal share each of what is left
        promised = min(promised, left * later / n)
        return max(self.floor, left - promised)

    @contextmanager
    def allot(self, name: str, seconds: float) -> Iterator[None]:
        """Make ``seconds`` from now the deadline of every solver call in the ``with`` block."""
        self.shares[name] = round(seconds, 3)
        self.share_began[name] = round(self.elapsed(), 3)
        self._share_start = time.monotonic()
        self._share_end = self._share_start + seconds
        try:
            yield
        finally:
            self._share_end = None

    def share_used_up(self, name: str) -> bool:
        """Return whether the share of ``name`` (the current or last one) has run out."""
        share = self.shares.get(name)
        spent = time.monotonic() - self._share_start
        return share is not None and spent >= 0.95 * share

    def suggested_limit(self, name: str) -> int:
        """Return a ``time_limit`` that should give the type ``name`` enough time.

        Twice what the run had used before the type's solve plus three times the type's share
        (at least 30 s), rounded up to ten seconds, and at least 1.5 × the current limit.

        Parameters
        ----------
        name
            The facility type whose share ran out.

        Returns
        -------
        int
            Seconds for ``--time-limit`` / ``solver.time_limit``.
        """
        share = self.shares.get(name, self.floor)
        before = self.share_began.get(name, self.elapsed())
        want = 2.0 * (before + max(30.0, 3.0 * share))
        return int(10 * math.ceil(max(want, 1.5 * self.seconds) / 10))

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Add the seconds of the ``with`` block to the stage ``name``."""
        start = time.monotonic()
        try:
            yield
        finally:
            spent = time.monotonic() - start
            self.stage_seconds[name] = round(self.stage_seconds.get(name, 0.0) + spent, 3)

    @contextmanager
    def solving(self) -> Iterator[None]:
        """Count the seconds of the ``with`` block as time spent in the solver core."""
        start = time.monotonic()
        try:
            yield
        finally:
            self.solving_seconds += time.monotonic() - start
