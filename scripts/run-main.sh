#!/usr/bin/env bash
# The main job: set up, run the headline experiment (client revenue share x KAM pressure,
# 8,400 runs), then draw its charts and write its report under results/main/capture_phase/.
# Everything it writes is ignored by git: the committed results under results/capture_phase/
# are regenerated only by scripts/make-results.sh. A second call resumes an interrupted
# sweep; extra options go to `kamabm sweep` (e.g. --workers 4, --refine).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
out=results/main/capture_phase
.venv/bin/kamabm sweep experiments/capture_phase.toml --out "$out" "$@"
.venv/bin/kamabm report "$out"
.venv/bin/kamabm run --seed 1 --set client_revenue_share=0.8 --set kam_pressure=0.8 \
  --out results/main/single_run --json >/dev/null
echo "charts: $out/charts/, report: $out/report.html"
