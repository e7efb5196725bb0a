"""Experiment files: a TOML description of a sweep, parsed into a typed :class:`Experiment`.

An experiment names the parameters it holds fixed (``[base]``), the ones it varies,
split as in exploratory modelling into *uncertainties* (the world) and *levers*
(management's choices), a design that turns those into design points, and how many
replications each point gets. Every value is checked through
:class:`kamabm.model.params.Parameters`, so allowed ranges live in one place.

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

Seeds: one per (design point, replication), derived from the master seed with
:class:`numpy.random.SeedSequence`. With common random numbers (the default) the same
replication index gets the same seed at every design point, so comparisons between
points are paired.

Structural uncertainty: an ``[ensemble]`` section runs the design over constant sets
drawn from a calibration's accepted particles (:class:`Ensemble`)::

    [ensemble]
    posterior = "results/calibration/posterior.csv"   # relative to the file or repo root
    draws = 50                           # constant sets drawn from it
    sample = "weighted"                  # weighted (default) | top
    columns = ["theta", "opening_cut", "w_keep"]   # optional, default: every column
                                         # that is a parameter
    defaults = true                      # also run the base constants, as draw 0

Each (design point, draw, replication) is one run; the draw's constants go into the
run's parameters, and with common random numbers replication ``r`` gets the same seed
at every point and in every draw.
"""

from __future__ import annotations

import functools
import hashlib
import io
import itertools
import json
import math
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from kamabm.model.params import ParameterError, Parameters, Spec

Number = int | float
Role = Literal["uncertainty", "lever"]
Method = Literal["grid", "latin_hypercube", "sobol"]

METHODS: tuple[str, ...] = ("grid", "latin_hypercube", "sobol")
ROLES: tuple[str, ...] = ("uncertainty", "lever")
HORIZON_PARAMETER = "horizon_months"
#: Most values a variable may take on a grid; more is a typo (``step = 1e-9``), not a plan.
MAX_VALUES = 100_000
#: Most runs a sweep may plan unless told otherwise (``kamabm sweep --max-runs``).
DEFAULT_MAX_RUNS = 5_000_000

# SeedSequence spawn keys; their lengths differ, so no two streams can coincide.
_SHARED_STREAM = 0  # (0, replication): common random numbers
_OWN_STREAM = 1  # (1, point, replication): independent seeds
_DESIGN_STREAM = 2  # (2,): the sampler of Latin hypercube and Sobol designs
_ENSEMBLE_STREAM = 3  # (3,): the draws of an ensemble from its posterior
# (1, point, replication, draw): independent seeds of an ensemble without common numbers

_TOP_KEYS = {
    "name", "description", "replications", "seed", "horizon", "common_random_numbers",
    "outcomes", "series", "design", "base", "uncertainties", "levers", "ensemble",
}
_DESIGN_KEYS = {"method", "samples", "second_order"}
_VARIABLE_KEYS = {"values", "range", "step", "count"}
_ENSEMBLE_KEYS = {"posterior", "draws", "sample", "columns", "defaults"}
#: How an ensemble draws its constant sets from the posterior's particles.
SAMPLES: tuple[str, ...] = ("weighted", "top")
#: Most constant sets an ensemble may draw.
MAX_DRAWS = 1000
#: The posterior's column of particle weights.
WEIGHT = "weight"
_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_DEFAULTS = Parameters()


class ExperimentError(ValueError):
    """An experiment file that cannot be run; the one-line message names file and key."""


def _check_value(name: str, value: Any, key: str) -> Number:
    """``value`` as the parameter's type (int or float), or an error naming ``key``."""
    spec, integer = _kind(name)
    # Fast path for plain numbers (a grid may have 100,000 values); anything else goes
    # through Parameters, which gives the message.
    if type(value) in (int, float) and math.isfinite(value) and spec.admits(value):
        if not integer:
            return float(value)
        if float(value).is_integer():
            return int(value)
    try:
        return getattr(_DEFAULTS.replace(**{name: value}), name)
    except ParameterError as exc:
        raise ExperimentError(f"{key}: {exc}") from None


@functools.cache
def _kind(name: str) -> tuple[Spec, bool]:
    return Parameters.spec(name), Parameters.is_integer(name)


def _section(role: str) -> str:
    return "levers" if role == "lever" else "uncertainties"


@dataclass(frozen=True)
class Variable:
    """A varied parameter; checks itself when built.

    Attributes:
        name: the parameter's name in :class:`~kamabm.model.params.Parameters`.
        role: ``"uncertainty"`` or ``"lever"``.
        low: smallest value the design may give it.
        high: largest value the design may give it.
        values: the grid values (``None`` for sampled designs).

    Raises:
        ExperimentError: an unknown parameter or role, a value outside the parameter's
            allowed range, ``low > high``, repeated values, or values whose smallest and
            largest are not ``low`` and ``high``; the message names the experiment key
            (e.g. ``levers.kam_pressure.values[2]``).

    """

    name: str
    role: Role
    low: Number
    high: Number
    values: tuple[Number, ...] | None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ExperimentError(f"{self.name}: role {self.role!r}, expected one of "
                                  f"{', '.join(ROLES)}")
        key = self.key
        if self.name not in Parameters.names():
            raise ExperimentError(f"{key}: {_unknown_parameter(self.name)}")
        if self.values is None:
            low = _check_value(self.name, self.low, f"{key}.range[0]")
            high = _check_value(self.name, self.high, f"{key}.range[1]")
            if not low < high:
                raise ExperimentError(f"{key}.range: expected low < high, got "
                                      f"[{self.low}, {self.high}]")
        else:
            values = tuple(self.values)
            if not values:
                raise ExperimentError(f"{key}.values: expected a non-empty list of numbers")
            values = tuple(_check_value(self.name, x, f"{key}.values[{i}]")
                           for i, x in enumerate(values))
            if len(set(values)) != len(values):
                raise ExperimentError(f"{key}: values repeat: {list(values)}")
            low, high = min(values), max(values)
            if (self.low, self.high) != (low, high):
                raise ExperimentError(f"{key}: low and high ({self.low}, {self.high}) must "
                                      f"be the smallest and largest value ({low}, {high})")
            object.__setattr__(self, "values", values)
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    @classmethod
    def grid(cls, name: str, role: Role, values: Sequence[Number]) -> Variable:
        """A grid variable taking exactly ``values`` (low and high follow from them)."""
        values = tuple(values)
        low, high = (min(values), max(values)) if values else (0, 0)
        return cls(name, role, low, high, values)

    @property
    def key(self) -> str:
        """Where the variable sits in an experiment file, e.g. ``levers.kam_pressure``."""
        return f"{_section(self.role)}.{self.name}"

    @property
    def size(self) -> int | None:
        """Number of grid values (``None`` for a sampled variable)."""
        return None if self.values is None else len(self.values)


@dataclass(frozen=True)
class Design:
    """How variables become design points; checks itself when built.

    Attributes:
        method: ``"grid"`` (every combination of the listed values),
            ``"latin_hypercube"`` (``samples`` points, scipy.stats.qmc) or ``"sobol"``
            (Saltelli's scheme through SALib: ``samples * (2 d + 2)`` points with second
            order indices, ``samples * (d + 2)`` without).
        samples: number of samples for the sampled designs.
        second_order: for ``"sobol"``, whether second-order indices can be estimated.

    Raises:
        ExperimentError: an unknown method, samples given to a grid or missing from a
            sampled design, a Sobol sample count that is not a power of two, or
            ``second_order`` outside Sobol designs.

    """

    method: Method = "grid"
    samples: int | None = None
    second_order: bool = False

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ExperimentError(f"design.method: expected one of {', '.join(METHODS)}, "
                                  f"got {self.method!r}")
        if not isinstance(self.second_order, bool):
            raise ExperimentError(f"design.second_order: expected true or false, got "
                                  f"{self.second_order!r}")
        if self.method == "grid":
            if self.samples is not None:
                raise ExperimentError("design.samples: only for latin_hypercube or sobol "
                                      "designs")
            if self.second_order:
                raise ExperimentError("design.second_order: only for latin_hypercube or "
                                      "sobol designs")
            return
        if self.second_order and self.method != "sobol":
            raise ExperimentError("design.second_order: only for sobol designs")
        samples = self.samples
        if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
            raise ExperimentError(f"design.samples: expected a whole number >= 1, got "
                                  f"{samples!r}")
        if self.method == "sobol" and samples & (samples - 1):
            raise ExperimentError(f"design.samples: expected a power of 2 for sobol, got "
                                  f"{samples}")

    def n_points(self, variables: Sequence[Variable]) -> int:
        """Number of design points over ``variables``, computed without making them."""
        if not variables:
            return 1
        if self.method == "grid":
            return math.prod(v.size or 0 for v in variables)
        samples = self.samples or 0
        if self.method == "latin_hypercube":
            return samples
        d = len(variables)
        return samples * (2 * d + 2 if self.second_order else d + 2)


@dataclass(frozen=True)
class Draw:
    """One constant set of an ensemble.

    Attributes:
        draw: its number: 0 for the base constants (``defaults = true``), then 1, 2, ...
        particle: the posterior's row it came from (0-based, ``None`` for draw 0).
        constants: ``{parameter: value}`` for the ensemble's columns.

    """

    draw: int
    particle: int | None
    constants: dict[str, Number]


@dataclass(frozen=True)
class Ensemble:
    """Constant sets drawn from a calibration's accepted particles; checks itself when built.

    The posterior is a CSV with one row per accepted particle, a column per fitted
    constant and a ``weight`` column (``results/calibration/posterior.csv``). Its text is
    kept, so the draws, and the experiment's digest, depend on the content read, not on
    the file's name.

    Attributes:
        posterior: the path as written in the experiment file.
        text: the posterior's CSV text.
        draws: how many constant sets to draw (1 to :data:`MAX_DRAWS`).
        sample: ``"weighted"``: drawn with replacement, each particle with probability
            proportional to its weight (importance resampling, from the experiment's
            seed, so a heavy particle may be drawn several times, and with common random
            numbers its repeats repeat the same runs: that is its weight); ``"top"``: the
            ``draws`` particles of largest weight (ties in file order), no repeats.
        columns: the constants drawn; ``None`` means every column that is a parameter.
        defaults: whether the base constants also run, as draw 0.
        source: where the text was read (``None``: given as text, e.g. from a manifest).

    Raises:
        ExperimentError: a posterior that is not a CSV with a ``weight`` column of
            non-negative numbers summing to more than zero, ``draws`` out of range,
            an unknown ``sample``, a column that is not a parameter or not in the
            posterior, or a particle value outside its parameter's range; the message
            names the ``ensemble`` key.

    """

    posterior: str
    text: str
    draws: int
    sample: str = "weighted"
    columns: tuple[str, ...] | None = None
    defaults: bool = True
    source: Path | None = field(default=None, compare=False)
    _particles: tuple[dict[str, Number], ...] = field(default=(), init=False, repr=False,
                                                     compare=False)
    _weights: tuple[float, ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        import pandas as pd

        where = self.source or self.posterior
        draws = self.draws
        if isinstance(draws, bool) or not isinstance(draws, int) or not 1 <= draws <= MAX_DRAWS:
            raise ExperimentError(f"ensemble.draws: expected a whole number in [1, "
                                  f"{MAX_DRAWS}], got {draws!r}")
        if self.sample not in SAMPLES:
            raise ExperimentError(f"ensemble.sample: expected one of {', '.join(SAMPLES)}, "
                                  f"got {self.sample!r}")
        if not isinstance(self.defaults, bool):
            raise ExperimentError(f"ensemble.defaults: expected true or false, got "
                                  f"{self.defaults!r}")
        try:
            table = pd.read_csv(io.StringIO(self.text))
        except (ValueError, pd.errors.ParserError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else "empty"
            raise ExperimentError(f"ensemble.posterior: {where}: not a CSV table "
                                  f"({first})") from None
        if table.empty:
            raise ExperimentError(f"ensemble.posterior: {where}: holds no particles")
        if WEIGHT not in table:
            raise ExperimentError(f"ensemble.posterior: {where}: no '{WEIGHT}' column")
        weights = pd.to_numeric(table[WEIGHT], errors="coerce").to_numpy(dtype=float)
        if not (np.isfinite(weights).all() and (weights >= 0).all() and weights.sum() > 0):
            raise ExperimentError(f"ensemble.posterior: {where}: the '{WEIGHT}' column must "
                                  "hold numbers >= 0 summing to more than 0")
        if self.sample == "top" and draws > len(table):
            raise ExperimentError(f"ensemble.draws: expected a whole number in [1, "
                                  f"{len(table)}] (the posterior's particles) with sample "
                                  f"= \"top\", got {draws}")
        names = set(Parameters.names())
        if self.columns is None:
            columns = tuple(c for c in table.columns if c in names)
            if not columns:
                raise ExperimentError(f"ensemble.posterior: {where}: no column is a "
                                      "parameter; name them in ensemble.columns")
        else:
            columns = tuple(self.columns)
            if not columns:
                raise ExperimentError("ensemble.columns: expected a non-empty list of "
                                      "parameter names")
            for i, name in enumerate(columns):
                key = f"ensemble.columns[{i}]"
                if not isinstance(name, str) or name not in names:
                    raise ExperimentError(f"{key}: {name!r} is not a parameter "
                                          f"({_unknown_parameter(str(name))})")
                if name not in table:
                    raise ExperimentError(f"{key}: the posterior {where} has no column "
                                          f"{name!r}")
            if len(set(columns)) != len(columns):
                raise ExperimentError(f"ensemble.columns: names repeat: {list(columns)}")
        for name in columns:
            if Parameters.is_sequence(name):
                raise ExperimentError(f"ensemble.columns: {name} is a list parameter; an "
                                      "ensemble draws numbers only")
        particles = []
        for row, values in enumerate(table[list(columns)].itertuples(index=False)):
            particles.append({name: _check_value(name, value, f"ensemble.posterior: "
                                                               f"{where}: row {row + 1}")
                              for name, value in zip(columns, values, strict=True)})
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "_particles", tuple(particles))
        object.__setattr__(self, "_weights", tuple(float(w) for w in weights / weights.sum()))

    @property
    def digest(self) -> str:
        """SHA-256 of the posterior's text."""
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def n_particles(self) -> int:
        """Number of particles in the posterior."""
        return len(self._particles)

    @property
    def particles(self) -> tuple[dict[str, Number], ...]:
        """Every particle's constants, in file order."""
        return self._particles

    @property
    def n_draws(self) -> int:
        """Constant sets run: the draws, plus one for the base constants (``defaults``)."""
        return self.draws + int(self.defaults)

    def chosen(self, seed: int) -> list[int]:
        """The posterior rows drawn (0-based), in draw order; reproducible from ``seed``.

        ``"weighted"`` inverts the weights' cumulative distribution at ``draws`` uniform
        numbers from :class:`numpy.random.SeedSequence` ``(seed, spawn_key=(3,))``;
        ``"top"`` takes the largest weights.
        """
        weights = np.asarray(self._weights, dtype=float)
        if self.sample == "top":
            return [int(i) for i in np.argsort(-weights, kind="stable")[:self.draws]]
        rng = np.random.default_rng(np.random.SeedSequence(seed,
                                                           spawn_key=(_ENSEMBLE_STREAM,)))
        cumulative = np.cumsum(weights)
        picks = np.searchsorted(cumulative / cumulative[-1], rng.random(self.draws),
                                side="right")
        return [int(i) for i in np.minimum(picks, len(weights) - 1)]

    def table(self, base: Parameters, seed: int) -> tuple[Draw, ...]:
        """Every constant set run, in order.

        Draw 0 holds ``base``'s constants (with ``defaults``); draws 1 to ``draws`` the
        drawn particles.
        """
        columns = self.columns or ()
        out = []
        if self.defaults:
            out.append(Draw(0, None, {name: getattr(base, name) for name in columns}))
        for i, row in enumerate(self.chosen(seed), start=1):
            out.append(Draw(i, row, dict(self.particles[row])))
        return tuple(out)

    def describe(self, base: Parameters, seed: int) -> dict[str, Any]:
        """The ensemble as the results manifest records it (the posterior's text included)."""
        draws = self.table(base, seed)
        return {"posterior": self.posterior,
                "source": str(self.source) if self.source is not None else None,
                "sha256": self.digest, "particles": self.n_particles, "draws": self.draws,
                "sample": self.sample, "columns": list(self.columns or ()),
                "defaults": self.defaults,
                "distinct_particles": len({d.particle for d in draws
                                           if d.particle is not None}),
                "table": [{"draw": d.draw, "particle": d.particle, **d.constants}
                          for d in draws],
                "text": self.text}


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: a design point, a replication and the seed they get.

    This is what travels to the workers, one per run.

    Attributes:
        run: position of the run in the sweep, ``0 .. n_runs - 1``.
        key: stable identifier ``p<point>-r<replication>`` (``p<point>-d<draw>-r<replication>``
            in an ensemble), used to resume.
        point: index of the design point.
        replication: replication index at that point.
        seed: the run's seed.
        values: the varied parameters' values at this point (and, in an ensemble, the
            draw's constants).
        draw: the ensemble draw (``None`` outside an ensemble).

    """

    run: int
    key: str
    point: int
    replication: int
    seed: int
    values: dict[str, Number]
    draw: int | None = None


@dataclass(frozen=True)
class Experiment:
    """A validated experiment, ready to be swept; checks itself when built.

    Build with :func:`load_experiment` or :func:`parse_experiment`, or directly (as
    refinement does); either way the same checks apply.

    Attributes:
        name: name of the experiment (also the default results folder).
        description: free text.
        path: the file it came from (``None`` when parsed from a string).
        text: the file's text, kept for the results manifest.
        base: parameters held fixed, including the horizon.
        variables: the varied parameters, uncertainties first, then levers.
        design: how the variables become points.
        replications: runs per design point.
        seed: the master seed.
        common_random_numbers: whether the same replication gets the same seed everywhere.
        outcomes: outcome names to keep (``None``: all that the run function reports).
        series: per-month series to keep (empty: none).
        warnings: legal but surprising input (e.g. a step that misses the range's end),
            one line each; not part of the experiment's identity.
        ensemble: constant sets drawn from a posterior (``None``: the base constants only);
            each design point runs every draw.

    Raises:
        ExperimentError: an invalid name, replication count or seed, a parameter varied
            twice, variables that do not fit the design, repeated outcome names, or an
            ensemble constant that is also varied or that does not fit the base.

    """

    name: str
    description: str
    path: Path | None
    text: str
    base: Parameters
    variables: tuple[Variable, ...]
    design: Design
    replications: int
    seed: int
    common_random_numbers: bool
    outcomes: tuple[str, ...] | None
    series: tuple[str, ...]
    warnings: tuple[str, ...] = field(default=(), compare=False)
    ensemble: Ensemble | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_PATTERN.fullmatch(self.name):
            raise ExperimentError(f"name: expected letters, digits, '_', '-' or '.', got "
                                  f"{self.name!r}")
        for key, value, minimum in (("replications", self.replications, 1),
                                    ("seed", self.seed, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
                raise ExperimentError(f"{key}: expected a whole number >= {minimum}, got "
                                      f"{value!r}")
        if not isinstance(self.common_random_numbers, bool):
            raise ExperimentError(f"common_random_numbers: expected true or false, got "
                                  f"{self.common_random_numbers!r}")
        if not isinstance(self.base, Parameters) or not isinstance(self.design, Design):
            raise ExperimentError("base and design: expected Parameters and Design objects")
        seen: dict[str, Variable] = {}
        for v in self.variables:
            if v.name in seen:
                raise ExperimentError(f"{v.key}: already listed under {seen[v.name].key}; "
                                      "vary a parameter once")
            seen[v.name] = v
            if self.design.method == "grid" and v.values is None:
                raise ExperimentError(f"{v.key}: a grid needs values (or range with step "
                                      "or count)")
            if self.design.method != "grid" and v.values is not None:
                raise ExperimentError(f"{v.key}.values: not used by {self.design.method} "
                                      "designs; give range = [low, high] only")
        if self.design.method != "grid" and not self.variables:
            raise ExperimentError(f"design.method: {self.design.method} needs at least one "
                                  "variable")
        for key, names in (("outcomes", self.outcomes), ("series", self.series)):
            if names is not None and len(set(names)) != len(names):
                raise ExperimentError(f"{key}: names repeat: {list(names)}")
        if self.outcomes is not None and not self.outcomes:
            raise ExperimentError("outcomes: expected at least one outcome name")
        if self.ensemble is not None:
            if not isinstance(self.ensemble, Ensemble):
                raise ExperimentError("ensemble: expected an Ensemble object")
            for i, name in enumerate(self.ensemble.columns or ()):
                if name in seen:
                    raise ExperimentError(f"ensemble.columns[{i}]: {name} is also varied "
                                          f"({seen[name].key}); draw it or vary it")
            for d in self.draws:
                try:
                    self.base.replace(**d.constants)
                except ParameterError as exc:
                    raise ExperimentError(f"ensemble: draw {d.draw} (posterior row "
                                          f"{(d.particle or 0) + 1}): {exc}") from None

    @property
    def digest(self) -> str:
        """SHA-256 of the experiment's content; comments and layout do not count."""
        content = {
            "name": self.name,
            "base": self.base.as_dict(),
            "variables": [[v.name, v.role, v.low, v.high, v.values] for v in self.variables],
            "design": [self.design.method, self.design.samples, self.design.second_order],
            "replications": self.replications,
            "seed": self.seed,
            "common_random_numbers": self.common_random_numbers,
            "outcomes": self.outcomes,
            "series": self.series,
        }
        if self.ensemble is not None:  # absent otherwise: older folders keep their digest
            ens = self.ensemble
            content["ensemble"] = {"posterior": ens.digest, "draws": ens.draws,
                                   "sample": ens.sample, "columns": list(ens.columns or ()),
                                   "defaults": ens.defaults}
        blob = json.dumps(content, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    @property
    def uncertainties(self) -> tuple[str, ...]:
        """Names of the varied parameters that describe the world."""
        return tuple(v.name for v in self.variables if v.role == "uncertainty")

    @property
    def levers(self) -> tuple[str, ...]:
        """Names of the varied parameters that management chooses."""
        return tuple(v.name for v in self.variables if v.role == "lever")

    @property
    def n_points(self) -> int:
        """Number of design points, computed without making them."""
        return self.design.n_points(self.variables)

    @property
    def n_draws(self) -> int:
        """Constant sets each design point runs: 1 without an ensemble."""
        return self.ensemble.n_draws if self.ensemble is not None else 1

    @functools.cached_property
    def draws(self) -> tuple[Draw, ...]:
        """The ensemble's constant sets in run order (empty without an ensemble)."""
        if self.ensemble is None:
            return ()
        return self.ensemble.table(self.base, self.seed)

    @property
    def n_runs(self) -> int:
        """Number of runs: points x draws x replications, computed without making them."""
        return self.n_points * self.n_draws * self.replications

    def check_size(self, max_runs: int) -> None:
        """Refuse a design of more than ``max_runs`` runs, before anything is allocated.

        Raises:
            ExperimentError: the design is too large; the message gives the count.

        """
        if self.n_runs > max_runs:
            where = f"{self.path}: " if self.path is not None else ""
            draws = f" x {self.n_draws:,} draws" if self.ensemble is not None else ""
            raise ExperimentError(
                f"{where}{self.n_points:,} points{draws} x {self.replications:,} "
                f"replications = {self.n_runs:,} runs, more than the limit of "
                f"{max_runs:,}; shrink the design or raise the limit (--max-runs)")

    def iter_points(self) -> Iterator[dict[str, Number]]:
        """The design points in order, each a ``{name: value}``, made one at a time."""
        if not self.variables:
            yield {}
            return
        names = [v.name for v in self.variables]
        if self.design.method == "grid":
            grids = [v.values or () for v in self.variables]
            for combo in itertools.product(*grids):
                yield dict(zip(names, combo, strict=True))
            return
        unit = self._unit_samples()
        columns = [_scale(unit[:, i], v) for i, v in enumerate(self.variables)]
        for row in zip(*columns, strict=True):
            yield dict(zip(names, row, strict=True))

    def points(self) -> list[dict[str, Number]]:
        """The design points as a list (see :meth:`iter_points` for large designs)."""
        return list(self.iter_points())

    def seed_for(self, point: int, replication: int, draw: int | None = None) -> int:
        """The seed of one run (a non-negative integer below ``2**63``).

        With common random numbers it depends on the replication only (the same at every
        point and in every draw); without, on the point, the replication and the draw.
        """
        key: tuple[int, ...]
        if self.common_random_numbers:
            key = (_SHARED_STREAM, replication)
        elif draw is None:
            key = (_OWN_STREAM, point, replication)
        else:
            key = (_OWN_STREAM, point, replication, draw)
        state = np.random.SeedSequence(self.seed, spawn_key=key).generate_state(1, np.uint64)
        return int(state[0] >> np.uint64(1))

    def runs(self) -> Iterator[RunSpec]:
        """All runs in order: every replication of point 0, then of point 1, and so on.

        In an ensemble: every replication of point 0 in draw 0, then in draw 1, ..., then
        point 1.
        """
        shared: dict[int, int] = {}

        def seed(p: int, r: int, d: int | None) -> int:
            if not self.common_random_numbers:
                return self.seed_for(p, r, d)
            if r not in shared:
                shared[r] = self.seed_for(0, r)
            return shared[r]

        reps = self.replications
        if self.ensemble is None:
            for p, values in enumerate(self.iter_points()):
                for r in range(reps):
                    yield RunSpec(p * reps + r, f"p{p}-r{r}", p, r, seed(p, r, None), values)
            return
        draws = self.draws
        for p, values in enumerate(self.iter_points()):
            for i, d in enumerate(draws):
                merged = {**values, **d.constants}
                for r in range(reps):
                    yield RunSpec((p * len(draws) + i) * reps + r, f"p{p}-d{d.draw}-r{r}",
                                  p, r, seed(p, r, d.draw), merged, d.draw)

    def parameters(self, values: Mapping[str, Number]) -> Parameters:
        """The full parameter object at a design point."""
        return self.base.replace(**values)

    def _unit_samples(self) -> np.ndarray:
        rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(_DESIGN_STREAM,)))
        d = len(self.variables)
        if self.design.method == "latin_hypercube":
            from scipy.stats import qmc

            return qmc.LatinHypercube(d, rng=rng).random(self.design.samples or 0)
        from SALib.sample import sobol

        problem = {"num_vars": d, "names": [v.name for v in self.variables],
                   "bounds": [[0.0, 1.0]] * d}
        seed = int(rng.integers(2**31))
        return sobol.sample(problem, self.design.samples or 0,
                            calc_second_order=self.design.second_order, seed=seed)


def _scale(unit: np.ndarray, v: Variable) -> list[Number]:
    if Parameters.is_integer(v.name):
        # Each whole number gets an equal share of the unit interval.
        ints = np.floor(v.low + unit * (v.high - v.low + 1)).clip(v.low, v.high)
        return [int(x) for x in ints]
    return [float(x) for x in v.low + unit * (v.high - v.low)]


def _unknown_parameter(name: str) -> str:
    try:
        Parameters.spec(name)
    except ParameterError as exc:
        return str(exc).split(": ", 1)[-1]
    return "unknown parameter"


def find_posterior(posterior: str | Path, path: Path | None) -> Path:
    """The ensemble posterior named ``posterior`` in the experiment file ``path``.

    A relative path is looked for beside the experiment file, then in each folder above
    it (so ``results/calibration/posterior.csv`` is found from ``experiments/``, relative
    to the repository root), then in the working directory.

    Raises:
        ExperimentError: no such file; the message names the key and where it looked.

    """
    given = Path(posterior)
    if given.is_absolute():
        candidates = [given]
    else:
        folders: list[Path] = []
        if path is not None:
            here = path.resolve().parent
            folders += [here, *here.parents]
        folders.append(Path.cwd())
        candidates = [folder / given for folder in dict.fromkeys(folders)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = "beside the experiment file, the folders above it and the working directory"
    raise ExperimentError(f"ensemble.posterior: {posterior}: no such file (looked "
                          f"{looked if not given.is_absolute() else 'there'})")


# --- reading and checking ---------------------------------------------------------------
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
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExperimentError(f"{path}: cannot read experiment file ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ExperimentError(f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} "
                              f"at position {exc.start}); save it as UTF-8") from None
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
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ExperimentError(f"{where}: not valid TOML ({exc})") from None
    try:
        return _Reader(posterior_text).experiment(doc, text, path, known_outcomes,
                                                  known_series)
    except ExperimentError as exc:
        raise ExperimentError(f"{where}: {exc}") from None


class _Reader:
    """Turns a parsed document into checked objects; errors name the key, not the file.

    The objects check the values themselves; the reader checks what only the file has:
    unknown keys, types, ``range`` with ``step`` or ``count``, and parameters both fixed
    and varied.
    """

    def __init__(self, posterior_text: str | None = None) -> None:
        self.warnings: list[str] = []
        self.posterior_text = posterior_text

    @staticmethod
    def fail(key: str, expected: str) -> ExperimentError:
        return ExperimentError(f"{key}: {expected}")

    def experiment(self, doc: dict[str, Any], text: str, path: Path | None,
                   known_outcomes: Sequence[str] | None,
                   known_series: Sequence[str] | None) -> Experiment:
        self.no_unknown_keys(doc, _TOP_KEYS, "")
        name = self.string(doc, "name", required=True)
        assert name is not None  # required: missing or empty raised
        description = self.string(doc, "description", required=False) or ""
        replications = self.integer(doc, "replications", minimum=1)
        seed = self.integer(doc, "seed", minimum=0)
        crn = doc.get("common_random_numbers", True)
        base = self.base(doc)
        design = self.design(doc.get("design", {}))
        variables = (self.variables(doc, "uncertainties", "uncertainty", design)
                     + self.variables(doc, "levers", "lever", design))
        for v in variables:
            if v.name in doc.get("base", {}) or (v.name == HORIZON_PARAMETER and "horizon" in doc):
                raise self.fail(v.key, "also fixed in [base] or by horizon; fix it or vary it")
        outcomes = self.names(doc, "outcomes", known_outcomes)
        series = self.names(doc, "series", known_series) or ()
        ensemble = self.ensemble(doc, path)
        if ensemble is not None:
            for i, column in enumerate(ensemble.columns or ()):
                if column in doc.get("base", {}) or (column == HORIZON_PARAMETER
                                                     and "horizon" in doc):
                    raise self.fail(f"ensemble.columns[{i}]", f"{column} is also fixed in "
                                    "[base]; draw it or fix it")
        return Experiment(name, description, path, text, base, tuple(variables), design,
                          replications, seed, crn, outcomes, series, tuple(self.warnings),
                          ensemble)

    # --- pieces -------------------------------------------------------------------------
    def no_unknown_keys(self, table: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
        for key in table:
            if key not in allowed:
                expected = ", ".join(sorted(allowed))
                raise self.fail(prefix + key, f"unknown key, expected one of: {expected}")

    def string(self, doc: Mapping[str, Any], key: str, *, required: bool) -> str | None:
        if key not in doc:
            if required:
                raise self.fail(key, "missing, expected a string")
            return None
        value = doc[key]
        if not isinstance(value, str) or (required and not value):
            raise self.fail(key, f"expected a non-empty string, got {value!r}")
        return value

    def integer(self, doc: Mapping[str, Any], key: str, *, minimum: int,
                prefix: str = "") -> int:
        if key not in doc:
            raise self.fail(prefix + key, f"missing, expected a whole number >= {minimum}")
        value = doc[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(prefix + key, f"expected a whole number >= {minimum}, got {value!r}")
        return value

    def base(self, doc: Mapping[str, Any]) -> Parameters:
        table = doc.get("base", {})
        if not isinstance(table, dict):
            raise self.fail("base", "expected a table of parameter = value")
        values = dict(table)
        if "horizon" in doc:
            if HORIZON_PARAMETER in values:
                raise self.fail("horizon", f"given twice, also as base.{HORIZON_PARAMETER}")
            values[HORIZON_PARAMETER] = doc["horizon"]
        params = Parameters()
        for name, value in values.items():
            key = "horizon" if name == HORIZON_PARAMETER and "horizon" in doc else f"base.{name}"
            try:
                params = params.replace(**{name: value})
            except ParameterError as exc:
                raise self.fail(key, str(exc)) from None
        return params

    def ensemble(self, doc: Mapping[str, Any], path: Path | None) -> Ensemble | None:
        if "ensemble" not in doc:
            return None
        table = doc["ensemble"]
        if not isinstance(table, dict):
            raise self.fail("ensemble", "expected a table with posterior and draws")
        self.no_unknown_keys(table, _ENSEMBLE_KEYS, "ensemble.")
        posterior = self.string(table, "posterior", required=False)
        if posterior is None:
            raise self.fail("ensemble.posterior", "missing, expected the path of a "
                                                  "calibration's posterior.csv")
        draws = self.integer(table, "draws", minimum=1, prefix="ensemble.")
        if draws > MAX_DRAWS:
            raise self.fail("ensemble.draws", f"expected a whole number in [1, {MAX_DRAWS}], "
                                              f"got {draws}")
        columns = table.get("columns")
        if columns is not None and not (isinstance(columns, list) and columns):
            raise self.fail("ensemble.columns", f"expected a non-empty list of parameter "
                                                f"names, got {columns!r}")
        source: Path | None = None
        text = self.posterior_text
        if text is None:
            source = find_posterior(posterior, path)
            try:
                text = source.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise self.fail("ensemble.posterior", f"{source}: cannot read it "
                                                      f"({exc})") from None
        return Ensemble(posterior, text, draws, table.get("sample", "weighted"),
                        tuple(columns) if columns is not None else None,
                        table.get("defaults", True), source)

    def design(self, table: Any) -> Design:
        if not isinstance(table, dict):
            raise self.fail("design", "expected a table with method, samples, second_order")
        self.no_unknown_keys(table, _DESIGN_KEYS, "design.")
        return Design(table.get("method", "grid"), table.get("samples"),
                      table.get("second_order", False))

    def variables(self, doc: Mapping[str, Any], section: str, role: Role,
                  design: Design) -> list[Variable]:
        table = doc.get(section, {})
        if not isinstance(table, dict):
            raise self.fail(section, "expected tables [" + section + ".PARAMETER]")
        out = []
        for name, spec in table.items():
            key = f"{section}.{name}"
            if name not in Parameters.names():
                raise self.fail(key, _unknown_parameter(name))
            if not isinstance(spec, dict):
                raise self.fail(key, "expected a table with values, or range and step or count")
            self.no_unknown_keys(spec, _VARIABLE_KEYS, key + ".")
            out.append(self.variable(name, role, spec, key, design))
        return out

    def variable(self, name: str, role: Role, spec: Mapping[str, Any], key: str,
                 design: Design) -> Variable:
        if design.method != "grid":
            for extra in ("values", "step", "count"):
                if extra in spec:
                    raise self.fail(f"{key}.{extra}", f"not used by {design.method} designs; "
                                                      "give range = [low, high] only")
            low, high = self.range(spec, key, name)
            return Variable(name, role, low, high, None)
        if "values" in spec:
            for extra in ("range", "step", "count"):
                if extra in spec:
                    raise self.fail(f"{key}.{extra}", "give either values or range, not both")
            values = spec["values"]
            if not isinstance(values, list) or not values:
                raise self.fail(f"{key}.values", "expected a non-empty list of numbers")
            vals = tuple(_check_value(name, x, f"{key}.values[{i}]")
                         for i, x in enumerate(values))
        else:
            low, high = self.range(spec, key, name)
            vals = self.spaced(spec, key, low, high, Parameters.is_integer(name))
        return Variable.grid(name, role, vals)

    def range(self, spec: Mapping[str, Any], key: str, name: str) -> tuple[Number, Number]:
        bounds = spec.get("range")
        if not (isinstance(bounds, list) and len(bounds) == 2):
            raise self.fail(f"{key}.range", f"expected [low, high], got {bounds!r}")
        low, high = (_check_value(name, x, f"{key}.range[{i}]") for i, x in enumerate(bounds))
        if not low < high:
            raise self.fail(f"{key}.range", f"expected low < high, got {bounds!r}")
        return low, high

    def spaced(self, spec: Mapping[str, Any], key: str, low: Number, high: Number,
               integer: bool) -> tuple[Number, ...]:
        if ("step" in spec) == ("count" in spec):
            raise self.fail(key, "with range, give exactly one of step or count")
        raw: np.ndarray
        if "count" in spec:
            count = self.integer(spec, "count", minimum=2, prefix=key + ".")
            self.bounded(count, f"{key}.count")
            raw = np.linspace(low, high, count)
        else:
            step = spec["step"]
            if isinstance(step, bool) or not isinstance(step, int | float) or not step > 0 or (
                    integer and not float(step).is_integer()):
                kind = "a whole number" if integer else "a number"
                raise self.fail(f"{key}.step", f"expected {kind} > 0, got {step!r}")
            # Counted before anything is allocated: step = 1e-9 must not build 1e9 values.
            span = (high - low) / step
            if not span < MAX_VALUES:
                self.bounded(math.inf if not math.isfinite(span) else int(span) + 1,
                             f"{key}.step")
            n = math.floor(span + 1e-9) + 1
            raw = low + step * np.arange(n)
            last = float(raw[-1])
            if abs(last - high) > 1e-9 * max(1.0, abs(high)):
                self.warnings.append(
                    f"{key}: step {step:g} does not reach the end of range [{low:g}, "
                    f"{high:g}]; the last value is {last:.12g}")
        if integer:
            vals = tuple(int(round(x)) for x in raw)
            if len(set(vals)) != len(vals):
                raise self.fail(f"{key}.count", f"more values than whole numbers in "
                                                f"[{low}, {high}]")
            return vals
        # Rounding removes float noise such as 0.30000000000000004.
        return tuple(float(round(x, 12)) for x in raw)

    def bounded(self, count: float, key: str) -> None:
        if count > MAX_VALUES:
            shown = f"{count:,}" if math.isfinite(count) else "too many"
            raise self.fail(key, f"gives {shown} values, more than {MAX_VALUES:,} for one "
                                 "variable")

    def names(self, doc: Mapping[str, Any], key: str,
              known: Sequence[str] | None) -> tuple[str, ...] | None:
        if key not in doc:
            return None
        value = doc[key]
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise self.fail(key, f"expected a list of names, got {value!r}")
        if known is not None:
            for i, item in enumerate(value):
                if item not in known:
                    raise self.fail(f"{key}[{i}]", f"unknown name {item!r}, expected one of: "
                                                   f"{', '.join(known)}")
        return tuple(value)
