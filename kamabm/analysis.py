"""Analysis of sweep results: the capture boundary and its bootstrap confidence band.

Pure functions of result tables (pandas DataFrames as returned by
:func:`kamabm.store.load_results`); they never run the model.

The *capture boundary* at a pressure level is the client revenue share at which the
probability of capture crosses one half. Capture probability rises with share, so it is
estimated by isotonic (monotone) regression of the runs' capture outcome on share, which
assumes no functional form; the crossing is found by linear interpolation between the
fitted points. Its uncertainty comes from a bootstrap over replications: the runs at
every design point are resampled with replacement, the boundary re-estimated, and the
band is the percentile interval of those estimates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import isotonic_regression

#: Status of a boundary estimate at one pressure level.
INSIDE, ABOVE, BELOW = "inside", "above range", "below range"


def critical_value(x: np.ndarray, y: np.ndarray, threshold: float = 0.5) -> float:
    """Where a monotone increasing fit of ``y`` on ``x`` first reaches ``threshold``.

    Args:
        x: the swept values (e.g. client revenue share), one per observation.
        y: the responses (e.g. capture rate of a run, in [0, 1]), one per observation.
        threshold: the level whose crossing is sought.

    Returns:
        The crossing, linearly interpolated between the fitted points around it;
        ``+inf`` when the fit stays below ``threshold`` over the whole range, ``-inf``
        when it is already at or above it at the smallest ``x``.

    """
    levels, inverse = np.unique(np.asarray(x, dtype=float), return_inverse=True)
    sums = np.bincount(inverse, weights=np.asarray(y, dtype=float))
    counts = np.bincount(inverse)
    return _crossing(levels, sums / counts, counts, threshold)


def _crossing(levels: np.ndarray, means: np.ndarray, counts: np.ndarray,
              threshold: float) -> float:
    fit = isotonic_regression(means, weights=counts, increasing=True).x
    above = np.flatnonzero(fit >= threshold)
    if len(above) == 0:
        return float("inf")
    k = above[0]
    if k == 0:
        return float("-inf")
    x0, x1, y0, y1 = levels[k - 1], levels[k], fit[k - 1], fit[k]
    return float(x0 + (threshold - y0) * (x1 - x0) / (y1 - y0))


@dataclass(frozen=True)
class BoundaryEstimate:
    """The boundary at one level of the second factor, with its confidence band."""

    level: float
    critical: float
    low: float
    high: float
    status: str


def capture_boundary(results: pd.DataFrame, *, along: str = "client_revenue_share",
                     across: str = "kam_pressure", outcome: str = "capture_rate",
                     threshold: float = 0.5, n_boot: int = 500, confidence: float = 0.95,
                     seed: int = 0) -> pd.DataFrame:
    """Estimate the capture boundary and its bootstrap band at every level of ``across``.

    Args:
        results: one row per run, with columns ``along``, ``across`` and ``outcome``.
        along: the factor along which capture probability rises (the boundary's value).
        across: the factor whose levels each get a boundary.
        outcome: the per-run response (share of KAMs captured, or 0/1).
        threshold: the probability level defining the boundary.
        n_boot: bootstrap resamples.
        confidence: width of the percentile band.
        seed: seed of the bootstrap's generator.

    Returns:
        A DataFrame with one row per level of ``across``: ``level``, ``critical`` (the
        estimate, ``inf``/``-inf`` when outside the swept range), ``low`` and ``high``
        (the band; an end outside the range is ``+-inf``), ``status`` and ``n_runs``.

    """
    for column in (along, across, outcome):
        if column not in results:
            raise KeyError(f"results have no column {column!r}")
    rng = np.random.default_rng(seed)
    alpha = (1.0 - confidence) / 2.0
    rows = []
    for level, group in results.groupby(across, sort=True):
        group = group.dropna(subset=[outcome])
        x = group[along].to_numpy(dtype=float)
        y = group[outcome].to_numpy(dtype=float)
        estimate = critical_value(x, y, threshold)
        levels = np.unique(x)
        counts = np.array([np.count_nonzero(x == v) for v in levels])
        # Resample the runs within each design point: (n_boot, points) of cell means.
        boot_means = np.column_stack([
            y[x == v][rng.integers(0, n, size=(n_boot, n))].mean(axis=1)
            for v, n in zip(levels, counts, strict=True)])
        boot = np.array([_crossing(levels, m, counts, threshold) for m in boot_means])
        low, high = np.quantile(boot, [alpha, 1.0 - alpha], method="inverted_cdf")
        status = INSIDE if np.isfinite(estimate) else ABOVE if estimate > 0 else BELOW
        rows.append({"level": float(level), "critical": estimate, "low": float(low),
                     "high": float(high), "status": status, "n_runs": len(group)})
    return pd.DataFrame(rows)


def cell_means(results: pd.DataFrame, outcome: str, *, along: str = "client_revenue_share",
               across: str = "kam_pressure") -> pd.DataFrame:
    """Mean of ``outcome`` at every (``across``, ``along``) design point, as a grid."""
    return results.pivot_table(index=across, columns=along, values=outcome, aggfunc="mean")
