"""Patterns of the model guide read off single runs: P6 (loyalty discount), P9 (whale curve).

P7 (concessions cluster at the end of KPI years) and, since buyers' leverage is bounded by
their need for a viable supplier (issue 16), P9 (key accounts at both ends of the whale
curve, some customers losing money) are measured (``year_end_concessions``,
``whale_key_at_both_ends``, ``whale_peak``) but not reproduced; docs/findings.md says so.
Means over seeds, tolerances stated.
"""

import numpy as np

from kamabm import Parameters, run_one

MIXED = Parameters(client_revenue_share=0.6, kam_pressure=0.6)
CALM = Parameters(client_revenue_share=0.3, kam_pressure=0.5)


def mean(params, outcome, seeds=range(16)):
    values = [run_one(params, s)[outcome] for s in seeds]
    return float(np.mean(values)), float(np.std(values) / np.sqrt(len(values)))


def test_p6_more_satisfied_suppliers_charge_their_buyer_less():
    # The more satisfied half of a buyer's suppliers charge it less, by at least 0.5 % of
    # the price on average and at least three standard errors above zero (16 seeds).
    discount, error = mean(MIXED, "loyalty_discount")
    assert discount >= 0.005 and discount >= 3 * error


def test_the_command_reads_both_patterns_off_runs_and_fits_the_line_itself():
    from kamabm.cli.patterns import pattern_tables

    loyalty, whale = pattern_tables(MIXED.replace(horizon_months=36), range(3))
    assert set(loyalty.seed) == set(whale.seed) == {0, 1, 2}
    # the fitted column is the least-squares line: residuals sum to zero, orthogonal to x
    x = loyalty.satisfaction_vs_buyer_mean
    residual = loyalty.price_vs_buyer_mean - loyalty.fitted_price_vs_buyer_mean
    assert abs(residual.sum()) < 1e-9 and abs((residual * x).sum()) < 1e-9
    ends = whale.groupby(["seed", "supplier"]).cumulative_profit.last()
    assert np.allclose(ends, 1.0)  # each curve ends at the supplier's total profit


def test_pattern_charts_draw_the_tables_they_are_given(tmp_path):
    import pandas as pd

    from kamabm.report.charts import patterns

    x = np.array([-0.2, -0.1, 0.0, 0.1, 0.2])
    loyalty = pd.DataFrame({"seed": 0, "satisfaction_vs_buyer_mean": x,
                            "price_vs_buyer_mean": [0.03, 0.01, 0.0, -0.02, -0.02],
                            "captured_kam": [True, False, False, False, True],
                            "fitted_price_vs_buyer_mean": -0.1 * x})
    chart = patterns.loyalty_discount(loyalty, "Setting.", tmp_path)
    assert chart.png.stat().st_size > 10_000 and chart.caption.endswith("Setting.")
    # the line drawn is the table's (slope -0.1), not one fitted to the points (-0.125)
    change = 100 * 0.1 * x.std(ddof=1)
    assert chart.title.startswith(f"Key clients pay {change:.1f} % less")
    pd.testing.assert_frame_equal(pd.read_csv(chart.csv), loyalty, check_dtype=False)
    whale = pd.DataFrame({"seed": 0, "supplier": [0, 0, 0, 1, 1, 1],
                          "customer_share": [1 / 3, 2 / 3, 1.0] * 2,
                          "cumulative_profit": [0.8, 1.3, 1.0, 0.5, 0.9, 1.0],
                          "key_account": [True, False, True, True, False, False]})
    chart = patterns.whale_curve(whale, "Setting.", tmp_path)
    assert "in 50 % of suppliers" in chart.title
    pd.testing.assert_frame_equal(pd.read_csv(chart.csv), whale, check_dtype=False)


def test_patterns_command_refuses_bad_input_in_one_line(tmp_path, capsys):
    from kamabm.cli import main

    assert main(["patterns", "--set", "kam_pressure=3", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "kam_pressure" in err and "[0, 1]" in err
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["patterns", "--out", str(a_file)]) == 2
    assert "not a folder" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [a_file]  # nothing written


def test_patterns_command_writes_both_charts(tmp_path):
    from kamabm.cli import main

    assert main(["patterns", "--seeds", "2", "--set", "horizon_months=24",
                 "--out", str(tmp_path)]) == 0
    assert {p.name for p in tmp_path.glob("*.png")} == {"loyalty_discount.png",
                                                        "whale_curve.png"}
