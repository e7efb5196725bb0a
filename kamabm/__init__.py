"""kamabm: an agent-based model of key account managers captured by their clients.

The public doors: :class:`Parameters` (one validated object for every parameter),
:func:`run_one` (one run of the model to a dict of outcomes) and :class:`KAMMarket`
(the Mesa model itself, for stepping by hand).
"""

from kamabm.model import KAMMarket
from kamabm.params import ParameterError, Parameters
from kamabm.run import OUTCOMES, SERIES, run_one

__all__ = ["KAMMarket", "OUTCOMES", "ParameterError", "Parameters", "SERIES", "run_one"]
__version__ = "0.1.0"
