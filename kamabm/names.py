"""Names the analysis, charts and report use: parameters and outcomes, and how to say them.

The code names of the parameters the analysis defaults to live here once (not as string
literals in every function signature), with the plain words a board reads and the axis
labels charts carry. Units and meanings come from :class:`~kamabm.model.params.Parameters`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from kamabm.model.params import Parameters

# --- parameters the analysis defaults to ------------------------------------------------
#: The key clients' share of a supplier's turnover (the phase diagram's x axis).
CLIENT_SHARE = "client_revenue_share"
#: Management pressure on KAMs (the phase diagram's y axis).
PRESSURE = "kam_pressure"
#: Pressure after the scheduled change (hysteresis experiments).
PRESSURE_AFTER = "pressure_after_change"
#: Month of the scheduled change of pressure (0: never).
PRESSURE_CHANGE_MONTH = "pressure_change_month"

# --- outcomes -----------------------------------------------------------------------------
CAPTURE_RATE = "capture_rate"
KEY_MARGIN = "key_account_margin"
SUPPLIER_MARGIN = "supplier_margin"

#: Plain words for parameters and outcomes, for findings and tables a board reads.
HUMAN: dict[str, str] = {
    CLIENT_SHARE: "key clients' share of turnover",
    PRESSURE: "sales pressure on KAMs",
    PRESSURE_AFTER: "sales pressure after the change",
    PRESSURE_CHANGE_MONTH: "month of the pressure change",
    "buyer_detachment": "buyers' detachment",
    "n_suppliers": "competing suppliers",
    "n_key_buyers": "key clients",
    "learning_ability": "KAMs' ability to learn",
    "kpi_margin_weight": "margin in the KAMs' bonus",
    "training": "training with protected learning time",
    "deal_review": "deal review and pricing limits",
    "senior_support": "senior managers at key negotiations",
    "rotation_months": "rotating KAMs between clients",
    "smb_growth": "extra small-client acquisition",
    "horizon_months": "length of the run",
    CAPTURE_RATE: "KAMs captured",
    KEY_MARGIN: "key-account gross margin",
    SUPPLIER_MARGIN: "supplier net margin",
    "operational_share": "operational share of KAM time",
    "client_satisfaction": "key clients' satisfaction",
    "deadlock_rate": "negotiations ending in deadlock",
    "erosion_price": "margin lost to price concessions",
    "erosion_demands": "margin lost to extra demands granted",
    "erosion_resources": "margin lost to diverted service",
}

#: Axis labels of parameters, with their unit, where the spec's unit says too little.
_AXIS: dict[str, str] = {
    CLIENT_SHARE: "client revenue share (share of supplier turnover)",
    PRESSURE: "KAM pressure (index, 0 to 1)",
    PRESSURE_AFTER: "KAM pressure after the change (index, 0 to 1)",
    "buyer_detachment": "buyer negotiator's detachment (0 owner, 1 procedure)",
    "n_suppliers": "competing suppliers (buyer's alternatives + 1)",
}


def human(name: str) -> str:
    """Plain words for a parameter or outcome (its code name with spaces if none)."""
    return HUMAN.get(name, name.replace("_", " "))


def short(name: str) -> str:
    """A code name with spaces, as chart titles name factors."""
    return name.replace("_", " ")


def label(name: str) -> str:
    """Axis label of a parameter, with its unit."""
    if name in _AXIS:
        return _AXIS[name]
    if name in Parameters.names():
        return f"{name.replace('_', ' ')} ({Parameters.spec(name).unit})"
    return name.replace("_", " ")


def fmt(value: float | tuple[float, ...]) -> str:
    """A parameter value, briefly (``0.8``, ``12``; a list as ``0.3, 0.15``)."""
    if isinstance(value, tuple):
        return ", ".join(f"{v:g}" for v in value) if value else "none"
    return f"{value:g}"


def pct(share: float, digits: int = 1) -> str:
    """A share as a percentage: ``0.8583`` -> ``"85.8 %"``."""
    return f"{100 * share:.{digits}f} %"


#: Units whose values are shown as percentages.
PERCENT_UNITS = ("share", "probability")


def value_text(name: str, value: float) -> str:
    """A parameter's value in plain words: shares in percent, months as months."""
    if isinstance(value, tuple):  # a list parameter: each value in plain words
        return ", ".join(value_text(name, v) for v in value) if value else "none"
    unit = Parameters.spec(name).unit if name in Parameters.names() else ""
    if unit in PERCENT_UNITS:
        return f"{100 * value:.0f} %"
    if unit == "per month":
        return f"{100 * value:g} % a month"
    if unit == "months":
        return f"{value:g} months"
    return f"{value:.2g}" if isinstance(value, float) and value != round(value) else fmt(value)


def setting_text(setting: dict[str, float]) -> str:
    """A setting of parameters in plain words: "sales pressure on KAMs at 0.8, ..."."""
    return ", ".join(f"{human(k)} at {value_text(k, v)}" for k, v in setting.items())


def levels_text(levels: Sequence[float], every: Sequence[float],
                show: Callable[[float], str] = fmt) -> str:
    """Name a set of levels briefly: "0.6 or less", "0.4 or more", or a list.

    Args:
        levels: the levels to name, sorted.
        every: all the levels there are.
        show: how to write one level.

    """
    every = sorted(every)
    k = len(levels)
    if k and list(levels) == every[:k] and k < len(every):
        return f"{show(levels[-1])} or less"
    if k and list(levels) == every[-k:] and k < len(every):
        return f"{show(levels[0])} or more"
    return ", ".join(show(v) for v in levels)
