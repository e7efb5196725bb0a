"""Experiment files: the TOML description of a sweep, read into an :class:`Experiment`.

A file looks like this::

    name = "smoke"
    description = "the headline experiment in miniature"
    replications = 3
    seed = 20240611
    horizon = 24                         # months, sets horizon_months
    outcomes = ["capture_rate"]          # optional, default: all
    series = []                          # optional per-month series to keep

    [design]
    method = "grid"                      # grid | latin_hypercube | sobol

    [base]
    n_smb_clients = 100

    [uncertainties.client_revenue_share]
    range = [0.1, 0.9]
    count = 3                            # or step = 0.1, or values = [...]

    [levers.kam_pressure]
    values = [0.0, 0.5, 1.0]

and may add an ``[ensemble]`` section (:mod:`kamabm.experiments.ensemble`).

:class:`ExperimentFile` describes the file: its keys, their types, what goes with what
(``range`` with ``step`` or ``count``, a parameter fixed or varied but not both) and the
fixed values, checked by :class:`kamabm.model.params.Parameters`. The objects built from
it (:class:`~kamabm.experiments.design.Variable`, :class:`~kamabm.experiments.design.Design`,
:class:`~kamabm.experiments.design.Experiment`, :class:`~kamabm.experiments.ensemble.Ensemble`)
check the varied values and the design themselves, as they do when refinement builds them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Self, cast

import numpy as np
from pydantic import Field, PrivateAttr, ValidationInfo, field_validator, model_validator

from kamabm.experiments.design import (
    METHODS,
    Design,
    Experiment,
    ExperimentError,
    Method,
    Number,
    Role,
    Variable,
)
from kamabm.experiments.ensemble import MAX_DRAWS, Ensemble, Sample, find_posterior
from kamabm.experiments.validation import (
    Bounds,
    FileModel,
    Invalid,
    ParameterFile,
    check,
    parse_toml,
    read_text,
    unknown_parameter,
)
from kamabm.model.params import Parameters

#: Most values a variable may take on a grid; more is a typo (``step = 1e-9``), not a plan.
MAX_VALUES = 100_000
#: The sections of varied parameters and the role of each.
SECTIONS: tuple[tuple[str, Role], ...] = (("uncertainties", "uncertainty"), ("levers", "lever"))


class DesignTable(FileModel):
    """``[design]``: how the variables become design points (see :class:`Design`)."""

    method: str = Field(default="grid", description="'grid', 'latin_hypercube' or 'sobol'")
    samples: int | None = None
    second_order: bool = False


class VariableTable(FileModel):
    """``[uncertainties.NAME]`` or ``[levers.NAME]``: the values a parameter takes.

    Either ``values``, or ``range`` with (on a grid) ``step`` or ``count``.
    """

    values: list[float] | None = None
    range: Bounds | None = None
    step: float | None = Field(default=None, gt=0)
    count: int | None = Field(default=None, ge=2, le=MAX_VALUES)

    @model_validator(mode="after")
    def _one_way(self) -> Self:
        if self.values is not None:
            for extra in ("range", "step", "count"):
                if getattr(self, extra) is not None:
                    raise Invalid((extra,), "give either values or range, not both")
        elif self.range is None:
            raise Invalid(("range",), "missing, expected [low, high] (or values = [...])")
        elif self.step is not None and self.count is not None:
            raise Invalid((), "with range, give exactly one of step or count")
        return self


class EnsembleTable(FileModel):
    """``[ensemble]``: constant sets drawn from a calibration's posterior (:class:`Ensemble`)."""

    posterior: str = Field(description="the path of a calibration's posterior.csv")
    draws: int = Field(ge=1, le=MAX_DRAWS)
    sample: Sample = "weighted"
    columns: list[str] | None = Field(default=None, min_length=1,
                                      description="a non-empty list of parameter names")
    defaults: bool = True

    @field_validator("columns")
    @classmethod
    def _parameters(cls, columns: list[str] | None) -> list[str] | None:
        for i, name in enumerate(columns or ()):
            if name not in Parameters.names():
                raise Invalid((i,), f"{name!r} is not a parameter ({unknown_parameter(name)})")
        if columns is not None and len(set(columns)) != len(columns):
            raise ValueError(f"names repeat: {columns}")
        return columns


class ExperimentFile(ParameterFile):
    """An experiment file (see the module docstring); validate with :func:`parse_experiment`.

    The validation context may give ``outcomes`` and ``series``: the names the run
    function reports; others are then refused.
    """

    name: str = Field(description="letters, digits, '_', '-' or '.'")
    description: str = ""
    replications: int
    seed: int
    common_random_numbers: bool = True
    outcomes: list[str] | None = None
    series: list[str] | None = None
    design: DesignTable = DesignTable()
    uncertainties: dict[str, VariableTable] = Field(default_factory=dict)
    levers: dict[str, VariableTable] = Field(default_factory=dict)
    ensemble: EnsembleTable | None = None
    _design: Design = PrivateAttr(default_factory=Design)

    @field_validator("outcomes", "series")
    @classmethod
    def _known(cls, names: list[str] | None, info: ValidationInfo) -> list[str] | None:
        known: Sequence[str] | None = (info.context or {}).get(info.field_name)
        if names is not None and known is not None:
            for i, name in enumerate(names):
                if name not in known:
                    raise Invalid((i,), f"unknown name {name!r}, expected one of: "
                                        f"{', '.join(known)}")
        return names

    @model_validator(mode="after")
    def _fits_together(self) -> Self:
        # The design checks itself (a method it knows, samples that fit it); a Morris
        # design is a screening's (kamabm screen), not an experiment file's.
        if self.design.method not in METHODS:
            raise ExperimentError(f"design.method: expected 'grid', 'latin_hypercube' or "
                                  f"'sobol', got {self.design.method!r}")
        self._design = Design(cast(Method, self.design.method), self.design.samples,
                              self.design.second_order)
        method = self._design.method
        for section, _ in SECTIONS:
            for name, variable in getattr(self, section).items():
                if self.is_fixed(name):
                    raise Invalid((section, name), "also fixed in [base] or by horizon; fix "
                                                   "it or vary it")
                if method == "grid" and variable.range is not None and (
                        variable.step is None and variable.count is None):
                    raise Invalid((section, name), "with range, give exactly one of step or "
                                                   "count")
                for extra in ("step", "count"):
                    if method != "grid" and getattr(variable, extra) is not None:
                        raise Invalid((section, name, extra), f"not used by {method} "
                                      "designs; give range = [low, high] only")
        return self

    def experiment(self, text: str, path: Path | None,
                   posterior_text: str | None = None) -> Experiment:
        """The experiment this file describes; its objects check the values themselves.

        Args:
            text: the file's text (kept for the results manifest).
            path: where it was read (``None``: parsed from a string).
            posterior_text: the ensemble posterior's CSV text, instead of reading it.

        Raises:
            ExperimentError: a value the objects refuse; the message names the key.

        """
        design = self._design
        warnings: list[str] = []
        variables = [_variable(name, role, table, design, warnings)
                     for section, role in SECTIONS
                     for name, table in getattr(self, section).items()]
        ensemble = (None if self.ensemble is None
                    else _ensemble(self.ensemble, path, posterior_text))
        # The columns drawn are known once the posterior is read (all its parameters).
        for i, column in enumerate(ensemble.columns or () if ensemble else ()):
            if self.is_fixed(column):
                raise ExperimentError(f"ensemble.columns[{i}]: {column} is also fixed in "
                                      "[base]; draw it or fix it")
        return Experiment(self.name, self.description, path, text, self.fixed,
                          tuple(variables), design, self.replications, self.seed,
                          self.common_random_numbers,
                          None if self.outcomes is None else tuple(self.outcomes),
                          tuple(self.series or ()), tuple(warnings), ensemble)


def load_experiment(path: str | Path, *, known_outcomes: Sequence[str] | None = None,
                    known_series: Sequence[str] | None = None,
                    posterior_text: str | None = None) -> Experiment:
    """Read and validate an experiment file.

    Args:
        path: the TOML file.
        known_outcomes: outcome names the run function reports; when given, other names
            in ``outcomes`` are errors.
        known_series: likewise for ``series``.
        posterior_text: the ensemble posterior's CSV text, instead of reading the file
            ``[ensemble] posterior`` names (as a results manifest records it).

    Returns:
        The validated experiment.

    Raises:
        ExperimentError: the file is missing, is not UTF-8 TOML or does not describe a
            valid experiment; the message names the file, the key and what was expected.

    """
    path = Path(path)
    text = read_text(path, ExperimentError, "experiment file")
    return parse_experiment(text, path=path, known_outcomes=known_outcomes,
                            known_series=known_series, posterior_text=posterior_text)


def parse_experiment(text: str, *, path: Path | None = None,
                     known_outcomes: Sequence[str] | None = None,
                     known_series: Sequence[str] | None = None,
                     posterior_text: str | None = None) -> Experiment:
    """Validate an experiment given as TOML text; see :func:`load_experiment`.

    Without ``path``, an ensemble's posterior is looked for from the working directory.
    """
    where = str(path) if path is not None else "<experiment>"
    doc = parse_toml(text, where, ExperimentError)
    file = check(ExperimentFile, doc, where=where, error=ExperimentError,
                 context={"outcomes": known_outcomes, "series": known_series})
    try:
        return file.experiment(text, path, posterior_text)
    except ExperimentError as exc:
        raise ExperimentError(f"{where}: {exc}") from None


def _variable(name: str, role: Role, table: VariableTable, design: Design,
              warnings: list[str]) -> Variable:
    """The variable a table describes; a range on a grid is spaced by its step or count."""
    if table.values is not None:
        return Variable.grid(name, role, table.values)
    assert table.range is not None  # VariableTable: values or range
    low, high = table.range
    span = Variable(name, role, low, high, None)
    if design.method != "grid":
        return span
    return Variable.grid(name, role, _spaced(span, table, warnings))


def _spaced(span: Variable, table: VariableTable, warnings: list[str]) -> tuple[Number, ...]:
    """The grid values from ``span``'s low to high by the table's step or count."""
    key, low, high = span.key, span.low, span.high
    integer = Parameters.is_integer(span.name)
    raw: np.ndarray
    if table.count is not None:
        raw = np.linspace(low, high, table.count)
    else:
        step = table.step
        assert step is not None  # VariableTable and ExperimentFile: step or count
        if integer and not step.is_integer():
            raise ExperimentError(f"{key}.step: expected a whole number > 0, got {step!r}")
        # Counted before anything is allocated: step = 1e-9 must not build 1e9 values.
        n = (high - low) / step
        if not n < MAX_VALUES:
            shown = f"{int(n) + 1:,}" if math.isfinite(n) else "too many"
            raise ExperimentError(f"{key}.step: gives {shown} values, more than "
                                  f"{MAX_VALUES:,} for one variable")
        raw = low + step * np.arange(math.floor(n + 1e-9) + 1)
        last = float(raw[-1])
        if abs(last - high) > 1e-9 * max(1.0, abs(high)):
            warnings.append(f"{key}: step {step:g} does not reach the end of range "
                            f"[{low:g}, {high:g}]; the last value is {last:.12g}")
    if integer:
        values = tuple(int(round(x)) for x in raw)
        if len(set(values)) != len(values):
            raise ExperimentError(f"{key}.count: more values than whole numbers in "
                                  f"[{low}, {high}]")
        return values
    # Rounding removes float noise such as 0.30000000000000004.
    return tuple(float(round(x, 12)) for x in raw)


def _ensemble(table: EnsembleTable, path: Path | None, text: str | None) -> Ensemble:
    """The ensemble a table describes, its posterior read unless its text is given."""
    source: Path | None = None
    if text is None:
        source = find_posterior(table.posterior, path)
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ExperimentError(f"ensemble.posterior: {source}: cannot read it "
                                  f"({exc})") from None
    return Ensemble(table.posterior, text, table.draws, table.sample,
                    None if table.columns is None else tuple(table.columns), table.defaults,
                    source)
