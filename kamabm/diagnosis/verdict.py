"""The diagnosis in sentences: the verdict, the recommendations, the books, the constants.

Every sentence is computed from a :class:`kamabm.diagnosis.diagnose.Diagnosis`, in plain
words (:mod:`kamabm.diagnosis.words`): the report, the deck and the command line say the
same things in the same words.
"""

from __future__ import annotations

import pandas as pd

from kamabm.diagnosis.constants import CAPTURE_LINE, Condition
from kamabm.diagnosis.diagnose import Diagnosis
from kamabm.diagnosis.words import (
    MINUS,
    band_text,
    cap,
    lever_name,
    money_band,
    money_text,
    option_dose,
    risk_word,
)
from kamabm.names import human, pct

#: Capture risk at the horizon from which an account is named among those to watch.
WATCH_FROM = 0.1
#: At most this many tied options are named beside the best one, and this many options
#: that do not pay in the verdict's "do not" line (the rest are in the table).
MAX_TIED_NAMED, MAX_AVOID_NAMED = 2, 2


def _num(value: float) -> str:
    """A constant's value to three significant digits, with a true minus sign."""
    return f"{value:.3g}".replace("-", MINUS)


def _doses(diag: Diagnosis) -> dict[str, float]:
    from kamabm.diagnosis.diagnose import option_doses

    return option_doses(diag.client)


def _short(diag: Diagnosis, option: str) -> str:
    """An option's name with its dose in short words."""
    from kamabm.diagnosis.words import dose_text

    doses = _doses(diag)
    return " + ".join(f"{lever_name(p)} ({dose_text(p, doses[p])})"
                      for p in option.split(" + "))


def horizon_risk(diag: Diagnosis) -> pd.DataFrame:
    """Capture risk per account at the horizon, highest first."""
    risk = diag.capture_risk
    return risk[risk.year == diag.read_years[-1]].sort_values("captured", ascending=False,
                                                              kind="stable")


def verdict_lines(diag: Diagnosis) -> list[str]:
    """The verdict in at most four lines.

    Capture risk by account, money at risk, the best option net of its cost, what not
    to do.
    """
    client, sq = diag.client, diag.status_quo
    cur = client.currency
    years = diag.read_years[-1]
    risks = ", ".join(f"{r.account} {risk_word(r.captured)} ({pct(r.captured, 0)})"
                      for r in horizon_risk(diag).itertuples())
    lines = [f"Capture risk in {years} years: {risks}."]
    share = sq["at_risk"] / client.turnover
    at_risk = money_band(sq["at_risk"], sq["at_risk_low"], sq["at_risk_high"], cur)
    lines.append(f"Money at risk from capture: {at_risk} a year, {pct(share)} of turnover.")
    levers = diag.levers
    if levers.empty:
        lines.append("Every lever is already in place: none left to test."
                     if not client.options() else "No option was tested.")
        return lines
    best = levers.iloc[0]
    tied = levers[(levers["rank"] == best["rank"]) & (levers.index > 0)]
    named = ", ".join(lever_name(o) for o in tied.lever.head(MAX_TIED_NAMED))
    more = len(tied) - MAX_TIED_NAMED
    tie = (f"; tied with {named}{f' and {more} more' if more > 0 else ''} (their bands "
           "overlap)" if len(tied) else "")
    payback = (f"; pays back in year {diag.payback_year}" if diag.payback_year else
               "; does not pay back within the horizon")
    if best.verdict == "pays":
        cost = money_band(best.cost, best.cost_low, best.cost_high, cur)
        lines.append(f"Best option: {_short(diag, best.lever)}: "
                     f"{money_band(best.net, best.net_low, best.net_high, cur, sign=True)} a "
                     f"year net of its cost of {cost}{payback}{tie}.")
    else:
        lines.append(f"No option is shown to pay: the best, {_short(diag, best.lever)}, "
                     f"gives {money_band(best.net, best.net_low, best.net_high, cur, sign=True)}"
                     " a year net of its cost.")
    bad = levers[levers.verdict == "does not pay"].sort_values("net", kind="stable")
    if not bad.empty:
        more = len(bad) - MAX_AVOID_NAMED
        lines.append("Do not: " + "; ".join(
            f"{lever_name(r.lever)}, {money_band(r.net, r.net_low, r.net_high, cur, sign=True)}"
            " a year" for r in bad.head(MAX_AVOID_NAMED).itertuples())
            + (f"; and {more} more in the table" if more > 0 else "")
            + ": each costs more than it brings.")
    else:
        worst = levers.iloc[-1]
        lines.append(f"Nothing tested surely loses money; the weakest is "
                     f"{lever_name(worst.lever)}, "
                     f"{money_band(worst.net, worst.net_low, worst.net_high, cur, sign=True)}"
                     " a year.")
    return lines


def condition_text(diag: Diagnosis, account: str, condition: Condition | None) -> str:
    """What would have to be true for an account's capture to pass one half."""
    line = pct(CAPTURE_LINE, 0)
    if condition is None:
        return ""
    if not condition.constant:
        where = "every one" if condition.share_above == 1 else "none"
        return (f"{account}: capture above {line} in {where} of the constant sets drawn; no "
                "constant decides it.")
    name = human(condition.constant)
    way = "above" if condition.rises else "below"
    return (f"{account}: capture above {line} only if the {name} is {way} "
            f"{_num(condition.threshold)} (drawn from {_num(condition.low)} to "
            f"{_num(condition.high)}: capture passes {line} in "
            f"{pct(condition.share_above, 0)} of the sets, and the rule is right for "
            f"{pct(condition.accuracy, 0)} of them; rank correlation "
            f"{_num(condition.correlation)}).")


def recommendations(diag: Diagnosis) -> list[str]:
    """What to do, consider, avoid and watch, for the deck's last slide and the report."""
    cur = diag.client.currency
    levers = diag.levers
    out = []
    if not levers.empty:
        best = levers.iloc[0]
        if best.verdict == "pays":
            doses = _doses(diag)
            out.append(f"Do: {lever_name(best.lever)}: "
                       f"{option_dose(best.lever, doses, diag.client)}; "
                       f"{money_band(best.net, best.net_low, best.net_high, cur, sign=True)} "
                       "a year net of its cost"
                       + (f", paid back in year {diag.payback_year}." if diag.payback_year
                          else "."))
        tied = levers[(levers["rank"] == best["rank"]) & (levers.index > 0)
                      & (levers.verdict == "pays")]
        if not tied.empty:
            out.append("Consider as well (not shown to differ from the best): "
                       + "; ".join(lever_name(o) for o in tied.lever) + ".")
        bad = levers[levers.verdict == "does not pay"]
        if not bad.empty:
            out.append("Avoid: " + "; ".join(lever_name(o) for o in bad.lever)
                       + ": each costs more than it brings.")
    watch = horizon_risk(diag)
    watch = watch[watch.captured >= WATCH_FROM]
    for r in watch.itertuples():
        j = [a.name for a in diag.client.accounts].index(r.account)
        cond = condition_text(diag, r.account, diag.conditions[j]) if diag.conditions else ""
        out.append(f"Watch {r.account} ({risk_word(r.captured)} risk, "
                   f"{pct(r.captured, 0)} of runs captured in {r.year} years)"
                   + (f": {cond.split(': ', 1)[1]}" if cond else "."))
    out.append("Check before acting: " + constants_line(diag))
    return out


def constants_line(diag: Diagnosis) -> str:
    """Which constants the numbers rest on, in one sentence."""
    sets = diag.constants
    if sets.mode == "defaults":
        return ("the model's constants are at their default values, neither calibrated to "
                "this client nor drawn from the calibration: the bands show the runs' "
                "noise only.")
    names = ", ".join(human(c) for c in sets.columns)
    return (f"the numbers are averaged over {len(sets.sets)} constant sets drawn by weight "
            f"from the calibration's {sets.particles_in_posterior} accepted sets ({names}); "
            "none is measured at this client.")


def calibration_lines(diag: Diagnosis) -> list[str]:
    """Exactly what is calibrated to what, read from the calibration's own files."""
    lines = [cap(constants_line(diag))]
    facts = diag.calibration
    if facts is None:
        return lines
    fitted = [t for t in facts.targets if t["fitted"]]
    held = [t for t in facts.targets if not t["fitted"]]
    if facts.fitted:
        met = sum(bool(t["matched"]) for t in fitted)
        lines.append("The calibration fitted " + ", ".join(
            f"the {human(n)}" for n, _, _ in facts.fitted)
            + f" to {len(fitted)} published number{'s' if len(fitted) != 1 else ''} and "
            f"patterns, and the model over its posterior meets {met} of them: "
            + "; ".join(_sources(fitted)) + ".")
    if held:
        missed = [t for t in held if not t["matched"]]
        lines.append("Held out (measured, not fitted) and missed by the model: "
                     + "; ".join(_sources(missed) or ["none"]) + ".")
    if not facts.targets:
        lines.append("The calibration's targets are not recorded beside its posterior.")
    if facts.pinned or facts.loose:
        pinned = ", ".join(f"the {human(n)}" for n in facts.pinned)
        loose = ", ".join(f"the {human(n)}" for n in facts.loose)
        lines.append(f"The data pin {pinned or 'none of the constants fitted'}"
                     + (f"; they say little about {loose}" if loose else "") + ".")
    lines.append("Every other constant is at its default value, an assumption.")
    return lines


def _sources(targets: list[dict]) -> list[str]:
    """Each target's source in short (its text before the first colon), once each."""
    return list(dict.fromkeys(t["source"].split(":", 1)[0].strip() for t in targets))


def books_lines(diag: Diagnosis) -> list[str]:
    """The baseline's margin, its base, and the anchoring to the client's books."""
    client, sq = diag.client, diag.status_quo
    cur = client.currency
    years = client.horizon_years
    over = (f"Over {years} years the status quo makes "
            f"{money_band(sq['profit'], sq['profit_low'], sq['profit_high'], cur)} profit a "
            f"year on {money_band(sq['revenue'], sq['revenue_low'], sq['revenue_high'], cur)}"
            f" revenue a year: a net margin of {pct(sq['margin'])} (profit over the "
            f"model's revenue, which drifts from the stated turnover of "
            f"{money_text(client.turnover, cur)}"
            f"); {pct(sq['margin_year1'])} in the first year.")
    target = client.target_margin
    if target is None:
        return [over, "Not anchored to the client's books: give the client's actual net "
                      "margin in the client file to anchor the baseline to it."]
    gross, sga = client.gross_margin, client.sga_share
    given = (f"{pct(gross)} gross margin less {pct(sga)} SG&A"
             if client.net_margin is None and gross is not None and sga is not None
             else f"net margin {pct(target)}")
    shift = sq["anchor"]
    what = ("costs outside the model (overheads) taken off" if shift >= 0
            else "earnings outside the model added to")
    sign = 1 if shift >= 0 else -1
    amount = money_band(sign * shift, sign * sq["anchor_low"], sign * sq["anchor_high"], cur)
    if sq["anchor_low"] == sq["anchor_high"]:
        amount = money_text(abs(shift), cur)
    lines = [f"Anchored to the client's books ({given}): the model alone gives a "
             f"first-year net margin of {pct(sq['model_margin_year1'])}; "
             f"{amount} a year of "
             f"{what} the profit, the same under every option, makes it "
             f"{pct(sq['margin_year1'])}, the client's. Option effects are unchanged by it.",
             over]
    if client.sga_share is not None:
        lines.append(f"The model books {pct(sq['people_cost'] / sq['revenue'])} of revenue "
                     "as people and acquisition costs (KAMs, senior time, training, "
                     f"review, handovers, small clients won) against the client's SG&A of "
                     f"{pct(client.sga_share)}.")
    return lines


def status_line(diag: Diagnosis, *, named: bool = True) -> str:
    """One line on the runs behind the numbers (for the command line and the lede)."""
    sets = diag.constants
    n_sets = len(sets.sets)
    runs = diag.client.replications * (diag.client.draws if sets.mode == "defaults" else 1)
    plural = "s" if n_sets != 1 else ""
    how = (f"{n_sets} constant set{plural} drawn from the calibration x {runs} runs"
           if sets.mode == "posterior" else f"{runs} runs at the model's default constants")
    singles = int(diag.levers.kind.isin(("single", "pressure")).sum()) if len(diag.levers) \
        else 0
    return (f"{diag.client.name + ': ' if named else 'Runs: '}{how} of "
            f"{diag.client.horizon_years} years for each of "
            f"{singles + len(diag.combinations) + 1} options (the status quo, {singles} "
            f"levers alone, {len(diag.combinations)} together).")


__all__ = ["band_text", "books_lines", "calibration_lines", "condition_text",
           "constants_line", "recommendations", "status_line", "verdict_lines"]
