"""Names the analysis, charts and report use: parameters and outcomes, and how to say them.

The code names of the parameters and outcomes the analysis defaults to live here once
(not as string literals in every function signature), with the functions that say a
name or a value in plain words. The words are not typed here: a parameter's label, unit
and scale come from its :class:`~kamabm.model.spec.Spec`, an outcome's from its
:class:`~kamabm.model.outcomes.Outcome`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from kamabm.model.constants import MONTHS_PER_YEAR  # noqa: F401  (re-exported: a horizon in years)
from kamabm.model.outcomes import OUTCOMES
from kamabm.model.params import Parameters

if TYPE_CHECKING:
    import pandas as pd

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

#: Share of KAMs captured from which a setting counts as "most KAMs captured": the level
#: the capture boundary marks, and the cut between mostly captured runs and the others.
#: A cut on a share of KAMs, not on one KAM's alignment (that is
#: :data:`~kamabm.model.params.CAPTURED_BELOW`, 0.5 too by coincidence); sentences say
#: "most" and "half" for it.
MOST_CAPTURED = 0.5
#: Units whose values are shown in percent (100 times the model's value). A unit that
#: starts ``share of`` is shown in percent too (``share of revenue`` reads ``% of revenue``).
PERCENT_UNITS = ("share", "probability", "per month")
#: Units without a dimension, which a label leaves out when the scale says what values mean.
_DIMENSIONLESS = ("index", "weight", "switch")
_PARAMETERS = frozenset(Parameters.names())


#: The unit of an outcome that is a share of a run's KAMs: the capture rate's.
_KAM_SHARE_UNIT = OUTCOMES[CAPTURE_RATE].unit


def kams_per_run(runs: pd.DataFrame) -> pd.Series:
    """Each run's number of KAMs (one per supplier and key buyer), from its parameters."""
    return runs["n_suppliers"] * runs["n_key_buyers"]


def counts_kams(outcome: str) -> bool:
    """Whether ``outcome`` is a share of a run's KAMs, so a proportion of whole trials.

    Such an outcome's interval is a binomial one over the KAMs (Wilson's, see
    :func:`kamabm.stats.proportion_ci`), which stays inside [0, 1].
    """
    return outcome in OUTCOMES and OUTCOMES[outcome].unit == _KAM_SHARE_UNIT


def known(name: str) -> bool:
    """Whether ``name`` is a parameter or an outcome, and so has a label."""
    return name in _PARAMETERS or name in OUTCOMES


def _words(name: str) -> tuple[str, str, str]:
    """The label, unit and scale of a parameter or outcome."""
    if name in _PARAMETERS:
        spec = Parameters.spec(name)
        return spec.label, spec.unit, spec.scale
    if name in OUTCOMES:
        outcome = OUTCOMES[name]
        return outcome.label, outcome.unit, ""
    raise KeyError(f"{name}: neither a parameter nor an outcome, so it has no label")


def human(name: str) -> str:
    """Plain words for a parameter or outcome: its label (``"sales pressure on KAMs"``)."""
    return _words(name)[0]


def percent_unit(unit: str) -> str | None:
    """How ``unit`` reads when values are shown in percent; ``None`` if they are not.

    ``share`` and ``probability`` read ``%``, ``per month`` reads ``% a month`` and
    ``share of revenue`` reads ``% of revenue``.
    """
    if unit == "per month":
        return "% a month"
    if unit in PERCENT_UNITS:
        return "%"
    if unit.startswith("share of "):
        return "% of " + unit.removeprefix("share of ")
    return None


def label(name: str, *, percent: bool = False) -> str:
    """The label of a parameter or outcome with its unit and scale, for an axis or a control.

    ``"sales pressure on KAMs, 0 none to 1 maximum"``, ``"length of the run (months)"``,
    ``"supplier net margin (% of revenue)"``. The unit is left out where the label already
    names it (``"competing suppliers"``) or where it has no dimension and the scale says
    what the values mean.

    Args:
        name: a parameter's or an outcome's code name.
        percent: whether the values are shown in percent: a share's unit then reads
            ``%`` or ``% of ...`` (:func:`percent_unit`).

    """
    text, unit, scale = _words(name)
    shown = percent_unit(unit) if percent else None
    if shown is None and unit not in text and not (scale and unit in _DIMENSIONLESS):
        shown = unit
    return text + (f" ({shown})" if shown else "") + (f", {scale}" if scale else "")


def fmt(value: float | tuple[float, ...]) -> str:
    """A parameter value, briefly (``0.8``, ``12``; a list as ``0.3, 0.15``)."""
    if isinstance(value, tuple):
        return ", ".join(f"{v:g}" for v in value) if value else "none"
    return f"{value:g}"


def pct(share: float, digits: int = 1) -> str:
    """A share as a percentage: ``0.8583`` -> ``"85.8 %"``."""
    return f"{100 * share:.{digits}f} %"


def value_text(name: str, value: float) -> str:
    """A parameter's value in plain words: shares in percent, months as months."""
    if isinstance(value, tuple):  # a list parameter: each value in plain words
        return ", ".join(value_text(name, v) for v in value) if value else "none"
    unit = _words(name)[1]
    shown = percent_unit(unit)
    if unit == "per month":
        return f"{100 * value:g} {shown}"
    if shown is not None:
        return f"{100 * value:.0f} {shown}"
    if unit == "months":
        return f"{value:g} months"
    return f"{value:.2g}" if isinstance(value, float) and value != round(value) else fmt(value)


def setting_text(setting: dict[str, float]) -> str:
    """A setting of parameters in plain words: "sales pressure on KAMs at 0.8, ..."."""
    return ", ".join(f"{human(k)} at {value_text(k, v)}" for k, v in setting.items())


def levels_text(levels: Sequence[float], every: Sequence[float],
                show: Callable[[float], str] = fmt) -> str:
    """Name a set of levels briefly: "0.6 or less", "0.4 or more", or a list.

    A single level at either end is named as it is ("1", not "1 or more" where 1 is the
    highest level there is).

    Args:
        levels: the levels to name, sorted.
        every: all the levels there are.
        show: how to write one level.

    """
    every = sorted(every)
    k = len(levels)
    if 1 < k < len(every) and list(levels) == every[:k]:
        return f"{show(levels[-1])} or less"
    if 1 < k < len(every) and list(levels) == every[-k:]:
        return f"{show(levels[0])} or more"
    return ", ".join(show(v) for v in levels)


def in_percent(name: str) -> bool:
    """Whether a parameter's or outcome's values are shown in percent (:func:`percent_unit`)."""
    return percent_unit(_words(name)[1]) is not None


#: A code name in running text: lower-case words joined by underscores (``kam_pressure``).
_CODE_NAME = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")


def plain_words(text: str) -> str:
    """``text`` with each parameter's or outcome's code name replaced by its label.

    For text typed by hand, such as an experiment's description: "constant sets (theta,
    opening_cut, w_keep)" reads "constant sets (theta, buyer's opening cut, felt pressure
    to keep the client)". Only names with an underscore are replaced, and only known ones,
    so that an ordinary word is never taken for a one-word parameter's name (``training``)
    and one-word names stay as typed.
    """
    return _CODE_NAME.sub(lambda m: human(m.group(0)) if known(m.group(0)) else m.group(0),
                          text)
