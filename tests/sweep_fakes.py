"""Cheap, picklable run functions standing in for the model in the sweep tests.

They follow the contract of ``kamabm.model.run.run_one``: a function of (parameters, seed)
that returns outcome name -> float or None, and per-month series when asked.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from kamabm.model.params import Parameters

FAKE_OUTCOMES = ("capture_rate", "time_to_first_capture", "key_account_margin")
FAKE_SERIES = ("mean_loyalty", "captured_share")


def fake_run(params: Parameters, seed: int, *, keep_series: Sequence[str] = ()) -> dict:
    """Outcomes that depend on the parameters and, through the seed, on chance."""
    rng = np.random.default_rng(seed)
    noise = rng.normal(size=params.horizon_months)
    pressure = params.client_revenue_share * params.kam_pressure
    out: dict = {
        "capture_rate": float(np.clip(pressure + 0.05 * noise[0], 0, 1)),
        "time_to_first_capture": None if pressure < 0.1 else float(rng.integers(1, 60)),
        "key_account_margin": float(params.list_markup - pressure + 0.01 * noise.sum()),
    }
    if keep_series:
        walk = np.cumsum(noise) / params.horizon_months
        out["series"] = {name: list(walk * (i + 1)) for i, name in enumerate(keep_series)}
    return out


def failing_run(params: Parameters, seed: int, *, keep_series: Sequence[str] = ()) -> dict:
    """Like :func:`fake_run`, but raises at high KAM pressure."""
    if params.kam_pressure > 0.7:
        raise ZeroDivisionError(f"fake model broke at kam_pressure={params.kam_pressure}")
    return fake_run(params, seed, keep_series=keep_series)


def slow_run(params: Parameters, seed: int, *, keep_series: Sequence[str] = ()) -> dict:
    """Like :func:`fake_run`, but takes 20 ms, so a sweep can be killed halfway."""
    time.sleep(0.02)
    return fake_run(params, seed, keep_series=keep_series)


def cheap_run(params: Parameters, seed: int, *, keep_series: Sequence[str] = ()) -> dict:
    """Almost free, to measure the runner itself."""
    return {"capture_rate": (seed % 1000) / 1000.0, "time_to_first_capture": None,
            "key_account_margin": params.kam_pressure}


def pid_run(params: Parameters, seed: int, *, keep_series: Sequence[str] = ()) -> dict:
    """Reports the id of the process that ran it (as ``capture_rate``)."""
    import os

    return {**fake_run(params, seed), "capture_rate": float(os.getpid())}


def slower_run(params: Parameters, seed: int, *, keep_series: Sequence[str] = ()) -> dict:
    """Like :func:`fake_run`, but takes 100 ms, so a test can act while a sweep runs."""
    time.sleep(0.1)
    return fake_run(params, seed, keep_series=keep_series)


def chunk_pid(chunk: object) -> int:
    """A backend job: the id of the process that computed the chunk."""
    import os

    return os.getpid()


def stoppable_chunk(chunk: Sequence[int]) -> int:
    """A backend job that takes 50 ms a run and, asked to stop, drops its chunk between runs."""
    from kamabm.experiments.backends import check_stop

    for _ in chunk:
        check_stop()
        time.sleep(0.05)
    return len(chunk)
