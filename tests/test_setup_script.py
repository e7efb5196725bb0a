"""scripts/setup.sh notices a .venv made by a wrong Python and rebuilds it (fake Pythons)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# A stand-in interpreter: reports its version, makes "venvs" of itself, logs pip calls.
FAKE = """#!/usr/bin/env bash
if [ "$1" = "-c" ]; then echo "{version}"; exit 0; fi
if [ "$1 $2" = "-m venv" ]; then
  mkdir -p "$3/bin" && cp "$0" "$3/bin/python" && chmod +x "$3/bin/python"; exit 0
fi
if [ "$1 $2" = "-m pip" ]; then echo "{version} pip $*" >> "$PIP_LOG"; exit 0; fi
exit 1
"""


def fake_python(folder: Path, name: str, version: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(FAKE.format(version=version))
    path.chmod(0o755)
    return path


def setup(tmp_path: Path, *, python: Path | None = None, path_python: str | None = None
          ) -> subprocess.CompletedProcess:
    bin_dir = tmp_path / "bin"
    env = {**os.environ, "VENV": str(tmp_path / "venv"), "PIP_LOG": str(tmp_path / "pip.log")}
    env.pop("PYTHON", None)
    if python is not None:
        env["PYTHON"] = str(python)
    if path_python is not None:
        for name in ("python3", "python3.12", "python3.11"):
            fake_python(bin_dir, name, path_python)
        env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    return subprocess.run(["bash", str(REPO / "scripts" / "setup.sh")], env=env,
                          capture_output=True, text=True, timeout=60)


def venv_version(tmp_path: Path) -> str:
    return subprocess.run([str(tmp_path / "venv" / "bin" / "python"), "-c", ""],
                          capture_output=True, text=True).stdout.strip()


@pytest.fixture(autouse=True)
def _posix():
    if os.name != "posix":
        pytest.skip("setup.sh is a bash script")


def test_an_unsupported_python_is_refused_with_what_to_do(tmp_path):
    proc = setup(tmp_path, python=fake_python(tmp_path / "py", "python3.10", "3.10"))
    assert proc.returncode == 2
    assert "is Python 3.10; kamabm needs 3.11 or newer" in proc.stderr
    assert "PYTHON=python3.11" in proc.stderr and not (tmp_path / "venv").exists()


def test_a_venv_made_by_an_unsupported_python_is_rebuilt(tmp_path):
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    fake_python(tmp_path / "venv" / "bin", "python", "3.10")  # left by an earlier set-up
    proc = setup(tmp_path, path_python="3.11")
    assert proc.returncode == 0, proc.stderr
    assert "venv was made by Python 3.10, kamabm needs 3.11 or newer; rebuilding" in proc.stderr
    assert venv_version(tmp_path) == "3.11"
    assert "pip install --quiet -e ." in (tmp_path / "pip.log").read_text()


def test_a_venv_of_another_python_than_the_one_asked_for_is_rebuilt(tmp_path):
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    fake_python(tmp_path / "venv" / "bin", "python", "3.11")
    proc = setup(tmp_path, python=fake_python(tmp_path / "py", "python3.12", "3.12"))
    assert proc.returncode == 0, proc.stderr
    assert "was made by Python 3.11, not 3.12" in proc.stderr
    assert venv_version(tmp_path) == "3.12"


def test_a_good_venv_is_kept(tmp_path):
    (tmp_path / "venv" / "bin").mkdir(parents=True)
    fake_python(tmp_path / "venv" / "bin", "python", "3.11")
    proc = setup(tmp_path, path_python="3.12")
    assert proc.returncode == 0, proc.stderr
    assert "rebuilding" not in proc.stderr and venv_version(tmp_path) == "3.11"
    assert proc.stderr == ""
