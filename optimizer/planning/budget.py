"""One time budget for a whole planning call, and the seconds each stage spent."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["TimeBudget"]


class TimeBudget:
    """A wall-clock deadline shared by every solve of a planning call.

    Every facility type, every waive-and-resolve round and every cover problem draws on the same
    deadline: each solver call gets what remains, but at least ``floor`` seconds so that a call
    started at the deadline can still return a feasible plan (with its gap) instead of none.

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

    def __repr__(self) -> str:
        return f"TimeBudget({self.elapsed():.1f} of {self.seconds:g} s used)"

    def elapsed(self) -> float:
        """Return the seconds since the budget started."""
        return time.monotonic() - self._start

    def remaining(self) -> float:
        """Return the seconds a solver call may take now: what is left, at least ``floor``."""
        return max(self.floor, self.seconds - self.elapsed())

    @property
    def expired(self) -> bool:
        """True once the deadline has passed."""
        return self.elapsed() >= self.seconds

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
