"""kamabm: an agent-based model of key account managers captured by their clients.

The public doors: :class:`Parameters` (one validated object for every parameter),
:func:`run_one` (one run of the model to a dict of outcomes), :func:`run_many` (many
runs at once on the compiled engine, the same numbers), :class:`KAMMarket` (the
Mesa model itself, for stepping by hand) and :func:`load_results` (a sweep's results as a
pandas DataFrame).

Names are imported on first use, so that ``import kamabm`` stays light (the sweep's main
process, for instance, never needs Mesa).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kamabm.experiments.tables import load_results, load_series, run_parameters
    from kamabm.model.batch import run_many
    from kamabm.model.market import KAMMarket
    from kamabm.model.params import ParameterError, Parameters
    from kamabm.model.run import OUTCOMES, SERIES, run_one

_WHERE = {
    "KAMMarket": "kamabm.model.market",
    "ParameterError": "kamabm.model.params",
    "Parameters": "kamabm.model.params",
    "OUTCOMES": "kamabm.model.run",
    "SERIES": "kamabm.model.run",
    "run_one": "kamabm.model.run",
    "run_many": "kamabm.model.batch",
    "load_results": "kamabm.experiments.tables",
    "load_series": "kamabm.experiments.tables",
    "run_parameters": "kamabm.experiments.tables",
}

__all__ = ["OUTCOMES", "SERIES", "KAMMarket", "ParameterError", "Parameters", "load_results",
           "load_series", "run_many", "run_one", "run_parameters"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'kamabm' has no attribute {name!r}")
