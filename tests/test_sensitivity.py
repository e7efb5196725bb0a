"""Sobol indices from a Saltelli-design sweep, against the Ishigami function's known answer
(the regression test SALib itself uses)."""

import math

import numpy as np
import pandas as pd
import pytest

from kamabm.experiments.files import parse_experiment
from kamabm.stats import sobol_indices

SOBOL = """
name = "ishigami"
replications = {replications}
seed = 3
horizon = 12
[design]
method = "sobol"
samples = 2048
[uncertainties.client_revenue_share]
range = [0.1, 0.9]
[uncertainties.buyer_detachment]
range = [0.0, 1.0]
[levers.kam_pressure]
range = [0.0, 1.0]
"""

# Known first-order and total indices of Ishigami with a = 7, b = 0.1.
S1 = {"client_revenue_share": 0.3139, "buyer_detachment": 0.4424, "kam_pressure": 0.0}
ST = {"client_revenue_share": 0.5576, "buyer_detachment": 0.4424, "kam_pressure": 0.2437}


def ishigami_runs(replications=1, noise=0.0):
    """A results table as a sweep of the Ishigami function over the design would give."""
    experiment = parse_experiment(SOBOL.format(replications=replications))
    rng = np.random.default_rng(0)
    rows = []
    for spec in experiment.runs():
        x = [-math.pi + 2 * math.pi * (spec.values[v.name] - v.low) / (v.high - v.low)
             for v in experiment.variables]
        y = math.sin(x[0]) + 7 * math.sin(x[1]) ** 2 + 0.1 * x[2] ** 4 * math.sin(x[0])
        rows.append({"point": spec.point, "replication": spec.replication,
                     "y": y + noise * rng.normal()})
    return experiment, pd.DataFrame(rows)


def test_sobol_indices_recover_the_ishigami_answer():
    experiment, runs = ishigami_runs()
    table = sobol_indices(runs, [v.name for v in experiment.variables], "y")
    for row in table.itertuples():
        assert row.S1 == pytest.approx(S1[row.parameter], abs=0.05)
        assert row.ST == pytest.approx(ST[row.parameter], abs=0.05)
    assert list(table.parameter) == ["client_revenue_share", "buyer_detachment",
                                      "kam_pressure"]  # sorted by total effect


def test_replications_are_averaged_before_the_decomposition():
    experiment, runs = ishigami_runs(replications=3, noise=0.5)
    table = sobol_indices(runs, [v.name for v in experiment.variables], "y").set_index(
        "parameter")
    assert table.loc["buyer_detachment", "S1"] == pytest.approx(0.4424, abs=0.06)


def test_an_incomplete_design_is_refused():
    experiment, runs = ishigami_runs()
    names = [v.name for v in experiment.variables]
    with pytest.raises(ValueError, match="Saltelli"):
        sobol_indices(runs[runs.point < 101], names, "y")  # a block cut short
    with pytest.raises(ValueError, match="Saltelli"):
        sobol_indices(runs[runs.point != 7], names, "y")  # a point missing
