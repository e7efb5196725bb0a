"""Contagion measured causally: one KAM held captured minus free, paired on seeds.

Synthetic run tables with a known answer (no model runs): the paired difference is the
mean of the seed-paired differences, the difference-in-differences that of the
outcomes' difference, settings are named in words, the trigger, and the report.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kamabm.analysis.contagion import (
    DID,
    FIRST,
    OFF,
    ON,
    OTHERS,
    PIN,
    contagion,
    contagion_sentences,
    setting_name,
    settings,
)
from kamabm.analysis.results import CONTAGION, SweepResults, kind_of, plan
from kamabm.analysis.tables import analyse
from kamabm.experiments.files import parse_experiment
from kamabm.names import CAPTURE_RATE, CLIENT_SHARE
from kamabm.report.html import write_report
from kamabm.report.studies import contagion_display
from kamabm.stats import mean_ci

SHARES = (0.35, 0.65)
SEEDS = 12
FACTORS = (CLIENT_SHARE, PIN, "peer_influence", "rival_benchmark")
EXPERIMENT = f"""
name = "synthetic_contagion"
replications = {SEEDS}
seed = 2
horizon = 60
[design]
method = "grid"
[base]
kam_pressure = 0.6
[uncertainties.client_revenue_share]
values = [0.35, 0.65]
[levers.pin_first_kam]
values = [0, 1]
[levers.peer_influence]
values = [0.0, 0.3]
[levers.rival_benchmark]
values = [0.0, 0.5]
"""


def _runs(*, spread: float = 0.05, first_effect: float = 0.15, other_effect: float = 0.05,
          seed: int = 0) -> pd.DataFrame:
    """Runs on common seeds: a seed's level shared by held and free, plus the pin's effect.

    With the interactions on, holding the KAM raises rivals' capture on his buyer by
    ``first_effect`` and elsewhere by ``other_effect``; with them off, by nothing.
    """
    rng = np.random.default_rng(seed)
    level = rng.uniform(0.2, 0.6, SEEDS)  # what a seed does at every design point
    rows = []
    for share in SHARES:
        for peers in (0.0, 0.3):
            for bench in (0.0, 0.5):
                on = peers > 0 and bench > 0
                for pin in (0, 1):
                    noise = rng.normal(0, spread, (2, SEEDS))
                    for s in range(SEEDS):
                        first = level[s] + share / 4 + noise[0, s] + pin * on * first_effect
                        other = level[s] + share / 4 + noise[1, s] + pin * on * other_effect
                        rows.append({CLIENT_SHARE: share, PIN: pin, "peer_influence": peers,
                                     "rival_benchmark": bench, "seed": 1000 + s,
                                     "n_suppliers": 4, "n_key_buyers": 3,
                                     FIRST: first, OTHERS: other,
                                     CAPTURE_RATE: float(np.clip(first, 0, 1))})
    return pd.DataFrame(rows)


def test_interaction_settings_are_named_in_words_on_and_off_first():
    assert setting_name({"peer_influence": 0.3, "rival_benchmark": 0.5}) == ON
    assert setting_name({"peer_influence": 0.0, "rival_benchmark": 0.0}) == OFF
    assert setting_name({"peer_influence": 0.3, "rival_benchmark": 0.0}) == (
        "only influence of peers")
    assert setting_name({"peer_influence": 0.0}) == "influence of peers off"
    found = settings(_runs(), FACTORS)
    assert list(found)[:2] == [ON, OFF] and len(found) == 4
    assert found[ON] == {"peer_influence": 0.3, "rival_benchmark": 0.5}


def test_the_paired_difference_is_the_mean_of_the_seed_paired_differences():
    runs = _runs()
    table = contagion(runs, FACTORS)
    row = table[(table[CLIENT_SHARE] == 0.35) & (table.setting == ON)
                & (table.effect == FIRST)].iloc[0]
    at = runs[(runs[CLIENT_SHARE] == 0.35) & (runs.peer_influence == 0.3)
              & (runs.rival_benchmark == 0.5)]
    held = at[at[PIN] == 1].set_index("seed")[FIRST]
    free = at[at[PIN] == 0].set_index("seed")[FIRST]
    differences = held - free.loc[held.index]
    mean, low, high = mean_ci(differences.to_numpy())
    assert row["diff"] == pytest.approx(mean) and row["n_pairs"] == SEEDS
    assert (row.low, row.high) == pytest.approx((low, high))
    assert row.held_mean - row.free_mean == pytest.approx(mean)
    # shuffling the rows changes nothing: runs are paired on their seed, not their order
    shuffled = contagion(runs.sample(frac=1.0, random_state=3), FACTORS)
    assert shuffled["diff"].to_numpy() == pytest.approx(table["diff"].to_numpy())


def test_the_difference_in_differences_is_first_buyer_minus_other_buyers_run_by_run():
    runs = _runs()
    table = contagion(runs, FACTORS)
    for (share, name), part in table.groupby([CLIENT_SHARE, "setting"], dropna=False):
        effects = part.set_index("effect")["diff"]
        assert effects[DID] == pytest.approx(effects[FIRST] - effects[OTHERS]), (share, name)
    pooled = table[table[CLIENT_SHARE].isna() & (table.setting == ON)].set_index("effect")
    # the known effects: +15 points on his buyer, +5 elsewhere, so +10 between them
    assert pooled.loc[FIRST, "low"] < 0.15 < pooled.loc[FIRST, "high"]
    assert pooled.loc[DID, "low"] < 0.10 < pooled.loc[DID, "high"]
    assert pooled.loc[DID, "low"] > 0  # clear at this noise and 12 seeds, pooled
    off = table[table[CLIENT_SHARE].isna() & (table.setting == OFF)].set_index("effect")
    assert off.loc[DID, "low"] < 0 < off.loc[DID, "high"]


def test_the_pooled_row_averages_each_seed_over_the_shares_first():
    runs = _runs()
    table = contagion(runs, FACTORS)
    pooled = table[table[CLIENT_SHARE].isna() & (table.setting == OFF)
                   & (table.effect == OTHERS)].iloc[0]
    at = runs[(runs.peer_influence == 0) & (runs.rival_benchmark == 0)]
    per_seed = at.groupby([PIN, "seed"])[OTHERS].mean()
    assert pooled["diff"] == pytest.approx((per_seed.loc[1] - per_seed.loc[0]).mean())


def test_a_missing_pair_is_left_out_and_no_held_run_is_refused():
    runs = _runs()
    dropped = runs.drop(runs[(runs[PIN] == 1) & (runs.seed == 1000)
                             & (runs[CLIENT_SHARE] == 0.35)].index)
    table = contagion(dropped, FACTORS)
    at = table[table[CLIENT_SHARE] == 0.35]
    assert (at.n_pairs == SEEDS - 1).all()
    assert (table[table[CLIENT_SHARE] == 0.65].n_pairs == SEEDS).all()
    with pytest.raises(ValueError, match="pin_first_kam at 0"):
        contagion(runs[runs[PIN] == 0], FACTORS)
    # an interrupted sweep: no held run yet at one share, the others still compared
    partial = runs.drop(runs[(runs[PIN] == 1) & (runs[CLIENT_SHARE] == 0.65)].index)
    table = contagion(partial, FACTORS)
    assert set(table[CLIENT_SHARE].dropna()) == {0.35}
    # common random numbers off: no held run shares a seed with a free one
    with pytest.raises(ValueError, match="no run shares a seed"):
        contagion(runs.assign(seed=runs.seed + 100 * runs[PIN]), FACTORS)


def test_the_sentences_name_both_interaction_settings_and_the_verdict():
    text = contagion_sentences(contagion(_runs(), FACTORS))
    assert len(text) == 2
    assert text[0].startswith(f"With {ON}") and text[1].startswith(f"With {OFF}")
    assert "capture spreads along his buyer" in text[0]
    assert "no clear difference" in text[1]


def _results(runs: pd.DataFrame, tmp_path: Path) -> SweepResults:
    return SweepResults(tmp_path, runs, parse_experiment(EXPERIMENT), {}, 0)


def test_a_sweep_that_varies_the_held_kam_is_a_contagion_experiment(tmp_path):
    res = _results(_runs(), tmp_path)
    kind, factors, why = kind_of(res)
    assert kind == CONTAGION and PIN in factors and why is None
    assert "contagion" in plan(res) and "phase_diagram" not in plan(res)


def test_the_report_writes_the_contagion_table_and_chart(tmp_path):
    an = analyse(_results(_runs(), tmp_path), typical=False)
    assert an.contagion is not None and an.charts == ("contagion",)
    path, charts = write_report(an, tmp_path / "report.html")
    out = tmp_path / "charts"
    for name in ("contagion.png", "contagion.svg", "contagion.csv", "contagion_effects.csv"):
        assert (out / name).stat().st_size > 0, name
    effects = pd.read_csv(out / "contagion_effects.csv")
    assert set(effects.effect) == {FIRST, OTHERS, DID}
    assert len(effects) == 4 * (len(SHARES) + 1) * 3  # settings x (shares + pooled) x effects
    plotted = pd.read_csv(out / "contagion.csv")
    assert set(plotted.setting) == {ON, OFF} and DID not in set(plotted.effect)
    (chart,) = charts
    assert chart.title.startswith("Capture spreads along a buyer")
    assert not re.search(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b", chart.title)  # no code names
    text = path.read_text(encoding="utf-8")
    assert "<figure id=contagion>" in text
    shown = contagion_display(an.contagion)
    assert list(shown["key share"][:3]) == ["35 %", "65 %", "all shares"]
    assert shown.iloc[0, 2] in text.replace("&#x27;", "'")
