#!/usr/bin/env bash
# Create .venv/ at the repository root (if missing) and install kamabm into it.
# Usage: scripts/setup.sh [EXTRAS]   e.g. scripts/setup.sh test,dask
#
# The interpreter is $PYTHON if set, else the first of python3, python3.12, python3.11
# that is Python 3.11 or newer. A .venv made by an unsupported Python (or by another one
# than an explicitly given $PYTHON), or a broken one, is rebuilt, with a line saying so.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
venv="${VENV:-.venv}"

version_of() {  # major.minor of an interpreter, or nothing if it does not run
  "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true
}
supported() {  # kamabm needs Python >= 3.11 (pyproject.toml: requires-python)
  case "$1" in 3.1[1-9] | 3.[2-9][0-9]) return 0 ;; *) return 1 ;; esac
}

python="${PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in python3 python3.12 python3.11; do
    if command -v "$candidate" >/dev/null && supported "$(version_of "$candidate")"; then
      python="$candidate"
      break
    fi
  done
  if [ -z "$python" ]; then
    found="$(version_of python3)"
    echo "scripts/setup.sh: kamabm needs Python 3.11 or newer; python3 is ${found:-missing}." \
      "Install Python 3.11 or 3.12, then run: PYTHON=python3.11 scripts/setup.sh" >&2
    exit 2
  fi
else
  want="$(version_of "$python")"
  if ! supported "$want"; then
    echo "scripts/setup.sh: PYTHON=$python is Python ${want:-that does not run}; kamabm" \
      "needs 3.11 or newer (e.g. PYTHON=python3.11 scripts/setup.sh)" >&2
    exit 2
  fi
fi

if [ -e "$venv" ]; then
  have="$(version_of "$venv/bin/python")"
  reason=""
  if [ -z "$have" ]; then
    reason="does not run"
  elif ! supported "$have"; then
    reason="was made by Python $have, kamabm needs 3.11 or newer"
  elif [ -n "${PYTHON:-}" ] && [ "$have" != "$(version_of "$python")" ]; then
    reason="was made by Python $have, not $(version_of "$python") (PYTHON=$python)"
  fi
  if [ -n "$reason" ]; then
    echo "scripts/setup.sh: $venv $reason; rebuilding it with $python" >&2
    rm -rf "$venv"
  fi
fi
# setuptools reports every editable install with an informational UserWarning, dozens
# of lines above the first real one; real errors still show.
export PYTHONWARNINGS="${PYTHONWARNINGS:-ignore::UserWarning}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
spec="."
[ -n "$extras" ] && spec=".[$extras]"
"$venv/bin/python" -m pip install --quiet -e "$spec"
# Compile the model's engine now: numba keeps the machine code beside the source
# (kamabm/model/compiled/__pycache__/), so the first sweep, app or test run does not wait
# for it (about 20 s on first install; under a second once compiled).
"$venv/bin/python" -c "from kamabm.model.batch import run_many
from kamabm.model.params import Parameters
run_many([Parameters(horizon_months=12)], [1])"
