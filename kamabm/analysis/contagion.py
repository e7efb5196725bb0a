"""Contagion, measured causally: one KAM held captured against the same runs with him free.

``experiments/contagion.toml`` holds the first supplier's KAM on the first buyer at the
alignment captured KAMs settle at (``pin_first_kam`` = 1), or leaves him free (0), on the
same seeds (common random numbers), at several key shares, with the interactions (peer
influence, rival benchmarking) on and off. Two outcomes of each run say where capture
spreads: the share of rival suppliers' KAMs captured on the pinned KAM's buyer
(``capture_rivals_first_buyer``) and on the other buyers (``capture_rivals_other_buyers``).

:func:`contagion` pairs every held run with the free run of the same seed at the same
share and setting (:func:`kamabm.stats.paired_differences`), for each outcome and for the
difference-in-differences (first buyer minus other buyers, run by run): how much more
holding him captured moves his buyer's rivals than rivals elsewhere. Pure functions of a
run table; nothing here runs the model.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product

import numpy as np
import pandas as pd

from kamabm.analysis.mechanisms import INTERACTION
from kamabm.names import CLIENT_SHARE, human, setting_text, value_text
from kamabm.stats import paired_differences, select_setting

#: The switch that holds one KAM captured all run.
PIN = "pin_first_kam"
#: Rivals' KAMs captured on the pinned KAM's buyer, and on the other buyers.
FIRST, OTHERS = "capture_rivals_first_buyer", "capture_rivals_other_buyers"
#: The run-by-run difference of the two: the difference-in-differences once paired.
DID = "first_minus_other_buyers"
#: The effects a contagion table reports, in order.
EFFECTS = (FIRST, OTHERS, DID)
#: Plain words for each effect.
EFFECT_WORDS = {FIRST: "rival suppliers' KAMs on the held KAM's buyer",
                OTHERS: "rival suppliers' KAMs on the other buyers",
                DID: "held KAM's buyer minus the other buyers"}
#: Names of the interaction settings with every interaction on, and every one off.
ON, OFF = "interactions on", "interactions off"


def setting_name(values: dict[str, float]) -> str:
    """Plain words for a setting of the factors besides the switch and the share.

    Interactions (:data:`kamabm.analysis.mechanisms.INTERACTION`) all above 0 read
    :data:`ON`, all at 0 :data:`OFF`, a mix "only <those on>"; other factors as values.
    """
    inter = {k: v for k, v in values.items() if k in INTERACTION}
    rest = {k: v for k, v in values.items() if k not in INTERACTION}
    words = []
    if inter:
        on = [k for k, v in inter.items() if v > 0]
        if len(inter) == 1:
            (name,) = inter
            words.append(f"{human(name)} {'on' if on else 'off'}")
        elif len(on) == len(inter):
            words.append(ON)
        elif not on:
            words.append(OFF)
        else:
            words.append("only " + " and ".join(human(k) for k in on))
    if rest:
        words.append(setting_text(rest))
    return ", ".join(words) or "as set"


def settings(runs: pd.DataFrame, factors: Sequence[str]) -> dict[str, dict[str, float]]:
    """Each setting of the factors besides the switch and the share the runs hold, by name.

    Ordered with every interaction on first, every one off next, then by name.
    """
    others = [f for f in factors if f not in (PIN, CLIENT_SHARE)]
    levels = [sorted(runs[f].unique()) for f in others]
    found: dict[str, dict[str, float]] = {}
    for combo in product(*levels):
        values = {f: float(v) for f, v in zip(others, combo, strict=True)}
        if len(select_setting(runs, values)):
            found[setting_name(values)] = values

    def order(name: str) -> tuple[int, str]:
        on = [v > 0 for k, v in found[name].items() if k in INTERACTION]
        return (0 if on and all(on) else 1 if on and not any(on) else 2, name)

    return {name: found[name] for name in sorted(found, key=order)}


def contagion(runs: pd.DataFrame, factors: Sequence[str], *, pair_on: str = "seed",
              confidence: float = 0.95) -> pd.DataFrame:
    """Held minus free, paired on seeds, per share, setting and effect, with intervals.

    Args:
        runs: one row per run, with :data:`PIN`, ``client_revenue_share``, ``pair_on``,
            :data:`FIRST` and :data:`OTHERS`.
        factors: the sweep's varied factors (the ones besides :data:`PIN` and the share
            form the settings).
        pair_on: the column pairing a held run with its free run.
        confidence: coverage of the t intervals over the pairs.

    Returns:
        One row per (share, setting, effect): ``client_revenue_share`` (NaN for all
        shares pooled, each seed's runs averaged over the shares), ``setting``, the
        setting's factors, ``effect`` (:data:`EFFECTS`), ``free_mean``, ``held_mean``,
        ``diff`` (held minus free), ``low``, ``high``, ``n_pairs``.

    Raises:
        ValueError: the runs lack a column, hold no held or no free runs, no point holds
            both, or held and free runs share no seed (common random numbers off).

    """
    for column in (PIN, CLIENT_SHARE, pair_on, FIRST, OTHERS):
        if column not in runs:
            raise ValueError(f"results have no column {column!r}")
    if set(runs[PIN].unique()) != {0, 1}:
        raise ValueError(f"the runs need {PIN} at 0 (free) and 1 (held)")
    runs = runs.assign(**{DID: runs[FIRST] - runs[OTHERS]})
    shares: list[float | None] = [float(s) for s in sorted(runs[CLIENT_SHARE].unique())]
    if len(shares) > 1:
        shares.append(None)
    rows = []
    for name, values in settings(runs, factors).items():
        for share in shares:
            where = values if share is None else {**values, CLIENT_SHARE: share}
            pair = {"free": {**where, PIN: 0.0}, "held": {**where, PIN: 1.0}}
            if not (len(select_setting(runs, pair["free"]))
                    and len(select_setting(runs, pair["held"]))):
                continue  # an interrupted sweep: this point holds no pair yet
            for effect in EFFECTS:
                table = paired_differences(runs, effect, pair, control="free",
                                           pair_on=pair_on, confidence=confidence)
                row = table.iloc[0]
                rows.append({CLIENT_SHARE: np.nan if share is None else share,
                             "setting": name, **values, "effect": effect,
                             "free_mean": row.control_mean, "held_mean": row.treated_mean,
                             "diff": row["diff"], "low": row.low, "high": row.high,
                             "n_pairs": int(row.n_pairs)})
    if not rows:
        raise ValueError("no design point holds both a held and a free run")
    return pd.DataFrame(rows)


#: What the difference-in-differences' interval says: capture spreads along the held KAM's
#: buyer (interval above 0), does not (below 0: his buyer's rivals fare better), or unclear.
SPREADS, DOES_NOT_SPREAD, UNCLEAR = "spreads", "does not spread", "unclear"


def spread_verdict(did: pd.Series) -> str:
    """:data:`SPREADS`, :data:`DOES_NOT_SPREAD` or :data:`UNCLEAR` for one DiD row."""
    if did.low > 0:
        return SPREADS
    return DOES_NOT_SPREAD if did.high < 0 else UNCLEAR


def _points(row: pd.Series) -> str:
    return (f"{100 * row['diff']:+.1f} points (95 % interval {100 * row.low:+.1f} to "
            f"{100 * row.high:+.1f})").replace("-", "\u2212")


def contagion_sentences(table: pd.DataFrame) -> list[str]:
    """The findings in plain words: the effect on each set of rivals, interactions on, off.

    Pooled over the shares when the table holds several, else at its one share; the
    settings with every interaction on and every one off when the table holds them.
    """
    pooled = table[table[CLIENT_SHARE].isna()]
    shown = table if pooled.empty else pooled
    main = shown[shown.setting.isin([ON, OFF])]
    shown = main if not main.empty else shown
    out = []
    for name, part in shown.groupby("setting", sort=False):
        first, others, did = (part[part.effect == e].iloc[0] for e in EFFECTS)
        where = (", averaged over the key shares tested" if not pooled.empty else
                 f" at {human(CLIENT_SHARE)} {value_text(CLIENT_SHARE, first[CLIENT_SHARE])}")
        verdict = {SPREADS: "capture spreads along his buyer",
                   DOES_NOT_SPREAD: "capture does not spread along his buyer (the effect "
                                    "there is smaller)",
                   UNCLEAR: "no clear difference between his buyer and the others",
                   }[spread_verdict(did)]
        out.append(f"With {name}{where}, holding one KAM captured changes the share of rival "
                   f"suppliers' KAMs captured on his buyer by {_points(first)} and on the "
                   f"other buyers by {_points(others)}, over {int(first.n_pairs)} paired "
                   f"seeds; {verdict}: his buyer minus the others, {_points(did)}.")
    return out


def contagion_details(table: pd.DataFrame) -> list[str]:
    """Every share, setting and effect with its interval, with code names."""
    out = []
    for row in table.itertuples():
        share = getattr(row, CLIENT_SHARE)
        at = "all shares" if not np.isfinite(share) else f"{CLIENT_SHARE} = {share:g}"
        out.append(f"At {at}, {row.setting}: {row.effect} held minus free "
                   f"{100 * row.diff:+.1f} points [{100 * row.low:+.1f}, {100 * row.high:+.1f}]"
                   f" (free {100 * row.free_mean:.1f} %, held {100 * row.held_mean:.1f} %, "
                   f"{row.n_pairs} pairs).")
    return out
