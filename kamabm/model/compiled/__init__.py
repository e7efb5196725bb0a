"""The compiled engine's kernels (numba): the Mesa model's schedule over plain arrays.

Each module mirrors one of the model's: :mod:`.negotiation` the negotiation engine,
:mod:`.agents` what KAMs and buyers do, :mod:`.supplier` the books, :mod:`.market` the
monthly schedule; :mod:`.numeric` holds Python's and numpy's arithmetic done exactly.
:mod:`kamabm.model.engine` calls them.

numba caches each compiled function on disk but checks only that function's own file, not
the files of the functions it calls; so that an edit to one kernel module never leaves a
stale caller in the cache, the cache is cleared here whenever any of these files changes
(:func:`clear_stale_cache`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

try:  # POSIX; elsewhere processes that start together may each clear the cache once
    import fcntl
except ImportError:  # pragma: no cover (Windows)
    fcntl = None  # type: ignore[assignment]

HERE = Path(__file__).resolve().parent
#: Where numba keeps the compiled functions (its default: ``__pycache__`` beside them).
CACHE = HERE / "__pycache__"
#: The stamp of the kernels' sources the cache was built from.
STAMP = CACHE / "kernels.sha256"


def sources_digest() -> str:
    """SHA-256 of every kernel module's source, in name order."""
    digest = hashlib.sha256()
    for path in sorted(HERE.glob("*.py")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def clear_stale_cache() -> None:
    """Remove numba's cached kernels if they were built from other sources than these.

    Processes that start together (a sweep's workers) take a lock, so that one clears
    and stamps while the others wait and then find the stamp current. Does nothing when
    the folder cannot be written (numba then compiles in memory).
    """
    digest = sources_digest()
    try:
        if STAMP.exists() and STAMP.read_text() == digest:
            return
        CACHE.mkdir(exist_ok=True)
        with open(CACHE / "kernels.lock", "w") as lock:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            if STAMP.exists() and STAMP.read_text() == digest:
                return
            for stale in [*CACHE.glob("*.nbi"), *CACHE.glob("*.nbc")]:
                stale.unlink(missing_ok=True)
            STAMP.write_text(digest)
    except OSError:
        return


clear_stale_cache()
