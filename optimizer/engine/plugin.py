"""The Dask worker plugin that pins each worker's solver to one thread (imports distributed)."""

from __future__ import annotations

from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin

from optimizer.solver.threads import pin_highs_threads

__all__ = ["PinThreads", "pin_threads_plugin"]


class PinThreads(WorkerPlugin):
    """Pin the worker's HiGHS solver to one thread when the worker starts.

    Registered on every worker (restarted ones included), so that ``n`` workers of one thread
    run ``n`` plans side by side without oversubscribing the cores.
    """

    name = "optimizer-pin-threads"

    def setup(self, worker: Any) -> None:
        """Pin the solver threads (called by Dask on each worker)."""
        pin_highs_threads(1)


def pin_threads_plugin() -> PinThreads:
    """Return the plugin to register with :meth:`distributed.Client.register_plugin`.

    Returns
    -------
    PinThreads
        A new plugin.
    """
    return PinThreads()
