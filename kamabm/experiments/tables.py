"""Reading a results folder's tables: the runs and series of a sweep, finished or not.

The writer is :class:`kamabm.experiments.store.ResultsStore`; this module only reads what
it wrote (the consolidated tables of a finished sweep, or the journaled parts of one still
running or interrupted).

The runs table is tidy: one scalar per cell. A list parameter (one number per key buyer
or supplier, such as ``key_account_shares``) is stored as canonical text, its numbers
joined by ``;`` in shortest round-trip form (``"0.3;0.15"``, ``""`` for none), the same in
``runs.parquet`` and ``runs.csv``; :func:`load_results` adds one numeric column per
position (``key_account_share_1``, ``key_account_share_2``, ...). A finished folder's
consolidated tables are checked against the digests its manifest records, on every read.
"""

from __future__ import annotations

import warnings
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
    file_digest,
    sequence_text,
    sequence_values,
)
from kamabm.model.params import Parameters


class IncompleteResultsWarning(UserWarning):
    """The folder's sweep has not finished: a table holds only the runs stored so far."""


def element_column(name: str, position: int) -> str:
    """The column of a list parameter's ``position``-th number (from 1).

    ``element_column("key_account_shares", 2)`` is ``"key_account_share_2"``.
    """
    return f"{name.removesuffix('s')}_{position}"


def tidy(runs: pd.DataFrame) -> pd.DataFrame:
    """``runs`` with one scalar per cell: list parameters as text, one column per number.

    Folders written before the runs table was tidy hold lists (arrays) in those columns;
    they are read the same way.
    """
    runs = runs.copy()
    for name in Parameters.names():
        if not Parameters.is_sequence(name) or name not in runs:
            continue
        texts = [cell if isinstance(cell, str) else
                 "" if cell is None else sequence_text(cell) for cell in runs[name]]
        runs[name] = texts
        numbers = [sequence_values(text) for text in texts]
        width = max((len(n) for n in numbers), default=0)
        at = runs.columns.get_loc(name) + 1
        for i in range(width):
            column = [n[i] if i < len(n) else np.nan for n in numbers]
            runs.insert(at + i, element_column(name, i + 1), column)
    return runs


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
        manifest's (``"complete"``, ``"running"``, ``"interrupted"``, ``"failed"``), or
        ``"incomplete"`` where the manifest says complete but the final table is gone and
        the parts hold fewer runs than planned.

    Raises:
        StoreError: the folder holds no manifest, or its final table is not the one the
            sweep wrote.

    """
    store = ResultsStore(directory)
    manifest = store.read_manifest()
    if manifest is None:
        raise StoreError(f"{directory}: no {MANIFEST}; not a results folder")
    planned = int(manifest.get("runs_planned", 0))
    status = manifest.get("status")
    if (store.directory / RUNS_PARQUET).exists() and status == "complete":
        verified(store.directory, RUNS_PARQUET)
        stored = planned
    else:
        stored = store.n_stored()
        if status == "complete" and stored < planned:
            status = "incomplete"  # its final table gone, and parts missing or damaged
    return {"status": status, "runs_planned": planned, "runs_stored": stored,
            "runs_missing": max(0, planned - stored)}


def load_results(directory: str | Path, *, refinements: bool = True) -> pd.DataFrame:
    """The runs of a sweep, one row each, in run order.

    Columns: ``run``, ``key``, ``point``, ``replication``, ``seed``, every model
    parameter, the kept outcomes, ``status`` (``"ok"`` or ``"error"``) and ``error``
    (the traceback of a failed run); after ``kamabm sweep --refine`` also ``stage``
    (``"design"``, or the refinement round that added the run). Every cell holds one
    scalar: a list parameter is its canonical text (``"0.3;0.15"``) followed by one
    column per number (``key_account_share_1``, ...), so ``drop_duplicates``, ``nunique``
    and hashing work as on any table. A sweep still running or interrupted gives the runs
    finished so far, with an :class:`IncompleteResultsWarning` saying how many of how many.

    Args:
        directory: a results folder written by ``kamabm sweep``.
        refinements: include the runs added by ``kamabm sweep --refine``; their ``run``
            numbers follow the design's and their keys are prefixed with the round.

    Raises:
        StoreError: the folder holds no results, or its final table is not the one the
            sweep wrote (its digest in the manifest differs).

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
        return tidy(pd.read_parquet(verified(directory, RUNS_PARQUET)))
    runs = tidy(_read_parts(directory, "runs").sort_values("run", ignore_index=True))
    _warn_if_incomplete(directory, len(runs))
    return runs


def verified(directory: Path, name: str) -> Path:
    """The path of the consolidated table ``name``, once it matches its manifest's digest.

    A folder whose manifest records no digest for it (written before digests were kept)
    is read as it is.

    Raises:
        StoreError: the file differs from what the sweep wrote (replaced or edited since).

    """
    path = directory / name
    manifest = ResultsStore(directory).read_manifest() or {}
    recorded = (manifest.get("tables") or {}).get(name)
    if recorded is not None and file_digest(path) != recorded:
        raise StoreError(f"{path}: not the table the sweep wrote (its size or SHA-256 "
                         f"differs from {MANIFEST}); run the sweep command again to rebuild "
                         "it from the stored parts, or --overwrite to start afresh")
    return path


def _warn_if_incomplete(directory: Path, n_stored: int) -> None:
    manifest = ResultsStore(directory).read_manifest()
    if manifest is None:
        return
    planned = int(manifest.get("runs_planned", 0))
    if n_stored < planned:
        status = manifest.get("status") or "unknown"
        warnings.warn(f"{directory}: {n_stored} of {planned} runs stored (sweep {status}); "
                      "run the sweep command again to complete it", IncompleteResultsWarning,
                      stacklevel=3)


def run_parameters(row: Mapping[str, Any]) -> Parameters:
    """Rebuild a run's parameters from its row in :func:`load_results`.

    With the row's ``seed``, ``run_one(run_parameters(row), int(row["seed"]))``
    repeats the run.
    """
    return Parameters.from_mapping({name: _plain(name, row[name]) for name in Parameters.names()})


def _plain(name: str, value: Any) -> Any:
    # numpy scalars (as pandas hands them out) become Python numbers, and list parameters
    # (text, or arrays in folders written before the table was tidy) tuples of them
    if isinstance(value, str) and Parameters.is_sequence(name):
        return sequence_values(value)
    if isinstance(value, (list, tuple, np.ndarray)):
        return tuple(float(v) for v in value)
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
        return pd.read_parquet(verified(directory, SERIES_PARQUET))
    return _read_parts(directory, "series").sort_values(["run", "month"], ignore_index=True)
