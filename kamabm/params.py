"""The model's parameters: one typed, immutable, validated object.

Every other face of the project (the command line, experiment files, the app's
controls, the ODD's parameter table) is derived from :class:`Parameters`; no default,
range or unit is typed anywhere else.

Units: money is measured in units of the supplier's unit production cost (so the unit
cost is 1), volume in units of product, time in months.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


class ParameterError(ValueError):
    """A parameter value, name or file that the model cannot accept.

    The message is one line that names the field and its allowed range.
    """


@dataclass(frozen=True)
class Spec:
    """What one parameter means: unit, allowed range and one-line description."""

    unit: str
    low: float
    high: float
    meaning: str
    group: str
    low_open: bool = False
    high_open: bool = False

    def range_text(self) -> str:
        """The allowed range in interval notation, e.g. ``(0, 1]``."""
        left = "(" if self.low_open else "["
        right = ")" if self.high_open else "]"
        return f"{left}{_fmt(self.low)}, {_fmt(self.high)}{right}"

    def admits(self, value: float) -> bool:
        """Whether ``value`` lies in the allowed range."""
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below


def _fmt(x: float) -> str:
    if math.isinf(x):
        return "inf"
    return f"{x:g}"


def _p(default: Any, unit: str, low: float, high: float, meaning: str, group: str,
       *, low_open: bool = False, high_open: bool = False) -> Any:
    spec = Spec(unit, low, high, meaning, group, low_open, high_open)
    return dataclasses.field(default=default, metadata={"spec": spec})


MARKET, NEGOTIATION, KAM, LEVER = "market", "negotiation", "kam", "lever"
GROUPS = (MARKET, NEGOTIATION, KAM, LEVER)


@dataclass(frozen=True)
class Parameters:
    """All parameters of one model run, with their defaults.

    Build with keywords (``Parameters(kam_pressure=0.8)``), from a TOML file
    (:meth:`from_toml`) or from ``NAME=VALUE`` strings (:meth:`with_assignments`).
    Values are checked on construction; a bad one raises :class:`ParameterError`.
    """

    # --- market (E1, E2, E5) -------------------------------------------------------
    client_revenue_share: float = _p(
        0.5, "share", 0, 1, "key accounts' share of each supplier's turnover at the start (E1)",
        MARKET, low_open=True)
    n_suppliers: int = _p(
        4, "suppliers", 2, 10, "competing suppliers; each key buyer's alternatives are the "
        "rivals (E5)", MARKET)
    n_key_buyers: int = _p(
        3, "buyers", 1, 10, "large buyers; every supplier serves each through one KAM", MARKET)
    n_smb_clients: int = _p(
        200, "clients", 1, 5000, "SMB owner-clients per supplier at the start (E3)", MARKET)
    horizon_months: int = _p(
        60, "months", 12, 600, "length of a run (one step is one month)", MARKET)
    list_markup: float = _p(
        0.40, "share of unit cost", 0.05, 2, "list price above unit cost; SMB deals start from it",
        MARKET)
    service_cost: float = _p(
        0.04, "money per unit", 0, 0.5, "ordinary cost to serve one unit of volume", MARKET)
    smb_churn: float = _p(
        0.01, "per month", 0, 0.2, "SMB clients leaving each month when fully served", MARKET)
    smb_service_churn: float = _p(
        0.10, "per month", 0, 1, "extra SMB churn per unit of service shortfall (E9)", MARKET)
    resource_slack: float = _p(
        0.15, "share", 0, 2, "service capacity beyond ordinary needs, shared by all clients",
        MARKET)

    # --- buyers and negotiation (E2, E4, E5) ---------------------------------------
    buyer_detachment: float = _p(
        0.8, "weight", 0, 1, "weight of procedural targets vs. the firm's result in the buyer "
        "negotiator's utility; 0 is an owner (E4)", NEGOTIATION)
    price_cut_target: float = _p(
        0.04, "share per year", 0, 0.3, "yearly price cut in the buyer negotiator's job "
        "description", NEGOTIATION)
    switching_cost: float = _p(
        0.05, "share of price", 0, 0.5, "real cost to the buyer firm of moving volume to a rival",
        NEGOTIATION)
    demand_rate: float = _p(
        0.02, "share of revenue per month", 0, 0.5, "extra demands (services, terms, audits) a "
        "key buyer raises each month (E2)", NEGOTIATION)
    ratchet: float = _p(
        0.15, "share", 0, 1, "how far a buyer raises its asks after a pliant deal", NEGOTIATION)
    negotiation_rounds: int = _p(
        8, "offers", 2, 50, "offers exchanged before the deadline of one contract negotiation",
        NEGOTIATION)
    contract_months: int = _p(
        3, "months", 1, 24, "length of a key-account contract (renegotiated at its end)",
        NEGOTIATION)
    breakdown_shift: float = _p(
        0.5, "share", 0, 1, "share of its volume a buyer moves to rivals after a deadlock (E5)",
        NEGOTIATION)
    price_sensitivity: float = _p(
        8.0, "1 / relative price", 0, 50, "how strongly buyers move volume toward cheaper "
        "suppliers at renewal", NEGOTIATION)
    service_sensitivity: float = _p(
        4.0, "1 / satisfaction", 0, 50, "how strongly buyers move volume toward suppliers that "
        "grant their demands", NEGOTIATION)

    # --- KAMs: pressure, learning, capture (E3, E6 to E11) -------------------------
    kam_pressure: float = _p(
        0.5, "index", 0, 1, "management pressure on KAMs: quota tightness and the weight of the "
        "KPI in pay (E8)", KAM)
    pressure_change_month: int = _p(
        0, "month", 0, 600, "month after which kam_pressure becomes pressure_after_change "
        "(0 never; for hysteresis experiments, E11)", KAM)
    pressure_after_change: float = _p(
        0.0, "index", 0, 1, "management pressure from pressure_change_month on", KAM)
    quota_stretch: float = _p(
        0.2, "share", 0, 1, "yearly volume growth the quota asks for at kam_pressure = 1", KAM)
    stake_half: float = _p(
        0.1, "share", 0.001, 1, "account share of turnover at which the fear of losing it is "
        "half its maximum (E8)", KAM)
    smb_habit_beta: float = _p(
        2.0, "tactic exponent", 0.05, 20, "concession tactic KAMs bring from SMB deals; > 1 "
        "concedes early (E3)", KAM)
    smb_reciprocity: float = _p(
        0.8, "weight", 0, 1, "weight of tit-for-tat (concede as the other concedes) in the "
        "tactic KAMs bring from SMB deals (E3, E6)", KAM)
    initial_skill: float = _p(
        0.2, "share", 0, 1, "KAMs' skill with detached negotiators when hired (E6)", KAM)
    learning_ability: float = _p(
        0.3, "probability", 0, 1, "chance a KAM learns from a hard negotiation with time to "
        "reflect (E7)", KAM)
    identification_gain: float = _p(
        6.0, "index", 0, 20, "strength of the loop from client approval and client-side work "
        "to identification (E9 to E11)", KAM)
    capture_speed: float = _p(
        0.15, "per month", 0.001, 1, "rate at which a KAM's loyalty follows the forces on it", KAM)
    employer_pull: float = _p(
        0.3, "per month", 0, 5, "baseline pull of the employer's culture back toward loyalty",
        KAM)

    # --- management levers (E12, model guide section 5) ----------------------------
    kpi_margin_weight: float = _p(
        0.0, "weight", 0, 1, "weight of margin (vs. volume) in the KAM's KPI", LEVER)
    training: float = _p(
        0.0, "index", 0, 1, "training and re-training with protected learning time (E6, E7)",
        LEVER)
    deal_review: float = _p(
        0.0, "index", 0, 1, "deal review and limited pricing authority: price floor and "
        "pull-back", LEVER)
    senior_support: float = _p(
        0.0, "index", 0, 1, "senior involvement and team selling (E7)", LEVER)
    rotation_months: int = _p(
        0, "months", 0, 600, "months between KAM rotations across accounts; 0 never rotates",
        LEVER)
    smb_growth: float = _p(
        0.0, "per month", 0, 0.1, "extra SMB acquisition each month, to cut key-client stakes",
        LEVER)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            spec: Spec = f.metadata["spec"]
            value = _as_number(f.name, getattr(self, f.name), spec, whole=f.type in ("int", int))
            if not (math.isfinite(value) and spec.admits(value)):
                raise ParameterError(
                    f"{f.name} = {value!r}: out of range, allowed {spec.range_text()} "
                    f"({spec.unit})")
            object.__setattr__(self, f.name, value)

    # --- construction helpers ------------------------------------------------------
    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Names of all parameters, in declaration order."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def spec(cls, name: str) -> Spec:
        """The :class:`Spec` (unit, range, meaning) of parameter ``name``."""
        for f in dataclasses.fields(cls):
            if f.name == name:
                return f.metadata["spec"]
        raise ParameterError(_unknown(name))

    @classmethod
    def default(cls, name: str) -> Any:
        """The default value of parameter ``name``."""
        cls.spec(name)
        return {f.name: f.default for f in dataclasses.fields(cls)}[name]

    @classmethod
    def is_integer(cls, name: str) -> bool:
        """Whether parameter ``name`` takes whole numbers."""
        cls.spec(name)
        return {f.name: f.type for f in dataclasses.fields(cls)}[name] in ("int", int)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Parameters:
        """Build from a mapping of names to values; unknown names are errors."""
        for name in values:
            if name not in cls.names():
                raise ParameterError(_unknown(name))
        return cls(**dict(values))

    @classmethod
    def from_toml(cls, path: str | Path) -> Parameters:
        """Read parameters from a TOML file of ``name = value`` lines.

        A ``[parameters]`` table is used when present, else the top level.
        """
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ParameterError(f"{path}: cannot read parameter file ({exc.strerror})") from None
        except tomllib.TOMLDecodeError as exc:
            raise ParameterError(f"{path}: not valid TOML ({exc})") from None
        data = data.get("parameters", data)
        try:
            return cls.from_mapping(data)
        except ParameterError as exc:
            raise ParameterError(f"{path}: {exc}") from None

    def replace(self, **changes: Any) -> Parameters:
        """A copy with some values changed (validated like a new object)."""
        for name in changes:
            if name not in self.names():
                raise ParameterError(_unknown(name))
        return dataclasses.replace(self, **changes)

    def with_assignments(self, assignments: Iterable[str]) -> Parameters:
        """A copy with ``NAME=VALUE`` strings (as given to ``--set``) applied."""
        changes: dict[str, Any] = {}
        for text in assignments:
            name, sep, raw = text.partition("=")
            name = name.strip()
            if not sep:
                raise ParameterError(f"--set {text!r}: expected NAME=VALUE")
            spec = self.spec(name)
            try:
                changes[name] = float(raw)
            except ValueError:
                raise ParameterError(
                    f"{name} = {raw.strip()!r}: not a number, allowed {spec.range_text()}"
                ) from None
        return self.replace(**changes)

    def as_dict(self) -> dict[str, Any]:
        """Plain ``{name: value}`` dictionary, in declaration order."""
        return dataclasses.asdict(self)

    @classmethod
    def markdown_table(cls) -> str:
        """The parameter table of ``docs/ODD.md``, generated from this class."""
        rows = ["| group | name | default | unit | range | meaning |",
                "|---|---|---|---|---|---|"]
        for group in GROUPS:
            for f in dataclasses.fields(cls):
                spec: Spec = f.metadata["spec"]
                if spec.group == group:
                    rows.append(f"| {group} | `{f.name}` | {_fmt(f.default)} | {spec.unit} | "
                                f"{spec.range_text()} | {spec.meaning} |")
        return "\n".join(rows)


def _as_number(name: str, value: Any, spec: Spec, *, whole: bool) -> float | int:
    """``value`` as a Python int (``whole``) or float; numpy scalars are accepted."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        kind = "a whole number" if whole else "a number"
        raise ParameterError(f"{name} = {value!r}: must be {kind} in {spec.range_text()}")
    if not whole:
        return float(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if float(value).is_integer():
        return int(value)
    raise ParameterError(f"{name} = {value!r}: must be a whole number in {spec.range_text()}")


def _unknown(name: str) -> str:
    import difflib

    close = difflib.get_close_matches(name, Parameters.names(), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"{name}: unknown parameter{hint}"
