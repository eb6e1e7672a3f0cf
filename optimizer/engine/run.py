"""Run many plans on Dask: a local cluster of one process per core, or an existing cluster.

``optimizer sweep`` and ``optimizer compare`` share this one way of running plans. The data of
each region (its :class:`~optimizer.inputs.Inputs` and :class:`~optimizer.spatial.Geography`
with the adjacency and road graph already built, see :func:`prepare`) is sent to the workers
once (``scatter``) and every run on it reuses it. Each run has a wall-clock limit; a run that
fails, times out or loses its worker is recorded with its reason and the others go on. Results
are handed to a callback as they finish. ``Ctrl-C`` cancels what is running and keeps what has
finished.

Workers get one thread each, and each run pins HiGHS to one thread in the thread it runs in
(:func:`optimizer.solver.threads.pin_highs_threads`; HiGHS's scheduler is per thread), so that
``n`` workers run ``n`` plans side by side without oversubscribing the cores.
The local cluster listens on 127.0.0.1 only and has no dashboard, so nothing needs the internet.

Examples
--------
>>> from optimizer.engine import Engine, Job, prepare
>>> data = {"sample": prepare(load_inputs("data/sample"))}  # doctest: +SKIP
>>> with Engine(workers=2) as engine:  # doctest: +SKIP
...     outcomes = engine.run(data, [Job("a", "sample", Policy())])
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from optimizer.errors import OptimizerError, PolicyError
from optimizer.inputs import Inputs
from optimizer.pipeline import make_plan
from optimizer.planning import SolveMemo
from optimizer.report import Plan
from optimizer.rules import Policy
from optimizer.solver.threads import pin_highs_threads
from optimizer.spatial import Geography, network, project, township_edges

__all__ = [
    "Engine",
    "Job",
    "Outcome",
    "RegionData",
    "plan_job",
    "prepare",
]

logger = logging.getLogger(__name__)

#: Seconds a timed-out run is given beyond its limit before its worker is restarted.
GRACE_SECONDS = 10.0


@dataclass
class RegionData:
    """The townships of one region and their geography, computed once and shared by its runs.

    ``solves`` holds the proven optima of the runs made on it in this process (each worker
    has its own copy): a run whose judicial-office or court problem is the same as an earlier
    run's (a sweep of police settings leaves them unchanged) reuses it.
    """

    inputs: Inputs
    geography: Geography
    solves: SolveMemo = field(default_factory=dict)


@dataclass(frozen=True)
class Job:
    """One plan to make: a policy on the data stored under ``data``."""

    key: str
    data: str
    policy: Policy
    types: tuple[str, ...] | None = None


@dataclass
class Outcome:
    """What became of a job.

    Attributes
    ----------
    key
        The job's key.
    status
        ``ok``, ``failed`` (the reason says why: an infeasible scenario, a solver error, a worker
        that died) or ``timeout`` (over the run's wall-clock limit).
    plan
        The plan when ``ok``.
    reason
        Why it failed; empty when ``ok``.
    seconds
        Wall-clock seconds of the run on its worker (when ``ok``) or until it was given up.
    error
        Class name of the error a failed run raised (``InfeasibleError`` ...), if any.
    problems
        That error's problems, when it listed them.
    cpu_seconds
        CPU seconds of the run's process on its worker (solver and Python; next to ``seconds``,
        it shows how much of the wall-clock another load on the machine took).
    extra
        What the engine's ``finish`` made of the plan on the worker (for example its
        ``plan.json`` text), so that this process only writes it.
    """

    key: str
    status: str
    plan: Plan | None = None
    reason: str = ""
    seconds: float = 0.0
    error: str = ""
    problems: tuple[str, ...] = ()
    cpu_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)


def prepare(inputs: Inputs) -> RegionData:
    """Compute the geography every run on ``inputs`` needs: projection, adjacency, road graph.

    Parameters
    ----------
    inputs
        The region's inputs.

    Returns
    -------
    RegionData
        To be shared by all runs on these inputs.
    """
    g = project(inputs)
    township_edges(inputs, g)
    if inputs.roads is not None:
        g.road = network.road_graph(inputs.roads, g.crs, townships=inputs.townships)
    return RegionData(inputs, g)


def plan_job(data: RegionData, policy: Policy, types: tuple[str, ...] | None) -> Plan:
    """Make one plan on shared region data (what each worker runs).

    Parameters
    ----------
    data
        The region's inputs and geography.
    policy
        The scenario.
    types
        Facility types, or ``None`` for all present.

    Returns
    -------
    Plan
        As :func:`optimizer.pipeline.make_plan` returns it.
    """
    return make_plan(data.inputs, policy, types=types, geography=data.geography, solves=data.solves)


#: What a worker makes of a finished plan besides the plan itself (``Outcome.extra``).
Finish = Callable[[Plan], dict[str, Any]]


def _timed(
    fn: Callable[..., Plan],
    key: str,
    data: RegionData,
    policy: Policy,
    types: Any,
    finish: Finish | None = None,
) -> Outcome:
    """Run ``fn`` (and ``finish``) and time it; a failure comes back as its reason, not raised."""
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        plan = fn(data, policy, types)
        extra = finish(plan) if finish is not None else {}
    except Exception as exc:  # every failure is recorded and the other runs go on
        problems = (
            tuple(getattr(exc, "problems", None) or ()) if isinstance(exc, OptimizerError) else ()
        )
        seconds = time.perf_counter() - t0
        return Outcome(
            key, "failed", None, _reason(exc), seconds, type(exc).__name__, problems,
            cpu_seconds=time.process_time() - c0,
        )  # fmt: skip
    return Outcome(
        key, "ok", plan, "", time.perf_counter() - t0,
        cpu_seconds=time.process_time() - c0, extra=extra,
    )  # fmt: skip


def _on_worker(
    fn: Callable[..., Plan],
    key: str,
    data: RegionData,
    policy: Policy,
    types: Any,
    finish: Finish | None = None,
) -> Outcome:
    """Run one job on a Dask worker: HiGHS pinned to one thread in this (the task's) thread."""
    pin_highs_threads(1)
    return _timed(fn, key, data, policy, types, finish)


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OptimizerError):
        return str(exc).replace("\n", " ")
    name = type(exc).__name__
    if name == "KilledWorker":
        return "the worker running it died (killed, out of memory or crashed)"
    return f"{name}: {exc}".replace("\n", " ")


def _where(dask_scheduler: Any, key: str) -> str | None:  # runs on the scheduler
    ts = dask_scheduler.tasks.get(key)
    return ts.processing_on.address if ts is not None and ts.processing_on is not None else None


class Engine:
    """A Dask client (or none) that runs jobs; use it as a context manager.

    Parameters
    ----------
    workers
        Worker processes of the local cluster; default: one per core. ``0`` runs the jobs one
        by one in this process, without Dask (no wall-clock limit beyond the solver's budget).
    scheduler
        Address of an existing Dask scheduler (``tcp://HOST:PORT``); then ``workers`` is unused.
    run_time_limit
        Wall-clock seconds per run (``None``: none). A run over it is given up, its worker
        restarted, and the run recorded as ``timeout``.
    grace
        Seconds a run may go beyond ``run_time_limit`` (its solver stops at the limit and
        returns its best plan with the gap) before it is given up.
    """

    def __init__(
        self,
        *,
        workers: int | None = None,
        scheduler: str | None = None,
        run_time_limit: float | None = None,
        grace: float = GRACE_SECONDS,
    ) -> None:
        if workers is not None and workers < 0:
            raise PolicyError(f"workers = {workers}: give 0 (in this process) or more")
        self.workers = (os.cpu_count() or 1) if workers is None else workers
        self.scheduler = scheduler
        self.run_time_limit = run_time_limit
        self.grace = grace
        self.client: Any = None
        self.cluster: Any = None
        self.interrupted = False

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Connect to the scheduler or start the local cluster (nothing when ``workers=0``)."""
        if self.scheduler is None and self.workers == 0:
            return
        import dask
        from distributed import Client, LocalCluster

        if self.scheduler is not None:
            try:
                self.client = Client(self.scheduler, timeout="20s")
            except OSError as exc:
                raise PolicyError(
                    f"no Dask scheduler answers at {self.scheduler} ({exc}); start one with "
                    "'dask scheduler' and workers with 'dask worker ADDRESS'"
                ) from exc
            logger.info("connected to %s: %d workers", self.scheduler, self.slots())
            return
        # allowed-failures 0: the engine retries a lost run itself, once; worker-saturation 1.0:
        # a worker holds only the run it is running, the next one waits on the scheduler and
        # goes to whichever worker frees up first (the engine keeps it submitted, see run)
        config = {
            "distributed.scheduler.allowed-failures": 0,
            "distributed.scheduler.worker-saturation": 1.0,
        }
        with dask.config.set(config):
            self.cluster = LocalCluster(
                n_workers=self.workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                # no dashboard; its bare HTTP server on a free loopback port, not 8787 (which
                # another cluster on the machine may hold)
                scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.ERROR,
            )
        self.client = Client(self.cluster)
        self.client.wait_for_workers(self.workers, timeout=120)
        logger.info("local Dask cluster: %d worker processes, 1 thread each", self.workers)

    def close(self) -> None:
        """Disconnect, and stop the local cluster if this engine started it."""
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None

    def slots(self) -> int:
        """Return how many runs go side by side (worker threads; 1 in this process)."""
        if self.client is None:
            return 1
        return max(1, sum(self.client.nthreads().values()))

    def run(
        self,
        data: Mapping[str, RegionData],
        jobs: Sequence[Job],
        *,
        on_outcome: Callable[[Job, Outcome], None] | None = None,
        fn: Callable[[RegionData, Policy, tuple[str, ...] | None], Plan] = plan_job,
        finish: Finish | None = None,
    ) -> list[Outcome]:
        """Run every job; hand each outcome to ``on_outcome`` as it finishes.

        Parameters
        ----------
        data
            Region key -> its shared data; every job's ``data`` names one.
        jobs
            The runs, submitted in this order.
        on_outcome
            Called in this process with each job and its outcome, in finishing order.
        fn
            What a worker runs (default :func:`plan_job`).
        finish
            Run on the worker on each finished plan (inside the run's time); what it returns is
            the outcome's ``extra``. A sweep makes the ``plan.json`` text and the table row
            there, so that this process only writes files while the workers plan.

        Returns
        -------
        list of Outcome
            In the order of ``jobs``; jobs not run because of ``Ctrl-C`` are left out (and
            :attr:`interrupted` is set).
        """
        done: dict[str, Outcome] = {}

        def record(job: Job, outcome: Outcome) -> None:
            done[job.key] = outcome
            if on_outcome is not None:
                on_outcome(job, outcome)

        try:
            if self.client is None:
                self._run_here(data, jobs, fn, finish, record)
            else:
                self._run_dask(data, jobs, fn, finish, record)
        except KeyboardInterrupt:
            self.interrupted = True
            logger.warning("interrupted: %d of %d runs finished and are kept", len(done), len(jobs))
        return [done[j.key] for j in jobs if j.key in done]

    def _run_here(
        self, data: Mapping[str, RegionData], jobs: Sequence[Job], fn: Any, finish: Any, record: Any
    ) -> None:
        for job in jobs:
            record(job, _timed(fn, job.key, data[job.data], job.policy, job.types, finish))

    def _scatter(self, data: Mapping[str, RegionData]) -> dict[str, Any]:
        return {k: self.client.scatter(v, broadcast=True, hash=False) for k, v in data.items()}

    def _shared(self, data: Mapping[str, RegionData], shared: dict[str, Any]) -> dict[str, Any]:
        """Scatter again the region data a dead or restarted worker took with it."""
        lost = [k for k, fut in shared.items() if fut.status != "finished"]
        if lost:
            logger.info("sending the data of %s to the workers again", ", ".join(lost))
            shared |= self._scatter({k: data[k] for k in lost})
        return shared

    def _run_dask(
        self,
        data: Mapping[str, RegionData],
        jobs: Sequence[Job],
        fn: Any,
        finish: Any,
        record: Any,
    ) -> None:
        """Keep every worker busy: one run per slot going and one more per slot submitted.

        The extra run waits on the scheduler and starts the moment a worker frees up, instead
        of after this process has fetched and written the finished run. A run's wall-clock
        limit counts from when it could start (submitted into a free slot, or the moment a
        run before it finished).
        """
        from distributed import wait

        shared = self._scatter({k: data[k] for k in dict.fromkeys(j.data for j in jobs)})
        pending = deque((job, 0) for job in jobs)
        running: dict[Any, list[Any]] = {}  # future -> [job, start or None (queued), attempt]
        try:
            while pending or running:
                slots = self.slots()
                if pending and len(running) < 2 * slots:
                    shared = self._shared(data, shared)
                while pending and len(running) < 2 * slots:
                    job, attempt = pending.popleft()
                    fut = self.client.submit(
                        _on_worker, fn, job.key, shared[job.data], job.policy, job.types, finish,
                        key=f"plan-{job.key}-{uuid.uuid4().hex[:8]}", pure=False,
                    )  # fmt: skip
                    running[fut] = [job, None, attempt]
                self._start_clocks(running, slots)
                try:
                    wait(list(running), timeout=1.0, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    pass
                for fut in [f for f in running if f.done()]:
                    job, t0, attempt = running.pop(fut)
                    t0 = time.perf_counter() if t0 is None else t0
                    outcome = self._collect(fut, job, t0)
                    if outcome is None and attempt == 0:
                        pending.appendleft((job, 1))  # its worker or its data was lost: once more
                        continue
                    record(job, outcome or self._died(job, t0))
                self._start_clocks(running, slots)
                self._time_out(running, record)
        finally:
            for fut in running:
                fut.cancel()

    @staticmethod
    def _start_clocks(running: dict[Any, list[Any]], slots: int) -> None:
        """Start the clock of the oldest queued runs, as many as there are free slots."""
        free = slots - sum(entry[1] is not None for entry in running.values())
        now = time.perf_counter()
        for entry in running.values():  # in submission order
            if free <= 0:
                break
            if entry[1] is None:
                entry[1] = now
                free -= 1

    def _collect(self, fut: Any, job: Job, t0: float) -> Outcome | None:
        """Return the run's outcome, or None when it was lost with its worker."""
        try:
            if fut.status == "finished":
                return fut.result()  # type: ignore[no-any-return]
            if fut.status != "error":
                return None
            exc = fut.exception()
        except Exception:  # the result went with its worker before it was fetched
            return None
        if type(exc).__name__ == "KilledWorker" and self.cluster is not None:
            return None  # the local scheduler retries no run itself: the engine does, once
        return Outcome(job.key, "failed", None, _reason(exc), time.perf_counter() - t0)

    def _died(self, job: Job, t0: float) -> Outcome:
        reason = "the worker running it died, twice (killed, out of memory or crashed)"
        return Outcome(job.key, "failed", None, reason, time.perf_counter() - t0)

    def _time_out(self, running: dict[Any, list[Any]], record: Any) -> bool:
        """Give up the runs over their limit; restart their workers; True when any restarted."""
        if self.run_time_limit is None:
            return False
        now = time.perf_counter()
        limit = self.run_time_limit + self.grace
        late = [f for f, (_, t0, _) in running.items() if t0 is not None and now - t0 > limit]
        addresses = []
        for fut in late:
            job, t0, _ = running.pop(fut)
            try:
                addresses.append(self.client.run_on_scheduler(_where, key=fut.key))
            except Exception as exc:  # a scheduler without this package cannot say where
                logger.warning("cannot find the worker of %s to restart it: %s", job.key, exc)
            fut.cancel()
            reason = f"over the run's wall-clock limit of {self.run_time_limit:g} s"
            record(job, Outcome(job.key, "timeout", None, reason, now - t0))
        addresses = [a for a in addresses if a]
        if not addresses:
            return False
        try:
            self.client.restart_workers(addresses, timeout=60)
        except Exception as exc:  # a worker without a nanny finishes on its own
            logger.warning("could not restart worker(s) %s: %s", addresses, exc)
        return True
