#!/usr/bin/env bash
# Create .venv/ at the repository root (if missing) and install kamabm into it.
# Usage: scripts/setup.sh [EXTRAS]   e.g. scripts/setup.sh test,dask
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-}"
python="${PYTHON:-python3}"
venv="${VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
spec="."
[ -n "$extras" ] && spec=".[$extras]"
"$venv/bin/python" -m pip install --quiet -e "$spec"
