"""Many runs at once: ``run_many(params_list, seeds)``, on the compiled or the Mesa engine.

Both engines run the same model and return, for each (parameters, seed) pair, exactly
what :func:`kamabm.model.run.run_one` returns. The Mesa model (:mod:`kamabm.model.market`)
is the reference, the one students read and the app steps; the compiled engine
(:mod:`kamabm.model.engine`, numba) repeats its schedule over plain arrays, and the
equivalence suite (``tests/test_engine_equivalence.py``) proves the two equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from kamabm.model.params import ParameterError, Parameters

#: The engines a batch can run on: ``"compiled"`` (numba, the default) and ``"mesa"``.
ENGINES = ("compiled", "mesa")
#: The engine every workflow uses unless told otherwise.
DEFAULT_ENGINE = "compiled"


def check_engine(engine: str) -> str:
    """``engine`` if it names an engine, else a :class:`ParameterError` naming the choices."""
    if engine not in ENGINES:
        raise ParameterError(f"engine = {engine!r}: unknown, allowed {', '.join(ENGINES)}")
    return engine


def run_many(params_list: Sequence[Parameters], seeds: Sequence[int], *,
             keep_series: Sequence[str] = (), engine: str = DEFAULT_ENGINE
             ) -> list[dict[str, Any]]:
    """Run the model once for each (parameters, seed) pair; return their outcomes in order.

    Args:
        params_list: one :class:`Parameters` per run (a single object is not accepted:
            pass ``[params] * len(seeds)``).
        seeds: one seed per run, as :func:`~kamabm.model.run.run_one` takes it.
        keep_series: names from :data:`~kamabm.model.run.SERIES` to return per month
            under ``"series"``, as ``run_one`` does.
        engine: ``"compiled"`` (default) or ``"mesa"``; both give the same numbers.

    Returns:
        One dict per run, exactly what ``run_one(params, seed, keep_series=...)`` returns.

    """
    check_engine(engine)
    if isinstance(params_list, Parameters):
        raise ParameterError("params_list: expected a sequence of Parameters, one per run")
    if len(params_list) != len(seeds):
        raise ParameterError(f"params_list has {len(params_list)} entries but seeds has "
                             f"{len(seeds)}; give one seed per run")
    if engine == "compiled":
        from kamabm.model.engine import run_compiled

        return [run_compiled(p, int(s), keep_series=keep_series)
                for p, s in zip(params_list, seeds, strict=True)]
    from kamabm.model.run import run_one

    return [run_one(p, int(s), keep_series=keep_series)
            for p, s in zip(params_list, seeds, strict=True)]
