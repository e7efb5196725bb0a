"""The compiled engine is the Mesa model: every outcome equal, bit for bit, on random inputs.

Each case draws every parameter and structural constant uniformly over its declared range
(whole numbers for whole-number parameters), then, at random, explicit key-account shares,
per-buyer detachments, per-supplier pressures, a pressure change, rotation and the other
levers, the cushion held and a pinned KAM. Both engines run it on the same seed; their
outcomes and series must be equal (floats bit for bit; ``None`` and NaN where the other
has them), or both must fail with the same error. A change to one engine's mechanism
that is not made in the other fails here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from kamabm.model.batch import run_many
from kamabm.model.measure import SERIES
from kamabm.model.params import SEQUENCES, Parameters
from kamabm.model.run import run_one

#: Random cases checked on every test run; each is one parameter set and one seed.
CASES = 60
#: The longest run drawn (the declared range goes to 600 months; 180 keeps the suite fast
#: while crossing the KPI years, tenders, rotations, restructurings and steady states).
LONGEST = 180
#: Fewer SMB clients than the declared 5,000 at most: their arrays are vectorised in both
#: engines, and the Mesa model's time grows with them.
MOST_SMB = 1000


def _draw(rng: np.random.Generator, name: str) -> Any:
    spec = Parameters.spec(name)
    low, high = spec.low, spec.high
    if name == "horizon_months":
        high = LONGEST
    if name == "n_smb_clients":
        high = MOST_SMB
    if Parameters.is_integer(name):
        return int(rng.integers(int(low), int(high) + 1))
    value = float(rng.uniform(low, high))
    return value if spec.admits(value) else float(high)


def random_parameters(rng: np.random.Generator) -> Parameters:
    """A parameter set with every scalar drawn over its range, and options at random."""
    values: dict[str, Any] = {name: _draw(rng, name) for name in Parameters.names()
                              if name not in SEQUENCES}
    for lever in ("kpi_margin_weight", "training", "deal_review", "senior_support",
                  "smb_growth", "rotation_months", "pressure_change_month", "peer_influence",
                  "rival_benchmark", "cushion_held", "pin_first_kam", "focal_levers_only",
                  "steady_state_window"):
        if rng.random() < 0.4:   # often off, as in most runs
            values[lever] = 0
    if values["rotation_months"]:
        values["rotation_months"] = int(rng.integers(1, 37))
    values["pressure_change_month"] = min(values["pressure_change_month"],
                                          values["horizon_months"])
    n_b, n_s = values["n_key_buyers"], values["n_suppliers"]
    if rng.random() < 0.3:
        weights = rng.dirichlet(np.ones(n_b))
        values["key_account_shares"] = tuple(float(w) * values["client_revenue_share"]
                                             for w in weights)
    if rng.random() < 0.3:
        values["buyer_detachments"] = tuple(float(x) for x in rng.uniform(0, 1, n_b))
    if rng.random() < 0.3:
        values["supplier_pressures"] = tuple(float(x) for x in rng.uniform(0, 1, n_s))
    return Parameters(**values)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _outcome_or_error(engine: str, params: Parameters, seed: int) -> Any:
    try:
        return run_many([params], [seed], keep_series=tuple(SERIES), engine=engine)[0]
    except Exception as exc:  # noqa: BLE001  (a failure must be the same failure)
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("case", range(CASES))
def test_engines_agree_on_random_parameters(case: int) -> None:
    rng = np.random.default_rng([20261207, case])
    params = random_parameters(rng)
    seed = int(rng.integers(0, 2**31))
    compiled = _outcome_or_error("compiled", params, seed)
    mesa = _outcome_or_error("mesa", params, seed)
    if isinstance(mesa, dict) and isinstance(compiled, dict):
        differ = [name for name in mesa if not _same(mesa[name], compiled.get(name))]
        assert not differ, (f"case {case}: outcomes differ: "
                            + ", ".join(f"{n}: mesa {mesa[n]!r}, compiled {compiled.get(n)!r}"
                                        for n in differ[:5] if n != "series")
                            + f"\n{params}")
    assert _same(compiled, mesa), f"case {case}: {compiled!r} vs {mesa!r}\n{params}"


def test_random_cases_cover_the_options() -> None:
    """The draws reach every option the suite claims to check (it could miss some)."""
    drawn = [random_parameters(np.random.default_rng([20261207, c])) for c in range(CASES)]
    assert any(p.rotation_months for p in drawn)
    assert any(p.key_account_shares for p in drawn)
    assert any(p.buyer_detachments for p in drawn)
    assert any(p.supplier_pressures for p in drawn)
    assert any(p.pressure_change_month for p in drawn)
    assert any(p.pin_first_kam for p in drawn)
    assert any(p.cushion_held for p in drawn)
    assert any(p.steady_state_window for p in drawn)
    assert any(p.focal_levers_only for p in drawn)
    assert any(p.client_revenue_share > 0.99 or p.n_suppliers >= 8 for p in drawn)


@pytest.mark.parametrize("params", [
    Parameters(),
    Parameters(client_revenue_share=0.8, kam_pressure=0.8, horizon_months=240),
    Parameters(rotation_months=24, senior_support=0.5, deal_review=0.5, training=0.5,
               smb_growth=0.02, kpi_margin_weight=0.5, horizon_months=120),
    Parameters(client_revenue_share=1.0, pin_first_kam=1),
    Parameters(n_suppliers=10, n_key_buyers=10, horizon_months=36),
], ids=["defaults", "headline-high", "levers-rotation", "all-key-pinned", "10x10"])
def test_engines_agree_on_the_models_landmarks(params: Parameters) -> None:
    for seed in (1, 2):
        assert _same(run_many([params], [seed], keep_series=tuple(SERIES))[0],
                     run_one(params, seed, keep_series=tuple(SERIES)))


def test_a_run_is_the_same_alone_and_in_a_batch() -> None:
    """A run's numbers come from its own seed: batch order and company do not matter."""
    params = [Parameters(client_revenue_share=s, horizon_months=48) for s in (0.3, 0.6, 0.9)]
    seeds = [5, 6, 7]
    batch = run_many(params, seeds)
    reverse = run_many(params[::-1], seeds[::-1])[::-1]
    alone = [run_many([p], [s])[0] for p, s in zip(params, seeds, strict=True)]
    assert all(_same(a, b) and _same(a, c)
               for a, b, c in zip(batch, reverse, alone, strict=True))
    assert not _same(batch[0], batch[1])


@pytest.mark.parametrize("case", range(8))
def test_engines_agree_on_the_account_history(case: int) -> None:
    """The diagnosis's month-by-month reading of one supplier is the same on both engines."""
    from kamabm.model.batch import account_history

    rng = np.random.default_rng([20261208, case])
    params = random_parameters(rng)
    supplier = int(rng.integers(0, params.n_suppliers))
    compiled = account_history(params, case, supplier)
    mesa = account_history(params, case, supplier, engine="mesa")
    assert compiled.keys() == mesa.keys()
    for name in mesa:
        assert compiled[name].dtype == mesa[name].dtype, name
        assert np.array_equal(compiled[name], mesa[name], equal_nan=True), name
