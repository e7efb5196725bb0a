#!/usr/bin/env bash
# Regenerate the committed results under results/: sweep every experiment afresh with the
# current code, then draw its charts and write its report.
#
#   scripts/make-results.sh              # all experiments, about 8 minutes on 2 cores
#   scripts/make-results.sh interventions hysteresis    # only these
#
# For each experiment NAME this writes results/NAME/ (runs.parquet, runs.csv, manifest.json,
# not committed except the manifest), results/NAME/charts/ (every chart as PNG, SVG and the
# CSV of its plotted numbers, summary.csv, boundary.csv) and results/NAME/report.html.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || scripts/setup.sh
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(capture_phase interventions detachment learning hysteresis sensitivity)
for name in "${names[@]}"; do
  echo "== $name"
  .venv/bin/kamabm sweep "experiments/$name.toml" --overwrite --quiet
  .venv/bin/kamabm report "results/$name"
done
