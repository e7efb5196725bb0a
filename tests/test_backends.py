"""How a local pool stops: signals wait for a safe point, workers leave the pool in order.

A signal whose handler raises while a lock of :mod:`concurrent.futures` is taken, or a
worker that dies under its pool, can hang the pool's shutdown (CPython 3.12.1,
python/cpython#125451): a sweep interrupted at the wrong moment then never ends.
"""

from __future__ import annotations

import os
import signal
import time

import pytest
from sweep_fakes import stoppable_chunk

from kamabm.experiments import backends
from kamabm.experiments.backends import signals_at_safe_points


@pytest.fixture
def sigterm_handler():
    """A SIGTERM handler that records and returns (as a repeated signal's does)."""
    calls: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: calls.append(signum))
    yield calls
    signal.signal(signal.SIGTERM, previous)


def test_a_held_signal_waits_for_the_safe_point_and_then_ends_the_block_as_it_would():
    reached = False
    with pytest.raises(KeyboardInterrupt):
        with signals_at_safe_points() as deliver:
            signal.raise_signal(signal.SIGINT)
            reached = True  # held: the code goes on to the safe point
            deliver()
    assert reached
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_signal_still_held_when_the_block_is_left_is_delivered_then():
    with pytest.raises(KeyboardInterrupt):
        with signals_at_safe_points():
            signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_a_handler_that_returns_keeps_the_signals_held(sigterm_handler):
    with signals_at_safe_points() as deliver:
        signal.raise_signal(signal.SIGTERM)
        signal.raise_signal(signal.SIGTERM)
        assert sigterm_handler == []
        deliver()
        assert sigterm_handler == [signal.SIGTERM]  # the two held as one
        signal.raise_signal(signal.SIGTERM)
        assert sigterm_handler == [signal.SIGTERM]
    assert sigterm_handler == [signal.SIGTERM] * 2


def test_an_ignored_signal_stays_ignored():
    previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    try:
        with signals_at_safe_points() as deliver:
            assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
            os.kill(os.getpid(), signal.SIGTERM)
            deliver()
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, previous)


def _stop_at_the_first_result(job, chunks, check=lambda result: None) -> tuple[list, float]:
    """Fail a pool's sweep at its first result (``check``-ed); the pool's workers and the
    seconds it took to stop."""
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="the sweep failed"):
        with backends.LocalPool(2) as pool:
            for result in pool.map(job, chunks):
                check(result)
                assert pool.pool is not None
                workers = list(pool.pool._processes.values())  # noqa: SLF001 -- their ends
                raise RuntimeError("the sweep failed")
    return workers, time.monotonic() - start


def test_workers_told_to_stop_drop_their_chunk_and_leave_the_pool_in_order():
    """A stopped pool's workers leave within a run, through the pool (exit code 0).

    Not by the watcher's ``os._exit`` after :data:`backends.STOP_GRACE` (exit code 1),
    which would leave the pool broken.
    """
    # one short chunk, then chunks of 10 s each: the sweep fails at the first result
    chunks = [range(1)] + [range(200)] * 4
    workers, elapsed = _stop_at_the_first_result(stoppable_chunk, chunks)
    assert elapsed < min(5.0, backends.STOP_GRACE), f"the pool took {elapsed:.1f} s to stop"
    assert len(workers) == 2
    assert [w.exitcode for w in workers] == [0, 0]


def test_a_stopped_sweeps_workers_leave_within_a_run_of_the_mesa_model():
    """The sweep's own job drops a chunk of 20-year Mesa runs between runs (run_many)."""
    from kamabm.experiments.files import parse_experiment
    from kamabm.experiments.sweep import _Job, chunked

    experiment = parse_experiment('name = "stop"\nreplications = 200\nseed = 3\n'
                                  'horizon = 240\n')
    runs = list(experiment.runs())
    chunks = [runs[:1], *chunked(runs[1:], 100)]  # then 100 runs a chunk: about 9 s each
    job = _Job(None, experiment.base, ("capture_rate",), (), "mesa")

    def computed(result) -> None:
        table, _ = result
        assert table.column("status").to_pylist() == ["ok"]

    workers, elapsed = _stop_at_the_first_result(job, chunks, computed)
    assert [w.exitcode for w in workers] == [0, 0]
    assert elapsed < 8.0, f"the pool took {elapsed:.1f} s to stop"
