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

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from kamabm.experiments.lock import LOCK_FILE, check_unlocked
from kamabm.experiments.provenance import code_version, sha256

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
#: Tables kept beside the runs for the report to read (the report never runs the model):
#: the typical runs' month-by-month tables (:mod:`kamabm.experiments.typical`) and a
#: map's capture boundary (written by ``kamabm sweep``). An overwrite removes them too.
TYPICAL_RUNS = "typical_runs.parquet"
BOUNDARY_TABLE = "capture_boundary.csv"
KEPT_BESIDE = (TYPICAL_RUNS, BOUNDARY_TABLE)
_OWN_FILES = (MANIFEST, RUNS_PARQUET, RUNS_CSV, SERIES_PARQUET)
_TMP_PREFIX = ".tmp-"

#: The consolidated tables whose digests the manifest records (``manifest["tables"]``).
TABLES = (RUNS_PARQUET, RUNS_CSV, SERIES_PARQUET)
Notify = Callable[[str], None]

#: Between the numbers of a list parameter in its text form.
SEQUENCE_SEPARATOR = ";"


def sequence_text(values: Iterable[float]) -> str:
    """A list parameter's canonical text: its numbers in shortest round-trip form.

    ``(0.3, 0.15)`` gives ``"0.3;0.15"``, ``()`` gives ``""``; :func:`sequence_values`
    reads it back exactly.
    """
    return SEQUENCE_SEPARATOR.join(repr(float(x)) for x in values)


def sequence_values(text: str) -> tuple[float, ...]:
    """The numbers of a list parameter's canonical text (see :func:`sequence_text`)."""
    return tuple(float(x) for x in text.split(SEQUENCE_SEPARATOR) if x.strip())



def file_digest(path: Path) -> dict[str, Any]:
    """``{"bytes", "sha256"}`` of a file, as the manifest records a consolidated table."""
    data = path.read_bytes()
    return {"bytes": len(data), "sha256": sha256(data)}



class StoreError(ValueError):
    """A results folder that cannot be used as asked; the message is one line."""


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
    return sha256("\n".join(keys).encode())


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
        #: The consolidated tables' digests, once :meth:`consolidate` has written them.
        self.tables: dict[str, dict[str, Any]] = {}

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
        for name in (*_OWN_FILES, *KEPT_BESIDE):
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
            if sha256(data) != entry["sha256"]:
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
        if not (self.parts / JOURNAL).exists():
            # Made before the first part's files, so that parts without a journal are
            # only ever those of a folder written before parts were journaled.
            self._atomic(self.parts / JOURNAL, b"")
        entries = {}
        for kind, table in (("series", series), ("runs", runs)):
            if table is None:
                continue
            sink = pa.BufferOutputStream()
            pq.write_table(table, sink)
            data = sink.getvalue().to_pybytes()
            name = f"{kind}-{tag}.parquet"
            self._atomic(self.parts / name, data, sync_folder=False)
            entries[kind] = {"file": name, "bytes": len(data), "sha256": sha256(data)}
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

        Parts are streamed one at a time, so memory does not grow with the sweep. The
        tables' sizes and SHA-256 are then in :attr:`tables`, for the manifest, so that
        every later read can check them.

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
        self.tables = {name: file_digest(self.directory / name) for name in TABLES
                       if (self.directory / name).exists()}
        return failures

    # --- helpers ------------------------------------------------------------------------
    def _stream(self, tables: Iterable[pa.Table], target: Path, *,
                csv: Path | None = None) -> None:
        tmp = target.with_name(_TMP_PREFIX + target.name)
        csv_tmp = csv.with_name(_TMP_PREFIX + csv.name) if csv is not None else None
        writer = csv_writer = None
        try:
            for table in map(_flat, tables):
                if writer is None:
                    writer = pq.ParquetWriter(tmp, table.schema)
                    if csv_tmp is not None:
                        csv_writer = pa_csv.CSVWriter(csv_tmp, table.schema)
                writer.write_table(table)
                if csv_writer is not None:
                    csv_writer.write_table(table)
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


def _flat(table: pa.Table) -> pa.Table:
    """``table`` with list columns as canonical text (:func:`sequence_text`).

    Parts written before the runs table was tidy hold list parameters as lists; the
    consolidated tables hold text, as new parts do.
    """
    for i, field in enumerate(table.schema):
        if pa.types.is_list(field.type):
            text = [None if v is None else sequence_text(v) for v in table.column(i).to_pylist()]
            table = table.set_column(i, field.name, pa.array(text, pa.string()))
    return table
