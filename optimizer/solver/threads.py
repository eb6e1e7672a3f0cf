"""Pin the HiGHS solver of the calling thread to a number of threads.

HiGHS starts one task scheduler per calling thread, with the thread count of that thread's
first solve; a later solve in the same thread that asks for another count is not solved, and
other threads are not affected. A thread that runs many plans side by side with other
processes (a Dask worker's task thread) therefore pins the count before its first plan: later
solves in it with the default count (``solver.threads`` unset) or the same count run on it.
(A pin made in another thread, e.g. a worker's event loop, does nothing for the task thread:
measured, two workers then used about 2.5 cores between them.)
"""

from __future__ import annotations

import os
import sys
import threading

import highspy

__all__ = ["pin_highs_threads"]

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
