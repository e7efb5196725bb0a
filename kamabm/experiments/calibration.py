"""Calibration against published numbers: the targets, how each is measured, the file.

A calibration file (``experiments/calibration.toml``) lists

- **targets**: a published number with its source, value and tolerance, and how the model
  measures it: a *measure* (a function in :data:`MEASURES` of the mean outcome at one or
  two settings), an *outcome* of :func:`kamabm.model.run.run_one` (or a list of them, the first
  the model reports being used) and the settings (``at``, and ``against`` for a change)
  as parameter values on top of ``[base]``. A target whose outcome the model does not
  report is left out with a note when ``required = false`` and is an error otherwise;
- **priors**: the constants to fit (``[fit.NAME] range = [low, high]``, uniform priors),
  any fields of :class:`kamabm.model.params.Parameters`, normally its ``structural`` group;
- the ABC-SMC settings (``[abc]``: population size, generations, final tolerance).

:func:`load_calibration` reads and checks it into a :class:`Calibration`;
:func:`kamabm.experiments.calibration_fit.fit` fits it by ABC-SMC.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import numpy as np
from pydantic import BeforeValidator, Field, ValidationInfo, model_validator

from kamabm.experiments.validation import (
    HORIZON_PARAMETER,
    Bounds,
    FileModel,
    Invalid,
    Name,
    ParameterFile,
    Text,
    check,
    parse_toml,
    read_text,
    unknown_parameter,
    with_parameter,
)
from kamabm.model.params import Parameters

Measure = Literal["mean", "relative_change", "difference"]
#: How a target's value bounds the model: met near it, or anywhere at or below / above it.
Bound = Literal["equal", "at_most", "at_least"]
#: How a prior spreads over its range: evenly, or evenly in the logarithm.
Scale = Literal["linear", "log"]
#: A setting: parameter values on top of the base, sorted by name.
Setting = tuple[tuple[str, Any], ...]


class CalibrationError(ValueError):
    """A calibration file or results folder that cannot be used; the message is one line."""


# --- measures: how a target is computed from run outcomes ------------------------------
def mean(at: np.ndarray) -> float:
    """The outcome's mean at one setting."""
    return float(np.mean(at))


def relative_change(at: np.ndarray, against: np.ndarray) -> float:
    """Relative change of the outcome's mean from ``against`` to ``at``: at / against - 1."""
    base = float(np.mean(against))
    return float(np.mean(at)) / base - 1.0 if base else float("nan")


def difference(at: np.ndarray, against: np.ndarray) -> float:
    """Difference of the outcome's means, ``at`` minus ``against``."""
    return float(np.mean(at) - np.mean(against))


#: Measures by name, each a function of the outcome's values at its settings, in order.
MEASURES: dict[Measure, Callable[..., float]] = {
    "mean": mean, "relative_change": relative_change, "difference": difference}
#: Settings each measure needs.
MEASURE_SETTINGS: dict[Measure, tuple[str, ...]] = {
    "mean": ("at",), "relative_change": ("at", "against"), "difference": ("at", "against")}


@dataclass(frozen=True)
class Target:
    """A published number and how the model measures it.

    Attributes:
        name: the target's key in the file.
        source: the publication and what it reports.
        value: the published value, in the units of the measure.
        tolerance: how far the model may be and still match (one unit of distance).
        measure: a name in :data:`MEASURES`.
        outcome: the :data:`kamabm.model.run.OUTCOMES` name the measure reads.
        settings: the parameter values of each setting the measure needs, in order.
        required: whether a model that does not report the outcome is an error.
        bound: ``"equal"`` (the model should be near ``value``), ``"at_most"`` or
            ``"at_least"`` (one-sided: any model value on the right side of ``value`` is
            at distance 0; a pattern such as "capture is rare" is a bound, not a number).
        fitted: whether the target is in the ABC distance; a held-out target (``False``) is
            measured for every particle and reported, but does not steer the fit: a check
            the model is known to miss for want of a mechanism, kept visible so that the
            miss is reported rather than traded off against the targets it can meet.

    """

    name: str
    source: str
    value: float
    tolerance: float
    measure: Measure
    outcome: str
    settings: tuple[Setting, ...]
    required: bool = True
    bound: Bound = "equal"
    fitted: bool = True

    def gap(self, model: float) -> float:
        """The model's miss in tolerances: signed, 0 inside a one-sided bound, NaN if undefined."""
        if not math.isfinite(model):
            return float("nan")
        miss = model - self.value
        if self.bound == "at_most":
            miss = max(miss, 0.0)
        elif self.bound == "at_least":
            miss = min(miss, 0.0)
        return miss / self.tolerance

    def matched(self, model: float) -> bool:
        """Whether the model's value is within one tolerance of the target (or its bound)."""
        return abs(self.gap(model)) <= 1.0

    @property
    def wanted(self) -> str:
        """The target in words: "0.23 +- 0.1", "at most 0.1 (+ 0.1)"."""
        if self.bound == "equal":
            return f"{self.value:g} +- {self.tolerance:g}"
        side = "at most" if self.bound == "at_most" else "at least"
        return f"{side} {self.value:g} (tolerance {self.tolerance:g})"


@dataclass(frozen=True)
class Prior:
    """A fitted constant and its prior: uniform over [low, high], or log-uniform."""

    name: str
    low: float
    high: float
    scale: Scale = "linear"

    def quantile(self, q: float) -> float:
        """The prior's ``q``-quantile (its central half is quantiles 0.25 to 0.75)."""
        if self.scale == "log":
            return float(math.exp(math.log(self.low) + q * math.log(self.high / self.low)))
        return self.low + q * (self.high - self.low)


class AbcSettings(FileModel):
    """ABC-SMC settings: the ``[abc]`` table of a calibration file.

    Only ``population`` and ``epsilon_quantile`` change what a generation computes; the
    others say when to stop, so a finished fit can be extended by raising ``generations``
    and running it again.

    Attributes:
        population: accepted particles per generation.
        generations: most generations (populations) to run.
        min_epsilon: stop once the acceptance distance falls to this (1: within tolerance).
        min_epsilon_drop: stop once a generation lowers the acceptance distance by less
            than this share of the previous one (the fit has stalled: the model gets no
            closer to the targets with these constants).
        min_acceptance_rate: a generation that would accept fewer than this share of the
            particles it simulates is abandoned and the fit stops (pyabc's bound on a
            generation's simulations: population / rate).
        max_simulations: no new generation once this many particles were simulated.
        epsilon_quantile: each generation's acceptance distance is this weighted quantile
            of the previous generation's distances (0.5: pyabc's median). A lower one
            tightens faster and gets past a plateau where many particles share one
            distance (e.g. every set that captures nobody misses "capture is common" by the
            same amount), on which the median stalls.

    """

    population: int = Field(default=100, ge=2)
    generations: int = Field(default=8, ge=1)
    min_epsilon: float = Field(default=1.0, gt=0)
    min_epsilon_drop: float = Field(default=0.05, ge=0, lt=1)
    min_acceptance_rate: float = Field(default=0.05, ge=0, lt=1)
    max_simulations: int = Field(default=4000, ge=1)
    epsilon_quantile: float = Field(default=0.5, gt=0, lt=1)


@dataclass(frozen=True)
class Calibration:
    """A validated calibration (build with :func:`load_calibration`)."""

    name: str
    description: str
    text: str
    base: Parameters
    replications: int
    seed: int
    targets: tuple[Target, ...]
    priors: tuple[Prior, ...]
    abc: AbcSettings
    skipped: tuple[str, ...] = field(default=())
    quick: bool = False

    @property
    def settings(self) -> list[Setting]:
        """The distinct settings the targets need, in the order they first appear."""
        return list(dict.fromkeys(s for t in self.targets for s in t.settings))

    @property
    def observed(self) -> dict[str, float]:
        """The published values by target name."""
        return {t.name: t.value for t in self.targets}

    @property
    def runs_per_particle(self) -> int:
        """Model runs needed to simulate one particle."""
        return len(self.settings) * self.replications

    @property
    def digest(self) -> str:
        """SHA-256 of what determines the fit (not comments or layout).

        The fitted constants' defaults are left out: every particle sets them, so a model
        whose defaults became the posterior's point estimate still owns the fit.
        """
        fitted = {p.name for p in self.priors}  # their base values never enter a run
        base = {k: v for k, v in self.base.as_dict().items() if k not in fitted}
        content = {"base": base, "replications": self.replications,
                   "seed": self.seed, "targets": [t.__dict__ for t in self.targets],
                   "priors": [p.__dict__ for p in self.priors],
                   "population": self.abc.population,
                   "epsilon_quantile": self.abc.epsilon_quantile}
        blob = json.dumps(content, sort_keys=True, separators=(",", ":"), default=list)
        return hashlib.sha256(blob.encode()).hexdigest()

    def quick_version(self) -> Calibration:
        """A tiny version for tests and trials: few particles, one replication, 24 months."""
        horizon = min(self.base.horizon_months, 24)
        abc = AbcSettings(population=8, generations=2, min_epsilon=self.abc.min_epsilon,
                          min_epsilon_drop=0.0, min_acceptance_rate=0.0, max_simulations=200)
        return replace(self, base=self.base.replace(**{HORIZON_PARAMETER: horizon}),
                       replications=1, abc=abc, quick=True)



# --- the file ---------------------------------------------------------------------------
def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class TargetTable(FileModel):
    """``[targets.NAME]``: a published number and how the model measures it."""

    source: Text = Field(description="the publication and what it reports")
    value: float
    tolerance: float = Field(gt=0)
    measure: Measure
    bound: Bound = Field(default="equal", description="equal, at_most or at_least")
    outcome: Annotated[list[str], BeforeValidator(_as_list)] = Field(
        min_length=1, description="an outcome name or a list of them")
    at: dict[str, Any] = Field(default_factory=dict,
                               description="a table of parameter = value")
    against: dict[str, Any] | None = Field(default=None, description="a table of parameter = value")
    required: bool = True
    fitted: bool = Field(default=True, description="false: held out, reported but not fitted")
    note: str = ""

    @model_validator(mode="after")
    def _settings_fit_the_measure(self) -> Self:
        if "against" not in MEASURE_SETTINGS[self.measure]:
            if self.against is not None:
                raise Invalid(("against",), f"not used by measure {self.measure!r}")
        elif self.against is None:
            raise Invalid(("against",), f"expected a table of parameter = value (measure "
                                        f"{self.measure!r} needs it)")
        elif self.settings()[0] == self.settings()[1]:
            raise Invalid(("against",), "same setting as at; a change needs two")
        return self

    def settings(self) -> tuple[Setting, ...]:
        """The parameter values of each setting the measure needs, in order."""
        tables = {"at": self.at, "against": self.against or {}}
        return tuple(tuple(sorted(tables[which].items()))
                     for which in MEASURE_SETTINGS[self.measure])


class PriorTable(FileModel):
    """``[fit.NAME]``: a constant to fit and its uniform prior's range."""

    range: Bounds
    scale: Scale = Field(default="linear", description="linear or log (log-uniform)")
    source: str = ""

    @model_validator(mode="after")
    def _log_needs_positive_range(self) -> Self:
        if self.scale == "log" and self.range[0] <= 0:
            raise Invalid(("range",), f"a log-uniform prior needs low > 0, got {self.range[0]:g}")
        return self


class CalibrationFile(ParameterFile):
    """A calibration file (see the module docstring); validate with :func:`parse_calibration`.

    The validation context gives ``outcomes``: the names the run function reports.
    """

    name: Name
    description: str = ""
    seed: int = Field(ge=0)
    replications: int = Field(default=1, ge=1)
    abc: AbcSettings = AbcSettings()
    fit: dict[str, PriorTable] = Field(
        min_length=1, description="at least one [fit.NAME] table with range = [low, high]")
    targets: dict[str, TargetTable] = Field(
        min_length=1, description="at least one [targets.NAME] table")

    @model_validator(mode="after")
    def _fits_the_model(self, info: ValidationInfo) -> Self:
        base = self.fixed
        for name, prior in self.fit.items():
            key = ("fit", name)
            if name not in Parameters.names():
                raise Invalid(key, f"{name}: {unknown_parameter(name)}")
            if Parameters.is_integer(name):
                raise Invalid(key, "a whole-number parameter cannot be fitted by ABC-SMC "
                                   "here; fix it in [base]")
            for i, bound in enumerate(prior.range):
                with_parameter(base, name, bound, (*key, "range", i))
            if not prior.range[0] < prior.range[1]:
                raise Invalid((*key, "range"), f"expected low < high, got {prior.range}")
        known: Sequence[str] = (info.context or {}).get("outcomes", ())
        for name, target in self.targets.items():
            for which in MEASURE_SETTINGS[target.measure]:
                for parameter, value in (target.against or {} if which == "against"
                                         else target.at).items():
                    where = ("targets", name, which, parameter)
                    if parameter in self.fit:
                        raise Invalid(where, "is being fitted; a setting cannot fix it")
                    with_parameter(base, parameter, value, where)
            if target.required and not set(target.outcome) & set(known):
                raise Invalid(("targets", name, "outcome"),
                              f"{' or '.join(target.outcome)} not reported by the model "
                              "(kamabm.model.run.OUTCOMES); set required = false to leave "
                              "the target out until it is")
        if not any(t.fitted for t in self.targets.values()):
            raise Invalid(("targets",), "every target is held out (fitted = false); at least "
                                        "one must be fitted")
        if not any(set(t.outcome) & set(known) for t in self.targets.values()):
            raise Invalid(("targets",), "no target can be measured by this model (every "
                                        "outcome named is missing from kamabm.model.run.OUTCOMES)")
        return self

    def calibration(self, text: str, known_outcomes: Sequence[str]) -> Calibration:
        """The calibration this file describes; targets the model cannot measure left out."""
        targets, skipped = [], []
        for name, table in self.targets.items():
            found = next((o for o in table.outcome if o in known_outcomes), None)
            if found is None:
                skipped.append(name)
                continue
            targets.append(Target(name, table.source, table.value, table.tolerance,
                                  table.measure, found, table.settings(), table.required,
                                  table.bound, table.fitted))
        priors = tuple(Prior(name, prior.range[0], prior.range[1], prior.scale)
                       for name, prior in self.fit.items())
        return Calibration(self.name, self.description, text, self.fixed, self.replications,
                           self.seed, tuple(targets), priors, self.abc, tuple(skipped))


def load_calibration(path: str | Path, *, known_outcomes: Sequence[str] | None = None
                     ) -> Calibration:
    """Read and validate a calibration file (see the module docstring).

    Args:
        path: the TOML file.
        known_outcomes: outcomes the run function reports (default
            :data:`kamabm.model.run.OUTCOMES`).

    Raises:
        CalibrationError: one line naming the file, the key and what was expected.

    """
    path = Path(path)
    text = read_text(path, CalibrationError, "calibration file")
    return parse_calibration(text, where=str(path), known_outcomes=known_outcomes)


def parse_calibration(text: str, *, where: str = "<calibration>",
                      known_outcomes: Sequence[str] | None = None) -> Calibration:
    """Validate a calibration given as TOML text; see :func:`load_calibration`."""
    if known_outcomes is None:
        from kamabm.model.run import OUTCOMES

        known_outcomes = tuple(OUTCOMES)
    doc = parse_toml(text, where, CalibrationError)
    file = check(CalibrationFile, doc, where=where, error=CalibrationError,
                 context={"outcomes": tuple(known_outcomes)})
    return file.calibration(text, tuple(known_outcomes))
