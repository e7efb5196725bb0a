"""What a parameter is: its :class:`Spec` (label, unit, range, meaning), and its checks.

:class:`~kamabm.model.params.Parameters` declares every parameter as a dataclass field
made by :func:`parameter` or :func:`constant`, so each field carries its spec; this
module holds the spec, the parameter groups, the checks a value passes on construction
(:func:`as_number`, :func:`as_numbers`) and the one-line :class:`ParameterError`.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, SupportsInt, cast

import numpy as np


class ParameterError(ValueError):
    """A parameter value, name or file that the model cannot accept.

    The message is one line that names the field and its allowed range.
    """


@dataclass(frozen=True)
class Spec:
    """What one parameter means and how it is named to a reader.

    Attributes:
        label: plain words for axes, table headers, controls and sentences: short,
            lower case unless a name, never the code name.
        unit: the unit of its values (``share``, ``months``, ``index`` ...).
        low, high: the allowed range (a structural constant's plausible range).
        meaning: one line on what it does, for the ODD, ``kamabm params`` and help texts.
        group: one of :data:`GROUPS`.
        low_open, high_open: whether the range excludes its ends.
        source: for a structural constant, its source or the assumption behind it.
        scale: what values mean in words where the unit says too little
            (``0 none to 1 maximum``, ``0 never``); empty if the unit says it all.

    """

    label: str
    unit: str
    low: float
    high: float
    meaning: str
    group: str
    low_open: bool = False
    high_open: bool = False
    source: str = ""
    scale: str = ""

    def range_text(self) -> str:
        """The allowed range in interval notation, e.g. ``(0, 1]``."""
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"{left}{number_text(self.low)}, {number_text(self.high)}{right}"

    def admits(self, value: float) -> bool:
        """Whether ``value`` lies in the allowed range."""
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below


MARKET, NEGOTIATION, KAM, LEVER, COST, RUN, STRUCTURAL = (
    "market", "negotiation", "kam", "lever", "cost", "run", "structural")
#: Parameter groups. ``structural`` holds the constants of the behavioural rules: each is a
#: declared, documented number with a plausible range, so experiments can sweep it.
GROUPS = (MARKET, NEGOTIATION, KAM, LEVER, COST, RUN, STRUCTURAL)


def parameter(default: Any, unit: str, low: float, high: float, meaning: str, group: str,
              *, label: str, scale: str = "", low_open: bool = False,
              high_open: bool = False) -> Any:
    """A parameter's dataclass field: its default, with its :class:`Spec` as metadata."""
    spec = Spec(label, unit, low, high, meaning, group, low_open, high_open, scale=scale)
    return dataclasses.field(default=default, metadata={"spec": spec})


def constant(default: float, unit: str, low: float, high: float, meaning: str, source: str,
             *, label: str, low_open: bool = False) -> Any:
    """A structural constant's field: a number that shapes behaviour, with its source."""
    spec = Spec(label, unit, low, high, meaning, STRUCTURAL, low_open, source=source)
    return dataclasses.field(default=default, metadata={"spec": spec})


def number_text(x: float) -> str:
    """A number as the tables show it: ``0.5``, ``12``, ``inf``."""
    if math.isinf(x):
        return "inf"
    return f"{x:g}"


def default_text(value: Any) -> str:
    """A default as the tables show it; a list as ``0.3, 0.15`` (``none`` if empty)."""
    if isinstance(value, tuple):
        return "none" if not value else ", ".join(number_text(v) for v in value)
    return number_text(value)


def as_numbers(name: str, value: Any, spec: Spec) -> tuple[float, ...]:
    """``value`` (a list, tuple or array of numbers) as a tuple of floats in range."""
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ParameterError(f"{name} = {value!r}: must be a list of numbers in "
                             f"{spec.range_text()}")
    numbers_ = tuple(as_number(name, v, spec, whole=False) for v in value)
    for v in numbers_:
        if not (math.isfinite(v) and spec.admits(v)):
            raise ParameterError(f"{name}: {v!r} out of range, each allowed "
                                 f"{spec.range_text()} ({spec.unit})")
    return numbers_


def as_number(name: str, value: Any, spec: Spec, *, whole: bool) -> float | int:
    """``value`` as a Python int (``whole``) or float; numpy scalars are accepted."""
    exact = type(value)
    if exact is float and not whole or exact is int and whole:  # the common case, fast
        return value
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        kind = "a whole number" if whole else "a number"
        raise ParameterError(f"{name} = {value!r}: must be {kind} in {spec.range_text()}")
    if not whole:
        return float(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if float(value).is_integer():
        # The Real ABC does not declare __int__, but float, numpy floats and Fraction do.
        return int(cast(SupportsInt, value))
    raise ParameterError(f"{name} = {value!r}: must be a whole number in {spec.range_text()}")


def unknown_name(name: str, names: Iterable[str]) -> str:
    """The error message for an unknown parameter ``name``, with the closest of ``names``."""
    close = difflib.get_close_matches(name, list(names), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"{name}: unknown parameter{hint}"


def check_lists(shares: tuple[float, ...], total: float, tolerance: float,
                lists: dict[str, tuple[tuple[float, ...], int, str]]) -> None:
    """Check the list parameters against the counts they go with.

    ``shares`` (key_account_shares, one per key buyer) must sum to ``total``
    (client_revenue_share) within ``tolerance``; each list of ``lists``
    (``{name: (values, count, what)}``, the key buyers' among them) needs ``count`` values
    or none.
    """
    buyers = next(count for _, count, what in lists.values() if what == "key buyer")
    if shares:
        if len(shares) != buyers:
            raise ParameterError(
                f"key_account_shares: {len(shares)} shares for n_key_buyers = {buyers}; "
                f"give one share per key buyer")
        if abs(sum(shares) - total) > tolerance:
            raise ParameterError(
                f"key_account_shares sum to {sum(shares):g} but client_revenue_share = "
                f"{total:g}; set client_revenue_share = {sum(shares):g}")
    for name, (values, count, what) in lists.items():
        if values and len(values) != count:
            raise ParameterError(
                f"{name}: {len(values)} values for {count} {what}s; give one per {what} "
                f"or none")
