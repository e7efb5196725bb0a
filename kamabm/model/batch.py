"""Many runs at once: ``run_many(params_list, seeds)``, on the compiled or the Mesa engine.

Both engines run the same model and return, for each (parameters, seed) pair, exactly
what :func:`kamabm.model.run.run_one` returns. The Mesa model (:mod:`kamabm.model.market`)
is the reference, the one students read and the app steps; the compiled engine
(:mod:`kamabm.model.engine`, numba) repeats its schedule over plain arrays, and the
equivalence suite (``tests/test_engine_equivalence.py``) proves the two equal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

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


def check_seed(seed: Any, where: str = "seed") -> int:
    """``seed`` as an int if it is a whole number >= 0 (what numpy's generator takes)."""
    try:
        whole = int(seed)
    except (TypeError, ValueError):
        whole = None
    if whole is None or whole != seed or whole < 0 or isinstance(seed, bool):
        raise ParameterError(f"{where} = {seed!r}: expected a whole number >= 0")
    return whole


def run_many(params_list: Sequence[Parameters], seeds: Sequence[int], *,
             keep_series: Sequence[str] = (), engine: str = DEFAULT_ENGINE,
             between_runs: Callable[[], None] | None = None) -> list[dict[str, Any]]:
    """Run the model once for each (parameters, seed) pair; return their outcomes in order.

    Args:
        params_list: one :class:`Parameters` per run (a single object is not accepted:
            pass ``[params] * len(seeds)``).
        seeds: one seed per run, as :func:`~kamabm.model.run.run_one` takes it.
        keep_series: names from :data:`~kamabm.model.run.SERIES` to return per month
            under ``"series"``, as ``run_one`` does.
        engine: ``"compiled"`` (default) or ``"mesa"``; both give the same numbers.
        between_runs: called before each run; it may raise to abandon the batch (a
            stopped sweep's worker drops its chunk this way).

    Returns:
        One dict per run, exactly what ``run_one(params, seed, keep_series=...)`` returns.

    """
    check_engine(engine)
    if isinstance(params_list, Parameters):
        raise ParameterError("params_list: expected a sequence of Parameters, one per run")
    if len(params_list) != len(seeds):
        raise ParameterError(f"params_list has {len(params_list)} entries but seeds has "
                             f"{len(seeds)}; give one seed per run")
    for i, params in enumerate(params_list):
        if not isinstance(params, Parameters):
            raise ParameterError(f"params_list[{i}]: expected Parameters, got "
                                 f"{type(params).__name__} (build it with Parameters(...))")
    seeds = [check_seed(seed, f"seeds[{i}]") for i, seed in enumerate(seeds)]
    from kamabm.model.measure import check_series  # here: readers of ENGINES stay light

    check_series(keep_series)
    run: Callable[..., dict[str, Any]]
    if engine == "compiled":
        from kamabm.model.engine import run_compiled as run
    else:
        from kamabm.model.run import run_one as run
    out = []
    for params, seed in zip(params_list, seeds, strict=True):
        if between_runs is not None:
            between_runs()
        out.append(run(params, seed, keep_series=keep_series))
    return out


def account_history(params: Parameters, seed: int, supplier: int = 0, *,
                    engine: str = DEFAULT_ENGINE) -> dict[str, np.ndarray]:
    """Run the model once; return one supplier's key accounts month by month.

    Under rotation the KAM in charge of an account changes, so whether an account is in
    a captured KAM's hands is read each month from whoever holds it then (alignment below
    :data:`~kamabm.model.constants.CAPTURED_BELOW`).

    Args:
        params: the run's parameters.
        seed: seed of the model's random generator.
        supplier: index of the supplier read (0, the focal supplier, by default).
        engine: ``"compiled"`` (default) or ``"mesa"``; both give the same numbers.

    Returns:
        Arrays with one row per month simulated and, for the account columns, one column
        per key buyer (in buyer order): ``kam`` (index in ``model.kams`` of the KAM in
        charge), ``alignment`` (his alignment), ``captured`` (bool), ``profit`` (the
        account's profit that month: gross margin after cost to serve, less the demands
        delivered and its KAM's cost) and ``revenue``; and one value per month for the
        supplier: ``supplier_revenue``, ``supplier_profit`` (after every cost its ledger
        books, lever costs included) and ``supplier_people`` (KAMs, senior time,
        training, deal review, handovers) and ``supplier_acquisition`` (extra SMB
        clients won). ``opening_revenue`` (one value) is the supplier's monthly turnover
        when the run starts, the scale of its money.

    """
    check_engine(engine)
    seed = check_seed(seed)
    if engine == "compiled":
        from kamabm.model.engine import record
        from kamabm.model.measure import account_history as read_history

        return read_history(record(params, seed), supplier)
    from kamabm.model.run import account_history as mesa_history

    return mesa_history(params, seed, supplier)
