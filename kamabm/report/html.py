"""The HTML report of a sweep: a one-page summary, charts, tables, and how it was made.

``kamabm report RESULTS_DIR`` draws the charts (:mod:`kamabm.report.plots`) and writes one
self-contained HTML file: every figure is embedded as an SVG data URI, so the file can be
mailed or opened offline. It opens with an executive summary in plain words
(:mod:`kamabm.report.summary`: the status quo, the main findings in percentages, caveats), then
the charts with short titles and the details in captions, tables in percentages that
fit a 1,280 px window and an A4 page, and last, folded away, the findings level by level
and the provenance (experiment, parameters, code version). Every sentence is computed
from the results; none is typed in, and every name is said in the words of the one
vocabulary (:mod:`kamabm.names`), parameters' code names only in the provenance.

Every table is also written as CSV beside the charts (``table_*.csv``) and linked; a
table longer than :data:`MAX_TABLE_ROWS` rows is only linked, so that the printed report
stays short (the headline's prints on four A4 pages): one row per design point is for a
spreadsheet, not for a page.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

import numpy as np
import pandas as pd

from kamabm.analysis.results import SweepResults
from kamabm.analysis.tables import INTERVENTION_OUTCOMES, SUMMARY_OUTCOMES, Analysis
from kamabm.model.params import Parameters
from kamabm.names import (
    CAPTURE_RATE,
    fmt,
    human,
    in_percent,
    label,
    pct,
    plain_words,
    value_text,
)
from kamabm.report.charts.base import Chart, setting
from kamabm.report.plots import make_charts
from kamabm.report.studies import (
    CONCENTRATION_WORDS,
    CONTAGION_WORDS,
    concentration_display,
    contagion_display,
    points_interval,
)
from kamabm.report.summary import Summary, detailed_findings, executive_summary
from kamabm.stats import EROSION

#: The stylesheet of every kamabm HTML page (sweep reports, client diagnoses): fits a
#: 1,280 px window and prints on A4, the summary on a page of its own.
PAGE_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ccc}
.lede{color:#444;margin-top:0}
.summary{border:1px solid #bbb;border-radius:4px;background:#f8f8f6;padding:.4em 1.4em 1em}
.summary h2{margin-top:.6em;border:0}.summary li{margin:.35em 0}
.note{color:#8a3b00}
table{border-collapse:collapse;font-size:.85em;margin:.6em 0;max-width:100%}
td,th{border:1px solid #ccc;padding:.2em .45em;text-align:right;vertical-align:top;
overflow-wrap:anywhere}
th{background:#f3f3f3;font-weight:600;overflow-wrap:normal}td.l,th.l{text-align:left}
figure{margin:1.5em 0;break-inside:avoid}
figure img{max-width:100%;height:auto;border:1px solid #eee;box-sizing:border-box}
figcaption{font-size:.9em;color:#444}.finding{font-weight:600}
.meta{color:#555;font-size:.9em}details{margin:.8em 0}summary{cursor:pointer}
@page{size:A4;margin:14mm}
@media print{
body{max-width:none;margin:0;padding:0;font-size:10pt}
.summary{break-after:page;background:none}
h2,h3{break-after:avoid}tr,figure{break-inside:avoid}
table{font-size:7pt;width:100%}td,th{padding:.1em .2em}th{overflow-wrap:anywhere}
figure img{max-height:230mm;width:auto}
a{color:inherit;text-decoration:none}
}
"""

#: What a sweep report adds to :data:`PAGE_CSS`: printed, the charts follow the summary on
#: its page, two or three to a page, captions are set small and the folded details are
#: left out (unless opened), so that a reader finishes it.
SWEEP_CSS = """
.csv{margin:.3em 0 .8em}
@media print{
.details:not(:has(details[open])){display:none}
.summary{break-after:auto;padding:.2em 1em .4em}
h1{font-size:15pt}h2{margin-top:.8em;font-size:12.5pt}h3{font-size:10.5pt;margin:.6em 0 .2em}
figure{margin:.4em 0 .8em}figcaption{font-size:7.5pt;line-height:1.3}
figure img{max-height:64mm;max-width:100%;display:block;margin:0 auto .2em}
figure.side{display:grid;grid-template-columns:auto 1fr;gap:4mm;align-items:start}
figure.side img{max-height:85mm;margin:0}
}
"""

#: Charts less than this many times wider than tall print with their caption beside them.
SIDE_BELOW = 1.6


def aspect(svg: Path) -> float:
    """An SVG chart's width over its height, from its root element's attributes."""
    head = svg.read_text(encoding="utf-8")[:2000]
    found = re.search(r'<svg[^>]*\bwidth="([\d.]+)[a-z]*"[^>]*\bheight="([\d.]+)[a-z]*"', head)
    if found is None:
        return 1.0
    return float(found.group(1)) / float(found.group(2))


#: Most rows a table shows in the report; a longer one is a link to its CSV only.
MAX_TABLE_ROWS = 24

#: Headers of the summary table's columns that are not outcomes (outcomes go by label).
_DERIVED_HEADERS = {"erosion": "margin eroded",
                    "capture_rate_sd": f"{human(CAPTURE_RATE)}, spread (sd, points)"}


def _e(text: object) -> str:
    return html.escape(str(text))


def _num(x: object) -> str:
    if isinstance(x, float | np.floating):
        return "" if np.isnan(x) else f"{x:.4g}"
    return _e(x)


def table_html(frame: pd.DataFrame, *, max_rows: int | None = None,
               left: tuple[str, ...] = ()) -> str:
    """A DataFrame as an HTML table (numbers to four significant digits).

    Args:
        frame: the table; text cells are shown as they are.
        max_rows: show at most this many rows, saying so.
        left: columns aligned left (words); the others align right (numbers).

    """
    shown = frame if max_rows is None else frame.head(max_rows)
    cls = [" class=l" if c in left else "" for c in shown.columns]
    head = "".join(f"<th{k}>{_e(c)}</th>" for c, k in zip(shown.columns, cls, strict=True))
    body = "".join(
        "<tr>" + "".join(f"<td{k}>{_num(v)}</td>" for v, k in zip(row, cls, strict=True))
        + "</tr>" for row in shown.itertuples(index=False))
    more = (f"<p class=meta>first {max_rows} of {len(frame)} rows; all in the CSV</p>"
            if max_rows is not None and len(frame) > max_rows else "")
    return f"<table><tr>{head}</tr>{body}</table>{more}"


# --- tables for readers: plain names, percentages -----------------------------------------
def _value(name: str, value: float) -> str:
    return "" if not np.isfinite(value) else value_text(name, value)


def boundary_table(an: Analysis) -> pd.DataFrame:
    """The capture boundary at each level, in the parameters' units (shares in %)."""
    found = an.boundary
    assert found is not None  # computed for every map; the report checks
    along, across = found.along, found.across
    words = {"inside": "inside the range", "above range": "never (above the range)",
             "below range": "always (below the range)"}
    rows = []
    for r in found.table.itertuples():
        rows.append({human(across): _value(across, r.level),
                     f"{human(along)} where half of KAMs are captured":
                     _value(along, r.critical) or words[r.status],
                     "95 % band from": _value(along, r.low) or "range end",
                     "to": _value(along, r.high) or "range end",
                     "runs": r.n_runs})
    return pd.DataFrame(rows)


def _diff(row: pd.Series) -> str:
    return points_interval(row["diff"], row["low"], row["high"])


def intervention_table(an: Analysis) -> pd.DataFrame:
    """Levers against the status quo: one row per lever, changes in percentage points."""
    assert an.interventions is not None  # computed for every lever sweep; the report checks
    table = an.interventions.table
    outcomes = [o for o in INTERVENTION_OUTCOMES if o in set(table.outcome)]
    first = table[table.outcome == outcomes[0]]
    rows: list[dict[str, str | int]] = [
        {"lever": "status quo (every lever at its lowest)", "set to": "",
         **{human(o): pct(table[table.outcome == o]["control_mean"].iloc[0])
            for o in outcomes}, "paired runs": ""}]
    for treatment in dict.fromkeys(first.treatment):
        part = table[table.treatment == treatment].set_index("outcome")
        value = part["treated_value"].iloc[0]
        rows.append({"lever": human(treatment) if treatment != "all levers" else treatment,
                     "set to": "" if not np.isfinite(value) else value_text(treatment, value),
                     **{human(o): _diff(part.loc[o]) for o in outcomes},
                     "paired runs": int(part["n_pairs"].iloc[0])})
    return pd.DataFrame(rows)


def sobol_table(an: Analysis) -> pd.DataFrame:
    """Sobol indices: per parameter, each outcome's total index (first-order alone)."""
    sobol = an.sobol
    assert sobol is not None  # computed for every sensitivity analysis; the report checks
    outcomes = list(dict.fromkeys(sobol.outcome))
    order = sobol[sobol.outcome == outcomes[0]].parameter
    rows = []
    for name in order:
        row = {"parameter": human(name)}
        for outcome in outcomes:
            r = sobol[(sobol.outcome == outcome) & (sobol.parameter == name)].iloc[0]
            row[human(outcome)] = f"{r.ST:.2f} ± {r.ST_conf:.2f} ({r.S1:.2f})"
        rows.append(row)
    return pd.DataFrame(rows)


def _design_points(an: Analysis, *, numeric: bool) -> pd.DataFrame:
    """One row per design point: a column per varied factor, the runs, mean outcomes."""
    summary = an.summary
    columns: dict[str, list[object]] = {}
    for name in an.results.varied:
        values = summary[name].to_numpy()
        if not pd.api.types.is_numeric_dtype(summary[name]):  # a list parameter's text
            columns[label(name) if numeric else human(name)] = list(values)
        elif numeric:
            scale = 100.0 if in_percent(name) else 1.0
            columns[label(name, percent=True)] = [scale * v for v in values]
        else:
            columns[human(name)] = [_value(name, v) for v in values]
    columns["runs"] = list(summary["n_runs"])
    erosion = [c for c in EROSION if c in summary]
    for name in [c for c in SUMMARY_OUTCOMES if c not in EROSION] + ["erosion"]:
        if name == "erosion":
            if not erosion:
                continue
            values = summary[erosion].sum(axis=1).to_numpy(float)
            header = (_DERIVED_HEADERS[name] + " (% of revenue)" if numeric
                      else _DERIVED_HEADERS[name])
        elif name in summary:
            values = summary[name].to_numpy(float)
            header = label(name, percent=True) if numeric else human(name)
        else:
            continue
        percent = name == "erosion" or in_percent(name)
        if numeric:
            columns[header] = [round(100 * v if percent else v, 4) for v in values]
        else:
            columns[header] = [(pct(v) if percent else f"{v:.2f}") if np.isfinite(v) else ""
                               for v in values]
    spread = summary["capture_rate_sd"].to_numpy(float)
    columns[_DERIVED_HEADERS["capture_rate_sd"]] = (
        [round(100 * v, 2) for v in spread] if numeric
        else [f"{100 * v:.1f}" if np.isfinite(v) else "" for v in spread])
    return pd.DataFrame(columns)


def summary_display(an: Analysis) -> pd.DataFrame:
    """Mean outcomes per design point: one column per varied factor, outcomes in percent.

    Each factor (a lever, an uncertainty) has a column of its own, headed by its label
    and valued in its units; the three erosion sources are shown as their total (each
    is in ``summary.csv``).
    """
    return _design_points(an, numeric=False)


def design_points_table(an: Analysis) -> pd.DataFrame:
    """:func:`summary_display` for a spreadsheet: numbers, with the units in the headers.

    Shares are in percent (``"KAMs captured (% of KAMs)"``), other values in their units
    (:func:`kamabm.names.label`); a missing value is empty.
    """
    return _design_points(an, numeric=True)


# --- the document -------------------------------------------------------------------------
def sentence(text: str) -> str:
    """``text`` ending with one full stop (none added after one already there)."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _summary_html(an: Analysis, found: Summary) -> str:
    notes = "".join(f"<p class=note>Note: {_e(sentence(n))}</p>" for n in found.notes)
    points = "".join(f"<li>{_e(p)}</li>" for p in found.points)
    return (f"<section class=summary id=summary><h2>Summary</h2>"
            f"<p>{_e(found.status_quo)}</p><ul>{points}</ul>{notes}</section>")


def _link(path: Path, base: Path) -> str:
    """A link to ``path``, relative to ``base`` when it lies below it."""
    try:
        shown = path.relative_to(base)
    except ValueError:
        shown = path
    return f"<a href=\"{_e(shown.as_posix())}\">{_e(shown.name)}</a>"


def figure_html(chart: Chart, base: Path, *, said: str = "", side: bool = False) -> str:
    """One chart as an HTML figure: the SVG embedded, its title, caption and CSV link.

    Args:
        chart: the chart drawn.
        base: the folder of the HTML page (links to the chart's CSV are relative to it).
        said: a sentence the page says once for all its charts (the runs they are drawn
            from); left out of the caption where the caption ends with it.
        side: mark the figure ``side`` (its class), for a stylesheet that prints the
            caption beside a chart not much wider than tall (:data:`SWEEP_CSS`).

    """
    data = base64.b64encode(chart.svg.read_bytes()).decode("ascii")
    more = (f"{_e(sentence(chart.finding))} " if chart.finding and chart.finding != chart.title
            else "")
    caption = chart.caption
    if said and caption.endswith(said):
        caption = caption.removesuffix(said).rstrip()
    kind = f"{_e(chart.kind)} class=side" if side else _e(chart.kind)
    return (f"<figure id={kind}><img alt=\"{_e(chart.title)}\" "
            f"src=\"data:image/svg+xml;base64,{data}\">"
            f"<figcaption><span class=finding>{_e(sentence(chart.title))}</span> {more}"
            f"{_e(caption)} Plotted numbers: {_link(chart.csv, base)}.</figcaption></figure>")


def _parameters_html(res: SweepResults) -> str:
    exp = res.experiment
    rows = []
    for v in exp.variables:
        spec = Parameters.spec(v.name)
        values = (", ".join(f"{x:g}" for x in v.values) if v.values is not None
                  else f"{v.low:g} to {v.high:g} ({exp.design.method})")
        rows.append({"parameter": v.name, "label": spec.label, "role": v.role,
                     "values": values, "unit": spec.unit, "meaning": spec.meaning})
    varied = pd.DataFrame(rows)
    base = exp.base.as_dict()
    fixed = pd.DataFrame([{"parameter": k, "label": Parameters.spec(k).label, "value": fmt(v),
                           "default": fmt(Parameters.default(k)),
                           "unit": Parameters.spec(k).unit, "meaning": Parameters.spec(k).meaning}
                          for k, v in base.items() if k not in res.varied])
    changed = fixed[fixed.value != fixed.default]
    words = ("parameter", "label", "role", "values", "unit", "meaning")
    return ("<h3>Varied</h3>" + table_html(varied, left=words) +
            "<h3>Fixed at other than their default</h3>" +
            (table_html(changed, left=words) if not changed.empty else "<p>none</p>") +
            "<details><summary>All fixed parameters</summary>" +
            table_html(fixed, left=words) + "</details>")


def _experiment_html(res: SweepResults) -> str:
    exp, man = res.experiment, res.manifest
    session = (man.get("sessions") or [{}])[-1]
    packages = session.get("packages") or {}
    version = session.get("code_version") or {}
    rows = [("file", man.get("experiment", {}).get("path", "")),
            ("design", f"{exp.design.method}, {exp.n_points} points x "
                       + (f"{exp.n_draws} constant sets x " if exp.ensemble else "")
                       + f"{exp.replications} replications"),
            ("runs", f"{len(res.runs)} succeeded, {res.failed} failed"
                     + (f", {res.missing} missing" if res.missing else "")),
            ("master seed", f"{exp.seed} (common random numbers: "
                            f"{'yes' if exp.common_random_numbers else 'no'})"),
            ("horizon", f"{exp.base.horizon_months} months"),
            ("ran", f"{man.get('started', '')} to {man.get('finished', '')}"),
            ("code version", version.get("git_commit", "unknown") +
             (" (with uncommitted changes)" if version.get("dirty") else "")),
            ("packages", ", ".join(f"{k} {v}" for k, v in packages.items()))]
    body = "".join(f"<tr><th class=l>{_e(k)}</th><td class=l>{_e(v)}</td></tr>"
                   for k, v in rows)
    return f"<table>{body}</table>"


def report_tables(an: Analysis) -> list[tuple[str, str, pd.DataFrame, tuple[str, ...]]]:
    """The report's tables, in order: ``(file stem, heading, table, left-aligned columns)``.

    Each is written as ``table_<stem>.csv`` beside the charts; the per-design-point table
    is written with numbers (:func:`design_points_table`), the others as shown.
    """
    tables: list[tuple[str, str, pd.DataFrame, tuple[str, ...]]] = []
    if an.boundary is not None:
        tables.append(("boundary", f"Where half of KAMs are captured: "
                       f"{human(an.boundary.along)} at each {human(an.boundary.across)}",
                       boundary_table(an), ()))
    if an.interventions is not None:
        tables.append(("levers", "Each lever against the status quo (change in percentage "
                       "points, 95 % interval; * clear effect)", intervention_table(an),
                       ("lever",)))
    if an.concentration is not None:
        tables.append(("concentration", "Which measure of concentration capture follows: "
                       "how well one curve fits every number of key clients (full numbers "
                       "in concentration_fit.csv)", concentration_display(an.concentration),
                       CONCENTRATION_WORDS))
    if an.contagion is not None:
        tables.append(("contagion", "One KAM held captured against free, paired on seeds: "
                       "change in rival KAMs captured (percentage points, 95 % interval; "
                       "* clear effect; full numbers in contagion_effects.csv)",
                       contagion_display(an.contagion), CONTAGION_WORDS))
    if an.sobol is not None:
        tables.append(("sobol", "What drives each outcome: total Sobol index ± half-width "
                       "of its 95 % interval (first-order index alone)", sobol_table(an),
                       ("parameter",)))
    tables.append(("design_points", "Mean outcomes at every design point (% unless said; "
                   "every outcome, unrounded, in summary.csv)", summary_display(an), ()))
    return tables


def _tables_html(an: Analysis, folder: Path, base: Path) -> str:
    """The tables section: each table's CSV written into ``folder`` and linked.

    A table of at most :data:`MAX_TABLE_ROWS` rows is shown too; a longer one is only
    linked, with its size.
    """
    parts = ["<h2>Tables</h2>"]
    for stem, heading, table, left in report_tables(an):
        path = folder / f"table_{stem}.csv"
        written = design_points_table(an) if stem == "design_points" else table
        written.to_csv(path, index=False, float_format="%.6g")
        if len(table) <= MAX_TABLE_ROWS:
            parts.append(f"<h3>{_e(heading)}</h3>" + table_html(table, left=left)
                         + f"<p class=\"meta csv\">As a spreadsheet: {_link(path, base)}.</p>")
        else:
            parts.append(f"<h3>{_e(heading)}</h3><p class=csv>{len(table)} rows of "
                         f"{len(written.columns)} columns, too long for a page: "
                         f"{_link(path, base)} (CSV, opens in a spreadsheet).</p>")
    return "".join(parts)


def write_report(an: Analysis, path: str | Path, *, charts_dir: str | Path | None = None
                 ) -> tuple[Path, list[Chart]]:
    """Draw the charts and write the self-contained HTML report.

    Args:
        an: the analysed results (:func:`kamabm.analysis.tables.analyse`).
        path: the HTML file to write.
        charts_dir: folder for the charts and tables (default ``charts`` beside ``path``).

    Returns:
        The report's path and the charts it embeds.

    """
    res = an.results
    path = Path(path)
    charts_dir = Path(charts_dir) if charts_dir is not None else path.parent / "charts"
    charts = make_charts(an, charts_dir)
    exp = res.experiment
    details = detailed_findings(an)
    runs = setting(res)
    parts = [f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
             f"<meta name=viewport content=\"width=device-width, initial-scale=1\">"
             f"<title>kamabm report: {_e(exp.name)}</title>"
             f"<style>{PAGE_CSS}{SWEEP_CSS}</style></head>"
             f"<body><h1>kamabm report: {_e(exp.name)}</h1>"
             f"<p class=lede>{_e(plain_words(exp.description))}</p>",
             _summary_html(an, executive_summary(an)),
             f"<h2>Charts</h2><p class=meta>Every chart: {_e(runs)}</p>"
             + "".join(figure_html(c, path.parent, said=runs, side=aspect(c.svg) < SIDE_BELOW)
                       for c in charts),
             _tables_html(an, charts_dir, path.parent),
             "<section class=details><h2>Details</h2>",
             ("<details id=findings><summary>Findings level by level</summary><ul>" +
              "".join(f"<li>{_e(s)}</li>" for s in details) + "</ul></details>"
              if details else ""),
             "<details id=provenance><summary>How this was made: experiment, parameters, "
             "code version</summary>" + _experiment_html(res) + _parameters_html(res) +
             f"<p class=meta>Generated by <code>kamabm report {_e(res.directory)}</code>."
             "</p></details></section></body></html>"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path, charts
