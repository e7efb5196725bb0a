"""Where a sweep's chunks are computed: this process, a local process pool, or Dask.

A backend is a context manager with one verb, :meth:`Backend.map`, which computes chunks
and yields their results as they finish, in any order, with only a few chunks in flight,
so that neither side ever holds the whole sweep. Leaving the ``with`` block stops every
worker the backend started, whatever the reason (an error, Ctrl-C, SIGTERM).

Local workers also stop by themselves: each watches its parent and exits when the parent
is gone (``kill -9`` included), so no worker outlives its sweep. Asked to stop, a worker
drops its chunk at the next run (:func:`check_stop`) and leaves the pool the ordinary way,
and the parent holds its stop signals while it waits on the pool: a pool whose worker dies
under it, or whose lock a signal interrupts, can hang its shutdown (CPython 3.12.1,
python/cpython#125451).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from contextlib import AbstractContextManager, contextmanager
from typing import Any, TypeVar

# `import mesa` (3.3) switches the global start method to spawn; choosing the context
# here keeps the pool the same whoever imported what, on every platform.
START_METHOD = "spawn"
#: Runs a local worker process does before it is replaced by a fresh one.
RUNS_PER_PROCESS = 2000
#: Seconds between a worker's checks of its parent.
WATCH_INTERVAL = 0.2
#: Seconds a worker asked to stop has to finish the run it is on (or a job that never
#: calls check_stop) and leave the pool; after that it exits at once, whatever it is doing.
STOP_GRACE = 20.0
#: Signals that stop a sweep; the parent holds them while it waits on its workers.
HELD_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP")
                     if hasattr(signal, name))
#: Seconds between the parent's checks for a held signal while it waits on its workers.
SIGNAL_CHECK_INTERVAL = 0.1

#: Set in a worker process when its parent asks it to stop.
_stop_requested = threading.Event()

T = TypeVar("T")
Job = Callable[[T], Any]


class BackendError(RuntimeError):
    """A backend that cannot be started or reached; the message is one line."""


class ChunkDropped(Exception):  # noqa: N818 -- an outcome, not a fault
    """Raised in a worker whose parent asked it to stop: the chunk is not wanted."""


def check_stop() -> None:
    """Raise :class:`ChunkDropped` if this process is a worker asked to stop.

    Jobs call it between runs, so that a stopped sweep's workers leave within one run.
    """
    if _stop_requested.is_set():
        raise ChunkDropped("the sweep stopped")


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
    """Run in each worker: leave at once when the parent dies, soon when it says stop.

    ``lifeline`` is the reading end of a pipe whose only writing end the parent holds:
    it becomes readable (end of file) when the parent closes it or dies, however it dies.
    A pipe rather than a shared Event, because a worker killed while holding an Event's
    lock would block the parent forever. Told to stop, the worker drops its chunk at the
    next run (:func:`check_stop`) and leaves when the pool shuts down; it exits by itself
    only if that takes longer than :data:`STOP_GRACE`.
    """
    # Signals from the terminal or a scheduler reach the whole process group; the parent
    # handles them and stops the workers itself, so workers print no tracebacks.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def watch() -> None:
        while not lifeline.poll(WATCH_INTERVAL):
            if os.getppid() != parent:
                os._exit(1)  # not sys.exit: the main thread may be deep in a run
        _stop_requested.set()
        deadline = time.monotonic() + STOP_GRACE
        while os.getppid() == parent and time.monotonic() < deadline:
            time.sleep(WATCH_INTERVAL)
        os._exit(1)


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
        """See :meth:`Backend.map`; stop signals are held while it waits on the workers."""
        pool = self.executor(chunk_size, recycle=recycle)
        with signals_at_safe_points() as deliver:
            def submit(chunk: Any) -> Any:
                deliver()
                return pool.submit(job, chunk)

            yield from _bounded(submit, lambda pending: wait_first(pending, deliver), chunks,
                                2 * self.workers)

    def stop_now(self) -> None:
        """Have every worker drop its chunk at the next run (results not wanted)."""
        self.alive.close()

    def __exit__(self, *exc: object) -> None:
        if exc[0] is not None:
            # Interrupted or failed: workers drop their chunk and leave now.
            self.alive.close()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
        self.alive.close()
        self.lifeline.close()


def wait_first(pending: Iterable[Any], deliver: Callable[[], None]) -> tuple[set[Any], set[Any]]:
    """Wait until one of the ``pending`` futures is done; ``(done, not done)``.

    Every :data:`SIGNAL_CHECK_INTERVAL` seconds meanwhile, ``deliver`` (from
    :func:`signals_at_safe_points`) delivers a held signal.
    """
    while True:
        done, rest = wait_futures(pending, timeout=SIGNAL_CHECK_INTERVAL,
                                  return_when=FIRST_COMPLETED)
        deliver()
        if done:
            return done, rest


@contextmanager
def signals_at_safe_points() -> Iterator[Callable[[], None]]:
    """Hold the stop signals in the ``with`` block; the function it gives delivers them.

    A handler that raises (Ctrl-C's ``KeyboardInterrupt``) at an arbitrary point can leave
    a lock of :mod:`concurrent.futures` taken, such as the futures' conditions that
    ``wait`` takes one by one, and the pool then hangs on shutdown. Held, a signal is
    recorded, and the function, called where no such lock is taken, runs the handler
    that was in place: the block ends as the signal would have ended it, within
    :data:`SIGNAL_CHECK_INTERVAL` while waiting. A signal held when the block is left
    is delivered then. Ignored signals stay ignored; outside the main thread (where
    Python cannot install handlers) nothing is held.
    """
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    received: list[int] = []
    previous = {signum: handler for signum in HELD_SIGNALS
                if (handler := signal.getsignal(signum)) not in (signal.SIG_IGN, None)}

    def record(signum: int, frame: object) -> None:
        received.append(signum)

    def hold() -> None:
        for signum in previous:
            signal.signal(signum, record)

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    def deliver() -> None:
        if received:
            signum = received[0]
            received.clear()
            restore()
            signal.raise_signal(signum)  # the handler in place raises, or the default acts
            hold()  # it returned (a repeated signal, ignored): hold again

    hold()

    try:
        yield deliver
    finally:
        restore()
        if received:
            signal.raise_signal(received[0])


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
