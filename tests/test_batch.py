"""run_many's contract: one result per (parameters, seed) pair, bad input refused in one line."""

from __future__ import annotations

import numpy as np
import pytest

from kamabm import ParameterError, Parameters, run_many
from kamabm.model.batch import account_history
from kamabm.model.measure import SERIES
from kamabm.model.run import run_one

SHORT = Parameters(horizon_months=12)


@pytest.mark.parametrize(("params_list", "seeds", "options", "message"), [
    ([SHORT], [1], {"keep_series": ["bogus"]}, "bogus: unknown series, expected one of"),
    ([{"theta": 1.0}], [1], {}, "params_list[0]: expected Parameters, got dict"),
    (SHORT, [1], {}, "params_list: expected a sequence of Parameters"),
    ([SHORT, SHORT], [1], {}, "params_list has 2 entries but seeds has 1"),
    ([SHORT], [1.5], {}, "seeds[0] = 1.5: expected a whole number >= 0"),
    ([SHORT], [-3], {}, "seeds[0] = -3: expected a whole number >= 0"),
    ([SHORT], ["x"], {}, "seeds[0] = 'x': expected a whole number >= 0"),
    ([SHORT], [1], {"engine": "fast"}, "engine = 'fast': unknown, allowed compiled, mesa"),
])
def test_bad_input_is_refused_naming_the_field(params_list, seeds, options, message) -> None:
    for engine in ("compiled", "mesa"):
        with pytest.raises(ParameterError, match=None) as caught:
            run_many(params_list, seeds, **{"engine": engine, **options})
        assert message in str(caught.value)
        assert "\n" not in str(caught.value)


def test_each_run_is_what_run_one_returns_with_the_series_asked_for() -> None:
    runs = run_many([SHORT, SHORT.replace(kam_pressure=0.9)], [3, np.int64(4)],
                    keep_series=["captured_share", "key_price"])
    assert runs[0] == run_one(SHORT, 3, keep_series=["captured_share", "key_price"])
    assert runs[1] == run_one(SHORT.replace(kam_pressure=0.9), 4,
                              keep_series=["captured_share", "key_price"])
    assert set(runs[0]["series"]) == {"captured_share", "key_price"}
    assert len(runs[0]["series"]["key_price"]) == 12
    assert run_many([], []) == []


def test_every_series_has_one_value_per_month() -> None:
    (run,) = run_many([SHORT], [1], keep_series=list(SERIES))
    assert {len(values) for values in run["series"].values()} == {12}


def test_the_account_history_refuses_a_bad_seed_and_engine() -> None:
    with pytest.raises(ParameterError, match="seed = -1"):
        account_history(SHORT, -1)
    with pytest.raises(ParameterError, match="engine = 'x'"):
        account_history(SHORT, 1, engine="x")
