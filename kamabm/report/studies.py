"""Report tables of the concentration and contagion analyses, for readers: plain words.

Each function turns a table of :mod:`kamabm.analysis.concentration` or
:mod:`kamabm.analysis.contagion` into the table the HTML report shows (percentages and
points, intervals in brackets); the full numbers are in ``concentration_fit.csv`` and
``contagion_effects.csv`` (:func:`kamabm.report.plots.make_charts`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from kamabm.analysis.concentration import FITTED, FITTED_WORDS, Concentration
from kamabm.analysis.contagion import EFFECT_WORDS, EFFECTS
from kamabm.names import CLIENT_SHARE, pct, value_text

#: Column headers of the contagion table that are words (aligned left).
CONTAGION_WORDS = ("key share", "interactions")
#: Column headers of the concentration table that are words.
CONCENTRATION_WORDS = ("measure of concentration",)


def concentration_display(found: Concentration) -> pd.DataFrame:
    """Per axis: its buyer-count exponent, the R² of one curve and the gap at equal value."""
    rows = []
    for row in found.fit.itertuples():
        exponent = f"{row.exponent:.2f}" if row.axis == FITTED else f"{row.exponent:g}"
        if np.isfinite(row.exponent_low):
            exponent += f" [{row.exponent_low:.2f}, {row.exponent_high:.2f}]"
        rows.append({"measure of concentration": FITTED_WORDS if row.axis == FITTED
                     else row.words,
                     "power k of key clients (total share / clients^k)": exponent,
                     "one curve explains": pct(row.r2, 0) if np.isfinite(row.r2) else "",
                     "lines apart at equal value (points)":
                         f"{100 * row.gap:.1f}" if np.isfinite(row.gap) else "",
                     "pairs of lines compared": int(row.pairs)})
    return pd.DataFrame(rows)


def _signed(x: float, digits: int) -> str:
    """A signed number of points; one that rounds to zero has no sign (never "-0.0")."""
    text = f"{x:+.{digits}f}"
    return f"{0:.{digits}f}" if float(text) == 0 else text.replace("-", "\u2212")


def points_interval(diff: float, low: float, high: float) -> str:
    """A difference of shares and its 95 % interval in points: ``+1.2 [+0.4, +2.0] *``.

    A * marks an interval that excludes 0. One decimal, or as many more (up to three)
    as the largest of the three needs to show two significant digits, so that a small
    clear effect never reads ``+0.0 [+0.0, +0.0] *``.
    """
    values = [100 * diff, 100 * low, 100 * high]
    largest = max(abs(v) for v in values)
    digits = 1 if largest >= 1 or largest == 0 else min(3, 1 - int(np.floor(np.log10(largest))))
    clear = "" if low <= 0 <= high else " *"
    a, b, c = (_signed(v, digits) for v in values)
    return f"{a} [{b}, {c}]{clear}"


def _interval(row: pd.Series) -> str:
    return points_interval(row["diff"], row["low"], row["high"])


def contagion_display(table: pd.DataFrame) -> pd.DataFrame:
    """Per setting and share: held minus free for each effect, in points with intervals.

    A * marks an interval that excludes 0; "all shares" averages each seed's runs over
    the shares first.
    """
    shares = sorted(s for s in table[CLIENT_SHARE].unique() if np.isfinite(s))
    pooled = bool(table[CLIENT_SHARE].isna().any())
    rows = []
    for name in dict.fromkeys(table.setting):
        mine = table[table.setting == name]
        for share in [*shares, *([np.nan] if pooled else [])]:
            at = mine[CLIENT_SHARE].isna() if not np.isfinite(share) else np.isclose(
                mine[CLIENT_SHARE], share)
            effects = mine[at].set_index("effect")
            if effects.empty:
                continue
            row: dict[str, object] = {
                "key share": "all shares" if not np.isfinite(share)
                else value_text(CLIENT_SHARE, share),
                "interactions": name}
            for effect in EFFECTS:
                if effect in effects.index:
                    row[EFFECT_WORDS[effect]] = _interval(effects.loc[effect])
            row["seed pairs"] = int(effects["n_pairs"].iloc[0])
            rows.append(row)
    return pd.DataFrame(rows)
