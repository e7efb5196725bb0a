"""Output folders of the commands: checked before anything is computed, written whole.

Every command that writes checks its output folder first (:func:`unwritable`: created if
missing, a probe file written and removed), so that a folder that cannot be written is
refused with one line before any work. What a command then writes in one go (a report,
charts, the tables of a fit) goes through :func:`staged`: into a temporary folder next to
the target, moved into place file by file only once everything is written, so that a disk
that fills up, a read-only folder or an interruption leaves the target as it was, never
half of a new set of files. Folders that accumulate while a command runs (a sweep's or a
diagnosis's parts, a calibration's history) are written by their stores, one whole file at
a time. :func:`cannot_write` words the one line a command prints when a write fails.

This module imports nothing of the commands, so the library's writers may use it too.
"""

from __future__ import annotations

import errno
import html
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

#: Name of the empty file that probes whether a folder is writable (removed at once).
PROBE = ".kamabm-write-test"
#: Middle of the name of a staging folder: ``.<target>.partial-<pid>-<random>``.
PARTIAL = ".partial-"


def unwritable(folder: Path) -> str | None:
    """Why ``folder`` cannot take output (created if missing), or None if it can.

    The reason is one line, naming the folder and the system's error. A path under a
    regular file, a read-only file system and a full disk (no room for a directory) are
    all refused here, whoever runs the command (root included).
    """
    if folder.exists() and not folder.is_dir():
        return f"{folder}: not a folder"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / PROBE
        probe.touch()
        probe.unlink()
    except OSError as exc:
        return f"{folder}: cannot write there ({exc.strerror or exc})"
    return None


def cannot_write(exc: OSError, where: Path | str | None = None) -> str:
    """One line for a write that failed: the path, "cannot write there" and the reason.

    A full disk and a read-only file system are named as the system names them ("No
    space left on device", "Read-only file system").
    """
    path = exc.filename or where or ""
    if where is not None and PARTIAL in str(path):
        path = where  # not the staging folder the user never sees
    return f"{path}: cannot write there ({exc.strerror or exc})"


def is_write_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the disk is full or read-only (also through SQLite)."""
    if isinstance(exc, OSError):
        return True
    text = str(exc).lower()
    return any(s in text for s in ("database or disk is full", "disk i/o error",
                                   "readonly database", "read-only database"))


def write_error(exc: BaseException) -> OSError:
    """``exc`` as the :class:`OSError` it stands for (ENOSPC for SQLite's full disk)."""
    if isinstance(exc, OSError):
        return exc
    text = str(exc).lower()
    code = errno.EROFS if "readonly" in text or "read-only" in text else errno.ENOSPC
    return OSError(code, os.strerror(code))


@contextmanager
def staged(target: str | Path) -> Iterator[Path]:
    """A temporary folder whose files replace those of ``target`` once the block ends.

    The folder is made next to ``target`` (on the same file system); on a clean exit of
    the ``with`` block every file written into it is moved to the same relative path
    under ``target`` (each move atomic; sub-folders created), files of ``target`` not
    written again are kept, and the temporary folder is removed. On any exception (a full
    disk, Ctrl-C, an error) the temporary folder is removed and ``target`` is left as it
    was. Staging folders left by a killed process are removed by the next one.

    Args:
        target: the output folder (created if missing).

    Yields:
        The temporary folder to write into.

    """
    target = Path(target)
    target.mkdir(parents=True, exist_ok=True)
    _remove_stale(target)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}{PARTIAL}{os.getpid()}-",
                                dir=target.parent))
    try:
        yield tmp
        _merge(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def in_target(path: Path, tmp: Path, target: Path) -> Path:
    """Where ``path``, written under the staging folder ``tmp``, is once moved to ``target``."""
    try:
        return Path(target) / Path(path).relative_to(tmp)
    except ValueError:
        return Path(path)


def _merge(tmp: Path, target: Path) -> None:
    for folder, dirs, files in os.walk(tmp):
        here = target / Path(folder).relative_to(tmp)
        here.mkdir(exist_ok=True)
        for name in files:
            os.replace(Path(folder) / name, here / name)
        dirs.sort()
        _fsync_folder(here)


def _fsync_folder(folder: Path) -> None:
    if os.name == "nt":  # pragma: no cover
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale(target: Path) -> None:
    """Remove staging folders of ``target`` whose process is gone (killed with -9)."""
    try:
        siblings = list(target.parent.glob(f".{target.name}{PARTIAL}*"))
    except OSError:
        return
    for folder in siblings:
        pid = folder.name[len(f".{target.name}{PARTIAL}"):].partition("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


@contextmanager
def staged_report(path: Path, charts_dir: Path) -> Iterator[tuple[Path, Path]]:
    """Staging for a report file and its charts folder: see :func:`staged`.

    Yields the temporary twins of ``path`` and ``charts_dir``; both are moved into place
    (the charts first) once the block ends cleanly, neither otherwise. Links from the
    report to its charts' tables stay right: relative when the charts are beside the
    report, and, for a charts folder elsewhere, the temporary folder's path in the report
    is replaced by the real one.
    """
    path, charts_dir = Path(path), Path(charts_dir)
    with ExitStack() as stack:
        tmp = stack.enter_context(staged(path.parent))
        try:
            inner = charts_dir.resolve().relative_to(path.parent.resolve())
        except ValueError:
            charts_tmp, elsewhere = stack.enter_context(staged(charts_dir)), True
        else:
            charts_tmp, elsewhere = tmp / inner, False
        yield tmp / path.name, charts_tmp
        page = tmp / path.name
        if elsewhere and page.is_file():
            text = page.read_text(encoding="utf-8")
            page.write_text(text.replace(html.escape(charts_tmp.as_posix()),
                                         html.escape(charts_dir.as_posix())),
                            encoding="utf-8")
