"""The explorer's controls: which parameters it offers, in which groups, and how.

Every control's label, range, default and meaning is read from the parameter's spec
(:class:`~kamabm.model.params.Parameters`; the label through :func:`kamabm.names.label`,
as chart axes name it); a share is shown in percent (the slider moves in whole percent,
the model receives a fraction), everything else in the parameter's own unit. This module
imports nothing of the web stack, so it can be tested without it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kamabm.model.params import LEVER, Parameters
from kamabm.names import label, percent_unit

#: The controls by group, in the order shown; the two that matter most come first.
GROUPS: dict[str, tuple[str, ...]] = {
    "Market": ("client_revenue_share", "kam_pressure", "buyer_detachment", "n_suppliers",
               "n_key_buyers"),
    "Management levers": tuple(n for n in Parameters.names()
                               if Parameters.spec(n).group == LEVER),
    # ... and, last, the constants of the capture rules that matter most (ODD, Calibration):
    # the threshold of the drive to the client's side, the employer's pull back, the
    # strength of identification and the colleagues' influence.
    "Advanced": ("learning_ability", "key_share_concentration", "pressure_change_month",
                 "pressure_after_change", "horizon_months", "theta", "employer_pull",
                 "identification_gain", "peer_influence"),
}

#: Seed of the first run a page shows (the ``kamabm run`` default too), and the highest.
DEFAULT_SEED = 1
MAX_SEED = 999
SEED_LABEL = "Random seed (same settings and seed, same run)"
SEED_HELP = ("Fixes the model's random draws, so a difference after a change comes from "
             "the change. Try two or three seeds before concluding.")


@dataclass(frozen=True)
class Control:
    """One slider of the explorer, in the units it shows (percent for shares).

    Attributes:
        name: the parameter's name in :class:`Parameters` (and in the CLI, TOML files).
        label: the plain-language label, with its unit.
        help: what the parameter means (from its spec), ending with its code name.
        low, high, step, default: the slider's range, step and default, as shown.
        scale: shown value = model value x ``scale``.
        integer: whether the parameter takes whole numbers.

    """

    name: str
    label: str
    help: str
    low: float
    high: float
    step: float
    default: float
    scale: float
    integer: bool

    def value(self, shown: float) -> float | int:
        """The model's value of a slider position."""
        if self.integer:
            return int(round(shown))
        return round(shown / self.scale, 12)

    def shown(self, value: float) -> float | int:
        """The slider position of a model value."""
        if self.integer:
            return int(value)
        return round(value * self.scale, 10)

    def text(self, value: float) -> str:
        """A model value as the slider shows it, e.g. ``50 %`` or ``0.8``."""
        shown = self.shown(value)
        suffix = " %" if self.scale == 100 else ""
        return f"{shown:g}{suffix}"


def slider_step(name: str) -> float | int:
    """A round step, in the model's unit, on whose grid the low end and the default lie."""
    if Parameters.is_integer(name):
        return 1
    spec = Parameters.spec(name)
    default = Parameters.default(name)
    step = 10.0 ** math.floor(math.log10((spec.high - spec.low) / 50.0))
    while not all(_on_grid(x, step) for x in (spec.low, default)):
        step /= 10.0
    return step


def _on_grid(x: float, step: float) -> bool:
    return abs(x / step - round(x / step)) < 1e-6


def control(name: str) -> Control:
    """The control of parameter ``name``: range, default and meaning from its spec."""
    spec = Parameters.spec(name)
    integer = Parameters.is_integer(name)
    scale = 100.0 if percent_unit(spec.unit) is not None and not integer else 1.0
    step = slider_step(name)
    low = spec.low + step if spec.low_open else spec.low
    high = spec.high - step if spec.high_open else spec.high

    def shown(x: float) -> float:
        return int(x) if integer else round(x * scale, 10)

    meaning = spec.meaning[0].upper() + spec.meaning[1:]
    text = label(name, percent=scale == 100.0)
    return Control(name, text[0].upper() + text[1:], f"{meaning} [{name}]", shown(low),
                   shown(high), shown(step), shown(Parameters.default(name)), scale, integer)


def controls() -> dict[str, Control]:
    """Every control the explorer shows, by parameter name, in the groups' order."""
    return {name: control(name) for names in GROUPS.values() for name in names}
