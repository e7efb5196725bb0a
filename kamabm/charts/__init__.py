"""The chart of a single run: KAM alignment, key-account price and margin, KAM time.

The chart is drawn from a run's per-month table (:func:`run_table`), which is saved as
CSV beside the figure: the numbers plotted are exactly the numbers in the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kamabm.run import CAPTURED_BELOW, run_table  # noqa: F401 (callers import it here)

#: Okabe-Ito colours (safe for colour-blind readers).
LOYAL, CAPTURED, PRICE, MARGIN, OPERATIONAL, ACTIVITY = (
    "#0072B2", "#D55E00", "#000000", "#009E73", "#E69F00", "#56B4E9")


def save_table(table: dict[str, np.ndarray], path: Path) -> None:
    """Write a run table as CSV (one row per month)."""
    names = list(table)
    data = np.column_stack([table[n] for n in names])
    np.savetxt(path, data, delimiter=",", header=",".join(names), comments="", fmt="%.6g")


def plot_run(table: dict[str, np.ndarray], outcomes: dict[str, Any], title: str,
             path_stem: Path) -> list[Path]:
    """Draw a run's time series and save it as PNG (300 dpi) and SVG.

    Args:
        table: the run's per-month table from :func:`run_table`.
        outcomes: the run's outcomes (for the headline).
        title: what was run (parameters and seed), shown under the headline.
        path_stem: file path without suffix.

    Returns:
        The files written.

    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    months = table["month"]
    alignment = {k[:-10]: v for k, v in table.items() if k.endswith("_alignment")}
    fig, axes = plt.subplots(3, 1, figsize=(8, 9), sharex=True, constrained_layout=True)

    ax = axes[0]
    for series_ in alignment.values():
        captured = series_[-1] < CAPTURED_BELOW
        ax.plot(months, series_, color=CAPTURED if captured else LOYAL,
                lw=1.6 if captured else 1.0, alpha=0.9)
    ax.axhline(CAPTURED_BELOW, color="grey", ls="--", lw=0.8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("alignment with employer\n(1 loyal, 0 captured)")
    ax.plot([], [], color=LOYAL, label="KAM loyal at the end")
    ax.plot([], [], color=CAPTURED, label="KAM captured at the end")
    ax.legend(loc="lower left", frameon=False, fontsize=8)

    ax = axes[1]
    ax.plot(months, table["key_price"], color=PRICE, label="key-account price")
    ax.set_ylabel("price (unit cost = 1)")
    twin = ax.twinx()
    twin.plot(months, 100 * table["key_account_margin"], color=MARGIN,
              label="key-account gross margin")
    twin.set_ylabel("gross margin (%)", color=MARGIN)
    lines = ax.get_lines() + twin.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="upper right", frameon=False,
              fontsize=8)

    ax = axes[2]
    ax.plot(months, 100 * table["operational_share"], color=OPERATIONAL,
            label="operational share of KAM time")
    ax.plot(months, 100 * table["kam_activity"], color=ACTIVITY,
            label="KAM activity (100 = full time)")
    ax.set_ylabel("% of a month")
    ax.set_xlabel("month")
    ax.legend(loc="upper left", frameon=False, fontsize=8)

    n = len(alignment)
    captured = int(round(outcomes["capture_rate"] * n))
    first = outcomes["time_to_first_capture"]
    headline = (f"{captured} of {n} KAMs captured" +
                (f", the first in month {first}" if first else "") +
                f"; key-account margin {100 * outcomes['key_account_margin']:.1f} %")
    fig.suptitle(f"{headline}\n{title}", fontsize=10)
    written = []
    for suffix, kwargs in ((".png", {"dpi": 300}), (".svg", {})):
        path = path_stem.with_suffix(suffix)
        fig.savefig(path, **kwargs)
        written.append(path)
    plt.close(fig)
    return written
