#!/usr/bin/env bash
# Regenerate the committed results under results/: sweep every experiment afresh with the
# current code, then draw its charts and write its report.
#
#   scripts/make-results.sh              # everything: about 11 minutes on 2 cores, the calibration some 30 more
#   scripts/make-results.sh interventions hysteresis    # only these
#
# Besides the experiments of experiments/, the names `patterns` (P6 and P9 charts from
# single runs, kamabm patterns), `screening` (Morris, kamabm screen), `sobol_screened`
# (Sobol indices of the factors the screening kept; its experiment file is rewritten from
# the screening's results) and `calibration` (ABC-SMC, kamabm calibrate, needs the
# calibrate extra) regenerate those results.
#
# For each experiment NAME this writes results/NAME/ (runs.parquet, runs.csv, not committed;
# manifest.json; typical_runs.parquet and, for a two-factor map, capture_boundary.csv, which
# the sweep keeps for the report), results/NAME/charts/ (every chart as PNG, SVG and the CSV
# of its plotted numbers, summary.csv, boundary.csv) and results/NAME/report.html. The report
# only reads the folder; capture_ensemble comes after capture_phase, whose capture_boundary.csv
# its report reads for the default constants.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || scripts/setup.sh
names=("$@")
[ ${#names[@]} -eq 0 ] && names=(capture_phase economics mechanisms concentration contagion interventions dose_response rotation
  detachment detachment_share learning habits hysteresis sensitivity patterns screening sobol_screened calibration
  capture_ensemble)
for name in "${names[@]}"; do
  echo "== $name"
  case "$name" in
    patterns) .venv/bin/kamabm patterns --out results/patterns ;;
    screening)  # from scratch (runs of other model code would be refused anyway)
      rm -rf results/screening
      .venv/bin/kamabm screen experiments/screening.toml --quiet ;;
    sobol_screened)  # Sobol indices of the factors the screening kept
      .venv/bin/python scripts/sobol-from-screening.py
      .venv/bin/kamabm sweep experiments/sobol_screened.toml --overwrite --quiet
      .venv/bin/kamabm report results/sobol_screened ;;
    calibration)
      .venv/bin/python -c "import pyabc" 2>/dev/null || scripts/setup.sh calibrate
      rm -rf results/calibration
      .venv/bin/kamabm calibrate experiments/calibration.toml --quiet ;;
    *)
      .venv/bin/kamabm sweep "experiments/$name.toml" --overwrite --quiet
      .venv/bin/kamabm report "results/$name" ;;
  esac
done
