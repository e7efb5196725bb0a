"""Where a sweep's chunks are computed: this process, a local process pool, or Dask.

A backend is a context manager with one verb, :meth:`Backend.map`, which computes chunks
and yields their results as they finish, in any order, with only a few chunks in flight,
so that neither side ever holds the whole sweep. Leaving the ``with`` block stops every
worker the backend started, whatever the reason (an error, Ctrl-C, SIGTERM).

Local workers also stop by themselves: each watches its parent and exits when the parent
is gone (``kill -9`` included) or asks it to stop, so no worker outlives its sweep.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from contextlib import AbstractContextManager
from typing import Any, TypeVar

# `import mesa` (3.3) switches the global start method to spawn; choosing the context
# here keeps the pool the same whoever imported what, on every platform.
START_METHOD = "spawn"
#: Runs a local worker process does before it is replaced by a fresh one.
RUNS_PER_PROCESS = 2000
#: Seconds between a worker's checks of its parent.
WATCH_INTERVAL = 0.2

T = TypeVar("T")
Job = Callable[[T], Any]


class BackendError(RuntimeError):
    """A backend that cannot be started or reached; the message is one line."""


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, where the system has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class Backend(AbstractContextManager):
    """Computes chunks in the calling process, one after the other."""

    label = "in-process"
    workers = 1

    def map(self, job: Job, chunks: Iterable[T], chunk_size: int = 1, *,
            recycle: bool = True) -> Iterator[Any]:
        """Yield ``job(chunk)`` for every chunk, as each finishes (any order).

        Args:
            job: a picklable callable (it may run in another process).
            chunks: the chunks, consumed lazily.
            chunk_size: runs per chunk, a hint for recycling worker processes.
            recycle: replace a local worker process after about
                :data:`RUNS_PER_PROCESS` runs (the Mesa model's memory); ``False`` keeps
                them (the compiled engine, whose memory stays flat and which a new
                process must load again).

        """
        for chunk in chunks:
            yield job(chunk)

    def __exit__(self, *exc: object) -> None:
        return None


def _bounded(submit: Callable[[Any], Any], wait_first: Callable[[set[Any]], Any],
             chunks: Iterable[Any], in_flight: int) -> Iterator[Any]:
    # At most `in_flight` chunks are queued, so neither side holds the whole sweep.
    pending: set[Any] = set()
    for chunk in chunks:
        pending.add(submit(chunk))
        while len(pending) >= in_flight:
            done, pending = wait_first(pending)
            for future in done:
                yield future.result()
    while pending:
        done, pending = wait_first(pending)
        for future in done:
            yield future.result()


def _watch_parent(parent: int, lifeline: Any) -> None:
    """Run in each worker: leave at once when the parent dies or says stop.

    ``lifeline`` is the reading end of a pipe whose only writing end the parent holds:
    it becomes readable (end of file) when the parent closes it or dies, however it dies.
    A pipe rather than a shared Event, because a worker killed while holding an Event's
    lock would block the parent forever.
    """
    # Signals from the terminal or a scheduler reach the whole process group; the parent
    # handles them and stops the workers itself, so workers print no tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def watch() -> None:
        while not lifeline.poll(WATCH_INTERVAL) and os.getppid() == parent:
            pass
        os._exit(1)  # not sys.exit: the main thread may be deep in a run


    threading.Thread(target=watch, name="kamabm-parent-watch", daemon=True).start()


class LocalPool(Backend):
    """A pool of local worker processes.

    Args:
        workers: number of processes.

    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.label = f"local x{workers}"
        self.pool: ProcessPoolExecutor | None = None
        self.context = multiprocessing.get_context(START_METHOD)
        self.lifeline, self.alive = self.context.Pipe(duplex=False)

    def executor(self, runs_per_task: int = 1, *, recycle: bool = True) -> ProcessPoolExecutor:
        """The pool as a :class:`concurrent.futures.Executor` (started on first use).

        For callers that submit their own tasks (the calibration's sampler); its workers
        are the pool's, started with ``spawn`` and watching this process, and leaving the
        ``with`` block stops them.

        Args:
            runs_per_task: model runs one task makes, so that a worker process is
                replaced after about :data:`RUNS_PER_PROCESS` runs.
            recycle: whether to replace worker processes at all.

        """
        if self.pool is None:
            # Mesa < 3.4 keeps every model ever made alive (Agent._ids, mesa/mesa#3179),
            # about 75 kB a run here; fresh worker processes now and then keep memory flat.
            self.pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=self.context,
                max_tasks_per_child=(max(1, RUNS_PER_PROCESS // max(1, runs_per_task))
                                     if recycle else None),
                initializer=_watch_parent, initargs=(os.getpid(), self.lifeline))
        return self.pool

    def map(self, job: Job, chunks: Iterable[T], chunk_size: int = 1, *,
            recycle: bool = True) -> Iterator[Any]:
        """See :meth:`Backend.map`."""
        pool = self.executor(chunk_size, recycle=recycle)

        def first(pending: set[Any]) -> Any:
            return wait_futures(pending, return_when=FIRST_COMPLETED)

        yield from _bounded(lambda c: pool.submit(job, c), first, chunks, 2 * self.workers)

    def stop_now(self) -> None:
        """Have every worker leave at once, dropping what it computes (results not wanted)."""
        self.alive.close()

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            # Interrupted or failed: workers drop their chunk and leave now.
            self.alive.close()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        self.alive.close()
        self.lifeline.close()


class DaskBackend(Backend):
    """Dask distributed: an existing scheduler, or a local cluster started here.

    Args:
        scheduler: the scheduler's address, e.g. ``tcp://10.0.0.5:8786``.
        workers: the size of a local cluster (when no scheduler is given).

    """

    def __init__(self, scheduler: str | None, workers: int | None) -> None:
        try:
            import distributed
        except ImportError:
            raise BackendError("the Dask backend needs the dask extra: "
                               "pip install 'kamabm[dask]'") from None
        self.distributed = distributed
        self.cluster = None
        try:
            if scheduler is not None:
                self.client = distributed.Client(scheduler, timeout="10s")
                self.label = f"dask {scheduler}"
            else:
                import logging

                self.cluster = distributed.LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True,
                    host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR)
                self.client = distributed.Client(self.cluster)
                self.label = f"dask local x{workers}"
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise BackendError(f"cannot reach the Dask scheduler {scheduler}: "
                               f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                               ) from None
        self.workers = max(1, len(self.client.scheduler_info()["workers"]))

    def map(self, job: Job, chunks: Iterable[T], chunk_size: int = 1, *,
            recycle: bool = True) -> Iterator[Any]:
        """See :meth:`Backend.map`."""
        def first(pending: set[Any]) -> tuple[set[Any], set[Any]]:
            done, rest = self.distributed.wait(list(pending), return_when="FIRST_COMPLETED")
            return set(done), set(rest)

        def submit(chunk: Any) -> Any:
            return self.client.submit(job, chunk, pure=False)

        yield from _bounded(submit, first, chunks, 2 * self.workers)

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def open_backend(*, workers: int | None = None, scheduler: str | None = None,
                 dask_workers: int | None = None) -> Backend:
    """The backend for the given options: Dask if asked, else local processes.

    Args:
        workers: local worker processes (default: the available cores); 1 runs in this
            process.
        scheduler: address of a Dask scheduler, e.g. ``tcp://10.0.0.5:8786``.
        dask_workers: start a local Dask cluster with this many worker processes.

    Raises:
        BackendError: Dask is not installed or the scheduler cannot be reached.

    """
    if scheduler is not None or dask_workers is not None:
        return DaskBackend(scheduler, dask_workers)
    n = workers if workers is not None else available_cores()
    return Backend() if n == 1 else LocalPool(n)
