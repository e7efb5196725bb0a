"""The one palette of every chart: Okabe-Ito colours and colour-blind-safe colour maps."""

from __future__ import annotations

#: Okabe-Ito colours (safe for colour-blind readers), by what they show.
LOYAL, CAPTURED, PRICE, MARGIN, OPERATIONAL, ACTIVITY = (
    "#0072B2", "#D55E00", "#000000", "#009E73", "#E69F00", "#56B4E9")
#: Okabe-Ito colours for categorical series, in the order lines are drawn.
SEQUENCE = (LOYAL, CAPTURED, MARGIN, OPERATIONAL, ACTIVITY, PRICE, "#CC79A7")
#: Colours of the erosion sources, in the order of :data:`kamabm.stats.EROSION`.
EROSION_COLOURS = (CAPTURED, OPERATIONAL, ACTIVITY)
#: Sequential, colour-blind-safe colour maps for capture and for margins.
CAPTURE_CMAP, MARGIN_CMAP = "viridis", "cividis"
