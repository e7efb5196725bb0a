#!/usr/bin/env bash
# The main job: set up, run the headline experiment (client revenue share x KAM pressure)
# and draw its charts under results/. A second call resumes an interrupted sweep.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/kamabm sweep experiments/capture_phase.toml "$@"
.venv/bin/kamabm run --seed 1 --set client_revenue_share=0.8 --set kam_pressure=0.8 \
  --out results/single_run >/dev/null
echo "charts: results/single_run/ (one run); sweep results: results/capture_phase/"
