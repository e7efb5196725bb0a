"""The compiled engine (numba): the Mesa model's schedule over plain arrays.

Work in progress: until the kernel lands this runs the Mesa model, so that callers of
``run_many(..., engine="compiled")`` can be written against the final interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kamabm.model.params import Parameters


def run_compiled(params: Parameters, seed: int, *, keep_series: Sequence[str] = ()
                 ) -> dict[str, Any]:
    """One run on the compiled engine: what :func:`kamabm.model.run.run_one` returns."""
    from kamabm.model.run import run_one

    return run_one(params, seed, keep_series=keep_series)
