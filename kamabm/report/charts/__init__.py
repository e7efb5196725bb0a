"""Charts: the palette, the chart of one run, and a module per family of sweep charts.

- :mod:`kamabm.report.charts.palette`: the Okabe-Ito colours every chart uses;
- :mod:`kamabm.report.charts.single_run`: one run month by month, as panels drawn onto a given
  ``Axes`` from a run table (``kamabm run``, the report's typical runs, the app);
- :mod:`kamabm.report.charts.maps`: the capture phase diagram and margin maps (two factors);
- :mod:`kamabm.report.charts.factors`: outcomes and margins against a factor, margin against
  capture;
- :mod:`kamabm.report.charts.levers`: levers against the status quo, margin erosion;
- :mod:`kamabm.report.charts.dynamics`: hysteresis and typical runs;
- :mod:`kamabm.report.charts.sensitivity`: Sobol indices;
- :mod:`kamabm.report.charts.concentration`: capture against the total key share, the share
  per key client and the Herfindahl index, one line per number of key clients;
- :mod:`kamabm.report.charts.contagion`: one KAM held captured against free, the effect on
  rivals' KAMs on his buyer and on the others.

The sweep charts draw the tables of :class:`kamabm.analysis.tables.Analysis`; they compute none.
Everything is drawn on matplotlib's ``Figure`` API: no pyplot, no backend switched.
"""

from __future__ import annotations

from kamabm.report.charts.palette import ACTIVITY, CAPTURED, LOYAL, MARGIN, OPERATIONAL, PRICE
from kamabm.report.charts.single_run import (
    draw_alignment,
    draw_price_margin,
    draw_time_split,
    plot_run,
    run_figure,
    save_table,
)

__all__ = ["ACTIVITY", "CAPTURED", "LOYAL", "MARGIN", "OPERATIONAL", "PRICE",
           "draw_alignment", "draw_price_margin", "draw_time_split", "plot_run",
           "run_figure", "save_table"]
