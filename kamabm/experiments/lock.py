"""One writer per results folder: an OS-level lock, released on any exit.

A sweep holds ``<results>/.lock`` (``flock`` on POSIX, ``msvcrt.locking`` on Windows)
from before it reads the folder until it has written its last byte. The operating system
drops the lock when the process ends, however it ends (``kill -9`` included), so a stale
lock cannot outlive its holder and nothing has to be cleaned up. The file itself stays;
it holds who took the lock (process id, host, time, command) so that a refused second
writer can say who is in the way.

The lock is re-entrant within a process: a refinement that sweeps into a folder the
command already holds does not lock itself out.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if sys.platform == "win32":  # pragma: no cover -- exercised on Windows only
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _probe(fd: int) -> bool:
        if not _try_lock(fd):
            return True
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
        return False
else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def _probe(fd: int) -> bool:
        # A shared lock is refused only while someone holds the exclusive one.
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False

LOCK_FILE = ".lock"

# Folders this process holds: resolved path -> [file descriptor, depth].
_held: dict[Path, list[int]] = {}


class FolderLockedError(ValueError):
    """The folder is being written by another process; the message is one line."""


@contextmanager
def folder_lock(directory: str | Path, *, purpose: str = "sweep") -> Iterator[None]:
    """Hold the lock of ``directory`` (created if missing) for the ``with`` block.

    Args:
        directory: the results folder.
        purpose: what the holder does, shown to a refused second writer.

    Raises:
        FolderLockedError: another process holds the folder; nothing was written.

    """
    path = Path(directory).resolve()
    if path in _held:
        _held[path][1] += 1
        try:
            yield
        finally:
            _held[path][1] -= 1
        return
    path.mkdir(parents=True, exist_ok=True)
    # Not inherited by worker processes (Python's default), so a worker that outlives
    # its parent cannot keep the folder locked.
    fd = os.open(path / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    if not _try_lock(fd):
        holder = _read_holder(fd)
        os.close(fd)
        raise FolderLockedError(f"{directory}: in use by another {_describe(holder)}; wait "
                                "for it to finish or choose another --out")
    _held[path] = [fd, 1]
    try:
        info = {"pid": os.getpid(), "host": socket.gethostname(), "purpose": purpose,
                "since": datetime.now(UTC).isoformat(timespec="seconds"),
                "command": " ".join(sys.argv)}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(info) + "\n").encode())
        yield
    finally:
        del _held[path]
        try:
            os.ftruncate(fd, 0)
        finally:
            os.close(fd)  # releases the lock


def check_unlocked(directory: str | Path) -> None:
    """Refuse a folder that another process is writing (e.g. before drawing a report).

    Writes nothing. A folder this process holds counts as unlocked.

    Raises:
        FolderLockedError: another process holds the folder's lock.

    """
    path = Path(directory).resolve()
    if path in _held:
        return
    try:
        fd = os.open(path / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return
    try:
        if _probe(fd):
            raise FolderLockedError(f"{directory}: in use by another "
                                    f"{_describe(_read_holder(fd))}; wait for it to finish")
    finally:
        os.close(fd)


def _read_holder(fd: int) -> dict[str, Any]:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return json.loads(os.read(fd, 4096).decode() or "{}")
    except (OSError, ValueError):
        return {}


def _describe(holder: dict[str, Any]) -> str:
    if not holder:
        return "process (it is just starting)"
    what = holder.get("purpose", "sweep")
    command = holder.get("command")
    return (f"{what} (pid {holder.get('pid')} on {holder.get('host')}, since "
            f"{holder.get('since')}" + (f": {command}" if command else "") + ")")
