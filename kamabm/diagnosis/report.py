"""The written diagnosis of a client: tables, charts, a two-page HTML report, slides.

:func:`write_diagnosis` writes, into one folder, the tables of a
:class:`kamabm.diagnosis.diagnose.Diagnosis` as CSV, its charts (PNG, SVG and the CSV of the
plotted numbers, in ``charts/``), ``provenance.json`` and ``report.html``: the verdict
first (at most four lines: capture risk by account, money at risk, the best option net
of its cost, what not to do), then the key accounts, the options ranked (ties marked),
the year-by-year timeline with its payback year, the books and what the model assumes
(what is calibrated to what, read from the calibration); then, on screen only, the
charts, the definitions and how it was made. It prints on two A4 pages and fits a
1,280 px window; an amount never wraps. With ``deck=True`` it also writes
``diagnosis.pptx`` (:mod:`kamabm.report.deck`): the verdict, one slide a chart, the
recommendations.
"""

from __future__ import annotations

import html
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kamabm.diagnosis.diagnose import ASSUMPTIONS, STATUS_QUO, Diagnosis, option_doses
from kamabm.diagnosis.verdict import (
    books_lines,
    calibration_lines,
    condition_text,
    recommendations,
    status_line,
    verdict_lines,
)
from kamabm.diagnosis.words import (
    band_text,
    cap,
    lever_name,
    money_band,
    money_text,
    option_dose,
    status_quo_text,
)
from kamabm.names import pct
from kamabm.report.html import PAGE_CSS, figure_html

__all__ = ["REPORT", "TABLES", "diagnosis_points", "diagnosis_tables", "safe_pressure_text",
           "write_diagnosis"]

#: The report's file name, and the tables written beside it.
REPORT = "report.html"
TABLES = ("capture_risk.csv", "margin_at_risk.csv", "levers.csv", "capture_map.csv",
          "combinations.csv", "timeline.csv")

#: The diagnosis page: the reports' stylesheet, a verdict box, an assumptions box, amounts
#: that never wrap, and a print layout of two A4 pages (charts and details on screen).
_CSS = PAGE_CSS + """
.verdict{border:2px solid #0072B2;border-radius:4px;padding:.3em 1.2em .5em;margin:1em 0}
.verdict h2{border:0;margin:.3em 0}.verdict p{margin:.3em 0;font-size:1.05em}
.assume{border-left:4px solid #0072B2;background:#f3f7fb;padding:.3em 1.2em .6em;margin:1.2em 0}
.assume h2{border:0;margin-top:.4em;font-size:1.15em}.assume li{margin:.2em 0}
.m{white-space:nowrap;overflow-wrap:normal;word-break:keep-all}
table.d td,table.d th{overflow-wrap:normal}
dt{font-weight:600;margin-top:.4em}dd{margin-left:1.2em}
@media print{
body{font-size:8.5pt;line-height:1.3}h1{font-size:1.4em;margin:0}
h2{font-size:1.1em;margin:.7em 0 .2em}.lede{margin:.1em 0}
.verdict{padding:.1em .8em .3em;margin:.5em 0}.verdict p{font-size:1em;margin:.15em 0}
.assume{background:none;break-inside:avoid;padding:.1em .8em .2em;margin:.5em 0}
.assume h2{margin:.2em 0}.assume ul{margin:.2em 0;padding-left:1.2em}
ul{margin:.2em 0}li{margin:.05em 0}p{margin:.25em 0}
table{font-size:7pt;margin:.3em 0}.screen{display:none}
}
"""
#: A run of text holding a non-breaking space (an amount, a value with its unit).
_GLUED = re.compile(r"[^\s]+(?:\u00a0[^\s]+)+")


def _h(text: object) -> str:
    """``text`` escaped, each amount (glued by non-breaking spaces) in a nowrap span."""
    return _GLUED.sub(lambda m: f"<span class=m>{m.group(0)}</span>",
                      html.escape(str(text)))


def _table_html(frame: pd.DataFrame, left: Sequence[str] = ()) -> str:
    cls = [" class=l" if c in left else "" for c in frame.columns]
    head = "".join(f"<th{k}>{_h(c)}</th>" for c, k in zip(frame.columns, cls, strict=True))
    body = "".join("<tr>" + "".join(f"<td{k}>{_h(v)}</td>" for v, k in
                                    zip(row, cls, strict=True)) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table class=d><tr>{head}</tr>{body}</table>"


# --- the words -------------------------------------------------------------------------------
def diagnosis_points(diag: Diagnosis) -> tuple[str, list[str], list[str]]:
    """What the command line prints: the runs behind it, the verdict, the notes."""
    notes = (["the rivals run none of the levers: each lever is the client's alone"]
             if diag.client.rivals_levers == "none" else
             ["the rivals run the same levers as the client, each option tested included"])
    if diag.client.runs_per_option < 100:
        notes.append(f"only {diag.client.runs_per_option} runs an option: bands are wide")
    return status_line(diag), verdict_lines(diag), notes


#: Capture on the map at or below which a pressure counts as safe in the summary.
SAFE_CAPTURE = 0.1


def safe_pressure_text(diag: Diagnosis) -> str:
    """The highest map pressure up to which capture stays low at the client's share.

    Read at the map's share nearest the client's: every pressure up to the one named
    keeps capture at or below :data:`SAFE_CAPTURE`; "" when even no pressure does.
    """
    table = diag.capture_map
    shares = np.array(sorted(set(table.key_share)))
    nearest = shares[np.argmin(np.abs(shares - diag.client.key_share))]
    column = table[table.key_share == nearest].sort_values("pressure")
    low = (column.capture <= SAFE_CAPTURE + 1e-12).to_numpy()
    if not low[0]:
        return ""
    k = len(low) if low.all() else int(np.argmin(low))
    top = column.pressure.iloc[k - 1]
    if k == len(low):
        return f" At this share capture stays at or below {pct(SAFE_CAPTURE, 0)} at every pressure."
    return (f" At this share, pressure {top:g} or less keeps capture at or below "
            f"{pct(SAFE_CAPTURE, 0)}.")


def _band_word(diag: Diagnosis) -> str:
    return ("the middle 90 % of the constant sets drawn (each set averaged over its runs)"
            if diag.constants.spread else "a 95 % confidence interval over the runs")


def _definitions(diag: Diagnosis) -> list[tuple[str, str]]:
    return [
        ("Band", f"every figure in brackets: {_band_word(diag)}; the figure itself is the "
         "mean over every run, so a few constant sets far from the others can put it "
         "outside the band (1 % (0 to 0 %): nine sets in ten give 0, a few give more)."),
        ("Captured", "the KAM in charge of the account that month has a loyalty to his "
         "employer below 0.5 (1 fully loyal, 0 the client's agent)."),
        ("Capture risk", "the share of runs in which the account's KAM is captured at the "
         "end of year 1, 3, 5 (and the horizon)."),
        ("Margin at risk", "the probability that the account's KAM is captured at the "
         "horizon times the account's mean profit over the last year in runs where he is "
         "loyal less where he is captured; a year, in the client's money."),
        ("Option", "a lever not in place at its standard dose, lower sales pressure, every "
         "pair of them and the client's own combination, each run on the same seeds and "
         "constants as the status quo. Profit: the client's profit a year over the "
         "horizon after every cost its books carry, the option's included (net). Cost: "
         "the change in people and small-client acquisition costs booked. An option "
         "'pays' when its whole band is above zero. Options whose bands overlap the band "
         "of the best of their group share its rank: tied."),
        ("Payback year", "the first year from which the best option's cumulative profit "
         "gain over the status quo stays above zero."),
        ("What would have to be true", "over the constant sets drawn, the constant with the "
         "strongest rank correlation with the account's capture, and where a monotone fit "
         "of capture on it crosses 50 %."),
        ("Money", f"the model counts money in units of unit production cost; one unit is "
         f"{money_text(diag.money_per_unit, diag.client.currency)} here, so that the "
         "client's opening turnover in the model equals its stated turnover."),
    ]


# --- tables for readers ------------------------------------------------------------------------
def _accounts_display(diag: Diagnosis) -> pd.DataFrame:
    cur = diag.client.currency
    rows = []
    mar = diag.margin_at_risk.set_index("account")
    for a in diag.client.accounts:
        part = diag.capture_risk[diag.capture_risk.account == a.name]
        row = {"key account": a.name, "share": pct(a.share, 0), "negotiator": a.kind}
        for r in part.itertuples():
            row[f"captured, {r.year} y"] = band_text(r.captured, r.low, r.high)
        m = mar.loc[a.name]
        row["margin at risk a year"] = money_band(m.at_risk, m.low, m.high, cur)
        rows.append(row)
    return pd.DataFrame(rows)


def _options_display(diag: Diagnosis) -> pd.DataFrame:
    cur = diag.client.currency
    doses = option_doses(diag.client)
    return pd.DataFrame([{
        "rank": f"{r.rank}{' tied' if r.tied else ''}",
        "option": lever_name(r.lever) + ("" if r.kind in ("single", "pressure")
                                         else f" ({r.kind})"),
        "what it means in a year": option_dose(r.lever, doses, diag.client),
        "profit a year, net of its cost": money_band(r.net, r.net_low, r.net_high, cur,
                                                     sign=True),
        "its cost a year": money_band(r.cost, r.cost_low, r.cost_high, cur),
        "captured accounts (points)": band_text(r.capture, r.capture_low, r.capture_high,
                                                unit="", sign=True),
        "verdict": r.verdict} for r in diag.levers.itertuples()])


def _timeline_display(diag: Diagnosis) -> pd.DataFrame:
    cur = diag.client.currency
    return pd.DataFrame([{
        "year": r.year,
        "profit, status quo": money_band(r.profit_sq, r.profit_sq_low, r.profit_sq_high, cur),
        "profit, best option": money_band(r.profit_best, r.profit_best_low,
                                          r.profit_best_high, cur),
        "captured, status quo": pct(r.capture_sq, 0),
        "captured, best option": pct(r.capture_best, 0),
        "cumulative gain": money_band(r.cumulative_gain, r.cumulative_gain_low,
                                      r.cumulative_gain_high, cur, sign=True)}
        for r in diag.timeline.itertuples()])


def _combinations_display(diag: Diagnosis) -> pd.DataFrame:
    cur = diag.client.currency
    return pd.DataFrame([{
        "levers together": lever_name(r.lever) + (" (yours)" if r.kind == "your combination"
                                                  else ""),
        "profit a year, net of cost": money_band(r.net, r.net_low, r.net_high, cur, sign=True),
        "captured accounts (points)": band_text(r.capture, r.capture_low, r.capture_high,
                                                unit="", sign=True),
        "verdict": r.verdict} for r in diag.combinations.itertuples()])


# --- provenance ----------------------------------------------------------------------------------
def provenance(diag: Diagnosis, command: str = "") -> dict[str, Any]:
    """What made the diagnosis: client file, parameters, constants, seeds, versions."""
    from kamabm.experiments.provenance import code_version, environment

    client = diag.client
    source = Path(client.source) if client.source else None
    sets = diag.constants
    return {
        "client_file": str(source) if source else "",
        "client_file_text": (source.read_text(encoding="utf-8")
                             if source is not None and source.is_file() else ""),
        "command": command,
        "parameters": {k: list(v) if isinstance(v, tuple) else v
                       for k, v in diag.params.as_dict().items()},
        "constants": {"mode": sets.mode, "posterior": sets.source, "sha256": sets.digest,
                      "particles": sets.particles_in_posterior, "columns": list(sets.columns),
                      "sets": [{"particle": p, **s}
                               for p, s in zip(sets.particles, sets.sets, strict=True)]},
        "money_per_model_unit": diag.money_per_unit,
        "anchor_per_year": diag.status_quo["anchor"],
        "master_seed": client.seed,
        "replications_per_set": len(diag.seeds) // len(sets.sets),
        "seeds": list(diag.seeds),
        "map_replications": client.map_replications,
        "map_seeds": list(diag.map_seeds),
        "runs": diag.runs,
        "runs_resumed": diag.runs_resumed,
        "wall_time_s": round(diag.wall_time, 2),
        "workers": diag.workers,
        "engine": diag.engine,
        "environment": environment(),
        "code_version": code_version()["version"],
    }


def _provenance_html(diag: Diagnosis, prov: dict[str, Any]) -> str:
    env = prov["environment"]
    git = env.get("code_version") or {}
    rows = [("client file", prov["client_file"] or "(built in Python)"),
            ("command", prov["command"]),
            ("runs", f"{prov['runs']:,} ({diag.client.runs_per_option:,} of each option, "
                     f"{diag.client.map_replications} at each of {len(diag.capture_map)} "
                     f"map points), {prov['wall_time_s']:g} s"
                     + (f" ({diag.runs_resumed:,} of them stored by an earlier, stopped call)"
                        if diag.runs_resumed else "")),
            ("constants", diag.constants.source or "the model's defaults"),
            ("master seed", f"{diag.client.seed} (every seed in provenance.json)"),
            ("code version", f"{prov['code_version']}, git "
                             f"{git.get('git_commit', 'unknown')}"
                             + (" (with uncommitted changes)" if git.get("dirty") else "")),
            ("Python", env.get("python", ""))]
    return "<table>" + "".join(f"<tr><th class=l>{_h(k)}</th><td class=l>{_h(v)}</td></tr>"
                               for k, v in rows) + "</table>"


# --- the folder ----------------------------------------------------------------------------------
def diagnosis_tables(diag: Diagnosis) -> dict[str, pd.DataFrame]:
    """The tables written as CSV, by file name (:data:`TABLES`)."""
    mar = diag.margin_at_risk.assign(what_would_have_to_be_true=[
        condition_text(diag, a.name, c) for a, c in zip(diag.client.accounts,
                                                         diag.conditions, strict=True)])
    return dict(zip(TABLES, (diag.capture_risk, mar, diag.levers, diag.capture_map,
                             diag.combinations, diag.timeline), strict=True))


def _page(diag: Diagnosis, charts: list[Any], out: Path, prov: dict[str, Any]) -> str:
    client = diag.client
    verdict = "".join(f"<p>{_h(line)}</p>" for line in verdict_lines(diag))
    conds = [condition_text(diag, a.name, c)
             for a, c in zip(client.accounts, diag.conditions, strict=True)]
    conds = [c for c in conds if c]
    best = diag.levers.lever.iloc[0] if not diag.levers.empty else None
    payback = ("" if best is None else
               f"<p>{_h(cap(lever_name(best)))}: " + (f"pays back in year {diag.payback_year}."
                                                if diag.payback_year else
                                                "does not pay back within the horizon.")
               + "</p>")
    ties = ("<p class=meta>Rank: by profit net of cost; options marked tied have bands that "
            "overlap the band of the best option of their rank, so their order is not "
            "established.</p>")
    assume = (["<section class=assume id=assumptions><h2>What the model assumes</h2><ul>"]
              + [f"<li>{_h(a)}</li>" for a in (*ASSUMPTIONS, *calibration_lines(diag))]
              + ["</ul></section>"])
    lede = (f"{_h(status_quo_text(client))} {_h(status_line(diag, named=False))} Figures "
            "in brackets: "
            f"{_h(_band_word(diag))}.")
    timeline = ("" if diag.timeline.empty else
                f"<h2>Year by year: the status quo and {_h(lever_name(best or STATUS_QUO))}"
                f"</h2>" + _table_html(_timeline_display(diag),
                                       left=("year",)) + payback)
    details = (
        "<div class=screen><h2>Charts</h2>"
        + "".join(figure_html(c, out) for c in charts)
        + ("<h2>Levers together</h2>" + _table_html(_combinations_display(diag),
                                                    left=("levers together", "verdict"))
           if not diag.combinations.empty else "")
        + "<h2>What each number means</h2><dl>"
        + "".join(f"<dt>{_h(k)}</dt><dd>{_h(v)}</dd>" for k, v in _definitions(diag))
        + "</dl><details id=provenance><summary>How this was made: client file, constants, "
        "seeds, versions</summary>" + _provenance_html(diag, prov) + "</details></div>"
        "<p class=meta>Every number in " + ", ".join(TABLES) + "; the charts, the levers "
        "together, the definitions and how this was made are in report.html on screen.</p>")
    return "\n".join([
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content=\"width=device-width, initial-scale=1\">"
        f"<title>Diagnosis: {_h(client.name)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Diagnosis: {_h(client.name)}</h1>",
        f"<section class=verdict id=verdict><h2>Verdict</h2>{verdict}</section>",
        f"<p class=lede>{lede}</p>",
        "<h2>Key accounts</h2>" + _table_html(_accounts_display(diag),
                                              left=("key account", "negotiator"))
        + ("<ul id=conditions>" + "".join(f"<li>{_h(c)}</li>" for c in conds) + "</ul>"
           if conds else ""),
        ("<h2>Options, ranked</h2>" + _table_html(_options_display(diag), left=(
            "option", "what it means in a year", "verdict")) + ties
         if not diag.levers.empty else ""),
        timeline,
        "<h2>The books</h2>" + "".join(f"<p>{_h(line)}</p>" for line in books_lines(diag)),
        "".join(assume), details, "</body></html>"])


def write_diagnosis(diag: Diagnosis, out: str | Path, *, deck: bool = False,
                    command: str = "") -> list[Path]:
    """Write the tables, charts, provenance and HTML report (and slides) into ``out``.

    Args:
        diag: the diagnosis (:func:`kamabm.diagnosis.diagnose.diagnose`).
        out: the folder (created if missing).
        deck: also write ``diagnosis.pptx`` (needs python-pptx; raises
            :class:`kamabm.report.deck.DeckError` without it).
        command: the command line that made it, for the provenance.

    Returns:
        The files written, the report first.

    """
    from kamabm.diagnosis.charts import diagnosis_charts

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in diagnosis_tables(diag).items():
        table.to_csv(out / name, index=False, float_format="%.6g")
        written.append(out / name)
    charts = diagnosis_charts(diag, out / "charts")
    for chart in charts:
        written.extend(chart.files)
    prov = provenance(diag, command)
    (out / "provenance.json").write_text(json.dumps(prov, indent=2, default=_json),
                                         encoding="utf-8")
    written.append(out / "provenance.json")
    report = out / REPORT
    report.write_text(_page(diag, charts, out, prov), encoding="utf-8")
    written.insert(0, report)
    if deck:
        from kamabm.report.deck import write_deck
        from kamabm.report.summary import Summary

        status, points, notes = diagnosis_points(diag)
        path = write_deck(f"Diagnosis: {diag.client.name}",
                          Summary(status, tuple(points), tuple(notes)), charts,
                          out / "diagnosis.pptx", verdict=points,
                          recommendations=recommendations(diag))
        written.append(path)
    return written


def _json(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON: {type(value).__name__}")


def command_line() -> str:
    """The command line of this process, as typed (for the provenance)."""
    return " ".join(["kamabm", *sys.argv[1:]]) if sys.argv else ""

