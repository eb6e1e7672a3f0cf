"""Run many plans on Dask: a local cluster of one process per core, or an existing cluster.

See :mod:`optimizer.engine.run`; :mod:`optimizer.engine.plugin` (imported only when a cluster
starts) pins each worker's solver to one thread.
"""

from optimizer.engine.run import Engine, Job, Outcome, RegionData, plan_job, prepare

__all__ = ["Engine", "Job", "Outcome", "RegionData", "plan_job", "prepare"]
