"""Pin the HiGHS solver of this process to a number of threads.

HiGHS starts one task scheduler per process, with the thread count of the first solve; a later
solve that asks for another count is not solved. A process that runs many plans side by side
with others (a Dask worker) therefore pins the count once, before its first plan: later solves
with the default count (``solver.threads`` unset) or the same count then run on it.
"""

from __future__ import annotations

import os
import sys

import highspy

__all__ = ["pin_highs_threads"]


def pin_highs_threads(threads: int = 1) -> None:
    """Solve an empty model with ``threads`` threads, so that the process keeps that count.

    Parameters
    ----------
    threads
        Threads of every later HiGHS solve in this process.
    """
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
