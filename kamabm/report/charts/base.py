"""What every sweep chart shares: the written chart, the figure, its title, its files."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kamabm.analysis.results import SweepResults
from kamabm.model.params import Parameters
from kamabm.names import setting_text

DPI = 300


@dataclass(frozen=True)
class Chart:
    """One chart written to disk.

    Attributes:
        kind: one of :data:`kamabm.analysis.results.KINDS`.
        title: the chart's short title: its main finding, computed from the data.
        caption: what is drawn and from which runs, for readers of the report.
        files: the PNG, SVG and CSV written.
        finding: the finding in full (with the details the title leaves out).

    """

    kind: str
    title: str
    caption: str
    files: tuple[Path, ...]
    finding: str = ""

    @property
    def png(self) -> Path:
        """The chart's PNG file (300 dpi)."""
        return next(p for p in self.files if p.suffix == ".png")

    @property
    def svg(self) -> Path:
        """The chart's SVG file."""
        return next(p for p in self.files if p.suffix == ".svg")

    @property
    def csv(self) -> Path:
        """The CSV of the plotted numbers."""
        return next(p for p in self.files if p.suffix == ".csv")


def figure(width: float, height: float, ncols: int = 1, nrows: int = 1,
           **kw: Any) -> tuple[Any, np.ndarray]:
    """A constrained-layout ``Figure`` (no pyplot) and its axes as a 2-D array."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def save(fig: Any, table: pd.DataFrame, out: Path, name: str) -> tuple[Path, ...]:
    """Write ``table`` as CSV and the figure as PNG (300 dpi) and reproducible SVG."""
    import matplotlib

    stem = out / name
    table.to_csv(stem.with_suffix(".csv"), index=False, float_format="%.6g")
    with matplotlib.rc_context({"svg.hashsalt": "kamabm", "svg.fonttype": "path"}):
        fig.savefig(stem.with_suffix(".png"), dpi=DPI)
        # The layout found for the PNG holds for the SVG (it is in fractions of the
        # figure): keep it rather than solve it again, a sixth of the time a chart takes.
        fig.set_layout_engine("none")
        fig.savefig(stem.with_suffix(".svg"), metadata={"Date": None})
    return stem.with_suffix(".png"), stem.with_suffix(".svg"), stem.with_suffix(".csv")


def edges(values: np.ndarray) -> np.ndarray:
    """Cell edges around sorted grid values (midpoints, half a step beyond the ends)."""
    v = np.asarray(values, dtype=float)
    if len(v) == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5])
    mid = (v[1:] + v[:-1]) / 2.0
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def title(fig: Any, headline: str) -> None:
    """The chart's short title, wrapped to the figure's width."""
    fig.suptitle(textwrap.fill(headline, int(fig.get_figwidth() * 10.5)), fontsize=10.5)


def setting(res: SweepResults) -> str:
    """The runs a chart draws on and the fixed settings that differ from the defaults.

    ``"8,400 runs, 20 replications per point; key clients' share of turnover at 80 %."``:
    the experiment's name is the report's title, not repeated under every chart.
    """
    base = res.experiment.base.as_dict()
    shown = setting_text({k: v for k, v in base.items()
                          if k not in res.varied and v != Parameters.default(k)})
    reps = res.experiment.replications
    return (f"{len(res.runs):,} runs, {reps} replications per point"
            + (f"; {shown}" if shown else "") + ".")


def change(drop: float) -> str:
    """'falls by x points', 'rises by x points' or 'stays level' for a drop in points."""
    if round(abs(drop), 1) == 0:
        return "stays level"
    return f"{'falls' if drop > 0 else 'rises'} by {abs(drop):.1f} points"
