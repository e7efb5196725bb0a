"""Write experiments/sobol_screened.toml: a Sobol study of the factors the screening kept.

Reads the kept factors from results/screening/morris.json (kamabm screen) and their ranges
from experiments/screening.toml, so the Sobol study explores exactly what the screening
did. Run after `kamabm screen experiments/screening.toml`:

    .venv/bin/python scripts/sobol-from-screening.py [SAMPLES]
"""

import json
import sys
from pathlib import Path

from kamabm.experiments.screening import load_screening
from kamabm.model.params import LEVER, Parameters

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    samples = int(sys.argv[1]) if len(sys.argv) > 1 else 2048
    screening = load_screening(ROOT / "experiments" / "screening.toml")
    kept = json.loads((ROOT / "results" / "screening" / "morris.json").read_text())["kept"]
    factors = {f.name: f for f in screening.factors}
    lines = [
        "# Sobol indices of the factors the Morris screening kept (issue 9, item 2); written by",
        "# scripts/sobol-from-screening.py from results/screening/morris.json and the ranges of",
        "# experiments/screening.toml. Captured KAM-months is the smoother capture outcome.",
        "# Run with:  kamabm sweep experiments/sobol_screened.toml && "
        "kamabm report results/sobol_screened",
        "",
        'name = "sobol_screened"',
        f'description = """Sobol indices of capture and margins to the {len(kept)} factors '
        'the Morris screening kept."""',
        "replications = 1",
        f"seed = {screening.seed + 1}",
        f"horizon = {screening.base.horizon_months}",
        'outcomes = ["capture_rate", "captured_months", "key_account_margin", '
        '"supplier_margin"]',
        "",
        "[design]",
        'method = "sobol"',
        f"samples = {samples}",
        "second_order = false",
    ]
    for name in kept:
        factor = factors[name]
        role = "levers" if Parameters.spec(name).group == LEVER or name == "kam_pressure" \
            else "uncertainties"
        low, high = (int(factor.low), int(factor.high)) if factor.integer else (
            round(factor.low, 6), round(factor.high, 6))
        lines += ["", f"[{role}.{name}]", f"range = [{low}, {high}]"]
    out = ROOT / "experiments" / "sobol_screened.toml"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {out}: {len(kept)} factors, {samples} base samples")


if __name__ == "__main__":
    main()
