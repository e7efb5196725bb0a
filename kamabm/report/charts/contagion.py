"""Contagion: what holding one KAM captured does to rival suppliers' KAMs.

Draws the table of :func:`kamabm.analysis.contagion.contagion` (nothing is computed here
but the title's words): the paired change (held minus free) in the share of rivals' KAMs
captured on the held KAM's buyer and on the other buyers, per key share and pooled, with
the interactions on and off.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kamabm.analysis.contagion import (
    DID,
    DOES_NOT_SPREAD,
    EFFECT_WORDS,
    FIRST,
    OFF,
    ON,
    OTHERS,
    SPREADS,
    UNCLEAR,
    spread_verdict,
)
from kamabm.analysis.tables import Analysis
from kamabm.names import CLIENT_SHARE, human, value_text
from kamabm.report.charts.base import Chart, figure, save, setting, title
from kamabm.report.charts.palette import CAPTURED, LOYAL, SEQUENCE

#: Colours of the settings in their order (interactions on, off, then the others).
_COLOURS = (CAPTURED, LOYAL, *SEQUENCE[2:])


def shown_settings(table: pd.DataFrame) -> list[str]:
    """The settings drawn: interactions on and off when the table holds them, else all."""
    names = list(dict.fromkeys(table.setting))
    main = [n for n in (ON, OFF) if n in names]
    return main or names


def contagion(an: Analysis, out: Path) -> Chart:
    """Held minus free for rivals on his buyer and on the other buyers, per share."""
    table = an.contagion
    assert table is not None  # computed for every sweep this chart is planned for
    names = shown_settings(table)
    shares = [s for s in dict.fromkeys(table[CLIENT_SHARE]) if np.isfinite(s)]
    pooled = table[CLIENT_SHARE].isna().any()
    groups = [*shares, *([np.nan] if pooled else [])]
    ticks = [value_text(CLIENT_SHARE, s) for s in shares] + (["all shares"] if pooled else [])
    fig, axes = figure(10.0, 4.4, ncols=2, sharey=True)
    width = 0.8 / len(names)
    for ax, effect in zip(axes[0], (FIRST, OTHERS), strict=True):
        rows = table[table.effect == effect]
        for j, name in enumerate(names):
            mine = rows[rows.setting == name]
            means, errs = [], []
            for g in groups:
                row = mine[mine[CLIENT_SHARE].isna()] if not np.isfinite(g) else \
                    mine[np.isclose(mine[CLIENT_SHARE], g)]
                r = row.iloc[0]
                means.append(100 * r["diff"])
                errs.append((100 * (r["diff"] - r.low), 100 * (r.high - r["diff"])))
            x = np.arange(len(groups)) + (j - (len(names) - 1) / 2) * width
            ax.bar(x, means, width, yerr=np.clip(np.array(errs).T, 0, None), capsize=3,
                   color=_COLOURS[j % len(_COLOURS)], label=name,
                   error_kw={"elinewidth": 1.0, "ecolor": "#333333"})
        ax.axhline(0, color="grey", lw=0.8)
        if pooled:
            ax.axvline(len(shares) - 0.5, color="grey", lw=0.6, ls=":")
        ax.set_xticks(np.arange(len(groups)), ticks)
        ax.set_xlabel(human(CLIENT_SHARE))
        ax.set_title(f"{EFFECT_WORDS[effect][0].upper()}{EFFECT_WORDS[effect][1:]}",
                     fontsize=10)
        ax.grid(axis="y", alpha=0.25, lw=0.5)
    low, high = axes[0, 0].get_ylim()  # a change in a share lies within +-100 points
    axes[0, 0].set_ylim(max(low, -105.0), min(high, 105.0))
    axes[0, 0].set_ylabel("change in rival KAMs captured\n"
                          "(points, one KAM held captured minus free)")
    axes[0, 0].legend(fontsize=8, frameon=False)
    headline = _headline(table, names[0])
    title(fig, headline)
    drawn = table[table.setting.isin(names) & table.effect.isin([FIRST, OTHERS])]
    files = save(fig, drawn, out, "contagion")
    caption = ("One KAM (the first supplier's, on the first buyer) is held at the alignment "
               "captured KAMs settle at for the whole run, or left free, on the same seeds. "
               "Bars: held minus free in the share of rival suppliers' KAMs captured at the "
               "end, on his buyer (left) and on the other buyers (right), with 95 % t "
               "intervals over the seed pairs; 'all shares' averages each seed's runs over "
               "the key shares first. 'Interactions' are peer influence and rival "
               "benchmarking. If capture spread along a buyer, the left bars would rise above "
               "the right ones; the difference with its interval is in contagion_effects.csv. "
               + setting(an.results))
    return Chart("contagion", headline, caption, files, headline)


def _headline(table: pd.DataFrame, name: str) -> str:
    """The finding for one setting: pooled over shares when the table pools them."""
    rows = table[table.setting == name]
    pooled = rows[rows[CLIENT_SHARE].isna()]
    rows = pooled if not pooled.empty else rows[rows[CLIENT_SHARE] == rows[CLIENT_SHARE].max()]
    first, others, did = (rows[rows.effect == e].iloc[0] for e in (FIRST, OTHERS, DID))
    where = "all shares" if not pooled.empty else (
        f"at {value_text(CLIENT_SHARE, first[CLIENT_SHARE])}")
    lead = {SPREADS: "Capture spreads along a buyer",
            DOES_NOT_SPREAD: "Capture does not spread along a buyer",
            UNCLEAR: "No clear sign that capture spreads along a buyer"}[spread_verdict(did)]
    return (f"{lead}: with one KAM held captured, his buyer's rivals change by "
            f"{_signed(first['diff'])} points, other rivals by {_signed(others['diff'])} "
            f"({name}, {where})")


def _signed(share: float) -> str:
    """A change in points with its sign, a true minus sign for a fall."""
    points = round(100 * share)
    return "0" if points == 0 else f"{points:+d}".replace("-", "\u2212")
