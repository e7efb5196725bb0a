"""Experiments as objects: what a sweep varies, how, and the runs it makes.

An :class:`Experiment` names the parameters it holds fixed (its ``base``), the ones it
varies (:class:`Variable`), split as in exploratory modelling into *uncertainties* (the
world) and *levers* (management's choices), a :class:`Design` that turns those into
design points, and how many replications each point gets. Every value is checked through
:class:`kamabm.model.params.Parameters`, so allowed ranges live in one place, and every
object checks itself when built, whoever builds it: the experiment file's reader
(:mod:`kamabm.experiments.files`) or refinement (:mod:`kamabm.experiments.refine`).

Seeds: one per (design point, replication), derived from the master seed by
:func:`kamabm.experiments.seeds.spawned_seed`. With common random numbers (the default) the same
replication index gets the same seed at every design point, so comparisons between
points are paired. With an ensemble (:class:`kamabm.experiments.ensemble.Ensemble`)
each (design point, draw, replication) is one run, and replication ``r`` gets the same
seed at every point and in every draw.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from kamabm.experiments.seeds import spawned_generator, spawned_seed, spawned_seed32
from kamabm.experiments.validation import unknown_parameter
from kamabm.model.params import ParameterError, Parameters, Spec

if TYPE_CHECKING:
    from kamabm.experiments.ensemble import Draw, Ensemble

Number = int | float
Role = Literal["uncertainty", "lever"]
Method = Literal["grid", "latin_hypercube", "sobol", "morris"]

#: The designs an experiment file may ask for.
METHODS: tuple[str, ...] = ("grid", "latin_hypercube", "sobol")
#: Every design: a Morris design is built by a screening (:mod:`~.screening`), not a file.
DESIGN_METHODS: tuple[str, ...] = (*METHODS, "morris")
ROLES: tuple[str, ...] = ("uncertainty", "lever")
#: Most runs a sweep may plan unless told otherwise (``kamabm sweep --max-runs``).
DEFAULT_MAX_RUNS = 5_000_000

# SeedSequence spawn keys; their lengths differ, so no two streams can coincide.
_SHARED_STREAM = 0  # (0, replication): common random numbers
_OWN_STREAM = 1  # (1, point, replication): independent seeds
_DESIGN_STREAM = 2  # (2,): the sampler of Latin hypercube and Sobol designs
_MORRIS_STREAM = 1  # (1,): the Morris sampler's seed, as screenings always drew it
# (3,): the draws of an ensemble from its posterior (kamabm.experiments.ensemble)
# (1, point, replication, draw): independent seeds of an ensemble without common numbers
_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_DEFAULTS = Parameters()


class ExperimentError(ValueError):
    """An experiment file that cannot be run; the one-line message names file and key."""


def checked_value(name: str, value: Any, key: str) -> Number:
    """``value`` as parameter ``name``'s type (int or float), or an error naming ``key``."""
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
            raise ExperimentError(f"{self.name}: role {self.role!r}, expected "
                                  f"{_choices(ROLES)}")
        key = self.key
        if self.name not in Parameters.names():
            raise ExperimentError(f"{key}: {unknown_parameter(self.name)}")
        if self.values is None:
            low = checked_value(self.name, self.low, f"{key}.range[0]")
            high = checked_value(self.name, self.high, f"{key}.range[1]")
            if not low < high:
                raise ExperimentError(f"{key}.range: expected low < high, got "
                                      f"[{self.low}, {self.high}]")
        else:
            values = tuple(self.values)
            if not values:
                raise ExperimentError(f"{key}.values: expected a non-empty list of numbers")
            values = tuple(checked_value(self.name, x, f"{key}.values[{i}]")
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
            ``"latin_hypercube"`` (``samples`` points, scipy.stats.qmc), ``"sobol"``
            (Saltelli's scheme through SALib: ``samples * (2 d + 2)`` points with second
            order indices, ``samples * (d + 2)`` without) or ``"morris"`` (``samples``
            Morris trajectories through SALib, ``samples * (d + 1)`` points; built by a
            screening).
        samples: number of samples (trajectories for Morris) for the sampled designs.
        second_order: for ``"sobol"``, whether second-order indices can be estimated.
        levels: for ``"morris"``, the grid levels (even).

    Raises:
        ExperimentError: an unknown method, samples given to a grid or missing from a
            sampled design, a Sobol sample count that is not a power of two, or
            ``second_order`` outside Sobol designs.

    """

    method: Method = "grid"
    samples: int | None = None
    second_order: bool = False
    levels: int = 4

    def __post_init__(self) -> None:
        if self.method not in DESIGN_METHODS:
            raise ExperimentError(f"design.method: expected {_choices(METHODS)}, got "
                                  f"{self.method!r}")
        if self.method == "morris" and (self.levels < 2 or self.levels % 2):
            raise ExperimentError(f"levels: expected an even number >= 2, got {self.levels}")
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
        if samples is None or samples < 1:
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
        if self.method == "morris":
            return samples * (d + 1)
        return samples * (2 * d + 2 if self.second_order else d + 2)


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
        if not _NAME_PATTERN.fullmatch(self.name):
            raise ExperimentError(f"name: expected letters, digits, '_', '-' or '.', got "
                                  f"{self.name!r}")
        for key, value, minimum in (("replications", self.replications, 1),
                                    ("seed", self.seed, 0)):
            if value < minimum:
                raise ExperimentError(f"{key}: expected a whole number >= {minimum}, got "
                                      f"{value!r}")
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
            "design": [self.design.method, self.design.samples, self.design.second_order]
            + ([self.design.levels] if self.design.method == "morris" else []),
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
        return spawned_seed(self.seed, key)

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

    def unit_design(self) -> np.ndarray:
        """A sampled design's points in the unit cube, one column per variable."""
        return self._unit_samples()

    def _unit_samples(self) -> np.ndarray:
        d = len(self.variables)
        if self.design.method == "morris":
            from SALib.sample import morris

            problem = {"num_vars": d, "names": [v.name for v in self.variables],
                       "bounds": [[0.0, 1.0]] * d}
            return morris.sample(problem, self.design.samples or 0,
                                 num_levels=self.design.levels,
                                 seed=spawned_seed32(self.seed, (_MORRIS_STREAM,)))
        rng = spawned_generator(self.seed, (_DESIGN_STREAM,))
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


def _choices(options: Sequence[str]) -> str:
    shown = [repr(o) for o in options]
    return f"{', '.join(shown[:-1])} or {shown[-1]}"


