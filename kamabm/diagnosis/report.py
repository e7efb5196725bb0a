"""The written diagnosis of a client: tables, charts, a one-page HTML summary, slides.

:func:`write_diagnosis` writes, into one folder, the tables of a
:class:`kamabm.diagnosis.diagnose.Diagnosis` as CSV, its charts (PNG, SVG and the CSV of the
plotted numbers, in ``charts/``), ``provenance.json`` (the client file, parameters,
seeds, versions) and ``report.html``: plain words first (the status quo, capture risk,
margin at risk, the levers that pay and those that do not, the capture map), then what
the model assumes, the charts, the tables and, folded at the end, how it was made. The
HTML embeds its charts, fits a 1,280 px window and prints on A4, like the sweep report
(:mod:`kamabm.report.html`). With ``deck=True`` it also writes ``diagnosis.pptx``
(:mod:`kamabm.report.deck`, the optional ``deck`` extra).
"""

from __future__ import annotations

import html
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kamabm.diagnosis.diagnose import (
    ASSUMPTIONS,
    Diagnosis,
    dose_text,
    lever_name,
    money_text,
    status_quo_text,
)
from kamabm.model.params import Parameters
from kamabm.names import pct
from kamabm.report.html import PAGE_CSS, figure_html

__all__ = ["REPORT", "TABLES", "diagnosis_points", "write_diagnosis"]

#: The report's file name, and the tables written beside it.
REPORT = "report.html"
TABLES = ("capture_risk.csv", "margin_at_risk.csv", "levers.csv", "capture_map.csv")

#: The diagnosis page: the reports' stylesheet, plus the assumptions box and the
#: definitions list, and smaller print tables (the diagnosis tables are wider).
_CSS = PAGE_CSS + """
.assume{border-left:4px solid #0072B2;background:#f3f7fb;padding:.3em 1.2em .6em;margin:1.2em 0}
.assume h2{border:0;margin-top:.4em;font-size:1.15em}.assume li{margin:.25em 0}
dt{font-weight:600;margin-top:.4em}dd{margin-left:1.2em}
@media print{
.assume{background:none;break-inside:avoid}
table{font-size:7.5pt}figure img{max-height:200mm}
}
"""


def _e(text: object) -> str:
    return html.escape(str(text))


def _interval(mid: float, low: float, high: float, *, scale: float = 100.0,
              unit: str = " %", sign: bool = False) -> str:
    """``57 % (39 to 73 %)``; points with a sign when ``sign``."""
    if not np.isfinite(mid):
        return "n/a"
    fmt = "{:+.0f}" if sign else "{:.0f}"
    text = f"{fmt.format(scale * mid)}{unit} ({fmt.format(scale * low)} to " \
           f"{fmt.format(scale * high)}{unit})"
    return text.replace("-", "\u2212")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def cost_text(diag: Diagnosis, cost: float) -> str:
    """A lever's yearly cost in words; "no cost booked" when it books none."""
    return "no cost booked" if abs(cost) < 0.5 else f"{diag.money(cost)} a year"


def _money_interval(diag: Diagnosis, mid: float, low: float, high: float, *,
                    sign: bool = False) -> str:
    if not np.isfinite(mid):
        return "n/a"
    return (f"{diag.money(mid, sign=sign)} ({money_text(low, sign=sign)} to "
            f"{money_text(high, sign=sign)})")


# --- the words -------------------------------------------------------------------------------
def diagnosis_points(diag: Diagnosis) -> tuple[str, list[str], list[str]]:
    """The summary in plain words: the status quo, the findings, the notes.

    Every sentence is computed from the diagnosis.
    """
    client, sq = diag.client, diag.status_quo
    horizon = client.horizon_years
    margin = pct(sq["margin"]).replace("-", "\u2212")
    status = (status_quo_text(client) + f" Over {horizon} years the model gives the client "
              f"a profit of {diag.money(sq['profit'])} a year (95 %: "
              f"{money_text(sq['profit_low'])} to {money_text(sq['profit_high'])}), a net "
              f"margin of {margin}, with {pct(sq['capture'], 0)} of its key "
              f"accounts in captured KAMs' hands at the end.")
    points = []
    risk = diag.capture_risk
    last = risk[risk.year == diag.read_years[-1]]
    parts = [f"{r.account} {_interval(r.captured, r.low, r.high)}" for r in last.itertuples()]
    first_year = risk[risk.year == diag.read_years[0]]
    early = first_year[first_year.captured > 0]
    points.append(
        f"Capture risk after {diag.read_years[-1]} years (share of runs in which the "
        f"account's KAM is captured, 95 % interval): {'; '.join(parts)}. "
        + (f"After {diag.read_years[0]} year{'s' if diag.read_years[0] > 1 else ''}: "
           + ("no account's KAM is captured in any run." if early.empty else
              "; ".join(f"{r.account} {pct(r.captured, 0)}" for r in early.itertuples())
              + ".")))
    owners = [a for a in client.accounts if a.negotiator == "owner"]
    if owners and len(owners) < len(client.accounts):
        owned = last[last.negotiator == "owner"]["captured"].mean()
        procured = last[last.negotiator != "owner"]["captured"].mean()
        points.append(f"Owner-run accounts' KAMs are captured in {pct(owned, 0)} of runs on "
                      f"average, procurement-run ones' in {pct(procured, 0)} (in the model a "
                      "detached negotiator presses the KAM harder; the accounts' sizes differ "
                      "too).")
    mar = diag.margin_at_risk
    known = mar[np.isfinite(mar.at_risk)]
    total = float(known.at_risk.sum())
    if total > 0:
        ranked = known.sort_values("at_risk", ascending=False)
        shown = "; ".join(f"{r.account} {_money_interval(diag, r.at_risk, r.low, r.high)}"
                          for r in ranked.itertuples() if r.at_risk > 0)
        points.append(f"Margin at risk: capture puts about {diag.money(total)} a year at risk "
                      f"({pct(total / client.turnover)} of turnover): {shown}. That is the "
                      f"chance the account's KAM is captured times what the account earns "
                      f"less in its last year when he is.")
    elif not known.empty:
        points.append("Margin at risk: no account's KAM is captured in these runs, so "
                      "capture puts no margin at risk at present.")
    lost = mar[~np.isfinite(mar.at_risk)]
    if not lost.empty:
        points.append(f"{', '.join(lost.account)}: the KAM is captured in every run, so the "
                      "model has no loyal run to price the loss against.")
    levers = diag.levers
    if levers.empty:
        points.append("Every lever is already in place: none left to test.")
    else:
        pays = levers[levers.verdict == "pays"]
        for r in pays.head(3).itertuples():
            change = _interval(r.capture, r.capture_low, r.capture_high, unit=" points",
                               sign=True)
            points.append(
                f"{_cap(lever_name(r.lever))} ({dose_text(r.lever, r.dose)}) adds "
                f"{_money_interval(diag, r.net, r.net_low, r.net_high, sign=True)} a year "
                f"net of its cost ({cost_text(diag, r.cost)}) and changes the share of key "
                f"accounts with a captured KAM by {change}.")
        if len(pays) > 3:
            points.append("Also paying: " + ", ".join(
                f"{lever_name(r.lever)} ({diag.money(r.net, sign=True)})"
                for r in pays.iloc[3:].itertuples()) + ".")
        bad = levers[levers.verdict == "does not pay"]
        unclear = levers[levers.verdict == "unclear"]
        if not bad.empty:
            points.append("Do not pay (they cost more than they bring): " + "; ".join(
                f"{lever_name(r.lever)} ({diag.money(r.net, sign=True)} a year)"
                for r in bad.itertuples()) + ".")
        if not unclear.empty:
            points.append("Not shown to pay (the interval includes zero): " + "; ".join(
                f"{lever_name(r.lever)} ({diag.money(r.net, sign=True)} a year)"
                for r in unclear.itertuples()) + ".")
        if pays.empty:
            points.append("No lever tested is shown to pay at its standard dose.")
    from kamabm.diagnosis.charts import map_finding

    finding = map_finding(diag)
    points.append(f"Capture map: {finding[0].lower()}{finding[1:]}; the client is at "
                  f"{pct(client.key_share, 0)} and pressure {client.pressure:g}."
                  + safe_pressure_text(diag))
    notes = (["the rivals run none of the levers: each lever is the client's alone"]
             if client.rivals_levers == "none" else
             ["the rivals run the same levers as the client, each lever tested included"])
    if client.replications < 100:
        notes.append(f"only {client.replications} replications: intervals are wide")
    return status, points, notes


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


def _definitions(diag: Diagnosis) -> list[tuple[str, str]]:
    scale = diag.money_per_unit
    return [
        ("Captured", "the KAM in charge of the account that month has a loyalty to his "
         "employer below 0.5 (1 fully loyal, 0 the client's agent); under rotation, whoever "
         "holds the account then."),
        ("Capture risk", "the share of replications in which the account's KAM is captured "
         "at the end of year 1, 3, 5 (and the horizon), with a 95 % Wilson interval."),
        ("Margin at risk", "the probability that the account's KAM is captured at the "
         "horizon, times the account's mean profit over the last year in replications "
         "where he is loyal at the horizon less where he is captured; a year, in the "
         "client's money, with a 95 % bootstrap interval (2,000 resamples of the "
         "replications). The account's profit is its gross margin after cost to serve, "
         "less the extra demands delivered and its KAM's cost."),
        ("Lever effect", "each lever not in place, at its standard dose (the 'on' level of "
         "experiments/interventions.toml), run on the same seeds as the status quo; the "
         "mean of the run-by-run differences with a 95 % t interval. Capture: the share of "
         "key accounts whose KAM is captured at the horizon, in points. Profit: the "
         "client's profit a year over the horizon after every cost its books carry (the "
         "lever's included). Cost: the change in people and small-client acquisition "
         "costs booked. Before cost: profit change plus that cost. A lever 'pays' when the "
         "whole interval of its net profit change is above zero."),
        ("Capture map", f"the share of the client's key accounts whose KAM is captured "
         f"after {diag.map_months / 12:g} years, over its key accounts' total share of "
         f"turnover and its pressure, each point the mean of "
         f"{diag.client.map_replications} runs."),
        ("Money", f"the model counts money in units of unit production cost; one unit is "
         f"{money_text(scale, diag.client.currency)} here, so that the client's opening "
         f"turnover in the model equals its stated turnover."),
    ]


# --- tables for readers ------------------------------------------------------------------------
def _risk_display(diag: Diagnosis) -> pd.DataFrame:
    rows = []
    for a in diag.client.accounts:
        part = diag.capture_risk[diag.capture_risk.account == a.name]
        row = {"key account": a.name, "negotiator": a.negotiator,
               "share of turnover": pct(a.share, 0)}
        for r in part.itertuples():
            row[f"after {r.year} year{'s' if r.year > 1 else ''}"] = _interval(
                r.captured, r.low, r.high)
        rows.append(row)
    return pd.DataFrame(rows)


def _mar_display(diag: Diagnosis) -> pd.DataFrame:
    return pd.DataFrame([{
        "key account": r.account, "turnover a year": diag.money(r.turnover),
        "captured at the horizon": pct(r.capture_at_horizon, 0),
        "profit, last year, KAM loyal": diag.money(r.profit_loyal),
        "profit, last year, KAM captured": diag.money(r.profit_captured),
        "margin at risk a year (95 %)": _money_interval(diag, r.at_risk, r.low, r.high)}
        for r in diag.margin_at_risk.itertuples()])


def _levers_display(diag: Diagnosis) -> pd.DataFrame:
    return pd.DataFrame([{
        "lever": lever_name(r.lever), "dose": dose_text(r.lever, r.dose),
        "captured accounts, change (points)": _interval(
            r.capture, r.capture_low, r.capture_high, unit="", sign=True),
        "profit a year, net of cost": _money_interval(diag, r.net, r.net_low, r.net_high,
                                                      sign=True),
        "lever's cost a year": diag.money(r.cost),
        "profit before its cost": diag.money(r.gross, sign=True),
        "verdict": r.verdict} for r in diag.levers.itertuples()])


def _table_html(frame: pd.DataFrame, left: Sequence[str] = ()) -> str:
    cls = [" class=l" if c in left else "" for c in frame.columns]
    head = "".join(f"<th{k}>{_e(c)}</th>" for c, k in zip(frame.columns, cls, strict=True))
    body = "".join("<tr>" + "".join(f"<td{k}>{_e(v)}</td>" for v, k in
                                    zip(row, cls, strict=True)) + "</tr>"
                   for row in frame.itertuples(index=False))
    return f"<table><tr>{head}</tr>{body}</table>"


# --- provenance ----------------------------------------------------------------------------------
def provenance(diag: Diagnosis, command: str = "") -> dict[str, Any]:
    """What made the diagnosis: client file, parameters, seeds, versions, timing."""
    from kamabm.experiments.provenance import code_version, environment

    client = diag.client
    source = Path(client.source) if client.source else None
    return {
        "client_file": str(source) if source else "",
        "client_file_text": (source.read_text(encoding="utf-8")
                             if source is not None and source.is_file() else ""),
        "command": command,
        "parameters": {k: list(v) if isinstance(v, tuple) else v
                       for k, v in diag.params.as_dict().items()},
        "money_per_model_unit": diag.money_per_unit,
        "master_seed": client.seed,
        "replications": client.replications,
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
            ("runs", f"{prov['runs']:,} ({diag.client.replications} replications of the "
                     f"status quo and of each lever, {diag.client.map_replications} at each "
                     f"of {len(diag.capture_map)} map points), {prov['wall_time_s']:g} s"
                     + (f" ({diag.runs_resumed:,} of them stored by an earlier, stopped call)"
                        if diag.runs_resumed else "")),
            ("master seed", f"{diag.client.seed}; seeds of the status quo and levers "
                            f"{', '.join(str(s) for s in diag.seeds[:3])}, ... (all in "
                            "provenance.json)"),
            ("code version", f"{prov['code_version']}, git "
                             f"{git.get('git_commit', 'unknown')}"
                             + (" (with uncommitted changes)" if git.get("dirty") else "")),
            ("Python", env.get("python", "")),
            ("packages", ", ".join(f"{k} {v}" for k, v in env.get("packages", {}).items()))]
    body = "".join(f"<tr><th class=l>{_e(k)}</th><td class=l>{_e(v)}</td></tr>"
                   for k, v in rows)
    changed = [{"parameter": k, "value": _fmt(v), "default": _fmt(Parameters.default(k)),
                "meaning": Parameters.spec(k).meaning}
               for k, v in diag.params.as_dict().items() if v != Parameters.default(k)]
    return (f"<table>{body}</table><h3>Model parameters other than their defaults</h3>"
            + _table_html(pd.DataFrame(changed), left=("parameter", "value", "default",
                                                       "meaning")))


def _fmt(value: Any) -> str:
    if isinstance(value, tuple):
        return ", ".join(f"{v:g}" for v in value) if value else "none"
    return f"{value:g}"


# --- the folder ----------------------------------------------------------------------------------
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
    tables = dict(zip(TABLES, (diag.capture_risk, diag.margin_at_risk, diag.levers,
                               diag.capture_map), strict=True))
    written = []
    for name, table in tables.items():
        table.to_csv(out / name, index=False, float_format="%.6g")
        written.append(out / name)
    charts = diagnosis_charts(diag, out / "charts")
    for chart in charts:
        written.extend(chart.files)
    prov = provenance(diag, command)
    (out / "provenance.json").write_text(json.dumps(prov, indent=2, default=_json),
                                         encoding="utf-8")
    written.append(out / "provenance.json")

    status, points, notes = diagnosis_points(diag)
    client = diag.client
    summary = (f"<section class=summary id=summary><h2>Summary</h2><p>{_e(status)}</p><ul>"
               + "".join(f"<li>{_e(p)}</li>" for p in points) + "</ul>"
               + "".join(f"<p class=note>Note: {_e(n)}.</p>" for n in notes) + "</section>")
    assume = ("<section class=assume id=assumptions><h2>What the model assumes</h2><ul>"
              + "".join(f"<li>{_e(a)}</li>" for a in ASSUMPTIONS) + "</ul></section>")
    definitions = ("<h2>What each number means</h2><dl>" + "".join(
        f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in _definitions(diag)) + "</dl>")
    tables_html = ("<h2>Tables</h2><h3>Capture risk: runs in which the account's KAM is "
                   "captured (95 % interval)</h3>"
                   + _table_html(_risk_display(diag), left=("key account", "negotiator"))
                   + "<h3>Margin at risk</h3>" + _table_html(_mar_display(diag),
                                                             left=("key account",))
                   + ("<h3>Levers not in place, at a standard dose, against the status quo "
                      "(95 % intervals)</h3>" + _table_html(_levers_display(diag),
                                                            left=("lever", "dose", "verdict"))
                      if not diag.levers.empty else "")
                   + "<p class=meta>Every number in " + ", ".join(TABLES) + ".</p>")
    page = [
        "<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content=\"width=device-width, initial-scale=1\">"
        f"<title>Diagnosis: {_e(client.name)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Diagnosis: {_e(client.name)}</h1><p class=lede>How likely the key account "
        f"managers of {_e(client.name)} are to be captured by its key clients, what it "
        "costs, and which management levers pay, from the client's own portfolio "
        "(kamabm).</p>",
        summary, assume,
        "<h2>Charts</h2>" + "".join(figure_html(c, out) for c in charts),
        tables_html, definitions,
        "<details id=provenance><summary>How this was made: client file, parameters, seeds, "
        "versions</summary>" + _provenance_html(diag, prov) + "</details></body></html>"]
    report = out / REPORT
    report.write_text("\n".join(page), encoding="utf-8")
    written.insert(0, report)
    if deck:
        from kamabm.report.deck import write_deck
        from kamabm.report.summary import Summary

        path = write_deck(f"Diagnosis: {client.name}",
                          Summary(status, tuple(points), tuple(notes)), charts,
                          out / "diagnosis.pptx")
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
