"""Global sensitivity: first-order and total Sobol indices of each outcome."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kamabm.analysis.tables import Analysis
from kamabm.names import human
from kamabm.report.charts.base import Chart, figure, save, setting, title
from kamabm.report.charts.palette import LOYAL, OPERATIONAL


def sensitivity(an: Analysis, out: Path) -> Chart:
    """Bars of first-order and total Sobol indices, one panel per outcome."""
    table = an.sobol
    assert table is not None  # computed for every sweep this chart is planned for
    outcomes = list(dict.fromkeys(table["outcome"]))
    names = [v.name for v in an.results.experiment.variables]
    fig, axes = figure(3.6 * len(outcomes) + 1.5, 0.38 * len(names) + 2.2,
                       ncols=len(outcomes), sharey=True)
    first = table[table.outcome == outcomes[0]].set_index("parameter")
    order = list(first.sort_values("ST").index)  # largest total effect on top
    y = np.arange(len(order))
    for ax, outcome in zip(axes[0], outcomes, strict=True):
        part = table[table.outcome == outcome].set_index("parameter").loc[order]
        ax.barh(y + 0.2, part["ST"], height=0.38, xerr=part["ST_conf"], color=LOYAL,
                label="total (with interactions)", error_kw={"lw": 0.8})
        ax.barh(y - 0.2, part["S1"], height=0.38, xerr=part["S1_conf"], color=OPERATIONAL,
                label="first order (alone)", error_kw={"lw": 0.8})
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_title(human(outcome), fontsize=9)
        ax.set_xlabel("Sobol index (share of variance)")
        ax.set_yticks(y, [human(n) for n in order], fontsize=8)
    axes[0, 0].legend(fontsize=8, frameon=False, loc="lower right")
    top = first.sort_values("ST", ascending=False)
    lead, second = top.index[0], top.index[1]
    # The full finding gives the indices the title leaves out, in the same plain words.
    code = {n: human(n) for n in (lead, second, outcomes[0])}
    finding = (f"{code[lead][:1].upper()}{code[lead][1:]} has the largest total effect on "
               f"{code[outcomes[0]]} "
               f"(index {top.loc[lead, 'ST']:.2f} ± {top.loc[lead, 'ST_conf']:.2f}, alone "
               f"{top.loc[lead, 'S1']:.2f}), then {code[second]} "
               f"({top.loc[second, 'ST']:.2f} ± {top.loc[second, 'ST_conf']:.2f})")
    # leaders whose intervals overlap are a tie, and are named as one
    tied = (top.loc[lead, "ST"] - top.loc[lead, "ST_conf"]
            <= top.loc[second, "ST"] + top.loc[second, "ST_conf"])
    headline = (f"Largest effect on {human(outcomes[0])}: {human(lead)} or "
                f"{human(second)} (their intervals overlap)" if tied else
                f"{human(lead)} has the largest effect on {human(outcomes[0])} "
                f"(total index {top.loc[lead, 'ST']:.2f})")
    headline = headline[0].upper() + headline[1:]
    title(fig, headline)
    files = save(fig, table, out, "sensitivity")
    caption = ("Global sensitivity (Sobol, SALib): the share of each outcome's variance "
               "over the swept ranges due to each parameter alone (first order) and with "
               "all its interactions (total). A total far above the first-order index "
               "means the parameter acts through interactions, as tipping points do. Saltelli "
               "design, 95 % bootstrap intervals. " + setting(an.results))
    return Chart("sensitivity", headline, caption, files, finding)
