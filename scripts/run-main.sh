#!/usr/bin/env bash
# The main job: set up, run the headline experiment (client revenue share x KAM pressure,
# 8,400 runs), then draw its charts and write its report under results/capture_phase/.
# A second call resumes an interrupted sweep; extra options go to `kamabm sweep`
# (e.g. --workers 4, --refine).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
.venv/bin/kamabm sweep experiments/capture_phase.toml "$@"
.venv/bin/kamabm report results/capture_phase
.venv/bin/kamabm run --seed 1 --set client_revenue_share=0.8 --set kam_pressure=0.8 \
  --out results/single_run --json >/dev/null
echo "charts: results/capture_phase/charts/, report: results/capture_phase/report.html"
