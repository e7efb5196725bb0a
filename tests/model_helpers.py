"""Shared helpers for the model's tests."""

import numpy as np

from kamabm import Parameters, run_one

#: Seeds over which statistical claims are tested.
SEEDS = range(12)


def mean_outcome(name, seeds=SEEDS, **parameters):
    """Mean of one outcome over several seeds at the given parameters."""
    params = Parameters(**parameters)
    return float(np.mean([run_one(params, seed)[name] for seed in seeds]))
