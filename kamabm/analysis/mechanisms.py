"""What a result rests on: knock-outs of mechanisms, co-capture and dose-response tables.

Pure functions of a sweep's run table (one row per run), for the experiments that switch
mechanisms off (``experiments/mechanisms.toml``) and that dose the levers
(``experiments/dose_response.toml``). A mechanism is *knocked out* by setting its
parameter to 0; the share effect is the capture rate at the largest swept client share
less that at the smallest, at fixed pressure.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from kamabm.model.params import Parameters
from kamabm.names import (
    CAPTURE_RATE,
    CLIENT_SHARE,
    SUPPLIER_MARGIN,
    counts_kams,
    human,
    kams_per_run,
)
from kamabm.stats import select_setting, summarise

#: Mechanisms that carry an account's share of turnover to its KAM, by parameter.
DEPENDENCE = ("blame_weight", "keep_client_override", "buyer_leverage")
#: Mechanisms through which agents' captures depend on each other, by parameter.
INTERACTION = ("peer_influence", "rival_benchmark")
#: Knock-outs switched on at 1 rather than off at 0: a state held at its opening value.
HELD = ("cushion_held",)
#: Plain words for each mechanism: its parameter's label.
MECHANISM_NAMES: dict[str, str] = {m: human(m) for m in DEPENDENCE + INTERACTION + HELD}
#: The outcomes a knock-out table reports.
KNOCKOUT_OUTCOMES = (CAPTURE_RATE, "captured_months", SUPPLIER_MARGIN)


#: Column of a run's number of KAMs, the trials of a capture rate's interval.
_KAMS = "kams"


def summarise_outcome(runs: pd.DataFrame, outcome: str, by: str | list[str]) -> pd.DataFrame:
    """:func:`~kamabm.stats.summarise` of ``outcome``; a share of KAMs gets a Wilson interval.

    A capture rate is a count of KAMs out of the run's KAMs, so its interval is the
    binomial one over them (in [0, 1], and not empty when every run is at 0 or 1) rather
    than a t interval over the runs' rates, which can leave [0, 1].
    """
    if not counts_kams(outcome):
        return summarise(runs, outcome, by)
    return summarise(runs.assign(**{_KAMS: kams_per_run(runs)}), outcome, by, trials=_KAMS)


def variants(mechanisms: Sequence[str]) -> dict[str, dict[str, float]]:
    """The settings compared: all on (defaults), each mechanism off alone, all off.

    A :data:`HELD` knock-out is "off" at 1 (the state held) and named by its label.
    """
    on = {m: float(Parameters.default(m)) for m in mechanisms}
    off = {m: 1.0 if m in HELD else 0.0 for m in mechanisms}
    out = {"all on": dict(on)}
    for m in mechanisms:
        name = MECHANISM_NAMES.get(m, m)
        out[name if m in HELD else f"no {name}"] = {**on, m: off[m]}
    dependence = [m for m in mechanisms if m in DEPENDENCE]
    if len(dependence) > 1:
        out["no dependence mechanism"] = {**on, **{m: 0.0 for m in dependence}}
    out["all off"] = off
    return out


def knockouts(runs: pd.DataFrame, mechanisms: Sequence[str], *,
              by: str = CLIENT_SHARE) -> pd.DataFrame:
    """Mean outcomes with 95 % intervals for each variant at each level of ``by``.

    Returns:
        One row per (variant, level, outcome): ``variant``, ``by``, ``outcome``,
        ``mean``, ``low``, ``high``, ``n``. Variants the runs do not hold are left out.

    """
    rows = []
    for name, setting in variants(mechanisms).items():
        chosen = select_setting(runs, setting)
        if chosen.empty:
            continue
        for outcome in KNOCKOUT_OUTCOMES:
            if outcome not in chosen:
                continue
            table = summarise_outcome(chosen, outcome, by)
            table.insert(0, "variant", name)
            table.insert(2, "outcome", outcome)
            rows.append(table)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def share_effects(table: pd.DataFrame, *, by: str = CLIENT_SHARE) -> pd.DataFrame:
    """Per variant: capture at each level of ``by``, the share effect, and what is left.

    The share effect is capture at the largest level less capture at the smallest;
    ``kept`` is the variant's effect over the all-on effect (1 when the knocked-out
    mechanism carries none of it, 0 when it carries all of it).
    """
    capture = table[table.outcome == CAPTURE_RATE].pivot(index="variant", columns=by,
                                                           values="mean")
    levels = sorted(capture.columns)
    effect = capture[levels[-1]] - capture[levels[0]]
    out = capture.copy()
    out.columns = [f"capture at {by} {level:g}" for level in levels]
    out["share_effect"] = effect
    full = effect.get("all on")
    out["kept"] = effect / full if full else float("nan")
    order = [v for v in table.variant.unique() if v in out.index]
    return out.loc[order].reset_index()


def co_capture(runs: pd.DataFrame, mechanisms: Sequence[str] = INTERACTION, *,
               by: str = CLIENT_SHARE) -> pd.DataFrame:
    """Co-capture within a supplier and within a buyer, for each interaction on or off.

    Returns:
        One row per (variant, level of ``by``, measure): the mean excess chance that a
        pair sharing a supplier (or a buyer) is both captured, with its 95 % interval.

    """
    rows = []
    on = {m: float(Parameters.default(m)) for m in DEPENDENCE + HELD if m in runs}
    for name, setting in variants(mechanisms).items():
        if name == "no dependence mechanism":
            continue
        name = "no interaction" if name == "all off" else name
        chosen = select_setting(runs, {**on, **setting})
        for measure in ("co_capture_supplier", "co_capture_buyer"):
            if chosen.empty or measure not in chosen:
                continue
            table = summarise(chosen, measure, by)
            table.insert(0, "variant", name)
            table.insert(2, "measure", measure)
            rows.append(table)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()


def dose_response(runs: pd.DataFrame, levers: Sequence[str],
                  outcomes: Sequence[str] = (CAPTURE_RATE, SUPPLIER_MARGIN)) -> pd.DataFrame:
    """Each lever alone from its lowest to its highest level, the others at their lowest.

    Returns:
        One row per (lever, level, outcome): ``lever``, ``level``, ``outcome``, ``mean``,
        ``low``, ``high``, ``n``.

    """
    low = {name: float(runs[name].min()) for name in levers}
    rows = []
    for lever in levers:
        others = {k: v for k, v in low.items() if k != lever}
        chosen = select_setting(runs, others)
        for outcome in outcomes:
            table = summarise_outcome(chosen, outcome, lever).rename(columns={lever: "level"})
            table.insert(0, "lever", lever)
            table.insert(2, "outcome", outcome)
            rows.append(table)
    return pd.concat(rows, ignore_index=True)


def best_dose(table: pd.DataFrame, lever: str, outcome: str = SUPPLIER_MARGIN) -> float:
    """The level of ``lever`` with the highest mean ``outcome`` (where it stops paying)."""
    line = table[(table.lever == lever) & (table.outcome == outcome)]
    return float(line.loc[line["mean"].idxmax(), "level"])
