#!/usr/bin/env bash
# Set up and run the test suite (slow experiments excluded; add -m slow to run them), on
# one process per core (pytest-xdist; -n 0 runs it in this process).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh test,dask,app,calibrate,deck
.venv/bin/python -m pytest -n auto "$@"
