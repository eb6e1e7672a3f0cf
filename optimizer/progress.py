"""The progress interface through which the stages report what they are doing.

The stages (:func:`optimizer.pipeline.make_plan`, :func:`optimizer.outputs.write_plan`) take a
:class:`Progress` and announce each stage with :meth:`Progress.stage`; they know nothing of
terminals. This base class does nothing, so a library call stays silent; the command line
passes :class:`optimizer.terminal.TerminalProgress`, which draws one line per stage with its
elapsed time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

__all__ = ["NO_PROGRESS", "Progress", "Stage"]


@dataclass
class Stage:
    """One stage being run: its key, the label a planner reads, and what it did.

    Attributes
    ----------
    key
        Stable name (``read``, ``spatial``, ``police_station``, ``report``, ``write:map.html``).
    label
        What the display shows (Chinese), e.g. ``求解 派出所（4,564 个）``.
    detail
        Set by the stage when it ends, e.g. ``保留 2,723 个``; shown after the label.
    """

    key: str
    label: str
    detail: str = ""


class Progress:
    """Receives the start and end of each stage; this base class ignores them."""

    def started(self, stage: Stage) -> None:
        """Note that ``stage`` began (this base class does nothing)."""

    def finished(self, stage: Stage, *, failed: bool = False) -> None:
        """Note that ``stage`` ended, ``failed`` when it raised (this base class does nothing)."""

    @contextmanager
    def stage(self, key: str, label: str) -> Iterator[Stage]:
        """Run the ``with`` block as one stage; set ``.detail`` on the yielded stage to report.

        Parameters
        ----------
        key
            Stable name of the stage.
        label
            What a planner reads.

        Yields
        ------
        Stage
            The running stage.
        """
        st = Stage(key, label)
        self.started(st)
        try:
            yield st
        except BaseException:
            self.finished(st, failed=True)
            raise
        self.finished(st)


#: The silent default.
NO_PROGRESS = Progress()
