"""Run many plans on Dask: a local cluster of one process per core, or an existing cluster.

See :mod:`optimizer.engine.run`; each run on a worker pins HiGHS to one thread in the thread
it runs in (:func:`optimizer.solver.threads.pin_highs_threads`).
"""

from optimizer.engine.run import Engine, Job, Outcome, RegionData, plan_job, prepare

__all__ = ["Engine", "Job", "Outcome", "RegionData", "plan_job", "prepare"]
