"""The charts of a calibration: each target against the model, and the posterior.

They draw the tables :func:`kamabm.experiments.calibration_fit.fit` writes
(``targets.csv``, ``posterior.csv``); they compute none (``kamabm calibrate`` draws them).
Outcomes and constants are named by their labels; a target keeps the name its file gives.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from kamabm.experiments.calibration import Calibration
from kamabm.model.params import Parameters
from kamabm.names import human, known, label
from kamabm.report.charts.base import figure, save
from kamabm.report.charts.palette import CAPTURED, LOYAL


def plot_calibration(targets: pd.DataFrame, posterior: pd.DataFrame, calibration: Calibration,
                     out: str | Path, *, epsilon: float | None = None) -> list[Path]:
    """Chart each target against the model, and the posterior of each fitted constant.

    Writes ``targets.png/.svg/.csv`` (published value with its tolerance band, the model's
    90 % predictive interval and mean in generation 0 and in the posterior) and
    ``posterior.png/.svg/.csv`` (weighted histograms over the prior ranges, defaults
    marked) into ``out``; returns the files. ``epsilon``, the last generation's acceptance
    distance, is stated in the title when given.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    blue, orange, grey = LOYAL, CAPTURED, "#999999"
    n = len(targets)
    fig, axes = figure(7.5, 1.25 * n + 1.4, nrows=n)
    by_name = {t.name: t for t in calibration.targets}
    for ax, row in zip(axes[:, 0], targets.itertuples(), strict=True):
        target = by_name[row.target]
        low = row.value - row.tolerance if target.bound != "at_most" else min(
            row.value - row.tolerance, row.first_low, row.posterior_low)
        high = row.value + row.tolerance if target.bound != "at_least" else max(
            row.value + row.tolerance, row.first_high, row.posterior_high)
        ax.axvspan(low, high, color=orange, alpha=0.18, lw=0)
        ax.axvline(row.value, color=orange, lw=1.5)
        ax.plot([row.first_low, row.first_high], [1, 1], color=grey, lw=3)
        ax.plot(row.first_mean, 1, "o", color=grey, ms=5)
        ax.plot([row.posterior_low, row.posterior_high], [0, 0], color=blue, lw=3)
        ax.plot(row.posterior_mean, 0, "o", color=blue, ms=5)
        ax.set_yticks([0, 1], ["posterior", "generation 0"], fontsize=7)
        ax.set_ylim(-0.6, 1.6)
        outcome = human(row.outcome) if known(row.outcome) else row.outcome
        ax.set_title(f"{row.target}: {row.measure.replace('_', ' ')} of {outcome} (published "
                     f"{target.wanted.replace('+-', '±')})", fontsize=8, loc="left")
        ax.tick_params(axis="x", labelsize=7)
    matched = int(targets["matched"].sum())
    reached = ("" if epsilon is None else f"; last acceptance distance {epsilon:.3g} "
               "(1 = all targets within tolerance)")
    finding = textwrap.fill(f"Calibration '{calibration.name}': the posterior mean matches "
                            f"{matched} of {n} published targets within tolerance{reached}", 95)
    fig.suptitle(finding + "\n(orange: published value and tolerance; bars: model's 90 % "
                 "interval, dot: mean)", fontsize=9)
    files = list(save(fig, targets, out, "targets"))

    k = len(calibration.priors)
    ncols = min(k, 5)
    nrows = -(-k // ncols)
    fig, axes = figure(3.2 * ncols, 2.8 * nrows, nrows=nrows, ncols=ncols)
    for ax in axes.flat[k:]:
        ax.set_visible(False)
    for ax, prior in zip(axes.flat, calibration.priors, strict=False):
        bins = (np.geomspace(prior.low, prior.high, 13) if prior.scale == "log"
                else np.linspace(prior.low, prior.high, 13))
        ax.hist(posterior[prior.name], bins=bins, weights=posterior["weight"], color=blue,
                alpha=0.8)
        ax.axvline(Parameters.default(prior.name), color=orange, ls="--", lw=1.2)
        if prior.scale == "log":
            ax.set_xscale("log")
        ax.set_xlim(prior.low, prior.high)
        ax.set_xlabel(textwrap.fill(label(prior.name), 40), fontsize=8)
        ax.set_yticks([])
    fig.suptitle("Posterior of each fitted constant over its prior range (dashed: the "
                 "model's default)", fontsize=9)
    files += save(fig, posterior, out, "posterior")
    return files
