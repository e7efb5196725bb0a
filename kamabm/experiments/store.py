"""The results store of a sweep: one folder per experiment, written so it can be resumed.

Layout of a results folder::

    manifest.json       what ran: experiment file, versions, code version, command, times
    .lock               held by the sweep writing the folder (:mod:`kamabm.experiments.lock`)
    parts/runs-A-B.parquet     runs A..B (inclusive), one file per finished chunk
    parts/series-A-B.parquet   their per-month series, when the experiment keeps any
    parts/journal.jsonl        one line per stored part: its runs, keys and checksums
    set-aside/<time>/          parts found damaged or foreign on resume, kept for a look
    runs.parquet, runs.csv     all runs in order, written when the sweep is complete
    series.parquet             all series in order (long format: run, month, names...)

Every file is written under a temporary name, flushed to disk and renamed into place, so a
sweep killed at any moment (or a machine losing power) leaves only whole files. A part
counts only once its journal line is on disk, and only while its files match the
checksums of that line: on resume, a part that is missing, truncated, replaced, stored
twice or not in the journal is moved to ``set-aside/`` (never deleted) and its runs are
computed again. Consolidation checks that every run is stored exactly once.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from kamabm.experiments.lock import LOCK_FILE, check_unlocked
from kamabm.model.params import Parameters

MANIFEST = "manifest.json"
PARTS = "parts"
JOURNAL = "journal.jsonl"
SET_ASIDE = "set-aside"
RUNS_PARQUET = "runs.parquet"
RUNS_CSV = "runs.csv"
SERIES_PARQUET = "series.parquet"
#: Sub-folder holding the sweeps of adaptive refinement (``kamabm sweep --refine``).
REFINE = "refine"
#: What ``kamabm plot`` and ``kamabm report`` derive from a folder; an overwrite removes
#: them with the results they were drawn from.
DERIVED = ("charts", "report.html")
#: The modules that define the model; their source is the model's code version.
#: The modules of :mod:`kamabm.model` whose source is the model's version.
MODEL_MODULES = ("params", "negotiation", "account", "kam", "buyer", "supplier", "market", "run")
_OWN_FILES = (MANIFEST, RUNS_PARQUET, RUNS_CSV, SERIES_PARQUET)
_TMP_PREFIX = ".tmp-"
_PACKAGES = ("kamabm", "mesa", "numpy", "pandas", "pyarrow", "scipy", "SALib", "tqdm",
             "dask", "distributed")

Notify = Callable[[str], None]


class StoreError(ValueError):
    """A results folder that cannot be used as asked; the message is one line."""


def now() -> str:
    """The current UTC time in ISO 8601, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- provenance ----------------------------------------------------------------------------
def code_version(run_fn: Callable[..., Any] | None = None) -> dict[str, Any]:
    """The version of the code that computes the runs.

    The package version plus a SHA-256 of the model's source (:data:`MODEL_MODULES`),
    and of the run function's own module when it is not the model's. Two sweeps with the
    same ``version`` ran the same model, committed or not.

    Returns:
        ``{"version": "0.1.0+<16 hex>", "files": {path: sha256}}``.

    """
    from kamabm import __version__

    package = Path(__file__).resolve().parents[1]
    paths = [package / "model" / f"{name}.py" for name in MODEL_MODULES]
    if run_fn is not None and not run_fn.__module__.startswith("kamabm."):
        source = sys.modules.get(run_fn.__module__)
        source_file = getattr(source, "__file__", None)
        if source_file:
            paths.append(Path(source_file).resolve())
    files = {}
    for path in paths:
        try:
            files[_shown(path, package.parent)] = _sha256(path.read_bytes())
        except OSError:
            continue
    total = hashlib.sha256(__version__.encode())
    for name, digest in sorted(files.items()):
        total.update(f"\n{name} {digest}".encode())
    return {"version": f"{__version__}+{total.hexdigest()[:16]}", "files": files}


def _shown(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def environment() -> dict[str, Any]:
    """Python, platform, package versions and git state, for the manifest."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {"python": sys.version.split()[0], "platform": platform.platform(),
            "packages": versions, "code_version": git_state()}


def git_state() -> dict[str, Any] | None:
    """The git commit of the package and the files of it changed since (``None``: no git)."""
    here = Path(__file__).resolve().parents[1]  # the package folder
    try:
        head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        status = subprocess.run(["git", "-C", str(here), "status", "--porcelain", "--", "."],
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0 or status.returncode != 0:
        return None
    changed = sorted(line[3:].strip() for line in status.stdout.splitlines() if line.strip())
    return {"git_commit": head.stdout.strip(), "dirty": bool(changed), "changed": changed}


# --- the journal -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Part:
    """One stored chunk of consecutive runs, as its journal line describes it.

    Attributes:
        first: its first run.
        last: its last run (inclusive).
        keys: SHA-256 of its run keys, one per line, in order.
        runs: ``{"file", "bytes", "sha256"}`` of its runs file.
        series: the same for its series file (``None``: no series kept).

    """

    first: int
    last: int
    keys: str
    runs: dict[str, Any]
    series: dict[str, Any] | None

    @property
    def files(self) -> list[str]:
        """Names of its files in ``parts/``."""
        return [self.runs["file"]] + ([self.series["file"]] if self.series else [])

    def line(self) -> str:
        """The journal line."""
        return json.dumps({"first": self.first, "last": self.last, "keys": self.keys,
                           "runs": self.runs, "series": self.series},
                          separators=(",", ":")) + "\n"

    @classmethod
    def parse(cls, line: str) -> Part | None:
        """The part of a journal line, or ``None`` for a torn or foreign line."""
        try:
            d = json.loads(line)
            part = cls(int(d["first"]), int(d["last"]), str(d["keys"]), dict(d["runs"]),
                       None if d["series"] is None else dict(d["series"]))
            for entry in filter(None, (part.runs, part.series)):
                str(entry["file"]), int(entry["bytes"]), str(entry["sha256"])
        except (ValueError, KeyError, TypeError):
            return None
        return part


def _keys_digest(keys: Iterable[str]) -> str:
    return _sha256("\n".join(keys).encode())


def _fsync(path: Path) -> None:
    # Directories too (on POSIX), so that a rename survives a crash of the machine.
    if os.name == "nt" and path.is_dir():  # pragma: no cover
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ResultsStore:
    """A results folder: its manifest, journal of finished parts and consolidated tables.

    Args:
        directory: the folder (created by :meth:`open`, not by the constructor).
        notify: called with a one-line message when the store repairs something
            (default: print it on stderr).

    """

    def __init__(self, directory: str | Path, *, notify: Notify | None = None) -> None:
        self.directory = Path(directory)
        self.parts = self.directory / PARTS
        self.notify = notify or _print_notice
        self._trusted: list[Part] | None = None

    # --- opening ------------------------------------------------------------------------
    def check(self, identity: Mapping[str, Any], *, overwrite: bool,
              code: Mapping[str, Any] | None = None) -> None:
        """Refuse a folder that holds something else; writes nothing.

        Args:
            identity: what makes two sweeps the same (experiment digest, model code
                version, run function, outcomes, series); compared with the manifest's.
            overwrite: accept a folder made by a different experiment or code.
            code: the current :func:`code_version`, to name the changed files.

        Raises:
            StoreError: the folder is a file, holds results of a different experiment or
                model code (without ``overwrite``), or holds files but no manifest.
            FolderLockedError: another process is writing the folder.

        """
        d = self.directory
        if d.exists() and not d.is_dir():
            raise StoreError(f"{d}: exists and is not a folder")
        if not d.exists():
            return
        check_unlocked(d)  # a sweep starting there may not have written its manifest yet
        if not any(p.name != LOCK_FILE for p in d.iterdir()):
            return
        manifest = self.read_manifest()
        if manifest is None:
            raise StoreError(f"{d}: folder is not empty and holds no {MANIFEST}; "
                             "choose another --out")
        old = manifest.get("identity") or {}
        if old == dict(identity) or overwrite:
            return
        fresh = "pass --overwrite to start afresh or --out to write elsewhere"
        if {k: v for k, v in old.items() if k != "code"} == {
                k: v for k, v in identity.items() if k != "code"}:
            if not self._holds_runs():
                return  # e.g. committed summaries without runs: nothing to mix with
            change = _code_change(manifest, code or code_version())
            raise StoreError(f"{d}: holds runs of other model code ({change}); "
                             f"resuming would mix model versions: {fresh}")
        made_by = manifest.get("experiment", {}).get("path") or "another experiment"
        raise StoreError(f"{d}: holds results of a different experiment ({made_by}); "
                         f"{fresh}")

    def _holds_runs(self) -> bool:
        if (self.directory / RUNS_PARQUET).exists():
            return True
        return self.parts.is_dir() and any(p.name.endswith(".parquet") or p.name == JOURNAL
                                           for p in self.parts.iterdir())

    def open(self, identity: Mapping[str, Any], *, overwrite: bool,
             code: Mapping[str, Any] | None = None) -> None:
        """Make the folder ready: check it, clear it if asked, verify the stored parts.

        With ``overwrite`` any earlier results are removed, whichever experiment made
        them, with the charts and report drawn from them. Parts that fail verification
        are set aside (see :meth:`verify`).
        """
        self.check(identity, overwrite=overwrite, code=code)
        if overwrite and self.read_manifest() is not None:
            self.clear()
        # parts/ is made by the first part, after the manifest: a folder never holds
        # parts without a manifest saying whose they are.
        for stale in [*self.parts.glob(_TMP_PREFIX + "*"),
                      *self.directory.glob(_TMP_PREFIX + "*")]:
            stale.unlink()  # our own half-written files, never renamed into place
        self.verify(with_series=bool(identity.get("series")))

    def clear(self) -> None:
        """Remove the store's own files and what was drawn from them (nothing else)."""
        for folder in (self.parts, self.directory / REFINE, self.directory / SET_ASIDE):
            if folder.exists():
                shutil.rmtree(folder)
        for name in _OWN_FILES:
            (self.directory / name).unlink(missing_ok=True)
        for name in DERIVED:
            path = self.directory / name
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        self._trusted = None

    # --- manifest -----------------------------------------------------------------------
    def read_manifest(self) -> dict[str, Any] | None:
        """The manifest, or ``None`` when there is none."""
        try:
            return json.loads((self.directory / MANIFEST).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise StoreError(f"{self.directory / MANIFEST}: unreadable ({exc})") from None

    def write_manifest(self, manifest: Mapping[str, Any]) -> None:
        """Write the manifest atomically and durably."""
        data = (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode()
        self._atomic(self.directory / MANIFEST, data)

    # --- parts --------------------------------------------------------------------------
    def verify(self, *, with_series: bool) -> list[Part]:
        """Check every part against the journal; set aside what fails; return the rest.

        A part is kept when its journal line is whole, its files have the recorded size
        and checksum, it has a series file if series are kept, and its runs are not
        already held by an earlier part. Everything else in ``parts/`` (damaged,
        duplicated or foreign files) moves to ``set-aside/<time>/``, with one notice.
        """
        trusted, problems, strays, torn = self._inspect(with_series)
        if strays:
            target = self.directory / SET_ASIDE / datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            target.mkdir(parents=True, exist_ok=True)
            for path in strays:
                os.replace(path, target / path.name)
            _fsync(self.parts)
        if problems or strays or torn:
            journaled = {name for part in self._journal()[0] for name in part.files}
            foreign = sum(p.name not in journaled for p in strays)
            what = problems[:3] + (["..."] if len(problems) > 3 else [])
            if foreign:
                what.append(f"{foreign} file(s) not in the journal")
            if torn:
                what.append(f"{torn} unreadable journal line(s)")
            moved = (f"set aside {len(strays)} file(s) in {self.directory / SET_ASIDE}/"
                     if strays else "dropped from the journal")
            self.notify(f"{self.directory}: {'; '.join(what)}: {moved}; their runs are "
                        "computed again")
            self._rewrite_journal(trusted)
        self._trusted = trusted
        return list(trusted)

    def _inspect(self, with_series: bool) -> tuple[list[Part], list[str], list[Path], int]:
        """Trusted parts, what is wrong with the others, stray files, torn journal lines."""
        trusted: list[Part] = []
        problems: list[str] = []
        parts, torn = self._journal()
        for part in parts:
            problem = self._check_part(part, with_series)
            if problem is None and any(t.first <= part.last and part.first <= t.last
                                       for t in trusted):
                problem = "stored twice"
            if problem is None:
                trusted.append(part)
            else:
                problems.append(f"runs {part.first}..{part.last} {problem}")
        keep = {name for part in trusted for name in part.files} | {JOURNAL}
        strays = (sorted(p for p in self.parts.iterdir() if p.name not in keep)
                  if self.parts.is_dir() else [])
        return sorted(trusted, key=lambda p: p.first), problems, strays, torn

    def _check_part(self, part: Part, with_series: bool) -> str | None:
        if with_series and part.series is None:
            return "has no series"
        for entry in filter(None, (part.runs, part.series)):
            path = self.parts / entry["file"]
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                return "missing"
            except OSError as exc:
                return f"unreadable ({exc.strerror})"
            if len(data) != entry["bytes"]:
                return "truncated" if len(data) < entry["bytes"] else "changed"
            if _sha256(data) != entry["sha256"]:
                return "changed (checksum differs)"
        return None

    def _journal(self) -> tuple[list[Part], int]:
        """The journal's parts and how many of its lines could not be read."""
        try:
            text = (self.parts / JOURNAL).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return [], 0
        # A line torn by a crash, or garbage, is skipped; its files then count as strays.
        parsed = [Part.parse(line) for line in text.splitlines() if line.strip()]
        return [p for p in parsed if p is not None], sum(p is None for p in parsed)

    def _rewrite_journal(self, parts: Iterable[Part]) -> None:
        self._atomic(self.parts / JOURNAL, "".join(p.line() for p in parts).encode())

    def stored_parts(self) -> list[Part]:
        """The parts that pass verification, in run order; reads, never moves anything."""
        if self._trusted is None:
            self._trusted = self._inspect(with_series=False)[0]
        return list(self._trusted)

    def done_ranges(self) -> list[tuple[int, int]]:
        """The ``(first, last)`` run ranges of the stored parts, in order."""
        return [(p.first, p.last) for p in self.stored_parts()]

    def n_stored(self) -> int:
        """Number of runs stored (counted from the parts' ranges, not listed)."""
        return sum(last - first + 1 for first, last in self.done_ranges())

    def done_runs(self) -> set[int]:
        """Indices of the runs already stored."""
        return {i for first, last in self.done_ranges() for i in range(first, last + 1)}

    def write_part(self, runs: pa.Table, series: pa.Table | None = None) -> None:
        """Store one finished chunk of consecutive runs, then journal it.

        Each file is written durably under a temporary name and renamed; the journal
        line, appended and flushed last, is what makes the part count.
        """
        column = runs.column("run").to_pylist()
        first, last = column[0], column[-1]
        if column != list(range(first, last + 1)):
            raise ValueError("a part must hold consecutive runs in order")
        tag = f"{first:09d}-{last:09d}"
        self.parts.mkdir(exist_ok=True)
        entries = {}
        for kind, table in (("series", series), ("runs", runs)):
            if table is None:
                continue
            sink = pa.BufferOutputStream()
            pq.write_table(table, sink)
            data = sink.getvalue().to_pybytes()
            name = f"{kind}-{tag}.parquet"
            self._atomic(self.parts / name, data, sync_folder=False)
            entries[kind] = {"file": name, "bytes": len(data), "sha256": _sha256(data)}
        part = Part(first, last, _keys_digest(runs.column("key").to_pylist()),
                    entries["runs"], entries.get("series"))
        # Journaled right after the rename, so a kill -9 between the two is unlikely
        # (and harmless: the unjournaled part is set aside and recomputed on resume).
        with open(self.parts / JOURNAL, "a", encoding="utf-8") as journal:
            journal.write(part.line())
            journal.flush()
            os.fsync(journal.fileno())
        # The folder itself is flushed with the manifest, not after every part: a rename
        # lost with the power shows up as a missing part, which is recomputed.
        if self._trusted is not None:
            self._trusted.append(part)
            self._trusted.sort(key=lambda p: p.first)

    def consolidate(self, n_runs: int, keys: Iterable[str] | None = None) -> int:
        """Join the parts into ``runs.parquet``, ``runs.csv`` (and ``series.parquet``).

        Parts are streamed one at a time, so memory does not grow with the sweep.

        Args:
            n_runs: the number of runs the sweep has; the parts must hold each once.
            keys: the expected run keys in order; when given, each stored key must match.

        Returns:
            The number of failed runs.

        Raises:
            StoreError: a run is missing or stored twice, or a key is not the expected one.

        """
        parts = self.stored_parts()
        _fsync(self.parts)  # the parts' renames, once for all
        expected = 0
        for part in parts:
            if part.first != expected:
                raise StoreError(f"{self.parts}: runs {expected}..{part.first - 1} missing or "
                                 "stored twice")
            expected = part.last + 1
        if expected != n_runs:
            raise StoreError(f"{self.parts}: holds {expected} runs, expected {n_runs}")
        wanted = iter(keys) if keys is not None else None
        failures = 0
        seen: set[str] = set()

        def tables() -> Iterator[pa.Table]:
            nonlocal failures
            for part in parts:
                table = pq.read_table(self.parts / part.runs["file"])
                got = table.column("key").to_pylist()
                if table.column("run").to_pylist() != list(range(part.first, part.last + 1)):
                    raise StoreError(f"{self.parts / part.runs['file']}: does not hold runs "
                                     f"{part.first}..{part.last}")
                if seen.intersection(got) or len(set(got)) != len(got):
                    raise StoreError(f"{self.parts}: run keys stored twice near run "
                                     f"{part.first}")
                seen.update(got)
                if wanted is not None:
                    for key in got:
                        if key != next(wanted, None):
                            raise StoreError(f"{self.parts}: run key {key!r} is not the "
                                             "experiment's; run the sweep with --overwrite")
                failures += table.column("status").to_pylist().count("error")
                yield table

        self._stream(tables(), self.directory / RUNS_PARQUET, csv=self.directory / RUNS_CSV)
        if parts and all(p.series is not None for p in parts):
            series = (pq.read_table(self.parts / p.series["file"]) for p in parts
                      if p.series is not None)
            self._stream(series, self.directory / SERIES_PARQUET)
        return failures

    # --- helpers ------------------------------------------------------------------------
    def _stream(self, tables: Iterable[pa.Table], target: Path, *,
                csv: Path | None = None) -> None:
        tmp = target.with_name(_TMP_PREFIX + target.name)
        csv_tmp = csv.with_name(_TMP_PREFIX + csv.name) if csv is not None else None
        writer = csv_writer = None
        try:
            for table in tables:
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                    if csv_tmp is not None:
                        csv_writer = pa_csv.CSVWriter(csv_tmp, _flat(table).schema)
                writer.write_table(table)
                if csv_writer is not None:
                    csv_writer.write_table(_flat(table))
        finally:
            if writer is not None:
                writer.close()
            if csv_writer is not None:
                csv_writer.close()
        for path, final in ((tmp, target), (csv_tmp, csv)):
            if path is not None and final is not None and path.exists():
                _fsync(path)
                os.replace(path, final)
        _fsync(self.directory)

    def _atomic(self, target: Path, data: bytes, *, sync_folder: bool = True) -> None:
        tmp = target.with_name(_TMP_PREFIX + target.name)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        if sync_folder:
            _fsync(target.parent)


def _print_notice(message: str) -> None:
    print(f"kamabm: {message}", file=sys.stderr)


def _code_change(manifest: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    old = manifest.get("code") or {}
    if not old:
        return "made before kamabm recorded the code version"
    changed = sorted(name for name, digest in new["files"].items()
                     if old.get("files", {}).get(name) not in (None, digest))
    what = f": {', '.join(changed)} changed" if changed else ""
    return f"{old.get('version')}, now {new['version']}{what}"


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


def _flat(table: pa.Table) -> pa.Table:
    """``table`` with list columns (list parameters) as text, ``0.3;0.15``, for CSV."""
    for i, field in enumerate(table.schema):
        if pa.types.is_list(field.type):
            text = [None if v is None else ";".join(f"{x:g}" for x in v)
                    for v in table.column(i).to_pylist()]
            table = table.set_column(i, field.name, pa.array(text, pa.string()))
    return table


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
