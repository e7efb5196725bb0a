"""The diagnosis's tables, from its runs' readings: bands, ranks, timeline, conditions.

:func:`summarise` turns the readings of :func:`kamabm.diagnosis.diagnose.diagnose`'s runs
(one per option, constant set and replication) into the :class:`Diagnosis`'s tables. It
runs nothing.

**Bands.** With at least :data:`kamabm.diagnosis.constants.MIN_SETS_FOR_SPREAD` constant
sets, a figure's band is the middle :data:`BAND` of the sets' values (each set's value
its mean over its runs; :func:`band`), so it holds both the constants' uncertainty and
the runs' noise; the figure itself is the mean over every run. With fewer sets (the
defaults only) it is the 95 % confidence interval over the runs (t for means, Wilson for
shares, a bootstrap for margin at risk).

Margin at risk's band is the spread over the sets of the probability of capture, times
the loyal-minus-captured gap in profit over every run.

**Ranks.** Options are ranked by their mean net effect; an option whose band overlaps
the band of the best option of its group joins that group: the options of a group are
*tied* (their order is noise, or depends on the constants).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from kamabm.diagnosis.client import Client
from kamabm.diagnosis.constants import Condition, ConstantSets, what_would_be_true
from kamabm.experiments.seeds import spawned_generator
from kamabm.stats import mean_ci, wilson

#: Middle share of the constant sets a band spans (5th to 95th percentile).
BAND = 0.90
#: Coverage of a confidence interval over runs (at the defaults only).
CONFIDENCE = 0.95


def set_range(per_set: np.ndarray) -> tuple[float, float]:
    """The :data:`BAND` percentile range of one value per constant set."""
    tail = (1 - BAND) / 2
    low, high = np.quantile(per_set, [tail, 1 - tail])
    return float(low), float(high)


def band(values: np.ndarray, spread: bool) -> tuple[float, float, float]:
    """Mean and band of ``values``, shaped (constant sets, runs).

    With ``spread``: the mean over every run, and the :data:`BAND` percentile range of
    the sets' means; otherwise the mean with its 95 % t interval over every run.
    """
    values = np.asarray(values, dtype=float)
    if not spread:
        return mean_ci(values.ravel(), CONFIDENCE)
    return (float(values.mean()), *set_range(values.mean(axis=1)))


def share_band(captured: np.ndarray, spread: bool) -> tuple[float, float, float]:
    """Share captured and its band, ``captured`` shaped (sets, runs).

    Without a spread the band is the Wilson interval over every run.
    """
    if spread:
        return band(captured.astype(float), True)
    k, n = int(captured.sum()), captured.size
    low, high = wilson(k, n, CONFIDENCE)
    return k / n, low, high


def summarise(client: Client, readings: Mapping[tuple[Any, ...], dict[str, Any]],
              options: Sequence[str], kinds: Mapping[str, str], doses: Mapping[str, float],
              sets: ConstantSets, reps: int, bootstrap_stream: int) -> dict[str, Any]:
    """The diagnosis's tables from the readings (see :class:`Diagnosis`'s attributes).

    Args:
        client: the client.
        readings: each run's reading, by key ``("run", option, set, replication)``.
        options: the options run, the status quo first.
        kinds: each option's kind (single, pressure, pair, your combination).
        doses: each single option's dose.
        sets: the constant sets.
        reps: runs per set.
        bootstrap_stream: spawn key of the margin-at-risk bootstrap (at the defaults).

    """
    from kamabm.diagnosis.diagnose import STATUS_QUO, margin_at_risk, read_years

    n_sets, spread = len(sets.sets), sets.spread
    sq = STATUS_QUO

    def stack(option: str, item: str) -> np.ndarray:
        return np.stack([np.stack([np.asarray(readings[("run", option, d, r)][item])
                                   for r in range(reps)]) for d in range(n_sets)])

    opening = stack(sq, "opening_revenue")  # (sets, runs)
    scale = client.turnover / (12.0 * opening.mean(axis=1))  # money per unit, per set
    money = scale[:, None, None]
    profit = {o: stack(o, "yearly_profit") * money for o in options}  # (sets, runs, years)
    revenue = {o: stack(o, "yearly_revenue") * money for o in options}
    cost = {o: stack(o, "yearly_cost") * money for o in options}
    captured = {o: stack(o, "captured") for o in options}  # (sets, runs, years, accounts)
    # Anchor: a fixed yearly amount per set so that the status quo's first-year margin
    # (profit / revenue) is the client's.
    target = client.target_margin
    year1 = profit[sq][:, :, 0].mean(axis=1), revenue[sq][:, :, 0].mean(axis=1)
    anchor = (year1[0] - target * year1[1]) if target is not None else np.zeros(n_sets)
    for o in options:
        profit[o] = profit[o] - anchor[:, None, None]

    years = read_years(client.horizon_years)
    risk_rows = []
    for j, account in enumerate(client.accounts):
        for year in years:
            mid, low, high = share_band(captured[sq][:, :, year - 1, j], spread)
            risk_rows.append({"account": account.name, "negotiator": account.kind,
                              "detachment": account.detachment, "share": account.share,
                              "year": year, "captured": mid, "low": low, "high": high,
                              "runs": n_sets * reps})

    last = stack(sq, "last_year_profit") * money  # (sets, runs, accounts)
    at_end = captured[sq][:, :, -1, :]
    rng = spawned_generator(client.seed, (bootstrap_stream,))
    conditions: list[Condition | None] = []
    values = {name: np.array([s[name] for s in sets.sets], dtype=float)
              for name in sets.columns}
    mar_rows, per_set_total = [], np.zeros(n_sets)
    for j, account in enumerate(client.accounts):
        c, x = at_end[:, :, j].ravel(), last[:, :, j].ravel()
        point, low, high, gap = margin_at_risk(c, x, rng)
        if spread and np.isfinite(point):
            # each set's capture probability times the gap over every run: a set's ten
            # or so runs rarely hold enough loyal and captured runs to price the gap
            per_set = at_end[:, :, j].mean(axis=1) * (0.0 if np.isnan(gap) else gap)
            per_set_total += per_set
            low, high = set_range(per_set)
        conditions.append(what_would_be_true(values, at_end[:, :, j])
                          if spread and values else None)
        mar_rows.append({
            "account": account.name, "negotiator": account.kind, "share": account.share,
            "turnover": account.share * client.turnover,
            "capture_at_horizon": float(c.mean()),
            "profit_loyal": float(x[~c].mean()) if (~c).any() else float("nan"),
            "profit_captured": float(x[c].mean()) if c.any() else float("nan"),
            "gap": gap, "at_risk": point, "low": low, "high": high})
    margin_table = pd.DataFrame(mar_rows)
    total = float(np.nansum(margin_table.at_risk))
    if spread:
        total_low, total_high = set_range(per_set_total)
    else:
        total_low = float(np.nansum(margin_table["low"]))
        total_high = float(np.nansum(margin_table["high"]))

    def yearly(table: np.ndarray) -> np.ndarray:  # a year, mean over the horizon
        return table.mean(axis=2)

    def capture_share(option: str) -> np.ndarray:  # (sets, runs): accounts captured, end
        return captured[option][:, :, -1, :].mean(axis=2)

    sq_profit, sq_cost = yearly(profit[sq]), yearly(cost[sq])
    mid, low, high = band(sq_profit, spread)
    rev, rev_low, rev_high = band(yearly(revenue[sq]), spread)
    status_quo = {
        "profit": mid, "profit_low": low, "profit_high": high,
        "revenue": rev, "revenue_low": rev_low, "revenue_high": rev_high,
        "margin": float(profit[sq].sum() / revenue[sq].sum()),
        "margin_year1": float(profit[sq][:, :, 0].sum() / revenue[sq][:, :, 0].sum()),
        "model_margin_year1": float((profit[sq][:, :, 0] + anchor[:, None]).sum()
                                    / revenue[sq][:, :, 0].sum()),
        "anchor": float(anchor.mean()),
        **dict(zip(("anchor_low", "anchor_high"),
                   set_range(anchor) if spread else (float(anchor.mean()),) * 2,
                   strict=True)),
        "capture": float(capture_share(sq).mean()),
        "people_cost": float(sq_cost.mean()), "at_risk": total, "at_risk_low": total_low,
        "at_risk_high": total_high}

    rows = []
    for option in options[1:]:
        row: dict[str, Any] = {"lever": option, "kind": kinds[option],
                               "dose": "; ".join(f"{doses[p]:g}" for p in option.split(" + ")),
                               "capture_sq": status_quo["capture"]}
        d_net = yearly(profit[option]) - sq_profit
        d_cost = yearly(cost[option]) - sq_cost
        for name, change in (("capture", capture_share(option) - capture_share(sq)),
                             ("net", d_net), ("cost", d_cost), ("gross", d_net + d_cost)):
            m, lo, hi = band(change, spread)
            row.update({name: m, f"{name}_low": lo, f"{name}_high": hi})
        row["verdict"] = ("pays" if row["net_low"] > 0 else "does not pay"
                          if row["net_high"] < 0 else "unclear")
        rows.append(row)
    table = pd.DataFrame(rows)
    if not table.empty:
        table = table.sort_values("net", ascending=False, kind="stable").reset_index(drop=True)
    combined = table[table.kind.isin(("pair", "your combination"))] if not table.empty \
        else table
    ranked = table
    if not table.empty:
        pairs = table[table.kind == "pair"]
        keep = table.kind.isin(("single", "pressure", "your combination"))
        if not pairs.empty:
            keep |= table.index == pairs.index[0]
        ranked = table[keep].copy()
        ranked.loc[ranked.kind == "pair", "kind"] = "best pair"
        ranked = rank(ranked.reset_index(drop=True))
    timeline, payback = _timeline(ranked, profit, captured, sq, spread)
    return {"money_per_unit": float(scale.mean()), "capture_risk": pd.DataFrame(risk_rows),
            "margin_at_risk": margin_table, "status_quo": status_quo, "levers": ranked,
            "combinations": combined.reset_index(drop=True), "timeline": timeline,
            "payback_year": payback, "conditions": tuple(conditions)}


def rank(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` (best net first) with ``rank`` and ``tied``.

    An option whose net band reaches the low end of its group's best option's band
    shares that option's rank.
    """
    ranks: list[int] = []
    top = 0
    for i in range(len(table)):
        if i and table["net_high"].iloc[i] >= table["net_low"].iloc[top]:
            ranks.append(ranks[top])
        else:
            top = i
            ranks.append(i + 1)
    out = table.assign(rank=ranks)
    counts = out["rank"].map(out["rank"].value_counts())
    return out.assign(tied=counts > 1)


def _timeline(ranked: pd.DataFrame, profit: Mapping[str, np.ndarray],
              captured: Mapping[str, np.ndarray], sq: str, spread: bool
              ) -> tuple[pd.DataFrame, int | None]:
    """The status quo and the best option year by year, and the payback year."""
    if ranked.empty:
        return pd.DataFrame(), None
    best = str(ranked["lever"].iloc[0])
    n_years = profit[sq].shape[2]
    rows = []
    cumulative = 0.0
    for t in range(n_years):
        row: dict[str, Any] = {"year": t + 1, "option": best}
        for name, option in (("sq", sq), ("best", best)):
            m, lo, hi = band(profit[option][:, :, t], spread)
            row.update({f"profit_{name}": m, f"profit_{name}_low": lo,
                        f"profit_{name}_high": hi,
                        f"capture_{name}": float(captured[option][:, :, t, :].mean())})
        gain = float((profit[best][:, :, t] - profit[sq][:, :, t]).mean())
        cumulative += gain
        summed = (profit[best][:, :, :t + 1] - profit[sq][:, :, :t + 1]).sum(axis=2)
        _, low, high = band(summed, spread)
        row.update(gain=gain, cumulative_gain=cumulative, cumulative_gain_low=low,
                   cumulative_gain_high=high)
        rows.append(row)
    table = pd.DataFrame(rows)
    positive = (table["cumulative_gain"] > 0).to_numpy()
    payback = None
    for t in range(n_years):
        if positive[t:].all():
            payback = t + 1
            break
    return table, payback
