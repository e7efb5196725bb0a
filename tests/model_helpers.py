"""Shared helpers for the model's tests."""

import numpy as np

from kamabm import Parameters, run_many

#: Seeds over which statistical claims are tested.
SEEDS = range(12)


def mean_outcome(name, seeds=SEEDS, **parameters):
    """Mean of one outcome over several seeds at the given parameters, on the compiled
    engine (bit for bit the Mesa model's numbers: tests/test_engine_equivalence.py)."""
    seeds = list(seeds)
    runs = run_many([Parameters(**parameters)] * len(seeds), seeds)
    return float(np.mean([r[name] for r in runs]))
