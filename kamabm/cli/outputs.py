"""Output folders of the commands: checked before anything is computed or written."""

from __future__ import annotations

from pathlib import Path

#: Name of the empty file that probes whether a folder is writable (removed at once).
PROBE = ".kamabm-write-test"


def unwritable(folder: Path) -> str | None:
    """Why ``folder`` cannot take output (created if missing), or None if it can.

    The reason is one line, naming the folder and the system's error.
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
