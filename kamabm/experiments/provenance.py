"""Provenance of results: the model's code version, the environment and the git state.

Every results folder records them in its manifest, so that runs of two model versions are
never mixed and a result can be traced to the code and libraries that computed it.
"""

from __future__ import annotations

import hashlib
import platform
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

_MODEL = Path(__file__).resolve().parents[1] / "model"
#: Modules of :mod:`kamabm.model` that compute no run: words and documentation tables.
WORDS_ONLY = ("outcomes", "doc_tables")
#: The modules of :mod:`kamabm.model` whose source is the model's code version (paths
#: under ``kamabm/model/`` without ``.py``): every one but :data:`WORDS_ONLY`, the Mesa
#: model, the compiled engine (``engine``, ``compiled/...``) and the batch door included,
#: found in the folder so that a module added to the model is never left out.
MODEL_MODULES = tuple(sorted(
    path.relative_to(_MODEL).with_suffix("").as_posix() for path in _MODEL.rglob("*.py")
    if path.stem not in WORDS_ONLY and "__pycache__" not in path.parts))
#: The distributions whose versions a manifest records.
PACKAGES = ("kamabm", "mesa", "numpy", "pandas", "pyarrow", "scipy", "SALib", "tqdm",
            "dask", "distributed")


def now() -> str:
    """The current UTC time in ISO 8601, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def code_version(run_fn: Callable[..., Any] | None = None) -> dict[str, Any]:
    """The version of the code that computes the runs.

    The package version plus a SHA-256 of the model's source (:data:`MODEL_MODULES`),
    and of the run function's own module when it is not the model's. Two sweeps with the
    same ``version`` ran the same model, committed or not.

    Returns:
        ``{"version": "0.1.0+<16 hex>", "files": {path: sha256}}``.

    """
    from kamabm import __version__

    package = _MODEL.parent
    paths = [_MODEL / f"{name}.py" for name in MODEL_MODULES]
    if run_fn is not None and not run_fn.__module__.startswith("kamabm."):
        source = sys.modules.get(run_fn.__module__)
        source_file = getattr(source, "__file__", None)
        if source_file:
            paths.append(Path(source_file).resolve())
    files = {}
    for path in paths:
        try:
            files[_shown(path, package.parent)] = sha256(path.read_bytes())
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


def sha256(data: bytes) -> str:
    """The SHA-256 of ``data`` as hex digits."""
    return hashlib.sha256(data).hexdigest()


def environment() -> dict[str, Any]:
    """Python, platform, package versions and git state, for the manifest."""
    versions = {}
    for name in PACKAGES:
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
