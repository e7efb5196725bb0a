"""A sweep's two typical runs: picked from its runs, repeated once, kept month by month.

When a sweep completes, :func:`keep_typical_runs` picks an uncaptured and a captured run
(:func:`pick_typical`, a pure function of the runs table), repeats the two from their
stored seeds through a table function (the model's :func:`kamabm.model.run.run_with_table`,
handed in by :func:`kamabm.experiments.sweep.run_sweep`) and writes their month-by-month
tables to ``typical_runs.parquet`` in the results folder. The manifest lists the file
under ``typical_runs``, with each run's seed, parameters and outcomes. Reports read them
back with :func:`load_typical_runs` and never run the model, so a report of an old
folder shows the runs of the code that made it.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kamabm.experiments.store import TYPICAL_RUNS
from kamabm.experiments.tables import run_parameters
from kamabm.names import CAPTURE_RATE, MOST_CAPTURED

#: The file of the typical runs' month-by-month tables, in the results folder.
#: The manifest's entry listing that file and the two runs.
ENTRY = "typical_runs"
#: The two runs, in the order they are stored and drawn (the ``typical`` column).
NOT_CAPTURED, CAPTURED = "not captured", "captured"
#: A run's columns the manifest keeps beside its parameters.
_META = ("run", "key", "point", "replication", "seed")

#: ``table_fn(params, seed) -> (outcomes, {column: per-month values})``.
TableFunction = Callable[..., tuple[Mapping[str, Any], Mapping[str, Any]]]


class TypicalRunsError(ValueError):
    """Typical runs listed in a manifest that cannot be read; the message is one line."""


@dataclass(frozen=True)
class TypicalRuns:
    """Two runs of a sweep, month by month: one not captured, one captured.

    Attributes:
        rows: each run's ``run``, ``key``, ``point``, ``replication``, ``seed`` and
            parameters, uncaptured first.
        tables: their per-month tables (:func:`kamabm.model.run.run_table`).
        outcomes: their outcomes as repeated when the sweep completed.
        reproduced: whether the repeats ended with the capture rates the sweep stored.

    """

    rows: tuple[pd.Series, pd.Series]
    tables: tuple[pd.DataFrame, pd.DataFrame]
    outcomes: tuple[dict[str, Any], dict[str, Any]]
    reproduced: bool


def pick_typical(runs: pd.DataFrame, threshold: float = MOST_CAPTURED
                 ) -> tuple[pd.Series, pd.Series]:
    """A captured and an uncaptured run, from the same design point when one holds both.

    Among the points holding both kinds, the one whose replications differ most in capture
    rate is chosen (ties: mean capture nearest one half), and its least and most captured
    runs are returned; failing such a point, the runs with the lowest and highest capture
    rate overall.

    Returns:
        ``(uncaptured row, captured row)`` of ``runs``.

    """
    captured = runs[CAPTURE_RATE] >= threshold
    stats = runs.assign(_c=captured).groupby("point").agg(
        any=("_c", "any"), all=("_c", "all"), mean=(CAPTURE_RATE, "mean"),
        spread=(CAPTURE_RATE, lambda c: c.max() - c.min()))
    mixed = stats[stats["any"] & ~stats["all"]]
    if not mixed.empty:
        # the widest contrast between replications, then the point nearest one half
        mixed = mixed.assign(_d=(mixed["mean"] - threshold).abs())
        point = mixed.sort_values(["spread", "_d"], ascending=[False, True]).index[0]
        group = runs[runs["point"] == point].sort_values([CAPTURE_RATE, "replication"])
        low = group.iloc[0]
        high = group[group[CAPTURE_RATE] == group[CAPTURE_RATE].max()].iloc[0]
        return low, high
    order = runs.sort_values([CAPTURE_RATE, "run"])
    return order.iloc[0], order.iloc[-1]


def keep_typical_runs(directory: str | Path, runs: pd.DataFrame,
                      table_fn: TableFunction) -> dict[str, Any] | None:
    """Pick two typical runs of ``runs``, repeat them with ``table_fn`` and keep their tables.

    Args:
        directory: the results folder; ``typical_runs.parquet`` is written there
            atomically (under a temporary name, then renamed).
        runs: the sweep's successful runs (:func:`kamabm.experiments.tables.load_results`).
        table_fn: repeats a run from its parameters and seed, returning its outcomes and
            its per-month table.

    Returns:
        The manifest's entry (:data:`ENTRY`): the file, and per run its place in the
        sweep, seed, parameters, outcomes and whether the repeat reproduced its capture
        rate; ``None`` when the runs hold no capture rate to pick by.

    """
    if CAPTURE_RATE not in runs or runs.empty:
        return None
    frames, described = [], []
    for name, row in zip((NOT_CAPTURED, CAPTURED), pick_typical(runs), strict=True):
        params = run_parameters(row)
        got, table = table_fn(params, int(row["seed"]))
        frame = pd.DataFrame(table)
        frames.append(pd.concat([pd.DataFrame({"typical": name, "run": int(row["run"]),
                                               "seed": int(row["seed"])},
                                              index=frame.index), frame], axis=1))
        described.append({
            "typical": name, **{k: _json(row[k]) for k in _META},
            "parameters": {k: _json(v) for k, v in params.as_dict().items()},
            "outcomes": {k: _json(v) for k, v in got.items()},
            "reproduced": bool(np.isclose(got[CAPTURE_RATE], row[CAPTURE_RATE]))})
    target = Path(directory) / TYPICAL_RUNS
    tmp = target.with_name(".tmp-" + target.name)
    pd.concat(frames, ignore_index=True).to_parquet(tmp, index=False)
    os.replace(tmp, target)
    return {"file": TYPICAL_RUNS, "picked_from": len(runs), "runs": described}


def load_typical_runs(directory: str | Path, manifest: Mapping[str, Any]
                      ) -> TypicalRuns | None:
    """The typical runs a results folder keeps, as its manifest lists them.

    Returns:
        The two runs; ``None`` when the manifest lists none (a folder swept before sweeps
        kept them, a sweep not finished, or one of another run function).

    Raises:
        TypicalRunsError: the manifest lists them but the file is missing or unreadable.

    """
    entry = manifest.get(ENTRY)
    if not entry:
        return None
    path = Path(directory) / entry["file"]
    try:
        stored = pd.read_parquet(path)
        runs = entry["runs"]
        tables = tuple(stored[stored["typical"] == r["typical"]]
                       .drop(columns=["typical", "run", "seed"]).reset_index(drop=True)
                       for r in runs)
        rows = tuple(pd.Series({**{k: r[k] for k in _META}, **r["parameters"]})
                     for r in runs)
        outcomes = tuple({k: math.nan if v is None else v for k, v in r["outcomes"].items()}
                         for r in runs)
        reproduced = all(r["reproduced"] for r in runs)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise TypicalRunsError(f"{path}: the typical runs its manifest lists are unreadable "
                               f"({type(exc).__name__}: {exc})") from None
    if len(runs) != 2 or any(t.empty for t in tables):
        raise TypicalRunsError(f"{path}: does not hold the two typical runs its manifest "
                               "lists")
    return TypicalRuns((rows[0], rows[1]), (tables[0], tables[1]),
                       (outcomes[0], outcomes[1]), reproduced)


def _json(value: Any) -> Any:
    """A value as JSON keeps it: numpy scalars as numbers, tuples as lists, non-finite as null.

    :func:`load_typical_runs` reads a null outcome back as NaN.
    """
    if isinstance(value, tuple | list | np.ndarray):
        return [_json(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
