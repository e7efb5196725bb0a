"""The results store of a sweep: one folder per experiment, written so it can be resumed.

Layout of a results folder::

    manifest.json       what ran: experiment file, versions, command, times, counts
    parts/runs-A-B.parquet     runs A..B (inclusive), one file per finished chunk
    parts/series-A-B.parquet   their per-month series, when the experiment keeps any
    runs.parquet, runs.csv     all runs in order, written when the sweep is complete
    series.parquet             all series in order (long format: run, month, names...)

Every file is written under a temporary name and renamed into place, so a sweep killed
at any moment leaves only whole files. A runs part is written after its series part, so
its presence proves the chunk finished; resuming skips exactly the runs the parts hold.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from kamabm.params import Parameters

MANIFEST = "manifest.json"
PARTS = "parts"
RUNS_PARQUET = "runs.parquet"
RUNS_CSV = "runs.csv"
SERIES_PARQUET = "series.parquet"
#: Sub-folder holding the sweeps of adaptive refinement (``kamabm sweep --refine``).
REFINE = "refine"
_OWN_FILES = (MANIFEST, RUNS_PARQUET, RUNS_CSV, SERIES_PARQUET)
_TMP_PREFIX = ".tmp-"
_PACKAGES = ("kamabm", "mesa", "numpy", "pandas", "pyarrow", "scipy", "SALib", "tqdm",
             "dask", "distributed")


class StoreError(ValueError):
    """A results folder that cannot be used as asked; the message is one line."""


def now() -> str:
    """The current UTC time in ISO 8601, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def environment() -> dict[str, Any]:
    """Python, platform, package versions and code version, for the manifest."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {"python": sys.version.split()[0], "platform": platform.platform(),
            "packages": versions, "code_version": _git_commit()}


def _git_commit() -> dict[str, Any] | None:
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--", "."],
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return {"git_commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}


class ResultsStore:
    """A results folder: its manifest, finished parts and consolidated tables.

    Args:
        directory: the folder (created by :meth:`open`, not by the constructor).

    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.parts = self.directory / PARTS

    # --- opening ------------------------------------------------------------------------
    def check(self, identity: Mapping[str, Any], *, overwrite: bool) -> None:
        """Refuse a folder that holds something else; writes nothing.

        Args:
            identity: what makes two sweeps the same (experiment digest, run function,
                outcomes, series); compared with the manifest's.
            overwrite: accept a folder made by a different experiment.

        Raises:
            StoreError: the folder is a file, holds results of a different experiment
                (without ``overwrite``), or holds files but no manifest.

        """
        d = self.directory
        if d.exists() and not d.is_dir():
            raise StoreError(f"{d}: exists and is not a folder")
        if not d.exists() or not any(d.iterdir()):
            return
        manifest = self.read_manifest()
        if manifest is None:
            raise StoreError(f"{d}: folder is not empty and holds no {MANIFEST}; "
                             "choose another --out")
        if manifest.get("identity") != dict(identity) and not overwrite:
            made_by = manifest.get("experiment", {}).get("path") or "another experiment"
            raise StoreError(f"{d}: holds results of a different experiment ({made_by}); "
                             "pass --overwrite to replace them or --out to write elsewhere")

    def open(self, identity: Mapping[str, Any], *, overwrite: bool) -> None:
        """Make the folder ready: check it, clear it if asked, drop half-written files.

        With ``overwrite`` any earlier results are removed, whichever experiment made them.
        """
        self.check(identity, overwrite=overwrite)
        if overwrite and self.read_manifest() is not None:
            self.clear()
        self.parts.mkdir(parents=True, exist_ok=True)
        for stale in self.parts.glob(_TMP_PREFIX + "*"):
            stale.unlink()
        for stale in self.directory.glob(_TMP_PREFIX + "*"):
            stale.unlink()
        done = {name[len("runs-"):] for name in self._part_names("runs-")}
        for series in self._part_names("series-"):
            if series[len("series-"):] not in done:  # killed between the two renames
                (self.parts / (series + ".parquet")).unlink()

    def clear(self) -> None:
        """Remove the store's own files (and nothing else) from the folder."""
        for folder in (self.parts, self.directory / REFINE):
            if folder.exists():
                shutil.rmtree(folder)
        for name in _OWN_FILES:
            (self.directory / name).unlink(missing_ok=True)

    # --- manifest -----------------------------------------------------------------------
    def read_manifest(self) -> dict[str, Any] | None:
        """The manifest, or ``None`` when there is none."""
        try:
            return json.loads((self.directory / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError) as exc:
            raise StoreError(f"{self.directory / MANIFEST}: unreadable ({exc})") from None

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        """Write the manifest atomically."""
        text = json.dumps(manifest, indent=2, sort_keys=False) + "\n"
        self._atomic(self.directory / MANIFEST, lambda tmp: tmp.write_text(text, "utf-8"))

    # --- parts --------------------------------------------------------------------------
    def done_ranges(self) -> list[tuple[int, int]]:
        """The ``(first, last)`` run ranges of the finished parts, in order."""
        ranges = []
        for name in self._part_names("runs-"):
            first, last = name[len("runs-"):].split("-")
            ranges.append((int(first), int(last)))
        return sorted(ranges)

    def done_runs(self) -> set[int]:
        """Indices of the runs already stored."""
        return {i for first, last in self.done_ranges() for i in range(first, last + 1)}

    def write_part(self, runs: pa.Table, series: pa.Table | None = None) -> None:
        """Store one finished chunk of consecutive runs (series first, runs last)."""
        column = runs.column("run").to_pylist()
        first, last = column[0], column[-1]
        if column != list(range(first, last + 1)):
            raise ValueError("a part must hold consecutive runs in order")
        tag = f"{first:09d}-{last:09d}"
        if series is not None:
            self._atomic(self.parts / f"series-{tag}.parquet",
                         lambda tmp: pq.write_table(series, tmp))
        self._atomic(self.parts / f"runs-{tag}.parquet", lambda tmp: pq.write_table(runs, tmp))

    def consolidate(self, n_runs: int) -> int:
        """Join the parts into ``runs.parquet``, ``runs.csv`` (and ``series.parquet``).

        Parts are streamed one at a time, so memory does not grow with the sweep.

        Args:
            n_runs: the number of runs the sweep has; the parts must hold each once.

        Returns:
            The number of failed runs.

        """
        ranges = self.done_ranges()
        expected = 0
        for first, last in ranges:
            if first != expected:
                raise StoreError(f"{self.parts}: runs {expected}..{first - 1} missing or "
                                 "stored twice")
            expected = last + 1
        if expected != n_runs:
            raise StoreError(f"{self.parts}: holds {expected} runs, expected {n_runs}")
        tags = [f"{first:09d}-{last:09d}" for first, last in ranges]
        failures = 0

        def write_runs(parquet_tmp: Path) -> None:
            nonlocal failures
            csv_tmp = parquet_tmp.with_name(_TMP_PREFIX + RUNS_CSV)
            writer = csv_writer = None
            try:
                for tag in tags:
                    table = pq.read_table(self.parts / f"runs-{tag}.parquet")
                    failures += table.column("status").to_pylist().count("error")
                    if writer is None:
                        writer = pq.ParquetWriter(parquet_tmp, table.schema)
                        csv_writer = pa_csv.CSVWriter(csv_tmp, table.schema)
                    writer.write_table(table)
                    csv_writer.write_table(table)
            finally:
                if writer is not None:
                    writer.close()
                    csv_writer.close()
            os.replace(csv_tmp, self.directory / RUNS_CSV)

        self._atomic(self.directory / RUNS_PARQUET, write_runs)
        series_parts = [self.parts / f"series-{tag}.parquet" for tag in tags]
        if all(p.exists() for p in series_parts) and series_parts:
            self._atomic(self.directory / SERIES_PARQUET,
                         lambda tmp: _concat_parquet(series_parts, tmp))
        return failures

    # --- helpers ------------------------------------------------------------------------
    def _part_names(self, prefix: str) -> list[str]:
        if not self.parts.exists():
            return []
        return sorted(p.stem for p in self.parts.glob(prefix + "*.parquet"))

    def _atomic(self, target: Path, write: Any) -> None:
        tmp = target.with_name(_TMP_PREFIX + target.name)
        write(tmp)
        os.replace(tmp, target)


def _concat_parquet(paths: Iterable[Path], target: Path) -> None:
    writer = None
    try:
        for path in paths:
            table = pq.read_table(path)
            if writer is None:
                writer = pq.ParquetWriter(target, table.schema)
            writer.write_table(table)
    finally:
        if writer is not None:
            writer.close()


def _read_parts(directory: Path, prefix: str) -> pd.DataFrame:
    paths = sorted((directory / PARTS).glob(prefix + "*.parquet"))
    if not paths:
        raise StoreError(f"{directory}: no results (no {RUNS_PARQUET} and no parts)")
    return pa.concat_tables(pq.read_table(p) for p in paths).to_pandas()


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
    return _read_parts(directory, "runs-").sort_values("run", ignore_index=True)


def run_parameters(row: Mapping[str, Any]) -> Parameters:
    """Rebuild a run's parameters from its row in :func:`load_results`.

    With the row's ``seed``, ``run_one(run_parameters(row), int(row["seed"]))``
    repeats the run.
    """
    return Parameters.from_mapping({name: _plain(row[name]) for name in Parameters.names()})


def _plain(value: Any) -> Any:
    # numpy scalars (as pandas hands them out) become Python numbers
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
    return _read_parts(directory, "series-").sort_values(["run", "month"], ignore_index=True)
