"""Reading a results folder's tables: the runs and series of a sweep, finished or not.

The writer is :class:`kamabm.experiments.store.ResultsStore`; this module only reads what
it wrote (the consolidated tables of a finished sweep, or the journaled parts of one still
running or interrupted).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kamabm.experiments.store import (
    JOURNAL,
    MANIFEST,
    REFINE,
    RUNS_PARQUET,
    SERIES_PARQUET,
    ResultsStore,
    StoreError,
)
from kamabm.model.params import Parameters


def _read_parts(directory: Path, kind: str) -> pd.DataFrame:
    store = ResultsStore(directory)
    if (store.parts / JOURNAL).exists():
        entries = [getattr(p, kind) for p in store.stored_parts()]
        paths = [store.parts / e["file"] for e in entries if e is not None]
    else:  # a folder written before parts were journaled
        paths = sorted(store.parts.glob(kind + "-*.parquet"))
    if not paths:
        raise StoreError(f"{directory}: no results (no {RUNS_PARQUET} and no parts)")
    table = pa.concat_tables(pq.read_table(p) for p in paths).to_pandas()
    if kind == "runs" and not table["key"].is_unique:
        raise StoreError(f"{directory}: some runs are stored twice; run the sweep command "
                         "again to repair the folder")
    return table


def sweep_progress(directory: str | Path) -> dict[str, Any]:
    """How far a sweep in ``directory`` got, for commands that read an unfinished one.

    Returns:
        ``{"status", "runs_planned", "runs_stored", "runs_missing"}``; ``status`` is the
        manifest's (``"complete"``, ``"running"``, ``"interrupted"``, ``"failed"``).

    Raises:
        StoreError: the folder holds no manifest.

    """
    store = ResultsStore(directory)
    manifest = store.read_manifest()
    if manifest is None:
        raise StoreError(f"{directory}: no {MANIFEST}; not a results folder")
    planned = int(manifest.get("runs_planned", 0))
    if (store.directory / RUNS_PARQUET).exists() and manifest.get("status") == "complete":
        stored = planned
    else:
        stored = store.n_stored()
    return {"status": manifest.get("status"), "runs_planned": planned, "runs_stored": stored,
            "runs_missing": max(0, planned - stored)}


def load_results(directory: str | Path, *, refinements: bool = True) -> pd.DataFrame:
    """The runs of a sweep, one row each, in run order.

    Columns: ``run``, ``key``, ``point``, ``replication``, ``seed``, every model
    parameter, the kept outcomes, ``status`` (``"ok"`` or ``"error"``) and ``error``
    (the traceback of a failed run); after ``kamabm sweep --refine`` also ``stage``
    (``"design"``, or the refinement round that added the run). A sweep still running or
    interrupted gives the runs finished so far.

    Args:
        directory: a results folder written by ``kamabm sweep``.
        refinements: include the runs added by ``kamabm sweep --refine``; their ``run``
            numbers follow the design's and their keys are prefixed with the round.

    Raises:
        StoreError: the folder holds no results.

    """
    directory = Path(directory)
    design = _load_one(directory)
    rounds = sorted((directory / REFINE).glob("*/")) if refinements else []
    frames = [design]
    for sub in rounds:
        try:
            frame = _load_one(sub)
        except StoreError:  # a refinement round that had not stored anything yet
            continue
        offset = int(frames[-1]["run"].max()) + 1
        frames.append(frame.assign(stage=sub.name, key=sub.name + "/" + frame["key"],
                                   run=frame["run"] + offset))
    if len(frames) == 1:
        return design
    frames[0] = design.assign(stage="design")
    return pd.concat(frames, ignore_index=True)


def _load_one(directory: Path) -> pd.DataFrame:
    complete = directory / RUNS_PARQUET
    if complete.exists():
        return pd.read_parquet(complete)
    return _read_parts(directory, "runs").sort_values("run", ignore_index=True)


def run_parameters(row: Mapping[str, Any]) -> Parameters:
    """Rebuild a run's parameters from its row in :func:`load_results`.

    With the row's ``seed``, ``run_one(run_parameters(row), int(row["seed"]))``
    repeats the run.
    """
    return Parameters.from_mapping({name: _plain(row[name]) for name in Parameters.names()})


def _plain(value: Any) -> Any:
    # numpy scalars (as pandas hands them out) become Python numbers, and arrays (list
    # parameters, such as key_account_shares) tuples of them
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(_plain(v) for v in value)
    return value.item() if hasattr(value, "item") else value


def load_series(directory: str | Path) -> pd.DataFrame:
    """The kept per-month series of a sweep, long format: ``run``, ``key``, ``month``, names.

    Args:
        directory: a results folder written by ``kamabm sweep``.

    Raises:
        StoreError: the folder holds no series.

    """
    directory = Path(directory)
    complete = directory / SERIES_PARQUET
    if complete.exists():
        return pd.read_parquet(complete)
    return _read_parts(directory, "series").sort_values(["run", "month"], ignore_index=True)
