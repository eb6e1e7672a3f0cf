"""Sweeps: many scenarios over many regions, run on Dask (``optimizer sweep``).

:func:`~optimizer.sweep.spec.load_sweep` reads and checks a sweep file,
:func:`~optimizer.sweep.run.run_sweep` runs it on :class:`optimizer.engine.Engine` and writes
the sweep folder; the table's columns are in :mod:`optimizer.sweep.table` and ``docs/sweep.md``.
"""

from optimizer.sweep.run import SweepResult, run_sweep
from optimizer.sweep.spec import Run, SweepSpec, load_sweep, runs_of

__all__ = ["Run", "SweepResult", "SweepSpec", "load_sweep", "run_sweep", "runs_of"]
