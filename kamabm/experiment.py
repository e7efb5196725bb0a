"""Experiment files: a TOML description of a sweep, parsed into a typed :class:`Experiment`.

An experiment names the parameters it holds fixed (``[base]``), the ones it varies,
split as in exploratory modelling into *uncertainties* (the world) and *levers*
(management's choices), a design that turns those into design points, and how many
replications each point gets. Every value is checked through
:class:`kamabm.params.Parameters`, so allowed ranges live in one place.

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
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from kamabm.params import ParameterError, Parameters

Number = int | float
Role = Literal["uncertainty", "lever"]
Method = Literal["grid", "latin_hypercube", "sobol"]

METHODS: tuple[str, ...] = ("grid", "latin_hypercube", "sobol")
HORIZON_PARAMETER = "horizon_months"

# SeedSequence spawn keys; their lengths differ, so no two streams can coincide.
_SHARED_STREAM = 0  # (0, replication): common random numbers
_OWN_STREAM = 1  # (1, point, replication): independent seeds
_DESIGN_STREAM = 2  # (2,): the sampler of Latin hypercube and Sobol designs

_TOP_KEYS = {
    "name", "description", "replications", "seed", "horizon", "common_random_numbers",
    "outcomes", "series", "design", "base", "uncertainties", "levers",
}
_DESIGN_KEYS = {"method", "samples", "second_order"}
_VARIABLE_KEYS = {"values", "range", "step", "count"}
_NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class ExperimentError(ValueError):
    """An experiment file that cannot be run; the one-line message names file and key."""


@dataclass(frozen=True)
class Variable:
    """A varied parameter.

    Attributes:
        name: the parameter's name in :class:`~kamabm.params.Parameters`.
        role: ``"uncertainty"`` or ``"lever"``.
        low: smallest value the design may give it.
        high: largest value the design may give it.
        values: the grid values (``None`` for sampled designs).

    """

    name: str
    role: Role
    low: Number
    high: Number
    values: tuple[Number, ...] | None


@dataclass(frozen=True)
class Design:
    """How variables become design points.

    Attributes:
        method: ``"grid"`` (every combination of the listed values),
            ``"latin_hypercube"`` (``samples`` points, scipy.stats.qmc) or ``"sobol"``
            (Saltelli's scheme through SALib: ``samples * (2 d + 2)`` points with second
            order indices, ``samples * (d + 2)`` without).
        samples: number of samples for the sampled designs.
        second_order: for ``"sobol"``, whether second-order indices can be estimated.

    """

    method: Method = "grid"
    samples: int | None = None
    second_order: bool = False


@dataclass(frozen=True)
class RunSpec:
    """One run of a sweep: a design point, a replication and the seed they get.

    Attributes:
        run: position of the run in the sweep, ``0 .. n_runs - 1``.
        key: stable identifier ``p<point>-r<replication>``, used to resume.
        point: index of the design point.
        replication: replication index at that point.
        seed: the run's seed.
        values: the varied parameters' values at this point.

    """

    run: int
    key: str
    point: int
    replication: int
    seed: int
    values: dict[str, Number]


@dataclass(frozen=True)
class Experiment:
    """A validated experiment, ready to be swept.

    Build with :func:`load_experiment` or :func:`parse_experiment`.

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

    def points(self) -> list[dict[str, Number]]:
        """The design points, each a ``{name: value}`` of the varied parameters."""
        if not self.variables:
            return [{}]
        names = [v.name for v in self.variables]
        if self.design.method == "grid":
            grids = [v.values or () for v in self.variables]
            return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grids)]
        unit = self._unit_samples()
        columns = [_scale(unit[:, i], v) for i, v in enumerate(self.variables)]
        return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]

    @property
    def n_runs(self) -> int:
        """Number of runs: design points times replications."""
        return len(self.points()) * self.replications

    def seed_for(self, point: int, replication: int) -> int:
        """The seed of one run (a non-negative integer below ``2**63``)."""
        key = ((_SHARED_STREAM, replication) if self.common_random_numbers
               else (_OWN_STREAM, point, replication))
        state = np.random.SeedSequence(self.seed, spawn_key=key).generate_state(1, np.uint64)
        return int(state[0] >> np.uint64(1))

    def runs(self) -> Iterator[RunSpec]:
        """All runs in order: every replication of point 0, then of point 1, and so on."""
        shared = [self.seed_for(0, r) for r in range(self.replications)]
        for p, values in enumerate(self.points()):
            for r in range(self.replications):
                seed = shared[r] if self.common_random_numbers else self.seed_for(p, r)
                yield RunSpec(p * self.replications + r, f"p{p}-r{r}", p, r, seed, values)

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


# --- reading and checking ---------------------------------------------------------------
def load_experiment(path: str | Path, *, known_outcomes: Sequence[str] | None = None,
                    known_series: Sequence[str] | None = None) -> Experiment:
    """Read and validate an experiment file.

    Args:
        path: the TOML file.
        known_outcomes: outcome names the run function reports; when given, other names
            in ``outcomes`` are errors.
        known_series: likewise for ``series``.

    Returns:
        The validated experiment.

    Raises:
        ExperimentError: the file is missing, is not TOML or does not describe a valid
            experiment; the message names the file, the key and what was expected.

    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ExperimentError(f"{path}: cannot read experiment file ({exc.strerror})") from None
    return parse_experiment(text, path=path, known_outcomes=known_outcomes,
                            known_series=known_series)


def parse_experiment(text: str, *, path: Path | None = None,
                     known_outcomes: Sequence[str] | None = None,
                     known_series: Sequence[str] | None = None) -> Experiment:
    """Validate an experiment given as TOML text; see :func:`load_experiment`."""
    where = str(path) if path is not None else "<experiment>"
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ExperimentError(f"{where}: not valid TOML ({exc})") from None
    return _Reader(where).experiment(doc, text, path, known_outcomes, known_series)


class _Reader:
    """Checks one parsed document; every error names the file and the key."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, key: str, expected: str) -> ExperimentError:
        return ExperimentError(f"{self.where}: {key}: {expected}")

    def experiment(self, doc: dict[str, Any], text: str, path: Path | None,
                   known_outcomes: Sequence[str] | None,
                   known_series: Sequence[str] | None) -> Experiment:
        self.no_unknown_keys(doc, _TOP_KEYS, "")
        name = self.string(doc, "name", required=True)
        if not _NAME_PATTERN.fullmatch(name):
            raise self.fail("name", f"expected letters, digits, '_', '-' or '.', got {name!r}")
        description = self.string(doc, "description", required=False) or ""
        replications = self.integer(doc, "replications", minimum=1)
        seed = self.integer(doc, "seed", minimum=0)
        crn = doc.get("common_random_numbers", True)
        if not isinstance(crn, bool):
            raise self.fail("common_random_numbers", f"expected true or false, got {crn!r}")
        base = self.base(doc)
        design = self.design(doc.get("design", {}))
        variables = (self.variables(doc, "uncertainties", "uncertainty", base, design)
                     + self.variables(doc, "levers", "lever", base, design))
        seen: set[str] = set()
        for v in variables:
            key = f"{'levers' if v.role == 'lever' else 'uncertainties'}.{v.name}"
            if v.name in seen:
                raise self.fail(key, "already listed under uncertainties; vary a parameter once")
            if v.name in doc.get("base", {}) or (v.name == HORIZON_PARAMETER and "horizon" in doc):
                raise self.fail(key, "also fixed in [base] or by horizon; fix it or vary it")
            seen.add(v.name)
        if design.method != "grid" and not variables:
            raise self.fail("design.method", f"{design.method} needs at least one variable")
        outcomes = self.names(doc, "outcomes", known_outcomes)
        series = self.names(doc, "series", known_series) or ()
        return Experiment(name, description, path, text, base, tuple(variables), design,
                          replications, seed, crn, outcomes, series)

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
            params = self.check(params, name, value, key)
        return params

    def check(self, params: Parameters, name: str, value: Any, key: str) -> Parameters:
        try:
            return params.replace(**{name: value})
        except ParameterError as exc:
            raise self.fail(key, str(exc)) from None

    def design(self, table: Any) -> Design:
        if not isinstance(table, dict):
            raise self.fail("design", "expected a table with method, samples, second_order")
        self.no_unknown_keys(table, _DESIGN_KEYS, "design.")
        method = table.get("method", "grid")
        if method not in METHODS:
            raise self.fail("design.method", f"expected one of {', '.join(METHODS)}, "
                                             f"got {method!r}")
        second = table.get("second_order", False)
        if not isinstance(second, bool):
            raise self.fail("design.second_order", f"expected true or false, got {second!r}")
        if method == "grid":
            for key in ("samples", "second_order"):
                if key in table:
                    raise self.fail(f"design.{key}", "only for latin_hypercube or sobol designs")
            return Design("grid")
        if second and method != "sobol":
            raise self.fail("design.second_order", "only for sobol designs")
        samples = self.integer(table, "samples", minimum=1, prefix="design.")
        if method == "sobol" and samples & (samples - 1):
            raise self.fail("design.samples", f"expected a power of 2 for sobol, got {samples}")
        return Design(method, samples, second)

    def variables(self, doc: Mapping[str, Any], section: str, role: Role, base: Parameters,
                  design: Design) -> list[Variable]:
        table = doc.get(section, {})
        if not isinstance(table, dict):
            raise self.fail(section, "expected tables [" + section + ".PARAMETER]")
        out = []
        for name, spec in table.items():
            key = f"{section}.{name}"
            if name not in Parameters.names():
                self.check(base, name, 0, key)  # raises with a "did you mean"
            if not isinstance(spec, dict):
                raise self.fail(key, "expected a table with values, or range and step or count")
            self.no_unknown_keys(spec, _VARIABLE_KEYS, key + ".")
            out.append(self.variable(name, role, spec, key, base, design))
        return out

    def variable(self, name: str, role: Role, spec: Mapping[str, Any], key: str,
                 base: Parameters, design: Design) -> Variable:
        integer = Parameters.is_integer(name)
        if design.method != "grid":
            for extra in ("values", "step", "count"):
                if extra in spec:
                    raise self.fail(f"{key}.{extra}", f"not used by {design.method} designs; "
                                                      "give range = [low, high] only")
            low, high = self.range(spec, key, base, name)
            return Variable(name, role, low, high, None)
        if "values" in spec:
            for extra in ("range", "step", "count"):
                if extra in spec:
                    raise self.fail(f"{key}.{extra}", "give either values or range, not both")
            values = spec["values"]
            if not isinstance(values, list) or not values:
                raise self.fail(f"{key}.values", "expected a non-empty list of numbers")
            for i, value in enumerate(values):
                self.check(base, name, value, f"{key}.values[{i}]")
            vals = tuple(int(x) if integer else float(x) for x in values)
        else:
            low, high = self.range(spec, key, base, name)
            vals = self.spaced(spec, key, low, high, integer)
        if len(set(vals)) != len(vals):
            raise self.fail(key, f"values repeat: {list(vals)}")
        return Variable(name, role, min(vals), max(vals), vals)

    def range(self, spec: Mapping[str, Any], key: str, base: Parameters,
              name: str) -> tuple[Number, Number]:
        bounds = spec.get("range")
        if not (isinstance(bounds, list) and len(bounds) == 2):
            raise self.fail(f"{key}.range", f"expected [low, high], got {bounds!r}")
        for i, value in enumerate(bounds):
            self.check(base, name, value, f"{key}.range[{i}]")
        low, high = bounds
        if not low < high:
            raise self.fail(f"{key}.range", f"expected low < high, got {bounds!r}")
        return low, high

    def spaced(self, spec: Mapping[str, Any], key: str, low: Number, high: Number,
               integer: bool) -> tuple[Number, ...]:
        if ("step" in spec) == ("count" in spec):
            raise self.fail(key, "with range, give exactly one of step or count")
        if "count" in spec:
            count = self.integer(spec, "count", minimum=2, prefix=key + ".")
            raw = np.linspace(low, high, count)
        else:
            step = spec["step"]
            if isinstance(step, bool) or not isinstance(step, int | float) or not step > 0 or (
                    integer and not float(step).is_integer()):
                kind = "a whole number" if integer else "a number"
                raise self.fail(f"{key}.step", f"expected {kind} > 0, got {step!r}")
            n = math.floor((high - low) / step + 1e-9) + 1
            raw = low + step * np.arange(n)
        if integer:
            vals = tuple(int(round(x)) for x in raw)
            if len(set(vals)) != len(vals):
                raise self.fail(f"{key}.count", f"more values than whole numbers in "
                                                f"[{low}, {high}]")
            return vals
        # Rounding removes float noise such as 0.30000000000000004.
        return tuple(float(round(x, 12)) for x in raw)

    def names(self, doc: Mapping[str, Any], key: str,
              known: Sequence[str] | None) -> tuple[str, ...] | None:
        if key not in doc:
            return None
        value = doc[key]
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise self.fail(key, f"expected a list of names, got {value!r}")
        if key == "outcomes" and not value:
            raise self.fail(key, "expected at least one outcome name")
        if len(set(value)) != len(value):
            raise self.fail(key, f"names repeat: {value}")
        if known is not None:
            for i, item in enumerate(value):
                if item not in known:
                    raise self.fail(f"{key}[{i}]", f"unknown name {item!r}, expected one of: "
                                                   f"{', '.join(known)}")
        return tuple(value)
