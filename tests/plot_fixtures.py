"""Small sweeps for the chart and report tests: the smoke experiment and miniatures.

Each is swept once per test session into a temporary folder, in-process (one worker), by
the session fixture ``swept`` of tests/conftest.py, which every test file shares.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from kamabm.experiments.files import load_experiment, parse_experiment
from kamabm.experiments.sweep import run_sweep

ROOT = Path(__file__).resolve().parents[1]

INTERVENTIONS = """
name = "mini_interventions"
replications = 4
seed = 11
horizon = 36
[design]
method = "grid"
[base]
client_revenue_share = 0.8
kam_pressure = 0.9
[levers.senior_support]
values = [0.0, 0.5]
[levers.rotation_months]
values = [0, 12]
[levers.training]
values = [0.0, 1.0]
"""

HYSTERESIS = """
name = "mini_hysteresis"
replications = 3
seed = 12
horizon = 48
[design]
method = "grid"
[base]
client_revenue_share = 0.8
pressure_change_month = 24
[levers.kam_pressure]
values = [0.0, 1.0]
[levers.pressure_after_change]
values = [0.2, 0.6, 1.0]
"""

SENSITIVITY = """
name = "mini_sensitivity"
replications = 1
seed = 14
horizon = 36
[design]
method = "sobol"
samples = 16
[uncertainties.client_revenue_share]
range = [0.2, 1.0]
[uncertainties.buyer_detachment]
range = [0.0, 1.0]
[levers.kam_pressure]
range = [0.3, 1.0]
"""

NO_CAPTURE = """
name = "no_capture"
replications = 2
seed = 13
horizon = 12
outcomes = ["supplier_margin"]
[design]
method = "grid"
[uncertainties.client_revenue_share]
values = [0.3, 0.6]
"""

ONE_FACTOR = """
name = "one_factor"
replications = 3
seed = 15
horizon = 36
[design]
method = "grid"
[base]
kam_pressure = 0.8
[uncertainties.client_revenue_share]
values = [0.2, 0.5, 0.8, 1.0]
"""

ONE_POINT = """
name = "one_point"
replications = 2
seed = 16
horizon = 12
[design]
method = "grid"
[uncertainties.client_revenue_share]
values = [0.8]
"""

ONE_BY_FOUR = """
name = "one_by_four"
replications = 2
seed = 17
horizon = 12
[design]
method = "grid"
[uncertainties.client_revenue_share]
values = [0.2, 0.4, 0.6, 0.8]
[levers.kam_pressure]
values = [0.8]
"""

LONG_MAP = """
name = "long_map"
replications = 2
seed = 18
horizon = 72
[design]
method = "grid"
[uncertainties.client_revenue_share]
values = [0.3, 0.6, 0.9]
[levers.kam_pressure]
values = [0.5, 0.9]
"""

KNOCKOUTS = """
name = "mini_knockouts"
replications = 3
seed = 19
horizon = 48
[design]
method = "grid"
[base]
kam_pressure = 0.8
[uncertainties.client_revenue_share]
values = [0.2, 0.5, 0.8]
[levers.keep_client_override]
values = [0.0, 1.0]
[levers.peer_influence]
values = [0.0, 0.3]
"""

DOSE = """
name = "mini_dose"
replications = 2
seed = 20
horizon = 36
[design]
method = "grid"
[base]
client_revenue_share = 0.8
kam_pressure = 0.8
[levers.senior_support]
values = [0.0, 0.5, 1.0]
[levers.deal_review]
values = [0.0, 0.5, 1.0]
[levers.training]
values = [0.0, 1.0]
"""

CONCENTRATION = """
name = "mini_concentration"
replications = 2
seed = 21
horizon = 36
[design]
method = "grid"
[base]
kam_pressure = 0.9
[uncertainties.client_revenue_share]
values = [0.3, 0.9]
[uncertainties.n_key_buyers]
values = [2, 4]
"""

CONTAGION = """
name = "mini_contagion"
replications = 3
seed = 22
horizon = 36
[design]
method = "grid"
[base]
client_revenue_share = 0.8
kam_pressure = 0.8
[levers.pin_first_kam]
values = [0, 1]
[levers.peer_influence]
values = [0.0, 0.3]
"""

MINIATURES = {"interventions": INTERVENTIONS, "long_map": LONG_MAP, "knockouts": KNOCKOUTS,
              "dose": DOSE, "hysteresis": HYSTERESIS,
              "sensitivity": SENSITIVITY, "no_capture": NO_CAPTURE,
              "one_factor": ONE_FACTOR, "one_point": ONE_POINT, "one_by_four": ONE_BY_FOUR,
              "concentration": CONCENTRATION, "contagion": CONTAGION}


def sweep(directory: Path, name: str) -> Path:
    """Sweep ``"smoke"`` (the shipped file) or one of this module's miniatures."""
    if name == "smoke":
        experiment = load_experiment(ROOT / "experiments" / "smoke.toml")
    else:
        experiment = parse_experiment(MINIATURES[name])
    out = directory / name
    run_sweep(experiment, out, workers=1, progress=False, command=f"test sweep {name}")
    return out


def interrupt(results: Path, directory: Path, keep: int) -> Path:
    """A copy of a finished sweep as if interrupted: its manifest and first ``keep`` parts."""
    out = directory / f"{results.name}_interrupted_{keep}"
    (out / "parts").mkdir(parents=True)
    shutil.copy(results / "manifest.json", out / "manifest.json")
    for part in sorted((results / "parts").glob("runs-*.parquet"))[:keep]:
        shutil.copy(part, out / "parts" / part.name)
    return out
