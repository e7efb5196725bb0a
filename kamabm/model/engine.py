"""The compiled engine: one run of the model on numba kernels, to the same outcomes.

The Mesa model (:mod:`kamabm.model.market` and its agents) is the reference, what
students read and the app steps. :mod:`kamabm.model.compiled` repeats its schedule over
plain arrays, agent method by agent method, with the arithmetic in the same order; this
module prepares a run for it (parameters, what the market derives from them before the
first month, each supplier's levers), runs it with the run's own
:class:`numpy.random.Generator` (seeded as the Mesa model seeds its own, drawn in the
same order), and reads the filled arrays into the :class:`~kamabm.model.measure.RunRecord`
that the outcomes are computed from, by the same code as the Mesa model's.
``tests/test_engine_equivalence.py`` proves the two engines equal on random parameters; a
change to a mechanism is a change to both.

What bit-identity takes here: numpy's pairwise sums and Python's left-to-right ``sum``,
``min`` and ``max`` repeated exactly (:mod:`kamabm.model.compiled.numeric`), and ``exp``
and ``log`` from the C library in both engines (numpy's SIMD ``exp`` differs in the last
digit, by processor).

The first call in a process compiles the kernels (about 20 s) or loads them from numba's
cache (``kamabm/model/compiled/__pycache__``, about 1 s).
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

import numpy as np

from kamabm.model.books import Ledger, Trace
from kamabm.model.compiled.market import simulate
from kamabm.model.derived import (
    LEVER_NAMES,
    Levers,
    buyer_detachment,
    key_buyer_volumes,
    key_service_per_unit,
    key_unit_cost,
    pressure_offset,
    smb_price,
    smb_unit_cost,
    viable_price,
)
from kamabm.model.measure import RunRecord, result
from kamabm.model.params import SEQUENCES, Parameters

#: The scalar parameters, as the compiled code reads them (``p.theta``).
SCALARS = tuple(name for name in Parameters.names() if name not in SEQUENCES)
_P = namedtuple("_P", SCALARS)  # type: ignore[misc]  # noqa: PYI024  (fields from Parameters)
_READ_SCALARS = attrgetter(*SCALARS)
#: What the market derives from its parameters before the first month (computed in Python
#: by the same functions the Mesa model calls).
_D = namedtuple("_D", ["key_unit_cost", "key_service_per_unit", "smb_unit_cost",
                       "smb_price", "viable_price"])
#: Columns of the ledger, in the order of :attr:`Ledger.ITEMS`.
_ITEMS = len(Ledger.ITEMS)


def _scalars(params: Parameters) -> Any:
    """The scalar parameters as the compiled code reads them.

    ``Parameters`` holds whole-number parameters as ``int`` and the others as ``float``,
    which is what the kernels are compiled for.
    """
    return _P(*_READ_SCALARS(params))


def record(params: Parameters, seed: int) -> RunRecord:
    """Run the model once on the compiled engine; return its :class:`RunRecord`."""
    p = params
    n_s, n_b = p.n_suppliers, p.n_key_buyers
    n_a, months = n_s * n_b, p.horizon_months
    derived = _D(key_unit_cost(p), key_service_per_unit(p), smb_unit_cost(p), smb_price(p),
                 viable_price(p))
    buyer_volume = key_buyer_volumes(p)
    detachment = np.array([buyer_detachment(p, j) for j in range(n_b)], dtype=float)
    offsets = np.array([pressure_offset(p, i) for i in range(n_s)], dtype=float)
    levers = np.array([[getattr(lever, name) for name in LEVER_NAMES]
                       for lever in map(Levers.of, [p] * n_s, range(n_s))], dtype=float)
    ledger = np.zeros((n_s, months, _ITEMS))
    trace = Trace(months, n_a, p.kpi_months)
    kam_out = np.zeros((5, n_a))
    account_out = np.zeros((2, n_a))
    supplier_out = np.zeros((3, n_s))
    smb_count = np.zeros(n_s, dtype=np.int64)
    smb_buffer = np.zeros((n_s, 2 * p.n_smb_clients))
    done, steady, tenders, deadlocks, smb_buffer = simulate(
        _scalars(p), derived, np.random.default_rng(seed), buyer_volume, detachment, offsets,
        levers, ledger, trace.alignment, trace.account_profit, trace.operational_share,
        trace.activity, trace.key_price, trace.captured, trace.mean_alignment,
        trace.mean_identification, trace.concessions_by_kpi_month, trace.holder,
        trace.account_revenue, kam_out, account_out,
        supplier_out, smb_buffer, smb_count)
    return RunRecord(
        params=p, months=int(done), steady=bool(steady), initial_key_price=derived.smb_price,
        ledgers=[Ledger.of_rows(ledger[s]) for s in range(n_s)], trace=trace,
        kam_supplier=np.arange(n_a) // n_b, kam_buyer=kam_out[4].astype(int),
        kam_alignment=kam_out[0], kam_skill=kam_out[1], kam_operational_share=kam_out[2],
        kam_activity=kam_out[3], account_price=account_out[0],
        account_satisfaction=account_out[1], account_buyer=np.arange(n_a) % n_b,
        tenders=int(tenders), deadlocks=int(deadlocks), smb_price=derived.smb_price,
        smb_initial_count=supplier_out[0].astype(np.int64),
        smb_volumes=[smb_buffer[s, :smb_count[s]].copy() for s in range(n_s)],
        failed_month=supplier_out[1].astype(np.int64),
        opening_revenue=supplier_out[2].copy())


def run_compiled(params: Parameters, seed: int, *, keep_series: Sequence[str] = ()
                 ) -> dict[str, Any]:
    """One run on the compiled engine: what :func:`kamabm.model.run.run_one` returns."""
    return result(record(params, seed), tuple(keep_series))
