"""The executive summary of a sweep in plain words, and its findings in detail.

:func:`executive_summary` gives a board the status quo and a few sentences with human
names for parameters and levers and percentages; :func:`detailed_findings` gives the
analyst every level with its interval. Both write from :class:`kamabm.analysis.tables.Analysis`
and compute no table of their own; the report and the slide deck use them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from kamabm.analysis.concentration import AXES, concentration_details, concentration_sentences
from kamabm.analysis.contagion import EFFECT_WORDS, contagion_details, contagion_sentences
from kamabm.analysis.ensemble import ensemble_sentences
from kamabm.analysis.results import (
    CONTAGION,
    ENSEMBLE,
    HYSTERESIS,
    INTERVENTIONS,
    MAP,
    MARGINS,
    ONE_FACTOR,
    SENSITIVITY,
)
from kamabm.analysis.tables import Analysis
from kamabm.model.params import LEVER, RUN, STRUCTURAL, Parameters
from kamabm.names import (
    CAPTURE_RATE,
    KEY_MARGIN,
    MOST_CAPTURED,
    PRESSURE,
    SUPPLIER_MARGIN,
    human,
    known,
    levels_text,
    pct,
    plain_words,
    setting_text,
    value_text,
)
from kamabm.stats import EROSION


@dataclass(frozen=True)
class Summary:
    """What a board reads first.

    Attributes:
        status_quo: one sentence stating the status quo the results compare against.
        points: the main findings, one plain sentence each.
        notes: caveats (runs missing or failed, charts that could not be drawn).

    """

    status_quo: str
    points: tuple[str, ...]
    notes: tuple[str, ...]


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _points(x: float) -> str:
    """A difference of shares in percentage points, signed: ``-0.183`` -> ``-18.3 points``."""
    return f"{100 * x:+.1f} points".replace("-", "\u2212")


def status_quo(an: Analysis) -> str:
    """The status quo the results compare against, in one plain sentence."""
    res = an.results
    base = res.experiment.base.as_dict()
    if an.kind == INTERVENTIONS and an.interventions is not None:
        settings = an.interventions.settings["status quo"]
        off = ", ".join(f"{human(k)} {value_text(k, v)}" for k, v in settings.items())
        fixed = _fixed(an)
        cap = an.interventions.table
        cap = cap[cap.outcome == CAPTURE_RATE]
        where = f" at {setting_text(fixed)}" if fixed else ""
        text = f"The status quo is every lever at its lowest ({off}){where}"
        if not cap.empty:
            text += (f": there {pct(cap['control_mean'].iloc[0], 0)} of KAMs end up "
                     "captured")
        margin = an.interventions.table
        margin = margin[margin.outcome == KEY_MARGIN]
        if not margin.empty:
            text += (f" and the key-account gross margin is "
                     f"{pct(margin['control_mean'].iloc[0])}")
        return text + f"; runs last {_months(an)}."
    fixed = _fixed(an)
    levers_off = all(base[k] == Parameters.spec(k).low for k in base
                     if k not in res.varied and Parameters.spec(k).group == LEVER)
    text = "Everything not varied is at the model's defaults"
    if fixed:
        text += f", except {setting_text(fixed)}"
    ensemble = res.experiment.ensemble
    if ensemble is not None:
        text += (f", except the constants {', '.join(human(c) for c in ensemble.columns or ())}"
                 ", drawn "
                 f"{ensemble.draws} times from a calibration's posterior (draw 0 keeps the "
                 "defaults)")
    if levers_off:
        text += "; no management lever is switched on (the status quo)"
    return text + f"; runs last {_months(an)}."


def _fixed(an: Analysis) -> dict[str, float]:
    """Fixed parameters away from their defaults, run control left out."""
    res = an.results
    return {k: v for k, v in res.experiment.base.as_dict().items()
            if k not in res.varied and v != Parameters.default(k)
            and Parameters.spec(k).group != RUN}


def _months(an: Analysis) -> str:
    return f"{an.results.experiment.base.horizon_months} months"


def executive_summary(an: Analysis) -> Summary:
    """The status quo, the main findings and the caveats, in plain words."""
    points: list[str] = []
    if an.kind == MAP:
        points += _map_points(an)
    elif an.kind == ONE_FACTOR:
        points += _factor_points(an)
    elif an.kind == INTERVENTIONS and an.interventions is not None:
        points += _lever_points(an)
    elif an.kind == HYSTERESIS:
        points += _hysteresis_points(an)
    elif an.kind == SENSITIVITY and an.sobol is not None:
        points += _sensitivity_points(an)
    elif an.kind == ENSEMBLE and an.ensemble is not None:
        points += ensemble_sentences(an.ensemble)
    elif an.kind == CONTAGION and an.contagion is not None:
        points += contagion_sentences(an.contagion)
    if an.concentration is not None:
        points += concentration_sentences(an.concentration)
    erosion = _erosion_point(an)
    if erosion:
        points.append(erosion)
    notes = [plain_words(n) for n in an.notes]  # the command line prints them as they are
    if an.results.failed:
        notes.append(f"{an.results.failed} runs failed and are left out.")
    if (an.kind in (MAP, ONE_FACTOR, INTERVENTIONS, HYSTERESIS, CONTAGION)
            and _at_default_constants(an)):
        notes.append(AT_DEFAULT_CONSTANTS)
    return Summary(status_quo(an), tuple(plain_words(p) for p in points), tuple(notes))


#: The caveat of a result computed at the default structural constants only.
AT_DEFAULT_CONSTANTS = (
    "These numbers hold at the model's default constants, the calibration's point estimate. "
    "Over the constant sets the calibration accepts, where capture emerges is a band of "
    "client shares rather than a line (docs/findings.md, 'Over the calibrated ensemble').")


def _at_default_constants(an: Analysis) -> bool:
    """Whether no structural constant is varied or moved off its default in this sweep."""
    res = an.results
    base = res.experiment.base
    return not any(Parameters.spec(name).group == STRUCTURAL
                   and (name in res.varied or getattr(base, name) != Parameters.default(name))
                   for name in Parameters.names())


def _map_points(an: Analysis) -> list[str]:
    found = an.boundary
    assert found is not None  # computed for every map
    along, across = found.along, found.across
    inside = found.inside
    points = []
    verb = "passes" if found.direction == 1 else "falls below"
    if not inside.empty:
        first, last = inside.iloc[0], inside.iloc[-1]
        text = (f"Most KAMs end up captured once {human(along)} {verb} "
                f"{value_text(along, first.critical)} with {human(across)} at "
                f"{value_text(across, first.level)}")
        if len(inside) > 1:
            text += (f"; at {value_text(across, last.level)} it takes "
                     f"{value_text(along, last.critical)}")
        points.append(text + ".")
    never, always = found.outside()
    if never:
        levels = levels_text(never, found.table.level, lambda v: value_text(across, v))
        points.append(f"With {human(across)} at {levels}, fewer "
                      f"than half of KAMs are captured whatever the {human(along)} tested.")
    if always:
        end = "lowest" if found.direction == 1 else "highest"
        levels = levels_text(always, found.table.level, lambda v: value_text(across, v))
        points.append(f"With {human(across)} at {levels}, most "
                      f"KAMs are captured even at the {end} {human(along)} tested.")
    means = an.cells
    assert means is not None  # computed for every map
    high, low = means[means[CAPTURE_RATE] >= MOST_CAPTURED], means[means[CAPTURE_RATE] < 0.1]
    for name in an.margins:
        if high.empty or low.empty:
            break
        gap = an.margin_gaps[name]
        text = (f"Where most KAMs are captured, the {human(name)} averages "
                f"{pct(high[name].mean())}, against {pct(low[name].mean())} where fewer "
                "than one in ten are")
        if gap["levels"]:
            text += (f"; at the same {human(along)}, runs with most KAMs captured earn "
                     f"{abs(100 * gap['gap']):.1f} points "
                     f"{'less' if gap['gap'] < 0 else 'more'}")
        points.append(text + ".")
    return points


def _factor_points(an: Analysis) -> list[str]:
    (factor,) = an.factors
    table = an.by_factor
    assert table is not None  # computed for every one-factor sweep
    points = []
    for name in (CAPTURE_RATE, KEY_MARGIN, SUPPLIER_MARGIN):
        line = table[table.outcome == name].sort_values(factor)
        if line.empty:
            continue
        first, last = line.iloc[0], line.iloc[-1]
        points.append(f"{_cap(human(name))}: {pct(first['mean'])} at {human(factor)} "
                      f"{value_text(factor, first[factor])}, {pct(last['mean'])} at "
                      f"{value_text(factor, last[factor])}.")
    return points


def _lever_points(an: Analysis) -> list[str]:
    assert an.interventions is not None  # the caller checks
    table = an.interventions.table
    cap = table[table.outcome == CAPTURE_RATE].set_index("treatment")
    single = cap.drop(index="all levers", errors="ignore")
    points = []
    helps = single[single["high"] < 0].sort_values("diff")
    hurts = single[single["low"] > 0].sort_values("diff", ascending=False)
    unclear = single[(single["low"] <= 0) & (single["high"] >= 0)]
    if not helps.empty:
        rounded = (100 * helps["diff"]).round()
        leaders = list(rounded.index[rounded == rounded.iloc[0]])
        items = [f"{human(t)} ({_points(r['diff'])}, 95 % interval "
                 f"{_points(r['low'])} to {_points(r['high'])})"
                 for t, r in helps.iterrows()]
        text = "Levers that clearly cut capture: " + "; ".join(items) + "."
        if len(leaders) > 1:
            text += f" {_cap(' and '.join(human(t) for t in leaders))} tie for the largest cut."
        points.append(text)
    else:
        points.append("No lever on its own clearly cuts capture.")
    if not hurts.empty:
        points.append("Levers that raise capture: " + "; ".join(
            f"{human(t)} ({_points(r['diff'])})" for t, r in hurts.iterrows()) + ".")
    if not unclear.empty:
        points.append("No clear effect on capture (intervals include zero): "
                      + ", ".join(human(t) for t in unclear.index) + ".")
    if "all levers" in cap.index:
        row = cap.loc["all levers"]
        text = f"All levers together: capture {_points(row['diff'])}"
        margin = table[(table.outcome == KEY_MARGIN) & (table.treatment == "all levers")]
        if not margin.empty:
            text += f", key-account gross margin {_points(margin['diff'].iloc[0])}"
        points.append(text + ".")
    return points


def _hysteresis_points(an: Analysis) -> list[str]:
    res = an.results
    assert an.hysteresis is not None  # computed for every hysteresis experiment
    _, gaps = an.hysteresis
    widest = gaps.loc[gaps["gap"].idxmax()]
    month = res.experiment.base.pressure_change_month
    lo, hi = res.runs[PRESSURE].min(), res.runs[PRESSURE].max()
    return [f"Lowering the sales pressure does not undo capture at once: lowered to "
            f"{value_text(PRESSURE, widest.level)} after {month} months at "
            f"{value_text(PRESSURE, hi)}, it leaves {pct(widest.down, 0)} of KAMs "
            f"captured at the end; raised to the same level from "
            f"{value_text(PRESSURE, lo)}, {pct(widest.up, 0)}."]


def _sensitivity_points(an: Analysis) -> list[str]:
    assert an.sobol is not None  # the caller checks
    points = []
    for outcome, part in an.sobol.groupby("outcome", sort=False):
        top = part.sort_values("ST", ascending=False)
        a, b = top.iloc[0], top.iloc[1]
        tie = a.ST - a.ST_conf <= b.ST + b.ST_conf
        if tie:
            points.append(f"{_cap(human(a.parameter))} drives {human(outcome)} most over the "
                          f"ranges tested (about {100 * a.ST:.0f} % of its variance with "
                          f"interactions), but not clearly more than {human(b.parameter)} "
                          f"({100 * b.ST:.0f} %): their intervals overlap.")
        else:
            points.append(f"{_cap(human(a.parameter))} drives {human(outcome)} most over the "
                          f"ranges tested (about {100 * a.ST:.0f} % of its variance with "
                          f"interactions), then {human(b.parameter)} ({100 * b.ST:.0f} %).")
    return points


def _erosion_point(an: Analysis) -> str | None:
    runs = an.results.runs
    if not set(EROSION) <= set(runs.columns):
        return None
    total = runs[list(EROSION)].sum(axis=1)
    high = runs[CAPTURE_RATE] >= MOST_CAPTURED
    if not (high.any() and (~high).any()):
        return None
    share = runs.loc[high, "erosion_price"].sum() / total[high].sum()
    return (f"Margin lost to price concessions, extra demands and diverted service averages "
            f"{pct(total[high].mean())} of revenue in runs where most KAMs are captured and "
            f"{pct(total[~high].mean())} in the others; price concessions are "
            f"{pct(share, 0)} of it in captured runs.")


# --- the analyst's findings --------------------------------------------------------------
def detailed_findings(an: Analysis) -> list[str]:
    """Every finding with its interval, level by level, in the vocabulary's plain words."""
    found: list[str] = []
    if an.kind == MAP:
        found += _map_details(an)
    elif an.kind == INTERVENTIONS and an.interventions is not None:
        found += _lever_details(an)
    elif an.kind == HYSTERESIS:
        assert an.hysteresis is not None  # computed for every hysteresis experiment
        for row in an.hysteresis[1].itertuples():
            found.append(f"At final pressure {row.level:g}: {pct(row.down)} of KAMs captured "
                         f"when pressure was lowered to it, {pct(row.up)} when it was raised "
                         f"to it (gap {100 * row.gap:+.0f} points).")
    elif an.kind == SENSITIVITY and an.sobol is not None:
        for outcome, part in an.sobol.groupby("outcome", sort=False):
            top = part.sort_values("ST", ascending=False).head(3)
            ranked = ", ".join(f"{human(r.parameter)} (total {r.ST:.2f}, alone {r.S1:.2f})"
                               for r in top.itertuples())
            found.append(f"The variance of {human(outcome)} over the swept ranges is driven "
                         f"most by {ranked}.")
    elif an.kind == ONE_FACTOR:
        (factor,) = an.factors
        assert an.by_factor is not None  # computed for every one-factor sweep
        for row in an.by_factor.itertuples():
            found.append(f"With {human(factor)} at {value_text(factor, getattr(row, factor))}: "
                         f"mean {human(row.outcome)} "
                         f"{pct(row.mean)} (95 % interval {pct(row.low)} to "
                         f"{pct(row.high)}, {row.n} runs).")
    elif an.kind == CONTAGION and an.contagion is not None:
        found += contagion_details(an.contagion)
    if an.concentration is not None:
        found += concentration_details(an.concentration)
    return [_in_words(f) for f in found]


#: Code names the concentration and contagion analyses write in their details (their
#: axes and effects), with the words those analyses give them.
_TERMS = {**EFFECT_WORDS, **{axis: words for axis, (words, _) in AXES.items()}}


def _in_words(text: str) -> str:
    """``text`` with parameters', outcomes', axes' and effects' code names in words."""
    text = plain_words(text)
    for code, words in _TERMS.items():
        text = re.sub(rf"\b{code}\b", words, text)
    return text


def _map_details(an: Analysis) -> list[str]:
    found = an.boundary
    assert found is not None  # computed for every map
    along, across = found.along, found.across
    word = "reaches" if found.direction == 1 else "falls below"
    out = []
    for row in found.inside.itertuples():
        low = ("the bottom of the range" if not np.isfinite(row.low)
               else value_text(along, row.low))
        high = "beyond the range" if not np.isfinite(row.high) else value_text(along, row.high)
        out.append(f"With {human(across)} at {value_text(across, row.level)}, most KAMs are "
                   f"captured once {human(along)} {word} {value_text(along, row.critical)} "
                   f"(95 % bootstrap band {low} to {high}).")
    means = an.cells
    assert means is not None  # computed for every map
    high, low = means[means[CAPTURE_RATE] >= MOST_CAPTURED], means[means[CAPTURE_RATE] < 0.1]
    for name in MARGINS:
        if name not in means or high.empty or low.empty:
            continue
        gap = an.margin_gaps[name]
        out.append(
            f"{_cap(human(name))} averages {pct(high[name].mean())} at "
            f"the {len(high)} design points where most KAMs are captured and "
            f"{pct(low[name].mean())} at the {len(low)} where fewer than 10 % are; at equal "
            f"{human(along)}, captured runs earn {-100 * gap['gap']:.1f} points less.")
    return out


def _lever_details(an: Analysis) -> list[str]:
    assert an.interventions is not None  # the caller checks
    found = []
    for name, part in an.interventions.table.groupby("treatment", sort=False):
        bits = []
        for row in part.itertuples():
            sig = "" if row.low <= 0 <= row.high else " (significant)"
            bits.append(f"{human(row.outcome)} {100 * row.diff:+.1f} points "
                        f"[{100 * row.low:+.1f}, {100 * row.high:+.1f}]{sig}")
        changed = {k: v for k, v in an.interventions.settings[name].items()
                   if v != an.interventions.settings["status quo"][k]}
        lever = human(name) if known(name) else name
        found.append(f"{_cap(lever)} ({setting_text(changed)}) against the "
                     f"status quo, paired over {part.n_pairs.iloc[0]} seeds: "
                     + "; ".join(bits) + ".")
    return found
