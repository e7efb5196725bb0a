"""Calibration against published numbers: targets, how each is measured, ABC-SMC.

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

:func:`fit` runs ABC-SMC (Sisson et al. 2007; Toni et al. 2009) through pyabc (the
optional extra ``kamabm[calibrate]``). A particle is one set of the fitted constants; it is
simulated by running the model ``replications`` times at every setting the targets name,
with the same seeds at each setting (common random numbers, so changes are paired), and
its distance to the published numbers is ``sqrt(sum(((model - value) / tolerance) ** 2))``:
a distance of 1 means the targets are matched to within their tolerances jointly. The
history lives in an SQLite file in the results folder, so a stopped fit resumes from its
last finished generation. The accepted particles of the last generation are the posterior.

Seeds: a particle's runs use seeds spawned with :class:`numpy.random.SeedSequence` from
the master seed and the particle's values, so the same constants always give the same
summary statistics; pyabc's own sampling is seeded from the master seed, and a
single-worker fit is reproducible (parallel workers accept particles in arrival order).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import sys
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kamabm.model.params import ParameterError, Parameters

RunFunction = Callable[[Parameters, int], Mapping[str, Any]]
Simulator = Callable[[Mapping[str, float]], dict[str, float]]

HORIZON_PARAMETER = "horizon_months"
DB, POSTERIOR, TARGETS_CSV, POPULATIONS, MANIFEST, SPEC = (
    "abc.db", "posterior.csv", "targets.csv", "populations.csv", "manifest.json",
    "calibration.json")
#: Interval of the predictive checks in the chart and targets table.
INTERVAL = (0.05, 0.95)


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
MEASURES: dict[str, Callable[..., float]] = {
    "mean": mean, "relative_change": relative_change, "difference": difference}
#: Settings each measure needs.
MEASURE_SETTINGS: dict[str, tuple[str, ...]] = {
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

    """

    name: str
    source: str
    value: float
    tolerance: float
    measure: str
    outcome: str
    settings: tuple[tuple[tuple[str, Any], ...], ...]
    required: bool = True


@dataclass(frozen=True)
class Prior:
    """A fitted constant and its uniform prior range."""

    name: str
    low: float
    high: float


@dataclass(frozen=True)
class AbcSettings:
    """ABC-SMC settings.

    Only ``population`` changes what a generation computes; the others say when to stop,
    so a finished fit can be extended by raising ``generations`` and running it again.

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

    """

    population: int = 100
    generations: int = 8
    min_epsilon: float = 1.0
    min_epsilon_drop: float = 0.05
    min_acceptance_rate: float = 0.05
    max_simulations: int = 4000


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
    def settings(self) -> list[tuple[tuple[str, Any], ...]]:
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
        """SHA-256 of what determines the fit (not comments or layout)."""
        content = {"base": self.base.as_dict(), "replications": self.replications,
                   "seed": self.seed, "targets": [t.__dict__ for t in self.targets],
                   "priors": [p.__dict__ for p in self.priors],
                   "population": self.abc.population}
        blob = json.dumps(content, sort_keys=True, separators=(",", ":"), default=list)
        return hashlib.sha256(blob.encode()).hexdigest()

    def quick_version(self) -> Calibration:
        """A tiny version for tests and trials: few particles, one replication, 24 months."""
        horizon = min(self.base.horizon_months, 24)
        abc = AbcSettings(population=8, generations=2, min_epsilon=self.abc.min_epsilon,
                          min_epsilon_drop=0.0, min_acceptance_rate=0.0, max_simulations=200)
        return replace(self, base=self.base.replace(**{HORIZON_PARAMETER: horizon}),
                       replications=1, abc=abc, quick=True)


# --- reading and checking ---------------------------------------------------------------
_TOP_KEYS = {"name", "description", "seed", "horizon", "replications", "base", "abc", "fit",
             "targets"}
_ABC_KEYS = {"population", "generations", "min_epsilon", "min_epsilon_drop",
             "min_acceptance_rate", "max_simulations"}
_TARGET_KEYS = {"source", "value", "tolerance", "measure", "outcome", "at", "against",
                "required", "note"}


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
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CalibrationError(f"{path}: cannot read calibration file ({exc.strerror})"
                               ) from None
    return parse_calibration(text, where=str(path), known_outcomes=known_outcomes)


def parse_calibration(text: str, *, where: str = "<calibration>",
                      known_outcomes: Sequence[str] | None = None) -> Calibration:
    """Validate a calibration given as TOML text; see :func:`load_calibration`."""
    if known_outcomes is None:
        from kamabm.model.run import OUTCOMES

        known_outcomes = tuple(OUTCOMES)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CalibrationError(f"{where}: not valid TOML ({exc})") from None
    return _Reader(where, tuple(known_outcomes)).calibration(doc, text)


class _Reader:
    """Checks one parsed calibration file; every error names the file and the key."""

    def __init__(self, where: str, known_outcomes: tuple[str, ...]) -> None:
        self.where = where
        self.known_outcomes = known_outcomes

    def fail(self, key: str, expected: str) -> CalibrationError:
        return CalibrationError(f"{self.where}: {key}: {expected}")

    def calibration(self, doc: dict[str, Any], text: str) -> Calibration:
        self.keys(doc, _TOP_KEYS, "")
        name = doc.get("name")
        if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
            raise self.fail("name", f"expected letters, digits, '_' or '-', got {name!r}")
        description = doc.get("description", "")
        if not isinstance(description, str):
            raise self.fail("description", f"expected a string, got {description!r}")
        seed = self.integer(doc, "seed", 0, None)
        replications = self.integer(doc, "replications", 1, 1)
        base = self.base(doc)
        abc = self.abc(doc.get("abc", {}))
        priors = self.priors(doc.get("fit"), base)
        fitted = {p.name for p in priors}
        targets, skipped = [], []
        table = doc.get("targets")
        if not isinstance(table, dict) or not table:
            raise self.fail("targets", "expected at least one [targets.NAME] table")
        for key, spec in table.items():
            target = self.target(key, spec, base, fitted)
            if target is None:
                skipped.append(key)
            else:
                targets.append(target)
        if not targets:
            raise self.fail("targets", "no target can be measured by this model (every "
                                       "outcome named is missing from kamabm.model.run.OUTCOMES)")
        return Calibration(name, description, text, base, replications, seed, tuple(targets),
                           priors, abc, tuple(skipped))

    def keys(self, table: Mapping[str, Any], allowed: set[str], prefix: str) -> None:
        for key in table:
            if key not in allowed:
                raise self.fail(prefix + key,
                                f"unknown key, expected one of: {', '.join(sorted(allowed))}")

    def integer(self, table: Mapping[str, Any], key: str, minimum: int, default: int | None,
                prefix: str = "") -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(prefix + key, f"expected a whole number >= {minimum}, got {value!r}")
        return value

    def number(self, table: Mapping[str, Any], key: str, prefix: str, *, positive: bool = False,
               default: float | None = None) -> float:
        value = table.get(key, default)
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value) or (positive and value <= 0)):
            kind = "a number > 0" if positive else "a number"
            raise self.fail(prefix + key, f"expected {kind}, got {value!r}")
        return float(value)

    def base(self, doc: Mapping[str, Any]) -> Parameters:
        table = doc.get("base", {})
        if not isinstance(table, dict):
            raise self.fail("base", "expected a table of parameter = value")
        values = dict(table)
        if "horizon" in doc:
            if HORIZON_PARAMETER in values:
                raise self.fail("horizon", f"given twice, also as base.{HORIZON_PARAMETER}")
            values[HORIZON_PARAMETER] = doc["horizon"]
        base = Parameters()
        for key, value in values.items():
            where = "horizon" if key == HORIZON_PARAMETER and "horizon" in doc else f"base.{key}"
            base = self.check(base, key, value, where)
        return base

    def check(self, params: Parameters, name: str, value: Any, key: str) -> Parameters:
        try:
            return params.replace(**{name: value})
        except (ParameterError, TypeError) as exc:
            raise self.fail(key, str(exc)) from None

    def abc(self, table: Any) -> AbcSettings:
        if not isinstance(table, dict):
            raise self.fail("abc", "expected a table")
        self.keys(table, _ABC_KEYS, "abc.")
        d = AbcSettings()
        shares = {}
        for key in ("min_acceptance_rate", "min_epsilon_drop"):
            shares[key] = self.number(table, key, "abc.", default=getattr(d, key))
            if not 0 <= shares[key] < 1:
                raise self.fail(f"abc.{key}", f"expected a number in [0, 1), got {shares[key]}")
        return AbcSettings(
            population=self.integer(table, "population", 2, d.population, "abc."),
            generations=self.integer(table, "generations", 1, d.generations, "abc."),
            min_epsilon=self.number(table, "min_epsilon", "abc.", positive=True,
                                    default=d.min_epsilon),
            min_epsilon_drop=shares["min_epsilon_drop"],
            min_acceptance_rate=shares["min_acceptance_rate"],
            max_simulations=self.integer(table, "max_simulations", 1, d.max_simulations,
                                         "abc."))

    def priors(self, table: Any, base: Parameters) -> tuple[Prior, ...]:
        if not isinstance(table, dict) or not table:
            raise self.fail("fit", "expected at least one [fit.NAME] table with range = "
                                   "[low, high]")
        priors = []
        for name, spec in table.items():
            key = f"fit.{name}"
            if name not in Parameters.names():
                self.check(base, name, 0.0, key)  # raises with a "did you mean"
            if not isinstance(spec, dict):
                raise self.fail(key, "expected a table with range = [low, high]")
            self.keys(spec, {"range", "source"}, key + ".")
            if Parameters.is_integer(name):
                raise self.fail(key, "a whole-number parameter cannot be fitted by ABC-SMC "
                                     "here; fix it in [base]")
            if name == HORIZON_PARAMETER:
                raise self.fail(key, "run control, not a constant to fit")
            bounds = spec.get("range")
            if not (isinstance(bounds, list) and len(bounds) == 2):
                raise self.fail(f"{key}.range", f"expected [low, high], got {bounds!r}")
            for i, bound in enumerate(bounds):
                self.check(base, name, bound, f"{key}.range[{i}]")
            low, high = (float(b) for b in bounds)
            if not low < high:
                raise self.fail(f"{key}.range", f"expected low < high, got {bounds!r}")
            priors.append(Prior(name, low, high))
        return tuple(priors)

    def target(self, name: str, spec: Any, base: Parameters,
               fitted: set[str]) -> Target | None:
        key = f"targets.{name}"
        if not isinstance(spec, dict):
            raise self.fail(key, "expected a table with source, value, tolerance, measure, "
                                 "outcome and at")
        self.keys(spec, _TARGET_KEYS, key + ".")
        source = spec.get("source")
        if not isinstance(source, str) or not source.strip():
            raise self.fail(f"{key}.source", "expected the publication and what it reports")
        value = self.number(spec, "value", key + ".")
        tolerance = self.number(spec, "tolerance", key + ".", positive=True)
        measure = spec.get("measure")
        if measure not in MEASURES:
            raise self.fail(f"{key}.measure", f"expected one of {', '.join(MEASURES)}, "
                                              f"got {measure!r}")
        required = spec.get("required", True)
        if not isinstance(required, bool):
            raise self.fail(f"{key}.required", f"expected true or false, got {required!r}")
        outcome = spec.get("outcome")
        choices = [outcome] if isinstance(outcome, str) else outcome
        if (not isinstance(choices, list) or not choices
                or not all(isinstance(c, str) for c in choices)):
            raise self.fail(f"{key}.outcome", f"expected an outcome name or a list of them, "
                                              f"got {outcome!r}")
        found = next((c for c in choices if c in self.known_outcomes), None)
        needed = MEASURE_SETTINGS[measure]
        for extra in ("at", "against"):
            if extra in spec and extra not in needed:
                raise self.fail(f"{key}.{extra}", f"not used by measure {measure!r}")
        settings = []
        for which in needed:
            table = spec.get(which, {} if which == "at" else None)
            if not isinstance(table, dict):
                raise self.fail(f"{key}.{which}", f"expected a table of parameter = value "
                                                  f"(measure {measure!r} needs it)")
            for pname, pvalue in table.items():
                if pname in fitted:
                    raise self.fail(f"{key}.{which}.{pname}", "is being fitted; a setting "
                                                              "cannot fix it")
                self.check(base, pname, pvalue, f"{key}.{which}.{pname}")
            settings.append(tuple(sorted(table.items())))
        if len(settings) == 2 and settings[0] == settings[1]:
            raise self.fail(f"{key}.against", "same setting as at; a change needs two")
        if found is None:
            if required:
                raise self.fail(f"{key}.outcome", f"{' or '.join(choices)} not reported by the "
                                                  "model (kamabm.model.run.OUTCOMES); set "
                                                  "required = false to leave the target out until "
                                                  "it is")
            return None
        return Target(name, source.strip(), value, tolerance, measure, found, tuple(settings),
                      required)


# --- simulating one particle ------------------------------------------------------------
def particle_seeds(calibration: Calibration, values: Mapping[str, float]) -> list[int]:
    """Replication seeds of a particle: spawned from the master seed and its values."""
    blob = json.dumps({k: float(values[k]) for k in sorted(values)}).encode()
    words = np.frombuffer(hashlib.sha256(blob).digest(), dtype=np.uint32)
    sequence = np.random.SeedSequence([calibration.seed, *map(int, words)])
    return [int(s >> np.uint64(1))
            for s in sequence.generate_state(calibration.replications, np.uint64)]


def summary_statistics(calibration: Calibration, values: Mapping[str, float], *,
                       run_fn: RunFunction | None = None) -> dict[str, float]:
    """The model's value of every target for one set of fitted constants.

    Each setting is run ``replications`` times on the particle's seeds (the same seeds at
    every setting); each target's measure reads its outcome's values at its settings.
    A target whose value is undefined (e.g. a change from a zero mean) gets NaN, which
    pyabc treats as an infinite distance, so the particle is rejected.
    """
    if run_fn is None:
        from kamabm.model.run import run_one

        run_fn = run_one
    params = calibration.base.replace(**{k: float(v) for k, v in values.items()})
    seeds = particle_seeds(calibration, values)
    outcomes = {t.outcome for t in calibration.targets}
    found: dict[tuple, dict[str, np.ndarray]] = {}
    for setting in calibration.settings:
        here = params.replace(**dict(setting))
        runs = [run_fn(here, seed) for seed in seeds]
        found[setting] = {o: np.array([np.nan if r[o] is None else float(r[o]) for r in runs])
                          for o in outcomes}
    stats = {}
    for t in calibration.targets:
        value = MEASURES[t.measure](*(found[s][t.outcome] for s in t.settings))
        stats[t.name] = float(value) if math.isfinite(value) else float("nan")
    return stats


@dataclass
class ModelSimulator:
    """The model as pyabc sees it: fitted constants in, target values out (picklable)."""

    calibration: Calibration
    run_fn: RunFunction | None = None

    def __call__(self, parameter: Mapping[str, float]) -> dict[str, float]:
        """Simulate one particle."""
        values = {p.name: float(parameter[p.name]) for p in self.calibration.priors}
        return summary_statistics(self.calibration, values, run_fn=self.run_fn)


# --- fitting ----------------------------------------------------------------------------
@dataclass(frozen=True)
class FitSummary:
    """What a call of :func:`fit` did and found."""

    directory: Path
    generations: int
    simulations: int
    epsilon: float
    wall_time: float
    resumed_from: int
    posterior: pd.DataFrame
    targets: pd.DataFrame
    stopped_because: str


def fit(calibration: Calibration, out: str | Path, *, workers: int | None = None,
        simulator: Simulator | None = None, scheduler: str | None = None,
        overwrite: bool = False, progress: bool = False) -> FitSummary:
    """Fit the calibration's priors by ABC-SMC (pyabc), resuming a stopped fit.

    Args:
        calibration: the validated calibration.
        out: the results folder (created if missing); holds ``abc.db`` (pyabc's history),
            ``posterior.csv``, ``targets.csv``, ``populations.csv`` and a manifest.
        workers: local processes (default: all cores); 1 samples in this process.
        simulator: particle values -> target values (default: the model,
            :class:`ModelSimulator`); tests pass toy simulators.
        scheduler: address of a Dask scheduler to sample on instead of local processes.
        overwrite: start afresh in a folder holding another calibration's history.
        progress: print a line per generation on stderr.

    Raises:
        CalibrationError: pyabc is missing, or the folder holds another calibration.

    """
    try:
        import pyabc
    except ImportError:
        raise CalibrationError("pyabc is not installed; install the extra: "
                               "pip install -e '.[calibrate]'") from None
    start = time.perf_counter()
    directory = Path(out)
    directory.mkdir(parents=True, exist_ok=True)
    db = directory / DB
    _claim(directory, calibration, overwrite)
    for name in ("ABC", "pyabc"):
        logging.getLogger(name).setLevel(logging.WARNING)
    model = simulator or ModelSimulator(calibration)
    n_workers = workers or os.cpu_count() or 1
    url = f"sqlite:///{db.resolve()}"
    client = None
    if scheduler:
        from distributed import Client

        client = Client(scheduler)
        sampler = pyabc.sampler.DaskDistributedSampler(dask_client=client)
    elif n_workers == 1:
        sampler = pyabc.sampler.SingleCoreSampler()
    else:
        # Evaluation-parallel: workers keep simulating until the population is full, so a
        # slow particle does not hold up the others (pyabc forks; nothing is pickled).
        sampler = pyabc.sampler.MulticoreEvalParallelSampler(n_procs=n_workers)

    def new_abc() -> Any:
        prior = pyabc.Distribution(**{p.name: pyabc.RV("uniform", p.low, p.high - p.low)
                                      for p in calibration.priors})
        distance = pyabc.PNormDistance(
            p=2, fixed_weights={t.name: 1.0 / t.tolerance for t in calibration.targets})
        return pyabc.ABCSMC(model, prior, distance,
                            population_size=calibration.abc.population, sampler=sampler)

    np.random.seed(calibration.seed % 2**32)
    history = pyabc.History(url) if db.exists() else None
    if history is not None and not history.all_runs():
        history = None
    resumed_from = history.max_t + 1 if history is not None else 0
    try:
        if history is None:
            new_abc().new(url, calibration.observed, meta_info={"kamabm": calibration.name})
        history, populations, reason = _generations(calibration, new_abc, url, start, progress)
    finally:
        if client is not None:
            client.close()
    if history.max_t < 0:
        raise CalibrationError(f"no generation finished ({reason}); widen the tolerances or "
                               "lower abc.min_acceptance_rate")
    posterior = posterior_table(history, calibration)
    targets = targets_table(history, calibration)
    _atomic_csv(posterior, directory / POSTERIOR)
    _atomic_csv(targets, directory / TARGETS_CSV)
    _atomic_csv(populations, directory / POPULATIONS)
    wall = time.perf_counter() - start
    _write_manifest(directory, calibration, history, wall=wall, workers=n_workers,
                    scheduler=scheduler, resumed_from=resumed_from, reason=reason)
    return FitSummary(directory, int(history.max_t) + 1, int(history.total_nr_simulations),
                      float(populations["epsilon"].iloc[-1]), wall, resumed_from, posterior,
                      targets, reason)


def _generations(calibration: Calibration, new_abc: Callable[[], Any], url: str,
                 start: float, progress: bool) -> tuple[Any, pd.DataFrame, str]:
    """Run generation after generation until a stopping rule holds.

    Each generation is run by a fresh ABCSMC loaded from the history, exactly as a fit
    resumed after an interruption (pyabc sets the next tolerance when it loads).
    """
    while True:
        abc = new_abc()
        history = abc.load(url, 1)
        populations = history.get_all_populations()
        populations = populations[populations["t"] >= 0]
        reason = _stop_reason(calibration.abc, populations, history.total_nr_simulations)
        if reason:
            return history, populations, reason
        abc.run(minimum_epsilon=calibration.abc.min_epsilon, max_nr_populations=1,
                min_acceptance_rate=calibration.abc.min_acceptance_rate)
        if history.max_t < len(populations):  # pyabc abandoned the generation
            return history, populations, (
                f"generation {len(populations)} would accept fewer than "
                f"{calibration.abc.min_acceptance_rate:g} of its particles")
        if progress:
            last = history.get_all_populations().iloc[-1]
            print(f"generation {int(last['t'])}: epsilon {last['epsilon']:.3g}, "
                  f"{int(last['samples'])} particles simulated, "
                  f"{time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)


def _stop_reason(abc: AbcSettings, populations: pd.DataFrame, simulations: int) -> str:
    """Why the fit is finished, or "" to run another generation."""
    if populations.empty:
        return ""
    last = populations.iloc[-1]
    if len(populations) >= abc.generations:
        return f"{abc.generations} generations"
    if last["epsilon"] <= abc.min_epsilon:
        return f"epsilon {last['epsilon']:.3g} <= {abc.min_epsilon:g}"
    if len(populations) >= 2:
        before = populations["epsilon"].iloc[-2]
        if last["epsilon"] > (1.0 - abc.min_epsilon_drop) * before:
            return (f"epsilon stalled ({before:.3g} -> {last['epsilon']:.3g}, less than "
                    f"{abc.min_epsilon_drop:.0%} lower)")
    if last["particles"] / last["samples"] < abc.min_acceptance_rate:
        return f"acceptance rate below {abc.min_acceptance_rate:g}"
    if simulations >= abc.max_simulations:
        return f"{simulations} simulations >= {abc.max_simulations}"
    return ""


def _claim(directory: Path, calibration: Calibration, overwrite: bool) -> None:
    """Make the folder this calibration's, refusing one that holds another's history."""
    marker = directory / SPEC
    if marker.exists():
        old = json.loads(marker.read_text(encoding="utf-8")).get("digest")
        if old != calibration.digest:
            if not overwrite:
                raise CalibrationError(f"{directory}: holds the history of another "
                                       "calibration (the file changed); use --overwrite or "
                                       "another --out")
            (directory / DB).unlink(missing_ok=True)
    elif (directory / DB).exists() and not overwrite:
        raise CalibrationError(f"{directory}: holds an {DB} of unknown origin; use --overwrite")
    elif (directory / DB).exists():
        (directory / DB).unlink()
    spec = {"name": calibration.name, "digest": calibration.digest, "quick": calibration.quick,
            "text": calibration.text}
    _atomic_text(json.dumps(spec, indent=1), marker)


# --- results ----------------------------------------------------------------------------
def posterior_table(history: Any, calibration: Calibration) -> pd.DataFrame:
    """The last generation's accepted particles: fitted values, weight, distance, targets."""
    population = history.get_population(history.max_t)
    rows = []
    for particle in population.particles:
        row = {p.name: float(particle.parameter[p.name]) for p in calibration.priors}
        row["weight"] = float(particle.weight)
        row["distance"] = float(particle.distance)
        row.update({f"model_{k}": float(v) for k, v in particle.sum_stat.items()})
        rows.append(row)
    table = pd.DataFrame(rows)
    table["weight"] /= table["weight"].sum()
    table.insert(0, "generation", int(history.max_t))
    return table


def weighted_quantiles(values: np.ndarray, weights: np.ndarray,
                       quantiles: Sequence[float]) -> np.ndarray:
    """Quantiles of weighted values (inverse of the weighted empirical distribution)."""
    values, weights = np.asarray(values, float), np.asarray(weights, float)
    keep = np.isfinite(values)
    values, weights = values[keep], weights[keep]
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    cumulative /= cumulative[-1]
    index = np.searchsorted(cumulative, np.asarray(quantiles), side="left")
    return values[order][np.minimum(index, len(values) - 1)]


def _predictive(history: Any, t: int, calibration: Calibration) -> dict[str, tuple]:
    population = history.get_population(t)
    weights = np.array([p.weight for p in population.particles], dtype=float)
    out = {}
    for target in calibration.targets:
        values = np.array([p.sum_stat[target.name] for p in population.particles], float)
        ok = np.isfinite(values)
        mean_value = float(np.average(values[ok], weights=weights[ok])) if ok.any() else np.nan
        low, high = (weighted_quantiles(values, weights, INTERVAL) if ok.any()
                     else (np.nan, np.nan))
        out[target.name] = (mean_value, float(low), float(high))
    return out


def targets_table(history: Any, calibration: Calibration) -> pd.DataFrame:
    """Each target against the model: generation 0 (near the prior) and the posterior.

    Generation 0 holds the prior's particles accepted at the first, loose tolerance, so its
    interval is close to the prior predictive one; ``first_*`` columns describe it.
    """
    first, last = _predictive(history, 0, calibration), _predictive(
        history, history.max_t, calibration)
    rows = []
    for t in calibration.targets:
        rows.append({
            "target": t.name, "source": t.source, "measure": t.measure, "outcome": t.outcome,
            "value": t.value, "tolerance": t.tolerance,
            "first_mean": first[t.name][0], "first_low": first[t.name][1],
            "first_high": first[t.name][2],
            "posterior_mean": last[t.name][0], "posterior_low": last[t.name][1],
            "posterior_high": last[t.name][2],
            "matched": bool(abs(last[t.name][0] - t.value) <= t.tolerance)})
    return pd.DataFrame(rows)


def _atomic_csv(frame: pd.DataFrame, target: Path) -> None:
    tmp = target.with_name(".tmp-" + target.name)
    frame.to_csv(tmp, index=False, float_format="%.6g")
    os.replace(tmp, target)


def _atomic_text(text: str, target: Path) -> None:
    tmp = target.with_name(".tmp-" + target.name)
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, target)


def _write_manifest(directory: Path, calibration: Calibration, history: Any, *, wall: float,
                    workers: int, scheduler: str | None, resumed_from: int,
                    reason: str) -> None:
    from kamabm.experiments.provenance import environment, now

    manifest = {
        "kind": "abc_smc_calibration", "name": calibration.name, "quick": calibration.quick,
        "digest": calibration.digest, "finished": now(), "command": " ".join(sys.argv),
        "generations": int(history.max_t) + 1, "resumed_from_generation": resumed_from,
        "simulations": int(history.total_nr_simulations),
        "model_runs": int(history.total_nr_simulations) * calibration.runs_per_particle,
        "runs_per_particle": calibration.runs_per_particle, "stopped_because": reason,
        "wall_time_s_this_call": round(wall, 2), "workers": workers, "scheduler": scheduler,
        "abc": calibration.abc.__dict__, "replications": calibration.replications,
        "targets": [t.name for t in calibration.targets],
        "targets_left_out": list(calibration.skipped),
        "priors": [p.__dict__ for p in calibration.priors],
        "calibration_file": calibration.text, **environment()}
    _atomic_text(json.dumps(manifest, indent=1, default=str), directory / MANIFEST)


# --- charts -----------------------------------------------------------------------------
def plot_calibration(targets: pd.DataFrame, posterior: pd.DataFrame, calibration: Calibration,
                     out: str | Path, *, epsilon: float | None = None) -> list[Path]:
    """Chart each target against the model, and the posterior of each fitted constant.

    Writes ``targets.png/.svg/.csv`` (published value with its tolerance band, the model's
    90 % predictive interval and mean in generation 0 and in the posterior) and
    ``posterior.png/.svg/.csv`` (weighted histograms over the prior ranges, defaults
    marked) into ``out``; returns the files. ``epsilon``, the last generation's acceptance
    distance, is stated in the title when given.
    """
    import textwrap

    from matplotlib.figure import Figure

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    blue, orange, grey = "#0072B2", "#D55E00", "#999999"
    n = len(targets)
    fig = Figure(figsize=(7.5, 1.25 * n + 1.4), layout="constrained")
    axes = fig.subplots(n, 1, squeeze=False)[:, 0]
    for ax, row in zip(axes, targets.itertuples(), strict=True):
        ax.axvspan(row.value - row.tolerance, row.value + row.tolerance, color=orange,
                   alpha=0.18, lw=0)
        ax.axvline(row.value, color=orange, lw=1.5)
        ax.plot([row.first_low, row.first_high], [1, 1], color=grey, lw=3)
        ax.plot(row.first_mean, 1, "o", color=grey, ms=5)
        ax.plot([row.posterior_low, row.posterior_high], [0, 0], color=blue, lw=3)
        ax.plot(row.posterior_mean, 0, "o", color=blue, ms=5)
        ax.set_yticks([0, 1], ["posterior", "generation 0"], fontsize=7)
        ax.set_ylim(-0.6, 1.6)
        ax.set_title(f"{row.target}: {row.measure} of {row.outcome} (published {row.value:g} "
                     f"+- {row.tolerance:g})", fontsize=8, loc="left")
        ax.tick_params(axis="x", labelsize=7)
    matched = int(targets["matched"].sum())
    reached = ("" if epsilon is None else f"; last acceptance distance {epsilon:.3g} "
               "(1 = all targets within tolerance)")
    finding = textwrap.fill(f"Calibration '{calibration.name}': the posterior mean matches "
                            f"{matched} of {n} published targets within tolerance{reached}", 95)
    fig.suptitle(finding + "\n(orange: published value and tolerance; bars: model's 90 % "
                 "interval, dot: mean)", fontsize=9)
    files = _save(fig, targets, out / "targets")

    k = len(calibration.priors)
    fig = Figure(figsize=(3.2 * k, 2.8), layout="constrained")
    axes = fig.subplots(1, k, squeeze=False)[0]
    for ax, prior in zip(axes, calibration.priors, strict=True):
        ax.hist(posterior[prior.name], bins=12, range=(prior.low, prior.high),
                weights=posterior["weight"], color=blue, alpha=0.8)
        ax.axvline(Parameters.default(prior.name), color=orange, ls="--", lw=1.2)
        ax.set_xlim(prior.low, prior.high)
        ax.set_xlabel(prior.name, fontsize=8)
        ax.set_yticks([])
    fig.suptitle("Posterior of each fitted constant over its prior range (dashed: the "
                 "model's default)", fontsize=9)
    files += _save(fig, posterior, out / "posterior")
    return files


def _save(fig: Any, table: pd.DataFrame, stem: Path) -> list[Path]:
    import matplotlib

    table.to_csv(stem.with_suffix(".csv"), index=False, float_format="%.6g")
    with matplotlib.rc_context({"svg.hashsalt": "kamabm", "svg.fonttype": "path"}):
        fig.savefig(stem.with_suffix(".png"), dpi=300)
        fig.savefig(stem.with_suffix(".svg"), metadata={"Date": None})
    return [stem.with_suffix(".png"), stem.with_suffix(".svg"), stem.with_suffix(".csv")]
