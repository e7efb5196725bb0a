"""Small sweeps for the chart and report tests: the smoke experiment and two miniatures.

Each is swept once per test session into a temporary folder, in-process (one worker).
"""

from __future__ import annotations

from pathlib import Path

from kamabm.experiment import load_experiment, parse_experiment
from kamabm.sweep import run_sweep

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


def sweep(directory: Path, name: str) -> Path:
    """Sweep ``"smoke"`` (the shipped file) or one of this module's miniatures."""
    if name == "smoke":
        experiment = load_experiment(ROOT / "experiments" / "smoke.toml")
    else:
        text = {"interventions": INTERVENTIONS, "hysteresis": HYSTERESIS,
                "sensitivity": SENSITIVITY, "no_capture": NO_CAPTURE}[name]
        experiment = parse_experiment(text)
    out = directory / name
    run_sweep(experiment, out, workers=1, progress=False, command=f"test sweep {name}")
    return out
