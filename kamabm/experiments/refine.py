"""Adaptive refinement: add runs near the capture boundary until its band is narrow.

After a sweep over client revenue share x KAM pressure, the boundary (where capture
probability crosses one half, :func:`kamabm.stats.capture_boundary`) is known only
to the grid's resolution. Refinement estimates it, and at every pressure level whose
bootstrap band is wider than a target it adds share values inside the band (with the
experiment's replications and seeds, so the new runs are paired with the old ones), then
estimates again, round after round, until every band is narrow enough, no new values
can be added, or the rounds run out.

Each round's runs are an ordinary sweep stored in ``<results>/refine/<round>-<level>/``,
so an interrupted refinement resumes like any sweep, and
:func:`kamabm.experiments.tables.load_results` returns them together with the design's runs (column
``stage``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kamabm.experiments.design import Design, Experiment, Variable
from kamabm.experiments.lock import folder_lock
from kamabm.experiments.store import REFINE
from kamabm.experiments.sweep import run_sweep
from kamabm.experiments.tables import load_results
from kamabm.stats import INSIDE, capture_boundary

ALONG, ACROSS = "client_revenue_share", "kam_pressure"


class RefineError(ValueError):
    """An experiment whose boundary cannot be refined (one-line message)."""


def check_refinable(experiment: Experiment) -> None:
    """Raise :class:`RefineError` unless ``experiment`` is a share x pressure grid.

    An ensemble is refused: refining would pool its constant sets' boundaries into one.
    """
    names = {v.name for v in experiment.variables}
    if names != {ALONG, ACROSS} or experiment.design.method != "grid":
        raise RefineError(f"--refine needs a grid over exactly {ALONG} and {ACROSS}")
    if experiment.ensemble is not None:
        raise RefineError("--refine does not refine an ensemble: it would pool the constant "
                          "sets' boundaries into one; refine a sweep at fixed constants")


@dataclass(frozen=True)
class RefineSummary:
    """What a refinement did.

    Attributes:
        rounds: rounds that added runs.
        runs_added: runs added over all rounds (including ones resumed from disk).
        widest_band: the widest remaining band among levels with the boundary inside the
            swept range (0 if there is none).
        target: the band width asked for.
        boundary: the final boundary estimate (one row per pressure level).

    """

    rounds: int
    runs_added: int
    widest_band: float
    target: float
    boundary: pd.DataFrame

    @property
    def converged(self) -> bool:
        """Whether every band is at most the target width."""
        return self.widest_band <= self.target


def refine_boundary(experiment: Experiment, directory: str | Path, *, target: float = 0.05,
                    max_rounds: int = 3, new_values: int = 4, n_boot: int = 300,
                    **sweep_options: Any) -> RefineSummary:
    """Refine the capture boundary of a finished sweep of ``experiment`` in ``directory``.

    Args:
        experiment: the swept experiment; it must vary ``client_revenue_share`` and
            ``kam_pressure`` on a grid.
        directory: its results folder.
        target: the widest acceptable bootstrap band, in units of client revenue share.
        max_rounds: most rounds of new runs.
        new_values: share values added per wide level and round.
        n_boot: bootstrap resamples of each boundary estimate.
        **sweep_options: passed to :func:`kamabm.experiments.sweep.run_sweep` (workers,
            progress, ...).

    Returns:
        A :class:`RefineSummary`.

    Raises:
        RefineError: the experiment is not a share x pressure grid.
        FolderLockedError: another process is writing the folder.

    """
    check_refinable(experiment)
    directory = Path(directory)
    with folder_lock(directory, purpose="refinement"):
        return _refine(experiment, directory, target, max_rounds, new_values, n_boot,
                       sweep_options)


def _refine(experiment: Experiment, directory: Path, target: float, max_rounds: int,
            new_values: int, n_boot: int, sweep_options: dict[str, Any]) -> RefineSummary:
    spec = {v.name: v for v in experiment.variables}[ALONG]
    runs_added = rounds = 0
    for round_ in range(1, max_rounds + 1):
        # Plan from the design and earlier rounds only, so that a resumed refinement
        # plans exactly what the interrupted one did.
        results = _results_before(directory, round_)
        boundary = _boundary(results, experiment, n_boot)
        planned = _new_points(results, boundary, spec, target, new_values)
        if not planned:
            break
        rounds = round_
        for level, shares in planned.items():
            sub = _sub_experiment(experiment, level, shares)
            out = directory / REFINE / f"round{round_}-{ACROSS}{level:g}"
            summary = run_sweep(sub, out, **sweep_options)
            runs_added += summary.runs_total
    boundary = _boundary(load_results(directory), experiment, n_boot)
    inside = boundary[boundary.status == INSIDE]
    widths = (inside.high.clip(spec.low, spec.high) - inside.low.clip(spec.low, spec.high))
    widest = float(widths.max()) if len(widths) else 0.0
    return RefineSummary(rounds, runs_added, widest, target, boundary)


def _results_before(directory: Path, round_: int) -> pd.DataFrame:
    results = load_results(directory)
    if "stage" not in results:
        return results
    stage_round = results.stage.str.extract(r"^round(\d+)-", expand=False).astype(float)
    return results[(results.stage == "design") | (stage_round < round_)]


def _boundary(results: pd.DataFrame, experiment: Experiment, n_boot: int) -> pd.DataFrame:
    return capture_boundary(results[results.status == "ok"], along=ALONG, across=ACROSS,
                            n_boot=n_boot, seed=experiment.seed)


def _new_points(results: pd.DataFrame, boundary: pd.DataFrame, spec: Variable,
                target: float, new_values: int) -> dict[float, list[float]]:
    """Share values to add at each pressure level whose band is too wide."""
    planned = {}
    for row in boundary.itertuples():
        if row.status != INSIDE:
            continue
        low = max(float(spec.low), row.low)
        high = min(float(spec.high), row.high)
        if high - low <= target:
            continue
        have = set(np.round(results.loc[results[ACROSS] == row.level, ALONG], 6))
        candidates = np.round(np.linspace(low, high, new_values + 2)[1:-1], 6)
        shares = [float(s) for s in candidates if s not in have and s > 0.0]
        if shares:
            planned[float(row.level)] = shares
    return planned


def _sub_experiment(experiment: Experiment, level: float, shares: list[float]) -> Experiment:
    """The experiment restricted to one pressure level and the new share values."""
    # Built like any experiment, so the new values get the same checks as a file's.
    along = Variable.grid(ALONG, "uncertainty", shares)
    across = Variable.grid(ACROSS, "lever", (level,))
    return dataclasses.replace(experiment, variables=(along, across), design=Design("grid"),
                               warnings=())
