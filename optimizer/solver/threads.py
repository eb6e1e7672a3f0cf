"""Pin the HiGHS solver of the calling thread to a number of threads.

HiGHS starts one task scheduler per calling thread, with the thread count of that thread's
first solve; a later solve in the same thread that asks for another count is not solved, and
other threads are not affected. A thread that runs many plans side by side with other
processes (a Dask worker's task thread) therefore pins the count before its first plan: later
solves in it with the default count (``solver.threads`` unset) or the same count run on it.
(A pin made in another thread, e.g. a worker's event loop, does nothing for the task thread:
measured, two workers then used about 2.5 cores between them.)

Every HiGHS solve of the solver core goes through :func:`run_highs`: a solve that asks for a
thread count other than the one its thread already runs with (a notebook that plans once with
the default and then a scenario with ``solver.threads: 1``) would otherwise return no solution
at all, and the plan would silently be the heuristic start with no bound.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
from typing import Any

import highspy

__all__ = ["pin_highs_threads", "run_highs"]

logger = logging.getLogger(__name__)

_PINNED = threading.local()


def pin_highs_threads(threads: int = 1) -> None:
    """Solve an empty model with ``threads`` threads, so that the process keeps that count.

    Parameters
    ----------
    threads
        Threads of every later HiGHS solve in the calling thread.
    """
    if getattr(_PINNED, "threads", None) == threads:
        return
    sys.stdout.flush()
    saved = os.dup(1)
    try:  # HiGHS prints its banner on stdout when created: keep it off the user's screen
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            h = highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", int(threads))
    h.passModel(highspy.HighsLp())
    h.run()
    _PINNED.threads = threads


def run_highs(h: Any) -> Any:
    """Run a HiGHS instance; keep the thread's own count when it refuses the one asked for.

    HiGHS refuses a solve (status error, model status "not set") whose ``threads`` option
    differs from the count its calling thread's scheduler started with. The solve is then run
    again with ``threads`` reset to the default, which takes that count, and a warning says so.

    Parameters
    ----------
    h
        A ``highspy.Highs`` with its model passed.

    Returns
    -------
    highspy.HighsStatus
        The status of the run that counts.
    """
    status = h.run()
    if status != highspy.HighsStatus.kError:
        return status
    if h.getModelStatus() != highspy.HighsModelStatus.kNotset:
        return status
    value = h.getOptionValue("threads")  # (status, value) in recent highspy, the value before
    wanted = int(value[-1] if isinstance(value, tuple) else value)
    if wanted == 0:
        return status
    logger.warning(
        "HiGHS in this thread already runs with another thread count than %d (an earlier solve "
        "in the same process); this solve uses that count instead",
        wanted,
    )
    h.setOptionValue("threads", 0)
    return h.run()
