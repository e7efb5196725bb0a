"""Intervals of the knock-out and dose-response tables: a capture rate's stays in [0, 1]."""

import numpy as np
import pandas as pd
import pytest

from kamabm.analysis.mechanisms import dose_response, knockouts, summarise_outcome
from kamabm.model.params import Parameters
from kamabm.names import CAPTURE_RATE, CLIENT_SHARE, counts_kams


def _runs(rates: dict[float, list[float]], **columns: float) -> pd.DataFrame:
    """A run table with the given capture rates at each client share, defaults elsewhere."""
    rows = [{CLIENT_SHARE: share, CAPTURE_RATE: rate, "captured_months": rate / 2,
             "supplier_margin": 0.05 - 0.05 * rate}
            for share, values in rates.items() for rate in values]
    frame = pd.DataFrame(rows)
    for name in ("n_suppliers", "n_key_buyers", "blame_weight", "keep_client_override"):
        frame[name] = columns.get(name, Parameters.default(name))
    return frame


def test_only_shares_of_kams_count_kams():
    assert counts_kams(CAPTURE_RATE) and counts_kams("capture_rate_5y")
    assert not counts_kams("captured_months") and not counts_kams("supplier_margin")


def test_a_capture_rate_near_one_keeps_its_interval_inside_zero_and_one():
    # 11 of 12 runs with every KAM captured, one with most: a t interval passes 1.
    runs = _runs({0.8: [1.0] * 11 + [2 / 3]})
    row = summarise_outcome(runs, CAPTURE_RATE, CLIENT_SHARE).iloc[0]
    assert 0.0 <= row["low"] < row["mean"] < row["high"] <= 1.0
    t_high = np.mean(runs[CAPTURE_RATE]) + 2.2 * np.std(runs[CAPTURE_RATE], ddof=1) / 12**0.5
    assert t_high > 1.0  # the case the Wilson interval is for


def test_no_capture_in_any_run_still_has_an_upper_bound_above_zero():
    runs = _runs({0.2: [0.0] * 12})
    row = summarise_outcome(runs, CAPTURE_RATE, CLIENT_SHARE).iloc[0]
    kams = 12 * Parameters.default("n_suppliers") * Parameters.default("n_key_buyers")
    assert row["low"] == 0.0 and row["mean"] == 0.0
    # Wilson's upper bound for 0 of n is z^2 / (n + z^2), about 3.84 / n.
    assert row["high"] == pytest.approx(1.96**2 / (kams + 1.96**2), rel=1e-2)


def test_knockout_and_dose_tables_bound_capture_but_not_margins():
    on = {m: Parameters.default(m) for m in ("blame_weight", "keep_client_override")}
    runs = _runs({0.2: [0.0] * 6, 0.8: [1.0] * 5 + [0.5]}, **on)
    table = knockouts(runs, ["blame_weight", "keep_client_override"])
    capture = table[table.outcome == CAPTURE_RATE]
    assert len(capture) == 2
    assert (capture.low >= 0).all() and (capture.high <= 1).all()
    assert (capture.high > capture["mean"]).all()
    dose = dose_response(runs, ["blame_weight"])
    assert (dose[dose.outcome == CAPTURE_RATE].high <= 1).all()
    margin = table[table.outcome == "supplier_margin"]
    assert (margin.low < margin["mean"]).any()  # a t interval where the runs differ
