"""kamabm: an agent-based model of key account managers captured by their clients.

The public doors: :class:`Parameters` (one validated object for every parameter),
:func:`run_one` (one run of the model to a dict of outcomes), :class:`KAMMarket` (the
Mesa model itself, for stepping by hand) and :func:`load_results` (a sweep's results as a
pandas DataFrame).

Names are imported on first use, so that ``import kamabm`` stays light (the sweep's main
process, for instance, never needs Mesa).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kamabm.model import KAMMarket
    from kamabm.params import ParameterError, Parameters
    from kamabm.run import OUTCOMES, SERIES, run_one
    from kamabm.store import load_results, load_series, run_parameters

_WHERE = {
    "KAMMarket": "kamabm.model",
    "ParameterError": "kamabm.params",
    "Parameters": "kamabm.params",
    "OUTCOMES": "kamabm.run",
    "SERIES": "kamabm.run",
    "run_one": "kamabm.run",
    "load_results": "kamabm.store",
    "load_series": "kamabm.store",
    "run_parameters": "kamabm.store",
}

__all__ = ["OUTCOMES", "SERIES", "KAMMarket", "ParameterError", "Parameters", "load_results",
           "load_series", "run_one", "run_parameters"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'kamabm' has no attribute {name!r}")
