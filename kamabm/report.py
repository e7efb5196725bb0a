"""The HTML report of a sweep: experiment, parameters, findings, charts and tables.

``kamabm report RESULTS_DIR`` draws the charts (:mod:`kamabm.plots`) and writes one
self-contained HTML file: every figure is embedded as an SVG data URI, so the file can be
mailed or opened offline. Every finding is a sentence computed from the results; none is
typed in.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

import numpy as np
import pandas as pd

from kamabm.analysis import EROSION
from kamabm.charts.base import Chart
from kamabm.names import levels_text
from kamabm.params import Parameters
from kamabm.plots import make_charts
from kamabm.results import (
    HYSTERESIS,
    INTERVENTIONS,
    MAP,
    MARGINS,
    SENSITIVITY,
    Analysis,
    SweepResults,
)

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0}
td,th{border:1px solid #ccc;padding:.2em .5em;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}
figure{margin:1.5em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:.9em;color:#444}.finding{font-weight:600}
.meta{color:#555;font-size:.9em}details{margin:.8em 0}
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _num(x: object) -> str:
    if isinstance(x, float | np.floating):
        return "" if np.isnan(x) else f"{x:.4g}"
    return _e(x)


def table_html(frame: pd.DataFrame, *, max_rows: int | None = None) -> str:
    """A DataFrame as an HTML table (numbers to four significant digits)."""
    shown = frame if max_rows is None else frame.head(max_rows)
    head = "".join(f"<th>{_e(c)}</th>" for c in shown.columns)
    body = "".join(
        "<tr>" + "".join(f"<td{' class=l' if isinstance(v, str) else ''}>{_num(v)}</td>"
                         for v in row) + "</tr>"
        for row in shown.itertuples(index=False))
    more = (f"<p class=meta>first {max_rows} of {len(frame)} rows; all in the CSV</p>"
            if max_rows is not None and len(frame) > max_rows else "")
    return f"<table><tr>{head}</tr>{body}</table>{more}"


# --- findings -----------------------------------------------------------------------------
def headline_findings(an: Analysis) -> list[str]:
    """The report's headline findings, each a sentence computed from the results."""
    res = an.results
    runs = res.runs
    found: list[str] = []
    if an.kind == HYSTERESIS:
        found += _hysteresis_findings(an)
    elif an.kind == SENSITIVITY and an.sobol is not None:
        found += _sensitivity_findings(an)
    elif an.kind == MAP:
        found += _phase_findings(an)
    elif an.kind == INTERVENTIONS and an.interventions is not None:
        found += _intervention_findings(an)
    if set(EROSION) <= set(runs.columns):
        total = runs[list(EROSION)].sum(axis=1)
        high = runs["capture_rate"] >= 0.5
        if high.any() and (~high).any():
            found.append(
                f"Margin erosion (price concessions, extra demands granted, resources "
                f"diverted) averages {_pct(total[high].mean())} of revenue in runs where most "
                f"KAMs are captured and {_pct(total[~high].mean())} in the others; price "
                f"concessions are {_pct(runs.loc[high, 'erosion_price'].sum() / total[high].sum())}"
                " of it in captured runs.")
    if res.failed:
        found.append(f"{res.failed} runs failed and are left out (see the error column).")
    return found


def _sensitivity_findings(an: Analysis) -> list[str]:
    table = an.sobol
    found = []
    for outcome, part in table.groupby("outcome", sort=False):
        top = part.sort_values("ST", ascending=False).head(3)
        ranked = ", ".join(f"{r.parameter} (total {r.ST:.2f}, alone {r.S1:.2f})"
                           for r in top.itertuples())
        found.append(f"The variance of {outcome} over the swept ranges is driven most by "
                     f"{ranked}.")
    return found


def _phase_findings(an: Analysis) -> list[str]:
    along, across = an.factors
    table, direction = an.boundary.table, an.boundary.direction
    found = []
    inside = an.boundary.inside
    word = "from" if direction == 1 else "below"
    for row in inside.itertuples():
        low = "the bottom of the range" if not np.isfinite(row.low) else f"{row.low:.2f}"
        high = "beyond the range" if not np.isfinite(row.high) else f"{row.high:.2f}"
        found.append(f"At {across} = {row.level:g}, most KAMs are captured {word} "
                     f"{along} = {row.critical:.2f} (95 % bootstrap band {low} to {high}).")
    never, always = an.boundary.outside()
    if never:
        found.append(f"At {across} = {levels_text(never, table.level)}, fewer than half of "
                     f"KAMs are captured at every {along} swept.")
    if always:
        end = "smallest" if direction == 1 else "largest"
        found.append(f"At {across} = {levels_text(always, table.level)}, most KAMs are "
                     f"captured already at the {end} {along} swept.")
    means = an.cells
    high, low = means[means.capture_rate >= 0.5], means[means.capture_rate < 0.1]
    for name, meaning in MARGINS.items():
        if name not in means or high.empty or low.empty:
            continue
        gap = an.margin_gaps[name]
        found.append(
            f"{meaning.split(' (')[0].capitalize()} averages {_pct(high[name].mean())} at "
            f"the {len(high)} design points where most KAMs are captured and "
            f"{_pct(low[name].mean())} at the {len(low)} where fewer than 10 % are; at equal "
            f"{along}, captured runs earn {-100 * gap['gap']:.1f} points less.")
    return found


def _intervention_findings(an: Analysis) -> list[str]:
    table = an.interventions.table
    found = []
    for name, part in table.groupby("treatment", sort=False):
        bits = []
        for row in part.itertuples():
            sig = "" if row.low <= 0 <= row.high else " (significant)"
            bits.append(f"{row.outcome.replace('_', ' ')} {100 * row.diff:+.1f} points "
                        f"[{100 * row.low:+.1f}, {100 * row.high:+.1f}]{sig}")
        what = part.setting.iloc[0]
        found.append(f"{name} ({what}) against the status quo, paired over "
                     f"{part.n_pairs.iloc[0]} seeds: " + "; ".join(bits) + ".")
    return found


def _hysteresis_findings(an: Analysis) -> list[str]:
    gaps = an.hysteresis[1]
    found = []
    for row in gaps.itertuples():
        found.append(f"At final pressure {row.level:g}: {_pct(row.down)} of KAMs captured "
                     f"when pressure was lowered to it, {_pct(row.up)} when it was raised "
                     f"to it (gap {100 * row.gap:+.0f} points).")
    return found


# --- the document -------------------------------------------------------------------------
def _figure_html(chart: Chart, base: Path) -> str:
    data = base64.b64encode(chart.svg.read_bytes()).decode("ascii")
    try:
        csv = chart.csv.relative_to(base)
    except ValueError:
        csv = chart.csv
    return (f"<figure id={_e(chart.kind)}><img alt=\"{_e(chart.title)}\" "
            f"src=\"data:image/svg+xml;base64,{data}\">"
            f"<figcaption><span class=finding>{_e(chart.title)}.</span> "
            f"{_e(chart.caption)} Plotted numbers: <a href=\"{_e(csv.as_posix())}\">"
            f"{_e(csv.name)}</a>.</figcaption></figure>")


def _parameters_html(res: SweepResults) -> str:
    exp = res.experiment
    rows = []
    for v in exp.variables:
        spec = Parameters.spec(v.name)
        values = (", ".join(f"{x:g}" for x in v.values) if v.values is not None
                  else f"{v.low:g} to {v.high:g} ({exp.design.method})")
        rows.append({"parameter": v.name, "role": v.role, "values": values,
                     "unit": spec.unit, "meaning": spec.meaning})
    varied = pd.DataFrame(rows)
    base = exp.base.as_dict()
    fixed = pd.DataFrame([{"parameter": k, "value": f"{v:g}", "default":
                           f"{Parameters.default(k):g}", "unit": Parameters.spec(k).unit,
                           "meaning": Parameters.spec(k).meaning}
                          for k, v in base.items() if k not in res.varied])
    changed = fixed[fixed.value != fixed.default]
    return ("<h3>Varied</h3>" + table_html(varied) +
            "<h3>Fixed at other than their default</h3>" +
            (table_html(changed) if not changed.empty else "<p>none</p>") +
            "<details><summary>All fixed parameters</summary>" + table_html(fixed) +
            "</details>")


def _experiment_html(res: SweepResults) -> str:
    exp, man = res.experiment, res.manifest
    session = (man.get("sessions") or [{}])[-1]
    packages = session.get("packages") or {}
    version = session.get("code_version") or {}
    rows = [("file", man.get("experiment", {}).get("path", "")),
            ("design", f"{exp.design.method}, {len(exp.points())} points x "
                       f"{exp.replications} replications"),
            ("runs", f"{len(res.runs)} succeeded, {res.failed} failed"),
            ("master seed", f"{exp.seed} (common random numbers: "
                            f"{'yes' if exp.common_random_numbers else 'no'})"),
            ("horizon", f"{exp.base.horizon_months} months"),
            ("ran", f"{man.get('started', '')} to {man.get('finished', '')}"),
            ("code version", version.get("git_commit", "unknown") +
             (" (with uncommitted changes)" if version.get("dirty") else "")),
            ("packages", ", ".join(f"{k} {v}" for k, v in packages.items()))]
    body = "".join(f"<tr><th class=l>{_e(k)}</th><td class=l>{_e(v)}</td></tr>"
                   for k, v in rows)
    return f"<p>{_e(exp.description)}</p><table>{body}</table>"


def write_report(an: Analysis, path: str | Path, *, charts_dir: str | Path | None = None
                 ) -> tuple[Path, list[Chart]]:
    """Draw the charts and write the self-contained HTML report.

    Args:
        an: the analysed results (:func:`kamabm.results.analyse`).
        path: the HTML file to write.
        charts_dir: folder for the charts and tables (default ``charts`` beside ``path``).

    Returns:
        The report's path and the charts it embeds.

    """
    res = an.results
    path = Path(path)
    charts_dir = Path(charts_dir) if charts_dir is not None else path.parent / "charts"
    charts = make_charts(an, charts_dir)
    findings = headline_findings(an)
    exp = res.experiment
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
             f"<title>kamabm report: {_e(exp.name)}</title><style>{_CSS}</style></head>"
             f"<body><h1>kamabm report: {_e(exp.name)}</h1>",
             "<h2>Headline findings</h2><ul>" +
             "".join(f"<li>{_e(s)}</li>" for s in findings) + "</ul>",
             "<h2>Experiment</h2>" + _experiment_html(res),
             "<h2>Parameters</h2>" + _parameters_html(res),
             "<h2>Charts</h2>" + "".join(_figure_html(c, path.parent) for c in charts)]
    tables = ["<h2>Tables</h2>"]
    if an.boundary is not None:
        tables.append(f"<h3>Capture boundary along {_e(an.boundary.along)} at each level of "
                      f"{_e(an.boundary.across)}</h3>" + table_html(an.boundary.table))
    if an.sobol is not None:
        tables.append("<h3>Sobol indices (first order S1, total ST, with half-widths of "
                      "their 95 % intervals)</h3>" + table_html(an.sobol))
    if an.interventions is not None:
        tables.append("<h3>Interventions: paired differences against the status quo</h3>" +
                      table_html(an.interventions.table.drop(columns=["treated_value"])))
    tables.append("<h3>Mean outcomes at every design point</h3>" +
                  table_html(an.summary, max_rows=200))
    parts += tables
    parts.append(f"<p class=meta>Generated by <code>kamabm report {_e(res.directory)}"
                 "</code>.</p></body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path, charts
